// Command tfsweep trains neural-network variants through the TensorFlow C API and logs every run as
// TensorBoard event files. This binary is the pure-Go front: flags, exit codes, the console and the
// wiring. It links no TensorFlow: training runs in tfsweep-worker processes it starts (package
// sweep), and report, inspect, help and version never load TensorFlow.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/sweep"
)

// command is one subcommand: it parses its own flags from args and returns an exit code.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() map[string]command {
	return map[string]command{
		"version":  {"print tfsweep's, Go's and the linked TensorFlow's versions", runVersion},
		"devices":  {"list the devices a TensorFlow session sees", runDevices},
		"inspect":  {"dump the events of a TensorBoard event file or of every one under a directory", runInspect},
		"report":   {"write report.md/csv/json and loss-curve PNGs of a sweep directory from its logs", runReport},
		"run":      {"train a sweep of network variants on MNIST and log each run for TensorBoard", runRun},
		"predict":  {"classify IDX or PNG images with a run's exported model", runPredict},
		"evaluate": {"loss and accuracy of a run's exported model on a test set", runEvaluate},
		"status":   {"show the state of every run of a sweep directory (or of a tfsweep serve's sweeps)", runStatus},
		"serve":    {"run the training service: a persistent queue of sweeps behind an HTTP API", runServe},
		"submit":   {"submit a sweep file to a tfsweep serve, follow it and exit with its status", runSubmit},
		"cancel":   {"cancel a sweep of a tfsweep serve", runCancel},
	}
}

func main() {
	// The first SIGINT, SIGTERM or SIGHUP (a closed terminal) cancels the context: the workers close
	// their files and mark their runs failed. A second one stops at once; the workers die with the
	// front (Pdeathsig), and their event files stay readable up to their last flush.
	ctx, cancel := context.WithCancel(context.Background())
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		<-signals
		cancel()
		<-signals
		fmt.Fprintln(os.Stderr, "tfsweep: second interrupt: stopping at once")
		os.Exit(spec.ExitInterrupted)
	}()
	code := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if ctx.Err() != nil && code != spec.ExitOK && code != spec.ExitBadInput {
		code = spec.ExitInterrupted
	}
	os.Exit(code)
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 {
		usage(stderr, cmds)
		return spec.ExitBadInput
	}
	switch args[0] {
	case "-h", "--help", "help":
		usage(stdout, cmds)
		return spec.ExitOK
	case "--version", "-version":
		return runVersion(ctx, nil, stdout, stderr)
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		names := make([]string, 0, len(cmds))
		for name := range cmds {
			names = append(names, name)
		}
		fmt.Fprintf(stderr, "tfsweep: unknown command %q%s\n\n", args[0], sweep.Suggest(args[0], names))
		usage(stderr, cmds)
		return spec.ExitBadInput
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
		fmt.Fprintf(w, "  %-9s %s\n", name, cmds[name].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'tfsweep <command> -h' for a command's flags, 'tfsweep --version' for the versions.")
}
