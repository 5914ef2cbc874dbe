package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	tf "github.com/wamuir/graft/tensorflow"
	configpb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"
	"github.com/wamuir/graft/tensorflow/op"
	"google.golang.org/protobuf/proto"

	"github.com/tfsweep/tfsweep/spec"
)

// The gradients TensorFlow builds agree with central finite differences of the training loss, with
// and without batch norm (whose training loss depends on the batch statistics, so the check also
// covers the gradient through the mean and variance).
func TestGradientsMatchFiniteDifferences(t *testing.T) {
	const (
		h = 1e-2
		// Central differences in float32: truncation ~h², rounding ~1e-7/h; both ~1e-5 here.
		absTol = 2e-4
		relTol = 1e-2
	)
	for _, bn := range []bool{false, true} {
		t.Run(fmt.Sprintf("batchnorm=%v", bn), func(t *testing.T) {
			m := newModel(t, tinyConfig(bn))
			pixels, labels := randomBatch(1, 6, 5, 3)
			// Train a few steps so that biases, gamma and beta move off their initial values.
			for range 20 {
				if _, _, err := m.TrainStep(pixels, labels); err != nil {
					t.Fatal(err)
				}
			}
			grads := m.gradients(t, pixels, labels)
			weights := m.weightMap(t)
			var maxAbs, maxRel float64
			checked := 0
			for _, v := range m.graph.trainable {
				w := slices.Clone(weights[v.name])
				for i := range w {
					orig := w[i]
					w[i] = orig + h
					m.setWeights(t, map[string][]float32{v.name: w})
					plus := m.trainLossAt(t, pixels, labels)
					w[i] = orig - h
					m.setWeights(t, map[string][]float32{v.name: w})
					minus := m.trainLossAt(t, pixels, labels)
					w[i] = orig
					m.setWeights(t, map[string][]float32{v.name: w})

					fd := (float64(plus) - float64(minus)) / (2 * h)
					g := float64(grads[v.name][i])
					diff := math.Abs(fd - g)
					maxAbs = max(maxAbs, diff)
					if scale := math.Max(math.Abs(fd), math.Abs(g)); scale > 1e-2 {
						maxRel = max(maxRel, diff/scale)
					}
					if diff > absTol+relTol*math.Abs(fd) {
						t.Errorf("%s[%d]: gradient %.6g, finite difference %.6g", v.name, i, g, fd)
					}
					checked++
				}
			}
			t.Logf("%d gradient elements: max abs error %.2g, max rel error %.2g (|grad| > 1e-2)", checked, maxAbs, maxRel)
		})
	}
}

// Two Adam steps reproduce Keras 3's update formula, so the in-graph beta powers advance with the
// step counter.
func TestAdamStepsMatchFormula(t *testing.T) {
	m := newModel(t, tinyConfig(false))
	pixels, labels := randomBatch(2, 8, 5, 3)
	type slot struct{ m, v float64 }
	slots := make(map[string][]slot)
	var maxErr float64
	for step := 1; step <= 2; step++ {
		before := m.weightMap(t)
		grads := m.gradients(t, pixels, labels)
		if _, _, err := m.TrainStep(pixels, labels); err != nil {
			t.Fatal(err)
		}
		after := m.weightMap(t)
		lr, b1, b2, eps := 0.001, 0.9, 0.999, 1e-7
		alpha := lr * math.Sqrt(1-math.Pow(b2, float64(step))) / (1 - math.Pow(b1, float64(step)))
		for _, v := range m.graph.trainable {
			if slots[v.name] == nil {
				slots[v.name] = make([]slot, len(grads[v.name]))
			}
			for i, g32 := range grads[v.name] {
				g := float64(g32)
				s := &slots[v.name][i]
				s.m += (g - s.m) * (1 - b1)
				s.v += (g*g - s.v) * (1 - b2)
				want := float64(before[v.name][i]) - s.m*alpha/(math.Sqrt(s.v)+eps)
				got := float64(after[v.name][i])
				diff := math.Abs(got - want)
				maxErr = max(maxErr, diff)
				// float32 weights of magnitude < 1 round at ~6e-8; the update itself is ~1e-3.
				if diff > 1e-6 {
					t.Errorf("step %d %s[%d]: %.9g, want %.9g", step, v.name, i, got, want)
				}
			}
		}
	}
	if got := m.Iterations(); got != 2 {
		t.Errorf("Iterations() = %d, want 2", got)
	}
	t.Logf("Adam: max |weight - formula| over 2 steps %.2g", maxErr)
}

