package trainer

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeTinyMNIST writes an MNIST-shaped data set (n train, 50 test examples of 28×28) whose label is
// drawn into the image, so that a few steps learn it.
func writeTinyMNIST(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, dims []uint32, data []byte) {
		var buf bytes.Buffer
		binary.Write(&buf, binary.BigEndian, uint32(0x0800|len(dims)))
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
			labels[i] = byte(i * 7 % 10)
			for j := range 78 {
				pixels[i*784+int(labels[i])*78+j] = byte(128 + i%128)
			}
		}
		write(prefix+"-images-idx3-ubyte", []uint32{uint32(n), 28, 28}, pixels)
		write(prefix+"-labels-idx1-ubyte", []uint32{uint32(n)}, labels)
	}
	split("train", n)
	split("t10k", 50)
	return dir
}

// cancelAt cancels the sweep's context at a given global step of one run.
type cancelAt struct {
	History // no-op for the other events
	step    int64
	cancel  context.CancelFunc
}

func (c *cancelAt) OnBatchEnd(b BatchEnd) error {
	if b.Step == c.step {
		c.cancel()
	}
	return nil
}

func TestSweepInterrupted(t *testing.T) {
	data := writeTinyMNIST(t, 200)
	plan := Plan{Grids: []Grid{{BatchSize: []int{50, 40, 25}, Epochs: []int{3}}}}
	sweep, err := NewSweep(plan, Options{LogDir: t.TempDir(), DataDir: data, Device: "cpu", Parallel: 1, LogEvery: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The second run (batch 40: 5 steps an epoch) is cancelled in its second epoch.
	sweep.testCallbacks = func(r Run) []Callback {
		if r.BatchSize != 40 {
			return nil
		}
		return []Callback{&cancelAt{step: 7, cancel: cancel}}
	}
	res := sweep.Run(ctx)
	if res.Status != StatusInterrupted {
		t.Errorf("sweep status %q, want %q", res.Status, StatusInterrupted)
	}
	if len(res.Runs) != 3 {
		t.Fatalf("%d runs in the result, want 3", len(res.Runs))
	}
	done, stopped, unstarted := res.Runs[0], res.Runs[1], res.Runs[2]
	if done.Status != StatusSucceeded || done.EpochsCompleted != 3 || done.Final == nil {
		t.Errorf("first run %+v, want succeeded after 3 epochs", done)
	}
	if stopped.Status != StatusFailed || !strings.Contains(stopped.Error, "context canceled") || stopped.EpochsCompleted != 1 ||
		len(stopped.History.ValLoss) != 1 || stopped.Final == nil {
		t.Errorf("interrupted run %+v, want failed with context canceled after 1 epoch", stopped)
	}
	if unstarted.Status != StatusFailed || unstarted.Dir != "" || !strings.Contains(unstarted.Error, "not started") {
		t.Errorf("unstarted run %+v", unstarted)
	}
	if _, err := os.Stat(filepath.Join(res.SweepDir, "xavier-nobn-b25")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the unstarted run has a directory: %v", err)
	}
	checkRunLogs(t, done, true)
	checkRunLogs(t, stopped, false)
	// --log-every 2: batch_loss at every second global step, here 4 steps an epoch for 3 epochs.
	if got := readRunLog(t, filepath.Join(done.Dir, "train")).steps("batch_loss"); !slices.Equal(got, []int64{2, 4, 6, 8, 10, 12}) {
		t.Errorf("batch_loss steps %v, want 2, 4, …, 12", got)
	}

	root := readRunLog(t, res.SweepDir)
	if len(root.hparams) != 1 || root.hparams[0].Experiment == nil {
		t.Fatalf("sweep root: want one hparams experiment, got %+v", root.hparams)
	}
	exp := root.hparams[0].Experiment
	var names []string
	for _, h := range exp.HParams {
		names = append(names, h.Name)
		if h.Name == "batch_size" && !reflect.DeepEqual(h.Discrete, []any{50.0, 40.0, 25.0}) {
			t.Errorf("batch_size domain %v", h.Discrete)
		}
	}
	if want := []string{"init", "batchnorm", "batch_size", "lr", "epochs", "hidden", "seed", "scale"}; !slices.Equal(names, want) {
		t.Errorf("experiment hparams %v, want %v", names, want)
	}
	var metrics []string
	for _, m := range exp.Metrics {
		metrics = append(metrics, m.Group+"/"+m.Tag)
	}
	if want := []string{"validation/epoch_loss", "validation/epoch_accuracy", "train/epoch_loss", "train/epoch_accuracy"}; !slices.Equal(metrics, want) {
		t.Errorf("experiment metrics %v, want %v", metrics, want)
	}

	// What TensorBoard itself makes of the interrupted sweep: the interrupted run is a failed session
	// with its first epoch kept, the unstarted run does not exist.
	runTBCheck(t, res.SweepDir, map[string]any{
		"runs": []string{".", done.Name, done.Name + "/train", done.Name + "/validation",
			stopped.Name, stopped.Name + "/train", stopped.Name + "/validation"},
		"scalars": []map[string]any{
			{"run": stopped.Name + "/train", "tag": "epoch_loss", "steps": []int{0}, "values": stopped.History.TrainLoss},
			{"run": stopped.Name + "/train", "tag": "batch_loss", "steps": []int{2, 4, 6}},
			{"run": stopped.Name + "/validation", "tag": "evaluation_loss_vs_iterations", "steps": []int{5}},
		},
		"graphs": []map[string]any{{"run": stopped.Name + "/train", "run_graph": true, "keras": true}},
		"hparams": map[string]any{"session_groups": map[string]any{
			done.Name:    map[string]any{"status": "STATUS_SUCCESS", "sessions": []string{done.Name}},
			stopped.Name: map[string]any{"status": "STATUS_FAILURE", "sessions": []string{stopped.Name}},
		}},
	})
}

// runTBCheck asks a real TensorBoard, through scripts/tb_check.py with both loaders, whether it
// serves expectation for logdir. A missing TensorBoard fails the test: it is never skipped.
func runTBCheck(t *testing.T, logdir string, expectation map[string]any) {
	t.Helper()
	python := os.Getenv("TFSWEEP_PYTHON")
	if python == "" {
		t.Fatal("TFSWEEP_PYTHON is not set: run `make test`, or " +
			"`export TFSWEEP_PYTHON=$(scripts/setup-python.sh tensorboard | tail -1)` from the repository root")
	}
	script, err := filepath.Abs(filepath.Join("..", "scripts", "tb_check.py"))
	if err != nil {
		t.Fatal(err)
	}
	exp, err := json.MarshalIndent(expectation, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	expFile := filepath.Join(t.TempDir(), "expect.json")
	if err := os.WriteFile(expFile, exp, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, script, "--logdir", logdir, "--expect", expFile, "--load-fast", "both", "--timeout", "90").CombinedOutput()
	if err != nil {
		t.Fatalf("TensorBoard does not serve the expected logs (%v):\n%s\nexpectation: %s", err, out, exp)
	}
}

func TestSweepNonFiniteLossFailsOneRun(t *testing.T) {
	data := writeTinyMNIST(t, 100)
	// An enormous learning rate overflows the weights within a few steps: TerminateOnNaN.
	plan := Plan{Grids: []Grid{{LR: []float64{0.001, 1e300}, BatchSize: []int{20}, Epochs: []int{2}, Scale: []string{ScaleNone}}}}
	sweep, err := NewSweep(plan, Options{LogDir: t.TempDir(), DataDir: data, Device: "cpu", Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	res := sweep.Run(context.Background())
	if res.Status != StatusFailed {
		t.Errorf("sweep status %q, want failed", res.Status)
	}
	ok, diverged := res.Runs[0], res.Runs[1]
	if ok.Name != "xavier-nobn-b20-lr0.001" || ok.Status != StatusSucceeded {
		t.Errorf("first run %s %s %s", ok.Name, ok.Status, ok.Error)
	}
	if diverged.Name != "xavier-nobn-b20-lr1e+300" || diverged.Status != StatusFailed || !strings.Contains(diverged.Error, "TerminateOnNaN") {
		t.Errorf("second run %s %s %q, want failed by TerminateOnNaN", diverged.Name, diverged.Status, diverged.Error)
	}
	checkRunLogs(t, ok, true)
	checkRunLogs(t, diverged, false)
}
