package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/tfsweep/tfsweep/internal/tbcheck"
	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/sweep"
)

// searchFlags is a small random search of 12 trials over 9 epochs of 1,500 images.
func searchFlags(t *testing.T, logdir string, extra ...string) []string {
	return append([]string{"--data-dir", realData(t), "--logdir", logdir, "--limit", "1500", "--epochs", "9",
		"--init", "xavier", "--batchnorm", "off", "--batch-size", "128", "--lr", "log_uniform:1e-4:1e-1",
		"--trials", "12", "--search-seed", "3", "--log-every", "0", "--json"}, extra...)
}

// ASHA pauses most trials at the rungs (epochs 1 and 3 for η 3 and 9 epochs) and trains the best to
// the end; a promoted trial resumes from its checkpoint, so every epoch it trained is bitwise the
// epoch an unscheduled sweep of the same trials trains one at a time (as --parallel auto trains a
// scheduled one: the same threads, the same bits).
func TestASHASweep(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := runCmd(t, searchFlags(t, t.TempDir(), "--parallel", "1")...)
	if code != spec.ExitOK {
		t.Fatalf("unscheduled: exit %d\n%s", code, stderr)
	}
	whole := decodeResult(t, stdout)
	code, stdout, stderr = runCmd(t, searchFlags(t, t.TempDir(), "--scheduler", "asha")...)
	if code != spec.ExitOK {
		t.Fatalf("asha: exit %d\n%s", code, stderr)
	}
	got := decodeResult(t, stdout)
	paused := regexp.MustCompile(`^paused at epoch (1|3) by asha: rank \d+ of \d+$`)
	var epochsSpent, full int
	for i, r := range got.Runs {
		epochsSpent += r.EpochsCompleted
		switch {
		case r.Status == spec.StatusSucceeded && r.EpochsCompleted == 9:
			full++
		case r.Status == spec.StatusPaused && (r.EpochsCompleted == 1 || r.EpochsCompleted == 3) && paused.MatchString(r.Reason):
		default:
			t.Errorf("%s: %s after %d epochs (%q)", r.Name, r.Status, r.EpochsCompleted, r.Reason)
		}
		w := whole.Runs[i].History.ValLoss
		if g := r.History.ValLoss; len(g) != r.EpochsCompleted || !equalFloats(g, w[:len(g)]) {
			t.Errorf("%s: validation losses %v, unscheduled %v", r.Name, g, w[:min(len(w), len(g))])
		}
	}
	if full == 0 || full == len(got.Runs) || epochsSpent >= 12*9 { // ASHA trains at least the top of rung 3 to the end
		t.Errorf("%d of %d trials trained to the end, %d epochs in all", full, len(got.Runs), epochsSpent)
	}
}

// decisions reads a sweep's scheduler log: each run's reported epochs and the decision on each, and
// the promotions in order.
func decisions(t *testing.T, dir string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "scheduler.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l struct {
			Run      string
			Epoch    int
			Action   string
			Promoted []struct{ Trial string }
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		line := l.Run + " " + l.Action + " " + string(rune('0'+l.Epoch))
		for _, p := range l.Promoted {
			line = "promote " + p.Trial
		}
		if !seen[line] { // an epoch trained again after the kill is answered as before
			out = append(out, line)
			seen[line] = true
		}
	}
	slices.Sort(out)
	return out
}

// proposals reads the values TPE proposed for each trial from a sweep's search log.
func proposals(t *testing.T, dir string) map[string][]float64 {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "search.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]float64{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var l struct {
			Run    string
			Params []float64
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		if l.Params != nil {
			if old, ok := out[l.Run]; ok && !slices.Equal(old, l.Params) {
				t.Errorf("%s proposed twice: %v, then %v", l.Run, old, l.Params)
			}
			out[l.Run] = l.Params
		}
	}
	return out
}

