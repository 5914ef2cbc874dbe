package service

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/sweep"
)

// fakeTrainer trains nothing: each Train reports one run started and then waits until the test ends
// it (finish) or its context is cancelled, as a sweep stops on Ctrl-C. Check parses the spec as the
// real one does.
type fakeTrainer struct {
	started chan Job
	mu      sync.Mutex
	ends    map[string]chan *sweep.Result
}

func newFakeTrainer() *fakeTrainer {
	return &fakeTrainer{started: make(chan Job, 16), ends: map[string]chan *sweep.Result{}}
}

func (f *fakeTrainer) end(id string) chan *sweep.Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ends[id] == nil {
		f.ends[id] = make(chan *sweep.Result, 1)
	}
	return f.ends[id]
}

func (f *fakeTrainer) Check(body []byte, file string) error {
	_, err := sweep.ParseConfig(bytes.NewReader(body), file)
	return err
}

func (f *fakeTrainer) Train(ctx context.Context, job Job, progress Progress) (*sweep.Result, error) {
	run := sweep.Run{Name: "r1", Variant: spec.Defaults()}
	progress.Planned([]sweep.Run{run})
	progress.RunStarted(run, spec.Begin{Epochs: 3, StepsPerEpoch: 10})
	f.started <- job
	select {
	case res := <-f.end(job.ID):
		progress.RunEnded(run, res.Runs[0])
		return res, nil
	case <-ctx.Done():
		return &sweep.Result{Status: spec.StatusInterrupted, Runs: []sweep.RunResult{{Name: "r1", Status: spec.StatusFailed, Interrupted: true}}}, nil
	}
}

// finish ends a fake sweep with its one run in state status.
func (f *fakeTrainer) finish(id string, status spec.Status) {
	run := sweep.RunResult{Name: "r1", Status: status}
	if status == spec.StatusFailed {
		run.Error = "loss is not finite"
	}
	f.end(id) <- &sweep.Result{Status: status, Runs: []sweep.RunResult{run}}
}

// waitStarted is the next job the trainer began.
func (f *fakeTrainer) waitStarted(t *testing.T) Job {
	t.Helper()
	select {
	case j := <-f.started:
		return j
	case <-time.After(10 * time.Second):
		t.Fatal("no sweep started")
		return Job{}
	}
}

// startService opens a service on logdir with a fake trainer and runs its queue until the test ends
// or stop is called.
func startService(t *testing.T, logdir string, f *fakeTrainer) (s *Service, stop func()) {
	t.Helper()
	s, err := New(t.Context(), Config{LogDir: logdir, Trainer: f})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
			s.Close()
		})
	}
	t.Cleanup(stop)
	return s, stop
}

const sweepFile = "grids:\n  - batch_size: 32\n"

func submit(t *testing.T, s *Service) string {
	t.Helper()
	r, err := s.Submit(t.Context(), []byte(sweepFile), "body")
	if err != nil {
		t.Fatal(err)
	}
	return r.ID
}

