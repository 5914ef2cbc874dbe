package scheduler

import (
	"fmt"
	"slices"
)

// Median is Google Vizier's median stopping rule: a trial is stopped at epoch e when its best value
// so far is worse than the median of the running averages, up to epoch e, of the other trials that
// have reached e. It never pauses and never promotes.
type Median struct {
	mode        Mode
	grace       int // no trial stops at an epoch <= grace
	minOthers   int // the rule waits for this many other trials at an epoch
	curves      map[string][]float64
	best        map[string]float64
	arrivalList []string
}

// MedianOptions configures NewMedian; zero fields take the defaults.
type MedianOptions struct {
	Mode Mode
	// GraceEpochs: no trial is stopped at an epoch at or below it (default 1).
	GraceEpochs int
	// MinTrials: the rule decides at epoch e only when at least this many other trials have reported
	// e (default 3, as Ray Tune's min_samples_required).
	MinTrials int
}

// NewMedian returns the median stopping rule.
func NewMedian(o MedianOptions) *Median {
	if o.GraceEpochs <= 0 {
		o.GraceEpochs = 1
	}
	if o.MinTrials <= 0 {
		o.MinTrials = 3
	}
	return &Median{mode: o.Mode, grace: o.GraceEpochs, minOthers: o.MinTrials,
		curves: map[string][]float64{}, best: map[string]float64{}}
}

// Name is "median".
func (m *Median) Name() string { return "median" }

// Promotions is always empty: the rule only stops.
func (m *Median) Promotions() []Promotion { return nil }

// Report records the value and stops the trial when the rule says so.
func (m *Median) Report(trial string, epoch int, value float64) Decision {
	curve, seen := m.curves[trial]
	if !seen {
		m.arrivalList = append(m.arrivalList, trial)
	}
	if epoch != len(curve)+1 {
		return Decision{Action: Stop, Rung: -1, Reason: fmt.Sprintf("epoch %d reported after %d: out of order", epoch, len(curve))}
	}
	m.curves[trial] = append(curve, value)
	if b, ok := m.best[trial]; !ok || m.mode.better(value, b) {
		m.best[trial] = value
	}
	if epoch <= m.grace {
		return Decision{Rung: -1}
	}
	averages := m.othersAverages(trial, epoch)
	if len(averages) < m.minOthers {
		return Decision{Rung: -1}
	}
	median := m.medianOf(averages)
	if best := m.best[trial]; m.mode.worse(best, median) {
		return Decision{Action: Stop, Rung: -1, Reason: fmt.Sprintf(
			"pruned at epoch %d by median: best %.4g worse than the median %.4g of %d other trials", epoch, best, median, len(averages))}
	}
	return Decision{Rung: -1}
}

// othersAverages returns the running averages up to epoch of every other trial that has reached it,
// in arrival order.
func (m *Median) othersAverages(trial string, epoch int) []float64 {
	var out []float64
	for _, other := range m.arrivalList {
		curve := m.curves[other]
		if other == trial || len(curve) < epoch {
			continue
		}
		sum := 0.0
		for _, v := range curve[:epoch] {
			sum += v
		}
		out = append(out, sum/float64(epoch))
	}
	return out
}

// medianOf returns the median of values (the mean of the middle two for an even count), with NaN
// counted as the worst value.
func (m *Median) medianOf(values []float64) float64 {
	keys := make([]float64, len(values))
	for i, v := range values {
		keys[i] = m.mode.sortKey(v)
	}
	slices.Sort(keys)
	n := len(keys)
	key := keys[n/2]
	if n%2 == 0 {
		key = (keys[n/2-1] + keys[n/2]) / 2
	}
	if m.mode == Max {
		return -key
	}
	return key
}
