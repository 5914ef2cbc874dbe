package scheduler

import (
	"errors"
	"fmt"
)

// ASHA is asynchronous successive halving (Li et al., "A System for Massively Parallel Hyperparameter
// Tuning", MLSys 2020). Rungs stand at MinEpochs·η^k epochs below MaxEpochs. A trial that ends a
// rung's epoch goes on when it ranks in the top 1/η of the values recorded at that rung so far, and
// pauses otherwise; a paused trial is promoted later, when enough trials have reached its rung that it
// ranks in the top 1/η, and resumes from its checkpoint. No trial waits for another: a rung decides
// with what it has seen, so the search scales with the workers.
type ASHA struct {
	name   string
	mode   Mode
	eta    int
	max    int
	rungs  []rung // rungs[k].epoch = min·η^k, all below max
	trials map[string]int
}

type rung struct {
	epoch    int
	values   map[string]float64
	arrivals []string        // trials in the order they reached the rung
	promoted map[string]bool // trials that went on (at once or later) from the rung
}

// ASHAOptions configures NewASHA; zero fields take the defaults.
type ASHAOptions struct {
	Mode      Mode
	MinEpochs int // the first rung (default 1)
	MaxEpochs int // a trial's whole budget; required
	Eta       int // the reduction factor η (default 3)
}

func (o *ASHAOptions) fill() error {
	if o.MinEpochs == 0 {
		o.MinEpochs = 1
	}
	if o.Eta == 0 {
		o.Eta = 3
	}
	switch {
	case o.MaxEpochs < 1:
		return fmt.Errorf("asha: max epochs must be at least 1, got %d", o.MaxEpochs)
	case o.MinEpochs < 1 || o.MinEpochs > o.MaxEpochs:
		return fmt.Errorf("asha: min epochs must be in [1, %d], got %d", o.MaxEpochs, o.MinEpochs)
	case o.Eta < 2:
		return errors.New("asha: eta must be at least 2")
	}
	return nil
}

// NewASHA returns an ASHA scheduler.
func NewASHA(o ASHAOptions) (*ASHA, error) {
	if err := o.fill(); err != nil {
		return nil, err
	}
	return newASHA("asha", o), nil
}

func newASHA(name string, o ASHAOptions) *ASHA {
	a := &ASHA{name: name, mode: o.Mode, eta: o.Eta, max: o.MaxEpochs, trials: map[string]int{}}
	// The epoch grows by a factor of at least 2 each rung, so the loop ends within 63 turns; the
	// bound check before the multiplication keeps it from overflowing.
	for e := o.MinEpochs; e < o.MaxEpochs; {
		a.rungs = append(a.rungs, rung{epoch: e, values: map[string]float64{}, promoted: map[string]bool{}})
		if e > o.MaxEpochs/o.Eta {
			break
		}
		e *= o.Eta
	}
	return a
}

// Name is the scheduler's flag spelling.
func (a *ASHA) Name() string { return a.name }

// RungEpochs lists the epochs at which the rungs decide.
func (a *ASHA) RungEpochs() []int {
	out := make([]int, len(a.rungs))
	for i, r := range a.rungs {
		out[i] = r.epoch
	}
	return out
}

// Report records a value at a rung's epoch and says whether the trial goes on or pauses there.
func (a *ASHA) Report(trial string, epoch int, value float64) Decision {
	k := a.rungAt(epoch)
	if k < 0 {
		return Decision{Rung: a.reached(trial)}
	}
	r := &a.rungs[k]
	if _, dup := r.values[trial]; !dup {
		r.arrivals = append(r.arrivals, trial)
	}
	r.values[trial] = value
	a.trials[trial] = k
	rank, of := rankOf(a.mode, valuesOf(r), value)
	if r.promoted[trial] || rank <= of/a.eta {
		r.promoted[trial] = true
		return Decision{Rung: k, Reason: fmt.Sprintf("promoted at epoch %d by %s: rank %d of %d", epoch, a.name, rank, of)}
	}
	return Decision{Action: Pause, Rung: k, Reason: fmt.Sprintf("paused at epoch %d by %s: rank %d of %d", epoch, a.name, rank, of)}
}

// Promotions returns the paused trials that now rank in the top 1/η of their rung, the highest rung
// first (its trials are closest to done), and marks them promoted.
func (a *ASHA) Promotions() []Promotion {
	var out []Promotion
	for k := len(a.rungs) - 1; k >= 0; k-- {
		r := &a.rungs[k]
		top := len(r.values) / a.eta
		for i, trial := range sortedBest(a.mode, r.values, r.arrivals)[:top] {
			if r.promoted[trial] {
				continue
			}
			r.promoted[trial] = true
			out = append(out, Promotion{Trial: trial, Rung: k + 1, Epochs: a.nextEpoch(k),
				Reason: fmt.Sprintf("promoted at epoch %d by %s: rank %d of %d", r.epoch, a.name, i+1, len(r.values))})
		}
	}
	return out
}

// nextEpoch is the epoch a trial promoted from rung k trains to.
func (a *ASHA) nextEpoch(k int) int {
	if k+1 < len(a.rungs) {
		return a.rungs[k+1].epoch
	}
	return a.max
}

func (a *ASHA) rungAt(epoch int) int {
	for k, r := range a.rungs {
		if r.epoch == epoch {
			return k
		}
	}
	return -1
}

func (a *ASHA) reached(trial string) int {
	if k, ok := a.trials[trial]; ok {
		return k
	}
	return -1
}

func valuesOf(r *rung) []float64 {
	out := make([]float64, 0, len(r.values))
	for _, t := range r.arrivals {
		out = append(out, r.values[t])
	}
	return out
}
