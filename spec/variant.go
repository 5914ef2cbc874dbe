package spec

import (
	"errors"
	"fmt"
	"strings"
)

// Variant is the full setting of one training run, one field per axis of Axes. Every value is parsed
// and checked; a run's name, hparams, config text and JSON are all derived from it through Axes.
type Variant struct {
	Init      string  // canonical initialiser name (InitNames)
	BatchNorm bool    // batch normalisation after every hidden layer
	BatchSize int     // examples per optimizer step; the last partial batch of an epoch is kept
	LR        float64 // learning rate
	Hidden    []int   // hidden layer widths
	Seed      int64   // weight initialisation and per-epoch shuffling
	Epochs    int     // passes over the training set
	Scale     Scaling
	Limit     int // train on the first Limit training images; 0 = all

	Activation string   // hidden layers' activation (ActivationNames)
	Optimizer  string   // OptimizerNames, with Keras 3's defaults
	Momentum   float64  // sgd and rmsprop
	Nesterov   bool     // sgd
	Dropout    float64  // rate of a Dropout after each hidden activation
	L2         float64  // Keras kernel_regularizer=L2(x) on every kernel
	Schedule   Schedule // learning-rate schedule; the zero value is constant
	// ValidationSplit validates on the last fraction of the training images (after Limit), taken
	// before shuffling as Keras' validation_split; 0 validates on the test set.
	ValidationSplit float64
	EarlyStopping   EarlyStopping // Keras' EarlyStopping callback; off by default
	ReduceLR        ReduceLR      // Keras' ReduceLROnPlateau callback; off by default
	Model           Model         // the network: the built-in MLP or a model file's
}

// HParams are a variant's hyper-parameters under the names the sweep's experiment declares.
func (v Variant) HParams() map[string]any {
	hp := make(map[string]any, len(axes))
	for _, a := range axes {
		hp[a.Key] = a.HParam(v)
	}
	return hp
}

// ConfigRows are the variant's settings as (key, text) rows, in the order of Axes, for a run's
// config text and a dry run's table.
func (v Variant) ConfigRows() [][2]string {
	rows := make([][2]string, len(axes))
	for i, a := range axes {
		rows[i] = [2]string{a.Key, a.Text(v)}
	}
	return rows
}

// ConfigMarkdown is a run's configuration as the Markdown table its `config` text summary shows:
// the run's name, every axis, then extra rows (the worker's: device, threads, TensorFlow).
func ConfigMarkdown(name string, v Variant, extra ...[2]string) string {
	var b strings.Builder
	b.WriteString("| setting | value |\n|---|---|\n")
	rows := append([][2]string{{"run", name}}, v.ConfigRows()...)
	for _, r := range append(rows, extra...) {
		fmt.Fprintf(&b, "| %s | %s |\n", r[0], r[1])
	}
	return b.String()
}

// Check validates what one axis alone cannot: settings that must go together.
func (v Variant) Check() error {
	errs := CheckMomentum(v.Optimizer, v.Momentum, v.Nesterov)
	// Keras' ReduceLROnPlateau cannot set the rate of a schedule: it would fail at its first reduction.
	if v.ReduceLR.Options != nil && v.Schedule.Kind != ScheduleConstant && v.Schedule.Kind != "" {
		errs = append(errs, fmt.Errorf("reduce_lr needs the constant schedule, not %s", v.Schedule.Kind))
	}
	return errors.Join(errs...)
}

// Examples splits the data's n training images as the run uses them: the first Limit (all when 0),
// of which the last ValidationSplit fraction validates when set, as Keras' validation_split takes
// int(n·(1−split)) for training. val is 0 when the test set validates.
func (v Variant) Examples(n int) (train, val int) {
	if v.Limit > 0 && v.Limit < n {
		n = v.Limit
	}
	if v.ValidationSplit == 0 {
		return n, 0
	}
	train = int(float64(n) * (1 - v.ValidationSplit))
	return train, n - train
}

// TrainExamples is the number of images the run trains on, of the data's n.
func (v Variant) TrainExamples(n int) int {
	train, _ := v.Examples(n)
	return train
}

// mustCheckAxes checks the table once, when the program starts: a key, flag or default run-name
// part that two axes share would make flags, YAML, hparams or run names ambiguous, so such a table
// is a programming error.
func mustCheckAxes(table []Axis) []Axis {
	if err := checkAxes(table); err != nil {
		panic("spec: " + err.Error())
	}
	return table
}

func checkAxes(table []Axis) error {
	keys, flags, names := map[string]bool{}, map[string]bool{}, map[string]bool{}
	var v Variant
	for _, a := range table {
		a.impl.setDefault(&v)
	}
	for _, a := range table {
		name := a.impl.namePart(a.impl.get(v))
		switch {
		case a.Key == "" || a.Flag == "":
			return fmt.Errorf("an axis without a key or flag: %q, %q", a.Key, a.Flag)
		case keys[a.Key]:
			return fmt.Errorf("two axes with the key %q", a.Key)
		case flags[a.Flag]:
			return fmt.Errorf("two axes with the flag --%s", a.Flag)
		case name == "" || name != nameSafe(name):
			return fmt.Errorf("axis %s: default run-name part %q is not name-safe", a.Key, name)
		case names[name]:
			return fmt.Errorf("axis %s: default run-name part %q is another axis' too", a.Key, name)
		}
		keys[a.Key], flags[a.Flag], names[name] = true, true, true
	}
	return nil
}
