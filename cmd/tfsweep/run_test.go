package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/sweep"
)

// writeIDX writes a tiny MNIST-shaped data set (n train, 20 test examples of 28×28) whose label is
// written into the image, so a few steps learn something.
func writeIDX(t *testing.T, dir string, trainN int) {
	t.Helper()
	write := func(name string, dims []uint32, data []byte) {
		var buf bytes.Buffer
		code := uint32(0x0800 | len(dims))
		binary.Write(&buf, binary.BigEndian, code)
		binary.Write(&buf, binary.BigEndian, dims)
		buf.Write(data)
		if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	split := func(prefix string, n int) {
		pixels := make([]byte, n*784)
		labels := make([]byte, n)
		for i := range n {
			labels[i] = byte(i % 10)
			for j := range 78 {
				pixels[i*784+int(labels[i])*78+j] = 255
			}
		}
		write(prefix+"-images-idx3-ubyte", []uint32{uint32(n), 28, 28}, pixels)
		write(prefix+"-labels-idx1-ubyte", []uint32{uint32(n)}, labels)
	}
	split("train", trainN)
	split("t10k", 20)
}

// runCmd runs `tfsweep run args...` and returns the exit code, stdout and stderr.
func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runRun(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// fifoData is a data directory whose test images are a FIFO, which used to block `run` forever.
func fifoData(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeIDX(t, dir, 100)
	p := filepath.Join(dir, "t10k-images-idx3-ubyte")
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// hugeData is a data directory whose IDX headers declare a million images of 1000×1000 pixels: four
// terabytes as float32, in a few bytes.
func hugeData(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	header := binary.BigEndian.AppendUint32(nil, 0x803)
	for _, d := range []uint32{1_000_000, 1000, 1000} {
		header = binary.BigEndian.AppendUint32(header, d)
	}
	for _, name := range []string{"train-images-idx3-ubyte", "t10k-images-idx3-ubyte"} {
		if err := os.WriteFile(filepath.Join(dir, name), header, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestRunBadInput(t *testing.T) {
	data := t.TempDir()
	writeIDX(t, data, 100)
	huge := hugeData(t)
	tmp := t.TempDir()
	aFile := filepath.Join(tmp, "file")
	if err := os.WriteFile(aFile, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	config := func(text string) string {
		p := filepath.Join(t.TempDir(), "sweep.yaml")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"--bogus"}, "unknown flag --bogus"},
		{"misspelt flag", []string{"--batchsize", "64"}, `unknown flag --batchsize (did you mean "batch-size"?)`},
		{"positional argument", []string{"extra"}, `unexpected argument "extra"`},
		{"unknown init", []string{"--init", "xavier,glorious"}, `--init: unknown initialiser "glorious"`},
		{"zero batch size", []string{"--batch-size", "0"}, "--batch-size: 0 must be positive"},
		{"non-numeric batch size", []string{"--batch-size", "64,many"}, `--batch-size: "many" is not an integer`},
		{"zero epochs", []string{"--epochs", "0"}, "--epochs: 0 must be positive"},
		{"non-numeric lr", []string{"--lr", "0.1,fast"}, `--lr: "fast" is not a number`},
		{"bad batchnorm", []string{"--batchnorm", "sometimes"}, `--batchnorm: "sometimes" is neither on nor off`},
		{"bad hidden", []string{"--hidden", "128,wide"}, `--hidden: "128,wide" is not a list of layer widths`},
		{"bad seed", []string{"--seed", "one"}, `--seed: "one" is not an integer`},
		{"bad scale", []string{"--scale", "half"}, `--scale: "half" is none of unit, none, standardize`},
		{"negative limit", []string{"--limit", "-1"}, "--limit: -1 must not be negative"},
		{"zero parallel", []string{"--parallel", "0"}, `invalid value "0" for flag --parallel: give auto or a count in [1, 256]`},
		{"parallel not a count", []string{"--parallel", "all"}, `invalid value "all" for flag --parallel: give auto or a count in [1, 256]`},
		{"threads that crash TensorFlow", []string{"--threads", "100000"}, "--threads: 100000 must be in [0, "},
		{"more steps per call than the graph holds", []string{"--steps-per-call", "65"}, "--steps-per-call: 65 must be in [0, 64]"},
		{"bad device", []string{"--device", "tpu"}, `--device: "tpu" is not one of auto, cpu, gpu`},
		{"gpu without one", []string{"--device", "gpu"}, "--device gpu: no GPU seen by TensorFlow"},
		{"negative log-every", []string{"--log-every", "-1"}, "--log-every: -1 must not be negative"},
		{"batch above the data", []string{"--batch-size", "64,128"}, "--batch-size: 128 is larger than the 100 training examples"},
		{"batch above the limit", []string{"--limit", "50", "--batch-size", "64"}, "--batch-size: 64 is larger than the 50 training examples"},
		{"limit above the data", []string{"--limit", "500"}, "--limit: 500 is more than the 100 training examples"},
		{"preset batch above the data", nil, "the lab-report preset's batch_size: 128 is larger than the 100 training examples (run xavier-nobn-b128)"},
		{"network too large", []string{"--batch-size", "10", "--hidden", "10000000"}, "--hidden: run xavier-nobn-b10 needs about"},
		{"two wide layers", []string{"--batch-size", "10", "--hidden", "4000000x2"}, "--hidden: run xavier-nobn-b10 needs about"},
		{"plan too large", []string{"--batch-size", "10", "--seed", "1,2,3", "--max-runs", "2"}, "the sweep has 3 runs, more than --max-runs 2"},
		{"missing data dir", []string{"--data-dir", filepath.Join(tmp, "nope")}, "--data-dir: dataset: " + filepath.Join(tmp, "nope") + ": missing"},
		{"unwritable logdir", []string{"--batch-size", "10", "--logdir", filepath.Join(aFile, "runs")}, "--logdir: mkdir " + aFile + ": not a directory"},
		{"logdir is a file", []string{"--batch-size", "10", "--logdir", aFile}, "--logdir: mkdir " + aFile + ": not a directory"},
		{"logdir in /proc", []string{"--batch-size", "10", "--logdir", "/proc/nope"}, "--logdir"},
		{"missing config", []string{"--config", filepath.Join(tmp, "none.yaml")}, "--config: open " + filepath.Join(tmp, "none.yaml")},
		{"malformed config", []string{"--config", config("grids:\n  - init: xavier\n  - batch_size: 3\n    x: : :\n")}, "sweep.yaml: line 4: mapping values are not allowed"},
		{"unknown config key", []string{"--config", config("grids:\n  - init: xavier\n    batchsize: 10\n")}, `sweep.yaml:3: unknown key "batchsize" (did you mean "batch_size"?)`},
		{"bad config value", []string{"--config", config("grids:\n  - batch_size: [10, ten]\n")}, `sweep.yaml:2: batch_size: "ten" is not an integer`},
		{"config range names file and line", []string{"--config", config("grids:\n  - init: xavier\n  - batch_size: [10, 0]\n")}, "sweep.yaml:3: batch_size: 0 must be positive"},
		{"config init names file and line", []string{"--config", config("grids:\n  - init: nope\n")}, `sweep.yaml:2: init: unknown initialiser "nope"`},
		{"config alias refused", []string{"--config", config("defaults: &d\n  epochs: 1\ngrids:\n  - *d\n")}, "YAML aliases are not allowed"},
		{"config huge grid refused before expansion", []string{"--config", config("grids:\n  - seed: [" + strings.Repeat("1,", 999) + "1]\n    lr: [" + strings.Repeat("0.1,", 999) + "0.1]\n    epochs: [" + strings.Repeat("1,", 99) + "1]\n")}, "the sweep has 100000000 runs, more than --max-runs 10000"},
		{"fifo as data", []string{"--data-dir", fifoData(t)}, "is not a regular file"},
		{"data larger than the memory", []string{"--data", "idx:" + huge}, "--data: dataset: idx:" + huge + ": declared size too large: its files declare 7629402.2 MiB as float32, more than the budget of "},
		{"model file with a shape mismatch", []string{"--batch-size", "10", "--model", config("layers:\n  - Input: {shape: [28, 28, 1]}\n  - Conv2D: {filters: 4, kernel_size: 3}\n  - Dense: {units: 10, activation: softmax}\n")},
			"/sweep.yaml:4: Dense `dense` gets a 4-D input (None, 26, 26, 4): add Flatten before it"},
		{"Keras layer tfsweep does not build", []string{"--batch-size", "10", "--model", "../../modelfile/testdata/keras/unsupported_layer.json"},
			"/modelfile/testdata/keras/unsupported_layer.json:1:520: SeparableConv2D `separable_conv2d` is not a layer class tfsweep builds"},
		{"missing model file", []string{"--batch-size", "10", "--model", filepath.Join(tmp, "none.yaml")}, "--model: open " + filepath.Join(tmp, "none.yaml")},
		{"model for other data", []string{"--batch-size", "10", "--model", config("layers:\n  - Input: {shape: [32, 32, 3]}\n  - Flatten:\n  - Dense: {units: 10, activation: softmax}\n")},
			"/sweep.yaml reads inputs of shape (None, 32, 32, 3), 3072 values, but the data's examples have 784"},
		{"bad data source", []string{"--data", "hdf5:x.h5"}, `--data: bad data source "hdf5:x.h5": unknown kind "hdf5"`},
		{"missing data file", []string{"--data", "npz:" + filepath.Join(tmp, "none.npz")}, "--data: dataset: stat " + filepath.Join(tmp, "none.npz")},
		{"csv of one column", []string{"--data", "csv:" + aFile + ":holdout=0.5"}, "--data: dataset: " + aFile + ": wrong number of fields: line 1: 1 column"},
		{"config data names file and line", []string{"--config", config("data: npz:" + filepath.Join(tmp, "none.npz") + "\ngrids:\n  - batch_size: 10\n")}, "sweep.yaml:1: data: dataset: stat " + filepath.Join(tmp, "none.npz")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logdir := filepath.Join(t.TempDir(), "runs")
			args := append([]string{"--data-dir", data, "--logdir", logdir}, tt.args...)
			for _, dry := range []bool{false, true} {
				if dry {
					args = append(args, "--dry-run")
				}
				code, stdout, stderr := runCmd(t, args...)
				if code != spec.ExitBadInput {
					t.Errorf("exit code %d, want %d", code, spec.ExitBadInput)
				}
				if !strings.Contains(stderr, tt.want) {
					t.Errorf("stderr %q, want it to contain %q", stderr, tt.want)
				}
				if stdout != "" {
					t.Errorf("stdout %q, want nothing", stdout)
				}
				if entries, _ := os.ReadDir(logdir); len(entries) > 0 {
					t.Errorf("bad input created %s/%s", logdir, entries[0].Name())
				}
			}
		})
	}
}

func TestRunDryRun(t *testing.T) {
	data := t.TempDir()
	writeIDX(t, data, 2000)
	logdir := filepath.Join(t.TempDir(), "runs")
	code, stdout, stderr := runCmd(t, "--data-dir", data, "--logdir", logdir, "--dry-run")
	if code != spec.ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	// The default trains a run per CPU this process may use, at most the twelve.
	parallel := "12 runs on 2000 training examples, " + autoParallel(12) + ", "
	for _, name := range []string{"xavier-nobn-b64", "xavier-bn-b1024", "uniform-nobn-b128", "uniform-bn-b128", parallel} {
		if !strings.Contains(stdout, name) {
			t.Errorf("dry run output lacks %s:\n%s", name, stdout)
		}
	}
	if _, err := os.Stat(logdir); !os.IsNotExist(err) {
		t.Errorf("a dry run touched the log directory: %v", err)
	}

	code, stdout, stderr = runCmd(t, "--data-dir", data, "--logdir", logdir, "--dry-run", "--json", "--seed", "1,2", "--batch-size", "32")
	if code != spec.ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc struct {
		Status   string
		Parallel sweep.Parallelism
		Runs     []struct{ Name, Status string }
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("--dry-run --json stdout is not JSON: %v\n%s", err, stdout)
	}
	if doc.Status != "planned" || len(doc.Runs) != 2 || doc.Runs[0].Name != "xavier-nobn-b32-s1" || doc.Runs[1].Name != "xavier-nobn-b32-s2" {
		t.Errorf("dry-run JSON %+v", doc)
	}
	if want := min(2, runtime.GOMAXPROCS(0)); doc.Parallel.Workers != want || !doc.Parallel.Auto || doc.Parallel.Reason == "" {
		t.Errorf("dry-run JSON's parallel %+v, want %d chosen by auto with its reason", doc.Parallel, want)
	}

	// Given, it is said as given, and a scheduler makes auto train one at a time and say why.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--parallel", "2"}, "2 runs on 2000 training examples, 2 at a time (--parallel 2), "},
		{[]string{"--parallel", "1"}, "2 runs on 2000 training examples, 1 at a time (--parallel 1), "},
		{[]string{"--scheduler", "asha"}, "2 runs on 2000 training examples, 1 at a time (auto: --scheduler asha decides in the order runs end: one at a time keeps it reproducible"},
	} {
		code, stdout, stderr = runCmd(t, append([]string{"--data-dir", data, "--logdir", logdir, "--dry-run", "--seed", "1,2", "--batch-size", "32"}, tc.args...)...)
		if code != spec.ExitOK || !strings.Contains(stdout, tc.want) {
			t.Errorf("%v: exit %d, output lacks %q:\n%s%s", tc.args, code, tc.want, stdout, stderr)
		}
	}
}

// --fuse: the dry run's last line says the choice, then the groups and the runs that train alone
// and why; --json has them as "fuse"; a --fuse or --fuse-group out of range is bad input.
func TestRunDryRunFuse(t *testing.T) {
	data := t.TempDir()
	writeIDX(t, data, 200)
	logdir := filepath.Join(t.TempDir(), "runs")
	sweepFlags := []string{"--data-dir", data, "--logdir", logdir, "--dry-run", "--device", "cpu", "--parallel", "1",
		"--batch-size", "32", "--lr", "0.001,0.002,0.004", "--optimizer", "adam,sgd"}
	adam := "xavier-nobn-b32-lr0.001-adam xavier-nobn-b32-lr0.002-adam xavier-nobn-b32-lr0.004-adam"
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--fuse", "on"}, []string{"6 runs on 200 training examples, 1 at a time (--parallel 1), fused in groups of 3 (--fuse on; auto: 3 fusable runs on 1 worker)\n" +
			"fused group 1: " + adam + "\n" +
			"alone: xavier-nobn-b32-lr0.001-sgd: optimizer sgd: fused training takes adam\n"}},
		{[]string{"--fuse", "on", "--fuse-group", "2"}, []string{"fused in groups of 2 (--fuse on; --fuse-group 2)\n",
			"fused group 1: xavier-nobn-b32-lr0.001-adam xavier-nobn-b32-lr0.002-adam\n",
			"alone: xavier-nobn-b32-lr0.004-adam: the other runs of its shape fill groups of 2\n"}},
		{nil, []string{"1 at a time (--parallel 1), not fused (auto: on CPUs fused trials trained 0.80–1.04× the trials per CPU-second of separate workers (docs/fused-trials.md))\n"}},
		{[]string{"--fuse", "off"}, []string{"1 at a time (--parallel 1), not fused (--fuse off)\n"}},
	} {
		code, stdout, stderr := runCmd(t, append(sweepFlags, tc.args...)...)
		for _, want := range tc.want {
			if code != spec.ExitOK || !strings.Contains(stdout, want) {
				t.Errorf("%v: exit %d, output lacks %q:\n%s%s", tc.args, code, want, stdout, stderr)
			}
		}
		if tc.args == nil && strings.Contains(stdout, "fused group") {
			t.Errorf("unfused, but groups are listed:\n%s", stdout)
		}
	}

	code, stdout, stderr := runCmd(t, append(sweepFlags, "--fuse", "on", "--json")...)
	var doc struct{ Fuse sweep.Fusion }
	if err := json.Unmarshal([]byte(stdout), &doc); code != spec.ExitOK || err != nil {
		t.Fatalf("exit %d, %v: %s%s", code, err, stdout, stderr)
	}
	f := doc.Fuse
	if !f.On || f.Auto || f.Reason != "--fuse on" || f.Group != 3 || len(f.Groups) != 1 || strings.Join(f.Groups[0], " ") != adam || len(f.Alone) != 3 {
		t.Errorf("--json's fuse: %+v", f)
	}
	for _, a := range f.Alone {
		if !strings.HasSuffix(a.Run, "-sgd") || !strings.Contains(a.Reason, "optimizer sgd") {
			t.Errorf("--json's fuse: alone %+v", a)
		}
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--fuse", "maybe"}, `tfsweep run: --fuse: "maybe" is not one of auto, on, off`},
		{[]string{"--fuse-group", "300"}, "tfsweep run: --fuse-group: 300 must be 0 (auto) or in [1, 256]"},
		{[]string{"--fuse", "off", "--fuse-group", "4"}, "tfsweep run: --fuse-group 4: --fuse off fuses nothing"},
	} {
		code, _, stderr := runCmd(t, append(sweepFlags, tc.args...)...)
		if code != spec.ExitBadInput || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, stderr, spec.ExitBadInput, tc.want)
		}
	}
}

func TestRunHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"--epochs", "2", "--help"}} {
		code, stdout, stderr := runCmd(t, args...)
		if code != spec.ExitOK || stderr != "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
		for _, want := range []string{"--logdir DIR", "--log-every N", "--batch-size LIST", "--hidden LIST", "--dry-run\n",
			"fixed, so runs are reproducible", "lab-report preset", "(default 128)", "(default ./runs)"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("%v: help lacks %q:\n%s", args, want, stdout)
			}
		}
	}
}

// An interrupt that comes while the data load (here: before the command starts) trains nothing,
// exits 130 and leaves no sweep directory behind; nor does it, or bad input found once the data is
// read, leave the worker started while the data loaded.
func TestInterruptBeforeTraining(t *testing.T) {
	data := t.TempDir()
	writeIDX(t, data, 2000)
	for _, tc := range []struct {
		name      string
		batchSize string
		interrupt bool
		want      int
	}{
		{"interrupted", "50", true, spec.ExitInterrupted},
		{"a batch larger than the data", "5000", false, spec.ExitBadInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logdir := filepath.Join(t.TempDir(), "runs")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.interrupt {
				cancel()
			}
			var stdout, stderr bytes.Buffer
			code := runRun(ctx, []string{"--data-dir", data, "--logdir", logdir, "--batch-size", tc.batchSize}, &stdout, &stderr)
			if code != tc.want {
				t.Fatalf("exit %d, want %d\n%s", code, tc.want, stderr.String())
			}
			if entries, _ := os.ReadDir(logdir); len(entries) > 0 {
				t.Errorf("a start that trained nothing left %s/%s", logdir, entries[0].Name())
			}
			if left := workers(os.Getpid()); len(left) > 0 {
				t.Errorf("a start that trained nothing left workers %v", left)
			}
		})
	}
}

