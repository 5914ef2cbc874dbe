package model

import (
	"bytes"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tfsweep/tfsweep/modelfile"
	"github.com/tfsweep/tfsweep/spec"
)

// newExamples puts pixels and labels into an Examples.
func newExamples(t testing.TB, pixels []float32, labels []int32, features int) *Examples {
	t.Helper()
	e, err := NewExamples(len(labels), features, func(p []float32, l []int32) {
		copy(p, pixels)
		copy(l, labels)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// epochBatches cuts a shuffled order of n examples into batches of size, the last one partial.
func epochBatches(n, size int, seed uint64) [][]int32 {
	order := make([]int32, n)
	for i, j := range rand.New(rand.NewPCG(seed, 1)).Perm(n) {
		order[i] = int32(j)
	}
	var batches [][]int32
	for start := 0; start < n; start += size {
		batches = append(batches, order[start:min(start+size, n)])
	}
	return batches
}

// examplesSplit is a training and a validation set as Go slices.
type examplesSplit struct {
	pixels    []float32
	labels    []int32
	valPixels []float32
	valLabels []int32
	features  int
}

// trace is what trainTrace saw: every step's loss and accuracy, the validation loss and accuracy
// after the last epoch, and the weights.
type trace struct {
	losses, accs []float32
	val          [2]float64
	weights      []Weight
}

// trainTrace binds data to m and trains two epochs of batches(epoch), each either gathered from the
// bound set (TrainSteps, then Validate) or fed (TrainStep, then Evaluate of the validation set).
func trainTrace(t *testing.T, m *Model, data examplesSplit, gathered bool, batches func(epoch int) [][]int32) trace {
	t.Helper()
	if err := m.Bind(newExamples(t, data.pixels, data.labels, data.features), newExamples(t, data.valPixels, data.valLabels, data.features)); err != nil {
		t.Fatal(err)
	}
	var tr trace
	for epoch := range 2 {
		batches := batches(epoch)
		if gathered {
			l, a := make([]float32, len(batches)), make([]float32, len(batches))
			if err := m.TrainSteps(batches, l, a); err != nil {
				t.Fatal(err)
			}
			tr.losses, tr.accs = append(tr.losses, l...), append(tr.accs, a...)
			continue
		}
		for _, b := range batches {
			bp, bl := make([]float32, 0, len(b)*data.features), make([]int32, 0, len(b))
			for _, i := range b {
				bp, bl = append(bp, data.pixels[int(i)*data.features:int(i+1)*data.features]...), append(bl, data.labels[i])
			}
			loss, acc, err := m.TrainStep(bp, bl)
			if err != nil {
				t.Fatal(err)
			}
			tr.losses, tr.accs = append(tr.losses, loss), append(tr.accs, acc)
		}
	}
	var err error
	if gathered {
		tr.val[0], tr.val[1], err = m.Validate()
	} else {
		tr.val[0], tr.val[1], err = m.Evaluate(data.valPixels, data.valLabels)
	}
	if err != nil {
		t.Fatal(err)
	}
	if tr.weights, err = m.Weights(); err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestTrainStepsMatchesTrainStep trains the same configuration several ways over two epochs: fed
// batches one per call (TrainStep), gathered in the graph one per call, and gathered in chunks of
// four steps per call, on TensorFlow's default pools; and on one thread with the single-threaded
// executor (sessionConfig), fed and in chunks, against TensorFlow's executor on one intra-op thread.
// The epoch of 11 batches (the last one short) runs two chunks and three single steps. Every step's
// loss and accuracy, the final weights and the validation metrics must be the same bits.
func TestTrainStepsMatchesTrainStep(t *testing.T) {
	const n, size, features = 330, 32, 784
	pixels, labels := randomBatch(3, n, features, 10)
	valPixels, valLabels := randomBatch(4, 70, features, 10)
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"plain", func(*Config) {}},
		{"batchnorm and dropout", func(c *Config) { c.Network = withDropout(withBatchNorm(c.Network, true), 0.3) }},
		{"nadam, l2 and cosine schedule", func(c *Config) {
			c.Optimizer, c.Network = "nadam", withL2(c.Network, 1e-3)
			c.Schedule = spec.Schedule{Kind: spec.ScheduleCosine, DecaySteps: 15}
		}},
		{"sgd with nesterov momentum", func(c *Config) { c.Optimizer, c.Momentum, c.Nesterov = "sgd", 0.9, true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Device, cfg.Seed = DeviceCPU, 5
			tc.edit(&cfg)
			run := func(stepsPerCall int, gathered bool, intra, inter int) trace {
				c := cfg
				c.StepsPerCall = stepsPerCall
				c.IntraOpThreads, c.InterOpThreads = intra, inter
				m := newModel(t, c)
				tr := trainTrace(t, m, examplesSplit{pixels, labels, valPixels, valLabels, features}, gathered, func(epoch int) [][]int32 {
					return epochBatches(n, size, uint64(epoch))
				})
				if m.Iterations() != 22 {
					t.Errorf("iterations %d, want 22", m.Iterations())
				}
				return tr
			}
			// Fused batch norm splits its reductions by intra-op threads: compare at equal counts.
			pools, oneThread := run(0, false, 0, 0), run(0, false, 1, 2)
			for _, want := range []trace{pools, oneThread} {
				if math.IsNaN(float64(want.losses[21])) || want.losses[21] >= want.losses[0] {
					t.Fatalf("a reference run did not learn: loss %v → %v", want.losses[0], want.losses[21])
				}
			}
			for _, way := range []struct {
				name         string
				stepsPerCall int
				gathered     bool
				intra, inter int
				want         trace
			}{
				{"gathered, one step per call", 1, true, 0, 0, pools},
				{"gathered, 4 steps per call", 4, true, 0, 0, pools},
				{"fed, single-threaded executor", 0, false, 1, 1, oneThread},
				{"gathered, 4 steps per call, single-threaded executor", 4, true, 1, 1, oneThread},
			} {
				want := way.want
				c := cfg
				c.IntraOpThreads, c.InterOpThreads = way.intra, way.inter
				pb, err := sessionConfig(c)
				if err != nil {
					t.Fatal(err)
				}
				if single := bytes.Contains(pb, []byte(singleThreadedExecutor)); single != strings.Contains(way.name, "single-threaded") {
					t.Fatalf("%s: single-threaded executor in the session config: %v", way.name, single)
				}
				checkSameTrace(t, way.name, run(way.stepsPerCall, way.gathered, way.intra, way.inter), want)
			}
		})
	}
}

// checkSameTrace fails the test unless got has want's bits: every step's loss and accuracy, the
// validation metrics and the final weights.
func checkSameTrace(t *testing.T, name string, got, want trace) {
	t.Helper()
	if !slices.Equal(got.losses, want.losses) || !slices.Equal(got.accs, want.accs) {
		t.Errorf("%s: losses %v\naccuracies %v\nwant %v\n%v", name, got.losses, got.accs, want.losses, want.accs)
	}
	if got.val != want.val {
		t.Errorf("%s: validation %v, want %v", name, got.val, want.val)
	}
	for i, w := range want.weights {
		if !slices.Equal(got.weights[i].Values, w.Values) {
			t.Errorf("%s: %s differs", name, w.Name)
		}
	}
}

func TestTrainStepsRefusesBadInput(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Device, cfg.StepsPerCall = DeviceCPU, 2
	m := newModel(t, cfg)
	one := [][]int32{{0, 1}}
	if err := m.TrainSteps(one, make([]float32, 1), make([]float32, 1)); err == nil || !strings.Contains(err.Error(), "no training set bound") {
		t.Errorf("before Bind: %v", err)
	}
	if _, _, err := m.Validate(); err == nil || !strings.Contains(err.Error(), "no validation set bound") {
		t.Errorf("Validate before Bind: %v", err)
	}
	pixels, labels := randomBatch(1, 10, inputs(cfg), 10)
	if err := m.Bind(newExamples(t, pixels[:10*5], labels, 5), newExamples(t, pixels, labels, inputs(cfg))); err == nil || !strings.Contains(err.Error(), "5 features") {
		t.Errorf("Bind with 5 features: %v", err)
	}
	bad := slices.Clone(labels)
	bad[3] = 10
	if err := m.Bind(newExamples(t, pixels, labels, inputs(cfg)), newExamples(t, pixels, bad, inputs(cfg))); err == nil || !strings.Contains(err.Error(), "label 10 of example 3") {
		t.Errorf("Bind with label 10: %v", err)
	}
	if err := m.Bind(newExamples(t, pixels, labels, inputs(cfg)), newExamples(t, pixels, labels, inputs(cfg))); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		batches [][]int32
		want    string
	}{
		{[][]int32{{0, 10}}, "example 10 is outside the training set of 10"},
		{[][]int32{{0}, {}}, "batch 1 is empty"},
		{[][]int32{{-1}}, "example -1 is outside"},
	} {
		err := m.TrainSteps(tc.batches, make([]float32, len(tc.batches)), make([]float32, len(tc.batches)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("TrainSteps(%v) = %v, want %q", tc.batches, err, tc.want)
		}
	}
	if err := m.TrainSteps(one, nil, nil); err == nil || !strings.Contains(err.Error(), "1 batches but 0 losses") {
		t.Errorf("short results: %v", err)
	}
	if m.Iterations() != 0 {
		t.Errorf("refused calls took %d steps", m.Iterations())
	}
}

// TestValidationProbabilities checks that the validation pass keeps the probabilities Predict
// gives for the same examples, whatever the concurrency of its parts, that its loss is theirs, and
// that nothing is kept without the setting.
func TestValidationProbabilities(t *testing.T) {
	const features, classes = 784, 10
	pixels, labels := randomBatch(3, 64, features, classes)
	valPixels, valLabels := randomBatch(4, 301, features, classes)
	for _, tc := range []struct {
		name       string
		keep       bool
		concurrent int
	}{
		{"kept, one part", true, 1},
		{"kept, three parts", true, 3},
		{"not kept", false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Device, cfg.Seed, cfg.ValidateConcurrency, cfg.KeepValidationProbabilities = DeviceCPU, 5, tc.concurrent, tc.keep
			m := newModel(t, cfg)
			if err := m.Bind(newExamples(t, pixels, labels, features), newExamples(t, valPixels, valLabels, features)); err != nil {
				t.Fatal(err)
			}
			if got := m.ValidationProbabilities(); got != nil {
				t.Fatalf("before Validate: %d probabilities", len(got))
			}
			loss, _, err := m.Validate()
			if err != nil {
				t.Fatal(err)
			}
			got := m.ValidationProbabilities()
			if !tc.keep {
				if got != nil {
					t.Fatalf("without the setting: %d probabilities kept", len(got))
				}
				return
			}
			want, _, err := m.Predict(valPixels, len(valLabels))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d probabilities, want %d", len(got), len(want))
			}
			var xent float64
			for j, l := range valLabels {
				for k := range classes {
					if d := math.Abs(float64(got[j*classes+k] - want[j*classes+k])); d > 1e-6 {
						t.Fatalf("example %d class %d: %v, Predict gives %v", j, k, got[j*classes+k], want[j*classes+k])
					}
				}
				xent -= math.Log(float64(got[j*classes+int(l)]))
			}
			if mean := xent / float64(len(valLabels)); math.Abs(mean-loss) > 1e-4*loss {
				t.Errorf("cross-entropy of the kept probabilities %v, Validate's loss %v", mean, loss)
			}
		})
	}
}

