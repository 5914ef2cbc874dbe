package modelfile

import (
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tfsweep/tfsweep/spec"
)

// layer reads one layer's Keras arguments; errors call an unnamed layer autoName. In a model file
// (modelFile true) the arguments also hold inbound, the layers it reads; a Keras JSON gives those in
// its inbound_nodes.
func (p *parser) layer(class spec.Class, node *yaml.Node, modelFile bool, autoName string) (spec.Layer, error) {
	a := p.args(node, string(class), "")
	l := spec.Layer{Class: class, Name: a.string("name", "")}
	a.layer = l.Name
	if a.layer == "" {
		a.layer = autoName
	}
	if modelFile {
		l.Inbound = a.inbound()
	}
	a.common()
	read, ok := layerReaders()[class]
	if !ok {
		return l, p.errorf(node, "%s is not a layer class tfsweep builds (want one of %s)", a.who(), classList())
	}
	read(a, &l)
	return l, a.done()
}

func classList() string {
	names := make([]string, len(spec.Classes()))
	for i, c := range spec.Classes() {
		names[i] = string(c)
	}
	return strings.Join(names, ", ")
}

// inbound reads a model file's inbound: one layer name or a list of them.
func (a *args) inbound() []string {
	v := a.value("inbound")
	if v == nil || a.err != nil {
		return nil
	}
	if v.Kind == yaml.ScalarNode {
		return []string{v.Value}
	}
	var names []string
	for _, c := range v.Content {
		if v.Kind != yaml.SequenceNode || c.Kind != yaml.ScalarNode {
			a.fail(v, "has inbound %s: expected a layer name or a list of them", text(v))
			return nil
		}
		names = append(names, c.Value)
	}
	return names
}

// layerReaders read each class's Keras 3 arguments, with Keras' defaults; the arguments Keras
// serialises that tfsweep does not vary are accepted at the values it builds.
func layerReaders() map[spec.Class]func(a *args, l *spec.Layer) {
	return map[spec.Class]func(a *args, l *spec.Layer){
		spec.ClassDense:            readDense,
		spec.ClassConv2D:           readConv2D,
		spec.ClassMaxPooling2D:     readPooling,
		spec.ClassAveragePooling2D: readPooling,
		spec.ClassGlobalAveragePooling2D: func(a *args, l *spec.Layer) {
			a.fixed("data_format", "channels_last", "null")
			a.fixed("keepdims", "false")
		},
		spec.ClassFlatten:            func(a *args, l *spec.Layer) { a.fixed("data_format", "channels_last", "null") },
		spec.ClassReshape:            func(a *args, l *spec.Layer) { l.Reshape = &spec.ReshapeArgs{TargetShape: a.shape("target_shape")} },
		spec.ClassDropout:            readDropout,
		spec.ClassBatchNormalization: readBatchNorm,
		spec.ClassActivation: func(a *args, l *spec.Layer) {
			l.Activation = &spec.ActivationArgs{Activation: a.activation("activation", true)}
		},
		spec.ClassRescaling: func(a *args, l *spec.Layer) {
			if lookup(a.node, "scale") == nil {
				a.fail(a.node, "has no scale")
			}
			l.Rescaling = &spec.RescalingArgs{Scale: a.float("scale", 1), Offset: a.float("offset", 0)}
		},
		spec.ClassAdd:         func(*args, *spec.Layer) {},
		spec.ClassConcatenate: func(a *args, l *spec.Layer) { l.Concatenate = &spec.ConcatenateArgs{Axis: a.int("axis", -1)} },
	}
}

// biasAndExtras reads what Dense and Conv2D serialise besides their own arguments.
func (a *args) biasAndExtras() {
	a.fixedInit("bias_initializer", "zeros")
	for _, key := range []string{"bias_regularizer", "activity_regularizer", "kernel_constraint", "bias_constraint",
		"quantization_config", "lora_rank", "lora_alpha"} {
		a.fixed(key, "null")
	}
}

func (a *args) kernel() spec.Kernel {
	return spec.Kernel{Initializer: a.initializer("kernel_initializer"), L2: a.l2("kernel_regularizer")}
}

func readDense(a *args, l *spec.Layer) {
	if lookup(a.node, "units") == nil {
		a.fail(a.node, "has no units")
	}
	l.Dense = &spec.DenseArgs{Units: a.int("units", 0), Activation: a.activation("activation", false),
		UseBias: a.bool("use_bias", true), Kernel: a.kernel()}
	a.biasAndExtras()
}

func readConv2D(a *args, l *spec.Layer) {
	for _, key := range []string{"filters", "kernel_size"} {
		if lookup(a.node, key) == nil {
			a.fail(a.node, "has no %s", key)
		}
	}
	l.Conv2D = &spec.Conv2DArgs{Filters: a.int("filters", 0), KernelSize: a.pair("kernel_size", [2]int{}),
		Strides: a.pair("strides", [2]int{1, 1}), Padding: a.padding(), UseBias: a.bool("use_bias", true),
		Activation: a.activation("activation", false), Kernel: a.kernel()}
	a.fixed("data_format", "channels_last", "null")
	if d := a.pair("dilation_rate", [2]int{1, 1}); d != [2]int{1, 1} && a.err == nil {
		a.fail(lookup(a.node, "dilation_rate"), "has dilation_rate %v, which tfsweep does not build: it builds 1 only", d)
	}
	a.fixed("groups", "1")
	a.biasAndExtras()
}

func (a *args) padding() spec.Padding {
	p := strings.ToLower(a.string("padding", "valid"))
	if p != "valid" && p != "same" && a.err == nil {
		a.fail(lookup(a.node, "padding"), "has padding %q: tfsweep builds valid or same", p)
	}
	return spec.Padding(p)
}

func readPooling(a *args, l *spec.Layer) {
	size := a.pair("pool_size", [2]int{2, 2})
	l.Pooling = &spec.PoolingArgs{PoolSize: size, Strides: a.pair("strides", size), Padding: a.padding()}
	a.fixed("data_format", "channels_last", "null")
}

func readDropout(a *args, l *spec.Layer) {
	if lookup(a.node, "rate") == nil {
		a.fail(a.node, "has no rate")
	}
	l.Dropout = &spec.DropoutArgs{Rate: a.float("rate", 0)}
	a.fixed("seed", "null")
	a.fixed("noise_shape", "null")
}

func readBatchNorm(a *args, l *spec.Layer) {
	l.BatchNorm = &spec.BatchNormArgs{Axis: a.int("axis", -1), Momentum: a.float("momentum", spec.DefaultBatchNormMomentum),
		Epsilon: a.float("epsilon", spec.DefaultBatchNormEpsilon), Center: a.bool("center", true), Scale: a.bool("scale", true)}
	for _, init := range [][2]string{{"beta_initializer", "zeros"}, {"gamma_initializer", "ones"},
		{"moving_mean_initializer", "zeros"}, {"moving_variance_initializer", "ones"}} {
		a.fixedInit(init[0], init[1])
	}
	for _, key := range []string{"beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint", "renorm_clipping"} {
		a.fixed(key, "null")
	}
	a.fixed("synchronized", "false")
	a.fixed("renorm", "false")
	a.used["renorm_momentum"] = true // used by renorm only, which is off
}
