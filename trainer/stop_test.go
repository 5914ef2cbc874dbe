package trainer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/summary"
)

// stopper returns ErrStopTraining (wrapped, to show wrapping counts) from the hook and at the point
// named.
type stopper struct {
	atBegin bool
	atStep  int64 // global step; 0 = never
	atEpoch int   // 0-based; -1 = never
}

func (s stopper) OnTrainBegin(TrainBegin) error {
	if s.atBegin {
		return fmt.Errorf("warm start done: %w", ErrStopTraining)
	}
	return nil
}

func (s stopper) OnBatchEnd(b BatchEnd) error {
	if b.Step == s.atStep {
		return ErrStopTraining
	}
	return nil
}

func (s stopper) OnEpochEnd(e EpochEnd) error {
	if e.Epoch == s.atEpoch {
		return ErrStopTraining
	}
	return nil
}

// TestFitStopTraining checks ErrStopTraining against Keras' fit loop: the flag is checked after all
// callbacks of a batch (the epoch is then validated and ended) and after all callbacks of an epoch
// end, the run succeeds, and every OnTrainEnd is called with the stop recorded.
func TestFitStopTraining(t *testing.T) {
	tests := []struct {
		name        string
		stop        stopper
		wantBatches int // batch ends the callback after the stopper saw
		wantEpochs  int
		wantLoss    float64 // last epoch's training loss
		wantStopped bool
		wantEpoch   int
	}{
		{"not stopped", stopper{atEpoch: -1}, 9, 3, 1.8, false, 0},
		{"at an epoch end", stopper{atEpoch: 1}, 6, 2, 1.8, true, 1},
		{"at the last epoch's end", stopper{atEpoch: 2}, 9, 3, 1.8, true, 2},
		// Steps 1 and 2 of epoch 1 (global 4, 5): the epoch ends over those 8 examples, (4·1+4·2)/8.
		{"in a batch", stopper{atStep: 5, atEpoch: -1}, 5, 2, 1.5, true, 1},
		// Keras resets stop_training before on_train_begin, so a stop asked there ends the first
		// epoch after its first batch.
		{"at train begin", stopper{atBegin: true, atEpoch: -1}, 1, 1, 1, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			hp, err := NewHParams(dir, summary.SessionStart{HParams: map[string]any{"lr": 0.1}}, HParamsOptions{})
			if err != nil {
				t.Fatal(err)
			}
			rec := &recorder{}
			m := &fakeModel{}
			hist, err := Fit(context.Background(), m, tenExamples(), FitOptions{Epochs: 3, BatchSize: 4}, tt.stop, rec, hp)
			if err != nil {
				t.Fatalf("Fit: %v", err)
			}
			if len(rec.batches) != tt.wantBatches || len(rec.epochs) != tt.wantEpochs {
				t.Errorf("the callback after the stopper saw %d batch and %d epoch ends, want %d and %d",
					len(rec.batches), len(rec.epochs), tt.wantBatches, tt.wantEpochs)
			}
			if last := rec.epochs[len(rec.epochs)-1]; math.Abs(last.Loss-tt.wantLoss) > 1e-9 {
				t.Errorf("last epoch's loss %v, want %v", last.Loss, tt.wantLoss)
			}
			if m.evals != tt.wantEpochs {
				t.Errorf("%d validations, want %d: a stopped epoch is still validated", m.evals, tt.wantEpochs)
			}
			want := TrainEnd{EpochsCompleted: tt.wantEpochs, Iterations: int64(tt.wantBatches), StoppedEarly: tt.wantStopped, StoppedEpoch: tt.wantEpoch}
			if len(rec.ends) != 1 {
				t.Fatalf("%d train ends", len(rec.ends))
			}
			got := rec.ends[0]
			if got.ValidationTime <= 0 || got.ValidationTime > got.FitTime {
				t.Errorf("validation time %v of a fit time %v", got.ValidationTime, got.FitTime)
			}
			got.FitTime, got.ValidationTime = 0, 0
			if got != want {
				t.Errorf("train end %+v, want %+v", got, want)
			}
			if hist.Len() != tt.wantEpochs {
				t.Errorf("history of %d epochs, want %d: a stopped epoch is in it", hist.Len(), tt.wantEpochs)
			}
			session := readRunLog(t, dir)
			if len(session.hparams) != 2 || session.hparams[1].SessionEnd == nil || session.hparams[1].SessionEnd.Status != summary.StatusSuccess {
				t.Errorf("the hparams session does not end in success")
			}
		})
	}
}

