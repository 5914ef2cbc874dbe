package spec

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// convnet is Keras' "simple MNIST convnet", layers unnamed as a Sequential model writes them.
func convnet() Network {
	return Network{Name: "convnet", Input: Input{Shape: Shape{28, 28, 1}}, Layers: []Layer{
		{Class: ClassConv2D, Conv2D: &Conv2DArgs{Filters: 32, KernelSize: [2]int{3, 3}, Activation: ActivationReLU, UseBias: true}},
		{Class: ClassMaxPooling2D, Pooling: &PoolingArgs{PoolSize: [2]int{2, 2}}},
		{Class: ClassConv2D, Conv2D: &Conv2DArgs{Filters: 64, KernelSize: [2]int{3, 3}, Activation: ActivationReLU, UseBias: true}},
		{Class: ClassMaxPooling2D, Pooling: &PoolingArgs{PoolSize: [2]int{2, 2}}},
		{Class: ClassFlatten},
		{Class: ClassDropout, Dropout: &DropoutArgs{Rate: 0.5}},
		{Class: ClassDense, Dense: &DenseArgs{Units: 10, Activation: ActivationSoftmax, UseBias: true}},
	}}
}

// residual is a small functional network: two residual blocks (Add) and a Concatenate.
func residual() Network {
	conv := func(name string, filters int, in string, act Activation) Layer {
		return Layer{Class: ClassConv2D, Name: name, Inbound: []string{in},
			Conv2D: &Conv2DArgs{Filters: filters, KernelSize: [2]int{3, 3}, Padding: PaddingSame, Activation: act, UseBias: true}}
	}
	return Network{Name: "resnet", Input: Input{Name: "pixels", Shape: Shape{28, 28, 1}}, Layers: []Layer{
		conv("stem", 8, "pixels", ActivationReLU),
		conv("a1", 8, "stem", ActivationReLU), conv("a2", 8, "a1", ActivationLinear),
		{Class: ClassAdd, Name: "add_a", Inbound: []string{"stem", "a2"}},
		conv("b1", 8, "add_a", ActivationReLU), conv("b2", 8, "b1", ActivationLinear),
		{Class: ClassAdd, Name: "add_b", Inbound: []string{"add_a", "b2"}},
		{Class: ClassConcatenate, Name: "both", Inbound: []string{"add_a", "add_b"}},
		{Class: ClassGlobalAveragePooling2D, Name: "gap"},
		{Class: ClassDense, Name: "out", Dense: &DenseArgs{Units: 10, Activation: ActivationSoftmax, UseBias: true}},
	}}
}

func layerNames(n Network) []string {
	var out []string
	for _, l := range n.Layers {
		out = append(out, l.Name)
	}
	return out
}

func TestResolveShapesAndCounts(t *testing.T) {
	tests := []struct {
		name        string
		net         Network
		names       []string
		output      Shape
		trainable   int64
		activations int64
	}{
		// Keras' model.summary() of the lab report's MLP and of the simple MNIST convnet.
		{"mlp", LabReportMLP(), []string{"dense", "dense_1", "dense_2"}, Shape{10}, 109386, 784 + 128 + 64 + 10},
		{"convnet", convnet(), []string{"conv2d", "max_pooling2d", "conv2d_1", "max_pooling2d_1", "flatten", "dropout", "dense"},
			Shape{10}, 34826, 784 + 26*26*32 + 13*13*32 + 11*11*64 + 5*5*64 + 1600 + 1600 + 10},
		{"residual", residual(), []string{"stem", "a1", "a2", "add_a", "b1", "b2", "add_b", "both", "gap", "out"},
			Shape{10}, 5*(3*3*8*8+8) - 3*3*8*8 + 3*3*1*8 + 16*10 + 10, 784 + 7*28*28*8 + 28*28*16 + 16 + 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := tt.net.Resolve()
			if err != nil {
				t.Fatal(err)
			}
			if got := layerNames(r); !reflect.DeepEqual(got, tt.names) {
				t.Errorf("names %v, want %v", got, tt.names)
			}
			s, err := tt.net.Summary()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(s.Output, tt.output) || s.Trainable != tt.trainable || s.Activations != tt.activations {
				t.Errorf("output %v, %d trainable, %d activations; want %v, %d, %d", s.Output, s.Trainable, s.Activations, tt.output, tt.trainable, tt.activations)
			}
		})
	}
}

