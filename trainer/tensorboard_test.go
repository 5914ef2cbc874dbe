package trainer

import (
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tfsweep/tfsweep/summary"
)

// runLog is everything one TensorBoard run directory holds, read back with summary's reader.
type runLog struct {
	files    int
	scalars  map[string][]scalarPoint
	hists    map[string][]int64 // tag → steps
	texts    map[string]string
	graphs   int
	keras    int
	hparams  []*summary.HParams
	eventErr error
}

type scalarPoint struct {
	step  int64
	value float64
}

func readRunLog(t *testing.T, dir string) runLog {
	t.Helper()
	files, err := summary.EventFiles(dir)
	if err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	log := runLog{files: len(files), scalars: map[string][]scalarPoint{}, hists: map[string][]int64{}, texts: map[string]string{}}
	for _, f := range files {
		events, err := summary.ReadFile(f)
		if err != nil {
			t.Fatalf("%s is not readable: %v", f, err)
		}
		for _, e := range events {
			if e.GraphDef != nil {
				log.graphs++
			}
			for _, v := range e.Values {
				switch v.Plugin {
				case summary.PluginScalars:
					log.scalars[v.Tag] = append(log.scalars[v.Tag], scalarPoint{e.Step, v.Scalar})
				case summary.PluginHistograms:
					log.hists[v.Tag] = append(log.hists[v.Tag], e.Step)
				case summary.PluginText:
					log.texts[v.Tag] = v.Text
				case summary.PluginKerasModel:
					log.keras++
				case summary.PluginHParams:
					log.hparams = append(log.hparams, v.HParams)
				}
			}
		}
	}
	return log
}

func (l runLog) steps(tag string) []int64 {
	var steps []int64
	for _, p := range l.scalars[tag] {
		steps = append(steps, p.step)
	}
	return steps
}

func (l runLog) values(tag string) []float64 {
	var values []float64
	for _, p := range l.scalars[tag] {
		values = append(values, p.value)
	}
	return values
}

func epochSteps(n int) []int64 {
	steps := make([]int64, n)
	for i := range steps {
		steps[i] = int64(i)
	}
	return steps
}

// closeTo compares float64 results with what went through TensorBoard's float32 scalars.
func closeTo(got, want []float64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > 1e-6*math.Max(1, math.Abs(want[i])) {
			return false
		}
	}
	return true
}

// checkRunLogs checks a run directory against the run's result: Keras' layout and tags, steps and
// values, and the hparams session with its end status.
func checkRunLogs(t *testing.T, r RunResult, succeeded bool) {
	t.Helper()
	session := readRunLog(t, r.Dir)
	if session.files != 1 || len(session.hparams) != 2 || session.hparams[0].SessionStart == nil || session.hparams[1].SessionEnd == nil {
		t.Fatalf("%s: want one event file with the session start and end, got %d files, %d hparams values", r.Name, session.files, len(session.hparams))
	}
	start, end := session.hparams[0].SessionStart, session.hparams[1].SessionEnd
	if start.GroupName != r.Name || start.HParams["init"] != r.Init || start.HParams["batchnorm"] != r.BatchNorm ||
		start.HParams["batch_size"] != float64(r.BatchSize) || start.HParams["lr"] != r.LR || start.HParams["hidden"] != "128x64" {
		t.Errorf("%s: session start %+v", r.Name, start)
	}
	wantStatus := summary.StatusFailure
	if succeeded {
		wantStatus = summary.StatusSuccess
	}
	if end.Status != wantStatus {
		t.Errorf("%s: session end status %v, want %v", r.Name, end.Status, wantStatus)
	}

	epochs := r.EpochsCompleted
	train := readRunLog(t, filepath.Join(r.Dir, "train"))
	val := readRunLog(t, filepath.Join(r.Dir, "validation"))
	for _, c := range []struct {
		log  runLog
		tag  string
		want []float64
	}{
		{train, "epoch_loss", r.History.TrainLoss},
		{train, "epoch_accuracy", r.History.TrainAccuracy},
		{val, "epoch_loss", r.History.ValLoss},
		{val, "epoch_accuracy", r.History.ValAccuracy},
		{val, "evaluation_loss_vs_iterations", r.History.ValLoss},
		{val, "evaluation_accuracy_vs_iterations", r.History.ValAccuracy},
	} {
		if got := c.log.values(c.tag); !closeTo(got, c.want) {
			t.Errorf("%s: %s values %v, want %v", r.Name, c.tag, got, c.want)
		}
	}
	for _, tag := range []string{"epoch_loss", "epoch_accuracy", "epoch_learning_rate"} {
		if got := train.steps(tag); !slices.Equal(got, epochSteps(epochs)) {
			t.Errorf("%s: train %s steps %v, want 0..%d", r.Name, tag, got, epochs-1)
		}
	}
	if lr := train.values("epoch_learning_rate"); epochs > 0 && math.Abs(lr[0]-r.LR) > 1e-6*r.LR {
		t.Errorf("%s: epoch_learning_rate %v, want %v", r.Name, lr, r.LR)
	}
	stepsPerEpoch := int64((r.TrainExamples + r.BatchSize - 1) / r.BatchSize)
	var wantIterations []int64
	for e := range epochs {
		wantIterations = append(wantIterations, int64(e+1)*stepsPerEpoch)
	}
	if got := val.steps("evaluation_loss_vs_iterations"); !slices.Equal(got, wantIterations) {
		t.Errorf("%s: evaluation_loss_vs_iterations steps %v, want %v", r.Name, got, wantIterations)
	}
	for _, tag := range []string{"dense/kernel/histogram", "dense/bias/histogram", "dense_2/kernel/histogram"} {
		if got := train.hists[tag]; !slices.Equal(got, epochSteps(epochs)) {
			t.Errorf("%s: %s steps %v, want 0..%d (histograms %v)", r.Name, tag, got, epochs-1, keys(train.hists))
		}
	}
	if train.graphs != 1 || train.keras != 1 {
		t.Errorf("%s: %d graph_defs and %d keras models in train, want one each", r.Name, train.graphs, train.keras)
	}
	if cfg := train.texts["config"]; !strings.Contains(cfg, "| init | "+r.Init+" |") || !strings.Contains(cfg, "| run | "+r.Name+" |") {
		t.Errorf("%s: config text %q", r.Name, cfg)
	}
	for _, s := range train.steps("batch_loss") {
		if s <= 0 || s > int64(epochs+1)*stepsPerEpoch {
			t.Errorf("%s: batch_loss at step %d", r.Name, s)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
