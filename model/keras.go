package model

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/tfsweep/tfsweep/spec"
)

// kerasObject is Keras 3's serialized-object envelope.
type kerasObject struct {
	Module         string         `json:"module"`
	ClassName      string         `json:"class_name"`
	Config         map[string]any `json:"config"`
	RegisteredName *string        `json:"registered_name"`
	BuildConfig    map[string]any `json:"build_config,omitempty"`
}

// KerasJSON returns what Keras 3's model.to_json() gives for the network, compiled: a Sequential
// model when every layer reads the one before it, else a Functional one with each layer's inbound
// nodes; the layers' configs as Keras writes them (kernels with their initializers and L2
// regularizers), and compile_config with the optimizer (and its learning-rate schedule), the loss
// and the accuracy metric. TensorBoard draws its "keras" conceptual graph from this JSON. The keys
// are those Keras 3.15 writes.
func (m *Model) KerasJSON() ([]byte, error) {
	net := m.cfg.Network
	shapes := map[string]spec.Shape{net.Input.Name: net.Input.Shape}
	for i, l := range net.Layers {
		shapes[l.Name] = m.graph.summary.Layers[i].Output
	}
	input := kerasObject{Module: "keras.layers", ClassName: "InputLayer", Config: map[string]any{
		"batch_shape": batchDims(net.Input.Shape), "dtype": "float32", "sparse": false, "ragged": false,
		"name": net.Input.Name, "optional": false,
	}}
	sequential := isSequential(net)
	layers := []any{input}
	if !sequential {
		layers = []any{functionalLayer{input, net.Input.Name, []any{}}}
	}
	for _, l := range net.Layers {
		in := make([]spec.Shape, len(l.Inbound))
		for i, name := range l.Inbound {
			in[i] = shapes[name]
		}
		layer, err := kerasLayer(l, in)
		if err != nil {
			return nil, err
		}
		if sequential {
			layers = append(layers, layer)
			continue
		}
		layers = append(layers, functionalLayer{layer, l.Name, inboundNodes(l, shapes)})
	}
	model := kerasObject{Module: "keras", ClassName: "Sequential", Config: map[string]any{
		"name": kerasModelName(net.Name, "sequential"), "trainable": true, "dtype": kerasDTypePolicy(), "layers": layers,
		"build_input_shape": batchDims(net.Input.Shape),
	}, BuildConfig: inputShape(net.Input.Shape)}
	if !sequential {
		last := net.Layers[len(net.Layers)-1].Name
		registered := "Functional"
		model = kerasObject{Module: "keras.src.models.functional", ClassName: "Functional", Config: map[string]any{
			"name": kerasModelName(net.Name, "functional"), "trainable": true, "layers": layers,
			"input_layers": []any{net.Input.Name, 0, 0}, "output_layers": []any{last, 0, 0},
		}, RegisteredName: &registered, BuildConfig: map[string]any{"input_shape": nil}}
	}
	doc := struct {
		kerasObject
		CompileConfig map[string]any `json:"compile_config"`
	}{model, map[string]any{
		"optimizer": kerasOptimizer(m.cfg), "loss": "sparse_categorical_crossentropy", "loss_weights": nil,
		"metrics": []any{"accuracy"}, "weighted_metrics": nil, "run_eagerly": false, "steps_per_execution": 1,
		"jit_compile": false,
	}}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("marshal keras model config: %w", err)
	}
	return b, nil
}

// KerasWeightScope is the name scope Keras 3 puts the weights under when the model is built in code
// as KerasJSON describes it, and so the prefix of the weight histograms its TensorBoard callback
// writes (each weight's path + "/histogram"): a Sequential model's name ("convnet/conv2d/kernel"),
// and "" for a Functional model, whose layers are built before the model exists ("conv2d/kernel").
func (m *Model) KerasWeightScope() string {
	if !isSequential(m.cfg.Network) {
		return ""
	}
	return kerasModelName(m.cfg.Network.Name, "sequential")
}

// kerasModelName is the model's name as Keras would hold it: the network's own (the model file's name,
// or the imported Keras model's), else Keras' automatic name for its class. Keras refuses a name with
// a "/" (it separates a variable's path), so such a name falls back too.
func kerasModelName(name, automatic string) string {
	if name == "" || strings.Contains(name, "/") {
		return automatic
	}
	return name
}

// functionalLayer is a layer of a Functional model's config: the layer with its name and the
// nodes that call it.
type functionalLayer struct {
	kerasObject
	Name         string `json:"name"`
	InboundNodes []any  `json:"inbound_nodes"`
}

// isSequential reports whether every layer reads the one before it (the first the input).
func isSequential(net spec.Network) bool {
	prev := net.Input.Name
	for _, l := range net.Layers {
		if len(l.Inbound) != 1 || l.Inbound[0] != prev {
			return false
		}
		prev = l.Name
	}
	return true
}

