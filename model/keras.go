package model

import (
	"encoding/json"
	"fmt"
	"math"

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

// KerasJSON returns what Keras 3's model.to_json() gives for the equivalent compiled Sequential
// model: an InputLayer, then per hidden layer Dense(activation), or Dense → BatchNormalization →
// Activation with batch norm, each followed by Dropout with Config.Dropout, then Dense(softmax);
// kernels carry L2 regularizers with Config.L2, and compile_config holds the optimizer (with its
// learning-rate schedule), the loss and the accuracy metric. TensorBoard draws its "keras"
// conceptual graph from this JSON. The keys are those Keras 3.15 writes.
func (m *Model) KerasJSON() ([]byte, error) {
	cfg := m.cfg
	dtype := kerasObject{Module: "keras", ClassName: "DTypePolicy", Config: map[string]any{"name": "float32"}}
	object := func(module, class string, config map[string]any) kerasObject {
		return kerasObject{Module: module, ClassName: class, Config: config}
	}
	initializer := func(class string, config map[string]any) kerasObject {
		return object("keras.initializers", class, config)
	}
	inputShape := func(features int) map[string]any {
		return map[string]any{"input_shape": []any{nil, features}}
	}
	var kernelInit kerasObject
	if cfg.Init == "uniform" {
		kernelInit = initializer("RandomUniform", map[string]any{"minval": -0.05, "maxval": 0.05, "seed": nil})
	} else {
		init, err := spec.LookupInit(cfg.Init)
		if err != nil {
			return nil, err
		}
		kernelInit = initializer(init.KerasClass, map[string]any{"seed": nil, "input_axes": nil, "output_axes": nil})
	}
	var kernelReg any
	if cfg.L2 > 0 {
		kernelReg = object("keras.regularizers", "L2", map[string]any{"l2": cfg.L2})
	}
	denseLayer := func(name string, units int, activation string, fanIn int) kerasObject {
		layer := object("keras.layers", "Dense", map[string]any{
			"name": name, "trainable": true, "dtype": dtype,
			"units": units, "activation": activation, "use_bias": true,
			"kernel_initializer": kernelInit,
			"bias_initializer":   initializer("Zeros", map[string]any{}),
			"kernel_regularizer": kernelReg, "bias_regularizer": nil,
			"kernel_constraint": nil, "bias_constraint": nil, "quantization_config": nil,
		})
		layer.BuildConfig = inputShape(fanIn)
		return layer
	}
	layers := []kerasObject{object("keras.layers", "InputLayer", map[string]any{
		"batch_shape": []any{nil, cfg.Inputs}, "dtype": "float32", "sparse": false, "ragged": false,
		"name": "input_layer", "optional": false,
	})}
	dropout := func(i int) kerasObject {
		return object("keras.layers", "Dropout", map[string]any{
			"name": kerasName("dropout", i), "trainable": true, "dtype": dtype,
			"rate": cfg.Dropout, "seed": nil, "noise_shape": nil,
		})
	}
	fanIn := cfg.Inputs
	for i, width := range cfg.Hidden {
		name := kerasName("dense", i)
		if !cfg.BatchNorm {
			layers = append(layers, denseLayer(name, width, cfg.Activation, fanIn))
			if cfg.Dropout > 0 {
				layers = append(layers, dropout(i))
			}
			fanIn = width
			continue
		}
		bn := object("keras.layers", "BatchNormalization", map[string]any{
			"name": kerasName("batch_normalization", i), "trainable": true, "dtype": dtype,
			"axis": -1, "momentum": bnMomentum, "epsilon": bnEpsilon, "center": true, "scale": true,
			"beta_initializer":            initializer("Zeros", map[string]any{}),
			"gamma_initializer":           initializer("Ones", map[string]any{}),
			"moving_mean_initializer":     initializer("Zeros", map[string]any{}),
			"moving_variance_initializer": initializer("Ones", map[string]any{}),
			"beta_regularizer":            nil, "gamma_regularizer": nil,
			"beta_constraint": nil, "gamma_constraint": nil, "synchronized": false,
			"renorm": false, "renorm_clipping": nil, "renorm_momentum": bnMomentum,
		})
		bn.BuildConfig = inputShape(width)
		act := object("keras.layers", "Activation", map[string]any{
			"name": kerasName("activation", i), "trainable": true, "dtype": dtype, "activation": cfg.Activation,
		})
		layers = append(layers, denseLayer(name, width, "linear", fanIn), bn, act)
		if cfg.Dropout > 0 {
			layers = append(layers, dropout(i))
		}
		fanIn = width
	}
	layers = append(layers, denseLayer(kerasName("dense", len(cfg.Hidden)), cfg.Classes, "softmax", fanIn))

	model := object("keras", "Sequential", map[string]any{
		"name": "sequential", "trainable": true, "dtype": dtype,
		"layers": layers, "build_input_shape": []any{nil, cfg.Inputs},
	})
	model.BuildConfig = inputShape(cfg.Inputs)
	doc := struct {
		kerasObject
		CompileConfig map[string]any `json:"compile_config"`
	}{model, map[string]any{
		"optimizer": kerasOptimizer(cfg), "loss": "sparse_categorical_crossentropy", "loss_weights": nil,
		"metrics": []any{"accuracy"}, "weighted_metrics": nil, "run_eagerly": false, "steps_per_execution": 1,
		"jit_compile": false,
	}}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("marshal keras model config: %w", err)
	}
	return b, nil
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
