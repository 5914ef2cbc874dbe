package model

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tfsweep/tfsweep/modelfile"
	"github.com/tfsweep/tfsweep/spec"
)

// kerasFixture is a training trajectory recorded from Keras 3 by testdata/keras_fixture.py.
type kerasFixture struct {
	Keras         string `json:"keras"`
	Hidden        []int  `json:"hidden"`
	BatchNorm     bool   `json:"batch_norm"`
	BatchSize     int    `json:"batch_size"`
	TrainExamples int    `json:"train_examples"`
	Epochs        int    `json:"epochs"`
	TestExamples  int    `json:"test_examples"`
	Weights       []struct {
		Name  string `json:"name"`
		Shape []int  `json:"shape"`
	} `json:"weights"`
	Losses       []float64 `json:"losses"`
	Accuracies   []float64 `json:"accuracies"`
	EvalLoss     float64   `json:"eval_loss"`
	EvalAccuracy float64   `json:"eval_accuracy"`
}

// Started from Keras' initial weights and fed the same batches, the model reproduces Keras 3's
// per-step losses and accuracies and its evaluation, with and without batch norm. This is the
// end-to-end check of the loss, batch norm (both modes and the moving statistics) and Adam.
func TestMatchesKeras(t *testing.T) {
	const lossTol = 1e-4 // float32 round-off, different op order; measured ≈ 1e-6
	train, test := loadMNIST(t)
	for _, name := range []string{"keras_plain", "keras_batchnorm"} {
		t.Run(name, func(t *testing.T) {
			var fx kerasFixture
			raw, err := os.ReadFile(filepath.Join("testdata", name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &fx); err != nil {
				t.Fatalf("%s.json: %v", name, err)
			}
			weightBytes, err := os.ReadFile(filepath.Join("testdata", name+".weights"))
			if err != nil {
				t.Fatal(err)
			}
			cfg := DefaultConfig()
			cfg.Network, cfg.Device = withBatchNorm(mlp(784, fx.Hidden, 10), fx.BatchNorm), DeviceCPU
			m := newModel(t, cfg)

			// Keras' initial weights, in model.weights order, which is also ours.
			initial := make(map[string][]float32)
			r := bytes.NewReader(weightBytes)
			var names []string
			for _, w := range fx.Weights {
				n := 1
				for _, d := range w.Shape {
					n *= d
				}
				values := make([]float32, n)
				if err := binary.Read(r, binary.LittleEndian, values); err != nil {
					t.Fatalf("%s.weights: %s: %v", name, w.Name, err)
				}
				initial[w.Name] = values
				names = append(names, w.Name)
			}
			if r.Len() != 0 {
				t.Fatalf("%s.weights: %d bytes left over", name, r.Len())
			}
			var ours []string
			ws, err := m.Weights()
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range ws {
				ours = append(ours, w.Name)
			}
			if !slices.Equal(ours, names) {
				t.Fatalf("weight names\n ours  %v\n keras %v", ours, names)
			}
			m.setWeights(t, initial)

			head := train.Head(fx.TrainExamples)
			order := make([]int, head.Len())
			for i := range order {
				order[i] = i
			}
			step := 0
			var maxLossDiff float64
			for range fx.Epochs {
				for b := range head.Batches(order, fx.BatchSize, spec.ScaleUnit) {
					loss, acc, err := m.TrainStep(b.Pixels, b.Labels)
					if err != nil {
						t.Fatal(err)
					}
					diff := math.Abs(float64(loss) - fx.Losses[step])
					maxLossDiff = max(maxLossDiff, diff)
					if diff > lossTol {
						t.Errorf("step %d: loss %.7f, Keras %.7f", step, loss, fx.Losses[step])
					}
					if math.Abs(float64(acc)-fx.Accuracies[step]) > 1e-6 {
						t.Errorf("step %d: accuracy %.5f, Keras %.5f", step, acc, fx.Accuracies[step])
					}
					step++
				}
			}
			if step != len(fx.Losses) {
				t.Fatalf("%d steps, Keras took %d", step, len(fx.Losses))
			}
			pixels, labels := test.Head(fx.TestExamples).Float32(spec.ScaleUnit)
			loss, acc, err := m.Evaluate(pixels, labels)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("Keras %s: %d steps, max loss difference %.2g; evaluation loss %.7f (Keras %.7f), accuracy %.4f (Keras %.4f)",
				fx.Keras, step, maxLossDiff, loss, fx.EvalLoss, acc, fx.EvalAccuracy)
			if math.Abs(loss-fx.EvalLoss) > lossTol || math.Abs(acc-fx.EvalAccuracy) > 1e-6 {
				t.Errorf("evaluation loss %.7f accuracy %.4f, Keras %.7f %.4f", loss, acc, fx.EvalLoss, fx.EvalAccuracy)
			}
		})
	}
}

// KerasJSON gives what Keras wrote for the networks of modelfile's Keras JSONs (scripts/keras_models.py:
// Sequential convnets with every layer class, a Functional residual network), read back by
// modelfile: every layer's config, build_config and inbound nodes, and the model's.
func TestKerasJSONOfKerasModels(t *testing.T) {
	for _, name := range []string{"mlp", "convnet", "every_layer", "residual"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("..", "modelfile", "testdata", "keras", name+".json")
			net, err := modelfile.Read(path)
			if err != nil {
				t.Fatal(err)
			}
			ours, err := newModel(t, Config{Network: net, Device: DeviceCPU}).KerasJSON()
			if err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var got, want map[string]any
			if err := json.Unmarshal(ours, &got); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			delete(got, "compile_config") // Keras' is its own compile call's
			delete(want, "compile_config")
			// The model's name is the one modelfile gave the network: the file's, as Keras' own
			// ("sequential", "functional") names no model in particular.
			if model := got["config"].(map[string]any)["name"]; model != name {
				t.Errorf("model name %v, want the file's %q", model, name)
			}
			delete(got["config"].(map[string]any), "name")
			delete(want["config"].(map[string]any), "name")
			for _, d := range jsonDiff("", got, want) {
				t.Error(d)
			}
		})
	}
}