// waitState polls a sweep until it is in state.
func waitState(t *testing.T, s *Service, id string, state spec.Status) *Record {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, _, err := s.Get(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if r.State == state {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is %s, want %s", id, r.State, state)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Sweeps train one at a time in the order they were submitted, each ending as its trainer says.
func TestQueueOrder(t *testing.T) {
	f := newFakeTrainer()
	s, _ := startService(t, t.TempDir(), f)
	ids := []string{submit(t, s), submit(t, s), submit(t, s)}
	for i, status := range []spec.Status{spec.StatusSucceeded, spec.StatusFailed, spec.StatusSucceeded} {
		job := f.waitStarted(t)
		if job.ID != ids[i] || job.Resume || string(job.Spec) != sweepFile {
			t.Fatalf("started %+v, want %s", job, ids[i])
		}
		for _, later := range ids[i+1:] {
			if r, _, _ := s.Get(t.Context(), later); r.State != spec.StatusQueued {
				t.Errorf("%s is %s while %s trains", later, r.State, ids[i])
			}
		}
		f.finish(job.ID, status)
	}
	for i, want := range []struct {
		state spec.Status
		code  int
		msg   string
	}{{spec.StatusSucceeded, spec.ExitOK, ""}, {spec.StatusFailed, spec.ExitRunFailed, "r1: loss is not finite"}, {spec.StatusSucceeded, spec.ExitOK, ""}} {
		r := waitState(t, s, ids[i], want.state)
		if *r.ExitCode != want.code || r.Error != want.msg || r.Attempts != 1 {
			t.Errorf("%s: exit %d %q attempts %d, want %d %q", ids[i], *r.ExitCode, r.Error, r.Attempts, want.code, want.msg)
		}
	}
	if _, err := s.Submit(t.Context(), []byte("grids: [{}]\ngrids: [{}]\n"), "sweep.yaml"); !errors.As(err, new(*InputError)) ||
		!strings.Contains(err.Error(), `sweep.yaml:2: "grids" appears twice`) {
		t.Errorf("a bad spec: %v", err)
	}
}

// A cancelled queued sweep never starts; a cancelled running one stops with exit code 130; an ended
// one cannot be cancelled.
func TestQueueCancel(t *testing.T) {
	f := newFakeTrainer()
	s, _ := startService(t, t.TempDir(), f)
	running, queued := submit(t, s), submit(t, s)
	if job := f.waitStarted(t); job.ID != running {
		t.Fatalf("started %s", job.ID)
	}
	r, err := s.Cancel(t.Context(), queued)
	if err != nil || r.State != spec.StatusCancelled || *r.ExitCode != spec.ExitInterrupted {
		t.Fatalf("cancel the queued sweep: %+v %v", r, err)
	}
	if _, err := s.Cancel(t.Context(), running); err != nil {
		t.Fatal(err)
	}
	r = waitState(t, s, running, spec.StatusCancelled)
	if *r.ExitCode != spec.ExitInterrupted || r.Error != "cancelled while running" {
		t.Errorf("the cancelled running sweep: %+v", r)
	}
	next := submit(t, s)
	if job := f.waitStarted(t); job.ID != next {
		t.Errorf("after the cancels %s started, want %s (never %s)", job.ID, next, queued)
	}
	for _, id := range []string{queued, running} {
		if _, err := s.Cancel(t.Context(), id); !errors.Is(err, ErrFinished) {
			t.Errorf("a second cancel of %s: %v", id, err)
		}
	}
	if _, err := s.Cancel(t.Context(), "s-999999"); !errors.Is(err, errNotFound) {
		t.Errorf("cancel of an unknown sweep: %v", err)
	}
}

// A server stopped while training leaves the sweep running in the queue; the next server resumes it
// first, then trains the queued ones.
func TestQueueRestartResumes(t *testing.T) {
	logdir := t.TempDir()
	f := newFakeTrainer()
	s, stop := startService(t, logdir, f)
	interrupted, queued := submit(t, s), submit(t, s)
	f.waitStarted(t)
	stop()

	f2 := newFakeTrainer()
	s2, _ := startService(t, logdir, f2)
	job := f2.waitStarted(t)
	if job.ID != interrupted || !job.Resume {
		t.Fatalf("the next server started %+v, want %s resumed", job, interrupted)
	}
	if r, _, _ := s2.Get(t.Context(), interrupted); r.State != spec.StatusRunning || r.Attempts != 2 {
		t.Errorf("the resumed sweep: %+v", r)
	}
	f2.finish(interrupted, spec.StatusSucceeded)
	waitState(t, s2, interrupted, spec.StatusSucceeded)
	if job := f2.waitStarted(t); job.ID != queued || job.Resume {
		t.Errorf("then %+v, want %s fresh", job, queued)
	}
}

// The event stream begins with the state and the runs' progress, carries progress as it comes and
// ends with the sweep's last state.
func TestQueueEventStream(t *testing.T) {
	f := newFakeTrainer()
	s, _ := startService(t, t.TempDir(), f)
	srv := httptest.NewServer(s.Handler(HTTPConfig{Hosts: mustHosts(t, "127.0.0.1:0")}))
	defer srv.Close()
	id := submit(t, s)
	f.waitStarted(t)
	resp, err := http.Get(srv.URL + "/api/v1/sweeps/" + id + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := make(chan Event)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var e Event
				json.Unmarshal([]byte(data), &e)
				events <- e
			}
		}
	}()
	next := func() Event {
		t.Helper()
		select {
		case e := <-events:
			return e
		case <-time.After(10 * time.Second):
			t.Fatal("no event")
			return Event{}
		}
	}
	if e := next(); e.Type != "state" || e.State != spec.StatusRunning {
		t.Errorf("first event %+v, want the running state", e)
	}
	if e := next(); e.Type != "progress" || e.Run == nil || e.Run.Name != "r1" || e.Run.State != spec.StatusRunning || e.Run.Epochs != 3 {
		t.Errorf("second event %+v, want r1's progress", e)
	}
	f.finish(id, spec.StatusSucceeded)
	if e := next(); e.Type != "run_end" || e.Run.State != spec.StatusSucceeded {
		t.Errorf("event %+v, want r1's end", e)
	}
	if e := next(); e.Type != "state" || e.State != spec.StatusSucceeded || e.ExitCode == nil || *e.ExitCode != 0 {
		t.Errorf("last event %+v, want succeeded", e)
	}
	if e, open := <-events; open {
		t.Errorf("the stream goes on after the end: %+v", e)
	}
}

// A cancel that comes after the queue made a sweep running but before its trainer took it is not
// lost: the trainer starts it cancelled.
func TestQueueCancelBeforeTheTrainerTakesIt(t *testing.T) {
	f := newFakeTrainer()
	s, err := New(t.Context(), Config{LogDir: t.TempDir(), Trainer: f})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	id := submit(t, s)
	if _, _, err := s.store.next(t.Context(), time.Now()); err != nil { // the queue's claim, as Run makes it
		t.Fatal(err)
	}
	if _, err := s.Cancel(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	f.waitStarted(t)
	if r := waitState(t, s, id, spec.StatusCancelled); *r.ExitCode != spec.ExitInterrupted {
		t.Errorf("the sweep cancelled before its trainer took it: %+v", r)
	}
}
