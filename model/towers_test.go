package model

import (
	"math"
	"slices"
	"testing"

	"github.com/tfsweep/tfsweep/spec"
)

// TestTowers trains the same configurations in one tower and in several, over batches of odd sizes
// and one of a single row (which leaves towers empty): the towers compute the one-tower step up to
// the order of the weight gradients' sums, so every loss, the validation and the weights stay within
// float32 rounding of it; and a towered model gives the same bits whether its steps are gathered one
// per call, four per call, or fed.
func TestTowers(t *testing.T) {
	const n, size, features = 330, 31, 784
	pixels, labels := randomBatch(5, n, features, 10)
	valPixels, valLabels := randomBatch(6, 70, features, 10)
	for _, tc := range []struct {
		name string
		edit func(*Config)
		// Weights that drift apart on rounding alone: a Dense bias before batch norm has a gradient of
		// zero up to rounding, which Adam scales up to steps of about the learning rate either way,
		// and the moving mean follows it. Batch norm subtracts both, so the losses do not see them.
		noise []string
	}{
		{"plain", func(*Config) {}, nil},
		{"batchnorm and dropout", func(c *Config) { c.Network = withDropout(withBatchNorm(c.Network, true), 0.3) },
			[]string{"dense/bias", "dense_1/bias", "batch_normalization/moving_mean", "batch_normalization_1/moving_mean"}},
		{"residual convnet with batch norm and dropout", func(c *Config) {
			c.Network, c.LearningRate = residualConvnet(spec.Shape{28, 28, 1}, 10), 0.01
		},
			nil},
		{"nadam, l2 and cosine schedule", func(c *Config) {
			c.Optimizer, c.Network = "nadam", withL2(c.Network, 1e-3)
			c.Schedule = spec.Schedule{Kind: spec.ScheduleCosine, DecaySteps: 15}
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := func(towers, stepsPerCall int, gathered bool) trace {
				cfg := DefaultConfig()
				cfg.Device, cfg.Seed = DeviceCPU, 5
				tc.edit(&cfg)
				cfg.Towers, cfg.StepsPerCall = towers, stepsPerCall
				cfg.IntraOpThreads, cfg.InterOpThreads = 1, max(2, towers)
				return trainTrace(t, newModel(t, cfg), examplesSplit{pixels, labels, valPixels, valLabels, features}, gathered, func(epoch int) [][]int32 {
					return append(epochBatches(n, size, uint64(epoch)), []int32{7})
				})
			}
			one := run(1, 1, true)
			last := len(one.losses) - 1
			if math.IsNaN(float64(one.losses[last])) || one.losses[last] >= one.losses[0] {
				t.Fatalf("the one-tower run did not learn: loss %v → %v", one.losses[0], one.losses[last])
			}
			const tolerance = 1e-5
			for _, towers := range []int{2, 3} {
				got := run(towers, 1, true)
				for i := range one.losses {
					if d := math.Abs(float64(got.losses[i] - one.losses[i])); d > tolerance || got.accs[i] != one.accs[i] {
						t.Errorf("%d towers, step %d: loss %v accuracy %v, one tower %v %v", towers, i+1, got.losses[i], got.accs[i], one.losses[i], one.accs[i])
					}
				}
				if math.Abs(got.val[0]-one.val[0]) > tolerance || got.val[1] != one.val[1] {
					t.Errorf("%d towers: validation %v, one tower %v", towers, got.val, one.val)
				}
				for i, w := range one.weights {
					if slices.Contains(tc.noise, w.Name) {
						continue
					}
					for j, v := range w.Values {
						if d := math.Abs(float64(got.weights[i].Values[j] - v)); d > tolerance {
							t.Errorf("%d towers: %s[%d] = %v, one tower %v", towers, w.Name, j, got.weights[i].Values[j], v)
							break
						}
					}
				}
				if towers != 2 {
					continue
				}
				for _, way := range []struct {
					name         string
					stepsPerCall int
					gathered     bool
				}{{"4 steps per call", 4, true}, {"fed", 1, false}} {
					other := run(towers, way.stepsPerCall, way.gathered)
					if !slices.Equal(other.losses, got.losses) || !slices.Equal(other.accs, got.accs) || other.val != got.val {
						t.Errorf("2 towers, %s: losses %v validation %v\nwant %v %v", way.name, other.losses, other.val, got.losses, got.val)
					}
					for i, w := range got.weights {
						if !slices.Equal(other.weights[i].Values, w.Values) {
							t.Errorf("2 towers, %s: %s differs", way.name, w.Name)
						}
					}
				}
			}
		})
	}
}

// TestValidateConcurrency evaluates the bound validation set in 1, 2 and 3 parts at once: the
// accuracy is the same count, the loss the same up to the float32 sums of other parts, and each
// setting gives the same bits every time.
func TestValidateConcurrency(t *testing.T) {
	const n, features = 301, 784
	pixels, labels := randomBatch(8, n, features, 10)
	var one [2]float64
	for _, concurrent := range []int{1, 2, 3} {
		cfg := DefaultConfig()
		cfg.Device, cfg.Network, cfg.ValidateConcurrency = DeviceCPU, withBatchNorm(cfg.Network, true), concurrent
		cfg.IntraOpThreads, cfg.InterOpThreads = 1, 1
		m := newModel(t, cfg)
		set := newExamples(t, pixels, labels, features)
		if err := m.Bind(set, set); err != nil {
			t.Fatal(err)
		}
		var first [2]float64
		for i := range 4 {
			loss, acc, err := m.Validate()
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				first = [2]float64{loss, acc}
			} else if got := [2]float64{loss, acc}; got != first {
				t.Errorf("%d at once, call %d: %v, first call %v", concurrent, i+1, got, first)
			}
		}
		if concurrent == 1 {
			one = first
			fedLoss, fedAcc, err := m.Evaluate(pixels, labels)
			if err != nil || fedLoss != one[0] || fedAcc != one[1] {
				t.Errorf("Evaluate %v %v (%v), Validate %v", fedLoss, fedAcc, err, one)
			}
			continue
		}
		if first[1] != one[1] || math.Abs(first[0]-one[0]) > 1e-6*math.Abs(one[0]) {
			t.Errorf("%d at once: %v, one at a time %v", concurrent, first, one)
		}
	}
}
