// Command tfsweep trains neural-network variants through the TensorFlow C API and logs every run as
// TensorBoard event files. This package holds only flags, exit codes and wiring; the work is done by
// trainer, model, dataset and summary.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// Exit codes scripts and CI can rely on.
const (
	exitOK        = 0 // every run succeeded
	exitRunFailed = 1 // at least one run failed (or the command itself failed at run time)
	exitBadInput  = 2 // bad flags, config or data: nothing was trained
)

// command is one subcommand: it parses its own flags from args and returns an exit code.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() map[string]command {
	return map[string]command{
		"version": {"print tfsweep's, Go's and the linked TensorFlow's versions", runVersion},
		"devices": {"list the devices a TensorFlow session sees", runDevices},
		"inspect": {"dump the events of a TensorBoard event file or of every one under a directory", runInspect},
		"report":  {"write report.md/csv/json and loss-curve PNGs of a sweep directory from its logs", runReport},
		"run":     {"train a sweep of MNIST MLP variants and log each run for TensorBoard", runRun},
	}
}

func main() {
	// SIGINT/SIGTERM cancel the context: commands flush and close what they write, then return.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr, cmds)
		if len(args) == 0 {
			return exitBadInput
		}
		return exitOK
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "tfsweep: unknown command %q\n\n", args[0])
		usage(stderr, cmds)
		return exitBadInput
	}
	return cmd.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: tfsweep <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	names := make([]string, 0, len(cmds))
	for name := range cmds {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-8s %s\n", name, cmds[name].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'tfsweep <command> -h' for a command's flags.")
}
