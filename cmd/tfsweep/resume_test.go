package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/sweep"
)

// TestKillAndResume kills a sweep with SIGKILL (front and worker: no file is closed, no claim
// released) at several moments and resumes it with `tfsweep run --resume DIR`: every run's history
// and final metrics are bitwise those of an uninterrupted sweep of the same seeds, both TensorBoard
// loaders see every tag's steps once each in order, and each run is one HParams session that
// succeeded.
func TestKillAndResume(t *testing.T) {
	t.Parallel()
	const epochs = 12
	flags := func(logdir string) []string {
		return []string{"--data-dir", realData(t), "--logdir", logdir, "--limit", "3000", "--epochs", "12",
			"--batch-size", "32", "--batchnorm", "off,on", "--dropout", "0.2", "--log-every", "20", "--json"}
	}
	whole := t.TempDir()
	code, stdout, stderr := runCmd(t, flags(whole)...)
	if code != spec.ExitOK {
		t.Fatalf("uninterrupted: exit %d\n%s", code, stderr)
	}
	want := decodeResult(t, stdout)

	for _, moment := range []struct {
		name string
		file string // the kill comes once this file of the first run exists
	}{
		{"in the first epoch, before any checkpoint", filepath.Join("train", "*tfevents*")},
		{"after the 4th epoch's checkpoint", filepath.Join("checkpoints", "ckpt-4.state.json")},
	} {
		t.Run(moment.name, func(t *testing.T) {
			logdir := t.TempDir()
			f := startFront(t, flags(logdir)...)
			waitFor(t, time.Minute, moment.file, func() bool {
				m, _ := filepath.Glob(filepath.Join(logdir, "sweep-*", "xavier-nobn-b32", moment.file))
				return len(m) > 0
			})
			dir := killFront(t, f, logdir)
			// The worker dies with the front (Pdeathsig); the claim it left is stale.
			waitFor(t, 10*time.Second, "the claim to be stale", func() bool {
				states, err := sweep.Status(dir)
				return err == nil && states[0].State == spec.StatusStale
			})
			code, stdout, stderr := runCmd(t, "--resume", dir, "--data-dir", realData(t), "--log-every", "20", "--json")
			if code != spec.ExitOK {
				t.Fatalf("resume: exit %d\n%s", code, stderr)
			}
			got := decodeResult(t, stdout)
			for i, w := range want.Runs {
				g := got.Runs[i]
				if g.Status != spec.StatusSucceeded || g.EpochsCompleted != epochs || *g.Final != *w.Final ||
					!equalFloats(g.History.ValLoss, w.History.ValLoss) || !equalFloats(g.History.TrainLoss, w.History.TrainLoss) {
					t.Errorf("%s resumed: %s after %d epochs, final %+v; uninterrupted: %+v", g.Name, g.Status, g.EpochsCompleted, g.Final, w.Final)
				}
				if _, err := os.Stat(filepath.Join(g.Dir, "saved_model", "saved_model.pb")); err != nil {
					t.Errorf("%s: no exported model: %v", g.Name, err)
				}
			}
			checkResumedLogs(t, dir, want, epochs)
		})
	}
}

func equalFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// checkResumedLogs asks TensorBoard, with both loaders, for every scalar tag's steps (each once, in
// order, none missing) and for one successful session per run.
func checkResumedLogs(t *testing.T, dir string, want sweep.Result, epochs int) {
	t.Helper()
	stepsPerEpoch := (3000 + 31) / 32
	var epochSteps, iterations, batchSteps []int
	for e := range epochs {
		epochSteps = append(epochSteps, e)
		iterations = append(iterations, (e+1)*stepsPerEpoch)
	}
	for s := 20; s <= epochs*stepsPerEpoch; s += 20 {
		batchSteps = append(batchSteps, s)
	}
	var scalars []map[string]any
	groups := map[string]any{}
	for _, r := range want.Runs {
		train, val := r.Name+"/train", r.Name+"/validation"
		for _, s := range []struct {
			run, tag string
			steps    []int
			values   []float64
		}{
			{train, "epoch_loss", epochSteps, r.History.TrainLoss}, {train, "epoch_accuracy", epochSteps, r.History.TrainAccuracy},
			{train, "epoch_learning_rate", epochSteps, nil}, {train, "batch_loss", batchSteps, nil}, {train, "batch_accuracy", batchSteps, nil},
			{val, "epoch_loss", epochSteps, r.History.ValLoss}, {val, "evaluation_loss_vs_iterations", iterations, r.History.ValLoss},
		} {
			entry := map[string]any{"run": s.run, "tag": s.tag, "steps": s.steps}
			if s.values != nil {
				entry["values"] = s.values
			}
			scalars = append(scalars, entry)
		}
		groups[filepath.Base(dir)+"/"+r.Name] = map[string]any{"status": "STATUS_SUCCESS", "sessions": []string{r.Name}}
	}
	runTBCheck(t, dir, map[string]any{
		"runs_subset": true, "runs": []string{"."},
		"scalars": scalars,
		"hparams": map[string]any{"session_groups": groups},
	})
}
