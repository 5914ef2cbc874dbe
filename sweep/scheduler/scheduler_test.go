package scheduler

import (
	"math"
	"slices"
	"strconv"
	"testing"
)

type report struct {
	trial string
	epoch int
	value float64
	want  Decision
}

func replay(t *testing.T, s Scheduler, reports []report) {
	t.Helper()
	for i, r := range reports {
		if got := s.Report(r.trial, r.epoch, r.value); got != r.want {
			t.Errorf("report %d (%s epoch %d = %v): got %+v, want %+v", i, r.trial, r.epoch, r.value, got, r.want)
		}
	}
}

// The decisions below were computed by hand from Vizier's rule: at epoch e > grace, stop when the
// trial's best so far is worse than the median of the other trials' means over epochs 1..e.
func TestMedianDecisions(t *testing.T) {
	m := NewMedian(MedianOptions{GraceEpochs: 1, MinTrials: 2})
	go_ := Decision{Rung: -1}
	nan := math.NaN()
	replay(t, m, []report{
		{"A", 1, 1.0, go_}, {"B", 1, 0.9, go_}, {"C", 1, 1.2, go_}, // within the grace period
		{"A", 2, 0.8, go_}, // no other trial has reached epoch 2
		{"B", 2, 0.7, go_}, // one other (A) is fewer than MinTrials
		// A's mean 0.9, B's 0.8: median 0.85; C's best 1.1 is worse.
		{"C", 2, 1.1, Decision{Action: Stop, Rung: -1, Reason: "pruned at epoch 2 by median: best 1.1 worse than the median 0.85 of 2 other trials"}},
		{"D", 1, 0.5, go_},
		// A 0.9, B 0.8, C 1.15: median 0.9; D's best is 0.5 (epoch 1), better.
		{"D", 2, 0.95, go_},
		{"E", 1, nan, go_},
		// A 0.9, B 0.8, C 1.15, D 0.725: median 0.85; a NaN best is worse than any number.
		{"E", 2, nan, Decision{Action: Stop, Rung: -1, Reason: "pruned at epoch 2 by median: best NaN worse than the median 0.85 of 4 other trials"}},
		{"A", 3, 0.6, go_},
	})
	if p := m.Promotions(); p != nil {
		t.Errorf("median promoted %v", p)
	}
}

func TestMedianMaxMode(t *testing.T) {
	m := NewMedian(MedianOptions{Mode: Max, GraceEpochs: 1, MinTrials: 1})
	replay(t, m, []report{
		{"A", 1, 0.90, Decision{Rung: -1}}, {"A", 2, 0.92, Decision{Rung: -1}},
		{"B", 1, 0.50, Decision{Rung: -1}},
		// A's mean 0.91 is the median; B's best accuracy 0.6 is below it.
		{"B", 2, 0.60, Decision{Action: Stop, Rung: -1, Reason: "pruned at epoch 2 by median: best 0.6 worse than the median 0.91 of 1 other trials"}},
	})
}

