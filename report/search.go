package report

import (
	"cmp"
	"math"
	"slices"

	"github.com/tfsweep/tfsweep/spec"
)

// A scheduled search (tfsweep run --scheduler) stops or pauses trials early, so the report ranks
// its trials by the best validation loss each reached, not by its last, and plots how the best
// loss found fell as the search spent epochs: the price of a search is its epochs, and a scheduler
// earns its keep by reaching a low loss in fewer of them.

// Scheduled reports whether a scheduler pruned or paused any run of the sweep.
func (s *Sweep) Scheduled() bool {
	return slices.ContainsFunc(s.Runs, func(r Run) bool { return r.Status.Stopped() })
}

// Ranked is a run in the ranking of a search: its best epoch by validation loss.
type Ranked struct {
	Rank   int         `json:"rank"` // 1-based
	Run    string      `json:"run"`
	Status spec.Status `json:"status"`
	Reason string      `json:"reason,omitempty"`
	Epochs int         `json:"epochs"`     // epochs it logged
	Best   Number      `json:"val_loss"`   // its lowest validation loss; null when it logged none
	At     int64       `json:"best_epoch"` // the 0-based epoch (TensorBoard step) of Best; -1 without
	// ValAccuracy is the validation accuracy of that epoch.
	ValAccuracy Number `json:"val_accuracy"`
}

// Ranking orders the runs by their lowest validation loss, the runs without one last, ties by name.
func (s *Sweep) Ranking() []Ranked {
	out := make([]Ranked, len(s.Runs))
	for i, r := range s.Runs {
		out[i] = Ranked{Run: r.Name, Status: r.Status, Reason: r.Reason, Epochs: r.Epochs(), Best: Number(math.NaN()), At: -1, ValAccuracy: Number(math.NaN())}
		if p, ok := r.Curves.ValLoss.lowest(); ok {
			out[i].Best, out[i].At = Number(p.Value), p.Step
			if acc, ok := r.Curves.ValAccuracy.at(p.Step); ok {
				out[i].ValAccuracy = Number(acc)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Ranked) int {
		an, bn := math.IsNaN(float64(a.Best)), math.IsNaN(float64(b.Best))
		if an || bn {
			return cmp.Or(compareBool(an, bn), naturalCompare(a.Run, b.Run))
		}
		return cmp.Or(cmp.Compare(a.Best, b.Best), naturalCompare(a.Run, b.Run))
	})
	for i := range out {
		out[i].Rank = i + 1
	}
	return out
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// lowest is the point of the lowest value, the earliest of equals; NaN never counts.
func (s Series) lowest() (Point, bool) {
	best := -1
	for i, p := range s {
		if !math.IsNaN(p.Value) && (best < 0 || p.Value < s[best].Value) {
			best = i
		}
	}
	if best < 0 {
		return Point{}, false
	}
	return s[best], true
}

// at is the value at a step.
func (s Series) at(step int64) (float64, bool) {
	i, found := slices.BinarySearchFunc(s, step, func(p Point, step int64) int { return cmp.Compare(p.Step, step) })
	if !found {
		return math.NaN(), false
	}
	return s[i].Value, true
}

// Spent is the search after one more epoch of some run: the epochs every run trained so far, and
// the lowest validation loss any of them had reached.
type Spent struct {
	Epochs int    `json:"epochs"`
	Best   Number `json:"best_val_loss"`
	Run    string `json:"run"` // the run whose epoch this was
}

// BestVsEpochs replays the sweep's validation epochs in the order they were logged (their events'
// wall times; ties by run name and epoch) and gives the best loss found after each. Epochs whose
// loss is NaN count as spent; the best before the first number is NaN.
func (s *Sweep) BestVsEpochs() []Spent {
	type epoch struct {
		run string
		p   Point
	}
	var all []epoch
	for _, r := range s.Runs {
		for _, p := range r.Curves.ValLoss {
			all = append(all, epoch{r.Name, p})
		}
	}
	slices.SortStableFunc(all, func(a, b epoch) int {
		return cmp.Or(cmp.Compare(a.p.Wall, b.p.Wall), naturalCompare(a.run, b.run), cmp.Compare(a.p.Step, b.p.Step))
	})
	out := make([]Spent, len(all))
	best := math.NaN()
	for i, e := range all {
		if !math.IsNaN(e.p.Value) && (math.IsNaN(best) || e.p.Value < best) {
			best = e.p.Value
		}
		out[i] = Spent{Epochs: i + 1, Best: Number(best), Run: e.run}
	}
	return out
}

// searchFigure plots BestVsEpochs: x the epochs spent, y the best validation loss so far.
func (s *Sweep) searchFigure() Figure {
	f := Figure{
		File: FiguresDir + "/search-best-val-loss.png", Title: "Search: best validation loss against epochs spent",
		Split: Validation, XLabel: "epochs trained, all runs together", YLabel: "best val loss so far (epoch_loss)",
		search: true,
	}
	var line Series
	for _, sp := range s.BestVsEpochs() {
		line = append(line, Point{Step: int64(sp.Epochs), Value: float64(sp.Best)})
	}
	f.Lines = []Line{{Label: "best so far", Points: line}}
	return f
}
