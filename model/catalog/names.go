package catalog

import (
	"fmt"
	"slices"
	"strings"
)

// named is a canonical name with the spellings accepted besides it (compared after lower-casing and
// trimming).
type named struct {
	name    string
	aliases []string
}

func lookupName(kind, name string, table []named) (string, error) {
	key := strings.ToLower(strings.TrimSpace(name))
	for _, n := range table {
		if key == n.name || slices.Contains(n.aliases, key) {
			return n.name, nil
		}
	}
	return "", fmt.Errorf("unknown %s %q (want one of %s)", kind, name, strings.Join(names(table), ", "))
}

func names(table []named) []string {
	out := make([]string, len(table))
	for i, n := range table {
		out[i] = n.name
	}
	return out
}

// activations are the hidden-layer activations, canonical names as Keras 3 serialises them.
var activations = []named{
	{"tanh", nil},
	{"relu", nil},
	{"sigmoid", nil},
	{"elu", nil},
	{"selu", nil},
	{"gelu", nil}, // exact (erf) form, Keras' approximate=False
	{"silu", []string{"swish"}},
	{"softplus", nil},
	{"leaky_relu", []string{"leakyrelu"}}, // negative_slope 0.2
}

// ParseActivation validates a hidden-layer activation and returns its canonical name (one of
// ActivationNames), which is also the name Keras 3 serialises: "swish" and "silu" give "silu",
// "LeakyReLU" and "leaky_relu" give "leaky_relu". Case and surrounding space are ignored. gelu is
// the exact erf form (Keras' default approximate=False); leaky_relu has Keras 3's default
// negative_slope 0.2; elu has alpha 1. It needs no TensorFlow.
func ParseActivation(name string) (string, error) {
	return lookupName("activation", name, activations)
}

// ActivationNames returns the canonical activation names.
func ActivationNames() []string { return names(activations) }

// optimizers are the Keras 3 optimizers the model reproduces.
var optimizers = []named{
	{"adam", nil},
	{"sgd", nil},
	{"rmsprop", []string{"rms_prop"}},
	{"adamw", []string{"adam_w"}},
	{"adagrad", nil},
	{"nadam", nil},
}

// ParseOptimizer validates an optimizer name and returns its canonical spelling (one of
// OptimizerNames); Keras class names ("Adam", "SGD", "RMSprop", "AdamW", "Adagrad", "Nadam") are
// accepted in any case. Every optimizer has Keras 3's default constants: adam and adamw β1 0.9,
// β2 0.999, ε 1e-7 (adamw weight_decay 0.004); sgd momentum 0 unless Config.Momentum; rmsprop ρ 0.9,
// momentum 0 unless Config.Momentum, ε 1e-7, centered false; adagrad initial accumulator 0.1, ε 1e-7;
// nadam β1 0.9, β2 0.999, ε 1e-7. It needs no TensorFlow.
func ParseOptimizer(name string) (string, error) {
	return lookupName("optimizer", name, optimizers)
}

// OptimizerNames returns the canonical optimizer names.
func OptimizerNames() []string { return names(optimizers) }

// Learning-rate schedule kinds, Schedule.Kind's canonical values.
const (
	ScheduleConstant    = "constant"
	ScheduleExponential = "exponential" // keras.optimizers.schedules.ExponentialDecay
	ScheduleCosine      = "cosine"      // keras.optimizers.schedules.CosineDecay
	ScheduleStep        = "step"        // keras.optimizers.schedules.PiecewiseConstantDecay
)

var schedules = []named{
	{ScheduleConstant, []string{"none"}},
	{ScheduleExponential, []string{"exponential_decay", "exponentialdecay"}},
	{ScheduleCosine, []string{"cosine_decay", "cosinedecay"}},
	{ScheduleStep, []string{"piecewise", "piecewise_constant", "piecewise_constant_decay", "piecewiseconstantdecay"}},
}

// ParseSchedule validates a schedule kind and returns its canonical name (one of ScheduleNames);
// Keras class names (ExponentialDecay, CosineDecay, PiecewiseConstantDecay) are accepted in any case.
// It needs no TensorFlow.
func ParseSchedule(name string) (string, error) {
	return lookupName("learning-rate schedule", name, schedules)
}

// ScheduleNames returns the canonical schedule kinds.
func ScheduleNames() []string { return names(schedules) }
