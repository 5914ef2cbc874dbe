package model

import (
	"math"
	"slices"
	"testing"
)

// trialStateFixture is a trained group of three trials with batch norm, its data and batches.
type trialStateFixture struct {
	trials     []Config
	f          *Fused
	train, val *Examples
	order      [][]int32
	losses     []float32
	accs       []float32
}

const trialStateBatch, trialStateSteps = 32, 3

func newTrialStateFixture(t *testing.T) *trialStateFixture {
	trials := fusedTrialConfigs(true)[:3]
	trials[1].KeepValidationProbabilities = true
	features, k := inputs(trials[0]), classes(trials[0])
	n := 4 * trialStateSteps * trialStateBatch
	pixels, labels := randomBatch(5, n, features, k)
	valPixels, valLabels := randomBatch(6, 300, features, k)
	x := &trialStateFixture{trials: trials, f: newFused(t, trials), order: epochBatches(n, trialStateBatch, 7),
		train: newExamples(t, pixels, labels, features), val: newExamples(t, valPixels, valLabels, features),
		losses: make([]float32, len(trials)), accs: make([]float32, len(trials))}
	if err := x.f.Bind(x.train, x.val); err != nil {
		t.Fatal(err)
	}
	return x
}

// steps trains the shared batches [from, to) of the order.
func (x *trialStateFixture) steps(t *testing.T, from, to int, each func()) {
	t.Helper()
	for _, b := range x.order[from:to] {
		if err := x.f.TrainSharedStep(b, x.losses, x.accs); err != nil {
			t.Fatal(err)
		}
		each()
	}
}

// TestFusedTrialState moves a trial's whole state out of a Fused into a Model and back into another
// trial: after it, the two trials are one state, so that on shared batches they train to the same
// bits, which fails if any variable (an Adam slot, a moving statistic, the step count, the learning
// rate) was left behind. The Model that received the state validates as the group does.
func TestFusedTrialState(t *testing.T) {
	x := newTrialStateFixture(t)
	x.steps(t, 0, trialStateSteps, func() {})
	m := newModel(t, x.trials[1])
	if err := x.f.CopyTrialsTo([]int{1}, []*Model{m}); err != nil {
		t.Fatal(err)
	}
	if m.Iterations() != trialStateSteps {
		t.Errorf("the model's step count is %d after CopyTrialsTo, want %d", m.Iterations(), trialStateSteps)
	}
	if lr, err := m.LearningRate(); err != nil || lr != float64(float32(x.trials[1].LearningRate)) {
		t.Errorf("the model's learning rate is %v (%v), want trial 1's %v", lr, err, x.trials[1].LearningRate)
	}
	got, err := m.Weights()
	if err != nil {
		t.Fatal(err)
	}
	assertSameWeights(t, "the model after CopyTrialsTo", got, mustWeights(t, x.f, 1))

	if err := m.SetLearningRate(0.004); err != nil {
		t.Fatal(err)
	}
	if err := x.f.CopyTrialsFrom([]int{2}, []*Model{m}); err != nil {
		t.Fatal(err)
	}
	if lr, err := x.f.TrialLearningRate(2); err != nil || lr != float64(float32(0.004)) {
		t.Errorf("trial 2's learning rate is %v (%v) after CopyTrialsFrom, want 0.004", lr, err)
	}
	if err := x.f.SetTrialLearningRate(1, 0.004); err != nil {
		t.Fatal(err)
	}
	x.steps(t, trialStateSteps, 2*trialStateSteps, func() {
		if math.Float32bits(x.losses[1]) != math.Float32bits(x.losses[2]) {
			t.Fatalf("trial 1 and trial 2, one state, lost %v and %v on one batch", x.losses[1], x.losses[2])
		}
	})
	assertSameWeights(t, "trial 2 against trial 1", mustWeights(t, x.f, 2), mustWeights(t, x.f, 1))
	checkValidatesAsTheGroup(t, x, m)

	mo := newModel(t, fusedTrialConfigs(false)[0])
	if err := x.f.CopyTrialsTo([]int{0}, []*Model{mo}); err == nil {
		t.Error("CopyTrialsTo a model without batch norm succeeded")
	}
	if err := x.f.SetTrialLearningRate(0, math.NaN()); err == nil {
		t.Error("SetTrialLearningRate(NaN) succeeded")
	}
}

// checkValidatesAsTheGroup copies trial 1 into m, bound to the group's data, and compares their
// validations: the loss, the accuracy and every probability.
func checkValidatesAsTheGroup(t *testing.T, x *trialStateFixture, m *Model) {
	t.Helper()
	if err := m.Bind(x.train, x.val); err != nil {
		t.Fatal(err)
	}
	if err := x.f.CopyTrialsTo([]int{1}, []*Model{m}); err != nil {
		t.Fatal(err)
	}
	fusedLoss, fusedAcc, err := x.f.Validate()
	if err != nil {
		t.Fatal(err)
	}
	loss, acc, err := m.Validate()
	if err != nil {
		t.Fatal(err)
	}
	if relDiff(loss, fusedLoss[1]) > 1e-5 || acc != fusedAcc[1] {
		t.Errorf("the model validates %v, %v; trial 1 in the group %v, %v", loss, acc, fusedLoss[1], fusedAcc[1])
	}
	k := classes(x.trials[1])
	mp, fp := m.ValidationProbabilities(), x.f.ValidationProbabilities(1)
	if len(fp) != len(mp) || len(fp) != 300*k {
		t.Fatalf("trial 1's validation probabilities are %d values, the model's %d, want %d", len(fp), len(mp), 300*k)
	}
	for i := range fp {
		if math.Abs(float64(fp[i]-mp[i])) > 1e-5 {
			t.Fatalf("probability %d: trial 1's %v, the model's %v", i, fp[i], mp[i])
		}
	}
}

func assertSameWeights(t *testing.T, what string, got, want []Weight) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d weights, want %d", what, len(got), len(want))
	}
	for i := range want {
		if got[i].Name != want[i].Name || !slices.Equal(got[i].Values, want[i].Values) {
			t.Errorf("%s: weight %s differs from %s", what, got[i].Name, want[i].Name)
		}
	}
}

// Several trials move in one call, each to its own model: here models that start from other
// trials' weights.
func TestFusedTrialsCopyTogether(t *testing.T) {
	trials := fusedTrialConfigs(false)[:3]
	f := newFused(t, trials)
	models := []*Model{newModel(t, trials[0]), newModel(t, trials[2])}
	if before, _ := models[0].Weights(); slices.Equal(before[0].Values, mustWeights(t, f, 2)[0].Values) {
		t.Fatal("trial 2 starts from trial 0's weights: the copy would show nothing")
	}
	if err := f.CopyTrialsTo([]int{2, 0}, models); err != nil {
		t.Fatal(err)
	}
	for i, trial := range []int{2, 0} {
		want, err := f.Weights(trial)
		if err != nil {
			t.Fatal(err)
		}
		got, err := models[i].Weights()
		if err != nil {
			t.Fatal(err)
		}
		assertSameWeights(t, "a model copied with another", got, want)
	}
	if err := f.CopyTrialsFrom([]int{1, 1}, models); err == nil {
		t.Error("CopyTrialsFrom took trial 1 twice")
	}
	if err := f.CopyTrialsTo([]int{1}, models); err == nil {
		t.Error("CopyTrialsTo took one trial for two models")
	}
}

func mustWeights(t *testing.T, f *Fused, trial int) []Weight {
	t.Helper()
	w, err := f.Weights(trial)
	if err != nil {
		t.Fatal(err)
	}
	return w
}
