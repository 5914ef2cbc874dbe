package sweep

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tfsweep/tfsweep/dataset"
	"github.com/tfsweep/tfsweep/spec"
)

// children lists this process's child processes, running or exited and not yet waited for.
func children(t *testing.T) []int {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, path := range stats {
		text, err := os.ReadFile(path)
		if err != nil {
			continue // it exited since the glob
		}
		// pid (comm) state ppid …; comm may hold spaces and parentheses.
		fields := strings.Fields(string(text[bytes.LastIndexByte(text, ')')+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(os.Getpid()) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(path)))
			out = append(out, pid)
		}
	}
	return out
}

// starts reads the fake workers' starts: each one's pid and CUDA_VISIBLE_DEVICES.
func (e fakeEnv) starts(t *testing.T) [][2]string {
	t.Helper()
	text, err := os.ReadFile(e.log + fakeStarts)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out [][2]string
	for line := range strings.Lines(string(text)) {
		pid, cuda, _ := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
		out = append(out, [2]string{pid, cuda})
	}
	return out
}

// lrGrid is a plan of three runs of one epoch on the tiny data.
func lrGrid(t *testing.T) Plan {
	t.Helper()
	grid, err := flagGrid(t, "--lr", "0.001,0.002,0.003", "--batch-size", "4", "--epochs", "1")
	if err != nil {
		t.Fatal(err)
	}
	return Plan{Grids: []Grid{grid}}
}

// New starts the first slot's worker, with that slot's environment, and Run trains on it: one
// slot with three runs starts no other worker, and leaves none behind.
func TestNewStartsTheFirstSlotsWorker(t *testing.T) {
	e := newFakeEnv(t)
	opts := e.options(t, Options{Parallel: 1, GPUs: []string{"3", "5"}}, nil)
	opts.Device = "auto"
	s, err := New(lrGrid(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	kids := children(t)
	if len(kids) != 1 {
		t.Fatalf("after New, %d child processes %v, want the first slot's worker", len(kids), kids)
	}
	environ, err := os.ReadFile("/proc/" + strconv.Itoa(kids[0]) + "/environ")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(environ), "\x00"), "\x00")
	want := WorkerCommand(t.Context(), opts.Worker, s.workerEnv(0), opts.WorkerGrace).Env
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) || !slices.Contains(got, "CUDA_VISIBLE_DEVICES=3") {
		t.Errorf("the started worker's environment differs from the first slot's (CUDA_VISIBLE_DEVICES=3):\n got %q\nwant %q", got, want)
	}
	res := s.Run(t.Context(), nil)
	for _, r := range res.Runs {
		if r.Status != spec.StatusSucceeded {
			t.Errorf("run %s: %s (%s)", r.Name, r.Status, r.Error)
		}
	}
	if starts := e.starts(t); len(starts) != 1 || starts[0] != [2]string{strconv.Itoa(kids[0]), "3"} {
		t.Errorf("workers started %v, want only New's, pid %d on GPU 3", starts, kids[0])
	}
	if left := children(t); len(left) > 0 {
		t.Errorf("after Run, child processes %v are left", left)
	}
}

