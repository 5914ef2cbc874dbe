package sweep

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tfsweep/tfsweep/spec"
)

// fourAdamFourSGD are the flags of eight runs in plan order lr0.001-adam, lr0.001-sgd, lr0.002-adam,
// …: the adam runs share a fuse key, the sgd runs cannot fuse.
var fourAdamFourSGD = []string{"--lr", "0.001,0.002,0.004,0.008", "--optimizer", "adam,sgd", "--batch-size", "4", "--epochs", "2"}

// trimRunNames drops what every run name of these tests shares and shortens the optimizer.
func trimRunNames(s string) string {
	return strings.NewReplacer("xavier-nobn-b4-", "", "-adam", "a", "-sgd", "s").Replace(s)
}

// The slots send a group of runs that share a fuse key as one fused command, in queue order up to
// the group size, and every other run as a job; each run ends with its own result naming its group.
func TestFusedGroupsAreSent(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   Options
		sent   []string
		groups []string // as the result's Fuse.Groups, sorted
	}{
		{"--fuse on, one worker", Options{Fuse: FuseOn, Parallel: 1},
			[]string{"lr0.001a+lr0.002a+lr0.004a+lr0.008a", "lr0.001s", "lr0.002s", "lr0.004s", "lr0.008s"},
			[]string{"lr0.001a lr0.002a lr0.004a lr0.008a"}},
		{"--fuse-group 3: the fourth adam run trains alone", Options{Fuse: FuseOn, FuseGroup: 3, Parallel: 1},
			[]string{"lr0.001a+lr0.002a+lr0.004a", "lr0.001s", "lr0.002s", "lr0.004s", "lr0.008a", "lr0.008s"},
			[]string{"lr0.001a lr0.002a lr0.004a"}},
		{"--fuse off: jobs only", Options{Fuse: FuseOff, Parallel: 1},
			[]string{"lr0.001a", "lr0.001s", "lr0.002a", "lr0.002s", "lr0.004a", "lr0.004s", "lr0.008a", "lr0.008s"}, nil},
		{"--fuse auto on a CPU: jobs only", Options{Parallel: 1},
			[]string{"lr0.001a", "lr0.001s", "lr0.002a", "lr0.002s", "lr0.004a", "lr0.004s", "lr0.008a", "lr0.008s"}, nil},
		{"--fuse on, two workers: groups of 2", Options{Fuse: FuseOn, Parallel: 2}, nil,
			[]string{"lr0.001a lr0.002a", "lr0.004a lr0.008a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newFakeEnv(t)
			s := e.sweep(t, tc.opts, Plan{}, "", fourAdamFourSGD...)
			planned := s.Planned().Fuse.Groups
			res := s.Run(t.Context(), nil)
			sent := e.sent(t)
			for i := range sent {
				sent[i] = trimRunNames(sent[i])
			}
			if tc.sent != nil && !slices.Equal(sent, tc.sent) {
				t.Errorf("sent %q, want %q", sent, tc.sent)
			}
			var groups []string
			for _, g := range res.Fuse.Groups {
				groups = append(groups, trimRunNames(strings.Join(g, " ")))
			}
			slices.Sort(groups)
			if !slices.Equal(groups, tc.groups) {
				t.Errorf("result's groups %q, want %q", groups, tc.groups)
			}
			// The slots take the groups a dry run plans, whichever slot takes which.
			var plannedGroups []string
			for _, g := range planned {
				plannedGroups = append(plannedGroups, trimRunNames(strings.Join(g, " ")))
			}
			slices.Sort(plannedGroups)
			if !slices.Equal(plannedGroups, tc.groups) {
				t.Errorf("planned groups %q, want %q", plannedGroups, tc.groups)
			}
			checkTrained(t, res, tc.groups)
		})
	}
}

// checkTrained checks that every run succeeded in a directory of its own, both epochs in its history,
// and names the group it trained in, if any.
func checkTrained(t *testing.T, res *Result, groups []string) {
	t.Helper()
	if res.Status != spec.StatusSucceeded {
		t.Errorf("sweep %s", res.Status)
	}
	for _, r := range res.Runs {
		name := trimRunNames(r.Name)
		want := ""
		for _, g := range groups {
			if slices.Contains(strings.Fields(g), name) {
				want = g
			}
		}
		if got := trimRunNames(strings.Join(r.FusedGroup, " ")); got != want {
			t.Errorf("run %s: fused group %q, want %q", name, got, want)
		}
		if r.Status != spec.StatusSucceeded || r.EpochsCompleted != 2 || r.History.Len() != 2 {
			t.Errorf("run %s: %s, %d epochs, history of %d (%s)", name, r.Status, r.EpochsCompleted, r.History.Len(), r.Error)
		}
		if info, err := os.Stat(r.Dir); err != nil || !info.IsDir() || filepath.Base(r.Dir) != r.Name {
			t.Errorf("run %s: directory %q: %v", name, r.Dir, err)
		}
	}
}

