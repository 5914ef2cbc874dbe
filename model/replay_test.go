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

	"github.com/tfsweep/tfsweep/dataset"
	"github.com/tfsweep/tfsweep/spec"
)

// replayFixture is testdata/keras_replay.json, written by testdata/keras_fixture.py: Keras 3's
// per-step trajectories of one small network under every activation, optimizer, L2 and schedule.
type replayFixture struct {
	Keras         string `json:"keras"`
	Hidden        []int  `json:"hidden"`
	Inputs        int    `json:"inputs"`
	BatchSize     int    `json:"batch_size"`
	TrainExamples int    `json:"train_examples"`
	Epochs        int    `json:"epochs"`
	TestExamples  int    `json:"test_examples"`
	Weights       []struct {
		Name  string `json:"name"`
		Shape []int  `json:"shape"`
	} `json:"weights"`
	Variants map[string]replayVariant `json:"variants"`
}

type replayVariant struct {
	Config struct {
		Activation   string   `json:"activation"`
		BatchNorm    bool     `json:"batch_norm"`
		Optimizer    string   `json:"optimizer"`
		LearningRate *float64 `json:"learning_rate"`
		Momentum     float64  `json:"momentum"`
		Nesterov     bool     `json:"nesterov"`
		WeightDecay  *float64 `json:"weight_decay"`
		L2           float64  `json:"l2"`
		Dropout      float64  `json:"dropout"`
		Schedule     *struct {
			Kind         string    `json:"kind"`
			DecaySteps   int64     `json:"decay_steps"`
			DecayRate    float64   `json:"decay_rate"`
			Staircase    bool      `json:"staircase"`
			Alpha        float64   `json:"alpha"`
			WarmupTarget float64   `json:"warmup_target"`
			WarmupSteps  int64     `json:"warmup_steps"`
			Boundaries   []int64   `json:"boundaries"`
			Values       []float64 `json:"values"`
		} `json:"schedule"`
	} `json:"config"`
	Losses             []float64       `json:"losses"`
	Accuracies         []float64       `json:"accuracies"`
	LearningRates      []float64       `json:"learning_rates"`
	FinalLearningRate  float64         `json:"final_learning_rate"`
	EvalLoss           float64         `json:"eval_loss"`
	EvalAccuracy       float64         `json:"eval_accuracy"`
	KerasJSON          json.RawMessage `json:"keras_json"`
	OptimizerVariables []string        `json:"optimizer_variables"`
}

