package spec

import (
	"fmt"
	"math"
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

// Schedule is a learning-rate schedule, a Keras 3 LearningRateSchedule evaluated in the graph at the
// optimizer's iteration count (the number of steps taken before the step that uses it). The zero
// value is the constant learning rate. Fields a kind does not use must stay zero.
//
//   - constant: Config.LearningRate, changeable with model's SetLearningRate.
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

// Validate checks the schedule's fields for its (canonical) kind; each error names the field as
// Schedule.Field (keras_argument).
func (s Schedule) Validate() []error {
	switch s.Kind {
	case ScheduleConstant:
		return s.unusedFields()
	case ScheduleExponential:
		return append(s.unusedFields("DecaySteps", "DecayRate", "Staircase"), s.exponentialErrors()...)
	case ScheduleCosine:
		return append(s.unusedFields("DecaySteps", "Alpha", "WarmupTarget", "WarmupSteps"), s.cosineErrors()...)
	case ScheduleStep:
		return append(s.unusedFields("Boundaries", "Values"), s.stepErrors()...)
	}
	return nil
}

// fieldError is one Validate error: the schedule kind, then the field as Schedule.Field (keras_argument).
func (s Schedule) fieldError(field, keras, format string, args ...any) error {
	return fmt.Errorf("schedule %s: Schedule.%s (%s) %s", s.Kind, field, keras, fmt.Sprintf(format, args...))
}

// positiveFinite reports whether v is a usable rate or value: above zero and not infinite.
func positiveFinite(v float64) bool { return v > 0 && !math.IsInf(v, 0) }

// unusedFields returns an error for each set field not in used, in the struct's field order.
func (s Schedule) unusedFields(used ...string) []error {
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
	var errs []error
	for _, f := range fields {
		if f.set && !slices.Contains(used, f.name) {
			errs = append(errs, s.fieldError(f.name, f.keras, "does not apply to this schedule"))
		}
	}
	return errs
}

// exponentialErrors checks the fields ExponentialDecay uses.
func (s Schedule) exponentialErrors() []error {
	var errs []error
	if s.DecaySteps <= 0 {
		errs = append(errs, s.fieldError("DecaySteps", "decay_steps", "must be positive, got %d", s.DecaySteps))
	}
	if !positiveFinite(s.DecayRate) {
		errs = append(errs, s.fieldError("DecayRate", "decay_rate", "must be positive and finite, got %v", s.DecayRate))
	}
	return errs
}

// cosineErrors checks the fields CosineDecay uses, warmup included.
func (s Schedule) cosineErrors() []error {
	var errs []error
	if s.DecaySteps <= 0 {
		errs = append(errs, s.fieldError("DecaySteps", "decay_steps", "must be positive, got %d", s.DecaySteps))
	}
	if !(s.Alpha >= 0 && s.Alpha <= 1) {
		errs = append(errs, s.fieldError("Alpha", "alpha", "must be in [0, 1], got %v", s.Alpha))
	}
	if s.WarmupTarget != 0 && !positiveFinite(s.WarmupTarget) {
		errs = append(errs, s.fieldError("WarmupTarget", "warmup_target", "must be positive and finite, got %v", s.WarmupTarget))
	}
	if s.WarmupSteps < 0 {
		errs = append(errs, s.fieldError("WarmupSteps", "warmup_steps", "must not be negative, got %d", s.WarmupSteps))
	}
	if (s.WarmupTarget != 0) != (s.WarmupSteps != 0) {
		errs = append(errs, s.fieldError("WarmupSteps", "warmup_steps", "and Schedule.WarmupTarget (warmup_target) go together, got %d and %v", s.WarmupSteps, s.WarmupTarget))
	}
	return errs
}

// stepErrors checks PiecewiseConstantDecay's boundaries and values; each list is reported once.
func (s Schedule) stepErrors() []error {
	var errs []error
	if len(s.Boundaries) == 0 {
		errs = append(errs, s.fieldError("Boundaries", "boundaries", "must list at least one step"))
	}
	for i := 1; i < len(s.Boundaries); i++ {
		if s.Boundaries[i] <= s.Boundaries[i-1] {
			errs = append(errs, s.fieldError("Boundaries", "boundaries", "must increase strictly, got %v", s.Boundaries))
			break
		}
	}
	if len(s.Values) != len(s.Boundaries)+1 {
		errs = append(errs, s.fieldError("Values", "values", "must have one more element than Schedule.Boundaries, got %d for %d boundaries", len(s.Values), len(s.Boundaries)))
	}
	for _, v := range s.Values {
		if !positiveFinite(v) {
			errs = append(errs, s.fieldError("Values", "values", "must be positive and finite, got %v", s.Values))
			break
		}
	}
	return errs
}

// CheckMomentum checks the momentum settings against the (canonical) optimizer: momentum, in
// [0, 1], applies to sgd and rmsprop, nesterov to sgd; elsewhere a set value is an error rather than
// silently unused, since the logged hyper-parameters would then claim it.
func CheckMomentum(optimizer string, momentum float64, nesterov bool) []error {
	var errs []error
	if !(momentum >= 0 && momentum <= 1) {
		errs = append(errs, fmt.Errorf("momentum must be in [0, 1], got %v", momentum))
	} else if momentum != 0 && optimizer != "sgd" && optimizer != "rmsprop" {
		errs = append(errs, fmt.Errorf("momentum applies to sgd and rmsprop only, not %s (got %v)", optimizer, momentum))
	}
	if nesterov && optimizer != "sgd" {
		errs = append(errs, fmt.Errorf("nesterov applies to sgd only, not %s", optimizer))
	}
	return errs
}