// Batch norm in training uses the batch mean and biased variance and moves the moving statistics
// by momentum 0.99; in evaluation it uses the moving statistics. Everything is recomputed in Go.
func TestBatchNormMatchesHandComputation(t *testing.T) {
	cfg := Config{Network: withBatchNorm(mlp(3, []int{4}, 2), true), Seed: 5, Device: DeviceCPU}
	m := newModel(t, cfg)
	pixels, labels := randomBatch(3, 5, 3, 2)
	m.setWeights(t, map[string][]float32{
		"dense/bias":                          {0.1, -0.2, 0.3, 0},
		"batch_normalization/gamma":           {1.5, 0.5, 1, 2},
		"batch_normalization/beta":            {0.1, 0, -0.3, 0.2},
		"batch_normalization/moving_mean":     {0.2, -0.1, 0, 0.5},
		"batch_normalization/moving_variance": {1.2, 0.8, 1, 2},
	})
	w := m.weightMap(t)

	// Hand computation of the hidden layer for a batch: z = xW + b, then BN, then tanh.
	dense := func(w map[string][]float32) [][]float64 {
		z := make([][]float64, len(labels))
		for n := range z {
			z[n] = make([]float64, 4)
			for j := range 4 {
				z[n][j] = float64(w["dense/bias"][j])
				for i := range 3 {
					z[n][j] += float64(pixels[n*3+i]) * float64(w["dense/kernel"][i*4+j])
				}
			}
		}
		return z
	}
	normalise := func(z [][]float64, mean, variance []float64, w map[string][]float32) [][]float64 {
		out := make([][]float64, len(z))
		for n := range z {
			out[n] = make([]float64, 4)
			for j := range 4 {
				inv := float64(w["batch_normalization/gamma"][j]) / math.Sqrt(variance[j]+1e-3)
				out[n][j] = math.Tanh((z[n][j]-mean[j])*inv + float64(w["batch_normalization/beta"][j]))
			}
		}
		return out
	}
	compare := func(what string, got []float32, want [][]float64) {
		t.Helper()
		var maxErr float64
		for n := range want {
			for j := range want[n] {
				diff := math.Abs(float64(got[n*4+j]) - want[n][j])
				maxErr = max(maxErr, diff)
				if diff > 1e-5 {
					t.Errorf("%s[%d][%d] = %.7g, want %.7g", what, n, j, got[n*4+j], want[n][j])
				}
			}
		}
		t.Logf("%s: max error %.2g", what, maxErr)
	}
	fetch := func(out tf.Output) []float32 {
		vals, err := float32s(m.run(t, pixels, labels, out)[0])
		if err != nil {
			t.Fatal(err)
		}
		return vals
	}

	z := dense(w)
	mean, variance := make([]float64, 4), make([]float64, 4)
	for j := range 4 {
		for n := range z {
			mean[j] += z[n][j] / float64(len(z))
		}
		for n := range z {
			variance[j] += (z[n][j] - mean[j]) * (z[n][j] - mean[j]) / float64(len(z)) // biased
		}
	}
	compare("training output", fetch(m.graph.single.train.outputs["activation"][0]), normalise(z, mean, variance, w))

	movingMean, movingVar := w["batch_normalization/moving_mean"], w["batch_normalization/moving_variance"]
	evalMean, evalVar := make([]float64, 4), make([]float64, 4)
	for j := range 4 {
		evalMean[j], evalVar[j] = float64(movingMean[j]), float64(movingVar[j])
	}
	compare("evaluation output", fetch(m.graph.eval.outputs["activation"][0]), normalise(z, evalMean, evalVar, w))

	// A training step moves the moving statistics towards the batch's (pre-update) statistics.
	if _, _, err := m.TrainStep(pixels, labels); err != nil {
		t.Fatal(err)
	}
	after := m.weightMap(t)
	for j := range 4 {
		wantMean := float64(movingMean[j])*0.99 + mean[j]*0.01
		wantVar := float64(movingVar[j])*0.99 + variance[j]*0.01
		if got := float64(after["batch_normalization/moving_mean"][j]); math.Abs(got-wantMean) > 1e-6 {
			t.Errorf("moving_mean[%d] = %.7g, want %.7g", j, got, wantMean)
		}
		if got := float64(after["batch_normalization/moving_variance"][j]); math.Abs(got-wantVar) > 1e-6 {
			t.Errorf("moving_variance[%d] = %.7g, want %.7g", j, got, wantVar)
		}
	}
	// Evaluation leaves the moving statistics alone.
	if _, _, err := m.Evaluate(pixels, labels); err != nil {
		t.Fatal(err)
	}
	if again := m.weightMap(t); !slices.Equal(again["batch_normalization/moving_mean"], after["batch_normalization/moving_mean"]) {
		t.Error("Evaluate changed the moving mean")
	}
}

