package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/summary"
	"github.com/tfsweep/tfsweep/sweep"
)

func TestParseShard(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	tests := []struct {
		spec   string
		shards int
		env    func(string) string
		want   sweep.Shard
		err    string
	}{
		{"", 0, env(), sweep.Shard{}, ""},
		{"1/3", 0, env(), sweep.Shard{Index: 1, Count: 3}, ""},
		{"3/3", 0, env(), sweep.Shard{}, "index 3 is outside [0, 3)"},
		{"a/3", 0, env(), sweep.Shard{}, `index "a" is not an integer`},
		{"1", 0, env(), sweep.Shard{}, "neither I/N nor auto"},
		{"auto", 4, env("JOB_COMPLETION_INDEX", "2"), sweep.Shard{Index: 2, Count: 4}, ""},
		{"auto", 0, env("JOB_COMPLETION_INDEX", "2"), sweep.Shard{}, "give the Job's completions as --shards N"},
		{"auto", 2, env("JOB_COMPLETION_INDEX", "2"), sweep.Shard{}, "index 2 is outside [0, 2)"},
		{"auto", 0, env("SLURM_ARRAY_TASK_ID", "5", "SLURM_ARRAY_TASK_COUNT", "3", "SLURM_ARRAY_TASK_MIN", "4"), sweep.Shard{Index: 1, Count: 3}, ""},
		{"auto", 0, env("SLURM_ARRAY_TASK_ID", "1"), sweep.Shard{}, `SLURM_ARRAY_TASK_COUNT "" is not an integer`},
		{"auto", 0, env(), sweep.Shard{}, "neither JOB_COMPLETION_INDEX"},
	}
	for _, tt := range tests {
		got, err := parseShard(tt.spec, tt.shards, tt.env)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: error %v, want %q", tt.spec, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: %+v, %v; want %+v", tt.spec, got, err, tt.want)
		}
	}
}

// sharedSweep are the flags of a small six-run sweep that several processes share.
func sharedSweep(t *testing.T, logdir, name string) []string {
	return []string{"--data-dir", realData(t), "--logdir", logdir, "--name", name, "--limit", "1000", "--epochs", "1",
		"--batchnorm", "off,on", "--batch-size", "64,128,256", "--log-every", "0", "--json"}
}

// reportRuns is report.json's runs, the part that must not depend on how many processes trained
// the sweep.
func reportRuns(t *testing.T, dir string) string {
	t.Helper()
	code, _, stderr := reportCmd(t, dir)
	if code != spec.ExitOK {
		t.Fatalf("tfsweep report %s: exit %d\n%s", dir, code, stderr)
	}
	var doc struct{ Runs json.RawMessage }
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dir, "report.json"))), &doc); err != nil {
		t.Fatal(err)
	}
	return string(doc.Runs)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// claimPIDs maps each run to the pid of the process whose claim trained it.
func claimPIDs(t *testing.T, dir string) map[string]int {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, spec.ClaimsDir, "*.json"))
	out := map[string]int{}
	for _, f := range files {
		var c sweep.Claim
		if err := json.Unmarshal([]byte(readFile(t, f)), &c); err != nil {
			t.Fatal(err)
		}
		if c.State != spec.StatusSucceeded {
			t.Errorf("%s: state %s", f, c.State)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".json")] = c.PID
	}
	return out
}