// A worker that dies fails every run of its group still training; the slot's next group trains on
// a new worker.
func TestADyingWorkerFailsItsGroup(t *testing.T) {
	e := newFakeEnv(t)
	s := e.sweep(t, Options{Fuse: FuseOn, FuseGroup: 2, Parallel: 1}, Plan{}, "xavier-nobn-b4-lr0.002",
		"--lr", "0.001,0.002,0.004,0.008", "--batch-size", "4", "--epochs", "2")
	res := s.Run(t.Context(), nil)
	if got, want := e.sent(t), []string{"xavier-nobn-b4-lr0.001+xavier-nobn-b4-lr0.002", "xavier-nobn-b4-lr0.004+xavier-nobn-b4-lr0.008"}; !slices.Equal(got, want) {
		t.Errorf("sent %q, want %q", got, want)
	}
	for i, r := range res.Runs {
		died := i < 2
		switch {
		case died && (r.Status != spec.StatusFailed || !strings.Contains(r.Error, "the worker died during the run")):
			t.Errorf("run %s of the dead worker's group: %s, %q", r.Name, r.Status, r.Error)
		case !died && r.Status != spec.StatusSucceeded:
			t.Errorf("run %s of the next group: %s, %q", r.Name, r.Status, r.Error)
		}
		if r.Interrupted {
			t.Errorf("run %s: interrupted, but nothing interrupted the sweep", r.Name)
		}
	}
	states, err := Status(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range states {
		if want := map[bool]spec.Status{true: spec.StatusFailed, false: spec.StatusSucceeded}[i < 2]; st.State != want {
			t.Errorf("claim of %s: %s, want %s", st.Name, st.State, want)
		}
	}
}

// cancelOnEpoch cancels the sweep when a run reports its first epoch.
type cancelOnEpoch struct {
	noObserver
	cancel func()
}

func (c cancelOnEpoch) EpochEnded(Run, spec.EpochMetrics) { c.cancel() }

// A sweep interrupted while a group trains fails every member still training as interrupted, and
// records it so in their claims, for --resume.
func TestAnInterruptedGroup(t *testing.T) {
	e := newFakeEnv(t)
	s := e.sweepEnv(t, Options{Fuse: FuseOn, Parallel: 1, WorkerGrace: time.Second}, Plan{}, []string{fakeHangEnv + "=xavier-nobn-b4-lr0.002"},
		"--lr", "0.001,0.002", "--batch-size", "4", "--epochs", "2")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	res := s.Run(ctx, cancelOnEpoch{cancel: cancel})
	if res.Status != spec.StatusInterrupted {
		t.Errorf("sweep %s, want interrupted", res.Status)
	}
	for _, r := range res.Runs {
		if r.Status != spec.StatusFailed || !r.Interrupted || len(r.FusedGroup) != 2 {
			t.Errorf("run %s: %s, interrupted %v, group %q (%s); want failed and interrupted in the group of 2", r.Name, r.Status, r.Interrupted, r.FusedGroup, r.Error)
		}
	}
	states, err := Status(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range states {
		if st.State != spec.StatusInterrupted {
			t.Errorf("claim of %s: %s, want interrupted", st.Name, st.State)
		}
	}
}

// Each member is claimed as a lone run is: a sweep trained again skips the members that succeeded,
// retries a failed one anew and resumes a stale one from its checkpoint, in one group.
func TestMembersAreClaimedOneByOne(t *testing.T) {
	e := newFakeEnv(t)
	flags := []string{"--lr", "0.001,0.002,0.004,0.008", "--batch-size", "4", "--epochs", "2"}
	opts := Options{Fuse: FuseOn, FuseGroup: 2, Parallel: 1, Name: "shared"}
	first := e.sweep(t, opts, Plan{}, "xavier-nobn-b4-lr0.004", flags...).Run(t.Context(), nil)
	if first.Runs[0].Status != spec.StatusSucceeded || first.Runs[2].Status != spec.StatusFailed || first.Runs[3].Status != spec.StatusFailed {
		t.Fatalf("first attempt: %s, %s, %s, %s", first.Runs[0].Status, first.Runs[1].Status, first.Runs[2].Status, first.Runs[3].Status)
	}
	// The last run's process was killed, as far as its claim tells: it is stale, to resume.
	markStale(t, filepath.Join(e.logdir, "shared"), "xavier-nobn-b4-lr0.008")
	if err := os.Truncate(e.log, 0); err != nil {
		t.Fatal(err)
	}
	opts.Resume, opts.RetryFailed = true, true
	again := e.sweep(t, opts, Plan{}, "", flags...).Run(t.Context(), nil)
	if got, want := e.sent(t), []string{"xavier-nobn-b4-lr0.004+xavier-nobn-b4-lr0.008(resume)"}; !slices.Equal(got, want) {
		t.Errorf("sent %q, want %q", got, want)
	}
	for i, want := range []spec.Status{spec.StatusSkipped, spec.StatusSkipped, spec.StatusSucceeded, spec.StatusSucceeded} {
		if r := again.Runs[i]; r.Status != want {
			t.Errorf("run %s: %s (%s), want %s", r.Name, r.Status, r.Error, want)
		}
	}
	if r := again.Runs[0]; r.Error != "already succeeded" || len(r.FusedGroup) != 0 {
		t.Errorf("run %s: %q, group %q; want skipped as already succeeded, in no group", r.Name, r.Error, r.FusedGroup)
	}
}

// markStale rewrites a run's claim as running in a process of this host that is gone.
func markStale(t *testing.T, dir, run string) {
	t.Helper()
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	data, err := json.Marshal(Claim{Host: host, PID: gone.Process.Pid, Started: time.Now(), State: spec.StatusRunning})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(claimPath(dir, run), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A scheduler answers each member's epochs with a verdict of its own (the fake worker refuses a
// verdict that names no live member or another epoch): the median rule prunes the worst member of a
// group at its second epoch, and the others train on.
func TestVerdictsPerMember(t *testing.T) {
	e := newFakeEnv(t)
	s := e.sweep(t, Options{Fuse: FuseOn, Parallel: 1}, Plan{Scheduler: SchedulerOptions{Kind: SchedulerMedian}}, "",
		"--lr", "0.001,0.002,0.004,0.008", "--batch-size", "4", "--epochs", "3")
	res := s.Run(t.Context(), nil)
	if got, want := e.sent(t), []string{"xavier-nobn-b4-lr0.001+xavier-nobn-b4-lr0.002+xavier-nobn-b4-lr0.004+xavier-nobn-b4-lr0.008"}; !slices.Equal(got, want) {
		t.Errorf("sent %q, want %q", got, want)
	}
	for i, r := range res.Runs {
		want, epochs := spec.StatusSucceeded, 3
		if i == 3 {
			want, epochs = spec.StatusPruned, 2
		}
		if r.Status != want || r.EpochsCompleted != epochs {
			t.Errorf("run %s: %s after %d epochs (%s %s), want %s after %d", r.Name, r.Status, r.EpochsCompleted, r.Error, r.Reason, want, epochs)
		}
	}
	if r := res.Runs[3]; !strings.Contains(r.Reason, "by median") {
		t.Errorf("run %s: reason %q, want the median rule's", r.Name, r.Reason)
	}
}

// ASHA's promotions resume in fused groups too: the group pauses at the first rung, the top half
// of it is promoted and resumed together from its checkpoints, and so on up the rungs.
func TestPromotionsTrainFused(t *testing.T) {
	e := newFakeEnv(t)
	sched := SchedulerOptions{Kind: SchedulerASHA, MinEpochs: 1, Eta: 2}
	s := e.sweep(t, Options{Fuse: FuseOn, Parallel: 1}, Plan{Scheduler: sched}, "",
		"--lr", "0.001,0.002,0.004,0.008", "--batch-size", "4", "--epochs", "4")
	res := s.Run(t.Context(), nil)
	sent := e.sent(t)
	for i := range sent {
		sent[i] = trimRunNames(sent[i])
	}
	if want := []string{"lr0.001+lr0.002+lr0.004+lr0.008", "lr0.001(resume)+lr0.002(resume)", "lr0.001(resume)"}; !slices.Equal(sent, want) {
		t.Errorf("sent %q, want %q", sent, want)
	}
	var groups []string
	for _, g := range res.Fuse.Groups {
		groups = append(groups, trimRunNames(strings.Join(g, " ")))
	}
	if want := []string{"lr0.001 lr0.002 lr0.004 lr0.008", "lr0.001 lr0.002"}; !slices.Equal(groups, want) {
		t.Errorf("result's groups %q, want %q", groups, want)
	}
	for i, want := range []struct {
		status spec.Status
		epochs int
		group  string // its last attempt's
	}{
		{spec.StatusSucceeded, 4, ""},
		{spec.StatusPaused, 2, "lr0.001 lr0.002"},
		{spec.StatusPaused, 1, "lr0.001 lr0.002 lr0.004 lr0.008"},
		{spec.StatusPaused, 1, "lr0.001 lr0.002 lr0.004 lr0.008"},
	} {
		r := res.Runs[i]
		if group := trimRunNames(strings.Join(r.FusedGroup, " ")); r.Status != want.status || r.EpochsCompleted != want.epochs || group != want.group {
			t.Errorf("run %s: %s after %d epochs in group %q (%s); want %s after %d in %q",
				r.Name, r.Status, r.EpochsCompleted, group, r.Error, want.status, want.epochs, want.group)
		}
	}
}
