package trainer

import (
	"fmt"
	"math"
)

// monitor is Keras 3's MonitorCallback (keras/src/callbacks/monitor_callback.py): the quantity a
// callback watches, its direction and the minimum change that counts as an improvement.
type monitor struct {
	name  string
	value func(EpochEnd) float64
	// greater is Keras' monitor_op: ops.greater in max mode, ops.less in min mode.
	greater bool
	// signedDelta is Keras' self.min_delta after _set_monitor_op: |min_delta|, negated in min mode.
	signedDelta float64
}

// monitored are the quantities Fit's EpochEnd carries, named as Keras' logs name them, with the
// direction mode "auto" gives each: Keras 3 finds "loss" by name and accuracy by its metric's
// _direction ("up").
var monitored = map[string]struct {
	value         func(EpochEnd) float64
	greaterIsBest bool
}{
	"loss":         {func(e EpochEnd) float64 { return e.Loss }, false},
	"accuracy":     {func(e EpochEnd) float64 { return e.Accuracy }, true},
	"val_loss":     {func(e EpochEnd) float64 { return e.ValLoss }, false},
	"val_accuracy": {func(e EpochEnd) float64 { return e.ValAccuracy }, true},
}

// newMonitor resolves a monitor name ("" is Keras' default, val_loss) and a mode ("" is "auto").
// Keras only warns about an unknown mode or a monitor missing from the logs and then falls back to
// auto or skips the epoch; both are configuration mistakes here, so they are errors before training.
func newMonitor(callback, name, mode string, minDelta float64) (monitor, error) {
	if name == "" {
		name = "val_loss"
	}
	m, ok := monitored[name]
	if !ok {
		return monitor{}, fmt.Errorf("%s: unknown monitor %q (want loss, accuracy, val_loss or val_accuracy)", callback, name)
	}
	mon := monitor{name: name, value: m.value}
	switch mode {
	case "", "auto":
		mon.greater = m.greaterIsBest
	case "min":
	case "max":
		mon.greater = true
	default:
		return monitor{}, fmt.Errorf("%s: unknown mode %q (want auto, min or max)", callback, mode)
	}
	if math.IsNaN(minDelta) || math.IsInf(minDelta, 0) {
		return monitor{}, fmt.Errorf("%s: min_delta %v is not finite", callback, minDelta)
	}
	mon.signedDelta = math.Abs(minDelta)
	if !mon.greater {
		mon.signedDelta = -mon.signedDelta
	}
	return mon, nil
}

// improves is Keras' _is_improvement against a reference that exists (Keras' None reference, no
// best yet, always improves; callers handle it). Keras computes current - min_delta in Python's
// float64, but ops.less/ops.greater turn both operands into float32 tensors before comparing, so
// the comparison is float32's: an improvement below float32's resolution is none.
func (m monitor) improves(current, reference float64) bool {
	a, b := float32(current-m.signedDelta), float32(reference)
	if m.greater {
		return a > b
	}
	return a < b
}
