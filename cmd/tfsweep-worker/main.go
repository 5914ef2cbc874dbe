// Command tfsweep-worker is the TensorFlow-linked half of tfsweep. The front (tfsweep) starts one
// per parallel slot and speaks to it in JSON lines (see package sweep's Job and Message); users do
// not run it themselves, except through the subcommands the front also uses:
//
//	tfsweep-worker serve            train the jobs read from stdin, report on stdout
//	tfsweep-worker version          the linked TensorFlow's version
//	tfsweep-worker devices [--json] the devices a TensorFlow session sees
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/tfsweep/tfsweep/model"
	"github.com/tfsweep/tfsweep/worker"
)

func main() {
	// SIGHUP too: a closed terminal must close the run's files like Ctrl-C does.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: tfsweep-worker serve | version | devices [--json]")
		return 2
	}
	switch args[0] {
	case "serve":
		err := worker.Serve(ctx, stdin, stdout)
		if err != nil && !errors.Is(err, context.Canceled) {
			fmt.Fprintf(stderr, "tfsweep-worker: %v\n", err)
			return 1
		}
		return 0
	case "version":
		fmt.Fprintln(stdout, model.TFVersion())
		return 0
	case "devices":
		devices, err := model.ListDevices()
		if err != nil {
			fmt.Fprintf(stderr, "tfsweep-worker: %v\n", err)
			return 1
		}
		if len(args) > 1 && args[1] == "--json" {
			if err := json.NewEncoder(stdout).Encode(devices); err != nil {
				return 1
			}
			return 0
		}
		for _, d := range devices {
			fmt.Fprintf(stdout, "%s\t%s\t%d\n", d.Name, d.Type, d.MemoryBytes)
		}
		return 0
	}
	fmt.Fprintf(stderr, "tfsweep-worker: unknown command %q\n", args[0])
	return 2
}
