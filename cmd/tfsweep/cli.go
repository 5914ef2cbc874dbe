package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/sweep"
)

// cli is one command's flag set with tfsweep's conventions: flags before and after positional
// arguments, `--` spelling in help, list flags shown as lists, "did you mean" for a misspelt flag.
type cli struct {
	name  string // "run"
	usage string // the text above the flags
	fs    *flag.FlagSet
}

func newCLI(name, usage string) *cli {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors and help are printed by parse
	return &cli{name: name, usage: usage, fs: fs}
}

// parse reads args, flags anywhere among the positional arguments ("--" ends the flags). It
// returns the positional arguments, or an exit code when the command should stop: spec.ExitOK after
// printing help on -h/--help, spec.ExitBadInput after naming a bad flag.
func (c *cli) parse(args []string, stdout, stderr io.Writer) ([]string, int, bool) {
	var positional []string
	for {
		err := c.fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			c.help(stdout)
			return nil, spec.ExitOK, false
		}
		if err != nil {
			fmt.Fprintf(stderr, "tfsweep %s: %s%s\nRun 'tfsweep %s -h' for its flags.\n", c.name, flagError(err), c.suggest(err), c.name)
			return nil, spec.ExitBadInput, false
		}
		rest := c.fs.Args()
		if len(rest) == 0 {
			return positional, 0, true
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(positional, rest...), 0, true
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// flagError rewrites the flag package's messages in the `--` spelling the help uses.
func flagError(err error) string {
	msg := err.Error()
	msg = strings.Replace(msg, "flag provided but not defined: -", "unknown flag --", 1)
	msg = strings.Replace(msg, "flag needs an argument: -", "flag needs an argument: --", 1)
	if strings.HasPrefix(msg, "invalid value") {
		msg = strings.Replace(msg, " for flag -", " for flag --", 1)
	}
	return msg
}

func (c *cli) suggest(err error) string {
	const prefix = "flag provided but not defined: -"
	msg := err.Error()
	if !strings.HasPrefix(msg, prefix) {
		return ""
	}
	var names []string
	c.fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return sweep.Suggest(strings.TrimLeft(strings.TrimPrefix(msg, prefix), "-"), names)
}

// help prints the usage text and every flag as `--name VALUE`, lists as `--name LIST`.
func (c *cli) help(w io.Writer) {
	fmt.Fprint(w, c.usage)
	shown := false
	c.fs.VisitAll(func(f *flag.Flag) {
		if !shown {
			fmt.Fprintln(w, "\nflags:")
			shown = true
		}
		kind, usage := flag.UnquoteUsage(f)
		if l, ok := f.Value.(interface{ IsList() bool }); ok && l.IsList() {
			kind = "LIST"
		} else if kind != "" {
			kind = strings.ToUpper(kind)
		}
		head := "  --" + f.Name
		if kind != "" {
			head += " " + kind
		}
		def := ""
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !(ok && b.IsBoolFlag()) && f.DefValue != "" && f.DefValue != "0" {
			def = fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "%s\n      %s%s\n", head, usage, def)
	})
}

// parallelFlag is --parallel (and serve's --slots): auto (sweep.ParallelAuto) or a count of workers.
type parallelFlag struct{ n *int }

func (p parallelFlag) String() string {
	if p.n == nil || *p.n == sweep.ParallelAuto {
		return "auto"
	}
	return fmt.Sprint(*p.n)
}

func (p parallelFlag) Set(text string) error {
	n, err := sweep.ParseParallel(text)
	if err != nil {
		return err
	}
	*p.n = n
	return nil
}