// inboundNodes is Keras' record of the call of l on its inbound layers' outputs: one node whose
// args hold the input tensor, or the list of them for a merge layer.
func inboundNodes(l spec.Layer, shapes map[string]spec.Shape) []any {
	tensor := func(name string) map[string]any {
		return map[string]any{"class_name": "__keras_tensor__", "config": map[string]any{
			"shape": batchDims(shapes[name]), "dtype": "float32", "keras_history": []any{name, 0, 0}}}
	}
	var arg any
	if l.Class == spec.ClassAdd || l.Class == spec.ClassConcatenate {
		tensors := make([]any, len(l.Inbound))
		for i, name := range l.Inbound {
			tensors[i] = tensor(name)
		}
		arg = tensors
	} else {
		arg = tensor(l.Inbound[0])
	}
	return []any{map[string]any{"args": []any{arg}, "kwargs": map[string]any{}}}
}

func kerasDTypePolicy() kerasObject {
	return kerasObject{Module: "keras", ClassName: "DTypePolicy", Config: map[string]any{"name": "float32"}}
}

func kerasInitializer(class string, config map[string]any) kerasObject {
	return kerasObject{Module: "keras.initializers", ClassName: class, Config: config}
}

// batchDims is a shape with Keras' batch dimension, as JSON: [null, 28, 28, 1].
func batchDims(shape spec.Shape) []any {
	out := []any{nil}
	for _, d := range shape {
		out = append(out, d)
	}
	return out
}

func inputShape(shape spec.Shape) map[string]any {
	return map[string]any{"input_shape": batchDims(shape)}
}

// kerasLayer is the serialized layer l whose inputs have the shapes ins.
func kerasLayer(l spec.Layer, ins []spec.Shape) (kerasObject, error) {
	config := map[string]any{"name": l.Name, "trainable": true, "dtype": kerasDTypePolicy()}
	layer := kerasObject{Module: "keras.layers", ClassName: string(l.Class), Config: config, BuildConfig: kerasBuildConfig(l, ins)}
	set := func(kv ...any) {
		for i := 0; i < len(kv); i += 2 {
			config[kv[i].(string)] = kv[i+1]
		}
	}
	in := ins[0]
	switch l.Class {
	case spec.ClassDense, spec.ClassConv2D:
		return layer, setKernelConfig(l, set)
	case spec.ClassBatchNormalization:
		b := l.BatchNorm
		set("axis", kerasAxis(b.Axis, in), "momentum", b.Momentum, "epsilon", b.Epsilon, "center", b.Center, "scale", b.Scale,
			"beta_initializer", kerasInitializer("Zeros", map[string]any{}),
			"gamma_initializer", kerasInitializer("Ones", map[string]any{}),
			"moving_mean_initializer", kerasInitializer("Zeros", map[string]any{}),
			"moving_variance_initializer", kerasInitializer("Ones", map[string]any{}),
			"beta_regularizer", nil, "gamma_regularizer", nil, "beta_constraint", nil, "gamma_constraint", nil,
			"synchronized", false, "renorm", false, "renorm_clipping", nil, "renorm_momentum", kerasRenormMomentum)
	case spec.ClassActivation:
		set("activation", string(l.Activation.Activation))
	case spec.ClassDropout:
		set("rate", l.Dropout.Rate, "seed", nil, "noise_shape", nil)
	case spec.ClassMaxPooling2D, spec.ClassAveragePooling2D:
		p := l.Pooling
		set("pool_size", p.PoolSize[:], "strides", p.Strides[:], "padding", string(p.Padding), "data_format", "channels_last")
	case spec.ClassGlobalAveragePooling2D:
		set("data_format", "channels_last", "keepdims", false)
	case spec.ClassFlatten:
		set("data_format", "channels_last")
	case spec.ClassReshape:
		set("target_shape", []int(l.Reshape.TargetShape))
	case spec.ClassRescaling:
		set("scale", l.Rescaling.Scale, "offset", l.Rescaling.Offset)
	case spec.ClassConcatenate:
		set("axis", kerasAxis(l.Concatenate.Axis, in))
	}
	return layer, nil
}

// kerasBuildConfig is the input shapes Keras records (build_config) for the layers that build
// something: weights, or a merge's, Flatten's and Rescaling's bookkeeping; nil for the others.
func kerasBuildConfig(l spec.Layer, ins []spec.Shape) map[string]any {
	switch l.Class {
	case spec.ClassDense, spec.ClassConv2D, spec.ClassBatchNormalization, spec.ClassFlatten, spec.ClassRescaling:
		return inputShape(ins[0])
	case spec.ClassAdd, spec.ClassConcatenate:
		shapes := make([]any, len(ins))
		for i, s := range ins {
			shapes[i] = batchDims(s)
		}
		return map[string]any{"input_shape": shapes}
	}
	return nil
}

