package model

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/tfsweep/tfsweep/spec"
	tf "github.com/wamuir/graft/tensorflow"
)

// dropMask is the keep pattern of hidden layer l's dropout at the model's current step, from one
// training-pass run that updates nothing: kept[i] tells whether element i survived, and every kept
// element is checked to be the activation times 1/(1-rate).
func dropMask(t *testing.T, m *Model, l int, pixels []float32, labels []int32) (kept []bool, dropFraction float64) {
	t.Helper()
	train := m.graph.single.train.outputs
	out := m.run(t, pixels, labels, train[kerasName("dense", l)][0], train[kerasName("dropout", l)][0])
	act, err := float32s(out[0])
	if err != nil {
		t.Fatal(err)
	}
	dropped, err := float32s(out[1])
	if err != nil {
		t.Fatal(err)
	}
	scale := float32(1 / (1 - dropoutRate(m.cfg.Network)))
	kept = make([]bool, len(act))
	var nonzero, zeroed int
	for i, a := range act {
		if a == 0 {
			continue
		}
		nonzero++
		switch dropped[i] {
		case 0:
			zeroed++
		case a * scale:
			kept[i] = true
		default:
			t.Fatalf("element %d: activation %g became %g, want 0 or %g", i, a, dropped[i], a*scale)
		}
	}
	return kept, float64(zeroed) / float64(nonzero)
}

// Dropout zeroes each activation with probability rate and scales the others by exactly 1/(1-rate),
// on training steps only; the masks are a function of the seed, the layer and the step. The rates
// take each of dropoutKeep's draws: uniform floats, 8 and 16 bits an element.
func TestDropout(t *testing.T) {
	for _, tc := range []struct {
		rate float64
		bits int
	}{{0.3, 0}, {0.5, 8}, {0.1875, 8}, {10304.0 / 65536, 16}} {
		t.Run(fmt.Sprintf("rate=%v", tc.rate), func(t *testing.T) {
			if got := maskBits(tc.rate); got != tc.bits {
				t.Fatalf("maskBits(%v) = %d, want %d", tc.rate, got, tc.bits)
			}
			checkDropout(t, tc.rate)
		})
	}
}

// checkDropout checks Dropout at the rate on a network whose masks have an odd number of elements
// (511 rows of 999 units), which the bit draws round up to whole words.
func checkDropout(t *testing.T, rate float64) {
	cfg := Config{Network: withDropout(withActivation(mlp(20, []int{999, 1000}, 4), "sigmoid"), rate), Seed: 5, Device: DeviceCPU}
	pixels, labels := randomBatch(3, 511, inputs(cfg), classes(cfg))
	a := newModel(t, cfg)

	// Rate and scaling, on 510k sigmoid activations (none is zero): the drop fraction's standard
	// deviation is at most √(0.5·0.5/510000) ≈ 7e-4.
	mask0, frac := dropMask(t, a, 0, pixels, labels)
	if math.Abs(frac-rate) > 0.004 {
		t.Errorf("layer 0 dropped %.4f of the activations, want %v", frac, rate)
	}
	mask1, frac1 := dropMask(t, a, 1, pixels, labels)
	if math.Abs(frac1-rate) > 0.004 {
		t.Errorf("layer 1 dropped %.4f of the activations, want %v", frac1, rate)
	}
	t.Logf("dropped fractions %.4f and %.4f (rate %v), kept values scaled by exactly 1/(1-rate)", frac, frac1, rate)
	if slices.Equal(mask0, mask1) {
		t.Error("both layers drew the same mask")
	}
	if again, _ := dropMask(t, a, 0, pixels, labels); !slices.Equal(again, mask0) {
		t.Error("the mask changed without a step")
	}

	// Same seed, same masks; another seed, other masks.
	b := newModel(t, cfg)
	if got, _ := dropMask(t, b, 0, pixels, labels); !slices.Equal(got, mask0) {
		t.Error("two models with the same seed drew different masks")
	}
	other := cfg
	other.Seed = 6
	if got, _ := dropMask(t, newModel(t, other), 0, pixels, labels); slices.Equal(got, mask0) {
		t.Error("another seed drew the same mask")
	}

	// The next step draws another mask, the same in every model with this seed at that step, also in
	// a model whose step counter was restored (a resumed run) rather than trained.
	if _, _, err := a.TrainStep(pixels, labels); err != nil {
		t.Fatal(err)
	}
	step1, _ := dropMask(t, a, 0, pixels, labels)
	if slices.Equal(step1, mask0) {
		t.Error("step 1 drew the mask of step 0")
	}
	resumed := newModel(t, cfg)
	resumed.setIterations(t, 1)
	if got, _ := dropMask(t, resumed, 0, pixels, labels); !slices.Equal(got, step1) {
		t.Error("a model restored to step 1 drew another mask than the one trained to step 1")
	}

	checkNoDropoutInEvaluation(t, cfg, a, pixels, labels)
}

