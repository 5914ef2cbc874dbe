package model

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/tfsweep/tfsweep/spec"
)

// fusedTrialConfigs are four trials of the lab network that differ in initialiser, seed and learning
// rate, on one thread as a worker's share of one core trains.
func fusedTrialConfigs(batchNorm bool) []Config {
	inits := []string{"xavier", "glorot_uniform", "he_normal", "xavier"}
	rates := []float64{0.001, 0.003, 0.0005, 0.002}
	trials := make([]Config, len(inits))
	for t := range trials {
		cfg := DefaultConfig()
		cfg.Network = withInit(withBatchNorm(cfg.Network, batchNorm), inits[t])
		cfg.Seed, cfg.LearningRate = int64(11+t), rates[t]
		cfg.Device, cfg.IntraOpThreads, cfg.InterOpThreads = DeviceCPU, 1, 1
		trials[t] = cfg
	}
	return trials
}

func newFused(t testing.TB, trials []Config) *Fused {
	t.Helper()
	f, err := NewFused(trials)
	if err != nil {
		t.Fatalf("NewFused: %v", err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return f
}

// relDiff is |a-b| relative to the larger magnitude (0 when both are 0).
func relDiff(a, b float64) float64 {
	scale := math.Max(math.Abs(a), math.Abs(b))
	if scale == 0 {
		return 0
	}
	return math.Abs(a-b) / scale
}

// fusedComparison is how far fused training strayed from the same trials trained one Model each.
type fusedComparison struct {
	lossRel, valRel  float64            // largest relative difference of a step's loss, of a validation loss
	accDiff, valAcc  float64            // largest difference of a step's accuracy, of a validation accuracy
	weightAbsByName  map[string]float64 // largest absolute difference of an element, per weight name
	lossBitwise      int                // steps whose losses are all equal to the bit
	distinctLastLoss bool               // the trials' last losses differ: they are not one trial T times
}

// trialRun is what one trial's training gave: every step's loss and accuracy, the final weights and
// the validation loss and accuracy.
type trialRun struct {
	losses, accs []float32
	weights      []Weight
	val          [2]float64
}

// fusedSteps is how trainFused feeds the batches.
type fusedSteps int

const (
	ownBatches    fusedSteps = iota // each trial its own order, TrainStep
	sharedBatches                   // one order, TrainSharedStep
	alternating                     // one order, TrainSharedStep and TrainStep in turn
)

func (m fusedSteps) String() string { return [...]string{"own", "shared", "alternating"}[m] }

// compareFused trains trials fused and each as a Model of its own on the same batches, steps steps
// of batch examples from a random set, each trial in its own shuffled order or, unless steps is
// ownBatches, all in one, and compares them.
func compareFused(t *testing.T, trials []Config, steps, batch int, mode fusedSteps) fusedComparison {
	n, features, k := steps*batch, inputs(trials[0]), classes(trials[0])
	pixels, labels := randomBatch(5, n, features, k)
	valPixels, valLabels := randomBatch(6, 1000, features, k)
	train, val := newExamples(t, pixels, labels, features), newExamples(t, valPixels, valLabels, features)
	orders := make([][][]int32, len(trials))
	for i := range trials {
		orders[i] = epochBatches(n, batch, uint64(100+i))
		if mode != ownBatches {
			orders[i] = orders[0]
		}
	}
	unfused := make([]trialRun, len(trials))
	for i, cfg := range trials {
		unfused[i] = trainUnfused(t, cfg, train, val, orders[i])
	}
	return compareRuns(t, trainFused(t, trials, train, val, orders, mode), unfused)
}

// trainUnfused trains one trial as a Model on batches.
func trainUnfused(t *testing.T, cfg Config, train, val *Examples, batches [][]int32) trialRun {
	m := newModel(t, cfg)
	if err := m.Bind(train, val); err != nil {
		t.Fatal(err)
	}
	r := trialRun{losses: make([]float32, len(batches)), accs: make([]float32, len(batches))}
	if err := m.TrainSteps(batches, r.losses, r.accs); err != nil {
		t.Fatal(err)
	}
	var err error
	if r.weights, err = m.Weights(); err != nil {
		t.Fatal(err)
	}
	if r.val[0], r.val[1], err = m.Validate(); err != nil {
		t.Fatal(err)
	}
	return r
}

// trainFused trains the trials fused, trial t on orders[t], through the steps mode says (the shared
// ones take orders[0], which the others then equal).
func trainFused(t *testing.T, trials []Config, train, val *Examples, orders [][][]int32, mode fusedSteps) []trialRun {
	f := newFused(t, trials)
	if err := f.Bind(train, val); err != nil {
		t.Fatal(err)
	}
	runs := make([]trialRun, len(trials))
	losses, accs := make([]float32, len(trials)), make([]float32, len(trials))
	step := make([][]int32, len(trials))
	for k := range orders[0] {
		for i := range trials {
			step[i] = orders[i][k]
		}
		train := func() error { return f.TrainStep(step, losses, accs) }
		if mode == sharedBatches || (mode == alternating && k%2 == 0) {
			train = func() error { return f.TrainSharedStep(orders[0][k], losses, accs) }
		}
		if err := train(); err != nil {
			t.Fatal(err)
		}
		for i := range trials {
			runs[i].losses, runs[i].accs = append(runs[i].losses, losses[i]), append(runs[i].accs, accs[i])
		}
	}
	valLosses, valAccs, err := f.Validate()
	if err != nil {
		t.Fatal(err)
	}
	for i := range trials {
		if runs[i].weights, err = f.Weights(i); err != nil {
			t.Fatal(err)
		}
		runs[i].val = [2]float64{valLosses[i], valAccs[i]}
	}
	return runs
}

// compareRuns measures how far the fused runs are from the unfused ones, trial by trial.
func compareRuns(t *testing.T, fused, unfused []trialRun) fusedComparison {
	c := fusedComparison{weightAbsByName: make(map[string]float64)}
	for k := range unfused[0].losses {
		bitwise := true
		for i := range unfused {
			c.lossRel = math.Max(c.lossRel, relDiff(float64(fused[i].losses[k]), float64(unfused[i].losses[k])))
			c.accDiff = math.Max(c.accDiff, math.Abs(float64(fused[i].accs[k]-unfused[i].accs[k])))
			bitwise = bitwise && fused[i].losses[k] == unfused[i].losses[k]
		}
		if bitwise {
			c.lossBitwise++
		}
	}
	last := len(unfused[0].losses) - 1
	for i := range unfused {
		c.distinctLastLoss = c.distinctLastLoss || fused[i].losses[last] != fused[0].losses[last]
		c.valRel = math.Max(c.valRel, relDiff(fused[i].val[0], unfused[i].val[0]))
		c.valAcc = math.Max(c.valAcc, math.Abs(fused[i].val[1]-unfused[i].val[1]))
		if len(fused[i].weights) != len(unfused[i].weights) {
			t.Fatalf("trial %d: %d weights fused, %d unfused", i, len(fused[i].weights), len(unfused[i].weights))
		}
		for j, fw := range fused[i].weights {
			uw := unfused[i].weights[j]
			if fw.Name != uw.Name || fmt.Sprint(fw.Shape) != fmt.Sprint(uw.Shape) {
				t.Fatalf("trial %d weight %d: fused %s %v, unfused %s %v", i, j, fw.Name, fw.Shape, uw.Name, uw.Shape)
			}
			for e := range fw.Values {
				c.weightAbsByName[fw.Name] = math.Max(c.weightAbsByName[fw.Name], math.Abs(float64(fw.Values[e]-uw.Values[e])))
			}
		}
	}
	return c
}

// noiseDrivenBias reports whether a weight's gradient is only rounding noise: with batch norm after a
// Dense layer the layer's bias cancels out of the loss (the normalisation subtracts the batch mean),
// and Adam normalises the noise into steps of up to the learning rate, differently in fused and
// unfused training.
func noiseDrivenBias(name string, batchNorm bool) bool {
	return batchNorm && (name == "dense/bias" || name == "dense_1/bias")
}

// TestFusedMatchesUnfused trains four trials that differ in initialiser, seed and learning rate fused and as
// four Models on the same batches (each trial its own shuffling through TrainStep; or all one order through
// TrainSharedStep, or through it and TrainStep in turn), and holds every step's loss and accuracy, the final
// weights and the validation results to the bounds measured: on AMD EPYCs (AVX2, AVX-512) with TensorFlow
// 2.18's kernels the step losses agree to 2.1e-7 relative (1–2 ulp; some steps to the bit), the weights to
// 2.9e-6 without batch norm and 1.6e-5 with it (but the noise-driven ones: 3.3e-4 for the biases, 4.2e-5 for
// the moving means), the validation losses to 2.1e-7 and 9e-6, the accuracies exactly. The bounds below leave
// 3–6× room. Not bitwise: the batched matmul and the broadcast bias add round differently from MatMul and
// BiasAdd.
func TestFusedMatchesUnfused(t *testing.T) {
	const steps = 24
	for _, tc := range []struct {
		steps                      fusedSteps
		batchNorm                  bool
		softmaxOnly                bool // one Dense layer, the softmax: the shared layer gives the logits
		batch                      int
		lossRel, weightAbs, valRel float64
	}{
		{batchNorm: false, batch: 64, lossRel: 1e-6, weightAbs: 1.5e-5, valRel: 1e-6},
		{batchNorm: true, batch: 64, lossRel: 1e-6, weightAbs: 1e-4, valRel: 5e-5},
		{batchNorm: true, batch: 128, lossRel: 1e-6, weightAbs: 1e-4, valRel: 5e-5},
		{steps: sharedBatches, batchNorm: false, batch: 64, lossRel: 1e-6, weightAbs: 1.5e-5, valRel: 1e-6},
		{steps: sharedBatches, batchNorm: true, batch: 64, lossRel: 1e-6, weightAbs: 1e-4, valRel: 5e-5},
		{steps: sharedBatches, batchNorm: true, batch: 128, lossRel: 1e-6, weightAbs: 1e-4, valRel: 5e-5},
		{steps: alternating, batchNorm: true, batch: 64, lossRel: 1e-6, weightAbs: 1e-4, valRel: 5e-5},
		{steps: sharedBatches, softmaxOnly: true, batch: 64, lossRel: 1e-6, weightAbs: 1.5e-5, valRel: 1e-6},
	} {
		t.Run(fmt.Sprintf("batches=%v/bn=%v/softmax_only=%v/batch=%d", tc.steps, tc.batchNorm, tc.softmaxOnly, tc.batch), func(t *testing.T) {
			trials := fusedTrialConfigs(tc.batchNorm)
			for i := range trials {
				if tc.softmaxOnly {
					trials[i].Network = withInit(mlp(784, nil, 10), "glorot_uniform")
				}
			}
			c := compareFused(t, trials, steps, tc.batch, tc.steps)
			t.Logf("steps with every loss bitwise %d/%d; largest: loss rel %.3g, accuracy %.3g, val loss rel %.3g, val accuracy %.3g; weight abs by name %v",
				c.lossBitwise, steps, c.lossRel, c.accDiff, c.valRel, c.valAcc, c.weightAbsByName)
			if !c.distinctLastLoss {
				t.Error("the four trials' last losses are equal: they did not train as four different trials")
			}
			if c.lossRel > tc.lossRel || c.valRel > tc.valRel {
				t.Errorf("losses stray: step loss rel %.3g (bound %g), validation loss rel %.3g (bound %g)", c.lossRel, tc.lossRel, c.valRel, tc.valRel)
			}
			// One example's prediction may flip on a logit tie broken by the last bit.
			if c.accDiff > 1/float64(tc.batch) || c.valAcc > 1e-3 {
				t.Errorf("accuracies differ: step %.3g, validation %.3g", c.accDiff, c.valAcc)
			}
			maxLR := 0.0
			for _, cfg := range trials {
				maxLR = math.Max(maxLR, cfg.LearningRate)
			}
			biasDrift := 0.0 // the noise-driven biases' largest difference
			for name, d := range c.weightAbsByName {
				if noiseDrivenBias(name, tc.batchNorm) {
					biasDrift = math.Max(biasDrift, d)
				}
			}
			for name, d := range c.weightAbsByName {
				bound := tc.weightAbs
				switch {
				case noiseDrivenBias(name, tc.batchNorm):
					bound = 2 * steps * maxLR // Adam moves a weight by at most about lr per step
				case strings.HasSuffix(name, "/moving_mean"):
					// An average of batch means, which the bias before it shifts.
					bound = biasDrift + tc.weightAbs
				}
				if d > bound {
					t.Errorf("%s strays by %.3g, bound %.3g", name, d, bound)
				}
			}
		})
	}
}

// TestNewFusedRejects names the trial and the field that fused training cannot take, or the layer
// where a trial's network differs from trial 0's.
func TestNewFusedRejects(t *testing.T) {
	momentum := func(n spec.Network, m float64) spec.Network {
		n.Layers[1].BatchNorm = &spec.BatchNormArgs{Axis: -1, Momentum: m, Epsilon: spec.DefaultBatchNormEpsilon, Center: true, Scale: true}
		return n
	}
	for _, tc := range []struct {
		name string
		edit func(trials []Config)
		want string
	}{
		{"no trials", nil, "no trials"},
		{"other width", func(c []Config) { c[1].Network = mlp(784, []int{128, 32}, 10) },
			"trial 1: the network's Dense `dense_1` and what follows it (names, units, activations, batch norm) differ"},
		{"other layer name", func(c []Config) {
			c[1].Network.Layers[0].Name, c[1].Network.Layers[1].Inbound = "hidden", []string{"hidden"}
		},
			"trial 1: the network's Dense `hidden` and what follows it"},
		{"other depth", func(c []Config) { c[1].Network = mlp(784, []int{128}, 10) }, "trial 1: the network has 2 Dense layers, trial 0's 3"},
		{"batch norm in one", func(c []Config) { c[1].Network = withBatchNorm(c[1].Network, true) }, "trial 1: the network's Dense `dense` and what follows it"},
		{"other batch-norm momentum", func(c []Config) {
			c[0].Network, c[1].Network = momentum(withBatchNorm(c[0].Network, true), 0.99), momentum(withBatchNorm(c[1].Network, true), 0.9)
		}, "trial 1: the network's Dense `dense` and what follows it"},
		{"other activation", func(c []Config) { c[0].Network = withActivation(c[0].Network, "relu") }, "trial 1: the network's Dense `dense` and what follows it"},
		{"sgd", func(c []Config) { c[0].Optimizer = "sgd" }, "trial 0: optimizer (only adam)"},
		// A network the batched MLP does not take trains as each trial's layers side by side, which
		// must be one network but for the initialisers.
		{"dropout in one", func(c []Config) { c[1].Network = withDropout(c[1].Network, 0.2) },
			"trial 1: the network's layer 1 is Dropout `dropout`, trial 0's Dense `dense_1`"},
		{"other dropout rate", func(c []Config) {
			c[0].Network, c[1].Network = withDropout(c[0].Network, 0.2), withDropout(c[1].Network, 0.3)
		}, "trial 1: the network's Dropout `dropout` (layer 1) differs from trial 0's in its arguments"},
		{"l2 in one", func(c []Config) { c[0].Network = withL2(c[0].Network, 1e-4) }, "trial 1: the network's Dense `dense` (layer 0) differs from trial 0's"},
		{"no bias in one", func(c []Config) { c[1].Network.Layers[2].Dense.UseBias = false }, "trial 1: the network's Dense `dense_2` (layer 2) differs"},
		{"convnet in one", func(c []Config) { c[1].Network = residualConvnet(spec.Shape{28, 28, 1}, 10) },
			"trial 1: the network's input input_layer (None, 28, 28, 1) differs from trial 0's input_layer (None, 784)"},
		{"image input in one", func(c []Config) {
			c[0].Network = spec.Network{Input: spec.Input{Shape: spec.Shape{28, 28}},
				Layers: append([]spec.Layer{{Class: spec.ClassFlatten}}, mlp(784, []int{128, 64}, 10).Layers...)}
		}, "trial 1: the network's input input_layer (None, 784) differs from trial 0's input_layer (None, 28, 28)"},
		{"batch norm before the softmax", func(c []Config) {
			n := mlp(784, []int{128, 64}, 10)
			n.Layers[2].Dense.Activation = spec.ActivationLinear
			n.Layers = append(n.Layers, spec.Layer{Class: spec.ClassBatchNormalization},
				spec.Layer{Class: spec.ClassActivation, Activation: &spec.ActivationArgs{Activation: spec.ActivationSoftmax}})
			c[1].Network = n
		}, "trial 1: the network's Dense `dense_2` (layer 2) differs"},
		{"schedule", func(c []Config) { c[0].Schedule = spec.Schedule{Kind: spec.ScheduleCosine, DecaySteps: 10} }, "trial 0: schedule"},
		{"convnet, sgd", func(c []Config) { c[0].Network, c[1].Network, c[1].Optimizer = kerasConvnet(t), kerasConvnet(t), "sgd" },
			"trial 1: optimizer (only adam)"},
		{"convnet, towers", func(c []Config) { c[0].Network, c[1].Network, c[0].Towers = kerasConvnet(t), kerasConvnet(t), 2 },
			"trial 0: towers"},
		{"bad init", func(c []Config) { c[1].Network.Layers[0].Dense.Initializer = "nope" },
			"trial 1: model config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var trials []Config
			if tc.edit != nil {
				trials = fusedTrialConfigs(false)[:2]
				tc.edit(trials)
			}
			_, err := NewFused(trials)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewFused: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestFusedNaNStaysInItsTrial trains trial 0 beside a trial 1 whose batches hold an example with a NaN
// pixel, and beside a clean trial 1: trial 0's losses and weights must be the same to the bit either
// way (each trial's gradient is its own, and every batched kernel computes each trial apart), while
// trial 1's loss is NaN; for the batched MLP and for a convnet's trials side by side.
func TestFusedNaNStaysInItsTrial(t *testing.T) {
	const steps, batch = 8, 32
	for _, tc := range []struct {
		name   string
		trials []Config
	}{
		{"mlp_batchnorm", fusedTrialConfigs(true)[:2]},
		// Batch norm spreads the NaN over the batch; Keras' convnet would not show it (its max pooling
		// passes over a NaN beside a number, a Model's as a Fused's).
		{"batchnorm_convnet", modelTrialConfigs(residualConvnet(spec.Shape{28, 28, 1}, 10))[:2]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			trials := tc.trials
			n, features := steps*batch, inputs(trials[0])
			pixels, labels := randomBatch(9, n+1, features, classes(trials[0]))
			poisoned := append([]float32(nil), pixels...)
			poisoned[n*features] = float32(math.NaN()) // the last example: only trial 1 trains on it
			clean := epochBatches(n, batch, 1)
			withLast := epochBatches(n, batch, 2)
			withLast[0] = append(append([]int32(nil), withLast[0][1:]...), int32(n))
			orders := [][][]int32{clean, withLast}
			run := func(pixels []float32) []trialRun {
				set := newExamples(t, pixels, labels, features)
				return trainFused(t, trials, set, set, orders, ownBatches)
			}
			healthy, sick := run(pixels), run(poisoned)
			if !math.IsNaN(float64(sick[1].losses[0])) {
				t.Fatalf("trial 1's first loss is %v with a NaN pixel in its batch, want NaN", sick[1].losses[0])
			}
			for k := range steps {
				if healthy[0].losses[k] != sick[0].losses[k] {
					t.Errorf("step %d: trial 0's loss is %v beside a NaN trial, %v beside a clean one", k, sick[0].losses[k], healthy[0].losses[k])
				}
			}
			for j, w := range healthy[0].weights {
				if !slices.Equal(sick[0].weights[j].Values, w.Values) {
					t.Errorf("trial 0's %s differs beside a NaN trial from beside a clean one", w.Name)
				}
			}
		})
	}
}

// TestFusedStepRejects names what is wrong with a step's batches or outputs, per-trial and shared,
// before anything runs: no step is taken.
func TestFusedStepRejects(t *testing.T) {
	trials := fusedTrialConfigs(false)[:2]
	features := inputs(trials[0])
	pixels, labels := randomBatch(3, 64, features, classes(trials[0]))
	set := newExamples(t, pixels, labels, features)
	f := newFused(t, trials)
	two, one := make([]float32, 2), make([]float32, 1)
	if err := f.TrainSharedStep([]int32{0, 1}, two, two); err == nil || !strings.Contains(err.Error(), "no training set bound") {
		t.Fatalf("TrainSharedStep before Bind: %v, want an error naming the missing Bind", err)
	}
	if err := f.Bind(set, set); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		step func() error
		want string
	}{
		{"shared: one loss for two trials", func() error { return f.TrainSharedStep([]int32{0, 1}, one, two) }, "1 losses"},
		{"shared: empty batch", func() error { return f.TrainSharedStep(nil, two, two) }, "batch of 0 examples"},
		{"shared: outside the set", func() error { return f.TrainSharedStep([]int32{0, 64}, two, two) }, "example 64 is outside the training set of 64"},
		{"per trial: one batch for two trials", func() error { return f.TrainStep([][]int32{{0, 1}}, two, two) }, "1 batches (want 2)"},
		{"per trial: batches of two sizes", func() error { return f.TrainStep([][]int32{{0, 1}, {2}}, two, two) }, "trial 1: batch of 1 examples, want 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.step(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("step: %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if f.Iterations() != 0 {
		t.Errorf("%d steps taken by rejected calls", f.Iterations())
	}
}
