package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/tfsweep/tfsweep/dataset"
	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/sweep"
)

const predictUsage = `usage: tfsweep predict --model DIR FILE... [--json]
       tfsweep predict --model DIR --data SOURCE [--split test|train] [--json]

Classifies the images of IDX image files (every image) and PNG files (one grayscale image each), or
every example of a data source's split (SOURCE as tfsweep run --data takes it: idx:DIR, npz:FILE,
npy:DIR, cifar10:DIR, cifar100:DIR, images:DIR, csv:FILE, tfrecord:GLOB; the test split unless
--split train), with a run's exported model (DIR: <run>/saved_model, or <sweep>/best), loaded by
TensorFlow's own SavedModel loader. Values go in raw (pixels 0-255): the model scales or standardises
them as its run did.

Exit status: 0 done, 1 TensorFlow failed, 2 DIR is not a SavedModel or the data do not fit it.
`

const evaluateUsage = `usage: tfsweep evaluate --model DIR [--data SOURCE | --data-dir D] [--split test|train] [--json]

Loss and accuracy of a run's exported model on the test split (or with --split train the training
split) of a data source as tfsweep run --data takes it, or of the IDX set in D (--data idx:D).

Exit status: 0 done, 1 TensorFlow failed, 2 DIR is not a SavedModel or the data are unusable.
`

// dataFlags are the data predict and evaluate read: a source's split, as run reads sources.
type dataFlags struct {
	source, dataDir, split, cache string
}

func (d *dataFlags) add(fs *flag.FlagSet, dataDir string) {
	fs.StringVar(&d.source, "data", "", "a data `source` KIND:PATH[:key=value…] as tfsweep run --data takes it")
	if dataDir != "" {
		fs.StringVar(&d.dataDir, "data-dir", dataDir, "`dir`ectory with IDX files (the shorthand of --data idx:DIR)")
	}
	fs.StringVar(&d.split, "split", "test", "the source's `split` to read: test or train")
	fs.StringVar(&d.cache, "data-cache", defaultDataCache(), "`dir`ectory where decoded image folders, IDX, CSV and TFRecord splits are kept")
}

// workerArgs are the worker's arguments SOURCE SPLIT CACHE_DIR, or an error naming the bad flag. A source
// whose files declare more than the memory available is refused here, before the worker reads it, as
// tfsweep run refuses it.
func (d *dataFlags) workerArgs() ([]string, error) {
	source, origin := d.source, "--data"
	if source == "" {
		source, origin = "idx:"+d.dataDir, "--data-dir"
	}
	src, err := dataset.ParseSource(source)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", origin, err)
	}
	if err := dataset.CheckEstimate(src, sweep.DataBudget()); err != nil {
		return nil, fmt.Errorf("%s: %w", origin, err)
	}
	if d.split != "test" && d.split != "train" {
		return nil, fmt.Errorf("--split: %q is neither test nor train", d.split)
	}
	return []string{source, d.split, d.cache}, nil
}

func runPredict(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCLI("predict", predictUsage)
	modelDir := c.fs.String("model", "", "the exported model `dir`ectory")
	jsonOut := c.fs.Bool("json", false, "print JSON lines, one object per image (with every class's probability)")
	var data dataFlags
	data.add(c.fs, "")
	files, code, ok := c.parse(args, stdout, stderr)
	if !ok {
		return code
	}
	if *modelDir == "" || (len(files) == 0) == (data.source == "") {
		fmt.Fprintln(stderr, "tfsweep predict: want --model DIR and either image files or --data SOURCE (see tfsweep predict -h)")
		return spec.ExitBadInput
	}
	workerArgs := append([]string{"predict", *modelDir}, files...)
	if data.source != "" {
		split, err := data.workerArgs()
		if err != nil {
			fmt.Fprintf(stderr, "tfsweep predict: %v\n", err)
			return spec.ExitBadInput
		}
		workerArgs = append(workerArgs, append([]string{"--data"}, split...)...)
	}
	for _, f := range files {
		if info, err := os.Stat(f); err != nil || !info.Mode().IsRegular() {
			fmt.Fprintf(stderr, "tfsweep predict: %s is not a readable file\n", f)
			return spec.ExitBadInput
		}
	}
	out, code := workerJSON(ctx, stderr, "predict", workerArgs...)
	if code != spec.ExitOK {
		return code
	}
	var preds []json.RawMessage
	if err := json.Unmarshal(out, &preds); err != nil {
		fmt.Fprintf(stderr, "tfsweep predict: %v\n", err)
		return spec.ExitRunFailed
	}
	if *jsonOut {
		for _, p := range preds {
			fmt.Fprintf(stdout, "%s\n", p)
		}
		return spec.ExitOK
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tINDEX\tCLASS\tPROBABILITY")
	for _, raw := range preds {
		var p spec.Prediction
		if err := json.Unmarshal(raw, &p); err != nil {
			return spec.ExitRunFailed
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.4f\n", p.File, p.Index, p.Class, p.Probability)
	}
	tw.Flush()
	return spec.ExitOK
}

func runEvaluate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCLI("evaluate", evaluateUsage)
	modelDir := c.fs.String("model", "", "the exported model `dir`ectory")
	var data dataFlags
	data.add(c.fs, "data/mnist")
	jsonOut := c.fs.Bool("json", false, "print one JSON object")
	pos, code, ok := c.parse(args, stdout, stderr)
	if !ok {
		return code
	}
	if *modelDir == "" || len(pos) > 0 {
		fmt.Fprintln(stderr, "tfsweep evaluate: want --model DIR and no other argument (see tfsweep evaluate -h)")
		return spec.ExitBadInput
	}
	split, err := data.workerArgs()
	if err != nil {
		fmt.Fprintf(stderr, "tfsweep evaluate: %v\n", err)
		return spec.ExitBadInput
	}
	out, code := workerJSON(ctx, stderr, "evaluate", append([]string{"evaluate", *modelDir}, split...)...)
	if code != spec.ExitOK {
		return code
	}
	if *jsonOut {
		stdout.Write(out)
		return spec.ExitOK
	}
	var e spec.Evaluation
	if err := json.Unmarshal(out, &e); err != nil {
		return spec.ExitRunFailed
	}
	fmt.Fprintf(stdout, "%s on %d %s examples: loss %.4f, accuracy %.4f\n", *modelDir, e.Examples, data.split, e.Loss, e.Accuracy)
	return spec.ExitOK
}

// workerJSON runs a worker subcommand that prints JSON, relaying its exit status: its stderr is
// shown (it names the bad file) only when it fails.
func workerJSON(ctx context.Context, stderr io.Writer, what string, args ...string) ([]byte, int) {
	out, err := askWorker(ctx, args...)
	var werr *workerError
	if errors.As(err, &werr) {
		fmt.Fprintf(stderr, "tfsweep %s: %v\n", what, werr)
		return nil, werr.code
	}
	return out, spec.ExitOK
}