// --resume DIR on a directory that is no sweep, or whose recorded plan does not parse, exits 2
// naming the file, and trains nothing.
func TestResumeBadDirectory(t *testing.T) {
	data := t.TempDir()
	writeIDX(t, data, 2000)
	notSweep := t.TempDir()
	broken := t.TempDir()
	if err := os.WriteFile(filepath.Join(broken, "sweep.yaml"), []byte("grids:\n  - batch_size: [64, many]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ dir, want string }{
		{notSweep, filepath.Join(notSweep, "sweep.yaml")},
		{broken, filepath.Join(broken, "sweep.yaml") + `:2: batch_size: "many" is not an integer`},
	} {
		code, _, stderr := runCmd(t, "--resume", tc.dir, "--data-dir", data)
		if code != spec.ExitBadInput || !strings.Contains(stderr, tc.want) {
			t.Errorf("--resume %s: exit %d, %q; want 2 naming %q", tc.dir, code, stderr, tc.want)
		}
		if entries, _ := os.ReadDir(tc.dir); len(entries) > 1 || (tc.dir == notSweep && len(entries) > 0) {
			t.Errorf("--resume %s created files", tc.dir)
		}
	}
}

// "sweep started" counts the images the runs train on, not the data's: --limit and
// --validation-split cut them.
func TestTrainExamples(t *testing.T) {
	run := func(limit int, split float64) sweep.Run {
		v := spec.Defaults()
		v.Limit, v.ValidationSplit = limit, split
		return sweep.Run{Variant: v}
	}
	for _, tc := range []struct {
		name         string
		runs         []sweep.Run
		fewest, most int
	}{
		{"all the data", []sweep.Run{run(0, 0)}, 60000, 60000},
		{"a limit", []sweep.Run{run(20000, 0), run(20000, 0)}, 20000, 20000},
		{"a limit and a validation split", []sweep.Run{run(20000, 0.1)}, 18000, 18000},
		{"runs that differ", []sweep.Run{run(3000, 0), run(0, 0.2), run(20000, 0)}, 3000, 48000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if fewest, most := trainExamples(tc.runs, 60000); fewest != tc.fewest || most != tc.most {
				t.Errorf("trainExamples = %d, %d; want %d, %d", fewest, most, tc.fewest, tc.most)
			}
		})
	}
}