// checkNoDropoutInEvaluation checks that a, a model of cfg with dropout, evaluates exactly as the
// same weights without, while its training loss does see the dropout.
func checkNoDropoutInEvaluation(t *testing.T, cfg Config, a *Model, pixels []float32, labels []int32) {
	t.Helper()
	noDrop := cfg
	noDrop.Network = withDropout(cfg.Network, 0)
	plain := newModel(t, noDrop)
	ws, err := a.Weights()
	if err != nil {
		t.Fatal(err)
	}
	if err := plain.SetWeights(ws); err != nil {
		t.Fatal(err)
	}
	l1, acc1, err := a.Evaluate(pixels, labels)
	if err != nil {
		t.Fatal(err)
	}
	l2, acc2, err := plain.Evaluate(pixels, labels)
	if err != nil {
		t.Fatal(err)
	}
	if l1 != l2 || acc1 != acc2 {
		t.Errorf("evaluation with dropout %v %v, without %v %v", l1, acc1, l2, acc2)
	}
	// The training loss does see the dropout.
	if with, without := a.trainLossAt(t, pixels, labels), plain.trainLossAt(t, pixels, labels); with == without {
		t.Errorf("training loss %v with dropout equals the loss without", with)
	}
}

// setIterations sets the optimizer's step counter, as a restored checkpoint would.
func (m *Model) setIterations(t *testing.T, n int64) {
	t.Helper()
	a := m.graph.assign[m.graph.iterations]
	v, err := tf.NewTensor(n)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.sess.Run(map[tf.Output]*tf.Tensor{a.value: v}, nil, []*tf.Operation{a.op}); err != nil {
		t.Fatal(err)
	}
	m.iterations = n
}