// rateModel is fakeModel with a settable learning rate.
type rateModel struct {
	fakeModel
	lr      float64
	readErr error
}

func (m *rateModel) LearningRate() (float64, error) { return m.lr, m.readErr }
func (m *rateModel) SetLearningRate(lr float64) error {
	m.lr = lr
	return nil
}

// rateCutter halves the model's rate at every epoch end.
type rateCutter struct{ m *rateModel }

func (c rateCutter) OnEpochEnd(EpochEnd) error { c.m.lr /= 2; return nil }

func TestFitLearningRateReadPerCallback(t *testing.T) {
	m := &rateModel{lr: 0.8}
	before, after := &recorder{}, &recorder{}
	hist, err := Fit(context.Background(), m, tenExamples(), FitOptions{Epochs: 3, BatchSize: 4, LearningRate: 123}, before, rateCutter{m}, after)
	if err != nil {
		t.Fatal(err)
	}
	if !closeTo(before.learningRates(), []float64{0.8, 0.4, 0.2}) || !closeTo(after.learningRates(), []float64{0.4, 0.2, 0.1}) {
		t.Errorf("rates before the cut %v, after it %v: want the model's rate as each callback runs, not FitOptions'",
			before.learningRates(), after.learningRates())
	}
	if !closeTo(hist.LearningRate, []float64{0.8, 0.4, 0.2}) {
		t.Errorf("history's rates %v, want those the epochs trained with", hist.LearningRate)
	}

	m = &rateModel{readErr: errors.New("no session")}
	rec := &recorder{}
	_, err = Fit(context.Background(), m, tenExamples(), FitOptions{Epochs: 2, BatchSize: 4}, rec)
	if err == nil || !strings.Contains(err.Error(), "learning rate: no session") || len(rec.epochs) != 0 || len(rec.ends) != 1 {
		t.Errorf("a failing LearningRate: error %v, %d epoch ends, %d train ends", err, len(rec.epochs), len(rec.ends))
	}
}

func TestCallbacksNeedTheirModelInterfaces(t *testing.T) {
	es, err := NewEarlyStopping(spec.EarlyStoppingOptions{RestoreBestWeights: true})
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReduceLROnPlateau(spec.DefaultReduceLROnPlateauOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cb   Callback
		want string
	}{{es, "WeightSnapshotter"}, {r, "LearningRater"}} {
		m := &fakeModel{}
		_, err := Fit(context.Background(), m, tenExamples(), FitOptions{Epochs: 1, BatchSize: 4}, tc.cb)
		if err == nil || !strings.Contains(err.Error(), tc.want) || m.iterations != 0 {
			t.Errorf("%T on a model without %s: error %v after %d steps; want an error before the first step", tc.cb, tc.want, err, m.iterations)
		}
	}
	// Without restore_best_weights EarlyStopping needs nothing from the model.
	plain, _ := NewEarlyStopping(spec.EarlyStoppingOptions{})
	if _, err := Fit(context.Background(), &fakeModel{}, tenExamples(), FitOptions{Epochs: 1, BatchSize: 4}, plain); err != nil {
		t.Errorf("EarlyStopping without restore on a plain model: %v", err)
	}
}

// failingAt fails the run at an epoch end.
type failingAt int

func (f failingAt) OnEpochEnd(e EpochEnd) error {
	if e.Epoch == int(f) {
		return errors.New("disk full")
	}
	return nil
}

func TestEarlyStoppingKeepsWeightsOfAFailedRun(t *testing.T) {
	es, err := NewEarlyStopping(spec.EarlyStoppingOptions{Patience: 5, RestoreBestWeights: true})
	if err != nil {
		t.Fatal(err)
	}
	m := &scriptedModel{logs: []epochLogs{{ValLoss: 1}, {ValLoss: 0.5}, {ValLoss: 0.9}, {ValLoss: 0.9}}}
	_, err = Fit(context.Background(), m, oneBatchPerEpoch(), FitOptions{Epochs: 4, BatchSize: 1}, es, failingAt(2))
	if err == nil || m.restores != 0 || m.weightsEpoch != 2 {
		t.Errorf("error %v, %d restores, weights of epoch %d: a failed run's weights must stay as they are", err, m.restores, m.weightsEpoch)
	}
}

