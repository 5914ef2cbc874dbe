package spec

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// axes declares every sweep axis once, in the order grids expand (the first varies slowest) and run
// names list them: flags, YAML, run names, --dry-run, the HParams experiment and sessions, the
// config text, the report, --json and the worker protocol read it, and the worker copies the axes
// with a model field into the model it builds. An axis for a setting the model already has is one
// entry here and its field in Variant. It is checked once, when the program starts
// (mustCheckAxes), and reached through Axes, which hands out copies.
var axes = mustCheckAxes([]Axis{
	newAxis(axisSpec[Model]{
		key: "model", flag: "model", def: Model{Name: BuiltInModel},
		usage: "networks: mlp (the lab report's, widths from --hidden) or model files in Keras' terms (YAML, " +
			"a tfsweep model file or Keras' model.to_json(), or a .keras archive)",
		field:  func(v *Variant) *Model { return &v.Model },
		parse:  parseModel,
		text:   modelText,
		name:   func(m Model) string { return nameSafe(m.Name) },
		hparam: func(m Model) any { return m.Name },
		json:   func(m Model) any { return m.Name },
		equal:  func(a, b Model) bool { return a.Name == b.Name }, // a plan gives each name one file

	}),
	newAxis(axisSpec[string]{
		key: "init", flag: "init", def: "xavier", alwaysInName: true, labFree: true,
		usage: "weight initialisers: " + strings.Join(InitNames(), ", ") + " (Keras spellings accepted)",
		field: func(v *Variant) *string { return &v.Init },
		parse: ParseInit,
		text:  func(s string) string { return s },
		name:  func(s string) string { return s },
	}),
	newAxis(axisSpec[bool]{
		key: "batchnorm", flag: "batchnorm", def: false, alwaysInName: true, labFree: true,
		usage: "batch normalisation after every hidden layer: off, on",
		field: func(v *Variant) *bool { return &v.BatchNorm },
		parse: parseSwitch,
		text:  onOff,
		name: func(b bool) string {
			if b {
				return "bn"
			}
			return "nobn"
		},
		hparam: func(b bool) any { return b },
	}),
	newAxis(axisSpec[int]{
		key: "batch_size", flag: "batch-size", def: 128, alwaysInName: true, labFree: true,
		usage: "examples per optimizer step",
		field: func(v *Variant) *int { return &v.BatchSize },
		parse: intIn(1, 1<<20),
		name:  func(n int) string { return "b" + strconv.Itoa(n) },
	}),
	newAxis(axisSpec[float64]{
		key: "lr", flag: "lr", def: 0.001,
		model: "LearningRate",
		usage: "learning rates",
		field: func(v *Variant) *float64 { return &v.LR },
		parse: positiveFloat,
		text:  formatFloat,
		name:  func(f float64) string { return "lr" + formatFloat(f) },
	}),
	newAxis(axisSpec[[]int]{
		key: "hidden", flag: "hidden", def: []int{128, 64},
		usage:    "hidden layer widths, e.g. 128,64 or 128x64; several architectures separated by ; or, in the x form, by commas",
		field:    func(v *Variant) *[]int { return &v.Hidden },
		parse:    parseLayers,
		text:     formatLayers,
		name:     func(h []int) string { return "h" + formatLayers(h) },
		equal:    slices.Equal[[]int],
		flagList: parseHiddenList,
		yamlList: true,
	}),
	newAxis(axisSpec[int64]{
		key: "seed", flag: "seed", def: 1, labFree: true,
		model: "Seed",
		usage: "seeds of initialisation, shuffling and dropout (fixed, so runs are reproducible)",
		field: func(v *Variant) *int64 { return &v.Seed },
		parse: parseInt64,
		name:  func(n int64) string { return "s" + strconv.FormatInt(n, 10) },
	}),
	newAxis(axisSpec[int]{
		key: "epochs", flag: "epochs", def: 5,
		usage: "passes over the training set",
		field: func(v *Variant) *int { return &v.Epochs },
		parse: intIn(1, 1_000_000),
		name:  func(n int) string { return "e" + strconv.Itoa(n) },
	}),
	newAxis(axisSpec[Scaling]{
		key: "scale", flag: "scale", def: ScaleUnit, labFree: true,
		usage:  "input scaling: unit (divide by 255), none (raw 0-255, as the lab report most likely trained) or standardize (per channel (x-mean)/std of the training split, as an adapted keras.layers.Normalization)",
		field:  func(v *Variant) *Scaling { return &v.Scale },
		parse:  ParseScaling,
		text:   Scaling.String,
		name:   Scaling.String,
		hparam: func(s Scaling) any { return s.String() },
		json:   func(s Scaling) any { return s.String() },
	}),
	newAxis(axisSpec[int]{
		key: "limit", flag: "limit", def: 0,
		usage: "train on the first N training images only (0 = all); validation always uses the whole test set",
		field: func(v *Variant) *int { return &v.Limit },
		parse: intIn(0, math.MaxInt32),
		name:  func(n int) string { return "limit" + strconv.Itoa(n) },
	}),
	newAxis(axisSpec[string]{
		key: "activation", flag: "activation", def: "tanh",
		usage: "hidden-layer activations: " + strings.Join(ActivationNames(), ", ") + " (Keras spellings accepted)",
		field: func(v *Variant) *string { return &v.Activation },
		parse: ParseActivation,
		name:  func(s string) string { return s },
	}),
	newAxis(axisSpec[string]{
		key: "optimizer", flag: "optimizer", def: "adam",
		model: "Optimizer",
		usage: "optimizers, with Keras 3's defaults: " + strings.Join(OptimizerNames(), ", "),
		field: func(v *Variant) *string { return &v.Optimizer },
		parse: ParseOptimizer,
		name:  func(s string) string { return s },
	}),
	newAxis(axisSpec[float64]{
		key: "momentum", flag: "momentum", def: 0,
		model: "Momentum",
		usage: "momentum of sgd and rmsprop, in [0, 1]",
		field: func(v *Variant) *float64 { return &v.Momentum },
		parse: floatIn(0, 1, true),
		text:  formatFloat,
		name:  func(f float64) string { return "m" + formatFloat(f) },
	}),
	newAxis(axisSpec[bool]{
		key: "nesterov", flag: "nesterov", def: false,
		model: "Nesterov",
		usage: "Nesterov momentum for sgd: off, on",
		field: func(v *Variant) *bool { return &v.Nesterov },
		parse: parseSwitch,
		text:  onOff,
		name: func(b bool) string {
			if b {
				return "nesterov"
			}
			return "nonesterov"
		},
		hparam: func(b bool) any { return b },
	}),
	newAxis(axisSpec[float64]{
		key: "dropout", flag: "dropout", def: 0,
		usage: "dropout rate after each hidden activation, in [0, 1)",
		field: func(v *Variant) *float64 { return &v.Dropout },
		parse: floatIn(0, 1, false),
		text:  formatFloat,
		name:  func(f float64) string { return "d" + formatFloat(f) },
	}),
	newAxis(axisSpec[float64]{
		key: "l2", flag: "l2", def: 0,
		usage: "L2 weight decay on kernels (Keras kernel_regularizer=L2(x); the logged loss includes it)",
		field: func(v *Variant) *float64 { return &v.L2 },
		parse: floatIn(0, math.Inf(1), false),
		text:  formatFloat,
		name:  func(f float64) string { return "l2_" + formatFloat(f) },
	}),
	newAxis(axisSpec[Schedule]{
		key: "schedule", flag: "schedule", def: Schedule{Kind: ScheduleConstant},
		model: "Schedule",
		usage: "learning-rate schedules: constant, exponential:decay_steps=N:decay_rate=R[:staircase], " +
			"cosine:decay_steps=N[:alpha=A][:warmup_steps=N:warmup_target=LR], step:boundaries=N/N:values=LR/LR/LR",
		field: func(v *Variant) *Schedule { return &v.Schedule },
		parse: parseSchedule,
		text:  formatSchedule,
		name:  func(s Schedule) string { return nameSafe(formatSchedule(s)) },
		equal: func(a, b Schedule) bool { return formatSchedule(a) == formatSchedule(b) },
		json:  func(s Schedule) any { return formatSchedule(s) },
	}),
	newAxis(axisSpec[float64]{
		key: "validation_split", flag: "validation-split", def: 0,
		usage: "validate on the last fraction of the training images, taken before shuffling as Keras does (0 = the test set)",
		field: func(v *Variant) *float64 { return &v.ValidationSplit },
		parse: floatIn(0, 1, false),
		text:  formatFloat,
		name:  func(f float64) string { return "vs" + formatFloat(f) },
	}),
	newAxis(axisSpec[EarlyStopping]{
		key: "early_stopping", flag: "early-stopping", def: EarlyStopping{},
		usage: "Keras EarlyStopping: off, on, or patience=N[:min_delta=D][:monitor=val_loss][:mode=auto][:baseline=B][:start_from_epoch=N][:restore_best_weights]",
		field: func(v *Variant) *EarlyStopping { return &v.EarlyStopping },
		parse: parseEarlyStopping,
		text:  formatEarlyStopping,
		name:  func(e EarlyStopping) string { return "es_" + nameSafe(formatEarlyStopping(e)) },
		equal: func(a, b EarlyStopping) bool { return formatEarlyStopping(a) == formatEarlyStopping(b) },
		json:  func(e EarlyStopping) any { return formatEarlyStopping(e) },
	}),
	newAxis(axisSpec[ReduceLR]{
		key: "reduce_lr", flag: "reduce-lr", def: ReduceLR{},
		usage: "Keras ReduceLROnPlateau: off, on (Keras' defaults), or factor=F:patience=N[:min_delta=D][:cooldown=N][:min_lr=LR][:monitor=val_loss][:mode=auto]",
		field: func(v *Variant) *ReduceLR { return &v.ReduceLR },
		parse: parseReduceLR,
		text:  formatReduceLR,
		name:  func(r ReduceLR) string { return "rlr_" + nameSafe(formatReduceLR(r)) },
		equal: func(a, b ReduceLR) bool { return formatReduceLR(a) == formatReduceLR(b) },
		json:  func(r ReduceLR) any { return formatReduceLR(r) },
	}),
})