// Three processes as the pods of a Kubernetes Indexed Job (JOB_COMPLETION_INDEX 0..2, --shard auto)
// share one --name: each trains its shard, and the sweep's report is the one a single process gives.
func TestShardsOfAnIndexedJob(t *testing.T) {
	t.Parallel()
	logdir := t.TempDir()
	var fronts []*front
	for i := range 3 {
		f := &front{done: make(chan struct{})}
		f.cmd = exec.Command(filepath.Join(binDir, "tfsweep"), append([]string{"run", "--shard", "auto", "--shards", "3"}, sharedSweep(t, logdir, "lab")...)...)
		f.cmd.Env = append(os.Environ(), "JOB_COMPLETION_INDEX="+string(rune('0'+i)))
		f.cmd.Stdout, f.cmd.Stderr = &f.stdout, &f.stderr
		if err := f.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { f.cmd.Wait(); close(f.done) }()
		fronts = append(fronts, f)
	}
	pids := map[int]bool{}
	for i, f := range fronts {
		if code := f.wait(t, 3*time.Minute); code != spec.ExitOK {
			t.Fatalf("shard %d: exit %d\n%s", i, code, f.stderr.String())
		}
		res := decodeResult(t, f.stdout.String())
		if len(res.Runs) != 2 {
			t.Errorf("shard %d trained %d runs, want 2", i, len(res.Runs))
		}
		pids[f.cmd.Process.Pid] = true
	}
	dir := filepath.Join(logdir, "lab")
	claims := claimPIDs(t, dir)
	if len(claims) != 6 {
		t.Fatalf("claims %v, want 6 runs", claims)
	}
	for run, pid := range claims {
		if !pids[pid] {
			t.Errorf("%s was trained by pid %d, none of the shards", run, pid)
		}
	}
	code, stdout, _ := statusCmd(t, dir)
	if code != spec.ExitOK || !strings.Contains(stdout, "6 runs: 6 succeeded") {
		t.Errorf("status: exit %d\n%s", code, stdout)
	}
	// One process, the same plan: the same report.
	soloDir := t.TempDir()
	code, _, stderr := runCmd(t, sharedSweep(t, soloDir, "lab")...)
	if code != spec.ExitOK {
		t.Fatalf("one process: exit %d\n%s", code, stderr)
	}
	if got, want := reportRuns(t, dir), reportRuns(t, filepath.Join(soloDir, "lab")); got != want {
		t.Errorf("the sharded sweep's report differs from one process's:\n%s\n%s", got, want)
	}
}

func statusCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr strings.Builder
	code := runStatus(t.Context(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// Two processes on one --name without shards: the claims give every run to one of them, and no
// event file is written by both.
func TestTwoProcessesShareOneName(t *testing.T) {
	t.Parallel()
	logdir := t.TempDir()
	a, b := startFront(t, sharedSweep(t, logdir, "pair")...), startFront(t, sharedSweep(t, logdir, "pair")...)
	trained := 0
	for _, f := range []*front{a, b} {
		if code := f.wait(t, 3*time.Minute); code != spec.ExitOK {
			t.Fatalf("exit %d\n%s", code, f.stderr.String())
		}
		for _, r := range decodeResult(t, f.stdout.String()).Runs {
			if r.Status == spec.StatusSucceeded {
				trained++
			} else if r.Status != spec.StatusSkipped {
				t.Errorf("%s: %s %s", r.Name, r.Status, r.Error)
			}
		}
	}
	dir := filepath.Join(logdir, "pair")
	if claims := claimPIDs(t, dir); trained != 6 || len(claims) != 6 {
		t.Errorf("%d runs trained, %d claims; want 6 and 6", trained, len(claims))
	}
	for _, sub := range []string{"xavier-nobn-b64", "xavier-bn-b256/train", "xavier-bn-b128/validation"} {
		if files, _ := summary.EventFiles(filepath.Join(dir, sub)); len(files) != 1 {
			t.Errorf("%s has %d event files, want 1", sub, len(files))
		}
	}
}

// A process with another plan cannot join a named sweep: it exits 2 naming the difference.
func TestJoinWithAnotherPlan(t *testing.T) {
	t.Parallel()
	logdir := t.TempDir()
	if code, _, stderr := runCmd(t, sharedSweep(t, logdir, "lab")...); code != spec.ExitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	args := append(sharedSweep(t, logdir, "lab"), "--lr", "0.01")
	for _, dry := range []bool{false, true} {
		if dry {
			args = append(args, "--dry-run")
		}
		code, _, stderr := runCmd(t, args...)
		if code != spec.ExitBadInput || !strings.Contains(stderr, "sweep.yaml records another plan: run xavier-nobn-b64 has lr 0.001 there, 0.01 here") {
			t.Errorf("dry run %v: exit %d\n%s", dry, code, stderr)
		}
	}
}

// An interrupted run of a named sweep is left alone until --resume takes it over; its earlier
// attempt is moved aside, so TensorBoard sees each epoch once.
func TestResumeTakesOverAnInterruptedRun(t *testing.T) {
	t.Parallel()
	logdir := t.TempDir()
	args := []string{"--data-dir", realData(t), "--logdir", logdir, "--name", "r", "--limit", "5000", "--epochs", "30",
		"--batch-size", "32", "--seed", "1,2", "--parallel", "1", "--log-every", "0", "--json"}
	f := startFront(t, args...)
	waitFor(t, time.Minute, "the first run to start", func() bool {
		files, _ := filepath.Glob(filepath.Join(logdir, "r", "xavier-nobn-b32-s1", "train", "*tfevents*"))
		return len(files) > 0
	})
	f.cmd.Process.Signal(os.Interrupt)
	if code := f.wait(t, time.Minute); code != spec.ExitInterrupted {
		t.Fatalf("exit %d\n%s", code, f.stderr.String())
	}
	dir := filepath.Join(logdir, "r")
	code, stdout, _ := statusCmd(t, dir)
	if code != spec.ExitRunFailed || !strings.Contains(stdout, "1 interrupted") || !strings.Contains(stdout, "1 queued") {
		t.Fatalf("status after the interrupt: exit %d\n%s", code, stdout)
	}
	res := func(extra ...string) sweep.Result {
		code, stdout, stderr := runCmd(t, append(slices.Clone(args), extra...)...)
		if code != spec.ExitOK {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		return decodeResult(t, stdout)
	}
	without := res()
	if r := without.Runs[0]; r.Status != spec.StatusSkipped || !strings.Contains(r.Error, "--resume takes it over") {
		t.Errorf("without --resume: %s %q", r.Status, r.Error)
	}
	if r := without.Runs[1]; r.Status != spec.StatusSucceeded {
		t.Errorf("the queued run: %s %q", r.Status, r.Error)
	}
	with := res("--resume")
	if r := with.Runs[0]; r.Status != spec.StatusSucceeded || with.Runs[1].Status != spec.StatusSkipped {
		t.Errorf("with --resume: %+v", with.Runs)
	}
	if code, stdout, _ := statusCmd(t, dir); code != spec.ExitOK {
		t.Errorf("status: exit %d\n%s", code, stdout)
	}
	// The interrupted attempt's logs are kept out of TensorBoard's sight: moved aside whole when it
	// had no checkpoint yet, or cut back to its checkpoint in place; the run's own logs have each
	// epoch once.
	aside, _ := filepath.Glob(filepath.Join(dir, spec.ClaimsDir, "attempts", "xavier-nobn-b32-s1.1", "train", "*retired*"))
	inPlace, _ := filepath.Glob(filepath.Join(dir, "xavier-nobn-b32-s1", "train", "*retired*"))
	if len(aside)+len(inPlace) == 0 {
		t.Error("the interrupted attempt's event files were neither moved aside nor retired in place")
	}
	files, _ := summary.EventFiles(filepath.Join(dir, "xavier-nobn-b32-s1", "train"))
	var steps []int64
	for _, file := range files {
		events, err := summary.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			for _, v := range e.Values {
				if v.Tag == "epoch_loss" {
					steps = append(steps, e.Step)
				}
			}
		}
	}
	if len(steps) != 30 || steps[0] != 0 || steps[29] != 29 {
		t.Errorf("epoch_loss steps %v, want 0..29 once each", steps)
	}
}