// SetWeights is the inverse of Weights: another model given a trained model's weights holds the same
// values bit for bit (batch-norm moving statistics included) and evaluates the same; bad input
// assigns nothing.
func TestSetWeightsRoundTrip(t *testing.T) {
	for _, bn := range []bool{false, true} {
		cfg := tinyConfig(bn)
		a := newModel(t, cfg)
		pixels, labels := randomBatch(4, 16, inputs(cfg), classes(cfg))
		for range 5 {
			if _, _, err := a.TrainStep(pixels, labels); err != nil {
				t.Fatal(err)
			}
		}
		want, err := a.Weights()
		if err != nil {
			t.Fatal(err)
		}
		other := cfg
		other.Seed = 99
		b := newModel(t, other)
		if err := b.SetWeights(want); err != nil {
			t.Fatal(err)
		}
		got, err := b.Weights()
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if got[i].Name != want[i].Name || !slices.Equal(got[i].Values, want[i].Values) {
				t.Errorf("batchnorm=%v: %s differs after SetWeights", bn, want[i].Name)
			}
		}
		la, aa, _ := a.Evaluate(pixels, labels)
		lb, ab, _ := b.Evaluate(pixels, labels)
		if la != lb || aa != ab {
			t.Errorf("batchnorm=%v: evaluation %v %v after SetWeights, source %v %v", bn, lb, ab, la, aa)
		}

		// A subset in any order is fine.
		if err := b.SetWeights([]Weight{want[1], want[0]}); err != nil {
			t.Errorf("subset: %v", err)
		}
		before, _ := b.Weights()
		bad := func(name string, mutate func([]Weight) []Weight, msg string) {
			ws := mutate(slices.Clone(want))
			err := b.SetWeights(ws)
			if err == nil || !strings.Contains(err.Error(), msg) {
				t.Errorf("%s: error %v, want one mentioning %q", name, err, msg)
			}
			after, _ := b.Weights()
			for i := range before {
				if !slices.Equal(before[i].Values, after[i].Values) {
					t.Errorf("%s: %s changed by a failed SetWeights", name, before[i].Name)
				}
			}
		}
		zeros := func(n int) []float32 { return make([]float32, n) }
		bad("unknown name", func(ws []Weight) []Weight {
			first := Weight{Name: ws[0].Name, Shape: ws[0].Shape, Values: zeros(len(ws[0].Values))}
			return []Weight{first, {Name: "dense_9/kernel", Shape: []int{1}, Values: zeros(1)}}
		}, `no weight "dense_9/kernel"`)
		bad("wrong shape", func(ws []Weight) []Weight {
			ws[0] = Weight{Name: ws[0].Name, Shape: []int{4, 5}, Values: zeros(20)}
			return ws
		}, "has shape [4 5]")
		bad("wrong count", func(ws []Weight) []Weight {
			ws[0] = Weight{Name: ws[0].Name, Shape: ws[0].Shape, Values: zeros(3)}
			return ws
		}, "has 3 values")
		bad("duplicate", func(ws []Weight) []Weight { return append(ws, ws[0]) }, "given twice")
	}
}

// LearningRate is the rate the next step uses; SetLearningRate changes it for the constant schedule
// (the next SGD step moves by exactly the new rate times the gradient) and is refused over a schedule.
func TestSetLearningRate(t *testing.T) {
	cfg := tinyConfig(false)
	cfg.Optimizer = "sgd"
	cfg.LearningRate = 0.1
	m := newModel(t, cfg)
	if lr, err := m.LearningRate(); err != nil || lr != float64(float32(0.1)) {
		t.Fatalf("LearningRate() = %v, %v; want float32(0.1)", lr, err)
	}
	if err := m.SetLearningRate(0.025); err != nil {
		t.Fatal(err)
	}
	if lr, _ := m.LearningRate(); lr != float64(float32(0.025)) {
		t.Errorf("LearningRate() = %v after SetLearningRate(0.025)", lr)
	}
	pixels, labels := randomBatch(5, 8, inputs(cfg), classes(cfg))
	before, grads := m.weightMap(t), m.gradients(t, pixels, labels)
	if _, _, err := m.TrainStep(pixels, labels); err != nil {
		t.Fatal(err)
	}
	after := m.weightMap(t)
	for name, g := range grads {
		for i := range g {
			if want := before[name][i] - g[i]*float32(0.025); after[name][i] != want {
				t.Fatalf("%s[%d]: %v after the step, want %v - %v·0.025 = %v", name, i, after[name][i], before[name][i], g[i], want)
			}
		}
	}
	for _, bad := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		if err := m.SetLearningRate(bad); err == nil {
			t.Errorf("SetLearningRate(%v) succeeded", bad)
		}
	}

	cfg.Schedule = spec.Schedule{Kind: "ExponentialDecay", DecaySteps: 10, DecayRate: 0.5}
	s := newModel(t, cfg)
	if err := s.SetLearningRate(0.01); err == nil || !strings.Contains(err.Error(), "exponential schedule") {
		t.Errorf("SetLearningRate over a schedule: %v, want an error naming the schedule", err)
	}
	for step := range 3 {
		want := float64(float32(0.1 * math.Pow(0.5, float64(step)/10)))
		if lr, _ := s.LearningRate(); math.Abs(lr-want) > 1e-8 {
			t.Errorf("step %d: LearningRate() = %.9g, want %.9g", step, lr, want)
		}
		if _, _, err := s.TrainStep(pixels, labels); err != nil {
			t.Fatal(err)
		}
	}
}

