package model

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/tfsweep/tfsweep/spec"
)

// layersFixture is testdata/keras_layers.json, written by testdata/keras_fixture.py: Keras 3's
// per-step trajectories of small networks with every layer class beyond Dense, each network given
// in tfsweep's own description, and the variances of Keras' kernel initializers on a conv kernel.
type layersFixture struct {
	Keras         string             `json:"keras"`
	BatchSize     int                `json:"batch_size"`
	TrainExamples int                `json:"train_examples"`
	Epochs        int                `json:"epochs"`
	TestExamples  int                `json:"test_examples"`
	Seed          int64              `json:"seed"`
	InitVariances map[string]float64 `json:"init_variances"`
	InitShape     []int              `json:"init_shape"`
	Variants      map[string]struct {
		Network spec.Network `json:"network"`
		Config  struct {
			Optimizer    string   `json:"optimizer"`
			LearningRate *float64 `json:"learning_rate"`
			Momentum     float64  `json:"momentum"`
			Nesterov     bool     `json:"nesterov"`
			WeightDecay  *float64 `json:"weight_decay"`
		} `json:"config"`
		Weights []struct {
			Name  string `json:"name"`
			Shape []int  `json:"shape"`
		} `json:"weights"`
		Losses       []float64 `json:"losses"`
		Accuracies   []float64 `json:"accuracies"`
		EvalLoss     float64   `json:"eval_loss"`
		EvalAccuracy float64   `json:"eval_accuracy"`
		initial      map[string][]float32
	} `json:"variants"`
}

// loadLayersFixture reads the fixture and each variant's initial weights, in the fixture's variant
// order (Python's dict order, which json.dump keeps and the weights file follows).
func loadLayersFixture(t *testing.T) *layersFixture {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "keras_layers.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx layersFixture
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatalf("keras_layers.json: %v", err)
	}
	var order []string
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := variantOrder(dec, &order); err != nil {
		t.Fatalf("keras_layers.json: %v", err)
	}
	weightBytes, err := os.ReadFile(filepath.Join("testdata", "keras_layers.weights"))
	if err != nil {
		t.Fatal(err)
	}
	r := bytes.NewReader(weightBytes)
	for _, name := range order {
		v := fx.Variants[name]
		v.initial = make(map[string][]float32)
		for _, w := range v.Weights {
			n := 1
			for _, d := range w.Shape {
				n *= d
			}
			values := make([]float32, n)
			if err := binary.Read(r, binary.LittleEndian, values); err != nil {
				t.Fatalf("keras_layers.weights: %s %s: %v", name, w.Name, err)
			}
			v.initial[w.Name] = values
		}
		fx.Variants[name] = v
	}
	if r.Len() != 0 {
		t.Fatalf("keras_layers.weights: %d bytes left over", r.Len())
	}
	return &fx
}

// variantOrder reads the keys of the top-level "variants" object in file order.
func variantOrder(dec *json.Decoder, order *[]string) error {
	var doc map[string]json.RawMessage
	if err := dec.Decode(&doc); err != nil {
		return err
	}
	vd := json.NewDecoder(bytes.NewReader(doc["variants"]))
	if _, err := vd.Token(); err != nil { // {
		return err
	}
	for vd.More() {
		key, err := vd.Token()
		if err != nil {
			return err
		}
		*order = append(*order, key.(string))
		var skip json.RawMessage
		if err := vd.Decode(&skip); err != nil {
			return err
		}
	}
	return nil
}

