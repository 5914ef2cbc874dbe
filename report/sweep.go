// Package report rebuilds the lab report's tables and figures from a sweep's TensorBoard logs alone:
// it reads every run's hparams session and Keras-style epoch scalars, compares the final losses with
// the numbers the lab report printed (Tables 1–14), and writes report.md, report.csv, report.json
// and PNG loss curves (Figures 1–14) into the sweep directory.
package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/tfsweep/tfsweep/spec"
)

// Sweep is what the logs of one sweep directory say: its runs in name order.
type Sweep struct {
	Dir  string
	Runs []Run
}

// Run is one session: a directory with train/ and validation/ sub-runs.
type Run struct {
	// Name is the run's directory relative to the sweep directory, with forward slashes.
	Name string
	// HParams are the values of the run's hparams session_start_info: float64, string or bool. It is
	// nil when the run has none; nothing else (such as the directory name) stands in for it.
	HParams map[string]any
	// Status is the session's status text, else what its hparams session_end_info says;
	// StatusUnknown without either.
	Status spec.Status
	Reason string // why a scheduler pruned or paused the run, from its reason text
	Curves Curves
}

// Curves are a run's Keras epoch scalars: epoch_loss and epoch_accuracy of train/ and validation/,
// as the logs hold them. Their steps are the log's (Keras' and tfsweep's epochs, but any Keras
// script's log is read), which is why they are series of points, not a spec.History.
type Curves struct {
	TrainLoss     Series `json:"train_loss"`
	TrainAccuracy Series `json:"train_accuracy"`
	ValLoss       Series `json:"val_loss"`
	ValAccuracy   Series `json:"val_accuracy"`
}

// Point is one logged value; Step is the 0-based epoch for epoch_* tags, Wall the event's time in
// seconds since the epoch.
type Point struct {
	Step  int64
	Value float64
	Wall  float64
}

// Series is one tag's values in step order, one per step.
type Series []Point

// NewSeries orders points by step; when a step was logged twice (a resumed run) the later one wins,
// as in TensorBoard.
func NewSeries(points []Point) Series {
	s := slices.Clone(points)
	slices.SortStableFunc(s, func(a, b Point) int { return cmp.Compare(a.Step, b.Step) })
	out := s[:0]
	for _, p := range s {
		if n := len(out); n > 0 && out[n-1].Step == p.Step {
			out[n-1] = p
			continue
		}
		out = append(out, p)
	}
	return out
}

// Last is the value at the highest step.
func (s Series) Last() (float64, bool) {
	if len(s) == 0 {
		return math.NaN(), false
	}
	return s[len(s)-1].Value, true
}

// Final returns the run's last epoch_loss and epoch_accuracy of train/ and validation/, each NaN
// where the run logged none; Epoch is the last epoch with a train loss.
func (r Run) Final() spec.EpochMetrics {
	f := spec.EpochMetrics{Epoch: r.Epochs() - 1}
	f.Loss, _ = r.Curves.TrainLoss.Last()
	f.Accuracy, _ = r.Curves.TrainAccuracy.Last()
	f.ValLoss, _ = r.Curves.ValLoss.Last()
	f.ValAccuracy, _ = r.Curves.ValAccuracy.Last()
	return f
}

// meanLast is the mean of the last value of each run's series, over the runs that logged it and
// ran to their end, and how many those were. A run that failed or that a scheduler pruned or
// paused has fewer epochs than the others, so its last value would pull the mean towards an
// earlier epoch; a report names those runs beside the mean instead.
func meanLast(runs []Run, series func(Run) Series) (float64, int) {
	sum, n := 0.0, 0
	for _, r := range runs {
		if r.Status.Failed() || r.Status.Stopped() {
			continue
		}
		if v, ok := series(r).Last(); ok {
			sum += v
			n++
		}
	}
	if n == 0 {
		return math.NaN(), 0
	}
	return sum / float64(n), n
}

// Epochs is the number of epochs with a train loss logged.
func (r Run) Epochs() int { return len(r.Curves.TrainLoss) }