// Bad values of the new fields are refused by Validate (no TensorFlow) and New, naming the field.
func TestValidateRejectsBadFeatures(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
		want   string
	}{
		{"unknown activation", func(c *Config) { c.Network.Layers[0].Dense.Activation = "relu7" }, `unknown activation "relu7"`},
		{"unknown optimizer", func(c *Config) { c.Optimizer = "adadelta" }, `optimizer: unknown optimizer "adadelta"`},
		{"dropout 1", func(c *Config) { c.Network = withDropoutLayer(c.Network, 1) }, "has rate 1: it must be in [0, 1)"},
		{"negative dropout", func(c *Config) { c.Network = withDropoutLayer(c.Network, -0.1) }, "has rate -0.1: it must be in [0, 1)"},
		{"NaN dropout", func(c *Config) { c.Network = withDropoutLayer(c.Network, math.NaN()) }, "has rate NaN: it must be in [0, 1)"},
		{"negative l2", func(c *Config) { l2 := -1e-4; c.Network.Layers[0].Dense.L2 = &l2 }, "Dense `dense` has kernel_regularizer L2(-0.0001)"},
		{"momentum above 1", func(c *Config) { c.Optimizer, c.Momentum = "sgd", 1.5 }, "momentum must be in [0, 1]"},
		{"momentum with adam", func(c *Config) { c.Momentum = 0.9 }, "momentum applies to sgd and rmsprop only, not adam"},
		{"nesterov with rmsprop", func(c *Config) { c.Optimizer, c.Nesterov = "rmsprop", true }, "nesterov applies to sgd only"},
		{"negative weight decay", func(c *Config) { c.WeightDecay = -1 }, "weight decay must be non-negative"},
		{"unknown schedule", func(c *Config) { c.Schedule.Kind = "polynomial" }, `unknown learning-rate schedule "polynomial"`},
		{"exponential without decay steps", func(c *Config) { c.Schedule = spec.Schedule{Kind: "exponential", DecayRate: 0.5} },
			"Schedule.DecaySteps (decay_steps) must be positive"},
		{"exponential without decay rate", func(c *Config) { c.Schedule = spec.Schedule{Kind: "exponential", DecaySteps: 5} },
			"Schedule.DecayRate (decay_rate) must be positive"},
		{"cosine without decay steps", func(c *Config) { c.Schedule = spec.Schedule{Kind: "cosine"} }, "Schedule.DecaySteps (decay_steps)"},
		{"cosine alpha above 1", func(c *Config) { c.Schedule = spec.Schedule{Kind: "cosine", DecaySteps: 5, Alpha: 2} }, "Schedule.Alpha (alpha)"},
		{"warmup target without steps", func(c *Config) { c.Schedule = spec.Schedule{Kind: "cosine", DecaySteps: 5, WarmupTarget: 0.01} },
			"Schedule.WarmupSteps (warmup_steps) and Schedule.WarmupTarget"},
		{"step without boundaries", func(c *Config) { c.Schedule = spec.Schedule{Kind: "step", Values: []float64{0.1}} },
			"Schedule.Boundaries (boundaries) must list at least one step"},
		{"step values count", func(c *Config) {
			c.Schedule = spec.Schedule{Kind: "step", Boundaries: []int64{5}, Values: []float64{0.1}}
		},
			"Schedule.Values (values) must have one more element"},
		{"step boundaries order", func(c *Config) {
			c.Schedule = spec.Schedule{Kind: "step", Boundaries: []int64{5, 5}, Values: []float64{0.1, 0.01, 0.001}}
		}, "Schedule.Boundaries (boundaries) must increase strictly"},
		{"field of another schedule", func(c *Config) { c.Schedule = spec.Schedule{Kind: "cosine", DecaySteps: 5, DecayRate: 0.5} },
			"Schedule.DecayRate (decay_rate) does not apply"},
		{"constant with decay steps", func(c *Config) { c.Schedule.DecaySteps = 5 }, "schedule constant: Schedule.DecaySteps (decay_steps) does not apply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.modify(&cfg)
			if _, err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate: %v, want an error mentioning %q", err, tt.want)
			}
			m, err := New(cfg)
			if err == nil {
				m.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: %q does not mention %q", err, tt.want)
			}
		})
	}
}

