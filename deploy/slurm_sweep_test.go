package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tfsweep/tfsweep/internal/tbcheck"
	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/summary"
	"github.com/tfsweep/tfsweep/sweep"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// tfsweepBinary builds bin/tfsweep and bin/tfsweep-worker once into a directory of their own, as
// `make build` does, and returns the front's path.
func tfsweepBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tfsweep-slurm-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binDir = dir
		for _, b := range []struct{ name, pkg, cgo string }{{"tfsweep", "./cmd/tfsweep", "0"}, {"tfsweep-worker", "./cmd/tfsweep-worker", "1"}} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(dir, b.name), b.pkg)
			// Built in the program's own module (deploy/ is another), with its go.sum.
			cmd.Dir = ".."
			cmd.Env = append(os.Environ(), "CGO_ENABLED="+b.cgo)
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("build %s: %v\n%s", b.name, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "tfsweep")
}

func dataDir(t *testing.T) string {
	t.Helper()
	d := os.Getenv("TFSWEEP_DATA_DIR")
	if d == "" {
		t.Fatal("TFSWEEP_DATA_DIR is not set: run `make test`, or scripts/setup-data.sh and export TFSWEEP_DATA_DIR=$PWD/data/mnist")
	}
	return d
}

// tfsweep runs the real front and returns its exit code and output.
func tfsweep(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(tfsweepBinary(t), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil && cmd.ProcessState == nil {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), out.String()
}

// reportRuns is the runs part of report.json, which must not depend on who trained the sweep.
func reportRuns(t *testing.T, dir string) string {
	t.Helper()
	if code, out := tfsweep(t, "report", dir); code != 0 {
		t.Fatalf("tfsweep report %s: exit %d\n%s", dir, code, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Runs json.RawMessage }
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return string(doc.Runs)
}

// The repository's array script shards a real six-run sweep over three Slurm tasks into one --name:
// every run succeeds once, the status is all succeeded, the report is the one a single process
// writes, and TensorBoard shows one experiment of six sessions.
func TestSlurmShardedSweep(t *testing.T) {
	c := startSlurm(t)
	front := tfsweepBinary(t)
	dir := t.TempDir()
	sweepFile := filepath.Join(dir, "sweep.yaml")
	plan := "limit: 2000\ndefaults:\n  epochs: 1\ngrids:\n  - batchnorm: [off, on]\n    batch_size: [64, 128, 256]\n"
	if err := os.WriteFile(sweepFile, []byte(plan), 0o644); err != nil {
		t.Fatal(err)
	}
	logdir := filepath.Join(dir, "logs")
	env := []string{"TFSWEEP=" + front, "SWEEP_FILE=" + sweepFile, "SWEEP_NAME=slurm", "LOGDIR=" + logdir, "DATA_DIR=" + dataDir(t)}
	start := time.Now()
	id, err := c.submitWait(t, 5*time.Minute, env, "--gres=none", "--array=0-2", "--chdir", dir,
		"--output", filepath.Join(dir, "array-%A_%a.out"), filepath.Join(repoRoot(t), "deploy", "slurm", "tfsweep-array.sbatch"))
	if err != nil {
		outs, _ := filepath.Glob(filepath.Join(dir, "array-*.out"))
		for _, o := range outs {
			b, _ := os.ReadFile(o)
			t.Logf("%s:\n%s", o, b)
		}
		t.Fatal(err)
	}
	t.Logf("array %s of 3 shards done in %v", id, time.Since(start).Round(time.Millisecond))
	sweepDir := filepath.Join(logdir, "slurm")
	if code, out := tfsweep(t, "status", sweepDir); code != 0 || !strings.Contains(out, "6 runs: 6 succeeded") {
		t.Fatalf("status: exit %d\n%s", code, out)
	}
	pids := map[int]bool{}
	claims, _ := filepath.Glob(filepath.Join(sweepDir, spec.ClaimsDir, "*.json"))
	for _, f := range claims {
		var cl sweep.Claim
		b, _ := os.ReadFile(f)
		if err := json.Unmarshal(b, &cl); err != nil || cl.State != spec.StatusSucceeded {
			t.Errorf("%s: %+v %v", f, cl, err)
		}
		pids[cl.PID] = true
	}
	if len(claims) != 6 || len(pids) != 3 {
		t.Errorf("%d claims by %d processes, want 6 by the 3 tasks", len(claims), len(pids))
	}
	solo := filepath.Join(dir, "solo")
	if code, out := tfsweep(t, "run", "--config", sweepFile, "--name", "slurm", "--logdir", solo, "--data-dir", dataDir(t)); code != 0 {
		t.Fatalf("one process: exit %d\n%s", code, out)
	}
	if got, want := reportRuns(t, sweepDir), reportRuns(t, filepath.Join(solo, "slurm")); got != want {
		t.Errorf("the sharded report differs from one process's:\n%s\n%s", got, want)
	}
	sessions := map[string]any{}
	for _, r := range []string{"xavier-nobn-b64", "xavier-nobn-b128", "xavier-nobn-b256", "xavier-bn-b64", "xavier-bn-b128", "xavier-bn-b256"} {
		sessions["slurm/"+r] = map[string]any{"status": "STATUS_SUCCESS", "sessions": []string{"slurm/" + r}}
	}
	tbcheck.Run(t, logdir, map[string]any{
		"runs_subset": true, "runs": []string{"slurm"},
		"hparams": map[string]any{
			"experiment":     map[string]any{"metrics_subset": true, "metrics": []map[string]string{{"group": "validation", "tag": "epoch_loss"}}},
			"session_groups": sessions,
		},
	})
}

// A task cancelled mid-run and requeued finishes the sweep: the run it was training continues from
// its checkpoint (--resume in the script), every run succeeds, and each epoch of each run is logged
// once.
func TestSlurmRequeuedShardCompletesTheSweep(t *testing.T) {
	c := startSlurm(t)
	front := tfsweepBinary(t)
	dir := t.TempDir()
	sweepFile := filepath.Join(dir, "sweep.yaml")
	plan := "limit: 5000\ndefaults:\n  epochs: 15\n  batch_size: 32\ngrids:\n  - seed: [1, 2, 3]\n"
	if err := os.WriteFile(sweepFile, []byte(plan), 0o644); err != nil {
		t.Fatal(err)
	}
	logdir := filepath.Join(dir, "logs")
	env := []string{"TFSWEEP=" + front, "SWEEP_FILE=" + sweepFile, "SWEEP_NAME=requeue", "LOGDIR=" + logdir, "DATA_DIR=" + dataDir(t)}
	id := c.submit(t, env, "--gres=none", "--array=0-2", "--chdir", dir,
		"--output", filepath.Join(dir, "array-%A_%a.out"), filepath.Join(repoRoot(t), "deploy", "slurm", "tfsweep-array.sbatch"),
		"--log-every", "0")
	sweepDir := filepath.Join(logdir, "requeue")
	// Task 1 trains the plan's second run (index 1 ≡ 1 mod 3): cancel it once that run has logged.
	run := "xavier-nobn-b32-s2"
	waitForFile(t, filepath.Join(sweepDir, spec.ClaimsDir, run+".json"), 2*time.Minute)
	// Once it has saved a checkpoint after its first epoch (ckpt-1 is pruned as later ones come).
	deadline := time.Now().Add(2 * time.Minute)
	for {
		states, _ := filepath.Glob(filepath.Join(sweepDir, run, "checkpoints", "ckpt-*.state.json"))
		if len(states) > 0 && !slices.Equal(states, []string{filepath.Join(sweepDir, run, "checkpoints", "ckpt-1.state.json")}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s saved no checkpoint past its first epoch within 2 minutes", run)
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.cancelTask(t, id, "1")
	c.waitTask(t, id, "1", time.Minute, "CANCELLED")
	c.requeueTask(t, id, "1")
	for _, task := range []string{"0", "1", "2"} {
		if tk := c.waitTask(t, id, task, 5*time.Minute, "COMPLETED", "FAILED", "CANCELLED"); tk.State != "COMPLETED" {
			out, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("array-%s_%s.out", id, task)))
			t.Fatalf("task %s ended %s:\n%s", task, tk.State, out)
		}
	}
	if tk := c.tasks(t, id)["1"]; tk.Restarts != "1" {
		t.Errorf("task 1 restarted %s times, want 1", tk.Restarts)
	}
	if code, out := tfsweep(t, "status", sweepDir); code != 0 || !strings.Contains(out, "3 runs: 3 succeeded") {
		t.Fatalf("status: exit %d\n%s", code, out)
	}
	for _, r := range []string{"xavier-nobn-b32-s1", "xavier-nobn-b32-s2", "xavier-nobn-b32-s3"} {
		files, _ := summary.EventFiles(filepath.Join(sweepDir, r, "validation"))
		seen := map[int64]int{}
		for _, f := range files {
			events, err := summary.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range events {
				for _, v := range e.Values {
					if v.Tag == "epoch_loss" {
						seen[e.Step]++
					}
				}
			}
		}
		for step := int64(0); step < 15; step++ {
			if seen[step] != 1 {
				t.Errorf("%s: validation epoch_loss at epoch %d logged %d times, want once", r, step, seen[step])
			}
		}
	}
	// The requeued task resumed the run from its checkpoint: the killed attempt's event files were
	// cut back to it and renamed out of TensorBoard's sight.
	if retired, _ := filepath.Glob(filepath.Join(sweepDir, run, "train", "*retired*")); len(retired) == 0 {
		t.Errorf("%s was not resumed from its checkpoint: no retired event files in its train/", run)
	}
}
