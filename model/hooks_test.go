package model

import (
	"math/rand/v2"
	"os"
	"testing"

	tf "github.com/wamuir/graft/tensorflow"
)

func TestMain(m *testing.M) {
	// TensorFlow's INFO lines (oneDNN notice, MLIR pass) would drown the test output.
	if os.Getenv("TF_CPP_MIN_LOG_LEVEL") == "" {
		os.Setenv("TF_CPP_MIN_LOG_LEVEL", "2")
	}
	os.Exit(m.Run())
}

// Test hooks: they reach into the graph and session, which the exported API deliberately hides.

// setWeights assigns values to the named variables (Keras paths, any float32 variable of the graph,
// optimizer slots included) through the graph's assignment ops.
func (m *Model) setWeights(t testing.TB, values map[string][]float32) {
	t.Helper()
	feeds := make(map[tf.Output]*tf.Tensor)
	var targets []*tf.Operation
	for name, vals := range values {
		v := m.variable(t, name)
		if len(vals) != numElements(v.shape) {
			t.Fatalf("setWeights %s: %d values for shape %v", name, len(vals), v.shape)
		}
		tensor, err := tf.NewTensor(vals)
		if err != nil {
			t.Fatal(err)
		}
		if err := tensor.Reshape(v.shape); err != nil && len(v.shape) > 0 {
			t.Fatal(err)
		}
		if len(v.shape) == 0 {
			if tensor, err = tf.NewTensor(vals[0]); err != nil {
				t.Fatal(err)
			}
		}
		a := m.graph.assign[v]
		feeds[a.value] = tensor
		targets = append(targets, a.op)
	}
	if _, err := m.sess.Run(feeds, nil, targets); err != nil {
		t.Fatalf("setWeights: %v", err)
	}
}

func (m *Model) variable(t testing.TB, name string) *variable {
	t.Helper()
	for _, v := range m.graph.all {
		if v.name == name {
			return v
		}
	}
	t.Fatalf("no variable %q", name)
	return nil
}

// weightMap is Weights keyed by name.
func (m *Model) weightMap(t testing.TB) map[string][]float32 {
	t.Helper()
	ws, err := m.Weights()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string][]float32, len(ws))
	for _, w := range ws {
		out[w.Name] = w.Values
	}
	return out
}

// run feeds a batch and fetches outputs without running any training target.
func (m *Model) run(t testing.TB, pixels []float32, labels []int32, fetches ...tf.Output) []*tf.Tensor {
	t.Helper()
	if err := m.feed(pixels, labels); err != nil {
		t.Fatal(err)
	}
	out, err := m.sess.Run(m.feeds, fetches, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// trainLossAt is the training-mode loss of a batch at the current weights (batch statistics in
// batch norm), without updating anything.
func (m *Model) trainLossAt(t testing.TB, pixels []float32, labels []int32) float32 {
	t.Helper()
	return m.run(t, pixels, labels, m.graph.single.loss)[0].Value().(float32)
}

// gradients returns d loss / d w for every trainable variable, keyed by name.
func (m *Model) gradients(t testing.TB, pixels []float32, labels []int32) map[string][]float32 {
	t.Helper()
	out := m.run(t, pixels, labels, m.graph.single.grads...)
	grads := make(map[string][]float32, len(out))
	for i, v := range m.graph.trainable {
		g, err := float32s(out[i])
		if err != nil {
			t.Fatal(err)
		}
		grads[v.name] = g
	}
	return grads
}

func numElements(shape []int64) int {
	n := 1
	for _, d := range shape {
		n *= int(d)
	}
	return n
}

// randomBatch returns n examples of uniform [0,1) features and uniform labels.
func randomBatch(seed uint64, n, features, classes int) ([]float32, []int32) {
	r := rand.New(rand.NewPCG(seed, 7))
	pixels := make([]float32, n*features)
	for i := range pixels {
		pixels[i] = r.Float32()
	}
	labels := make([]int32, n)
	for i := range labels {
		labels[i] = int32(r.IntN(classes))
	}
	return pixels, labels
}

func newModel(t testing.TB, cfg Config) *Model {
	t.Helper()
	m, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return m
}

// tinyConfig is a network small enough to check element by element.
func tinyConfig(batchNorm bool) Config {
	return Config{Network: withBatchNorm(mlp(5, []int{4, 3}, 3), batchNorm),
		LearningRate: 0.001, Seed: 3, Device: DeviceCPU}
}
