package model

import (
	"math"
	"slices"
	"testing"
)

// TestFusedTrialState moves a trial's whole state out of a Fused into a Model and back into another
// trial: after it, the two trials are one state, so that on shared batches they train to the same
// bits, which fails if any variable (an Adam slot, a moving statistic, the step count, the learning
// rate) was left behind. The Model that received the state validates as the group does.
func TestFusedTrialState(t *testing.T) {
	trials := fusedTrialConfigs(true)[:3]
	trials[1].KeepValidationProbabilities = true
	const batch, steps = 32, 3
	features, k := inputs(trials[0]), classes(trials[0])
	pixels, labels := randomBatch(5, 4*steps*batch, features, k)
	valPixels, valLabels := randomBatch(6, 300, features, k)
	train, val := newExamples(t, pixels, labels, features), newExamples(t, valPixels, valLabels, features)
	f := newFused(t, trials)
	if err := f.Bind(train, val); err != nil {
		t.Fatal(err)
	}
	order := epochBatches(4*steps*batch, batch, 7)
	losses, accs := make([]float32, len(trials)), make([]float32, len(trials))
	step := func(b []int32) {
		t.Helper()
		if err := f.TrainSharedStep(b, losses, accs); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range order[:steps] {
		step(b)
	}

	shadowCfg := trials[1]
	m := newModel(t, shadowCfg)
	if err := f.CopyTrialsTo([]int{1}, []*Model{m}); err != nil {
		t.Fatal(err)
	}
	if m.Iterations() != steps {
		t.Errorf("the model's step count is %d after CopyTrialsTo, want %d", m.Iterations(), steps)
	}
	if lr, err := m.LearningRate(); err != nil || lr != float64(float32(trials[1].LearningRate)) {
		t.Errorf("the model's learning rate is %v (%v), want trial 1's %v", lr, err, trials[1].LearningRate)
	}
	want, err := f.Weights(1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Weights()
	if err != nil {
		t.Fatal(err)
	}
	assertSameWeights(t, "the model after CopyTrialsTo", got, want)

	if err := m.SetLearningRate(0.004); err != nil {
		t.Fatal(err)
	}
	if err := f.CopyTrialsFrom([]int{2}, []*Model{m}); err != nil {
		t.Fatal(err)
	}
	if lr, err := f.TrialLearningRate(2); err != nil || lr != float64(float32(0.004)) {
		t.Errorf("trial 2's learning rate is %v (%v) after CopyTrialsFrom, want 0.004", lr, err)
	}
	if err := f.SetTrialLearningRate(1, 0.004); err != nil {
		t.Fatal(err)
	}
	for _, b := range order[steps : 2*steps] {
		step(b)
		if math.Float32bits(losses[1]) != math.Float32bits(losses[2]) {
			t.Fatalf("trial 1 and trial 2, one state, lost %v and %v on one batch", losses[1], losses[2])
		}
	}
	w1, _ := f.Weights(1)
	w2, err := f.Weights(2)
	if err != nil {
		t.Fatal(err)
	}
	assertSameWeights(t, "trial 2 against trial 1", w2, w1)

	if err := m.Bind(train, val); err != nil {
		t.Fatal(err)
	}
	if err := f.CopyTrialsTo([]int{1}, []*Model{m}); err != nil {
		t.Fatal(err)
	}
	fusedLoss, fusedAcc, err := f.Validate()
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
	mp, fp := m.ValidationProbabilities(), f.ValidationProbabilities(1)
	if len(fp) != len(mp) || len(fp) != 300*k {
		t.Fatalf("trial 1's validation probabilities are %d values, the model's %d, want %d", len(fp), len(mp), 300*k)
	}
	for i := range fp {
		if math.Abs(float64(fp[i]-mp[i])) > 1e-5 {
			t.Fatalf("probability %d: trial 1's %v, the model's %v", i, fp[i], mp[i])
		}
	}

	other := fusedTrialConfigs(false)[0]
	mo := newModel(t, other)
	if err := f.CopyTrialsTo([]int{0}, []*Model{mo}); err == nil {
		t.Error("CopyTrialsTo a model without batch norm succeeded")
	}
	if err := f.SetTrialLearningRate(0, math.NaN()); err == nil {
		t.Error("SetTrialLearningRate(NaN) succeeded")
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