// Loss returns the run's epoch_loss curve of a split.
func (r Run) Loss(split Split) Series {
	if split == Train {
		return r.Curves.TrainLoss
	}
	return r.Curves.ValLoss
}

// Variant reads the lab report's three axes from the run's hparams, through the axes table (so
// Keras spellings such as glorot_normal read as xavier); ok is false when one is missing or cannot
// be read.
func (r Run) Variant() (v Variant, ok bool) {
	init, ok1 := r.axis("init")
	bn, ok2 := r.axis("batchnorm")
	bs, ok3 := r.axis("batch_size")
	if !ok1 || !ok2 || !ok3 {
		return Variant{}, false
	}
	return Variant{Init: init.(string), BatchNorm: bn.(bool), BatchSize: bs.(int)}, true
}

// axis reads one axis of the run from its hparams.
func (r Run) axis(key string) (any, bool) {
	a, ok := spec.AxisByKey(key)
	h, logged := r.HParams[key]
	if !ok || !logged {
		return nil, false
	}
	v, err := a.FromHParam(h)
	return v, err == nil
}

// LabMismatch says why the run's numbers do not stand beside the lab report's, "" when they do:
// every axis other than the variant's (init, batch norm, batch size) and those the report left
// unsaid (seed, pixel scaling) must hold the lab report's value, which is the axis' default (5
// epochs, full data, lr 0.001, the 128x64 network, and every later axis' default). An axis the run
// did not log counts as its default.
func (r Run) LabMismatch() string {
	if _, ok := r.Variant(); !ok {
		return "not a lab-report variant"
	}
	var diffs []string
	for _, a := range spec.Axes() {
		if a.LabFree {
			continue
		}
		h, logged := r.HParams[a.Key]
		if !logged {
			// Logs written before the axis existed trained with its default, which is also what a
			// Keras script that does not log the setting most likely used.
			continue
		}
		v, err := a.FromHParam(h)
		if err != nil || !sameAsDefault(a, v) {
			diffs = append(diffs, a.Key+"="+formatHParam(h))
		}
	}
	if len(diffs) > 3 {
		diffs = append(diffs[:3], fmt.Sprintf("%d more", len(diffs)-3))
	}
	return strings.Join(diffs, ", ")
}

func sameAsDefault(a spec.Axis, v any) bool {
	d := spec.Defaults()
	w := d
	a.Set(&w, v)
	return a.Equal(w, d)
}

// ConfigKey is the run's whole configuration but its seed: runs with equal keys differ only by
// their seed, so their numbers may be averaged. Runs without hparams have their name as their key.
func (r Run) ConfigKey() string {
	if r.HParams == nil {
		return "run=" + r.Name
	}
	keys := make([]string, 0, len(r.HParams))
	for k := range r.HParams {
		if k != "seed" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + formatHParam(r.HParams[k])
	}
	return strings.Join(parts, ", ")
}

// matches returns the runs of a lab-report variant whose numbers compare with the report's.
func (s *Sweep) matches(v Variant) []Run {
	var out []Run
	for _, r := range s.Runs {
		if rv, ok := r.Variant(); ok && rv == v && r.LabMismatch() == "" {
			out = append(out, r)
		}
	}
	return out
}

// HParamKeys returns every hparam name any run has, sorted.
func (s *Sweep) HParamKeys() []string {
	var keys []string
	for _, r := range s.Runs {
		for k := range r.HParams {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	slices.Sort(keys)
	return keys
}

// commonHParams splits the hparams into those all runs share (with the shared value) and those that
// vary or that some run lacks.
func (s *Sweep) commonHParams() (common map[string]any, varying []string) {
	common = map[string]any{}
	for _, k := range s.HParamKeys() {
		first, same := any(nil), true
		for i, r := range s.Runs {
			v, ok := r.HParams[k]
			if !ok || (i > 0 && v != first) {
				same = false
				break
			}
			first = v
		}
		if same {
			common[k] = first
		} else {
			varying = append(varying, k)
		}
	}
	return common, varying
}

// formatHParam prints a hparam value the way a user would type it.
func formatHParam(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case string:
		return x
	default:
		return "?"
	}
}