func loadReplayFixture(t *testing.T) (*replayFixture, map[string][]float32) {
	t.Helper()
	var fx replayFixture
	raw, err := os.ReadFile(filepath.Join("testdata", "keras_replay.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatalf("keras_replay.json: %v", err)
	}
	weightBytes, err := os.ReadFile(filepath.Join("testdata", "keras_replay.weights"))
	if err != nil {
		t.Fatal(err)
	}
	r := bytes.NewReader(weightBytes)
	initial := make(map[string][]float32)
	for _, w := range fx.Weights {
		n := 1
		for _, d := range w.Shape {
			n *= d
		}
		values := make([]float32, n)
		if err := binary.Read(r, binary.LittleEndian, values); err != nil {
			t.Fatalf("keras_replay.weights: %s: %v", w.Name, err)
		}
		initial[w.Name] = values
	}
	if r.Len() != 0 {
		t.Fatalf("keras_replay.weights: %d bytes left over", r.Len())
	}
	return &fx, initial
}

// config is the variant's model.Config, from the settings the fixture passed to Keras.
func (v replayVariant) config(fx *replayFixture) Config {
	c := v.Config
	act := spec.Activation(c.Activation)
	net := applied(mlp(fx.Inputs, fx.Hidden, 10), spec.Settings{Activation: &act, BatchNorm: &c.BatchNorm, L2: &c.L2, Dropout: &c.Dropout})
	cfg := Config{Network: net, Device: DeviceCPU, Optimizer: c.Optimizer, Momentum: c.Momentum, Nesterov: c.Nesterov}
	if c.LearningRate != nil {
		cfg.LearningRate = *c.LearningRate
	}
	if c.WeightDecay != nil {
		cfg.WeightDecay = *c.WeightDecay
	}
	if s := c.Schedule; s != nil {
		cfg.Schedule = spec.Schedule{Kind: s.Kind, DecaySteps: s.DecaySteps, DecayRate: s.DecayRate, Staircase: s.Staircase,
			Alpha: s.Alpha, WarmupTarget: s.WarmupTarget, WarmupSteps: s.WarmupSteps, Boundaries: s.Boundaries, Values: s.Values}
	}
	return cfg
}

// subsample keeps the even rows and even columns of every image (14×14 = 196 features), as the
// fixture script does.
func subsample(s *dataset.Split) *dataset.Split {
	out := &dataset.Split{Labels: s.Labels, Rows: (s.Rows + 1) / 2, Cols: (s.Cols + 1) / 2}
	for i := range s.Len() {
		img := s.Pixels[i*s.Rows*s.Cols : (i+1)*s.Rows*s.Cols]
		for r := 0; r < s.Rows; r += 2 {
			for c := 0; c < s.Cols; c += 2 {
				out.Pixels = append(out.Pixels, img[r*s.Cols+c])
			}
		}
	}
	return out
}

func relErr(got, want float64) float64 { return math.Abs(got-want) / math.Max(math.Abs(want), 1e-30) }

// Every activation, optimizer, L2 penalty and learning-rate schedule replays Keras 3: started from
// Keras' initial weights and fed the same batches, every step's loss is within 1e-5 relative of
// Keras' (the L2 penalty included), the accuracy equal, the learning rate each step uses equal to
// Keras' optimizer.learning_rate (the schedule's value) and the evaluation after training within
// 1e-5 too (val_loss includes the penalty). Variants with dropout draw other masks than Keras, so
// only their learning rates are compared here.
//
// With batch norm the evaluation is compared within 1e-3 (accuracy within 1%): the bias of a Dense
// layer feeding batch norm has a gradient that is zero but for rounding, and that rounding noise
// differs between TensorFlow's Python gradients (Keras) and its C++ gradients (here). Adam-like
// optimizers scale the noise up to steps of about the learning rate, so that bias drifts differently,
// which the training loss cannot see (batch norm subtracts it) but the moving mean, and so the
// evaluation, can.
func TestReplaysKeras(t *testing.T) {
	const (
		lossTol = 1e-5 // relative, per step
		lrTol   = 1e-6 // relative: both are float32 computations of the same formula
	)
	fx, initial := loadReplayFixture(t)
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
			m := newModel(t, v.config(fx))
			m.setWeights(t, initial)
			compareLoss := v.Config.Dropout == 0
			var maxLoss, maxLR float64
			step := 0
			for range fx.Epochs {
				for b := range trainSet.Batches(order, fx.BatchSize, spec.ScaleUnit) {
					lr, err := m.LearningRate()
					if err != nil {
						t.Fatal(err)
					}
					if e := relErr(lr, v.LearningRates[step]); e > lrTol {
						t.Errorf("step %d: learning rate %.9g, Keras %.9g", step, lr, v.LearningRates[step])
					} else {
						maxLR = max(maxLR, e)
					}
					loss, acc, err := m.TrainStep(b.Pixels, b.Labels)
					if err != nil {
						t.Fatal(err)
					}
					if compareLoss {
						e := relErr(float64(loss), v.Losses[step])
						maxLoss = max(maxLoss, e)
						if e > lossTol {
							t.Errorf("step %d: loss %.7f, Keras %.7f (relative error %.2g)", step, loss, v.Losses[step], e)
						}
						if math.Abs(float64(acc)-v.Accuracies[step]) > 1e-6 {
							t.Errorf("step %d: accuracy %.5f, Keras %.5f", step, acc, v.Accuracies[step])
						}
					}
					step++
				}
			}
			if step != len(v.Losses) {
				t.Fatalf("%d steps, Keras took %d", step, len(v.Losses))
			}
			lr, err := m.LearningRate()
			if err != nil {
				t.Fatal(err)
			}
			if relErr(lr, v.FinalLearningRate) > lrTol {
				t.Errorf("learning rate after training %.9g, Keras %.9g", lr, v.FinalLearningRate)
			}
			if !compareLoss {
				return
			}
			loss, acc, err := m.Evaluate(testPixels, testLabels)
			if err != nil {
				t.Fatal(err)
			}
			evalErr := relErr(loss, v.EvalLoss)
			evalTol, accTol := lossTol, 1e-6
			if v.Config.BatchNorm {
				evalTol, accTol = 1e-3, 0.01
			}
			if evalErr > evalTol || math.Abs(acc-v.EvalAccuracy) > accTol {
				t.Errorf("evaluation loss %.7f accuracy %.4f, Keras %.7f %.4f", loss, acc, v.EvalLoss, v.EvalAccuracy)
			}
			summary = append(summary, fmt.Sprintf("%s %.1e/%.1e", name, maxLoss, evalErr))
			t.Logf("Keras %s, %d steps: max relative loss error %.2g, evaluation %.2g; learning rate %.2g",
				fx.Keras, step, maxLoss, evalErr, maxLR)
		})
	}
	t.Logf("max relative per-step loss error / evaluation loss error: %s", strings.Join(summary, ", "))
}

