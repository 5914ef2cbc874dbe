// Package service is `tfsweep serve`: a persistent queue of sweeps in SQLite in the logdir, trained
// one at a time by the same workers `tfsweep run` uses, with live progress for an HTTP API. It is
// pure Go: training happens in tfsweep-worker processes that package sweep starts.
package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tfsweep/tfsweep/report"
	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/summary"
	"github.com/tfsweep/tfsweep/sweep"
)

// LockFile in the logdir is held (flock) by the one server that uses the logdir.
const LockFile = "tfsweep-serve.lock"

// Config is what the service needs besides the logdir's queue.
type Config struct {
	LogDir  string
	DataDir string
	Device  string // auto, cpu or gpu
	Slots   int    // runs of a sweep trained at once (sweep.Options.Parallel)
	// Worker, WorkerEnv and GPUs are sweep.Options', as `tfsweep run` sets them.
	Worker    string
	WorkerEnv []string
	GPUs      []string
	Charts    func([]sweep.Run) summary.Layout
	// Logf reports what the service does; nil is silent.
	Logf func(format string, args ...any)
}

// Service is the queue and its trainer.
type Service struct {
	cfg   Config
	store *store
	lock  *os.File
	wake  chan struct{}
	// checking bounds the submissions checked at once: each loads the training set.
	checking chan struct{}

	mu      sync.Mutex
	live    map[string]*live // the running sweep's progress, by id
	cancels map[string]context.CancelCauseFunc
	hub     hub

	reg          *prometheus.Registry
	runsRunning  prometheus.Gauge
	runsFinished *prometheus.CounterVec
	samples      prometheus.GaugeFunc
}

// errCancelled is the cause of a sweep stopped by a cancel request, not by the server stopping.
var errCancelled = errors.New("cancelled by a request")

// ErrLocked is returned by New when another server uses the logdir.
var ErrLocked = errors.New("another tfsweep serve uses this logdir")

// New opens (or creates) the queue in cfg.LogDir, taking its lock.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Slots < 1 || cfg.Slots > 256 {
		return nil, fmt.Errorf("--slots: %d must be in [1, 256]", cfg.Slots)
	}
	if err := os.MkdirAll(cfg.LogDir, 0o755); err != nil {
		return nil, fmt.Errorf("--logdir: %w", err)
	}
	lockPath := filepath.Join(cfg.LogDir, LockFile)
	lock, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("--logdir: the lock: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(lockPath)
		lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("--logdir %s: %w (%s holds %s); stop it or give another --logdir",
				cfg.LogDir, ErrLocked, strings.TrimSpace(string(holder)), lockPath)
		}
		return nil, fmt.Errorf("--logdir: lock %s: %w", lockPath, err)
	}
	host, _ := os.Hostname()
	lock.Truncate(0)
	fmt.Fprintf(lock, "pid %d on %s\n", os.Getpid(), host)
	st, err := openStore(ctx, cfg.LogDir)
	if err != nil {
		lock.Close()
		return nil, err
	}
	s := &Service{cfg: cfg, store: st, lock: lock, wake: make(chan struct{}, 1), checking: make(chan struct{}, 2),
		live: map[string]*live{}, cancels: map[string]context.CancelCauseFunc{}, hub: hub{subs: map[string]map[chan Event]struct{}{}}}
	s.initMetrics()
	return s, nil
}

// Close releases the queue and the lock.
func (s *Service) Close() error {
	err := s.store.close()
	s.lock.Close()
	if err != nil {
		return fmt.Errorf("close the queue: %w", err)
	}
	return nil
}

func (s *Service) logf(format string, args ...any) {
	if s.cfg.Logf != nil {
		s.cfg.Logf(format, args...)
	}
}

// InputError is a sweep spec the service refuses: HTTP 400, `tfsweep run`'s exit 2.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// Submit checks a sweep file's YAML or JSON as `tfsweep run --config` does, against the data, and
// queues it. file names the spec in messages (the client's file name, or "body").
func (s *Service) Submit(ctx context.Context, body []byte, file string) (*Record, error) {
	select {
	case s.checking <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("submit: %w", ctx.Err())
	}
	_, err := s.validate(body, file)
	<-s.checking
	if err != nil {
		return nil, &InputError{Err: err}
	}
	r, err := s.store.add(ctx, string(body), file, time.Now())
	if err != nil {
		return nil, err
	}
	r.SweepDir = filepath.Join(s.cfg.LogDir, r.ID)
	s.logf("queued %s", r.ID)
	s.hub.publish(r.ID, Event{Type: "state", State: spec.StatusQueued})
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return r, nil
}

func (s *Service) validate(body []byte, file string) (sweep.Plan, error) {
	plan, err := sweep.ParseConfig(bytes.NewReader(body), file)
	if err != nil {
		return sweep.Plan{}, fmt.Errorf("--config: %w", err)
	}
	if plan.Trials < 0 {
		return sweep.Plan{}, fmt.Errorf("--trials: %d must not be negative", plan.Trials)
	}
	opts := s.options("")
	opts.DryRun = true
	if _, err := sweep.New(plan, opts); err != nil {
		return sweep.Plan{}, err
	}
	return plan, nil
}

func (s *Service) options(name string) sweep.Options {
	return sweep.Options{LogDir: s.cfg.LogDir, DataDir: s.cfg.DataDir, Device: s.cfg.Device, Parallel: s.cfg.Slots,
		LogEvery: sweep.DefaultLogEvery, Worker: s.cfg.Worker, WorkerEnv: s.cfg.WorkerEnv, GPUs: s.cfg.GPUs,
		Charts: s.cfg.Charts, Name: name, KeepCheckpoints: 1}
}