// A New that fails after it started the first slot's worker kills and waits for it; a dry run
// and a sweep given its data's shape start none; Close ends the worker of a sweep not Run.
func TestNewLeavesNoWorkerBehind(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setUp func(t *testing.T, e fakeEnv, opts *Options)
		flags []string // of the runs, besides --epochs 1
		fails bool
		kept  int // the workers New leaves running, for Run or Close
	}{
		{"truncated data", func(t *testing.T, e fakeEnv, _ *Options) {
			if err := os.Truncate(filepath.Join(e.data, dataset.TrainImagesFile), 100); err != nil {
				t.Fatal(err)
			}
		}, []string{"--batch-size", "4"}, true, 0},
		{"a batch larger than the data", func(*testing.T, fakeEnv, *Options) {}, []string{"--batch-size", "64"}, true, 0},
		{"the log directory a file", func(t *testing.T, e fakeEnv, _ *Options) {
			if err := os.WriteFile(e.logdir, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{"--batch-size", "4"}, true, 0},
		{"a dry run", func(_ *testing.T, _ fakeEnv, opts *Options) { opts.DryRun = true }, []string{"--batch-size", "4"}, false, 0},
		{"the data's shape given", func(_ *testing.T, _ fakeEnv, opts *Options) {
			opts.Data = &DataShape{TrainExamples: 20, Features: 784, Classes: 10}
		}, []string{"--batch-size", "4"}, false, 0},
		{"closed without a run", func(*testing.T, fakeEnv, *Options) {}, []string{"--batch-size", "4"}, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newFakeEnv(t)
			opts := e.options(t, Options{Parallel: 1}, nil)
			tc.setUp(t, e, &opts)
			grid, err := flagGrid(t, append(tc.flags, "--epochs", "1")...)
			if err != nil {
				t.Fatal(err)
			}
			s, err := New(Plan{Grids: []Grid{grid}}, opts)
			if (err != nil) != tc.fails {
				t.Fatalf("New: error %v, want one: %v", err, tc.fails)
			}
			if kept := children(t); len(kept) != tc.kept {
				t.Errorf("after New, child processes %v, want %d", kept, tc.kept)
			}
			if s != nil {
				s.Close()
			}
			if left := children(t); len(left) > 0 {
				t.Errorf("child processes %v are left", left)
			}
		})
	}
}

// A first worker that died before it was given a run is replaced as a dead worker is, failing no
// run.
func TestAWarmWorkerThatDiedIsReplaced(t *testing.T) {
	e := newFakeEnv(t)
	flag := filepath.Join(t.TempDir(), "die")
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := New(lrGrid(t), e.options(t, Options{Parallel: 1}, []string{fakeDieAtStartEnv + "=" + flag}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	w := s.warm.Load()
	if w == nil {
		t.Fatal("New started no worker")
	}
	select {
	case <-w.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the first worker, told to die at its start, still runs")
	}
	res := s.Run(t.Context(), nil)
	for _, r := range res.Runs {
		if r.Status != spec.StatusSucceeded {
			t.Errorf("run %s: %s (%s)", r.Name, r.Status, r.Error)
		}
	}
	if starts := e.starts(t); len(starts) != 2 {
		t.Errorf("workers started %v, want New's, dead, and one that trained the runs", starts)
	}
}

// A Run cancelled before it starts stops New's worker as it stops its own, and starts no run.
func TestACancelledRunStopsTheWarmWorker(t *testing.T) {
	e := newFakeEnv(t)
	s := e.sweep(t, Options{Parallel: 1}, Plan{}, "", "--lr", "0.001,0.002", "--batch-size", "4", "--epochs", "1")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	res := s.Run(ctx, nil)
	if res.Status != spec.StatusInterrupted {
		t.Errorf("status %s, want %s", res.Status, spec.StatusInterrupted)
	}
	if sent := e.sent(t); len(sent) > 0 {
		t.Errorf("the worker was sent %v after the cancel", sent)
	}
	if left := children(t); len(left) > 0 {
		t.Errorf("child processes %v are left", left)
	}
}

// The runs' results are the same whether their first worker was started by New or by Run.
func TestWarmStartChangesNoResult(t *testing.T) {
	results := func(shape *DataShape) []RunResult {
		e := newFakeEnv(t)
		s, err := New(lrGrid(t), e.options(t, Options{Parallel: 2, Data: shape}, nil))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if warm := s.warm.Load() != nil; warm != (shape == nil) {
			t.Fatalf("a worker started by New: %v, want %v", warm, shape == nil)
		}
		return s.Run(t.Context(), nil).Runs
	}
	warm := results(nil)
	cold := results(&DataShape{TrainExamples: 20, Features: 784, Classes: 10})
	if len(warm) != len(cold) {
		t.Fatalf("%d runs against %d", len(warm), len(cold))
	}
	for i := range warm {
		w, c := warm[i], cold[i]
		if w.Name != c.Name || w.Status != spec.StatusSucceeded || w.Status != c.Status || w.EpochsCompleted != c.EpochsCompleted ||
			!slices.Equal(w.History.ValLoss, c.History.ValLoss) {
			t.Errorf("run %d: warm %s %s %d epochs %v; cold %s %s %d epochs %v", i, w.Name, w.Status, w.EpochsCompleted, w.History.ValLoss,
				c.Name, c.Status, c.EpochsCompleted, c.History.ValLoss)
		}
	}
}
