// Package service is `tfsweep serve`: a persistent queue of sweeps in SQLite in the logdir, trained
// one at a time by the same workers `tfsweep run` uses, with live progress for an HTTP API. It is
// pure Go: training happens in tfsweep-worker processes that package sweep starts.
package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/sweep"
)

// LockFile in the logdir is held (flock) by the one server that uses the logdir.
const LockFile = "tfsweep-serve.lock"

// Config is what the service needs besides the logdir's queue.
type Config struct {
	LogDir  string
	Trainer Trainer // a *SweepTrainer on the same LogDir, but in tests
	// Log reports what the service does; the zero Logger is silent.
	Log zerolog.Logger
}

// Service is the queue and its trainer.
type Service struct {
	cfg   Config
	store *store
	lock  *os.File
	wake  chan struct{}
	// checking bounds the submissions checked at once: each costs up to tens of megabytes.
	checking chan struct{}

	// mu guards live, cancels and cancelAsked; it is never held across I/O.
	mu      sync.Mutex
	live    map[string]*live // the running sweep's progress, by id
	cancels map[string]context.CancelCauseFunc
	// cancelAsked holds sweeps whose cancel came after the queue made them running but before
	// their trainer registered its cancel: it cancels them as it starts.
	cancelAsked map[string]bool
	hub         hub

	reg          *prometheus.Registry
	runsRunning  prometheus.Gauge
	runsFinished *prometheus.CounterVec
	samples      prometheus.GaugeFunc
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
}

// errCancelled is the cause of a sweep stopped by a cancel request, not by the server stopping.
var errCancelled = errors.New("cancelled by a request")

// ErrLocked is returned by New when another server uses the logdir.
var ErrLocked = errors.New("another tfsweep serve uses this logdir")

// New opens (or creates) the queue in cfg.LogDir, taking its lock.
func New(ctx context.Context, cfg Config) (*Service, error) {
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
		live: map[string]*live{}, cancels: map[string]context.CancelCauseFunc{}, cancelAsked: map[string]bool{},
		hub: hub{subs: map[string]map[chan Event]struct{}{}}}
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

// logDirPrefix is the logdir's absolute path with a trailing separator: what answers cut from the
// paths they name, so that they name no directory of the host.
func (s *Service) logDirPrefix() string {
	abs, err := filepath.Abs(s.cfg.LogDir)
	if err != nil {
		return filepath.Clean(s.cfg.LogDir) + string(filepath.Separator)
	}
	return abs + string(filepath.Separator)
}

// withoutLogDir rewrites the paths a JSON document written by the sweep (its report.json) holds
// relative to the logdir.
func (s *Service) withoutLogDir(doc []byte) []byte {
	quoted, err := json.Marshal(s.logDirPrefix())
	if err != nil {
		return doc
	}
	return bytes.ReplaceAll(doc, quoted[1:len(quoted)-1], nil)
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
	err := s.cfg.Trainer.Check(body, file)
	<-s.checking
	if err != nil {
		return nil, &InputError{Err: err}
	}
	r, err := s.store.add(ctx, string(body), file, time.Now())
	if err != nil {
		return nil, err
	}
	s.cfg.Log.Info().Str("sweep", r.ID).Msg("queued")
	s.hub.publish(r.ID, Event{Type: "state", State: spec.StatusQueued})
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return r, nil
}

// Get is a sweep with its live progress.
func (s *Service) Get(ctx context.Context, id string) (*Record, []RunProgress, error) {
	r, err := s.store.get(ctx, id)
	if err != nil {
		return nil, nil, err
	}
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
	return s.store.list(ctx, state, after, limit)
}

// ErrFinished is a cancel of a sweep that has ended.
var ErrFinished = errors.New("the sweep has ended: it cannot be changed")