// KerasJSON is what Keras' model.to_json() gives for the same model, compiled: the layers with their
// activation, Dropout and L2 regulariser, and the optimizer with its schedule in compile_config; the
// optimizer's variables carry Keras 3's names (without Keras' "sequential_" prefix, as weights drop
// "sequential/").
func TestKerasJSONMatchesKeras(t *testing.T) {
	fx, _ := loadReplayFixture(t)
	for _, name := range []string{"json_all", "json_sgd"} {
		t.Run(name, func(t *testing.T) {
			v := fx.Variants[name]
			m := newModel(t, v.config(fx))
			ours, err := m.KerasJSON()
			if err != nil {
				t.Fatal(err)
			}
			var got, want map[string]any
			if err := json.Unmarshal(ours, &got); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(v.KerasJSON, &want); err != nil {
				t.Fatal(err)
			}
			// Keras named the fixture's unnamed model "sequential"; ours carries the network's name
			// (TestKerasJSONModelName).
			want["config"].(map[string]any)["name"] = m.cfg.Network.Name
			for _, d := range jsonDiff("", got, want) {
				t.Error(d)
			}
			var vars []string
			for _, variable := range m.graph.all {
				if strings.HasPrefix(variable.name, kerasOptimizerName(m.cfg.Optimizer)+"/") {
					vars = append(vars, variable.name)
				}
			}
			var keras []string
			for _, name := range v.OptimizerVariables {
				keras = append(keras, strings.Replace(name, "/sequential_", "/", 1))
			}
			sort.Strings(vars)
			sort.Strings(keras)
			if !slices.Equal(vars, keras) {
				t.Errorf("optimizer variables\n ours  %v\n keras %v", vars, keras)
			}
		})
	}
}

// jsonDiff lists the paths where two decoded JSON documents differ. Keys Keras writes that do not
// describe the model (the seed of an unseeded initialiser is null on both sides anyway) are compared
// like any other.
func jsonDiff(path string, got, want any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %v, want an object", path, got)}
		}
		var out []string
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			gv, gok := g[k]
			wv, wok := w[k]
			switch {
			case !gok:
				out = append(out, fmt.Sprintf("%s.%s: missing, Keras has %v", path, k, wv))
			case !wok:
				out = append(out, fmt.Sprintf("%s.%s: %v, Keras has no such key", path, k, gv))
			default:
				out = append(out, jsonDiff(path+"."+k, gv, wv)...)
			}
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: got %v, want %v", path, got, want)}
		}
		var out []string
		for i := range w {
			out = append(out, jsonDiff(fmt.Sprintf("%s[%d]", path, i), g[i], w[i])...)
		}
		return out
	case float64:
		if g, ok := got.(float64); !ok || relErr(g, w) > 1e-7 {
			return []string{fmt.Sprintf("%s: got %v, want %v", path, got, want)}
		}
		return nil
	default:
		if got != want {
			return []string{fmt.Sprintf("%s: got %v, want %v", path, got, want)}
		}
		return nil
	}
}
