package sweep

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"sync"

	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/sweep/tpe"
)

// Searches: how a plan's trials get their distributions' values.
const (
	SearchRandom = "random"
	SearchTPE    = "tpe"
)

// searchSpace is one grid point's distribution axes, over which TPE proposes its trials' values.
type searchSpace struct {
	axes    []spec.Axis
	dists   []*Distribution
	sampler *tpe.Sampler
}

func newSearchSpace(g Grid, axes []spec.Axis) *searchSpace {
	sp := &searchSpace{axes: axes}
	params := make([]tpe.Param, len(axes))
	for i, a := range axes {
		d := g.axes[a.Key].dist
		sp.dists = append(sp.dists, d)
		params[i] = tpe.Param{Name: a.Key, Lo: d.Lo, Hi: d.Hi}
		switch {
		case d.Kind == DistChoice:
			params[i].Kind, params[i].Choices = tpe.Choice, len(d.Values)
		case d.Kind == DistLogUniform:
			params[i].Kind = tpe.LogUniform
		case isInteger(a):
			params[i].Kind = tpe.Int
		}
	}
	// The distributions were checked when they were parsed, so the sampler accepts them.
	sp.sampler, _ = tpe.New(params, tpe.Options{})
	return sp
}

func isInteger(a spec.Axis) bool {
	switch a.FromFloat(0).(type) {
	case int, int64:
		return true
	}
	return false
}

// encode returns a variant's values of the space's axes as the sampler's numbers: a choice as the
// index of its value.
func (sp *searchSpace) encode(v spec.Variant) []float64 {
	out := make([]float64, len(sp.axes))
	for i, a := range sp.axes {
		if sp.dists[i].Kind == DistChoice {
			for j, value := range sp.dists[i].Values {
				if a.ValueText(value) == a.Text(v) {
					out[i] = float64(j)
				}
			}
			continue
		}
		switch x := a.Get(v).(type) {
		case int:
			out[i] = float64(x)
		case int64:
			out[i] = float64(x)
		case float64:
			out[i] = x
		}
	}
	return out
}

// apply sets the proposed numbers on the variant.
func (sp *searchSpace) apply(v *spec.Variant, x []float64) {
	for i, a := range sp.axes {
		if sp.dists[i].Kind == DistChoice {
			a.Set(v, sp.dists[i].Values[int(x[i])])
			continue
		}
		a.Set(v, a.FromFloat(x[i]))
	}
}

// search is a TPE sweep as the runner drives it: each trial's values are proposed when it starts,
// from the trials that have ended in any process of the sweep, and both are logged in the sweep's
// shared log first, so a resumed sweep, or another shard, proposes from the same history.
type search struct {
	mu     sync.Mutex
	seed   int64
	value  func(spec.History) float64 // a run's best metric, to minimise
	log    *sharedLog
	runs   []Run              // the runs of the plan this process knows, proposed values applied
	byName map[string]int     // index into runs
	values map[string]float64 // by run: its latest result
	order  []string           // runs in the order their first result came
}

// searchLog is where a TPE sweep logs its proposals and results.
func searchLog(dir string) string { return filepath.Join(dir, "search.jsonl") }

type searchLine struct {
	Run    string    `json:"run"`
	Params []float64 `json:"params,omitempty"`
	Value  *float64  `json:"value,omitempty"` // of a result line; nil with params, or for NaN
	Result bool      `json:"result,omitempty"`
}

// openSearch replays the log into runs (each trial proposed so far gets its values back) and keeps
// runs, whose variants propose then fills.
func openSearch(dir string, plan Plan, runs []Run) (*search, error) {
	objective, err := schedulerObjective(plan.Scheduler)
	if err != nil {
		return nil, err
	}
	sr := &search{seed: plan.SearchSeed, values: map[string]float64{}, value: bestOf(objective),
		runs: runs, byName: map[string]int{}}
	for i, r := range runs {
		sr.byName[r.Name] = i
	}
	if sr.log, err = openSharedLog(searchLog(dir)); err != nil {
		return nil, err
	}
	if err := sr.log.update(func(news [][]byte) ([]any, error) { return nil, sr.replay(news) }); err != nil {
		sr.log.close()
		return nil, err
	}
	return sr, nil
}

// replay applies logged proposals to their runs and records logged results.
func (sr *search) replay(news [][]byte) error {
	for n, text := range news {
		var l searchLine
		if err := json.Unmarshal(text, &l); err != nil {
			return fmt.Errorf("%s: %w", sr.log.where(n), err)
		}
		i, ok := sr.byName[l.Run]
		if !ok || sr.runs[i].space == nil {
			return fmt.Errorf("%s: %s is no trial of this plan", sr.log.where(n), l.Run)
		}
		if l.Result {
			sr.record(l.Run, valueOf(l.Value))
		} else {
			sr.runs[i].space.apply(&sr.runs[i].Variant, l.Params)
		}
	}
	return nil
}

// bestOf returns a run's value of the objective at its best epoch, negated when larger is better so
// that TPE always minimises; NaN for a run without an epoch.
func bestOf(o spec.Objective) func(spec.History) float64 {
	return func(h spec.History) float64 {
		e, ok := h.BestEpochBy(o)
		if !ok {
			return math.NaN()
		}
		v := h.At(e).Monitored(o.Monitor)
		if o.Greater {
			v = -v
		}
		return v
	}
}

func (sr *search) record(run string, value float64) {
	if _, seen := sr.values[run]; !seen {
		sr.order = append(sr.order, run)
	}
	sr.values[run] = value
}

// propose sets runs[i]'s values from the ended trials of its grid point and logs them.
func (sr *search) propose(runs []Run, i int) error {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	r := &runs[i]
	return sr.log.update(func(news [][]byte) ([]any, error) {
		if err := sr.replay(news); err != nil {
			return nil, err
		}
		var history []tpe.Trial
		for _, name := range sr.order {
			if j := sr.byName[name]; sr.runs[j].space == r.space {
				history = append(history, tpe.Trial{Params: r.space.encode(sr.runs[j].Variant), Value: sr.values[name]})
			}
		}
		x, err := r.space.sampler.Suggest(trialRNG(sr.seed, r.Trial-1), history)
		if err != nil {
			return nil, err
		}
		r.space.apply(&r.Variant, x)
		return []any{searchLine{Run: r.Name, Params: r.space.encode(r.Variant)}}, nil
	})
}

// ended records a trial's result (again after a promotion: its latest counts).
func (sr *search) ended(r Run, h spec.History) error {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	v := sr.value(h)
	return sr.log.update(func(news [][]byte) ([]any, error) {
		if err := sr.replay(news); err != nil {
			return nil, err
		}
		sr.record(r.Name, v)
		l := searchLine{Run: r.Name, Result: true}
		if !math.IsNaN(v) {
			l.Value = &v
		}
		return []any{l}, nil
	})
}

func (sr *search) close() error {
	if sr == nil {
		return nil
	}
	return sr.log.close()
}