// Conv2D (valid and same, strides, no bias), the pooling layers, batch norm on 4-D inputs (the last
// axis and another), Dropout, Add, Concatenate, Rescaling and Reshape, and every optimizer on a
// small convnet replay Keras 3: started from Keras' initial weights and fed the same batches, every
// step's loss is within 1e-5 relative of Keras', the accuracy equal, and the evaluation after
// training within 1e-5 (1e-3 with batch norm, whose moving mean follows a bias whose gradient is
// rounding noise; see TestReplaysKeras). The Dropout variant's Keras layer draws tfsweep's masks, so
// that the steps compare the layer's arithmetic rather than two random generators.
func TestReplaysKerasLayers(t *testing.T) {
	const lossTol = 1e-5
	fx := loadLayersFixture(t)
	train, test := loadMNIST(t)
	trainSet, testSet := subsample(train.Head(fx.TrainExamples)), subsample(test.Head(fx.TestExamples))
	order := make([]int, trainSet.Len())
	for i := range order {
		order[i] = i
	}
	testPixels, testLabels := testSet.Float32(spec.ScaleUnit)
	names := make([]string, 0, len(fx.Variants))
	for name := range fx.Variants {
		names = append(names, name)
	}
	sort.Strings(names)
	var summary []string
	for _, name := range names {
		v := fx.Variants[name]
		t.Run(name, func(t *testing.T) {
			cfg := Config{Network: v.Network, Seed: fx.Seed, Device: DeviceCPU, Optimizer: v.Config.Optimizer,
				Momentum: v.Config.Momentum, Nesterov: v.Config.Nesterov}
			if v.Config.LearningRate != nil {
				cfg.LearningRate = *v.Config.LearningRate
			}
			if v.Config.WeightDecay != nil {
				cfg.WeightDecay = *v.Config.WeightDecay
			}
			m := newModel(t, cfg)
			ws, err := m.Weights()
			if err != nil {
				t.Fatal(err)
			}
			var ours, keras []string
			for _, w := range ws {
				ours = append(ours, w.Name)
			}
			for _, w := range v.Weights {
				keras = append(keras, w.Name)
			}
			if !slices.Equal(ours, keras) {
				t.Fatalf("weights\n ours  %v\n keras %v", ours, keras)
			}
			m.setWeights(t, v.initial)
			var maxLoss float64
			step := 0
			for range fx.Epochs {
				for b := range trainSet.Batches(order, fx.BatchSize, spec.ScaleUnit) {
					loss, acc, err := m.TrainStep(b.Pixels, b.Labels)
					if err != nil {
						t.Fatal(err)
					}
					e := relErr(float64(loss), v.Losses[step])
					maxLoss = max(maxLoss, e)
					if e > lossTol {
						t.Errorf("step %d: loss %.7f, Keras %.7f (relative error %.2g)", step, loss, v.Losses[step], e)
					}
					if math.Abs(float64(acc)-v.Accuracies[step]) > 1e-6 {
						t.Errorf("step %d: accuracy %.5f, Keras %.5f", step, acc, v.Accuracies[step])
					}
					step++
				}
			}
			if step != len(v.Losses) {
				t.Fatalf("%d steps, Keras took %d", step, len(v.Losses))
			}
			loss, acc, err := m.Evaluate(testPixels, testLabels)
			if err != nil {
				t.Fatal(err)
			}
			evalErr := relErr(loss, v.EvalLoss)
			evalTol, accTol := lossTol, 1e-6
			if strings.HasPrefix(name, "batch_normalization") {
				evalTol, accTol = 1e-3, 0.01
			}
			if evalErr > evalTol || math.Abs(acc-v.EvalAccuracy) > accTol {
				t.Errorf("evaluation loss %.7f accuracy %.4f, Keras %.7f %.4f", loss, acc, v.EvalLoss, v.EvalAccuracy)
			}
			summary = append(summary, fmt.Sprintf("%s %.1e/%.1e", name, maxLoss, evalErr))
		})
	}
	t.Logf("Keras %s, max relative per-step loss error / evaluation loss error: %s", fx.Keras, strings.Join(summary, ", "))
}

