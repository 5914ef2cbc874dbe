package main

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/tfsweep/tfsweep/internal/datafixtures"
	"github.com/tfsweep/tfsweep/spec"
)

// runOnData trains one small run on a data source and returns its JSON summary's run.
func runOnData(t *testing.T, args ...string) (status string, trainExamples int, history map[string][]float64) {
	t.Helper()
	args = append([]string{"--logdir", t.TempDir(), "--data-cache", t.TempDir(), "--epochs", "2", "--init", "xavier",
		"--batchnorm", "off", "--hidden", "16", "--device", "cpu", "--json"}, args...)
	code, stdout, stderr := runCmd(t, args...)
	if code != spec.ExitOK {
		t.Fatalf("tfsweep run %s: exit %d\n%s", strings.Join(args, " "), code, stderr)
	}
	var res struct {
		Runs []struct {
			Status        string               `json:"status"`
			TrainExamples int                  `json:"train_examples"`
			History       map[string][]float64 `json:"history"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || len(res.Runs) != 1 {
		t.Fatalf("summary %q: %v", stdout, err)
	}
	r := res.Runs[0]
	return r.Status, r.TrainExamples, r.History
}

// TestRunOnEveryFormat trains on data of every format, as the formats' own writers made it, and on the
// same MNIST images as IDX, .npz and a PNG folder, which train to bitwise-identical histories.
func TestRunOnEveryFormat(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := datafixtures.Write(dir); err != nil {
		t.Fatal(err)
	}
	t.Run("mnist in three formats", func(t *testing.T) {
		var first map[string][]float64
		for i, source := range []string{
			"idx:" + filepath.Join(dir, "mnist-idx"),
			"npz:" + filepath.Join(dir, "mnist.npz"),
			"images:" + filepath.Join(dir, "mnist-png", "train") + ":color=grayscale:test=" + filepath.Join(dir, "mnist-png", "test"),
		} {
			status, n, history := runOnData(t, "--data", source, "--batch-size", "32", "--validation-split", "0.2")
			if status != "succeeded" || n != 480 || len(history["train_loss"]) != 2 {
				t.Fatalf("%s: %s on %d examples, history %v", source, status, n, history)
			}
			if i == 0 {
				first = history
			} else if !reflect.DeepEqual(history, first) {
				t.Errorf("%s trained to\n%v\nthe IDX files to\n%v", source, history, first)
			}
		}
	})
	for _, tc := range []struct {
		name, source string
		batch, n     int
	}{
		{"npy", "npy:" + filepath.Join(dir, "npy-v1") + ":classes=5", 2, 6},
		{"cifar10", "cifar10:" + filepath.Join(dir, "cifar10"), 3, 9},
		{"cifar100 coarse", "cifar100:" + filepath.Join(dir, "cifar100") + ":label=coarse", 2, 4},
		{"images resized", "images:" + filepath.Join(dir, "images-rgb", "train") + ":size=6x5:test=" + filepath.Join(dir, "images-rgb", "test"), 2, 5},
		{"csv", "csv:" + filepath.Join(dir, "table.csv") + ":label=species:test=" + filepath.Join(dir, "table-test.csv"), 4, 8},
		{"tfrecord", "tfrecord:" + filepath.Join(dir, "tfrecord", "png-*.tfrecord.gz") + ":image=image:label=label:holdout=0.4", 1, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, n, history := runOnData(t, "--data", tc.source, "--batch-size", strconv.Itoa(tc.batch))
			if status != "succeeded" || n != tc.n || len(history["val_loss"]) != 2 {
				t.Errorf("%s on %d examples, history %v; want succeeded on %d", status, n, history, tc.n)
			}
		})
	}
}