// Get is a sweep with its live progress.
func (s *Service) Get(ctx context.Context, id string) (*Record, []RunProgress, error) {
	r, err := s.store.get(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	r.SweepDir = filepath.Join(s.cfg.LogDir, r.ID)
	s.mu.Lock()
	l := s.live[id]
	s.mu.Unlock()
	var runs []RunProgress
	if l != nil {
		runs = l.snapshot()
	} else {
		runs = r.final
	}
	return r, runs, nil
}

// List pages through the sweeps.
func (s *Service) List(ctx context.Context, state spec.Status, after string, limit int) ([]*Record, error) {
	rs, err := s.store.list(ctx, state, after, limit)
	for _, r := range rs {
		r.SweepDir = filepath.Join(s.cfg.LogDir, r.ID)
	}
	return rs, err
}

// ErrFinished is a cancel of a sweep that has ended.
var ErrFinished = errors.New("the sweep has ended: it cannot be changed")

// Cancel cancels a queued sweep, or stops a running one as Ctrl-C stops `tfsweep run`.
func (s *Service) Cancel(ctx context.Context, id string) (*Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.store.get(ctx, id)
	if err != nil {
		return nil, err
	}
	switch r.State {
	case spec.StatusQueued:
		ok, err := s.store.cancelQueued(ctx, id, time.Now())
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("sweep %s changed while being cancelled", id)
		}
		s.logf("cancelled %s (queued)", id)
		s.hub.end(id, Event{Type: "state", State: spec.StatusCancelled, ExitCode: ptr(spec.ExitInterrupted)})
	case spec.StatusRunning:
		if cancel := s.cancels[id]; cancel != nil {
			cancel(errCancelled)
		}
		s.logf("stopping %s (cancel)", id)
	default:
		return nil, fmt.Errorf("sweep %s is %s: %w", id, r.State, ErrFinished)
	}
	return s.store.get(ctx, id)
}

func ptr[T any](v T) *T { return &v }

// Run trains the queue, one sweep at a time, until ctx is cancelled. A sweep stopped by ctx stays
// running in the queue, so the next server resumes it.
func (s *Service) Run(ctx context.Context) error {
	for {
		if ctx.Err() != nil {
			return nil
		}
		s.mu.Lock()
		r, resumed, err := s.store.next(ctx, time.Now())
		var sctx context.Context
		var cancel context.CancelCauseFunc
		if err == nil && r != nil {
			sctx, cancel = context.WithCancelCause(ctx)
			s.cancels[r.ID] = cancel
			s.live[r.ID] = newLive()
		}
		s.mu.Unlock()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if r == nil {
			select {
			case <-ctx.Done():
				return nil
			case <-s.wake:
			}
			continue
		}
		s.train(ctx, sctx, r, resumed)
		cancel(nil)
	}
}

// train runs one sweep and records its end, unless the server is stopping.
func (s *Service) train(serverCtx, ctx context.Context, r *Record, resumed bool) {
	defer func() {
		s.mu.Lock()
		delete(s.cancels, r.ID)
		delete(s.live, r.ID)
		s.mu.Unlock()
	}()
	s.logf("training %s (attempt %d, resume %v)", r.ID, r.Attempts, resumed)
	s.hub.publish(r.ID, Event{Type: "state", State: spec.StatusRunning})
	var l *live
	finish := func(state spec.Status, code int, msg string, res *sweep.Result) {
		var runs []RunProgress
		if l != nil {
			runs = l.snapshot()
		}
		if err := s.store.finish(context.WithoutCancel(serverCtx), r.ID, state, code, msg, res, runs, time.Now()); err != nil {
			s.logf("%v", err)
		}
		s.logf("%s %s (exit %d) %s", r.ID, state, code, msg)
		s.hub.end(r.ID, Event{Type: "state", State: state, ExitCode: &code, Error: msg})
	}
	plan, err := sweep.ParseConfig(strings.NewReader(r.Spec), r.File)
	if err != nil {
		finish(spec.StatusFailed, spec.ExitBadInput, err.Error(), nil)
		return
	}
	opts := s.options(r.ID)
	opts.Resume = resumed
	s.mu.Lock()
	l = s.live[r.ID]
	s.mu.Unlock()
	sw, err := sweep.New(plan, opts)
	if err != nil {
		finish(spec.StatusFailed, spec.ExitBadInput, err.Error(), nil)
		return
	}
	l.init(sw.Mine())
	res := sw.Run(ctx, &observer{s: s, id: r.ID, live: l})
	if serverCtx.Err() != nil {
		// The server stops: the sweep stays running in the queue and the next server resumes it.
		s.logf("%s interrupted by the server stopping: the next server resumes it", r.ID)
		s.hub.end(r.ID, Event{Type: "state", State: spec.StatusRunning, Error: "the server stopped; it resumes this sweep when it starts again"})
		return
	}
	_, _ = report.Finish(ctx, res) // its error is in res.ReportError
	switch {
	case errors.Is(context.Cause(ctx), errCancelled) && res.Status != spec.StatusSucceeded:
		// (A cancel that came after every run had ended changes nothing.)
		finish(spec.StatusCancelled, spec.ExitInterrupted, "cancelled while running", res)
	case res.Status == spec.StatusSucceeded && res.ReportError == "":
		finish(spec.StatusSucceeded, spec.ExitOK, "", res)
	default:
		msg := res.ReportError
		for _, run := range res.Runs {
			if run.Status == spec.StatusFailed && msg == "" {
				msg = run.Name + ": " + run.Error
			}
		}
		finish(spec.StatusFailed, spec.ExitRunFailed, msg, res)
	}
}
