package trainer

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
)

// fakeModel's loss on a batch is the label of its first example (tenLabels) and its accuracy a
// tenth of that, so the expected epoch means can be worked out by hand. Validation returns fixed
// values. calls records the number of batches of each TrainSteps call.
type fakeModel struct {
	iterations int64
	nanAt      int64 // the step (1-based) whose loss is NaN; 0 = never
	evals      int
	calls      []int
}

// tenLabels are the labels of tenExamples: the number of the batch of 4 each example falls in.
var tenLabels = []int32{1, 1, 1, 1, 2, 2, 2, 2, 3, 3}

func (m *fakeModel) TrainSteps(batches [][]int32, losses, accs []float32) error {
	m.calls = append(m.calls, len(batches))
	for i, b := range batches {
		m.iterations++
		label := float32(tenLabels[int(b[0])%len(tenLabels)])
		losses[i], accs[i] = label, label/10
		if m.iterations == m.nanAt {
			losses[i], accs[i] = float32(math.NaN()), 0
		}
	}
	return nil
}

func (m *fakeModel) Validate() (float64, float64, error) {
	m.evals++
	return 0.5, 0.07, nil
}

func (m *fakeModel) Iterations() int64 { return m.iterations }

// tenExamples are ten examples in their own order every epoch: at batch size 4, batches of 4, 4 and
// 2 examples whose labels are the batch number (1, 2, 3).
func tenExamples() FitData {
	return FitData{TrainExamples: 10, Order: identityOrder(10)}
}

func identityOrder(n int) func(int) []int32 {
	return func(int) []int32 {
		order := make([]int32, n)
		for i := range order {
			order[i] = int32(i)
		}
		return order
	}
}

// recorder keeps every event, and can fail or cancel at a chosen global step.
type recorder struct {
	begin    []TrainBegin
	batches  []BatchEnd
	epochs   []EpochEnd
	ends     []TrainEnd
	failAt   int64
	cancelAt int64
	cancel   context.CancelFunc
	failEnd  error
}

func (r *recorder) OnTrainBegin(b TrainBegin) error { r.begin = append(r.begin, b); return nil }
func (r *recorder) OnBatchEnd(b BatchEnd) error {
	r.batches = append(r.batches, b)
	if b.Step == r.cancelAt && r.cancel != nil {
		r.cancel()
	}
	if b.Step == r.failAt {
		return errors.New("callback failed")
	}
	return nil
}
func (r *recorder) OnEpochEnd(e EpochEnd) error { r.epochs = append(r.epochs, e); return nil }

// learningRates are the rates the recorder's OnEpochEnd saw, epoch by epoch.
func (r *recorder) learningRates() []float64 {
	var out []float64
	for _, e := range r.epochs {
		out = append(out, e.LearningRate)
	}
	return out
}
func (r *recorder) OnTrainEnd(e TrainEnd) error { r.ends = append(r.ends, e); return r.failEnd }

func TestFitKerasMeans(t *testing.T) {
	m := &fakeModel{}
	rec := &recorder{}
	hist, err := Fit(context.Background(), m, tenExamples(), FitOptions{Epochs: 2, BatchSize: 4, LearningRate: 0.001}, rec)
	if err != nil {
		t.Fatal(err)
	}
	if want := (TrainBegin{Epochs: 2, StepsPerEpoch: 3, TrainExamples: 10, BatchSize: 4, Model: m, History: hist}); len(rec.begin) != 1 || rec.begin[0] != want {
		t.Errorf("train begin %+v, want %+v", rec.begin, want)
	}
	var steps []int64
	for _, b := range rec.batches {
		steps = append(steps, b.Step)
	}
	if !slices.Equal(steps, []int64{1, 2, 3, 4, 5, 6}) {
		t.Errorf("global steps %v, want 1..6", steps)
	}
	// Running means weighted by batch size: after batch 2, (4·1+4·2)/8 = 1.5; the epoch ends at
	// (4·1+4·2+2·3)/10 = 1.8 (an unweighted mean of batch losses would give 2).
	if b := rec.batches[1]; b.Loss != 1.5 || b.BatchLoss != 2 || b.StepInEpoch != 2 || b.Size != 4 {
		t.Errorf("second batch %+v", b)
	}
	if b := rec.batches[3]; b.Epoch != 1 || b.StepInEpoch != 1 || b.Loss != 1 {
		t.Errorf("the running mean did not restart with epoch 1: %+v", b)
	}
	if len(rec.epochs) != 2 {
		t.Fatalf("%d epoch ends, want 2", len(rec.epochs))
	}
	for i, e := range rec.epochs {
		if e.Epoch != i || math.Abs(e.Loss-1.8) > 1e-9 || math.Abs(e.Accuracy-0.18) > 1e-6 ||
			e.ValLoss != 0.5 || e.ValAccuracy != 0.07 || e.LearningRate != 0.001 || e.Iterations != int64(3*(i+1)) {
			t.Errorf("epoch end %d: %+v", i, e)
		}
	}
	if m.evals != 2 {
		t.Errorf("%d validations, want one per epoch", m.evals)
	}
	if len(rec.ends) != 1 || rec.ends[0].Err != nil || rec.ends[0].EpochsCompleted != 2 || rec.ends[0].Iterations != 6 {
		t.Errorf("train end %+v", rec.ends)
	}
	if hist.Len() != 2 || math.Abs(hist.TrainLoss[1]-1.8) > 1e-9 || hist.ValLoss[1] != 0.5 || hist.LearningRate[1] != 0.001 {
		t.Errorf("history %+v", hist)
	}
}

