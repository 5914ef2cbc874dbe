package trainer

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/tfsweep/tfsweep/internal/tbcheck"
	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/summary"
)

// curveModel is fakeModel validating to the given losses and accuracies, one per epoch.
type curveModel struct {
	fakeModel
	valLoss, valAcc []float64
}

func (m *curveModel) Validate() (float64, float64, error) {
	i := m.evals
	m.evals++
	return m.valLoss[i], m.valAcc[i], nil
}

// sessionCase is one run of TestSessionsOfStoppedRuns: its validation curve, where a callback stops
// it, how its session ends, and what the run directory must then say.
type sessionCase struct {
	name            string
	epochs          int       // FitOptions.Epochs
	valLoss, valAcc []float64 // of the epochs this Fit trains
	resumed         spec.History
	stopAt          int // 0-based epoch a stopper ends; -1 never
	end             *SessionEnd
	wantStatus      summary.Status
	wantState       spec.Status
	wantEpochs      int
	wantBest        int // 0-based
	wantBestVal     spec.EpochMetrics
}

// fakeTrainLoss and fakeTrainAccuracy are every epoch's training metrics of fakeModel over
// tenExamples in batches of 4: (4·1 + 4·2 + 2·3)/10 and a tenth of it.
const fakeTrainLoss, fakeTrainAccuracy = 1.8, 0.18

var sessionCases = []sessionCase{
	{name: "succeeded", epochs: 3, valLoss: []float64{0.9, 0.6, 0.7}, valAcc: []float64{0.5, 0.8, 0.75}, stopAt: -1,
		wantStatus: summary.StatusSuccess, wantState: spec.StatusSucceeded, wantEpochs: 3, wantBest: 1,
		wantBestVal: spec.EpochMetrics{Loss: fakeTrainLoss, Accuracy: fakeTrainAccuracy, ValLoss: 0.6, ValAccuracy: 0.8}},
	{name: "pruned", epochs: 5, valLoss: []float64{0.8, 0.85}, valAcc: []float64{0.6, 0.55}, stopAt: 1,
		end:        &SessionEnd{Status: summary.StatusFailure, State: spec.StatusPruned, Reason: "pruned at epoch 2 by median: 0.85 is worse than the median 0.7"},
		wantStatus: summary.StatusFailure, wantState: spec.StatusPruned, wantEpochs: 2, wantBest: 0,
		wantBestVal: spec.EpochMetrics{Loss: fakeTrainLoss, Accuracy: fakeTrainAccuracy, ValLoss: 0.8, ValAccuracy: 0.6}},
	{name: "paused", epochs: 5, valLoss: []float64{0.5}, valAcc: []float64{0.9}, stopAt: 0,
		end:        &SessionEnd{Status: summary.StatusRunning, State: spec.StatusPaused, Reason: "paused at epoch 1 by asha: rank 2 of 3"},
		wantStatus: summary.StatusRunning, wantState: spec.StatusPaused, wantEpochs: 1, wantBest: 0,
		wantBestVal: spec.EpochMetrics{Loss: fakeTrainLoss, Accuracy: fakeTrainAccuracy, ValLoss: 0.5, ValAccuracy: 0.9}},
	// Promoted from a pause after two epochs, it trains the third, worse than its first: the best
	// epoch is one it trained before it paused.
	{name: "resumed", epochs: 3, valLoss: []float64{0.5}, valAcc: []float64{0.85}, stopAt: -1,
		resumed:    spec.History{TrainLoss: []float64{1.1, 1.2}, TrainAccuracy: []float64{0.3, 0.25}, ValLoss: []float64{0.4, 0.45}, ValAccuracy: []float64{0.88, 0.87}},
		wantStatus: summary.StatusSuccess, wantState: spec.StatusSucceeded, wantEpochs: 3, wantBest: 0,
		wantBestVal: spec.EpochMetrics{Loss: 1.1, Accuracy: 0.3, ValLoss: 0.4, ValAccuracy: 0.88}},
}

