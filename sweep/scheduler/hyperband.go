package scheduler

import (
	"fmt"
	"math"
)

// Hyperband runs several ASHA brackets side by side (Li et al. 2018, asynchronous as in Li et al.
// 2020): bracket s starts its rungs at MinEpochs·η^s, so bracket 0 prunes most aggressively and the
// last bracket trains every trial to MaxEpochs. A new trial joins the bracket furthest below its share
// of the trials; the shares are Hyperband's, n_s ∝ η^(S−s)/(S−s+1), which give every bracket about the
// same budget of epochs.
type Hyperband struct {
	brackets []*ASHA
	shares   []float64
	counts   []int
	bracket  map[string]int
	total    int
}

// NewHyperband returns a Hyperband scheduler with as many brackets as rungs fit between MinEpochs
// and MaxEpochs.
func NewHyperband(o ASHAOptions) (*Hyperband, error) {
	if err := o.fill(); err != nil {
		return nil, err
	}
	h := &Hyperband{bracket: map[string]int{}}
	// Bracket s starts at MinEpochs·η^s <= MaxEpochs; the check before the multiplication keeps the
	// epoch from overflowing.
	for s, e := 0, o.MinEpochs; ; s++ {
		b := o
		b.MinEpochs = e
		h.brackets = append(h.brackets, newASHA(fmt.Sprintf("hyperband bracket %d", s), b))
		if e > o.MaxEpochs/o.Eta {
			break
		}
		e *= o.Eta
	}
	last := len(h.brackets) - 1
	sum := 0.0
	for s := range h.brackets {
		share := math.Pow(float64(o.Eta), float64(last-s)) / float64(last-s+1)
		h.shares = append(h.shares, share)
		sum += share
	}
	for s := range h.shares {
		h.shares[s] /= sum
	}
	h.counts = make([]int, len(h.brackets))
	return h, nil
}

// Name is "hyperband".
func (h *Hyperband) Name() string { return "hyperband" }

// Brackets returns the rung epochs of each bracket.
func (h *Hyperband) Brackets() [][]int {
	out := make([][]int, len(h.brackets))
	for s, b := range h.brackets {
		out[s] = b.RungEpochs()
	}
	return out
}

// BracketOf assigns a trial to its bracket at its first call and returns it.
func (h *Hyperband) BracketOf(trial string) int {
	if s, ok := h.bracket[trial]; ok {
		return s
	}
	h.total++
	best, deficit := 0, math.Inf(-1)
	for s, share := range h.shares {
		if d := share*float64(h.total) - float64(h.counts[s]); d > deficit {
			best, deficit = s, d
		}
	}
	h.counts[best]++
	h.bracket[trial] = best
	return best
}

// Report passes the value to the trial's bracket.
func (h *Hyperband) Report(trial string, epoch int, value float64) Decision {
	return h.brackets[h.BracketOf(trial)].Report(trial, epoch, value)
}

// Promotions gathers every bracket's promotions, the first bracket first.
func (h *Hyperband) Promotions() []Promotion {
	var out []Promotion
	for _, b := range h.brackets {
		out = append(out, b.Promotions()...)
	}
	return out
}