// A TPE search under ASHA killed with SIGKILL (front and worker) after its first decisions, then
// resumed, proposes the same trials, makes the same decisions and ends every trial as the
// uninterrupted search does: with one worker the search is reproducible.
func TestSchedulerKillAndResume(t *testing.T) {
	t.Parallel()
	flags := func(logdir string) []string {
		return searchFlags(t, logdir, "--scheduler", "asha", "--search", "tpe", "--trials", "12")
	}
	wholeDir := t.TempDir()
	code, stdout, stderr := runCmd(t, flags(wholeDir)...)
	if code != spec.ExitOK {
		t.Fatalf("uninterrupted: exit %d\n%s", code, stderr)
	}
	want := decodeResult(t, stdout)

	logdir := t.TempDir()
	f := startFront(t, flags(logdir)...)
	waitFor(t, 2*time.Minute, "six decisions", func() bool {
		m, _ := filepath.Glob(filepath.Join(logdir, "sweep-*", "scheduler.jsonl"))
		if len(m) == 0 {
			return false
		}
		data, _ := os.ReadFile(m[0])
		n := 0
		for _, b := range data {
			if b == '\n' {
				n++
			}
		}
		return n >= 6
	})
	dir := killFront(t, f, logdir)
	waitFor(t, 10*time.Second, "no running claim", func() bool {
		states, err := sweep.Status(dir)
		if err != nil {
			return false
		}
		for _, s := range states {
			if s.State == spec.StatusRunning {
				return false
			}
		}
		return true
	})
	code, stdout, stderr = runCmd(t, "--resume", dir, "--data-dir", realData(t), "--log-every", "0", "--json")
	if code != spec.ExitOK {
		t.Fatalf("resume: exit %d\n%s", code, stderr)
	}
	got := decodeResult(t, stdout)
	for i, w := range want.Runs {
		g := got.Runs[i]
		if g.Status == spec.StatusSkipped { // ended before the kill: its claim says how
			continue
		}
		if g.Status != w.Status || g.EpochsCompleted != w.EpochsCompleted || !equalFloats(g.History.ValLoss, w.History.ValLoss) {
			t.Errorf("%s resumed: %s after %d epochs; uninterrupted: %s after %d", g.Name, g.Status, g.EpochsCompleted, w.Status, w.EpochsCompleted)
		}
	}
	if g, w := proposals(t, dir), proposals(t, filepath.Dir(want.Runs[0].Dir)); !maps.EqualFunc(g, w, slices.Equal) || len(w) != 12 {
		t.Errorf("TPE's proposals after the kill and resume:\n%v\nuninterrupted:\n%v", g, w)
	}
	if g, w := decisions(t, dir), decisions(t, filepath.Dir(want.Runs[0].Dir)); !slices.Equal(g, w) {
		t.Errorf("decisions after the kill and resume:\n%v\nuninterrupted:\n%v", g, w)
	}
	states, err := sweep.Status(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range states {
		if s.State != want.Runs[i].Status {
			t.Errorf("%s: claim says %s, uninterrupted %s", s.Name, s.State, want.Runs[i].Status)
		}
	}
}

// Two shards of one ASHA sweep, trained at once by two fronts on one --name, decide on one shared log:
// every (trial, rung) is promoted once, whichever shard promotes it trains it (a run may change shard
// between its segments), every epoch of every run is trained once, and the claims end each run
// succeeded or paused. A third process resuming the sweep replays the log and finds nothing to do.
func TestSchedulerShards(t *testing.T) {
	t.Parallel()
	logdir := t.TempDir()
	flags := func(shard string) []string {
		return searchFlags(t, logdir, "--scheduler", "asha", "--name", "s", "--shard", shard)
	}
	a, b := startFront(t, flags("0/2")...), startFront(t, flags("1/2")...)
	for _, f := range []*front{a, b} {
		if code := f.wait(t, 5*time.Minute); code != spec.ExitOK {
			t.Fatalf("a shard: exit %d\n%s", code, f.stderr.String())
		}
	}
	dir := filepath.Join(logdir, "s")
	data, err := os.ReadFile(filepath.Join(dir, "scheduler.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	promoted := map[string]bool{}
	epochs := map[string][]int{}
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		var l struct {
			Run      string
			Epoch    int
			Promoted []struct {
				Trial string
				Rung  int
			}
		}
		if err := json.Unmarshal(line, &l); err != nil {
			t.Fatal(err)
		}
		for _, p := range l.Promoted {
			key := fmt.Sprintf("%s to rung %d", p.Trial, p.Rung)
			if promoted[key] {
				t.Errorf("%s promoted twice", key)
			}
			promoted[key] = true
		}
		if l.Run != "" {
			epochs[l.Run] = append(epochs[l.Run], l.Epoch)
		}
	}
	if len(promoted) == 0 {
		t.Error("no promotion at all")
	}
	for run, got := range epochs {
		for i, e := range got {
			if e != i+1 {
				t.Errorf("%s reported epochs %v: each once, in order", run, got)
				break
			}
		}
	}
	states, err := sweep.Status(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range states {
		if s.State != spec.StatusSucceeded && s.State != spec.StatusPaused {
			t.Errorf("%s: %s", s.Name, s.State)
		}
		if len(epochs[s.Name]) == 0 {
			t.Errorf("%s: never trained", s.Name)
		}
	}
	code, stdout, stderr := runCmd(t, "--resume", dir, "--data-dir", realData(t), "--log-every", "0", "--json")
	if code != spec.ExitOK {
		t.Fatalf("resume: exit %d\n%s", code, stderr)
	}
	for _, r := range decodeResult(t, stdout).Runs {
		if r.Status != spec.StatusSkipped {
			t.Errorf("resume trained %s again: %s", r.Name, r.Status)
		}
	}
}

// An ASHA search on validation accuracy ends every trial's logs with the metrics of its epoch of the
// highest validation accuracy (the earliest of equals), not of the lowest loss: TensorBoard's HParams
// dashboard serves each session's best_epoch_loss and best_epoch_accuracy from that epoch, at its step.
func TestSchedulerMetricChoosesTheBestEpoch(t *testing.T) {
	tbCheck(t)
	logdir := t.TempDir()
	code, stdout, stderr := runCmd(t, searchFlags(t, logdir, "--scheduler", "asha", "--scheduler-metric", "validation/epoch_accuracy")...)
	if code != spec.ExitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	res := decodeResult(t, stdout)
	groups := map[string]any{}
	differ := 0
	for _, r := range res.Runs {
		h := r.History
		best := 0
		for e, acc := range h.ValAccuracy {
			if acc > h.ValAccuracy[best] {
				best = e
			}
		}
		if byLoss, _ := h.BestEpoch(); byLoss != best {
			differ++
		}
		groups[filepath.Base(res.SweepDir)+"/"+r.Name] = map[string]any{"metrics": []map[string]any{
			{"group": spec.ValidationDir, "tag": spec.TagBestEpochAccuracy, "value": h.ValAccuracy[best], "step": best},
			{"group": spec.ValidationDir, "tag": spec.TagBestEpochLoss, "value": h.ValLoss[best], "step": best},
			{"group": spec.TrainDir, "tag": spec.TagBestEpochAccuracy, "value": h.TrainAccuracy[best], "step": best},
			{"group": spec.TrainDir, "tag": spec.TagBestEpochLoss, "value": h.TrainLoss[best], "step": best},
		}}
	}
	if differ == 0 {
		t.Fatal("in no trial does the best epoch by validation accuracy differ from the one by loss: the check below would prove nothing")
	}
	tbcheck.Run(t, res.SweepDir, map[string]any{
		"runs_subset": true, "plugins_enabled": []string{"scalars", "hparams"}, "rtol": 1e-6, "atol": 1e-7,
		"hparams": map[string]any{"session_groups": groups},
	})
}
