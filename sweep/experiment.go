package sweep

import (
	"errors"
	"math"
	"path/filepath"
	"time"

	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/summary"
)

// ExperimentMetrics are the metrics the HParams dashboard shows per session: Keras' epoch scalars of
// the session's validation/ and train/ sub-runs (their last epoch's), the same of its best epoch
// (the dashboard shows a metric's last value, and a run a scheduler stopped early would look worse
// than it got), and the epochs it trained, from the session's own run.
var ExperimentMetrics = []summary.MetricInfo{
	{Group: spec.ValidationDir, Tag: spec.TagEpochLoss, Dataset: summary.DatasetValidation},
	{Group: spec.ValidationDir, Tag: spec.TagEpochAccuracy, Dataset: summary.DatasetValidation},
	{Group: spec.TrainDir, Tag: spec.TagEpochLoss, Dataset: summary.DatasetTraining},
	{Group: spec.TrainDir, Tag: spec.TagEpochAccuracy, Dataset: summary.DatasetTraining},
	{Group: spec.ValidationDir, Tag: spec.TagBestEpochLoss, Dataset: summary.DatasetValidation,
		Description: "validation loss of the epoch of the lowest validation loss"},
	{Group: spec.ValidationDir, Tag: spec.TagBestEpochAccuracy, Dataset: summary.DatasetValidation,
		Description: "validation accuracy of the epoch of the lowest validation loss"},
	{Group: spec.TrainDir, Tag: spec.TagBestEpochLoss, Dataset: summary.DatasetTraining,
		Description: "training loss of the epoch of the lowest validation loss"},
	{Group: spec.TrainDir, Tag: spec.TagBestEpochAccuracy, Dataset: summary.DatasetTraining,
		Description: "training accuracy of the epoch of the lowest validation loss"},
	{Tag: spec.TagEpochsTrained, Description: "epochs trained, fewer when a scheduler pruned or paused the run"},
}

// writeExperiment writes the hparams experiment at the sweep root: every axis with the values the
// sweep takes (a discrete domain, in first-seen order, so the dashboard can filter by value), or the
// range an axis is drawn from in a random search (an interval, so parallel coordinates show it as
// one), and the metrics. The axes that vary come first and say so (TensorBoard lists those first and
// shows only the first few by default); the constant ones follow.
func writeExperiment(dir string, plan Plan, runs []Run, created time.Time) error {
	exp := summary.Experiment{Name: filepath.Base(dir), TimeCreated: created, Metrics: ExperimentMetrics}
	var constant []summary.HParamInfo
	for _, a := range spec.Axes() {
		h := plan.hparamInfo(a, runs)
		if h.Differs {
			exp.HParams = append(exp.HParams, h)
		} else {
			constant = append(constant, h)
		}
	}
	exp.HParams = append(exp.HParams, constant...)
	w, err := summary.NewWriter(dir)
	if err != nil {
		return err
	}
	return errors.Join(w.HParamsExperiment(exp), w.Close())
}

// hparamInfo declares an axis: an interval when some grid draws it, else the values the runs take.
func (p Plan) hparamInfo(a spec.Axis, runs []Run) summary.HParamInfo {
	if lo, hi, ok := p.interval(a, runs); ok {
		return summary.HParamInfo{Name: a.Key, Type: summary.DataTypeFloat64, Interval: &summary.Interval{Min: lo, Max: hi}, Differs: lo < hi}
	}
	var values []any
	seen := map[any]bool{}
	for _, r := range runs {
		v := a.HParam(r.Variant)
		if !seen[v] {
			seen[v] = true
			values = append(values, v)
		}
	}
	return summary.HParamInfo{Name: a.Key, Discrete: values, Differs: len(values) > 1}
}

// interval is the range of a numeric axis that some grid draws from a uniform or log-uniform
// distribution, widened to the values other runs take; ok is false otherwise.
func (p Plan) interval(a spec.Axis, runs []Run) (lo, hi float64, ok bool) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, g := range p.Grids {
		if d := g.Distribution(a.Key); d != nil {
			if dlo, dhi, isRange := d.interval(); isRange {
				lo, hi, ok = math.Min(lo, dlo), math.Max(hi, dhi), true
			}
		}
	}
	if !ok {
		return 0, 0, false
	}
	for _, r := range runs {
		if x, isNumber := a.HParam(r.Variant).(float64); isNumber {
			lo, hi = math.Min(lo, x), math.Max(hi, x)
		}
	}
	return lo, hi, true
}
