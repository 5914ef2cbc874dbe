package model

import (
	"fmt"
	"math"
	"slices"

	"github.com/tfsweep/tfsweep/model/catalog"
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

// ParseActivation validates a hidden-layer activation and returns its canonical name
// (catalog.ParseActivation). It needs no TensorFlow.
func ParseActivation(name string) (string, error) { return catalog.ParseActivation(name) }

// ActivationNames returns the canonical activation names.
func ActivationNames() []string { return catalog.ActivationNames() }

// ParseOptimizer validates an optimizer name and returns its canonical spelling
// (catalog.ParseOptimizer). It needs no TensorFlow.
func ParseOptimizer(name string) (string, error) { return catalog.ParseOptimizer(name) }

// OptimizerNames returns the canonical optimizer names.
func OptimizerNames() []string { return catalog.OptimizerNames() }

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

// Learning-rate schedule kinds, Schedule.Kind's canonical values (catalog's).
const (
	ScheduleConstant    = catalog.ScheduleConstant
	ScheduleExponential = catalog.ScheduleExponential
	ScheduleCosine      = catalog.ScheduleCosine
	ScheduleStep        = catalog.ScheduleStep
)

// ParseSchedule validates a schedule kind and returns its canonical name (catalog.ParseSchedule).
func ParseSchedule(name string) (string, error) { return catalog.ParseSchedule(name) }

// ScheduleNames returns the canonical schedule kinds.
func ScheduleNames() []string { return catalog.ScheduleNames() }

// Schedule is a learning-rate schedule, a Keras 3 LearningRateSchedule evaluated in the graph at the
// optimizer's iteration count (the number of steps taken before the step that uses it). The zero
// value is the constant Config.LearningRate. Fields a kind does not use must stay zero.
//
//   - constant: Config.LearningRate, changeable with (*Model).SetLearningRate.
//   - exponential: ExponentialDecay(initial_learning_rate=Config.LearningRate, DecaySteps, DecayRate,
//     Staircase): lr·DecayRate^(t/DecaySteps), the exponent floored with Staircase.
//   - cosine: CosineDecay(initial_learning_rate=Config.LearningRate, DecaySteps, Alpha, WarmupTarget,
//     WarmupSteps): without warmup lr·((1−Alpha)·½(1+cos(π·min(t,D)/D))+Alpha); with WarmupTarget > 0 a
//     linear rise from lr to WarmupTarget over WarmupSteps, then the cosine decay from WarmupTarget.
//   - step: PiecewiseConstantDecay(Boundaries, Values): Values[0] while t ≤ Boundaries[0], Values[i]
//     while Boundaries[i-1] < t ≤ Boundaries[i], the last value after; Config.LearningRate is unused.
type Schedule struct {
	Kind         string    // "" or one of ScheduleNames, any spelling ParseSchedule accepts
	DecaySteps   int64     // exponential, cosine: decay_steps, positive
	DecayRate    float64   // exponential: decay_rate, positive
	Staircase    bool      // exponential: staircase
	Alpha        float64   // cosine: alpha, the final fraction of the learning rate, in [0, 1]
	WarmupTarget float64   // cosine: warmup_target; 0 = no warmup
	WarmupSteps  int64     // cosine: warmup_steps, positive exactly when WarmupTarget is set
	Boundaries   []int64   // step: boundaries, strictly increasing, at least one
	Values       []float64 // step: values, len(Boundaries)+1, positive
}

// validate checks the schedule's fields for its (canonical) kind; each error names the field as
// Schedule.Field (keras_argument).
func (s Schedule) validate() []error {
	var errs []error
	bad := func(field, keras, format string, args ...any) {
		errs = append(errs, fmt.Errorf("schedule %s: Schedule.%s (%s) %s", s.Kind, field, keras, fmt.Sprintf(format, args...)))
	}
	positive := func(v float64) bool { return v > 0 && !math.IsInf(v, 0) }
	unused := func(used ...string) {
		fields := []struct {
			name, keras string
			set         bool
		}{
			{"DecaySteps", "decay_steps", s.DecaySteps != 0},
			{"DecayRate", "decay_rate", s.DecayRate != 0},
			{"Staircase", "staircase", s.Staircase},
			{"Alpha", "alpha", s.Alpha != 0},
			{"WarmupTarget", "warmup_target", s.WarmupTarget != 0},
			{"WarmupSteps", "warmup_steps", s.WarmupSteps != 0},
			{"Boundaries", "boundaries", len(s.Boundaries) != 0},
			{"Values", "values", len(s.Values) != 0},
		}
		for _, f := range fields {
			if f.set && !slices.Contains(used, f.name) {
				bad(f.name, f.keras, "does not apply to this schedule")
			}
		}
	}
	switch s.Kind {
	case ScheduleConstant:
		unused()
	case ScheduleExponential:
		unused("DecaySteps", "DecayRate", "Staircase")
		if s.DecaySteps <= 0 {
			bad("DecaySteps", "decay_steps", "must be positive, got %d", s.DecaySteps)
		}
		if !positive(s.DecayRate) {
			bad("DecayRate", "decay_rate", "must be positive and finite, got %v", s.DecayRate)
		}
	case ScheduleCosine:
		unused("DecaySteps", "Alpha", "WarmupTarget", "WarmupSteps")
		if s.DecaySteps <= 0 {
			bad("DecaySteps", "decay_steps", "must be positive, got %d", s.DecaySteps)
		}
		if !(s.Alpha >= 0 && s.Alpha <= 1) {
			bad("Alpha", "alpha", "must be in [0, 1], got %v", s.Alpha)
		}
		if s.WarmupTarget != 0 && !positive(s.WarmupTarget) {
			bad("WarmupTarget", "warmup_target", "must be positive and finite, got %v", s.WarmupTarget)
		}
		if s.WarmupSteps < 0 {
			bad("WarmupSteps", "warmup_steps", "must not be negative, got %d", s.WarmupSteps)
		}
		if (s.WarmupTarget != 0) != (s.WarmupSteps != 0) {
			bad("WarmupSteps", "warmup_steps", "and Schedule.WarmupTarget (warmup_target) go together, got %d and %v", s.WarmupSteps, s.WarmupTarget)
		}
	case ScheduleStep:
		unused("Boundaries", "Values")
		if len(s.Boundaries) == 0 {
			bad("Boundaries", "boundaries", "must list at least one step")
		}
		for i := 1; i < len(s.Boundaries); i++ {
			if s.Boundaries[i] <= s.Boundaries[i-1] {
				bad("Boundaries", "boundaries", "must increase strictly, got %v", s.Boundaries)
				break
			}
		}
		if len(s.Values) != len(s.Boundaries)+1 {
			bad("Values", "values", "must have one more element than Schedule.Boundaries, got %d for %d boundaries", len(s.Values), len(s.Boundaries))
		}
		for _, v := range s.Values {
			if !positive(v) {
				bad("Values", "values", "must be positive and finite, got %v", s.Values)
				break
			}
		}
	}
	return errs
}

// validateOptimizer canonicalises the optimizer, fills the learning rate and AdamW's weight decay
// defaults, and checks the optimizer's parameters.
func (c *Config) validateOptimizer() []error {
	var errs []error
	if c.Optimizer == "" {
		c.Optimizer = DefaultOptimizer
	}
	canonical, err := ParseOptimizer(c.Optimizer)
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
	if !(c.Momentum >= 0 && c.Momentum <= 1) {
		errs = append(errs, fmt.Errorf("momentum must be in [0, 1], got %v", c.Momentum))
	} else if c.Momentum != 0 && c.Optimizer != "sgd" && c.Optimizer != "rmsprop" {
		errs = append(errs, fmt.Errorf("momentum applies to sgd and rmsprop only, not %s (got %v)", c.Optimizer, c.Momentum))
	}
	if c.Nesterov && c.Optimizer != "sgd" {
		errs = append(errs, fmt.Errorf("nesterov applies to sgd only, not %s", c.Optimizer))
	}
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