// Defaults are the values an axis takes when neither a flag nor a sweep file sets it: the lab report's
// network and settings. The seed is fixed so that two invocations with the same flags train identical runs.
func Defaults() Variant {
	var v Variant
	for _, a := range axes {
		a.impl.setDefault(&v)
	}
	v.Hidden = slices.Clone(v.Hidden)
	return v
}

// Axes are the sweep axes in the order grids expand and run names list them. The slice is the
// caller's; the table itself cannot be changed.
func Axes() []Axis { return slices.Clone(axes) }

// AxisByKey finds an axis by its YAML key.
func AxisByKey(key string) (Axis, bool) {
	for _, a := range axes {
		if a.Key == key {
			return a, true
		}
	}
	return Axis{}, false
}

// Axis is one sweep axis: how it is spelt on the command line and in YAML, parsed, checked, named in
// run names, declared to TensorBoard's HParams dashboard and printed.
type Axis struct {
	Key   string // YAML key, hparam name, JSON field and report column, e.g. "batch_size"
	Flag  string // command-line flag without dashes, e.g. "batch-size"
	Usage string // flag help, without the default
	// ModelField names the field of the worker's model.Config that takes the axis' value as it
	// is, so that an axis for a setting the model already has is this table's entry alone; "" for
	// the axes the worker applies itself (the data, the loop, the callbacks, and the network's
	// settings, which it applies to the network as spec.Settings).
	ModelField string
	// AlwaysInName puts the axis in every run name; the others appear only when they vary in a sweep.
	AlwaysInName bool
	// LabFree says the lab report's numbers compare with a run whatever value this axis takes: init,
	// batchnorm and batch size pick the report's variant, and the seed and pixel scaling are what the
	// report left unsaid. Every other axis must hold its default for a run to stand beside the report.
	LabFree bool
	impl    axisImpl
}