// setKernelConfig sets a Dense or Conv2D layer's config keys.
func setKernelConfig(l spec.Layer, set func(...any)) error {
	kernel, useBias, activation := kernelArgs(&l)
	init, err := kerasKernelInitializer(kernel.Init())
	if err != nil {
		return err
	}
	var reg any
	if l2 := kernel.L2Rate(); l2 > 0 {
		reg = kerasObject{Module: "keras.regularizers", ClassName: "L2", Config: map[string]any{"l2": l2}}
	}
	set("activation", string(activation), "use_bias", useBias, "kernel_initializer", init,
		"bias_initializer", kerasInitializer("Zeros", map[string]any{}), "kernel_regularizer", reg,
		"bias_regularizer", nil, "kernel_constraint", nil, "bias_constraint", nil)
	if c := l.Conv2D; c != nil {
		set("filters", c.Filters, "kernel_size", c.KernelSize[:], "strides", c.Strides[:], "padding", string(c.Padding),
			"data_format", "channels_last", "dilation_rate", []int{1, 1}, "groups", 1, "activity_regularizer", nil)
	} else {
		set("units", l.Dense.Units, "quantization_config", nil)
	}
	return nil
}

// kerasRenormMomentum is BatchNormalization's renorm_momentum default, whatever the momentum.
const kerasRenormMomentum = 0.99

// kerasAxis is a resolved axis as Keras' default spells it: -1 for the last axis of an input of the
// shape, else the axis itself.
func kerasAxis(axis int, in spec.Shape) int {
	if axis == len(in) {
		return -1
	}
	return axis
}

// kerasKernelInitializer is the serialized kernel initializer: tfsweep's "uniform" is Keras'
// RandomUniform(-0.05, 0.05), the others the catalog's Keras class.
func kerasKernelInitializer(name spec.Initializer) (kerasObject, error) {
	if name == "uniform" {
		return kerasInitializer("RandomUniform", map[string]any{"minval": -0.05, "maxval": 0.05, "seed": nil}), nil
	}
	init, err := spec.LookupInit(string(name))
	if err != nil {
		return kerasObject{}, err
	}
	return kerasInitializer(init.KerasClass, map[string]any{"seed": nil, "input_axes": nil, "output_axes": nil}), nil
}

// kerasOptimizer is keras.optimizers.serialize of the configured optimizer: a constant learning rate
// as the float32 Keras stores, a schedule as its serialized LearningRateSchedule.
func kerasOptimizer(cfg Config) kerasObject {
	var lr any = float64(float32(cfg.LearningRate))
	if math.IsInf(float64(float32(cfg.LearningRate)), 0) { // beyond float32: JSON has no Inf
		lr = cfg.LearningRate
	}
	switch sch := cfg.Schedule; sch.Kind {
	case spec.ScheduleExponential:
		lr = kerasObject{Module: "keras.optimizers.schedules", ClassName: "ExponentialDecay", Config: map[string]any{
			"initial_learning_rate": cfg.LearningRate, "decay_steps": sch.DecaySteps, "decay_rate": sch.DecayRate,
			"staircase": sch.Staircase, "name": "ExponentialDecay"}}
	case spec.ScheduleCosine:
		var target any
		if sch.WarmupTarget != 0 {
			target = sch.WarmupTarget
		}
		lr = kerasObject{Module: "keras.optimizers.schedules", ClassName: "CosineDecay", Config: map[string]any{
			"initial_learning_rate": cfg.LearningRate, "decay_steps": sch.DecaySteps, "alpha": sch.Alpha,
			"name": "CosineDecay", "warmup_target": target, "warmup_steps": sch.WarmupSteps}}
	case spec.ScheduleStep:
		lr = kerasObject{Module: "keras.optimizers.schedules", ClassName: "PiecewiseConstantDecay", Config: map[string]any{
			"boundaries": sch.Boundaries, "values": sch.Values, "name": "PiecewiseConstant"}}
	}
	var weightDecay any
	if cfg.WeightDecay > 0 {
		weightDecay = cfg.WeightDecay
	}
	config := map[string]any{
		"name": kerasOptimizerName(cfg.Optimizer), "learning_rate": lr, "weight_decay": weightDecay,
		"clipnorm": nil, "global_clipnorm": nil, "clipvalue": nil, "use_ema": false, "ema_momentum": 0.99,
		"ema_overwrite_frequency": nil, "loss_scale_factor": nil, "gradient_accumulation_steps": nil,
	}
	class := map[string]string{"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop", "adamw": "AdamW",
		"adagrad": "Adagrad", "nadam": "Nadam"}[cfg.Optimizer]
	switch cfg.Optimizer {
	case "adam", "adamw":
		config["beta_1"], config["beta_2"], config["epsilon"], config["amsgrad"] = adamBeta1, adamBeta2, adamEpsilon, false
	case "sgd":
		config["momentum"], config["nesterov"] = cfg.Momentum, cfg.Nesterov
	case "rmsprop":
		config["rho"], config["momentum"], config["epsilon"], config["centered"] = rmspropRho, cfg.Momentum, rmspropEpsilon, false
	case "adagrad":
		config["initial_accumulator_value"], config["epsilon"] = adagradInitial, adagradEpsilon
	case "nadam":
		config["beta_1"], config["beta_2"], config["epsilon"] = adamBeta1, adamBeta2, adamEpsilon
	}
	return kerasObject{Module: "keras.optimizers", ClassName: class, Config: config}
}