// Each initialiser draws kernels with Keras' distribution: mean 0, standard deviation
// sqrt(scale/n) (0.1/sqrt(12) for RandomUniform(-0.05, 0.05)), within the distribution's bounds.
// Tolerances: the sample mean within 5 standard errors (σ/√N) of 0, the sample standard deviation
// within 5 standard errors (σ/√(2N)) of σ; the draws are seeded, so the test is deterministic.
func TestInitialisersMatchDefinitions(t *testing.T) {
	for _, name := range spec.InitNames() {
		t.Run(name, func(t *testing.T) {
			cfg := Config{Network: withInit(mlp(784, []int{256}, 10), name), Seed: 11, Device: DeviceCPU}
			m := newModel(t, cfg)
			w := m.weightMap(t)
			init, _ := spec.LookupInit(name)
			for _, k := range []struct {
				name  string
				shape []int64
			}{{"dense/kernel", []int64{784, 256}}, {"dense_1/kernel", []int64{256, 10}}} {
				values := w[k.name]
				var sigma, bound float64
				switch init.Distribution {
				case "fixed_uniform":
					sigma, bound = 0.1/math.Sqrt(12), 0.05
				case "uniform":
					sigma = math.Sqrt(initVariance(init, k.shape))
					bound = sigma * math.Sqrt(3)
				default:
					sigma = math.Sqrt(initVariance(init, k.shape))
					bound = 2 * sigma / truncatedNormalStddev
				}
				n := float64(len(values))
				var sum, sumSq, maxAbs float64
				for _, v := range values {
					sum += float64(v)
					maxAbs = max(maxAbs, math.Abs(float64(v)))
				}
				mean := sum / n
				for _, v := range values {
					sumSq += (float64(v) - mean) * (float64(v) - mean)
				}
				std := math.Sqrt(sumSq / n)
				t.Logf("%s: mean %.3g, std %.5g (want %.5g), max |w| %.4g (bound %.4g)", k.name, mean, std, sigma, maxAbs, bound)
				if math.Abs(mean) > 5*sigma/math.Sqrt(n) {
					t.Errorf("%s: mean %.3g, want 0 ± %.3g", k.name, mean, 5*sigma/math.Sqrt(n))
				}
				if math.Abs(std-sigma) > 5*sigma/math.Sqrt(2*n) {
					t.Errorf("%s: std %.5g, want %.5g ± %.3g", k.name, std, sigma, 5*sigma/math.Sqrt(2*n))
				}
				if maxAbs > bound*(1+1e-6) {
					t.Errorf("%s: |w| reaches %.5g, beyond the bound %.5g", k.name, maxAbs, bound)
				}
			}
			for _, bias := range []string{"dense/bias", "dense_1/bias"} {
				if slices.ContainsFunc(w[bias], func(v float32) bool { return v != 0 }) {
					t.Errorf("%s is not all zeros", bias)
				}
			}
		})
	}
}

