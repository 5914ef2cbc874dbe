package trainer

import (
	"math"

	"github.com/tfsweep/tfsweep/spec"
)

// monitor is Keras 3's MonitorCallback (keras/src/callbacks/monitor_callback.py): the quantity a
// callback watches, its direction and the minimum change that counts as an improvement.
type monitor struct {
	name string
	// greater is Keras' monitor_op: ops.greater in max mode, ops.less in min mode.
	greater bool
	// signedDelta is Keras' self.min_delta after _set_monitor_op: |min_delta|, negated in min mode.
	signedDelta float64
}

// newMonitor builds the monitor of options that spec's Validate accepted.
func newMonitor(name, mode string, minDelta float64) monitor {
	name, greater, _ := spec.ResolveMonitor(name, mode)
	mon := monitor{name: name, greater: greater, signedDelta: math.Abs(minDelta)}
	if !mon.greater {
		mon.signedDelta = -mon.signedDelta
	}
	return mon
}

// value is the epoch's monitored quantity.
func (m monitor) value(e EpochEnd) float64 { return e.Monitored(m.name) }

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