// axisImpl is what an axis does with its values, boxed as any so that Axes can list axes of
// different types; axisSpec[T] implements it for each T.
type axisImpl interface {
	get(v Variant) any
	set(v *Variant, value any)
	setDefault(v *Variant)
	parseItem(s string) (any, error)
	parseFlag(s string) ([]any, error)
	listIsOneValue() bool
	textOf(value any) string
	namePart(value any) string
	hparamOf(value any) any
	jsonOf(value any) any
	equalValues(a, b any) bool
	numeric() bool           // whether uniform and log_uniform ranges apply
	fromFloat(x float64) any // a drawn number as the axis' value
}

// Parse reads one value as a flag item or YAML scalar spells it, checking its range.
func (a Axis) Parse(s string) (any, error) { return a.impl.parseItem(strings.TrimSpace(s)) }

// ParseFlag reads a flag's comma-separated list; "" is an unset axis (nil).
func (a Axis) ParseFlag(s string) ([]any, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	values, err := a.impl.parseFlag(s)
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", a.Flag, err)
	}
	return values, nil
}

// Get returns the variant's value of this axis.
func (a Axis) Get(v Variant) any { return a.impl.get(v) }

// Text is the axis value of v as a user types it ("on", "0.001", "128x64"); Parse reads it back.
func (a Axis) Text(v Variant) string { return a.impl.textOf(a.impl.get(v)) }

// DefaultText is the default as a user types it.
func (a Axis) DefaultText() string { return a.Text(Defaults()) }

// HParam is the value v declares to TensorBoard's HParams dashboard: a string, bool or float64.
func (a Axis) HParam(v Variant) any { return a.impl.hparamOf(a.impl.get(v)) }