func TestResolveFillsDefaultsAndLeavesTheNetworkAlone(t *testing.T) {
	n := convnet()
	before, _ := json.Marshal(n)
	r, err := n.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if after, _ := json.Marshal(n); string(after) != string(before) {
		t.Errorf("Resolve changed its receiver:\n%s\n%s", before, after)
	}
	if c := r.Layers[0].Conv2D; c.Strides != [2]int{1, 1} || c.Padding != PaddingValid {
		t.Errorf("conv2d strides %v padding %q, want Keras' defaults [1 1] valid", c.Strides, c.Padding)
	}
	if p := r.Layers[1].Pooling; p.Strides != [2]int{2, 2} {
		t.Errorf("max_pooling2d strides %v, want the pool size", p.Strides)
	}
	if got := r.Layers[2].Inbound; !reflect.DeepEqual(got, []string{"max_pooling2d"}) {
		t.Errorf("conv2d_1 reads %v, want [max_pooling2d]", got)
	}
	again, err := r.Resolve()
	if err != nil || !reflect.DeepEqual(again, r) {
		t.Errorf("resolving a resolved network changed it (err %v)", err)
	}
}

func TestNetworkJSONRoundTrip(t *testing.T) {
	for _, n := range []Network{LabReportMLP(), convnet(), residual()} {
		r, err := n.Resolve()
		if err != nil {
			t.Fatal(err)
		}
		data, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var back Network
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, r) {
			t.Errorf("%s: JSON round trip changed the network:\n%s", n.Name, data)
		}
	}
}

func TestAutoName(t *testing.T) {
	want := map[Class]string{
		ClassDense: "dense", ClassConv2D: "conv2d", ClassMaxPooling2D: "max_pooling2d",
		ClassAveragePooling2D: "average_pooling2d", ClassGlobalAveragePooling2D: "global_average_pooling2d",
		ClassBatchNormalization: "batch_normalization", ClassFlatten: "flatten", ClassReshape: "reshape",
		ClassDropout: "dropout", ClassActivation: "activation", ClassRescaling: "rescaling", ClassAdd: "add",
		ClassConcatenate: "concatenate", "InputLayer": "input_layer",
	}
	for class, name := range want {
		if got := AutoName(class); got != name {
			t.Errorf("AutoName(%s) = %q, want %q", class, got, name)
		}
	}
}

func dense(units int, act Activation, inbound ...string) Layer {
	return Layer{Class: ClassDense, Inbound: inbound, Dense: &DenseArgs{Units: units, Activation: act, UseBias: true}}
}