// Cancel cancels a queued sweep, or stops a running one as Ctrl-C stops `tfsweep run`.
func (s *Service) Cancel(ctx context.Context, id string) (*Record, error) {
	r, err := s.store.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.State == spec.StatusQueued {
		ok, err := s.store.cancelQueued(ctx, id, time.Now())
		if err != nil {
			return nil, err
		}
		if ok {
			s.cfg.Log.Info().Str("sweep", id).Msg("cancelled while queued")
			s.hub.end(id, Event{Type: "state", State: spec.StatusCancelled, ExitCode: ptr(spec.ExitInterrupted)})
			return s.store.get(ctx, id)
		}
		// The queue started it meanwhile: stop it as a running one.
		if r, err = s.store.get(ctx, id); err != nil {
			return nil, err
		}
	}
	if r.State != spec.StatusRunning {
		return nil, fmt.Errorf("sweep %s is %s: %w", id, r.State, ErrFinished)
	}
	s.mu.Lock()
	if cancel := s.cancels[id]; cancel != nil {
		cancel(errCancelled)
	} else {
		s.cancelAsked[id] = true
	}
	s.mu.Unlock()
	s.cfg.Log.Info().Str("sweep", id).Msg("stopping on a cancel request")
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
		r, resumed, err := s.store.next(ctx, time.Now())
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
		sctx, cancel := context.WithCancelCause(ctx)
		s.mu.Lock()
		s.cancels[r.ID] = cancel
		s.live[r.ID] = newLive()
		if s.cancelAsked[r.ID] {
			delete(s.cancelAsked, r.ID)
			cancel(errCancelled)
		}
		s.mu.Unlock()
		s.train(ctx, sctx, r, resumed)
		cancel(nil)
	}
}

// train runs one sweep and records its end, unless the server is stopping.
func (s *Service) train(serverCtx, ctx context.Context, r *Record, resumed bool) {
	s.mu.Lock()
	l := s.live[r.ID]
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.cancels, r.ID)
		delete(s.live, r.ID)
		s.mu.Unlock()
	}()
	log := s.cfg.Log.With().Str("sweep", r.ID).Logger()
	log.Info().Int("attempt", r.Attempts).Bool("resume", resumed).Msg("training")
	s.hub.publish(r.ID, Event{Type: "state", State: spec.StatusRunning})
	job := Job{ID: r.ID, Spec: []byte(r.Spec), File: r.File, Resume: resumed}
	res, err := s.cfg.Trainer.Train(ctx, job, &observer{s: s, id: r.ID, live: l})
	if err == nil && serverCtx.Err() != nil {
		// The server stops: the sweep stays running in the queue and the next server resumes it.
		log.Info().Msg("interrupted by the server stopping: the next server resumes it")
		s.hub.end(r.ID, Event{Type: "state", State: spec.StatusRunning, Error: "the server stopped; it resumes this sweep when it starts again"})
		return
	}
	state, code, msg := outcome(ctx, res, err)
	if code == spec.ExitRunFailed && err != nil {
		// A failure of the server, not of the sweep: its cause names files of the host.
		log.Error().Err(err).Msg("training failed")
		msg = "the server failed to train it: its log has the cause"
	}
	if err := s.store.finish(context.WithoutCancel(serverCtx), r.ID, state, code, msg, res, l.snapshot(), time.Now()); err != nil {
		log.Error().Err(err).Msg("record the end")
	}
	log.Info().Str("state", string(state)).Int("exit_code", code).Str("error", msg).Msg("ended")
	s.hub.end(r.ID, Event{Type: "state", State: state, ExitCode: &code, Error: msg})
}

// outcome is a trained sweep's state, exit code and message, as `tfsweep run` would end.
func outcome(ctx context.Context, res *sweep.Result, err error) (state spec.Status, code int, msg string) {
	switch {
	case isBadInput(err):
		return spec.StatusFailed, spec.ExitBadInput, err.Error()
	case err != nil:
		return spec.StatusFailed, spec.ExitRunFailed, err.Error()
	case errors.Is(context.Cause(ctx), errCancelled) && res.Status != spec.StatusSucceeded:
		// (A cancel that came after every run had ended changes nothing.)
		return spec.StatusCancelled, spec.ExitInterrupted, "cancelled while running"
	case res.Status == spec.StatusSucceeded && res.ReportError == "":
		return spec.StatusSucceeded, spec.ExitOK, ""
	}
	msg = res.ReportError
	for _, run := range res.Runs {
		if run.Status == spec.StatusFailed && msg == "" {
			msg = run.Name + ": " + run.Error
		}
	}
	return spec.StatusFailed, spec.ExitRunFailed, msg
}
