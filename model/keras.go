package model

import (
	"encoding/json"
	"fmt"

	"github.com/tfsweep/tfsweep/model/catalog"
)

// kerasObject is Keras 3's serialized-object envelope.
type kerasObject struct {
	Module         string         `json:"module"`
	ClassName      string         `json:"class_name"`
	Config         map[string]any `json:"config"`
	RegisteredName *string        `json:"registered_name"`
	BuildConfig    map[string]any `json:"build_config,omitempty"`
}

// KerasJSON returns what Keras 3's model.to_json() gives for the equivalent Sequential model:
// an InputLayer, then per hidden layer Dense(tanh), or Dense → BatchNormalization →
// Activation(tanh) with batch norm, then Dense(softmax). TensorBoard draws its "keras" conceptual
// graph from this JSON.
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
		init, err := catalog.LookupInit(cfg.Init)
		if err != nil {
			return nil, err
		}
		kernelInit = initializer(init.KerasClass, map[string]any{"seed": nil})
	}
	denseLayer := func(name string, units int, activation string, fanIn int) kerasObject {
		layer := object("keras.layers", "Dense", map[string]any{
			"name": name, "trainable": true, "dtype": dtype,
			"units": units, "activation": activation, "use_bias": true,
			"kernel_initializer": kernelInit,
			"bias_initializer":   initializer("Zeros", map[string]any{}),
			"kernel_regularizer": nil, "bias_regularizer": nil,
			"kernel_constraint": nil, "bias_constraint": nil,
		})
		layer.BuildConfig = inputShape(fanIn)
		return layer
	}
	layers := []kerasObject{object("keras.layers", "InputLayer", map[string]any{
		"batch_shape": []any{nil, cfg.Inputs}, "dtype": "float32", "sparse": false, "name": "input_layer",
	})}
	fanIn := cfg.Inputs
	for i, width := range cfg.Hidden {
		name := kerasName("dense", i)
		if !cfg.BatchNorm {
			layers = append(layers, denseLayer(name, width, "tanh", fanIn))
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
		})
		bn.BuildConfig = inputShape(width)
		act := object("keras.layers", "Activation", map[string]any{
			"name": kerasName("activation", i), "trainable": true, "dtype": dtype, "activation": "tanh",
		})
		act.BuildConfig = inputShape(width)
		layers = append(layers, denseLayer(name, width, "linear", fanIn), bn, act)
		fanIn = width
	}
	layers = append(layers, denseLayer(kerasName("dense", len(cfg.Hidden)), cfg.Classes, "softmax", fanIn))

	model := object("keras", "Sequential", map[string]any{
		"name": "sequential", "trainable": true, "dtype": dtype,
		"layers": layers, "build_input_shape": []any{nil, cfg.Inputs},
	})
	model.BuildConfig = inputShape(cfg.Inputs)
	b, err := json.Marshal(model)
	if err != nil {
		return nil, fmt.Errorf("marshal keras model config: %w", err)
	}
	return b, nil
}
