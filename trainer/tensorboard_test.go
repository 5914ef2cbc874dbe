package trainer

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tfsweep/tfsweep/summary"
)

// runLog is everything one TensorBoard run directory holds, read back with summary's reader.
type runLog struct {
	files   int
	scalars map[string][]scalarPoint
	hists   map[string][]int64 // tag → steps
	texts   map[string]string
	graphs  int
	keras   int
	hparams []*summary.HParams
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

// inspectableFake serves two small weights and fixed graph bytes.
type inspectableFake struct{}

func (inspectableFake) Weights() ([]Weight, error) {
	return []Weight{{Name: "dense/kernel", Values: []float32{1, 2, 3}}, {Name: "dense/bias", Values: []float32{0.5}}}, nil
}
func (inspectableFake) GraphDef() ([]byte, error) { return nil, nil }
func (inspectableFake) KerasJSON() ([]byte, error) {
	return []byte(`{"class_name": "Sequential"}`), nil
}

// TestTensorBoardAndHParamsCallbacks fits the fake model with both callbacks and reads back Keras'
// layout: tags, steps and values, batch scalars, histograms under the model's name, the config
// text and the hparams session with its end status.
func TestTensorBoardAndHParamsCallbacks(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cancel  bool
		success bool
	}{{"completed", false, true}, {"interrupted", true, false}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tb, err := NewTensorBoard(dir, TensorBoardOptions{UpdateFreq: 2, Model: inspectableFake{}, ModelName: "sequential", Config: "| run | r |"})
			if err != nil {
				t.Fatal(err)
			}
			hp, err := NewHParams(dir, summary.SessionStart{HParams: map[string]any{"lr": 0.5}, GroupName: "sweep-1/r"}, HParamsOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			rec := &recorder{}
			if tc.cancel {
				rec.cancelAt, rec.cancel = 4, cancel
			}
			hist, err := Fit(ctx, &fakeModel{}, tenExamples(), FitOptions{Epochs: 2, BatchSize: 4, LearningRate: 0.5}, rec, tb, hp)
			if (err == nil) != tc.success {
				t.Fatalf("Fit: %v", err)
			}
			session := readRunLog(t, dir)
			if len(session.hparams) != 2 || session.hparams[0].SessionStart == nil || session.hparams[1].SessionEnd == nil {
				t.Fatalf("want the session start and end, got %d hparams values", len(session.hparams))
			}
			if g := session.hparams[0].SessionStart.GroupName; g != "sweep-1/r" {
				t.Errorf("group name %q", g)
			}
			want := summary.StatusFailure
			if tc.success {
				want = summary.StatusSuccess
			}
			if got := session.hparams[1].SessionEnd.Status; got != want {
				t.Errorf("session end %v, want %v", got, want)
			}
			train := readRunLog(t, filepath.Join(dir, "train"))
			val := readRunLog(t, filepath.Join(dir, "validation"))
			epochs := len(hist.TrainLoss)
			if got := train.values("epoch_loss"); !closeTo(got, hist.TrainLoss) {
				t.Errorf("train epoch_loss %v, want %v", got, hist.TrainLoss)
			}
			if got := val.values("epoch_accuracy"); !closeTo(got, hist.ValAccuracy) {
				t.Errorf("validation epoch_accuracy %v, want %v", got, hist.ValAccuracy)
			}
			if got := train.steps("epoch_learning_rate"); !slices.Equal(got, epochSteps(epochs)) {
				t.Errorf("epoch_learning_rate steps %v", got)
			}
			wantIter := []int64{3, 6}[:epochs]
			if got := val.steps("evaluation_loss_vs_iterations"); !slices.Equal(got, wantIter) {
				t.Errorf("evaluation_loss_vs_iterations steps %v, want %v", got, wantIter)
			}
			// Steps 2 and 4 (and 6 when the run completes) are multiples of UpdateFreq.
			wantBatch := []int64{2, 4, 6}
			if tc.cancel {
				wantBatch = []int64{2, 4}
			}
			for _, tag := range []string{"batch_loss", "batch_accuracy"} {
				if got := train.steps(tag); !slices.Equal(got, wantBatch) {
					t.Errorf("%s steps %v, want %v", tag, got, wantBatch)
				}
			}
			for _, tag := range []string{"sequential/dense/kernel/histogram", "sequential/dense/bias/histogram"} {
				if got := train.hists[tag]; !slices.Equal(got, epochSteps(epochs)) {
					t.Errorf("%s steps %v (histograms %v)", tag, got, keys(train.hists))
				}
			}
			if train.keras != 1 || train.graphs != 0 {
				t.Errorf("%d keras models, %d graphs; want 1 and 0 (no GraphDef given)", train.keras, train.graphs)
			}
			if train.texts["config"] != "| run | r |" {
				t.Errorf("config text %q", train.texts["config"])
			}
		})
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