// JSON is the value in `tfsweep run --json`.
func (a Axis) JSON(v Variant) any { return a.impl.jsonOf(a.impl.get(v)) }

// Equal tells whether two variants agree on this axis.
func (a Axis) Equal(x, y Variant) bool { return a.impl.equalValues(a.impl.get(x), a.impl.get(y)) }

// IsDefault tells whether v holds this axis' default.
func (a Axis) IsDefault(v Variant) bool { return a.Equal(v, Defaults()) }

// Set sets a's value in v, a value as Parse or FromHParam return it.
func (a Axis) Set(v *Variant, value any) { a.impl.set(v, value) }

// NamePart is v's value of this axis as its part of a run name.
func (a Axis) NamePart(v Variant) string { return a.impl.namePart(a.impl.get(v)) }

// ValueText is a value as Parse returns it, written as a user types it.
func (a Axis) ValueText(value any) string { return a.impl.textOf(value) }

// ListIsOneValue says a YAML list may be one value of this axis (hidden: [128, 64]).
func (a Axis) ListIsOneValue() bool { return a.impl.listIsOneValue() }

// Numeric tells whether the axis takes numbers, so that uniform and log_uniform ranges apply.
func (a Axis) Numeric() bool { return a.impl.numeric() }

// FromFloat is a drawn number as the axis' value; the axis must be Numeric.
func (a Axis) FromFloat(x float64) any { return a.impl.fromFloat(x) }

// FromHParam reads the axis back from a logged hparam value (of this or another writer).
func (a Axis) FromHParam(h any) (any, error) {
	switch x := h.(type) {
	case string:
		return a.Parse(x)
	case bool:
		return a.Parse(strconv.FormatBool(x))
	case float64:
		return a.Parse(strconv.FormatFloat(x, 'g', -1, 64))
	}
	return nil, fmt.Errorf("%s: hparam of type %T", a.Key, h)
}

// axisSpec declares an axis of values of type T. Zero func fields take the usual behaviour.
type axisSpec[T any] struct {
	key, flag, usage      string
	model                 string // Axis.ModelField
	def                   T
	alwaysInName, labFree bool
	field                 func(*Variant) *T
	parse                 func(string) (T, error) // one item, range-checked
	text                  func(T) string          // as a user types it; nil: fmt.Sprint
	name                  func(T) string          // the run-name part
	hparam                func(T) any             // nil: numbers as float64, strings as they are
	json                  func(T) any             // nil: the value itself
	equal                 func(a, b T) bool       // nil: ==
	// flagList reads a whole flag value, for axes whose values contain commas (hidden); nil splits
	// on commas. yamlList says a YAML list may be one value (hidden: [128, 64]).
	flagList func(string) ([]T, error)
	yamlList bool
}

func newAxis[T any](s axisSpec[T]) Axis {
	return Axis{Key: s.key, Flag: s.flag, Usage: s.usage, ModelField: s.model, AlwaysInName: s.alwaysInName, LabFree: s.labFree, impl: s}
}

func (s axisSpec[T]) get(v Variant) any         { return *s.field(&v) }
func (s axisSpec[T]) set(v *Variant, value any) { *s.field(v) = value.(T) }
func (s axisSpec[T]) setDefault(v *Variant)     { *s.field(v) = s.def }
func (s axisSpec[T]) listIsOneValue() bool      { return s.yamlList }

func (s axisSpec[T]) parseItem(item string) (any, error) {
	if item == "" {
		return nil, errors.New("empty item")
	}
	return s.parse(item)
}

