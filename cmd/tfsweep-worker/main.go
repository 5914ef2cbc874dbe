// Command tfsweep-worker is the TensorFlow-linked half of tfsweep. The front (tfsweep) starts one
// per parallel slot and speaks to it in JSON lines (see package sweep's Job and Message); users do
// not run it themselves, except through the subcommands the front also uses:
//
//	tfsweep-worker serve            train the jobs read from stdin, report on stdout
//	tfsweep-worker version          the linked TensorFlow's version
//	tfsweep-worker devices [--json] the devices a TensorFlow session sees
//	tfsweep-worker predict MODEL FILE...   classes of IDX or PNG images, as JSON
//	tfsweep-worker evaluate MODEL DATA_DIR loss and accuracy on a test split, as JSON
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
	stdout, err := claimStdout()
	if err != nil {
		fmt.Fprintf(os.Stderr, "tfsweep-worker: %v\n", err)
		os.Exit(1)
	}
	code := run(ctx, os.Args[1:], os.Stdin, stdout, os.Stderr)
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
		err := worker.Serve(ctx, stdin, stdout, stderr)
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
	case "predict", "evaluate":
		var result any
		var err error
		switch {
		case args[0] == "predict" && len(args) == 6 && args[2] == "--data":
			result, err = worker.PredictData(args[1], worker.DataSplit{Source: args[3], Train: args[4] == "train", CacheDir: args[5]})
		case args[0] == "predict" && len(args) >= 3:
			result, err = worker.Predict(args[1], args[2:])
		case args[0] == "evaluate" && len(args) == 5:
			result, err = worker.Evaluate(args[1], worker.DataSplit{Source: args[2], Train: args[3] == "train", CacheDir: args[4]})
		default:
			fmt.Fprintf(stderr, "usage: tfsweep-worker predict MODEL FILE... | predict MODEL --data SOURCE train|test CACHE_DIR | evaluate MODEL SOURCE train|test CACHE_DIR\n")
			return 2
		}
		if err != nil {
			fmt.Fprintf(stderr, "%v\n", err)
			if worker.IsBadInput(err) {
				return 2
			}
			return 1
		}
		if err := json.NewEncoder(stdout).Encode(result); err != nil {
			return 1
		}
		return 0
	}
	fmt.Fprintf(stderr, "tfsweep-worker: unknown command %q\n", args[0])
	return 2
}