// The seed alone decides the initial weights; each layer draws from its own derived seed.
func TestSeedDecidesInitialWeights(t *testing.T) {
	weights := func(seed int64) map[string][]float32 {
		cfg := Config{Network: withInit(mlp(20, []int{20}, 20), "he_uniform"), Seed: seed, Device: DeviceCPU}
		return newModel(t, cfg).weightMap(t)
	}
	a, b, c := weights(1), weights(1), weights(2)
	if !slices.Equal(a["dense/kernel"], b["dense/kernel"]) || !slices.Equal(a["dense_1/kernel"], b["dense_1/kernel"]) {
		t.Error("the same seed gave different kernels")
	}
	if slices.Equal(a["dense/kernel"], c["dense/kernel"]) {
		t.Error("seeds 1 and 2 gave the same kernel")
	}
	if slices.Equal(a["dense/kernel"], a["dense_1/kernel"]) {
		t.Error("two layers of the same shape drew the same kernel: layer seeds are not distinct")
	}
}

// Two models with the same seed, fed the same batches, report the same losses.
func TestSameSeedSameLosses(t *testing.T) {
	for _, bn := range []bool{false, true} {
		t.Run(fmt.Sprintf("batchnorm=%v", bn), func(t *testing.T) {
			losses := func() []float32 {
				cfg := DefaultConfig()
				cfg.Network, cfg.Seed, cfg.Device = withBatchNorm(cfg.Network, bn), 42, DeviceCPU
				m := newModel(t, cfg)
				var out []float32
				for step := range 30 {
					pixels, labels := randomBatch(uint64(step), 64, 784, 10)
					loss, _, err := m.TrainStep(pixels, labels)
					if err != nil {
						t.Fatal(err)
					}
					out = append(out, loss)
				}
				return out
			}
			a, b := losses(), losses()
			var maxDiff float64
			for i := range a {
				maxDiff = max(maxDiff, math.Abs(float64(a[i]-b[i])))
			}
			t.Logf("max loss difference over %d steps: %.3g", len(a), maxDiff)
			if maxDiff > sameSeedTolerance {
				t.Errorf("same seed, losses differ by up to %.3g (tolerance %g):\n%v\n%v", maxDiff, sameSeedTolerance, a, b)
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
		want   string
	}{
		{"unknown init", func(c *Config) { c.Network.Layers[0].Dense.Initializer = "gaussian" }, `unknown kernel initializer "gaussian"`},
		{"zero inputs", func(c *Config) { c.Network = mlp(0, []int{128}, 10) }, "input shape"},
		{"negative hidden width", func(c *Config) { c.Network = mlp(784, []int{128, -1}, 10) }, "Dense `dense_1` has units -1"},
		{"no network", func(c *Config) { c.Network = spec.Network{} }, "no layers"},
		{"bad device", func(c *Config) { c.Device = "tpu" }, `unknown device "tpu"`},
		{"negative learning rate", func(c *Config) { c.LearningRate = -1 }, "learning rate"},
		{"NaN learning rate", func(c *Config) { c.LearningRate = math.NaN() }, "learning rate"},
		{"infinite learning rate", func(c *Config) { c.LearningRate = math.Inf(1) }, "learning rate"},
		{"negative threads", func(c *Config) { c.IntraOpThreads = -2 }, "thread counts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.modify(&cfg)
			m, err := New(cfg)
			if err == nil {
				m.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

// Asking for a GPU fails with ErrNoGPU exactly when TensorFlow sees none.
func TestDeviceGPU(t *testing.T) {
	devices, err := ListDevices()
	if err != nil {
		t.Fatal(err)
	}
	haveGPU := slices.ContainsFunc(devices, func(d spec.Device) bool { return d.Type == "GPU" })
	if !slices.ContainsFunc(devices, func(d spec.Device) bool { return d.Type == "CPU" }) {
		t.Errorf("ListDevices() = %v, no CPU", devices)
	}
	cfg := tinyConfig(false)
	cfg.Device = DeviceGPU
	m, err := New(cfg)
	switch {
	case haveGPU && err != nil:
		t.Fatalf("GPU present, New: %v", err)
	case haveGPU:
		m.Close()
	case !errors.Is(err, ErrNoGPU):
		if m != nil {
			m.Close()
		}
		t.Fatalf("no GPU, New error = %v, want ErrNoGPU", err)
	}
}

func TestNonFiniteLoss(t *testing.T) {
	m := newModel(t, tinyConfig(false))
	pixels, labels := randomBatch(4, 4, 5, 3)
	pixels[0] = float32(math.NaN())
	loss, _, err := m.TrainStep(pixels, labels)
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(float64(loss)) {
		t.Errorf("loss %v from a NaN input, want NaN returned for the loop to stop on", loss)
	}
}

func TestBadBatches(t *testing.T) {
	m := newModel(t, tinyConfig(false))
	pixels, labels := randomBatch(5, 4, 5, 3)
	tests := []struct {
		name   string
		pixels []float32
		labels []int32
	}{
		{"empty", nil, nil},
		{"short pixels", pixels[:19], labels},
		{"label out of range", pixels, []int32{0, 1, 3, 2}},
		{"negative label", pixels, []int32{0, -1, 2, 2}},
	}
	for _, tt := range tests {
		if _, _, err := m.TrainStep(tt.pixels, tt.labels); err == nil {
			t.Errorf("%s: TrainStep succeeded", tt.name)
		}
	}
	if m.Iterations() != 0 {
		t.Errorf("failed steps counted: Iterations() = %d", m.Iterations())
	}
}

func TestKerasJSON(t *testing.T) {
	tests := []struct {
		bn   bool
		want []string // class_name:name:units:activation
	}{
		{false, []string{"InputLayer:input_layer::", "Dense:dense:128:tanh", "Dense:dense_1:64:tanh", "Dense:dense_2:10:softmax"}},
		{true, []string{"InputLayer:input_layer::", "Dense:dense:128:linear", "BatchNormalization:batch_normalization::",
			"Activation:activation::tanh", "Dense:dense_1:64:linear", "BatchNormalization:batch_normalization_1::",
			"Activation:activation_1::tanh", "Dense:dense_2:10:softmax"}},
	}
	for _, tt := range tests {
		cfg := DefaultConfig()
		cfg.Network = withBatchNorm(cfg.Network, tt.bn)
		m := newModel(t, cfg)
		b, err := m.KerasJSON()
		if err != nil {
			t.Fatal(err)
		}
		var model struct {
			ClassName string `json:"class_name"`
			Config    struct {
				Name   string `json:"name"`
				Layers []struct {
					ClassName string `json:"class_name"`
					Config    struct {
						Name       string          `json:"name"`
						Units      int             `json:"units"`
						Activation string          `json:"activation"`
						DType      json.RawMessage `json:"dtype"`
					} `json:"config"`
				} `json:"layers"`
			} `json:"config"`
		}
		if err := json.Unmarshal(b, &model); err != nil {
			t.Fatal(err)
		}
		if model.ClassName != "Sequential" || model.Config.Name != "mlp" {
			t.Errorf("model %s %q, want Sequential mlp (the network's name)", model.ClassName, model.Config.Name)
		}
		var got []string
		for _, l := range model.Config.Layers {
			units := ""
			if l.Config.Units != 0 {
				units = fmt.Sprint(l.Config.Units)
			}
			got = append(got, strings.Join([]string{l.ClassName, l.Config.Name, units, l.Config.Activation}, ":"))
			if len(l.Config.DType) == 0 {
				t.Errorf("layer %s has no dtype", l.Config.Name)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("batchnorm=%v layers\n got %v\nwant %v", tt.bn, got, tt.want)
		}
	}
}

// The GraphDef imports into a fresh graph and holds the Keras-named variables and the Adam updates.
func TestGraphDef(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Network = withBatchNorm(cfg.Network, true)
	m := newModel(t, cfg)
	def, err := m.GraphDef()
	if err != nil {
		t.Fatal(err)
	}
	g := tf.NewGraph()
	if err := g.Import(def, ""); err != nil {
		t.Fatalf("import GraphDef: %v", err)
	}
	types := make(map[string]int)
	for _, o := range g.Operations() {
		types[o.Type()]++
	}
	if types["ResourceApplyAdam"] != 10 {
		t.Errorf("%d ResourceApplyAdam ops, want 10 (6 dense, 4 batch-norm weights)", types["ResourceApplyAdam"])
	}
	for _, name := range []string{"dense/kernel/VarHandleOp", "batch_normalization_1/moving_variance/VarHandleOp", "dense_2/bias/VarHandleOp"} {
		if g.Operation(name) == nil {
			t.Errorf("GraphDef has no %s", name)
		}
	}
}

func TestWeightsOrder(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Network = withBatchNorm(cfg.Network, true)
	ws, err := newModel(t, cfg).Weights()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range ws {
		got = append(got, fmt.Sprint(w.Name, w.Shape))
		if n := numElements(toInt64(w.Shape)); n != len(w.Values) {
			t.Errorf("%s: %d values for shape %v", w.Name, len(w.Values), w.Shape)
		}
	}
	want := []string{"dense/kernel[784 128]", "dense/bias[128]",
		"batch_normalization/gamma[128]", "batch_normalization/beta[128]", "batch_normalization/moving_mean[128]", "batch_normalization/moving_variance[128]",
		"dense_1/kernel[128 64]", "dense_1/bias[64]",
		"batch_normalization_1/gamma[64]", "batch_normalization_1/beta[64]", "batch_normalization_1/moving_mean[64]", "batch_normalization_1/moving_variance[64]",
		"dense_2/kernel[64 10]", "dense_2/bias[10]"}
	if !slices.Equal(got, want) {
		t.Errorf("Weights()\n got %v\nwant %v", got, want)
	}
}

func toInt64(shape []int) []int64 {
	out := make([]int64, len(shape))
	for i, d := range shape {
		out[i] = int64(d)
	}
	return out
}

// sameSeedTolerance bounds the loss difference of two same-seed runs: none. TensorFlow's CPU kernels
// gave bitwise-identical runs, within a process and across processes, with oneDNN on (the default)
// and off; oneDNN on and off differ from each other in the last bits, so compare runs made with
// the same TF_ENABLE_ONEDNN_OPTS and thread counts.
const sameSeedTolerance = 0.0

// The ConfigProto carries the thread counts, growth-on-demand GPU memory, the visible GPUs, for the
// cpu device no GPU at all and no layout optimizer, with one inter-op thread on the cpu device the
// single-threaded executor, and Grappler's passes that rewrite values at their defaults.
func TestSessionConfig(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		cfg                  Config
		perSession, noGPU    bool
		singleThreadExecutor bool
	}{
		{"auto, 4/2 threads", Config{IntraOpThreads: 4, InterOpThreads: 2, Device: DeviceAuto}, true, false, false},
		{"cpu, default pools", Config{Device: DeviceCPU, VisibleGPUs: "1"}, false, true, false},
		{"cpu, one thread", Config{IntraOpThreads: 1, InterOpThreads: 1, Device: DeviceCPU}, true, true, true},
		{"cpu, one intra-op and two inter-op threads", Config{IntraOpThreads: 1, InterOpThreads: 2, Device: DeviceCPU}, true, true, false},
		{"auto, one thread", Config{IntraOpThreads: 1, InterOpThreads: 1, Device: DeviceAuto}, true, false, false},
		{"gpu, one thread", Config{IntraOpThreads: 1, InterOpThreads: 1, Device: DeviceGPU}, true, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := sessionConfig(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			var pb configpb.ConfigProto
			if err := proto.Unmarshal(b, &pb); err != nil {
				t.Fatal(err)
			}
			if pb.IntraOpParallelismThreads != int32(tc.cfg.IntraOpThreads) || pb.InterOpParallelismThreads != int32(tc.cfg.InterOpThreads) ||
				pb.UsePerSessionThreads != tc.perSession || !pb.GpuOptions.GetAllowGrowth() || !pb.AllowSoftPlacement ||
				pb.GpuOptions.GetVisibleDeviceList() != tc.cfg.VisibleGPUs {
				t.Errorf("threads, GPU options or placement: %v", &pb)
			}
			if gpus, ok := pb.DeviceCount["GPU"]; ok != tc.noGPU || gpus != 0 || len(pb.DeviceCount) > 1 {
				t.Errorf("device_count %v, want GPU: 0 only for cpu", pb.DeviceCount)
			}
			rc := pb.GetGraphOptions().GetRewriteOptions()
			if layoutOff := rc.GetLayoutOptimizer() == configpb.RewriterConfig_OFF; layoutOff != tc.noGPU || !rc.GetDisableTfgOptimizer() {
				t.Errorf("rewrite options %v: the layout optimizer off only without a GPU, the TFG pipeline off", rc)
			}
			if rc.GetConstantFolding() != 0 || rc.GetArithmeticOptimization() != 0 || rc.GetRemapping() != 0 || rc.GetCommonSubgraphElimination() != 0 ||
				rc.GetDependencyOptimization() != 0 || rc.GetDisableModelPruning() || rc.GetMetaOptimizerIterations() != 0 ||
				rc.GetMemoryOptimization() != 0 {
				t.Errorf("rewrite options %v: a pass that changes values is not at its default", rc)
			}
			if got := pb.GetExperimental().GetExecutorType() == singleThreadedExecutor; got != tc.singleThreadExecutor {
				t.Errorf("executor_type %q, single-threaded wanted: %v", pb.GetExperimental().GetExecutorType(), tc.singleThreadExecutor)
			}
		})
	}
}

// Models are independent: two trained at the same time in one process give the losses each gives
// alone (variables are per session even though their shared names repeat).
func TestConcurrentModelsAreIndependent(t *testing.T) {
	cfg := tinyConfig(true)
	train := func(m *Model, seed uint64) []float32 {
		var losses []float32
		for step := range 20 {
			pixels, labels := randomBatch(seed+uint64(step), 16, 5, 3)
			loss, _, err := m.TrainStep(pixels, labels)
			if err != nil {
				t.Error(err)
				return nil
			}
			losses = append(losses, loss)
		}
		return losses
	}
	alone := [2][]float32{train(newModel(t, cfg), 100), train(newModel(t, cfg), 200)}
	var together [2][]float32
	a, b := newModel(t, cfg), newModel(t, cfg)
	done := make(chan struct{})
	go func() { together[0] = train(a, 100); close(done) }()
	together[1] = train(b, 200)
	<-done
	for i := range alone {
		if !slices.Equal(alone[i], together[i]) {
			t.Errorf("model %d: alone %v, concurrently %v", i, alone[i], together[i])
		}
	}
}

// Every Model gets the intra-op threads its Config asks for, not only the first session of the
// process: TensorFlow's default pool is process-wide and sized once.
// TensorFlow keeps one intra-op pool per process unless TF_OVERRIDE_GLOBAL_THREADPOOL=1 is set before
// its first session (the Makefile exports it for the tests; the front sets it for its workers).
func TestThreadCountsApplyPerModel(t *testing.T) {
	if os.Getenv("TF_OVERRIDE_GLOBAL_THREADPOOL") != "1" {
		t.Fatal("TF_OVERRIDE_GLOBAL_THREADPOOL=1 is not set: run `make test`, or export it before go test")
	}
	threads := func() int {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			t.Fatalf("count threads: %v", err)
		}
		return len(tasks)
	}
	started := func(intra int) int {
		cfg := tinyConfig(false)
		cfg.IntraOpThreads, cfg.InterOpThreads = intra, 1
		before := threads()
		m := newModel(t, cfg)
		pixels, labels := randomBatch(1, 4, 5, 3)
		if _, _, err := m.TrainStep(pixels, labels); err != nil {
			t.Fatal(err)
		}
		return threads() - before
	}
	started(2) // whatever TensorFlow starts once per process
	small, large := started(2), started(10)
	t.Logf("threads started by a model: %d with intra 2, %d with intra 10", small, large)
	if large-small < 7 {
		t.Errorf("intra 10 started %d threads, intra 2 started %d: the second setting was ignored", large, small)
	}
}

// isOutput tells a real gradient from graft's placeholder for "no gradient" (an x cut off by
// StopGradient), which would crash if used.
func TestIsOutputSpotsMissingGradients(t *testing.T) {
	s := op.NewScope()
	x := op.Placeholder(s.SubScope("x"), tf.Float)
	y := op.AddV2(s, op.StopGradient(s, x), op.Square(s, x))
	z := op.StopGradient(s.SubScope("z"), x)
	grads := op.Gradients(s.SubScope("g1"), []tf.Output{y}, []tf.Output{x})
	none := op.Gradients(s.SubScope("g2"), []tf.Output{z}, []tf.Output{x})
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if !isOutput(grads[0]) {
		t.Error("the gradient of x² is reported missing")
	}
	if isOutput(none[0]) {
		t.Error("the gradient through StopGradient is reported present")
	}
}