func TestFitStops(t *testing.T) {
	tests := []struct {
		name       string
		nanAt      int64
		failAt     int64
		cancelAt   int64
		wantErr    func(error) bool
		wantBatch  int // batch ends seen
		wantEpochs int // epochs completed
	}{
		{"NaN loss", 5, 0, 0, func(err error) bool { return errors.Is(err, ErrNonFiniteLoss) }, 4, 1},
		{"callback error", 0, 2, 0, func(err error) bool { return err != nil && err.Error() == "callback failed" }, 2, 0},
		{"cancelled", 0, 0, 4, func(err error) bool { return errors.Is(err, context.Canceled) }, 4, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			rec := &recorder{failAt: tt.failAt, cancelAt: tt.cancelAt, cancel: cancel}
			hist, err := Fit(ctx, &fakeModel{nanAt: tt.nanAt}, tenExamples(), FitOptions{Epochs: 3, BatchSize: 4}, rec)
			if !tt.wantErr(err) {
				t.Fatalf("error %v", err)
			}
			if len(rec.batches) != tt.wantBatch {
				t.Errorf("%d batch ends, want %d", len(rec.batches), tt.wantBatch)
			}
			if len(rec.ends) != 1 || rec.ends[0].Err == nil || rec.ends[0].EpochsCompleted != tt.wantEpochs {
				t.Errorf("train end %+v: want one, with the error and %d epochs", rec.ends, tt.wantEpochs)
			}
			if hist.Len() != tt.wantEpochs {
				t.Errorf("history %+v: want the %d completed epochs", hist, tt.wantEpochs)
			}
		})
	}
}

func TestFitTrainEndErrorIsReturned(t *testing.T) {
	rec := &recorder{failEnd: errors.New("close failed")}
	_, err := Fit(context.Background(), &fakeModel{}, tenExamples(), FitOptions{Epochs: 1, BatchSize: 4}, rec)
	if err == nil || err.Error() != "close failed" {
		t.Fatalf("error %v, want the OnTrainEnd error", err)
	}
}

func TestFitRejectsEmptySettings(t *testing.T) {
	if _, err := Fit(context.Background(), &fakeModel{}, tenExamples(), FitOptions{Epochs: 0, BatchSize: 4}); err == nil {
		t.Fatal("0 epochs accepted")
	}
}

// TestFitStepsPerCall: with several steps per TrainSteps call, every step still gets its batch end
// with the values one step per call gives, the calls take StepsPerCall batches (fewer at an
// epoch's end), and cancellation and stop requests wait for the call's remaining steps.
func TestFitStepsPerCall(t *testing.T) {
	events := func(perCall int, rec *recorder, ctx context.Context) (*fakeModel, error) {
		m := &fakeModel{}
		_, err := Fit(ctx, m, tenExamples(), FitOptions{Epochs: 2, BatchSize: 4, StepsPerCall: perCall}, rec)
		return m, err
	}
	want := &recorder{}
	if _, err := events(1, want, context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		perCall   int
		wantCalls []int
	}{{2, []int{2, 1, 2, 1}}, {3, []int{3, 3}}, {8, []int{3, 3}}} {
		got := &recorder{}
		m, err := events(tc.perCall, got, context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(m.calls, tc.wantCalls) {
			t.Errorf("steps per call %d: calls of %v batches, want %v", tc.perCall, m.calls, tc.wantCalls)
		}
		if len(got.batches) != len(want.batches) || len(got.epochs) != len(want.epochs) {
			t.Fatalf("steps per call %d: %d batch ends and %d epoch ends, want %d and %d", tc.perCall, len(got.batches), len(got.epochs), len(want.batches), len(want.epochs))
		}
		for i, b := range got.batches {
			b.EpochElapsed, want.batches[i].EpochElapsed = 0, 0
			if b != want.batches[i] {
				t.Errorf("steps per call %d: batch end %d %+v, want %+v", tc.perCall, i, b, want.batches[i])
			}
		}
		for i, e := range got.epochs {
			if e.Loss != want.epochs[i].Loss || e.Iterations != want.epochs[i].Iterations {
				t.Errorf("steps per call %d: epoch end %+v, want %+v", tc.perCall, e, want.epochs[i])
			}
		}
	}

	// Cancelled at the first step of a call of two: the call's second step is reported, then Fit stops.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := &recorder{cancelAt: 1, cancel: cancel}
	if _, err := events(2, rec, ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	if len(rec.batches) != 2 {
		t.Errorf("cancelled in a call of 2: %d batch ends, want 2", len(rec.batches))
	}
}
