package sweep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"

	"github.com/tfsweep/tfsweep/spec"
)

// member is a run a slot has claimed, to train alone or in a fused group.
type member struct {
	run    Run
	resume bool       // continue from its checkpoint
	res    *RunResult // its entry in the sweep's results
}

// slot trains what it takes from the queue in one worker process at a time: a run, or a group of
// runs that share a fuse key, trained fused. Its first worker is w, when New started one for it.
func (s *Sweep) slot(ctx context.Context, obs Observer, slot int, w *worker, q *queue, runs []Run, results []RunResult) {
	defer func() { w.close() }()
	key := func(w work) string { return s.fuseKey(runs[w.index]) }
	for {
		items, ok := q.next(ctx, s.fusion.Group, key)
		if !ok {
			return
		}
		group := s.claimGroup(ctx, obs, q, items, runs, results)
		q.done(s.trainGroup(ctx, obs, slot, &w, group, runs)...)
	}
}

// claimGroup claims the runs the slot took from the queue, a run or a group of runs that share a fuse
// key, and, should some not be taken, further queued runs of the key in queue order, until it holds
// a group's size of claimed runs or the queue has no more of them. Runs not taken are reported as
// they end here (skipped, failed to claim).
func (s *Sweep) claimGroup(ctx context.Context, obs Observer, q *queue, items []work, runs []Run, results []RunResult) []member {
	key := func(w work) string { return s.fuseKey(runs[w.index]) }
	k := key(items[0])
	var group []member
	for len(items) > 0 {
		for _, item := range items {
			if m, ok := s.claimItem(ctx, obs, item, runs, results); ok {
				group = append(group, m)
			}
		}
		if k == "" || len(group) >= s.fusion.Group || ctx.Err() != nil {
			break
		}
		items = q.take(k, s.fusion.Group-len(group), key)
	}
	return group
}

// claimItem claims one run for this process, or reports why it does not train it (another process
// trains or trained it, or the claim failed); ok is false then, and when ctx is done (the run is
// left unstarted).
func (s *Sweep) claimItem(ctx context.Context, obs Observer, item work, runs []Run, results []RunResult) (member, bool) {
	if ctx.Err() != nil {
		return member{}, false
	}
	i, r := item.index, runs[item.index]
	policy := claimPolicy{resume: s.opts.Resume, retryFailed: s.opts.RetryFailed, promote: item.promoted}
	taken, from, why, err := s.claim(r, policy)
	// An interrupted or promoted run continues from its last checkpoint; a failed one, retried,
	// starts anew.
	resume := from == spec.StatusStale || from == spec.StatusInterrupted || from == spec.StatusPaused
	if err == nil && taken && !resume {
		err = spec.RetireAttempt(filepath.Join(s.dir, r.Name))
	}
	if err == nil && taken && !resume && s.search != nil && r.space != nil {
		if err = s.search.propose(runs, i); err == nil {
			r = runs[i]
			results[i].Variant = r.Variant
		}
	}
	switch {
	case err != nil:
		results[i].Status, results[i].Error = spec.StatusFailed, fmt.Sprintf("claim the run: %v", err)
	case !taken && item.promoted:
		return member{}, false // another process promoted it first, or it is no longer paused
	case !taken:
		results[i].Status, results[i].Error = spec.StatusSkipped, why
	}
	if err != nil || !taken {
		obs.RunEnded(r, results[i])
		return member{}, false
	}
	return member{run: r, resume: resume, res: &results[i]}, true
}

// trainGroup trains the claimed runs on the slot's worker, starting one when it has none: one run
// alone, several fused. It records each run's end and returns the runs the scheduler promotes.
func (s *Sweep) trainGroup(ctx context.Context, obs Observer, slot int, w **worker, group []member, runs []Run) []work {
	if len(group) == 0 {
		return nil
	}
	if *w != nil && (*w).exited() {
		// It died between runs, or before its first (New's, while TensorFlow loaded): no run was
		// its, so none fails for it.
		(*w).close()
		*w = nil
	}
	if *w == nil {
		var err error
		if *w, err = s.startWorker(ctx, slot); err != nil {
			for _, m := range group {
				m.res.Status, m.res.Error = spec.StatusFailed, err.Error()
			}
		}
	}
	if *w != nil && !(*w).train(ctx, s, obs, group) {
		(*w).close()
		*w = nil
	}
	var promoted []work
	for _, m := range group {
		if err := s.release(m.run, *m.res); err != nil && m.res.Error == "" {
			m.res.Error = fmt.Sprintf("record the run's end: %v", err)
		}
		obs.RunEnded(m.run, *m.res)
		if s.search != nil && m.run.space != nil {
			if err := s.search.ended(m.run, m.res.History); err != nil && m.res.Error == "" {
				m.res.Error = err.Error()
			}
		}
		promoted = append(promoted, s.promoted(runs, m.res)...)
	}
	return promoted
}

