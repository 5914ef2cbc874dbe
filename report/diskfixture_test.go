package report

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/summary"
)

// writeSweep writes runs as tfsweep run would: an hparams experiment at the sweep root, and per run
// a session (start, and end unless the status is unknown; a pruned or paused run's status and
// reason texts) in the run directory with Keras-style epoch scalars in train/ and validation/.
func writeSweep(t testing.TB, dir string, runs []Run) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	root, err := summary.NewWriter(dir)
	must(err)
	must(root.HParamsExperiment(summary.Experiment{
		Metrics: []summary.MetricInfo{{Group: "validation", Tag: tagLoss, Dataset: summary.DatasetValidation}},
	}))
	must(root.Close())
	for _, r := range runs {
		runDir := filepath.Join(dir, filepath.FromSlash(r.Name))
		if r.HParams != nil {
			w, err := summary.NewWriter(runDir)
			must(err)
			must(w.HParamsSessionStart(summary.SessionStart{HParams: r.HParams}))
			switch r.Status {
			case spec.StatusSucceeded:
				must(w.HParamsSessionEnd(summary.StatusSuccess, time.Time{}))
			case spec.StatusFailed:
				must(w.HParamsSessionEnd(summary.StatusFailure, time.Time{}))
			case spec.StatusRunning:
				must(w.HParamsSessionEnd(summary.StatusRunning, time.Time{}))
			case spec.StatusPruned, spec.StatusPaused:
				// As the worker ends them: TensorBoard's failure or running, told apart by the
				// status text, with the scheduler's verdict as the reason text.
				must(w.Text(spec.TagStatus, 0, string(r.Status)))
				must(w.Text(spec.TagReason, 0, r.Reason))
				must(w.HParamsSessionEnd(map[spec.Status]summary.Status{spec.StatusPruned: summary.StatusFailure, spec.StatusPaused: summary.StatusRunning}[r.Status], time.Time{}))
			}
			must(w.Close())
		}
		for sub, tags := range map[string]map[string]Series{
			trainRun: {tagLoss: r.Curves.TrainLoss, tagAccuracy: r.Curves.TrainAccuracy},
			validRun: {tagLoss: r.Curves.ValLoss, tagAccuracy: r.Curves.ValAccuracy},
		} {
			w, err := summary.NewWriter(filepath.Join(runDir, sub))
			must(err)
			for tag, s := range tags {
				for _, p := range s {
					must(w.Scalar(tag, p.Step, p.Value))
				}
			}
			must(w.Close())
		}
	}
}