func TestResolveErrors(t *testing.T) {
	flat := func(layers ...Layer) Network { return Network{Input: Input{Shape: Shape{784}}, Layers: layers} }
	image := func(layers ...Layer) Network { return Network{Input: Input{Shape: Shape{28, 28, 1}}, Layers: layers} }
	named := func(l Layer, name string) Layer { l.Name = name; return l }
	conv := Layer{Class: ClassConv2D, Conv2D: &Conv2DArgs{Filters: 64, KernelSize: [2]int{3, 3}}}
	many := make([]Layer, 50_000)
	for i := range many {
		many[i] = dense(8, ActivationTanh)
	}
	tests := []struct {
		name  string
		net   Network
		index int // of the layer named, -1 for none
		want  string
	}{
		{"dense on an image", image(conv, dense(10, ActivationSoftmax)), 1,
			"Dense `dense` gets a 4-D input (None, 26, 26, 64): add Flatten before it"},
		{"conv on a vector", flat(conv, Layer{Class: ClassFlatten}, dense(10, ActivationSoftmax)), 0,
			"Conv2D `conv2d` gets a 2-D input (None, 784): it reads images"},
		{"kernel larger than input", Network{Input: Input{Shape: Shape{2, 2, 3}}, Layers: []Layer{conv, {Class: ClassFlatten}, dense(10, ActivationSoftmax)}}, 0,
			"smaller than its 3x3 kernel with padding valid"},
		{"unknown layer", flat(Layer{Class: "LSTM"}, dense(10, ActivationSoftmax)), 0, "LSTM `lstm` is not a layer class tfsweep builds"},
		{"no units", flat(Layer{Class: ClassDense}), 0, "Dense `dense` has no units"},
		{"bad activation", flat(dense(10, "softsign")), 0, `unknown activation "softsign"`},
		{"hidden softmax", flat(dense(10, ActivationSoftmax), dense(10, ActivationSoftmax)), 0, "softmax before the output layer"},
		{"linear output", flat(dense(10, ActivationLinear)), 0, "output's activation must be softmax"},
		{"image output", image(Layer{Class: ClassConv2D, Conv2D: &Conv2DArgs{Filters: 10, KernelSize: [2]int{3, 3}, Activation: ActivationSoftmax}}), 0,
			"the output must be a vector"},
		{"unknown inbound", flat(dense(10, ActivationSoftmax, "nowhere")), 0, "reads `nowhere`, which is neither"},
		{"self loop", flat(named(dense(10, ActivationSoftmax, "x"), "x")), 0, "reads itself"},
		{"cycle", flat(named(dense(8, ActivationTanh, "b"), "a"), named(dense(8, ActivationTanh, "a"), "b"), dense(10, ActivationSoftmax)), 1,
			"Dense `b` is on a cycle `b` → `a` → `b`"},
		{"duplicate name", flat(named(dense(8, ActivationTanh), "x"), named(dense(10, ActivationSoftmax), "x")), 1, "has the name of layer 1"},
		{"dead branch", flat(named(dense(8, ActivationTanh, "input_layer"), "side"), dense(10, ActivationSoftmax, "input_layer")), 0,
			"Dense `side` does not lead to the output layer `dense`"},
		{"add shapes", flat(named(dense(8, ActivationTanh), "a"), named(dense(16, ActivationTanh, "a"), "b"),
			Layer{Class: ClassAdd, Inbound: []string{"a", "b"}}, dense(10, ActivationSoftmax)), 2,
			"gets (None, 8) from `a` and (None, 16) from `b`: Add needs inputs of one shape"},
		{"add of one", flat(Layer{Class: ClassAdd}, dense(10, ActivationSoftmax)), 0, "merges two or more"},
		{"reshape count", flat(Layer{Class: ClassReshape, Reshape: &ReshapeArgs{TargetShape: Shape{27, 27, 1}}}), 0, "the element counts must match"},
		{"batch axis", flat(Layer{Class: ClassBatchNormalization, BatchNorm: &BatchNormArgs{Axis: 0, Epsilon: 1e-3}}, dense(10, ActivationSoftmax)), 0,
			"axis 0, the batch axis"},
		{"dropout rate", flat(Layer{Class: ClassDropout, Dropout: &DropoutArgs{Rate: 1}}, dense(10, ActivationSoftmax)), 0, "rate 1: it must be in [0, 1)"},
		{"absurd units", flat(dense(1<<41, ActivationTanh), dense(10, ActivationSoftmax)), 0, "units 2199023255552"},
		{"absurd weights", flat(dense(1<<30, ActivationTanh), dense(1<<20, ActivationTanh), dense(10, ActivationSoftmax)), 1,
			"Dense `dense_1` takes the network beyond 1099511627776 weights"},
		{"50,000 layers", flat(many...), -1, "50000 layers, more than the 1000"},
		{"no layers", flat(), -1, "no layers"},
		{"slash in a name", flat(named(dense(10, ActivationSoftmax), "a/b")), 0, "Dense `a/b` is not a valid name"},
		{"input name", Network{Input: Input{Name: " x", Shape: Shape{784}}, Layers: []Layer{dense(10, ActivationSoftmax)}}, -1, `the input's name " x" is not a valid name`},
		{"input rank", Network{Input: Input{Shape: Shape{1, 2, 3, 4}}, Layers: []Layer{dense(10, ActivationSoftmax)}}, -1, "4 dimensions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.net.Summary()
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			var le *LayerError
			if errors.As(err, &le) != (tt.index >= 0) || (le != nil && le.Index != tt.index) {
				t.Errorf("error %q: layer error %+v, want one about layer index %d", err, le, tt.index)
			}
		})
	}
}