// KerasJSON names the model as Keras would hold it: the network's name, else Keras' automatic name
// for its class, as for a name Keras refuses. KerasWeightScope is that name for a Sequential model,
// whose weights Keras 3 builds under it (its path "convnet/dense/kernel"), and nothing for a
// Functional one, whose layers are built before the model ("dense/kernel").
func TestKerasJSONModelName(t *testing.T) {
	named := func(n spec.Network, name string) spec.Network {
		n.Name = name
		return n
	}
	flat := mlp(784, []int{8}, 10)
	branched := residualConvnet(spec.Shape{28, 28, 1}, 10)
	tests := []struct {
		net        spec.Network
		class      string
		wantName   string
		whyDefault string
		wantScope  string
	}{
		{named(flat, "convnet"), "Sequential", "convnet", "", "convnet"},
		{named(flat, ""), "Sequential", "sequential", "no name", "sequential"},
		{named(flat, "runs/a"), "Sequential", "sequential", "Keras refuses a /", "sequential"},
		{named(branched, "resnet_small"), "Functional", "resnet_small", "", ""},
		{named(branched, ""), "Functional", "functional", "no name", ""},
	}
	for _, tt := range tests {
		m := newModel(t, Config{Network: tt.net, Device: DeviceCPU})
		b, err := m.KerasJSON()
		if err != nil {
			t.Fatal(err)
		}
		var model struct {
			ClassName string `json:"class_name"`
			Config    struct {
				Name string `json:"name"`
			} `json:"config"`
		}
		if err := json.Unmarshal(b, &model); err != nil {
			t.Fatal(err)
		}
		if model.ClassName != tt.class || model.Config.Name != tt.wantName {
			t.Errorf("network named %q: %s %q, want %s %q %s", tt.net.Name, model.ClassName, model.Config.Name, tt.class, tt.wantName, tt.whyDefault)
		}
		if got := m.KerasWeightScope(); got != tt.wantScope {
			t.Errorf("network named %q: weight scope %q, want %q", tt.net.Name, got, tt.wantScope)
		}
	}
}
