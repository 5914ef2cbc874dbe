// Package scheduler decides which trials of a search keep training: median stopping (Google Vizier's
// rule), asynchronous successive halving (ASHA, Li et al. 2020) and Hyperband as brackets of ASHA.
//
// The package only decides; it trains nothing and keeps no clock. The runner reports each trial's
// metric at the end of every epoch and does what the decision says: go on, stop for good, or pause
// at a rung until a promotion resumes it from its checkpoint. Decisions depend on the reports and
// their order alone, so replaying the same reports in the same order gives the same decisions; that
// is what makes a search resumable after a crash (replay the recorded reports) and reproducible with
// one worker.
package scheduler

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// Mode says whether a smaller or a larger metric is better.
type Mode int

// Modes of a metric.
const (
	Min Mode = iota // losses
	Max             // accuracies
)

// ParseMode reads "min" or "max".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "min":
		return Min, nil
	case "max":
		return Max, nil
	}
	return Min, fmt.Errorf("unknown mode %q (want min or max)", s)
}

func (m Mode) String() string {
	if m == Max {
		return "max"
	}
	return "min"
}

// better reports whether a is strictly better than b; NaN is worse than every number.
func (m Mode) better(a, b float64) bool { return m.sortKey(a) < m.sortKey(b) }

// worse reports whether a is strictly worse than b.
func (m Mode) worse(a, b float64) bool { return m.better(b, a) }

// sortKey orders values best first: the value itself for Min, its negation for Max. NaN (a diverged
// trial) sorts last.
func (m Mode) sortKey(v float64) float64 {
	switch {
	case math.IsNaN(v):
		return math.Inf(1)
	case m == Max:
		return -v
	}
	return v
}

// Action is what a trial does after an epoch's report.
type Action int

// Actions, in the order a trial's life meets them.
const (
	Continue Action = iota // train the next epoch
	Pause                  // stop at this rung; a later promotion may resume it from its checkpoint
	Stop                   // stop for good: pruned
)

func (a Action) String() string {
	switch a {
	case Pause:
		return "pause"
	case Stop:
		return "stop"
	}
	return "continue"
}

// Decision is an action with the reason a person reads in the console, the report and the logs
// ("pruned at epoch 3 by asha: rank 7 of 9").
type Decision struct {
	Action Action
	Rung   int    // ASHA and Hyperband: the rung the trial has reached (0-based); -1 before the first
	Reason string // empty for Continue
}

// Scheduler is a trial scheduler. Report is called once per trial and epoch, epochs counted from 1,
// in the order the epochs end; the value is the trial's metric at that epoch.
type Scheduler interface {
	Report(trial string, epoch int, value float64) Decision
	// Promotions lists the paused trials that may now resume, each at most once over the search, in
	// the order to resume them. The runner claims each before it trains it.
	Promotions() []Promotion
	// Name is the scheduler's flag spelling (median, asha, hyperband).
	Name() string
}

// Promotion resumes a paused trial: it trains on from its checkpoint until Epochs.
type Promotion struct {
	Trial  string
	Rung   int // the rung it is promoted to
	Epochs int // the epoch it now trains to
	Reason string
}

// rankOf returns the 1-based rank of value among values (best first; ties share the better rank)
// and how many values there are.
func rankOf(mode Mode, values []float64, value float64) (rank, of int) {
	rank = 1
	for _, v := range values {
		if mode.sortKey(v) < mode.sortKey(value) {
			rank++
		}
	}
	return rank, len(values)
}

// sortedBest returns the keys of values ordered best first; ties keep the order of arrival given by
// order.
func sortedBest(mode Mode, values map[string]float64, order []string) []string {
	keys := slices.Clone(order)
	slices.SortStableFunc(keys, func(a, b string) int {
		return cmp.Compare(mode.sortKey(values[a]), mode.sortKey(values[b]))
	})
	return keys
}
