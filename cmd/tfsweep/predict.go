package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/tfsweep/tfsweep/spec"
)

const predictUsage = `usage: tfsweep predict --model DIR FILE... [--json]

Classifies the images of IDX image files (every image) and PNG files (one grayscale image each) with
a run's exported model (DIR: <run>/saved_model, or <sweep>/best), loaded by TensorFlow's own
SavedModel loader. Pixels go in raw (0-255): the model scales them as its run did.

Exit status: 0 done, 1 TensorFlow failed, 2 DIR is not a SavedModel or an image does not fit.
`

const evaluateUsage = `usage: tfsweep evaluate --model DIR --data-dir D [--json]

Loss and accuracy of a run's exported model on the test split of the IDX set in D
(t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte).

Exit status: 0 done, 1 TensorFlow failed, 2 DIR is not a SavedModel or D holds no usable data.
`

func runPredict(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCLI("predict", predictUsage)
	modelDir := c.fs.String("model", "", "the exported model `dir`ectory")
	jsonOut := c.fs.Bool("json", false, "print JSON lines, one object per image (with every class's probability)")
	files, code, ok := c.parse(args, stdout, stderr)
	if !ok {
		return code
	}
	if *modelDir == "" || len(files) == 0 {
		fmt.Fprintln(stderr, "tfsweep predict: want --model DIR and at least one image file (see tfsweep predict -h)")
		return spec.ExitBadInput
	}
	for _, f := range files {
		if info, err := os.Stat(f); err != nil || !info.Mode().IsRegular() {
			fmt.Fprintf(stderr, "tfsweep predict: %s is not a readable file\n", f)
			return spec.ExitBadInput
		}
	}
	out, code := workerJSON(ctx, stderr, "predict", append([]string{"predict", *modelDir}, files...)...)
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
	dataDir := c.fs.String("data-dir", "data/mnist", "`dir`ectory with the IDX files")
	jsonOut := c.fs.Bool("json", false, "print one JSON object")
	pos, code, ok := c.parse(args, stdout, stderr)
	if !ok {
		return code
	}
	if *modelDir == "" || len(pos) > 0 {
		fmt.Fprintln(stderr, "tfsweep evaluate: want --model DIR and no other argument (see tfsweep evaluate -h)")
		return spec.ExitBadInput
	}
	out, code := workerJSON(ctx, stderr, "evaluate", "evaluate", *modelDir, *dataDir)
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
	fmt.Fprintf(stdout, "%s on %d test images: loss %.4f, accuracy %.4f\n", *modelDir, e.Examples, e.Loss, e.Accuracy)
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
