package model

import (
	"fmt"
	"math"

	"github.com/tfsweep/tfsweep/spec"
)

// This file holds the pure-Go names and validation of activations, optimizers and learning-rate
// schedules, so that a front end can check a configuration without TensorFlow.

// Defaults of Config's string fields.
const (
	DefaultActivation = "tanh"
	DefaultOptimizer  = "adam"
)

// Keras 3 constants of the activations and optimizers.
const (
	leakyReluSlope         = 0.2 // keras.activations.leaky_relu negative_slope
	rmspropRho             = 0.9
	rmspropEpsilon         = 1e-7
	adagradInitial         = 0.1 // initial_accumulator_value
	adagradEpsilon         = 1e-7
	adamwWeightDecay       = 0.004
	nadamDecay             = 0.96 // Nadam's momentum-cache decay, u_t = β1·(1 − ½·0.96^t)
	sgdDefaultLearningRate = 0.01
	kerasDefaultLR         = 0.001
)

// KerasDefaultLearningRate is the learning_rate default of the Keras 3 optimizer (canonical name):
// 0.01 for sgd, 0.001 for the others. A zero Config.LearningRate stands for it.
func KerasDefaultLearningRate(optimizer string) float64 {
	if optimizer == "sgd" {
		return sgdDefaultLearningRate
	}
	return kerasDefaultLR
}

// kerasOptimizerName is the name Keras 3 gives an optimizer instance, the prefix of its variables'
// paths (adam/iteration, rm_sprop/learning_rate, adam_w/dense_kernel_momentum, ...).
func kerasOptimizerName(optimizer string) string {
	switch optimizer {
	case "rmsprop":
		return "rm_sprop"
	case "adamw":
		return "adam_w"
	}
	return optimizer
}

// validateOptimizer canonicalises the optimizer, fills the learning rate and AdamW's weight decay
// defaults, and checks the optimizer's parameters.
func (c *Config) validateOptimizer() []error {
	var errs []error
	if c.Optimizer == "" {
		c.Optimizer = DefaultOptimizer
	}
	canonical, err := spec.ParseOptimizer(c.Optimizer)
	if err != nil {
		return []error{fmt.Errorf("optimizer: %w", err)}
	}
	c.Optimizer = canonical
	if c.LearningRate == 0 {
		c.LearningRate = KerasDefaultLearningRate(c.Optimizer)
	}
	if !(c.LearningRate > 0) || math.IsInf(c.LearningRate, 0) {
		errs = append(errs, fmt.Errorf("learning rate must be positive and finite, got %v", c.LearningRate))
	}
	errs = append(errs, spec.CheckMomentum(c.Optimizer, c.Momentum, c.Nesterov)...)
	if c.WeightDecay == 0 && c.Optimizer == "adamw" {
		c.WeightDecay = adamwWeightDecay
	}
	if !(c.WeightDecay >= 0) || math.IsInf(c.WeightDecay, 0) {
		errs = append(errs, fmt.Errorf("weight decay must be non-negative and finite, got %v", c.WeightDecay))
	}
	return errs
}

// Validate checks cfg as New does, without TensorFlow, and returns it with its defaults filled in
// and its names canonical.
func (c Config) Validate() (Config, error) { return c.validate() }
