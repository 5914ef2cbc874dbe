package model

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/tfsweep/tfsweep/spec"
)

// modelTrialConfigs are three trials of net that differ in initialiser, seed and learning rate, on
// one thread, as a worker's share of one core trains them.
func modelTrialConfigs(net spec.Network) []Config {
	inits := []string{"xavier", "he_normal", "glorot_uniform"}
	rates := []float64{0.001, 0.003, 0.0005}
	trials := make([]Config, len(inits))
	for t := range trials {
		cfg := DefaultConfig()
		cfg.Network = withInit(net, inits[t])
		cfg.Seed, cfg.LearningRate = int64(21+t), rates[t]
		cfg.Device, cfg.IntraOpThreads, cfg.InterOpThreads = DeviceCPU, 1, 1
		trials[t] = cfg
	}
	return trials
}

// fusedModelNetworks are networks the batched MLP does not take: Keras' convnet (dropout 0.5), a
// small convnet with batch norm, a bias-less Conv2D, a residual Add and dropout, and the lab MLP
// with dropout and L2.
func fusedModelNetworks(t *testing.T) map[string]spec.Network {
	return map[string]spec.Network{
		"keras_convnet":     kerasConvnet(t),
		"batchnorm_convnet": residualConvnet(spec.Shape{28, 28, 1}, 10),
		"mlp_dropout_l2":    withL2(withDropout(mlp(784, []int{64, 32}, 10), 0.2), 1e-3),
	}
}

// TestFusedModelsMatchUnfused trains three trials of each network fused and as three Models on the
// same batches, each trial in its own order (TrainStep) or all in one (TrainSharedStep), and holds
// every step's loss and accuracy, the final weights and the validation results equal to the bit:
// every trial runs its Model's kernels.
func TestFusedModelsMatchUnfused(t *testing.T) {
	const steps, batch = 6, 32
	for name, net := range fusedModelNetworks(t) {
		for _, mode := range []fusedSteps{ownBatches, sharedBatches, alternating} {
			t.Run(fmt.Sprintf("%s/batches=%v", name, mode), func(t *testing.T) {
				trials := modelTrialConfigs(net)
				if _, ok := mlpOf(trials[0].Network); ok {
					t.Fatal("the network is the batched MLP: the test would not reach the Models' path")
				}
				c := compareFused(t, trials, steps, batch, mode)
				t.Logf("steps with every loss bitwise %d/%d; largest: loss rel %.3g, accuracy %.3g, val loss rel %.3g, val accuracy %.3g",
					c.lossBitwise, steps, c.lossRel, c.accDiff, c.valRel, c.valAcc)
				if !c.distinctLastLoss {
					t.Error("the trials' last losses are equal: they did not train as different trials")
				}
				if c.lossBitwise != steps || c.accDiff != 0 || c.valRel != 0 || c.valAcc != 0 {
					t.Errorf("not the Models' results to the bit: %d/%d steps' losses, accuracy %.3g, val loss rel %.3g, val accuracy %.3g",
						c.lossBitwise, steps, c.accDiff, c.valRel, c.valAcc)
				}
				for w, d := range c.weightAbsByName {
					if d != 0 {
						t.Errorf("%s differs by up to %.3g", w, d)
					}
				}
			})
		}
	}
}