// fitSession fits one case's run under logdir with the TensorBoard and HParams callbacks.
func fitSession(t *testing.T, logdir string, tc sessionCase) {
	t.Helper()
	dir := filepath.Join(logdir, tc.name)
	tb, err := NewTensorBoard(dir, TensorBoardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var opts HParamsOptions
	if tc.end != nil {
		opts.End = func(TrainEnd) SessionEnd { return *tc.end }
	}
	hp, err := NewHParams(dir, summary.SessionStart{HParams: map[string]any{"run": tc.name}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	initial := len(tc.resumed.ValLoss)
	m := &curveModel{valLoss: tc.valLoss, valAcc: tc.valAcc}
	resumed := tc.resumed
	fo := FitOptions{Epochs: tc.epochs, InitialEpoch: initial, BatchSize: 4, History: &resumed}
	if _, err := Fit(context.Background(), m, tenExamples(), fo, tb, hp, stopper{atEpoch: tc.stopAt}); err != nil {
		t.Fatalf("%s: Fit: %v", tc.name, err)
	}
}

// TestSessionsOfStoppedRuns ends runs as a scheduler ends them and reads their logs back: every
// session says how it ended (TensorBoard's status, and the status and reason texts), how many
// epochs it trained, and its best epoch's four metrics at that epoch's step.
func TestSessionsOfStoppedRuns(t *testing.T) {
	logdir := t.TempDir()
	for _, tc := range sessionCases {
		fitSession(t, logdir, tc)
		dir := filepath.Join(logdir, tc.name)
		session := readRunLog(t, dir)
		if n := len(session.hparams); n != 2 || session.hparams[1].SessionEnd == nil {
			t.Fatalf("%s: %d hparams values, want the session start and end", tc.name, n)
		}
		if got := session.hparams[1].SessionEnd.Status; got != tc.wantStatus {
			t.Errorf("%s: session status %v, want %v", tc.name, got, tc.wantStatus)
		}
		if got := session.scalars[spec.TagEpochsTrained]; len(got) != 1 || got[0].value != float64(tc.wantEpochs) {
			t.Errorf("%s: epochs_trained %v, want %d", tc.name, got, tc.wantEpochs)
		}
		wantReason := ""
		if tc.end != nil {
			wantReason = tc.end.Reason
		}
		if got := session.texts[spec.TagStatus]; got != string(tc.wantState) {
			t.Errorf("%s: status text %q, want %q", tc.name, got, tc.wantState)
		}
		if got := session.texts[spec.TagReason]; got != wantReason {
			t.Errorf("%s: reason text %q, want %q", tc.name, got, wantReason)
		}
		for _, sub := range []struct {
			dir       string
			loss, acc float64
		}{{spec.TrainDir, tc.wantBestVal.Loss, tc.wantBestVal.Accuracy}, {spec.ValidationDir, tc.wantBestVal.ValLoss, tc.wantBestVal.ValAccuracy}} {
			l := readRunLog(t, filepath.Join(dir, sub.dir))
			for tag, want := range map[string]float64{spec.TagBestEpochLoss: sub.loss, spec.TagBestEpochAccuracy: sub.acc} {
				got := l.scalars[tag]
				if len(got) != 1 || got[0].step != int64(tc.wantBest) || !closeTo([]float64{got[0].value}, []float64{want}) {
					t.Errorf("%s: %s/%s %v, want %v at step %d", tc.name, sub.dir, tag, got, want, tc.wantBest)
				}
			}
		}
	}
}

// TestSessionsOfStoppedRunsInTensorBoard has TensorBoard (both loaders) judge the same runs: the
// HParams dashboard lists every run with its status, epochs trained and best epoch's metrics, and the
// text dashboard says why a run stopped.
func TestSessionsOfStoppedRunsInTensorBoard(t *testing.T) {
	tbcheck.Python(t)
	logdir := t.TempDir()
	var metrics []summary.MetricInfo
	for _, g := range []string{spec.ValidationDir, spec.TrainDir} {
		for _, tag := range []string{spec.TagEpochLoss, spec.TagBestEpochLoss, spec.TagBestEpochAccuracy} {
			metrics = append(metrics, summary.MetricInfo{Group: g, Tag: tag})
		}
	}
	metrics = append(metrics, summary.MetricInfo{Tag: spec.TagEpochsTrained})
	w, err := summary.NewWriter(logdir)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]any, len(sessionCases))
	for i, tc := range sessionCases {
		names[i] = tc.name
	}
	exp := summary.Experiment{HParams: []summary.HParamInfo{{Name: "run", Discrete: names, Differs: true}}, Metrics: metrics}
	if err := errors.Join(w.HParamsExperiment(exp), w.Close()); err != nil {
		t.Fatal(err)
	}
	groups := map[string]any{}
	var texts []map[string]any
	for _, tc := range sessionCases {
		fitSession(t, logdir, tc)
		best := tc.wantBest
		groups[tc.name] = map[string]any{
			"hparams": map[string]any{"run": tc.name}, "status": tc.wantStatus.String(), "sessions": []string{tc.name},
			"metrics": []map[string]any{
				{"tag": spec.TagEpochsTrained, "value": tc.wantEpochs},
				{"group": spec.ValidationDir, "tag": spec.TagBestEpochLoss, "value": tc.wantBestVal.ValLoss, "step": best},
				{"group": spec.ValidationDir, "tag": spec.TagBestEpochAccuracy, "value": tc.wantBestVal.ValAccuracy, "step": best},
				{"group": spec.TrainDir, "tag": spec.TagBestEpochLoss, "value": tc.wantBestVal.Loss, "step": best},
				{"group": spec.TrainDir, "tag": spec.TagBestEpochAccuracy, "value": tc.wantBestVal.Accuracy, "step": best},
			},
		}
		texts = append(texts, map[string]any{"run": tc.name, "tag": spec.TagStatus, "step": 0, "equals": string(tc.wantState)})
		if tc.end != nil {
			texts = append(texts, map[string]any{"run": tc.name, "tag": spec.TagReason, "step": 0, "equals": tc.end.Reason})
		}
	}
	tbcheck.Run(t, logdir, map[string]any{
		"runs_subset": true, "runs": []string{".", "pruned", "pruned/validation"},
		"plugins_enabled": []string{"scalars", "text", "hparams"},
		"texts":           texts,
		"hparams": map[string]any{
			"experiment":     map[string]any{"differs": []string{"run"}},
			"session_groups": groups,
		},
	})
}