// A network with convolutions evaluates in chunks that keep its largest layer output within
// evalLayerBytes (Keras' MNIST convnet: 26×26×32 floats an example after its first Conv2D); a Dense
// network in calls of spec.EvalChunk.
func TestEvalChunkFor(t *testing.T) {
	convnet, err := modelfile.Read(filepath.Join("..", "modelfile", "testdata", "convnet.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	wide := DefaultConfig().Network
	wide.Layers = slices.Clone(wide.Layers)
	dense := *wide.Layers[0].Dense
	dense.Units = 100_000
	wide.Layers[0].Dense = &dense
	for _, tc := range []struct {
		name string
		net  spec.Network
		want int
	}{
		{"the lab MLP", DefaultConfig().Network, spec.EvalChunk},
		{"a Dense layer of 100,000 units", wide, spec.EvalChunk},
		{"Keras' MNIST convnet", convnet, evalLayerBytes / 4 / (26 * 26 * 32)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Config{Network: tc.net, Device: DeviceCPU}.Validate()
			if err != nil {
				t.Fatal(err)
			}
			summary, err := cfg.Network.Summary()
			if err != nil {
				t.Fatal(err)
			}
			if got := evalChunkFor(cfg.Network, summary); got != tc.want {
				t.Errorf("evalChunkFor = %d, want %d", got, tc.want)
			}
		})
	}
}

// The convnet's validation in chunks gives the accuracy and, to rounding, the loss and the
// probabilities of one call over all the examples.
func TestConvnetValidatesInChunks(t *testing.T) {
	net, err := modelfile.Read(filepath.Join("..", "modelfile", "testdata", "convnet.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	pixels, labels := randomBatch(3, 64, 784, 10)
	valPixels, valLabels := randomBatch(4, 301, 784, 10)
	validate := func(chunk int) (loss, acc float64, probabilities []float32) {
		m := newModel(t, Config{Network: net, Device: DeviceCPU, Seed: 5, KeepValidationProbabilities: true})
		if chunk > 0 {
			m.graph.evalChunk = chunk
		}
		if err := m.Bind(newExamples(t, pixels, labels, 784), newExamples(t, valPixels, valLabels, 784)); err != nil {
			t.Fatal(err)
		}
		loss, acc, err := m.Validate()
		if err != nil {
			t.Fatal(err)
		}
		return loss, acc, slices.Clone(m.ValidationProbabilities())
	}
	loss, acc, probabilities := validate(0)
	wholeLoss, wholeAcc, wholeProbabilities := validate(spec.EvalChunk)
	if acc != wholeAcc || math.Abs(loss-wholeLoss) > 1e-6*wholeLoss {
		t.Errorf("in chunks: loss %v, accuracy %v; in one call: %v, %v", loss, acc, wholeLoss, wholeAcc)
	}
	for i := range wholeProbabilities {
		if d := math.Abs(float64(probabilities[i] - wholeProbabilities[i])); d > 1e-6 {
			t.Fatalf("probability %d: %v in chunks, %v in one call", i, probabilities[i], wholeProbabilities[i])
		}
	}
}