func TestCallbackOptionsRejected(t *testing.T) {
	for _, opts := range []spec.EarlyStoppingOptions{
		{Monitor: "val_precision"}, {Mode: "maximum"}, {Patience: -1}, {StartFromEpoch: -2}, {MinDelta: math.NaN()},
	} {
		if _, err := NewEarlyStopping(opts); err == nil {
			t.Errorf("EarlyStopping accepted %+v", opts)
		}
	}
	for _, change := range []func(*spec.ReduceLROnPlateauOptions){
		func(o *spec.ReduceLROnPlateauOptions) { o.Factor = 1 },
		func(o *spec.ReduceLROnPlateauOptions) { o.Factor = math.NaN() },
		func(o *spec.ReduceLROnPlateauOptions) { o.Patience = -1 },
		func(o *spec.ReduceLROnPlateauOptions) { o.Cooldown = -1 },
		func(o *spec.ReduceLROnPlateauOptions) { o.MinLR = -1e-3 },
		func(o *spec.ReduceLROnPlateauOptions) { o.Monitor = "lr" },
	} {
		opts := spec.DefaultReduceLROnPlateauOptions()
		change(&opts)
		if _, err := NewReduceLROnPlateau(opts); err == nil {
			t.Errorf("ReduceLROnPlateau accepted %+v", opts)
		}
	}
	if _, err := NewReduceLROnPlateau(spec.DefaultReduceLROnPlateauOptions()); err != nil {
		t.Errorf("Keras' defaults rejected: %v", err)
	}
}

// TestEarlyStoppingSnapshotsOncePerBestEpoch: Keras calls get_weights twice at the first monitored
// epoch; one snapshot is enough, and the snapshot count is what a real model's copy costs.
func TestEarlyStoppingSnapshotsOncePerBestEpoch(t *testing.T) {
	es, err := NewEarlyStopping(spec.EarlyStoppingOptions{Patience: 5, RestoreBestWeights: true})
	if err != nil {
		t.Fatal(err)
	}
	m := &countingSnapshots{scriptedModel: scriptedModel{logs: []epochLogs{{ValLoss: 1}, {ValLoss: 0.5}, {ValLoss: 0.9}, {ValLoss: 0.4}}}}
	if _, err := Fit(context.Background(), m, oneBatchPerEpoch(), FitOptions{Epochs: 4, BatchSize: 1}, es); err != nil {
		t.Fatal(err)
	}
	if m.snapshots != 3 || m.weightsEpoch != 3 || es.BestEpoch() != 3 {
		t.Errorf("%d snapshots (want 3: epochs 0, 1, 3), weights of epoch %d, best epoch %d", m.snapshots, m.weightsEpoch, es.BestEpoch())
	}
}

type countingSnapshots struct {
	scriptedModel
	snapshots int
}

func (m *countingSnapshots) SnapshotWeights() (any, error) {
	m.snapshots++
	return m.scriptedModel.SnapshotWeights()
}

// The TensorBoard callback, given a run stopped early, keeps what it wrote: a stop is no failure.
func TestTensorBoardAfterEarlyStop(t *testing.T) {
	dir := t.TempDir()
	tb, err := NewTensorBoard(dir, TensorBoardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	es, err := NewEarlyStopping(spec.EarlyStoppingOptions{Patience: 1})
	if err != nil {
		t.Fatal(err)
	}
	m := &scriptedModel{logs: []epochLogs{{ValLoss: 1}, {ValLoss: 1}, {ValLoss: 1}, {ValLoss: 1}}}
	if _, err := Fit(context.Background(), m, oneBatchPerEpoch(), FitOptions{Epochs: 4, BatchSize: 1}, es, tb); err != nil {
		t.Fatal(err)
	}
	if got := readRunLog(t, filepath.Join(dir, "validation")).values("epoch_loss"); len(got) != 2 || es.StoppedEpoch() != 1 {
		t.Errorf("validation epoch_loss %v, stopped epoch %d: want two epochs logged, stopped after epoch 1", got, es.StoppedEpoch())
	}
}