// train sends the group to the worker, one run as a Job and several as one fused Command, and
// follows each run to its end. It returns false when the worker can take nothing further (it died,
// or said something that is not a message): every run of the group still training has failed.
func (w *worker) train(ctx context.Context, s *Sweep, obs Observer, group []member) bool {
	live := make(map[string]member, len(group))
	var jobs []spec.Job
	for _, m := range group {
		m.res.Dir = filepath.Join(s.dir, m.run.Name)
		job, err := s.job(m.run)
		if err != nil {
			m.res.Status, m.res.Error = spec.StatusFailed, err.Error()
			continue
		}
		job.Resume, job.Verdicts = m.resume, s.trials != nil
		jobs, live[m.run.Name] = append(jobs, job), m
	}
	if len(jobs) == 0 {
		return true
	}
	if err := w.send(s, jobs, live); err != nil {
		w.failAll(live, err.Error(), false)
		return false
	}
	for msg := range w.messages {
		m, ok := live[msg.Run]
		if !ok {
			continue
		}
		ended, err := w.follow(s, obs, m, msg)
		if err != nil {
			delete(live, msg.Run)
			w.failAll(live, fmt.Sprintf("the worker was ended: %s: %v", m.run.Name, err), false)
			return false
		}
		if ended {
			delete(live, msg.Run)
		}
		if len(live) == 0 {
			return true
		}
	}
	// Once ctx is done the worker has SIGTERM (WorkerCommand): it closes the runs' files and reports
	// them failed, or is killed after the grace period, which ends the messages here.
	<-w.done
	w.failAll(live, w.failure("the worker died during the run", w.exitError()), ctx.Err() != nil)
	return false
}

// send writes the group's line: a lone Job as it is, several as a fused Command, each member's
// result naming the group and the sweep's result listing it.
func (w *worker) send(s *Sweep, jobs []spec.Job, live map[string]member) error {
	var names []string
	for _, j := range jobs {
		names = append(names, j.Run)
	}
	if len(jobs) == 1 {
		names = nil
	}
	for _, j := range jobs {
		live[j.Run].res.FusedGroup = names
	}
	var line []byte
	var err error
	if names == nil {
		line, err = json.Marshal(jobs[0])
	} else {
		s.fused.add(names)
		line, err = json.Marshal(spec.Command{Fused: jobs})
	}
	if err != nil {
		return err
	}
	if _, err := w.stdin.Write(append(line, '\n')); err != nil {
		return errors.New(w.failure("the worker did not take the run", err))
	}
	return nil
}

// groupLog lists the fused groups a sweep sent, in the order the slots sent them.
type groupLog struct {
	mu     sync.Mutex
	groups [][]string
}

func (l *groupLog) add(names []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.groups = append(l.groups, names)
}

func (l *groupLog) list() [][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.groups)
}

// follow passes one message of a member's run to its result and the observer, and answers an
// epoch's with the scheduler's verdict; ended is true at the run's end.
func (w *worker) follow(s *Sweep, obs Observer, m member, msg spec.Message) (ended bool, err error) {
	res := m.res
	switch {
	case msg.Kind == spec.MessageBegin && msg.Begin != nil:
		res.TrainExamples = msg.Begin.TrainExamples
		res.Device = msg.Begin.Device
		obs.RunStarted(m.run, *msg.Begin)
	case msg.Kind == spec.MessageBatch && msg.Batch != nil:
		obs.RunProgress(m.run, *msg.Batch)
	case msg.Kind == spec.MessageEpoch && msg.Epoch != nil:
		res.History.Append(*msg.Epoch)
		if s.charts != nil {
			// A chart that misses a point is worth no failed run.
			_ = s.charts.epoch(m.run.Name, *msg.Epoch)
		}
		obs.EpochEnded(m.run, *msg.Epoch)
		if err := w.answer(s.trials, m.run, *msg.Epoch); err != nil {
			res.Status, res.Error = spec.StatusFailed, err.Error()
			return true, err
		}
	case msg.Kind == spec.MessageEnd && msg.End != nil:
		w.finish(res, *msg.End)
		return true, nil
	}
	return false, nil
}

// failAll fails the runs still training with why.
func (w *worker) failAll(live map[string]member, why string, interrupted bool) {
	for _, m := range live {
		m.res.Status, m.res.Error, m.res.Interrupted = spec.StatusFailed, why, interrupted
	}
}