func (s axisSpec[T]) parseFlag(list string) ([]any, error) {
	if s.flagList != nil {
		values, err := s.flagList(list)
		return boxAll(values), err
	}
	var out []any
	for item := range strings.SplitSeq(list, ",") {
		v, err := s.parseItem(strings.TrimSpace(item))
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (s axisSpec[T]) textOf(value any) string {
	if s.text != nil {
		return s.text(value.(T))
	}
	return fmt.Sprint(value)
}

func (s axisSpec[T]) namePart(value any) string { return s.name(value.(T)) }

func (s axisSpec[T]) hparamOf(value any) any {
	if s.hparam != nil {
		return s.hparam(value.(T))
	}
	switch x := value.(type) {
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case float64, string, bool:
		return x
	}
	return s.textOf(value)
}

func (s axisSpec[T]) jsonOf(value any) any {
	if s.json != nil {
		return s.json(value.(T))
	}
	return value
}

func (s axisSpec[T]) equalValues(a, b any) bool {
	if s.equal != nil {
		return s.equal(a.(T), b.(T))
	}
	return any(a) == any(b)
}

func (s axisSpec[T]) numeric() bool {
	switch any(s.def).(type) {
	case int, int64, float64:
		return true
	}
	return false
}

func (s axisSpec[T]) fromFloat(x float64) any {
	switch any(s.def).(type) {
	case int:
		return int(math.Round(x))
	case int64:
		return int64(math.Round(x))
	case float64:
		return x
	}
	panic("spec: " + s.key + " is not numeric")
}

func boxAll[T any](values []T) []any {
	if values == nil {
		return nil
	}
	out := make([]any, len(values))
	for i, v := range values {
		out[i] = v
	}
	return out
}

// parseSwitch accepts on/off and the usual spellings of true/false.
func parseSwitch(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "on", "true", "yes", "1", "bn":
		return true, nil
	case "off", "false", "no", "0", "nobn":
		return false, nil
	}
	return false, fmt.Errorf("%q is neither on nor off", s)
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// intIn reads an integer in [lo, hi]: the bounds keep sizes that cannot fit from reaching TensorFlow.
func intIn(lo, hi int) func(string) (int, error) {
	return func(s string) (int, error) {
		v, err := strconv.Atoi(s)
		if err != nil {
			return 0, fmt.Errorf("%q is not an integer", s)
		}
		if v < lo || v > hi {
			if lo == 1 && v < lo {
				return 0, fmt.Errorf("%d must be positive", v)
			}
			if lo == 0 && v < lo {
				return 0, fmt.Errorf("%d must not be negative", v)
			}
			return 0, fmt.Errorf("%d is outside [%d, %d]", v, lo, hi)
		}
		return v, nil
	}
}

func parseInt64(s string) (int64, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", s)
	}
	return v, nil
}

// floatIn reads a number in [lo, hi], or [lo, hi) unless closed.
func floatIn(lo, hi float64, closed bool) func(string) (float64, error) {
	return func(s string) (float64, error) {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number", s)
		}
		if !(v >= lo && (v < hi || closed && v == hi)) {
			bracket := ")"
			if closed {
				bracket = "]"
			}
			return 0, fmt.Errorf("%v is outside [%v, %v%s", v, lo, hi, bracket)
		}
		return v, nil
	}
}

func positiveFloat(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if !(v > 0) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%v must be a positive finite number", v)
	}
	return v, nil
}

// formatFloat is the shortest text that parses back to f: 0.001, 1e-05.
func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// maxLayerWidth bounds a hidden layer before any memory estimate: wider layers are refused by
// CheckMemory against the machine anyway, and this keeps the arithmetic far from overflow.
const maxLayerWidth = 1 << 24

// maxLayers bounds the hidden layers of one architecture: every run carries them in its name, so a
// sweep file of a million "1x1x…" layers would otherwise cost its runs' count times a megabyte.
const maxLayers = 64

// parseLayers reads one hidden-layer architecture such as "128x64" or "128,64".
func parseLayers(s string) ([]int, error) {
	if s == "" {
		return nil, errors.New("empty item")
	}
	var layers []int
	for part := range strings.SplitSeq(strings.NewReplacer("X", ",", "x", ",").Replace(s), ",") {
		w, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("%q is not a list of layer widths like 128,64", s)
		}
		if w <= 0 || w > maxLayerWidth {
			return nil, fmt.Errorf("layer width %d must be in [1, %d]", w, maxLayerWidth)
		}
		if len(layers) == maxLayers {
			return nil, fmt.Errorf("more than %d hidden layers", maxLayers)
		}
		layers = append(layers, w)
	}
	return layers, nil
}

// formatLayers joins widths with "x", as in --hidden and run names: "128x64".
func formatLayers(h []int) string {
	parts := make([]string, len(h))
	for i, w := range h {
		parts[i] = strconv.Itoa(w)
	}
	return strings.Join(parts, "x")
}

// parseHiddenList reads the --hidden alternatives: ";" always separates architectures; within a piece
// that uses the x form commas separate architectures too, otherwise they separate layers.
func parseHiddenList(list string) ([][]int, error) {
	var out [][]int
	for piece := range strings.SplitSeq(list, ";") {
		piece = strings.TrimSpace(piece)
		if !strings.ContainsAny(piece, "xX") {
			layers, err := parseLayers(piece)
			if err != nil {
				return nil, err
			}
			out = append(out, layers)
			continue
		}
		for item := range strings.SplitSeq(piece, ",") {
			layers, err := parseLayers(strings.TrimSpace(item))
			if err != nil {
				return nil, err
			}
			out = append(out, layers)
		}
	}
	return out, nil
}
