package main

import (
	"bytes"
	"encoding/json"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tfsweep/tfsweep/internal/datafixtures"
	"github.com/tfsweep/tfsweep/spec"
)

// predictLines decodes `tfsweep predict --json`'s lines.
func predictLines(t *testing.T, out string) []spec.Prediction {
	t.Helper()
	var preds []spec.Prediction
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		var p spec.Prediction
		if err := json.Unmarshal([]byte(line), &p); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		preds = append(preds, p)
	}
	return preds
}

// A model trained with --scale standardize on MNIST images from an .npz is evaluated and asked to
// predict on the same images as the .npz and as a PNG folder (--data, the test split by default):
// evaluate gives the run's own last validation metrics from both, predict the same answers for every
// image of both, and --split train every training image. A bad source or split, data that do not fit
// the model, and data whose files declare more than the memory available (refused before they are
// read, as tfsweep run refuses them) exit 2 naming them.
func TestPredictAndEvaluateOnDataSources(t *testing.T) {
	dir := t.TempDir()
	if err := datafixtures.Write(dir); err != nil {
		t.Fatal(err)
	}
	npz := "npz:" + filepath.Join(dir, "mnist.npz")
	png := "images:" + filepath.Join(dir, "mnist-png", "train") + ":color=grayscale:test=" + filepath.Join(dir, "mnist-png", "test")
	cache := t.TempDir()
	code, stdout, stderr := runCmd(t, "--data", npz, "--logdir", t.TempDir(), "--data-cache", cache, "--epochs", "2",
		"--hidden", "16", "--batch-size", "32", "--scale", "standardize", "--device", "cpu", "--log-every", "0", "--json")
	if code != spec.ExitOK {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}
	res := decodeResult(t, stdout)
	if res.Best == nil || len(res.Runs) != 1 {
		t.Fatalf("no best run in %s", stdout)
	}
	final := res.Runs[0].Final
	model := filepath.Join(res.SweepDir, "best")
	evaluate := func(args []string, o, e *bytes.Buffer) int { return runEvaluate(t.Context(), args, o, e) }
	predict := func(args []string, o, e *bytes.Buffer) int { return runPredict(t.Context(), args, o, e) }

	var evaluations []spec.Evaluation
	var predictions [][]spec.Prediction
	for _, source := range []string{npz, png} {
		code, out, errOut := cmdOutput(t, evaluate, "--model", model, "--data", source, "--data-cache", cache, "--json")
		var ev spec.Evaluation
		if code != spec.ExitOK || json.Unmarshal([]byte(out), &ev) != nil {
			t.Fatalf("evaluate --data %s: exit %d %s\n%s", source, code, out, errOut)
		}
		t.Logf("evaluate --data %s: %+v; the run validated at loss %v, accuracy %v", source, ev, final.ValLoss, final.ValAccuracy)
		if ev.Examples != 100 || ev.Accuracy != final.ValAccuracy || math.Abs(ev.Loss-final.ValLoss) > 1e-4 {
			t.Errorf("evaluate --data %s: %+v; the run validated at loss %v, accuracy %v", source, ev, final.ValLoss, final.ValAccuracy)
		}
		evaluations = append(evaluations, ev)
		code, out, errOut = cmdOutput(t, predict, "--model", model, "--data", source, "--data-cache", cache, "--json")
		if code != spec.ExitOK {
			t.Fatalf("predict --data %s: exit %d\n%s", source, code, errOut)
		}
		preds := predictLines(t, out)
		if len(preds) != 100 || preds[99].Index != 99 || preds[0].File != source {
			t.Errorf("predict --data %s: %d predictions, the last %+v", source, len(preds), preds[len(preds)-1])
		}
		predictions = append(predictions, preds)
	}
	if evaluations[0].Loss != evaluations[1].Loss {
		t.Errorf("the same images as .npz and as PNG files evaluate to losses %v and %v", evaluations[0].Loss, evaluations[1].Loss)
	}
	for i := range min(len(predictions[0]), len(predictions[1])) {
		a, b := predictions[0][i], predictions[1][i]
		if a.Class != b.Class || !reflect.DeepEqual(a.Probabilities, b.Probabilities) {
			t.Errorf("image %d: %d (%v) from the .npz, %d (%v) from the PNG", i, a.Class, a.Probabilities, b.Class, b.Probabilities)
			break
		}
	}
	code, out, errOut := cmdOutput(t, predict, "--model", model, "--data", npz, "--split", "train", "--json")
	if n := len(predictLines(t, out)); code != spec.ExitOK || n != 600 {
		t.Errorf("predict --split train: exit %d, %d predictions of 600 training images\n%s", code, n, errOut)
	}

	// Numbers, not bytes: a CSV table's rows, standardised, through the float32 signature.
	csv := "csv:" + filepath.Join(dir, "table.csv") + ":label=species:test=" + filepath.Join(dir, "table-test.csv")
	code, stdout, stderr = runCmd(t, "--data", csv, "--logdir", t.TempDir(), "--epochs", "2", "--hidden", "16", "--batch-size", "4",
		"--scale", "standardize", "--device", "cpu", "--log-every", "0", "--json")
	if code != spec.ExitOK {
		t.Fatalf("run on the CSV table: exit %d\n%s", code, stderr)
	}
	res = decodeResult(t, stdout)
	code, out, errOut = cmdOutput(t, evaluate, "--model", filepath.Join(res.SweepDir, "best"), "--data", csv, "--json")
	var ev spec.Evaluation
	if code != spec.ExitOK || json.Unmarshal([]byte(out), &ev) != nil {
		t.Fatalf("evaluate --data %s: exit %d %s\n%s", csv, code, out, errOut)
	}
	if f := res.Runs[0].Final; ev.Accuracy != f.ValAccuracy || math.Abs(ev.Loss-f.ValLoss) > 1e-4 {
		t.Errorf("evaluate --data %s: %+v; the run validated at loss %v, accuracy %v", csv, ev, f.ValLoss, f.ValAccuracy)
	}

	cifar := "cifar10:" + filepath.Join(dir, "cifar10")
	huge := hugeData(t)
	tooLarge := ": dataset: idx:" + huge + ": declared size too large: its files declare 7629402.2 MiB as float32, more than the budget of "
	for _, tc := range []struct {
		name string
		run  func([]string, *bytes.Buffer, *bytes.Buffer) int
		args []string
		want string
	}{
		{"an unknown kind", evaluate, []string{"--model", model, "--data", "parquet:x"}, `--data: bad data source "parquet:x"`},
		{"a missing file", evaluate, []string{"--model", model, "--data", "npz:" + filepath.Join(dir, "none.npz")}, "none.npz"},
		{"a split that is not one", evaluate, []string{"--model", model, "--data", npz, "--split", "val"}, `--split: "val" is neither test nor train`},
		{"data of another shape", evaluate, []string{"--model", model, "--data", cifar}, "--data " + cifar + ": examples of [32 32 3] (3072 values), the model takes 784"},
		{"data of another shape", predict, []string{"--model", model, "--data", cifar}, "the model takes 784"},
		{"data larger than the memory", evaluate, []string{"--model", model, "--data", "idx:" + huge}, "--data" + tooLarge},
		{"data larger than the memory", evaluate, []string{"--model", model, "--data-dir", huge}, "--data-dir" + tooLarge},
		{"data larger than the memory", predict, []string{"--model", model, "--data", "idx:" + huge, "--split", "train"}, "--data" + tooLarge},
		{"files and --data", predict, []string{"--model", model, "--data", npz, filepath.Join(dir, "x.png")}, "either image files or --data"},
	} {
		if code, _, errOut := cmdOutput(t, tc.run, tc.args...); code != spec.ExitBadInput || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, %q; want 2 naming %q", tc.name, code, errOut, tc.want)
		}
	}
}
