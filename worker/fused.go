package worker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/tfsweep/tfsweep/model"
	"github.com/tfsweep/tfsweep/spec"
)

// trainGroup trains the jobs of a fused group (spec.Command's Fused) at once in one model.Fused,
// each a run of its own (see group), and reports each as a lone job is reported. A group that
// cannot be fused (a network or optimizer model.Fused refuses, jobs that do not share their data
// and batch size, a job that does not read, two jobs of one name) is trained one job after another, as lone jobs, which
// log hears once.
func (s *server) trainGroup(ctx context.Context, jobs []spec.Job) error {
	g, err := s.fuse(jobs)
	if err != nil {
		runs := make([]string, len(jobs))
		for i, j := range jobs {
			runs[i] = j.Run
		}
		fmt.Fprintf(s.log, "tfsweep-worker: the group of %d runs (%s) trains one run after another, unfused: %v\n", len(jobs), strings.Join(runs, ", "), err)
		for _, job := range jobs {
			if err := s.train(ctx, job, nil); err != nil {
				return err
			}
		}
		return nil
	}
	defer g.f.Close()
	stop := make(chan struct{})
	routed := make(chan struct{})
	go func() { s.routeVerdicts(g, stop); close(routed) }()
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for t, job := range jobs {
		m := g.members[t]
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer m.leave()
			errs[t] = s.train(ctx, job, m)
		}()
	}
	wg.Wait()
	close(stop)
	<-routed
	return errors.Join(errs...)
}

// fuse prepares every job of a group and builds and binds its fused model, or says why the group
// cannot be fused. Everything of the server a member's run needs (the data, the normaliser, the
// converted sets) is made here, before the members' goroutines share it.
func (s *server) fuse(jobs []spec.Job) (*group, error) {
	prepared := make([]prepared, len(jobs))
	configs := make([]model.Config, len(jobs))
	for i, job := range jobs {
		if slices.ContainsFunc(jobs[:i], func(j spec.Job) bool { return j.Run == job.Run }) {
			return nil, fmt.Errorf("two jobs are named %s: verdicts could not tell them apart", job.Run)
		}
		pr, err := s.prepare(job)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", job.Run, err)
		}
		pr.p = groupPlan(pr.p)
		if first := prepared[0].p; i > 0 && (pr.p.train != first.train || pr.p.val != first.val || pr.p.fit.BatchSize != first.fit.BatchSize) {
			return nil, fmt.Errorf("%s does not train on %s's examples and batch size", job.Run, jobs[0].Run)
		}
		prepared[i], configs[i] = pr, pr.p.model
	}
	first := prepared[0]
	norm, err := s.normalizer(first.p.train.source, first.p.train.scale, first.d)
	if err != nil {
		return nil, err
	}
	f, err := model.NewFused(configs)
	if err != nil {
		return nil, err
	}
	if err := s.bind(f, first.p.train, first.p.val, first.d, norm); err != nil {
		f.Close()
		return nil, err
	}
	return newGroup(f, jobs, prepared), nil
}

// routeVerdicts hands the front's verdicts to the members they name until stop. A verdict naming no
// member goes to every member, whose wait fails on it, as a lone run's does on a verdict for
// another run.
func (s *server) routeVerdicts(g *group, stop <-chan struct{}) {
	for {
		var v spec.Verdict
		select {
		case v = <-s.verdicts:
		case <-stop:
			return
		}
		delivered := false
		for _, m := range g.members {
			if m.run == v.Run {
				m.deliver(v)
				delivered = true
			}
		}
		if !delivered {
			for _, m := range g.members {
				m.deliver(v)
			}
		}
	}
}

// deliver passes v on without waiting: a run waits for one verdict at a time, and one that ended
// (failed after its epoch's message) no longer reads them.
func (m *member) deliver(v spec.Verdict) {
	select {
	case m.verdicts <- v:
	default:
	}
}