// Axis flags that leave the preset's own axes to it train the preset's twelve runs: the first line
// says so, and how to train one run; flags that make their own grid, or no axis flags, say nothing.
func TestRunPresetNotice(t *testing.T) {
	data := t.TempDir()
	writeIDX(t, data, 2000)
	for _, tc := range []struct {
		name string
		args []string
		want string // the first line's message; "" for no notice
	}{
		{"optimizer and lr", []string{"--optimizer", "adagrad", "--lr", "0.01"},
			"training the lab-report preset: --lr, --optimizer apply to each of its 12 runs; to train one run instead, add one of --init, --batchnorm, --batch-size (e.g. --batch-size 128)"},
		{"with seeds", []string{"--seed", "1,2", "--epochs", "1"},
			"training the lab-report preset: --seed, --epochs apply to each of its 24 runs; to train one run instead, add one of --init, --batchnorm, --batch-size (e.g. --batch-size 128)"},
		{"one run", []string{"--optimizer", "adagrad", "--lr", "0.01", "--batch-size", "128"}, ""},
		{"the preset itself", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--data-dir", data, "--logdir", t.TempDir(), "--dry-run"}, tc.args...)
			code, _, stderr := runCmd(t, args...)
			if code != spec.ExitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if tc.want == "" {
				if strings.Contains(stderr, "preset") {
					t.Errorf("a notice where none belongs:\n%s", stderr)
				}
				return
			}
			first, _, _ := strings.Cut(stderr, "\n")
			var rec struct{ Level, Message string }
			if err := json.Unmarshal([]byte(first), &rec); err != nil {
				t.Fatalf("first line is not a JSON line: %q: %v", first, err)
			}
			if rec.Level != "warn" || rec.Message != tc.want {
				t.Errorf("first line %+v, want a warning %q", rec, tc.want)
			}
		})
	}
}

// autoParallel is how the front says --parallel auto's choice for a sweep of a few small runs on the CPUs
// this process may use: a run per CPU, at most the runs, and which bound it was.
func autoParallel(runs int) string {
	n, bound := runtime.GOMAXPROCS(0), "CPU"
	if runs < n {
		n, bound = runs, "run"
	}
	if n != 1 {
		bound += "s"
	}
	return fmt.Sprintf("%d at a time (auto: %d %s)", n, n, bound)
}
