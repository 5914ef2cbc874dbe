package model

import (
	"maps"
	"strings"
	"testing"

	"github.com/tfsweep/tfsweep/modelfile"
	"github.com/tfsweep/tfsweep/spec"
	tf "github.com/wamuir/graft/tensorflow"
	graphpb "github.com/wamuir/graft/tensorflow/core/framework/graph_go_proto"
)

// Grappler fuses each relu layer's contraction, bias and activation into one kernel in the
// training step TensorFlow runs (_FusedConv2D and _FusedMatMul, or oneDNN's _MklNativeFused* when
// oneDNN is on), and leaves no Relu op of theirs behind: the C++ gradients as TF_AddGradients builds
// them would keep the three apart (see gradfeatures.go). A convolution's bias is an AddV2, as Keras
// adds it, which the remapper takes for a bias only with oneDNN on (TF_ENABLE_ONEDNN_OPTS, on by
// default). A Conv2D whose only reader is a MaxPooling2D leaves its ReLU's gradient to the pooling
// (poolBeforeRelu) and its forward ReLU to the convolution (reluBeforePool): Keras' convnet fuses its
// convolutions with their bias and ReLU and runs no Relu op of its own; the residual network's
// Activation layers after its Adds are Relu ops of their own.
func TestTrainingStepFusesReluLayers(t *testing.T) {
	tests := []struct {
		name          string
		cfg           Config
		convs, dense  int // layers fused with BiasAdd and Relu
		convsBiasOnly int // convolutions fused with BiasAdd alone
		denseBiasOnly int // layers fused with BiasAdd alone (the softmax output)
		relus         int // Relu ops left on their own
	}{
		{"keras convnet", Config{Network: kerasConvnet(t)}, 2, 0, 0, 1, 0},
		// Its two linear convolutions, whose biased output an Add reads, stay unfused.
		{"residual", Config{Network: residualNet(t)}, 3, 0, 0, 1, 2},
		{"relu mlp", Config{Network: withActivation(mlp(784, []int{64, 32}, 10), "relu")}, 0, 2, 0, 1, 0},
		// An Add reads the pooled map before its ReLU: the ReLU stays after the pooling.
		{"pooled map read twice", Config{Network: parseNet(t, "name: n\nlayers:\n  - Input: {shape: [12, 12, 1]}\n"+
			"  - Conv2D: {filters: 2, kernel_size: 3}\n  - MaxPooling2D: {pool_size: 2}\n  - Activation: {activation: relu}\n"+
			"  - Add: {inbound: [max_pooling2d, activation]}\n  - Flatten:\n  - Dense: {units: 3, activation: softmax}\n")}, 0, 0, 1, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Seed, tt.cfg.Device = 3, DeviceCPU
			m := newModel(t, tt.cfg)
			pixels, labels := randomBatch(1, 32, inputs(m.Config()), classes(m.Config()))
			if err := m.feed(pixels, labels); err != nil {
				t.Fatal(err)
			}
			graphs, err := partitionGraphs(m.sess, m.feeds, m.trainTargets)
			if err != nil {
				t.Fatal(err)
			}
			if len(graphs) == 0 {
				t.Fatal("the run returned no partition graph")
			}
			if tt.convs+tt.convsBiasOnly > 0 && !ranOneDNN(graphs) {
				t.Skip("oneDNN is off: the remapper fuses no convolution whose bias is an AddV2")
			}
			got := fusedKernels(graphs)
			want := map[string]int{"Conv2D BiasAdd,Relu": tt.convs, "MatMul BiasAdd,Relu": tt.dense, "Conv2D BiasAdd": tt.convsBiasOnly,
				"MatMul BiasAdd": tt.denseBiasOnly, "Relu": tt.relus}
			maps.DeleteFunc(want, func(_ string, n int) bool { return n == 0 })
			if !maps.Equal(got, want) {
				t.Errorf("kernels run: %v, want %v", got, want)
			}
		})
	}
}

// fusedKernels counts the fused contractions of the graphs by contraction and fused ops
// ("Conv2D BiasAdd,Relu"), and the unfused Relu ops as "Relu".
func fusedKernels(graphs []*graphpb.GraphDef) map[string]int {
	counts := map[string]int{}
	for _, g := range graphs {
		for _, n := range g.Node {
			if n.Op == "Relu" {
				counts["Relu"]++
			}
			_, contraction, ok := strings.Cut(n.Op, "Fused")
			if !ok || (contraction != "Conv2D" && contraction != "MatMul") {
				continue
			}
			var ops []string
			for _, b := range n.Attr["fused_ops"].GetList().GetS() {
				ops = append(ops, string(b))
			}
			counts[contraction+" "+strings.Join(ops, ",")]++
		}
	}
	return counts
}

// ranOneDNN reports whether any op of the graphs is one of oneDNN's (_Mkl…).
func ranOneDNN(graphs []*graphpb.GraphDef) bool {
	for _, g := range graphs {
		for _, n := range g.Node {
			if strings.HasPrefix(n.Op, "_Mkl") {
				return true
			}
		}
	}
	return false
}

// A max-pooled convolution's bias gradient (a Sum whose result is read) sums the pooled map's
// gradient, the MaxPoolGrad's input, not its 4 times larger output (biasGradsBeforePool); Keras' replays (TestReplaysKerasLayers) hold
// it to Keras' numbers. Towers pad each layer's input against an empty batch (Slice and ConcatV2
// between the layers), which the rewrite leaves alone; the residual network pools nothing.
func TestBiasGradsBeforePool(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		pooled int // bias gradients summing a MaxPoolGrad's input
	}{
		{"keras convnet", Config{Network: kerasConvnet(t)}, 2},
		{"two towers", Config{Network: kerasConvnet(t), Towers: 2, IntraOpThreads: 1, InterOpThreads: 2}, 0},
		{"residual", Config{Network: residualNet(t)}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Seed, tt.cfg.Device = 3, DeviceCPU
			m := newModel(t, tt.cfg)
			pooled := 0
			for _, o := range m.graph.g.Operations() {
				if o.Type() != "Sum" || !reducesToVector(&o) || len(o.Output(0).Consumers()) == 0 {
					continue
				}
				x := tf.Consumer{Op: &o, Index: 0}.Producer()
				for _, c := range x.Consumers() {
					if c.Op.Type() == "MaxPoolGrad" && c.Index == 2 {
						pooled++
						break
					}
				}
				for x.Op.Type() == "Identity" {
					x = tf.Consumer{Op: x.Op, Index: 0}.Producer()
				}
				if x.Op.Type() == "MaxPoolGrad" {
					t.Errorf("%s sums the output of %s", o.Name(), x.Op.Name())
				}
			}
			if pooled != tt.pooled {
				t.Errorf("%d Sums of a MaxPoolGrad's gradient input, want %d", pooled, tt.pooled)
			}
		})
	}
}

// parseNet is the network of a model file's text.
func parseNet(t *testing.T, text string) spec.Network {
	t.Helper()
	net, err := modelfile.Parse([]byte(text), "n.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return net
}