// Every kernel initializer draws a Conv2D kernel with the variance Keras' draws have: the fans are
// Keras' (receptive field × channels). Both are samples of 12,800 values, so the variances agree
// within a few percent; a fan computed from the channels alone would be off by the receptive field,
// 25 times.
func TestConvInitMatchesKeras(t *testing.T) {
	fx := loadLayersFixture(t)
	shape := fx.InitShape // height, width, in, out
	for _, name := range spec.InitNames() {
		want, ok := fx.InitVariances[name]
		if !ok {
			t.Errorf("the fixture has no variance for %s", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			net := spec.Network{Input: spec.Input{Shape: spec.Shape{shape[0], shape[1], shape[2]}}, Layers: []spec.Layer{
				{Class: spec.ClassConv2D, Conv2D: &spec.Conv2DArgs{Filters: shape[3], KernelSize: [2]int{shape[0], shape[1]},
					UseBias: true, Kernel: spec.Kernel{Initializer: spec.Initializer(name)}}},
				{Class: spec.ClassFlatten},
				{Class: spec.ClassDense, Dense: &spec.DenseArgs{Units: 2, Activation: spec.ActivationSoftmax}},
			}}
			ws, err := newModel(t, Config{Network: net, Seed: 4, Device: DeviceCPU}).Weights()
			if err != nil {
				t.Fatal(err)
			}
			var sum, sq float64
			for _, x := range ws[0].Values {
				sum += float64(x)
				sq += float64(x) * float64(x)
			}
			n := float64(len(ws[0].Values))
			got := sq/n - (sum/n)*(sum/n)
			if ws[0].Name != "conv2d/kernel" || !slices.Equal(ws[0].Shape, shape) {
				t.Fatalf("first weight %s %v, want conv2d/kernel %v", ws[0].Name, ws[0].Shape, shape)
			}
			if relErr(got, want) > 0.06 {
				t.Errorf("variance %.3g, Keras %.3g", got, want)
			}
		})
	}
}

// BatchNormalization without center and scale has no beta and gamma (Keras' weights are the moving
// statistics alone), and its training output is the batch normalised: mean 0 and variance
// 1/(1+ε/σ²) per feature.
func TestBatchNormWithoutCenterAndScale(t *testing.T) {
	net := spec.Network{Input: spec.Input{Shape: spec.Shape{6}}, Layers: []spec.Layer{
		{Class: spec.ClassDense, Dense: &spec.DenseArgs{Units: 4, UseBias: true}},
		{Class: spec.ClassBatchNormalization, BatchNorm: &spec.BatchNormArgs{Axis: -1, Momentum: 0.9, Epsilon: 1e-3}},
		{Class: spec.ClassDense, Dense: &spec.DenseArgs{Units: 3, Activation: spec.ActivationSoftmax, UseBias: true}},
	}}
	m := newModel(t, Config{Network: net, Seed: 2, Device: DeviceCPU})
	ws, err := m.Weights()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, w := range ws {
		names = append(names, w.Name)
	}
	want := []string{"dense/kernel", "dense/bias", "batch_normalization/moving_mean", "batch_normalization/moving_variance",
		"dense_1/kernel", "dense_1/bias"}
	if !slices.Equal(names, want) {
		t.Fatalf("weights %v, want %v", names, want)
	}
	pixels, labels := randomBatch(3, 64, 6, 3)
	out, err := float32s(m.run(t, pixels, labels, m.graph.single.train.outputs["batch_normalization"][0])[0])
	if err != nil {
		t.Fatal(err)
	}
	for j := range 4 {
		var sum, sq float64
		for i := range 64 {
			sum += float64(out[i*4+j])
		}
		mean := sum / 64
		for i := range 64 {
			d := float64(out[i*4+j]) - mean
			sq += d * d
		}
		if math.Abs(mean) > 1e-5 || !(sq/64 > 0.9 && sq/64 <= 1+1e-5) {
			t.Errorf("feature %d: mean %g, variance %g; want 0 and just under 1", j, mean, sq/64)
		}
	}
	if _, _, err := m.TrainStep(pixels, labels); err != nil {
		t.Fatal(err)
	}
}