// Rungs at epochs 1 and 3 (η = 3, max 9). The ranks and the top-⌊n/3⌋ cut-offs are worked out by hand.
func TestASHADecisions(t *testing.T) {
	a, err := NewASHA(ASHAOptions{MinEpochs: 1, MaxEpochs: 9, Eta: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := a.RungEpochs(); !slices.Equal(got, []int{1, 3}) {
		t.Fatalf("rungs %v, want [1 3]", got)
	}
	pause := func(epoch, rank, of int) Decision {
		return Decision{Action: Pause, Rung: rungFor(epoch), Reason: "paused at epoch " + itoa(epoch) + " by asha: rank " + itoa(rank) + " of " + itoa(of)}
	}
	promote := func(epoch, rank, of int) Decision {
		return Decision{Rung: rungFor(epoch), Reason: "promoted at epoch " + itoa(epoch) + " by asha: rank " + itoa(rank) + " of " + itoa(of)}
	}
	replay(t, a, []report{
		{"A", 1, 0.5, pause(1, 1, 1)}, // top ⌊1/3⌋ = 0
		{"B", 1, 0.4, pause(1, 1, 2)},
		{"C", 1, 0.6, pause(1, 3, 3)}, // top 1 is now B, paused: a promotion
	})
	want := []Promotion{{Trial: "B", Rung: 1, Epochs: 3, Reason: "promoted at epoch 1 by asha: rank 1 of 3"}}
	if got := a.Promotions(); !slices.Equal(got, want) {
		t.Fatalf("promotions %+v, want %+v", got, want)
	}
	if got := a.Promotions(); len(got) != 0 {
		t.Fatalf("B promoted twice: %+v", got)
	}
	replay(t, a, []report{
		{"D", 1, 0.3, promote(1, 1, 4)},
		{"E", 1, 0.7, pause(1, 5, 5)},
		{"F", 1, 0.2, promote(1, 1, 6)}, // top 2: F, D
		{"A", 2, 0.45, Decision{Rung: 0}},
		{"B", 3, 0.35, pause(3, 1, 1)},
		{"D", 3, 0.25, pause(3, 1, 2)},
		{"F", 3, 0.10, promote(3, 1, 3)},
		{"F", 9, 0.05, Decision{Rung: 1}}, // the last epoch is no rung
	})
	if got := a.Promotions(); len(got) != 0 {
		t.Fatalf("unexpected promotions %+v", got)
	}
	replay(t, a, []report{{"G", 1, 0.9, pause(1, 7, 7)}, {"H", 1, 0.8, pause(1, 7, 8)}, {"I", 1, 0.85, pause(1, 8, 9)}})
	// Rung 0 now holds 9 values: its top 3 are F, D, B, all promoted already. Rung 1 holds B, D, F: top 1 = F.
	if got := a.Promotions(); len(got) != 0 {
		t.Fatalf("unexpected promotions %+v", got)
	}
	replay(t, a, []report{{"J", 1, 0.1, promote(1, 1, 10)}})
}

func TestASHARungs(t *testing.T) {
	for _, c := range []struct {
		min, max, eta int
		want          []int
	}{
		{1, 9, 3, []int{1, 3}},
		{1, 10, 3, []int{1, 3, 9}},
		{1, 1, 3, nil},
		{2, 27, 2, []int{2, 4, 8, 16}},
		{1, math.MaxInt, 2, nil}, // checked below by length: 62 rungs and no overflow
	} {
		a, err := NewASHA(ASHAOptions{MinEpochs: c.min, MaxEpochs: c.max, Eta: c.eta})
		if err != nil {
			t.Fatal(err)
		}
		got := a.RungEpochs()
		if c.max == math.MaxInt {
			if len(got) != 63 || got[62] != 1<<62 {
				t.Errorf("max int: %d rungs, last %d", len(got), got[len(got)-1])
			}
			continue
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("min %d max %d eta %d: rungs %v, want %v", c.min, c.max, c.eta, got, c.want)
		}
	}
	for _, o := range []ASHAOptions{{MaxEpochs: 0}, {MinEpochs: 5, MaxEpochs: 4}, {MaxEpochs: 5, Eta: 1}} {
		if _, err := NewASHA(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

// Brackets for max 9, η 3: rungs [1 3], [3], []. Shares 3 : 1.5 : 1; the trials join the bracket
// furthest below its share: 0, 1, 0, 2, 0, 1 (worked out by hand).
func TestHyperbandBrackets(t *testing.T) {
	h, err := NewHyperband(ASHAOptions{MinEpochs: 1, MaxEpochs: 9, Eta: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Brackets(); len(got) != 3 || !slices.Equal(got[0], []int{1, 3}) || !slices.Equal(got[1], []int{3}) || len(got[2]) != 0 {
		t.Fatalf("brackets %v", got)
	}
	var got []int
	for _, trial := range []string{"t1", "t2", "t3", "t4", "t5", "t6"} {
		got = append(got, h.BracketOf(trial))
	}
	if want := []int{0, 1, 0, 2, 0, 1}; !slices.Equal(got, want) {
		t.Fatalf("brackets %v, want %v", got, want)
	}
	if h.BracketOf("t1") != 0 {
		t.Fatal("a trial changed bracket")
	}
	// t2 is in bracket 1, whose only rung is epoch 3: epoch 1 is no rung there.
	if d := h.Report("t2", 1, 0.1); d.Action != Continue || d.Rung != -1 {
		t.Fatalf("t2 epoch 1: %+v", d)
	}
	if d := h.Report("t2", 3, 0.1); d.Action != Pause || d.Reason != "paused at epoch 3 by hyperband bracket 1: rank 1 of 1" {
		t.Fatalf("t2 epoch 3: %+v", d)
	}
	if d := h.Report("t4", 5, 0.1); d.Action != Continue {
		t.Fatalf("bracket 2 has no rungs: %+v", d)
	}
}

func TestParseMode(t *testing.T) {
	for s, want := range map[string]Mode{"min": Min, "max": Max} {
		if got, err := ParseMode(s); err != nil || got != want || got.String() != s {
			t.Errorf("%s: %v %v", s, got, err)
		}
	}
	if _, err := ParseMode("best"); err == nil {
		t.Error("best accepted")
	}
}

func rungFor(epoch int) int {
	if epoch == 3 {
		return 1
	}
	return 0
}

func itoa(n int) string { return strconv.Itoa(n) }
