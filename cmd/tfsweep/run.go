package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mattn/go-isatty"

	"github.com/tfsweep/tfsweep/model"
	"github.com/tfsweep/tfsweep/trainer"
)

const runUsage = `usage: tfsweep run [flags]

Trains a sweep of MNIST MLP variants and writes each as a TensorBoard run under a new directory
LOGDIR/sweep-YYYYMMDD-HHMMSS/<run>, where <run> names the variant (xavier-bn-b256, uniform-nobn-b128,
with -lr…, -h…, -s…, -e…, -unit/-none added only for the axes that vary).

Without --init, --batchnorm, --batch-size and --config it trains the lab-report preset: xavier × batch
norm off,on × batch size 64,128,256,512,1024, plus uniform × batch norm off,on × batch size 128;
5 epochs, lr 0.001. The other grid flags apply to the preset's twelve runs (--scale none trains the
report on raw 0–255 pixels). --init, --batchnorm or --batch-size replace the preset with a single grid;
the axes it leaves out take the defaults shown below. With --config, grid flags override that axis in
every grid of the file.
Grid flags take comma-separated lists. The default seed is fixed (1), so runs are reproducible.

Exit status: 0 every run succeeded, 1 a run failed or the sweep was interrupted, 2 bad input
(nothing trained).

flags:
`

// runRun is `tfsweep run`: flags, exit codes and wiring only; trainer does the work.
func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, runUsage)
		fs.PrintDefaults()
	}
	d := trainer.Defaults()
	var (
		grid     trainer.GridFlags
		opts     trainer.Options
		config   string
		limit    int
		jsonOut  bool
		dryRun   bool
		logEvery int
	)
	fs.StringVar(&opts.LogDir, "logdir", "./runs", "directory under which the sweep directory is created")
	fs.StringVar(&opts.DataDir, "data-dir", "data/mnist", "directory with the MNIST IDX files")
	fs.StringVar(&config, "config", "", "YAML sweep `file` with several grids (see trainer/testdata/lab-report.yaml)")
	fs.StringVar(&grid.Init, "init", "", fmt.Sprintf("weight initialisers: %s (default %s)", strings.Join(model.InitNames(), ", "), d.Init))
	fs.StringVar(&grid.BatchNorm, "batchnorm", "", "batch normalisation: off, on (default off)")
	fs.StringVar(&grid.BatchSize, "batch-size", "", fmt.Sprintf("batch sizes (default %d)", d.BatchSize))
	fs.StringVar(&grid.Epochs, "epochs", "", fmt.Sprintf("epochs (default %d)", d.Epochs))
	fs.StringVar(&grid.LR, "lr", "", fmt.Sprintf("Adam learning rates (default %g)", d.LR))
	fs.StringVar(&grid.Hidden, "hidden", "", "hidden layer widths, e.g. 128,64 or 128x64; several architectures separated by ; (default 128,64)")
	fs.StringVar(&grid.Seed, "seed", "", fmt.Sprintf("seeds for initialisation and shuffling (default %d, fixed so runs are reproducible)", d.Seed))
	fs.StringVar(&grid.Scale, "scale", "", "pixel scaling: unit (divide by 255) or none (raw 0-255) (default unit)")
	fs.IntVar(&limit, "limit", 0, "train on the first `N` training images only (0 = all); validation always uses the whole test set")
	fs.StringVar(&opts.Device, "device", model.DeviceAuto, "where to train: auto, cpu or gpu")
	fs.IntVar(&opts.Parallel, "parallel", 1, "train `N` runs at once (CPU threads are split between them)")
	fs.IntVar(&opts.Threads, "threads", 0, "TensorFlow intra- and inter-op threads per run (0 = TensorFlow's default, or the CPUs split by --parallel)")
	fs.IntVar(&logEvery, "log-every", trainer.DefaultLogEvery, "write batch_loss every `N` steps (0 = never)")
	fs.BoolVar(&jsonOut, "json", false, "print one JSON summary on stdout (logs stay on stderr)")
	fs.BoolVar(&dryRun, "dry-run", false, "check everything, print the runs and exit without training")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitBadInput
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "tfsweep run: unexpected argument %q (flags only; see tfsweep run -h)\n", fs.Arg(0))
		return exitBadInput
	}
	var limitSet *int
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "limit" {
			limitSet = &limit
		}
	})
	opts.LogEvery = logEvery
	opts.DryRun = dryRun
	opts.Log = stderr
	if f, ok := stderr.(*os.File); ok {
		opts.Terminal = isatty.IsTerminal(f.Fd())
	}

	plan, err := trainer.NewPlan(config, grid, limitSet)
	if err != nil {
		fmt.Fprintf(stderr, "tfsweep run: %v\n", err)
		return exitBadInput
	}
	sweep, err := trainer.NewSweep(plan, opts)
	if err != nil {
		fmt.Fprintf(stderr, "tfsweep run: %v\n", err)
		return exitBadInput
	}
	if dryRun {
		if jsonOut {
			return printJSON(stdout, stderr, sweep.Planned())
		}
		trainer.PrintRuns(stdout, sweep.Runs(), sweep.TrainExamples())
		return exitOK
	}

	res := sweep.Run(ctx)
	if jsonOut {
		if code := printJSON(stdout, stderr, res); code != exitOK {
			return code
		}
	} else {
		trainer.PrintResult(stdout, res)
	}
	if res.Status != trainer.StatusSucceeded {
		return exitRunFailed
	}
	return exitOK
}

func printJSON(stdout, stderr io.Writer, v any) int {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(stderr, "tfsweep run: write the JSON summary: %v\n", err)
		return exitRunFailed
	}
	return exitOK
}
