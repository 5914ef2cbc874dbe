package model

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/tfsweep/tfsweep/modelfile"
	"github.com/tfsweep/tfsweep/spec"
)

// The tests' MLPs are spec.MLP with the sweep's settings applied, as the worker builds them; their
// convnets use every stateful layer and a branch.

// mlp is spec.MLP with tanh hidden layers and kernels left to the default initializer.
func mlp(inputs int, hidden []int, classes int) spec.Network {
	return spec.MLP("mlp", inputs, hidden, classes)
}

// applied is n with the settings applied; a test's settings are valid, so an error is a bug.
func applied(n spec.Network, s spec.Settings) spec.Network {
	out, err := n.Apply(s)
	if err != nil {
		panic(err)
	}
	return out
}

func withBatchNorm(n spec.Network, on bool) spec.Network {
	return applied(n, spec.Settings{BatchNorm: &on})
}

func withDropout(n spec.Network, rate float64) spec.Network {
	return applied(n, spec.Settings{Dropout: &rate})
}

func withL2(n spec.Network, rate float64) spec.Network { return applied(n, spec.Settings{L2: &rate}) }

func withActivation(n spec.Network, a string) spec.Network {
	act := spec.Activation(a)
	return applied(n, spec.Settings{Activation: &act})
}

func withInit(n spec.Network, name string) spec.Network {
	init := spec.Initializer(name)
	return applied(n, spec.Settings{Init: &init})
}

// inputs and classes are the values per example and the classes of cfg's network.
func inputs(cfg Config) int { return features(cfg.Network.Input.Shape) }

func classes(cfg Config) int {
	s, err := cfg.Network.Summary()
	if err != nil {
		panic(err)
	}
	return s.Output[0]
}

// withDropoutLayer is n with a Dropout of the rate after its first layer, unchecked.
func withDropoutLayer(n spec.Network, rate float64) spec.Network {
	n.Layers = slices.Insert(slices.Clone(n.Layers), 1, spec.Layer{Class: spec.ClassDropout, Dropout: &spec.DropoutArgs{Rate: rate}})
	return n
}

// dropoutRate is the rate of the network's first Dropout layer, 0 without one.
func dropoutRate(n spec.Network) float64 {
	for _, l := range n.Layers {
		if l.Dropout != nil {
			return l.Dropout.Rate
		}
	}
	return 0
}

// residualConvnet is a small convnet with every stateful layer and a residual branch: Conv2D (stride
// 2, no bias, as before batch norm) → BatchNormalization → Activation relu → Conv2D (same) → Add with
// the activation → MaxPooling2D → Dropout → Flatten → Dense softmax.
func residualConvnet(input spec.Shape, classes int) spec.Network {
	conv := func(strides int, padding spec.Padding, activation spec.Activation) *spec.Conv2DArgs {
		return &spec.Conv2DArgs{Filters: 4, KernelSize: [2]int{3, 3}, Strides: [2]int{strides, strides}, Padding: padding,
			UseBias: true, Activation: activation}
	}
	first := conv(2, spec.PaddingValid, spec.ActivationLinear)
	first.UseBias = false
	return spec.Network{Name: "residual", Input: spec.Input{Shape: input}, Layers: []spec.Layer{
		{Class: spec.ClassConv2D, Conv2D: first},
		{Class: spec.ClassBatchNormalization},
		{Class: spec.ClassActivation, Activation: &spec.ActivationArgs{Activation: spec.ActivationReLU}},
		{Class: spec.ClassConv2D, Conv2D: conv(1, spec.PaddingSame, spec.ActivationReLU)},
		{Class: spec.ClassAdd, Inbound: []string{"activation", "conv2d_1"}},
		{Class: spec.ClassMaxPooling2D},
		{Class: spec.ClassDropout, Dropout: &spec.DropoutArgs{Rate: 0.3}},
		{Class: spec.ClassFlatten},
		{Class: spec.ClassDense, Dense: &spec.DenseArgs{Units: classes, Activation: spec.ActivationSoftmax, UseBias: true}},
	}}
}

// kerasConvnet is Keras' simple MNIST convnet as modelfile reads it from its Keras JSON (Conv2D 32,
// MaxPooling2D, Conv2D 64, MaxPooling2D, Flatten, Dropout 0.5, Dense softmax).
func kerasConvnet(t testing.TB) spec.Network {
	t.Helper()
	net, err := modelfile.Read(filepath.Join("..", "modelfile", "testdata", "keras", "convnet.json"))
	if err != nil {
		t.Fatal(err)
	}
	return net
}

// residualNet is modelfile's residual.yaml: two residual blocks (Add) and a Concatenate.
func residualNet(t testing.TB) spec.Network {
	t.Helper()
	net, err := modelfile.Read(filepath.Join("..", "modelfile", "testdata", "residual.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return net
}

// A Conv2D leaves its ReLU to the MaxPooling2D after it only when its activation is relu and the
// pooling is its one reader; the pooling then applies it.
func TestPoolBeforeRelu(t *testing.T) {
	const head = "name: n\nlayers:\n  - Input: {shape: [12, 12, 1]}\n"
	for _, tc := range []struct {
		name, layers string
		want         []string // the Conv2D layers whose ReLU the pooling applies
	}{
		{"keras convnet", "", []string{"conv2d", "conv2d_1"}},
		{"average pooling", "  - Conv2D: {filters: 2, kernel_size: 3, activation: relu}\n  - AveragePooling2D: {pool_size: 2}\n", nil},
		{"tanh", "  - Conv2D: {filters: 2, kernel_size: 3, activation: tanh}\n  - MaxPooling2D: {pool_size: 2}\n", nil},
		{"a second reader", "  - Conv2D: {filters: 2, kernel_size: 3, activation: relu}\n  - MaxPooling2D: {pool_size: 2, strides: 1, padding: same}\n" +
			"  - Add: {inbound: [conv2d, max_pooling2d]}\n", nil},
		{"batch norm between", "  - Conv2D: {filters: 2, kernel_size: 3}\n  - BatchNormalization:\n  - Activation: {activation: relu}\n  - MaxPooling2D: {pool_size: 2}\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			net := kerasConvnet(t)
			if tc.layers != "" {
				var err error
				if net, err = modelfile.Parse([]byte(head+tc.layers+"  - Flatten:\n  - Dense: {units: 3, activation: softmax}\n"), "n.yaml"); err != nil {
					t.Fatal(err)
				}
			}
			m := newModel(t, Config{Network: net, Device: DeviceCPU})
			var got []string
			relus := 0
			for _, l := range m.graph.layers {
				switch l := l.(type) {
				case *kernelLayer:
					if l.reluAfterPool {
						got = append(got, l.l.Name)
					}
				case *maxPoolLayer:
					if l.relu {
						relus++
					}
				}
			}
			if !slices.Equal(got, tc.want) || relus != len(tc.want) {
				t.Errorf("Conv2D layers leaving their ReLU to the pooling %v, poolings applying one %d; want %v", got, relus, tc.want)
			}
		})
	}
}