// TestFusedModelsTrialState moves the trials of a fused convnet with dropout into Models of their
// own mid-training (CopyTrialsTo) and, from other Models trained alone, back (CopyTrialsFrom), and
// trains both sides on: every later loss, weight, validation and validation probability must be the
// same to the bit, which fails if any state (an Adam slot, the step count that keys the dropout
// masks, the learning rate) stayed behind.
func TestFusedModelsTrialState(t *testing.T) {
	const batch, steps = 32, 3
	trials := modelTrialConfigs(kerasConvnet(t))
	trials[1].KeepValidationProbabilities = true
	n, features, k := 4*steps*batch, inputs(trials[0]), classes(trials[0])
	pixels, labels := randomBatch(5, n, features, k)
	valPixels, valLabels := randomBatch(6, 200, features, k)
	train, val := newExamples(t, pixels, labels, features), newExamples(t, valPixels, valLabels, features)
	order := epochBatches(n, batch, 7)
	f := newFused(t, trials)
	if err := f.Bind(train, val); err != nil {
		t.Fatal(err)
	}
	newModels := func() []*Model {
		models := make([]*Model, len(trials))
		for i, c := range trials {
			models[i] = newModel(t, c)
			if err := models[i].Bind(train, val); err != nil {
				t.Fatal(err)
			}
		}
		return models
	}
	all := []int{0, 1, 2}
	trainSharedSteps(t, f, order[:steps])

	out := newModels()
	if err := f.CopyTrialsTo(all, out); err != nil {
		t.Fatal(err)
	}
	for i, m := range out {
		if m.Iterations() != steps {
			t.Errorf("model %d's step count is %d after CopyTrialsTo, want %d", i, m.Iterations(), steps)
		}
	}
	trainOnAlike(t, "after CopyTrialsTo", f, out, order[steps:2*steps])

	in := newModels()
	for i, m := range in {
		losses, accs := make([]float32, 2*steps), make([]float32, 2*steps)
		if err := m.TrainSteps(order[2*steps:4*steps], losses, accs); err != nil {
			t.Fatal(err)
		}
		if err := m.SetLearningRate(0.002 * float64(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.CopyTrialsFrom(all, in); err != nil {
		t.Fatal(err)
	}
	trainOnAlike(t, "after CopyTrialsFrom", f, in, order[:steps])
}

// trainSharedSteps trains f on the batches, one shared step each.
func trainSharedSteps(t *testing.T, f *Fused, batches [][]int32) [][]float32 {
	t.Helper()
	losses := make([][]float32, len(batches))
	for i, b := range batches {
		losses[i] = make([]float32, f.Trials())
		accs := make([]float32, f.Trials())
		if err := f.TrainSharedStep(b, losses[i], accs); err != nil {
			t.Fatal(err)
		}
	}
	return losses
}

// trainOnAlike trains f and models[t], trial t's state, on the batches and requires every step's
// loss, the weights, the validation and the kept validation probabilities to be equal to the bit.
func trainOnAlike(t *testing.T, what string, f *Fused, models []*Model, batches [][]int32) {
	t.Helper()
	fused := trainSharedSteps(t, f, batches)
	valLosses, valAccs, err := f.Validate()
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range models {
		losses, accs := make([]float32, len(batches)), make([]float32, len(batches))
		if err := m.TrainSteps(batches, losses, accs); err != nil {
			t.Fatal(err)
		}
		for k := range batches {
			if math.Float32bits(losses[k]) != math.Float32bits(fused[k][i]) {
				t.Errorf("%s: step %d: trial %d lost %v fused, its model %v", what, k, i, fused[k][i], losses[k])
			}
		}
		got, err := m.Weights()
		if err != nil {
			t.Fatal(err)
		}
		assertSameWeights(t, fmt.Sprintf("%s: model %d against trial %d", what, i, i), got, mustWeights(t, f, i))
		loss, acc, err := m.Validate()
		if err != nil {
			t.Fatal(err)
		}
		if loss != valLosses[i] || acc != valAccs[i] {
			t.Errorf("%s: trial %d validates %v, %v; its model %v, %v", what, i, valLosses[i], valAccs[i], loss, acc)
		}
		if mp := m.ValidationProbabilities(); m.Config().KeepValidationProbabilities && (len(mp) == 0 || !slices.Equal(f.ValidationProbabilities(i), mp)) {
			t.Errorf("%s: trial %d's validation probabilities are not its model's %d", what, i, len(mp))
		}
	}
}