func TestResolveSortsAFunctionalGraph(t *testing.T) {
	n := residual()
	n.Layers[1], n.Layers[4] = n.Layers[4], n.Layers[1] // b1 before its input, a1 after add_a's
	r, err := n.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for i, name := range layerNames(r) {
		pos[name] = i
	}
	for _, l := range r.Layers {
		for _, in := range l.Inbound {
			if p, ok := pos[in]; ok && p >= pos[l.Name] {
				t.Errorf("%s reads %s, which comes after it", l.Name, in)
			}
		}
	}
}

// layerLine is a layer's class, name, inbound and the values the settings touch, for comparisons.
func layerLine(l Layer) string {
	s := string(l.Class) + " " + l.Name + " <" + strings.Join(l.Inbound, ",") + ">"
	if a := activation(l); a != "" {
		s += " " + string(a)
	}
	var k *Kernel
	if l.Dense != nil {
		k = &l.Dense.Kernel
	}
	if l.Conv2D != nil {
		k = &l.Conv2D.Kernel
	}
	if k != nil {
		s += " " + string(k.Init()) + " l2=" + strconv.FormatFloat(k.L2Rate(), 'g', -1, 64)
	}
	if l.Dropout != nil {
		s += " rate=" + strconv.FormatFloat(l.Dropout.Rate, 'g', -1, 64)
	}
	return s
}

func ptr[T any](v T) *T { return &v }

func TestApplySettings(t *testing.T) {
	tests := []struct {
		name     string
		net      Network
		settings Settings
		want     []string
	}{
		// The lab report's MLP as graph.go builds and KerasJSON writes it: Dense → BatchNormalization →
		// Activation → Dropout per hidden layer, Keras' names counted per class.
		{"mlp as is", LabReportMLP(), Settings{}, []string{
			"Dense dense <input_layer> tanh xavier l2=0",
			"Dense dense_1 <dense> tanh xavier l2=0",
			"Dense dense_2 <dense_1> softmax xavier l2=0",
		}},
		{"mlp every setting", LabReportMLP(), Settings{Init: ptr(Initializer("he_normal")), L2: ptr(1e-4),
			Activation: ptr(ActivationReLU), BatchNorm: ptr(true), Dropout: ptr(0.2)}, []string{
			"Dense dense <input_layer> linear he_normal l2=0.0001",
			"BatchNormalization batch_normalization <dense>",
			"Activation activation <batch_normalization> relu",
			"Dropout dropout <activation> rate=0.2",
			"Dense dense_1 <dropout> linear he_normal l2=0.0001",
			"BatchNormalization batch_normalization_1 <dense_1>",
			"Activation activation_1 <batch_normalization_1> relu",
			"Dropout dropout_1 <activation_1> rate=0.2",
			"Dense dense_2 <dropout_1> softmax he_normal l2=0.0001",
		}},
		{"mlp dropout only", LabReportMLP(), Settings{Dropout: ptr(0.5), BatchNorm: ptr(false)}, []string{
			"Dense dense <input_layer> tanh xavier l2=0",
			"Dropout dropout <dense> rate=0.5",
			"Dense dense_1 <dropout> tanh xavier l2=0",
			"Dropout dropout_1 <dense_1> rate=0.5",
			"Dense dense_2 <dropout_1> softmax xavier l2=0",
		}},
		// The convnet's own Dropout after Flatten keeps its rate; the file's values win where no
		// setting is given.
		{"convnet batchnorm and dropout", convnet(), Settings{BatchNorm: ptr(true), Dropout: ptr(0.1)}, []string{
			"Conv2D conv2d <input_layer> linear xavier l2=0",
			"BatchNormalization batch_normalization <conv2d>",
			"Activation activation <batch_normalization> relu",
			"Dropout dropout_1 <activation> rate=0.1",
			"MaxPooling2D max_pooling2d <dropout_1>",
			"Conv2D conv2d_1 <max_pooling2d> linear xavier l2=0",
			"BatchNormalization batch_normalization_1 <conv2d_1>",
			"Activation activation_1 <batch_normalization_1> relu",
			"Dropout dropout_2 <activation_1> rate=0.1",
			"MaxPooling2D max_pooling2d_1 <dropout_2>",
			"Flatten flatten <max_pooling2d_1>",
			"Dropout dropout <flatten> rate=0.5",
			"Dense dense <dropout> softmax xavier l2=0",
		}},
		// A functional graph: the readers of a changed layer read what was added after it.
		{"residual batchnorm", residual(), Settings{BatchNorm: ptr(true), Activation: ptr(Activation("gelu"))}, []string{
			"Conv2D stem <pixels> linear xavier l2=0",
			"BatchNormalization batch_normalization <stem>",
			"Activation activation <batch_normalization> gelu",
			"Conv2D a1 <activation> linear xavier l2=0",
			"BatchNormalization batch_normalization_1 <a1>",
			"Activation activation_1 <batch_normalization_1> gelu",
			"Conv2D a2 <activation_1> linear xavier l2=0",
			"BatchNormalization batch_normalization_2 <a2>",
			"Add add_a <activation,batch_normalization_2>",
			"Conv2D b1 <add_a> linear xavier l2=0",
			"BatchNormalization batch_normalization_3 <b1>",
			"Activation activation_2 <batch_normalization_3> gelu",
			"Conv2D b2 <activation_2> linear xavier l2=0",
			"BatchNormalization batch_normalization_4 <b2>",
			"Add add_b <add_a,batch_normalization_4>",
			"Concatenate both <add_a,add_b>",
			"GlobalAveragePooling2D gap <both>",
			"Dense out <gap> softmax xavier l2=0",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := json.Marshal(tt.net)
			got, err := tt.net.Apply(tt.settings)
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			for _, l := range got.Layers {
				lines = append(lines, layerLine(l))
			}
			if !reflect.DeepEqual(lines, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(tt.want, "\n"))
			}
			if after, _ := json.Marshal(tt.net); string(after) != string(before) {
				t.Error("Apply changed its receiver")
			}
		})
	}
}