// Validate resolves the network and fills the defaults: adam, Keras' default learning rate of the optimizer,
// AdamW's weight decay 0.004, the constant schedule; and keeps good values.
func TestValidateDefaults(t *testing.T) {
	cfg, err := Config{Network: mlp(4, nil, 2)}.Validate()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Optimizer != "adam" || cfg.LearningRate != 0.001 || cfg.Schedule.Kind != "constant" ||
		cfg.WeightDecay != 0 || cfg.Network.Layers[0].Name != "dense" {
		t.Errorf("defaults: %+v", cfg)
	}
	cfg, err = Config{Network: mlp(4, nil, 2), Optimizer: "SGD", Momentum: 0.9, Nesterov: true}.Validate()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Optimizer != "sgd" || cfg.LearningRate != 0.01 {
		t.Errorf("sgd: optimizer %q, learning rate %v; want sgd, Keras' 0.01", cfg.Optimizer, cfg.LearningRate)
	}
	cfg, err = Config{Network: mlp(4, nil, 2), Optimizer: "AdamW", Schedule: spec.Schedule{Kind: "PiecewiseConstantDecay",
		Boundaries: []int64{10}, Values: []float64{0.01, 0.001}}}.Validate()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.WeightDecay != 0.004 || cfg.Schedule.Kind != "step" {
		t.Errorf("adamw: weight decay %v, schedule %q; want 0.004, step", cfg.WeightDecay, cfg.Schedule.Kind)
	}
}

// Every activation, optimizer and schedule builds, has a gradient for every weight and trains
// (finite, decreasing loss on a fixed batch) with batch norm, dropout and L2 on.
func TestEveryFeatureTrains(t *testing.T) {
	pixels, labels := randomBatch(8, 32, 5, 3)
	type variant struct {
		name   string
		modify func(*Config)
	}
	var variants []variant
	for _, a := range spec.ActivationNames() {
		variants = append(variants, variant{"activation " + a, func(c *Config) { c.Network = withActivation(c.Network, a) }})
	}
	for _, o := range spec.OptimizerNames() {
		variants = append(variants, variant{"optimizer " + o, func(c *Config) {
			c.Optimizer = o
			if o == "sgd" || o == "rmsprop" {
				c.Momentum = 0.5
			}
		}})
	}
	variants = append(variants,
		variant{"exponential", func(c *Config) {
			c.Schedule = spec.Schedule{Kind: "exponential", DecaySteps: 3, DecayRate: 0.9, Staircase: true}
		}},
		variant{"cosine", func(c *Config) {
			c.Schedule = spec.Schedule{Kind: "cosine", DecaySteps: 20, WarmupTarget: 0.02, WarmupSteps: 3}
		}},
		variant{"step", func(c *Config) {
			c.Schedule = spec.Schedule{Kind: "step", Boundaries: []int64{5}, Values: []float64{0.01, 0.005}}
		}},
	)
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			cfg := tinyConfig(true)
			cfg.LearningRate = 0.01
			cfg.Network = withL2(withDropout(cfg.Network, 0.1), 1e-3)
			v.modify(&cfg)
			m := newModel(t, cfg)
			first, _, err := m.TrainStep(pixels, labels)
			if err != nil {
				t.Fatal(err)
			}
			var last float32
			for range 15 {
				if last, _, err = m.TrainStep(pixels, labels); err != nil {
					t.Fatal(err)
				}
			}
			if math.IsNaN(float64(last)) || !(last < first) {
				t.Errorf("loss %v after 16 steps, %v at the first", last, first)
			}
		})
	}
}

// A learning rate beyond float32 (a divergence test's 1e300) still serialises: JSON has no Inf.
func TestKerasJSONHugeLearningRate(t *testing.T) {
	cfg := tinyConfig(false)
	cfg.LearningRate = 1e300
	if _, err := newModel(t, cfg).KerasJSON(); err != nil {
		t.Fatal(err)
	}
}