func TestApplyFileWinsWithoutTheFlag(t *testing.T) {
	n := convnet()
	n.Layers[0].Conv2D.Initializer = "he_uniform"
	n.Layers[0].Conv2D.L2 = ptr(0.01)
	got, err := n.Apply(Settings{})
	if err != nil {
		t.Fatal(err)
	}
	if k := got.Layers[0].Conv2D.Kernel; k.Init() != "he_uniform" || k.L2Rate() != 0.01 {
		t.Errorf("without flags conv2d's kernel is %s L2 %v, want the file's he_uniform 0.01", k.Init(), k.L2Rate())
	}
	if k := got.Layers[2].Conv2D.Kernel; k.Init() != DefaultInitializer || k.L2Rate() != 0 {
		t.Errorf("an unset kernel is %s L2 %v, want the defaults", k.Init(), k.L2Rate())
	}
	got, err = n.Apply(Settings{Init: ptr(Initializer("lecun_normal")), L2: ptr(0.0)})
	if err != nil {
		t.Fatal(err)
	}
	if k := got.Layers[0].Conv2D.Kernel; k.Init() != "lecun_normal" || k.L2Rate() != 0 {
		t.Errorf("with flags conv2d's kernel is %s L2 %v, want the flags' lecun_normal 0", k.Init(), k.L2Rate())
	}
}

func TestApplyRefusesBadSettings(t *testing.T) {
	for _, s := range []Settings{
		{Init: ptr(Initializer("zeros"))}, {L2: ptr(-1.0)}, {Activation: ptr(ActivationSoftmax)},
		{Activation: ptr(Activation("swish"))}, {Dropout: ptr(1.0)},
	} {
		if _, err := LabReportMLP().Apply(s); err == nil {
			t.Errorf("Apply(%+v) accepted", s)
		}
	}
}
