package trainer

import (
	"context"
	"errors"
	"iter"
	"math"
	"slices"
	"testing"
)

// fakeModel's loss on a batch is its first label and its accuracy a tenth of that, so the expected
// epoch means can be worked out by hand. Validation returns fixed values.
type fakeModel struct {
	iterations int64
	nanAt      int64 // the step (1-based) whose loss is NaN; 0 = never
	evals      int
}

func (m *fakeModel) TrainStep(_ []float32, labels []int32) (float32, float32, error) {
	m.iterations++
	if m.iterations == m.nanAt {
		return float32(math.NaN()), 0, nil
	}
	return float32(labels[0]), float32(labels[0]) / 10, nil
}

func (m *fakeModel) Evaluate(_ []float32, labels []int32) (float64, float64, error) {
	m.evals++
	return 0.5, float64(len(labels)) / 100, nil
}

func (m *fakeModel) Iterations() int64 { return m.iterations }

// tenExamples yields batches of 4, 4 and 2 examples whose labels are the batch number (1, 2, 3).
func tenExamples() FitData {
	return FitData{
		TrainExamples: 10,
		Epoch: func(int) iter.Seq2[[]float32, []int32] {
			return func(yield func([]float32, []int32) bool) {
				for i, size := range []int{4, 4, 2} {
					labels := make([]int32, size)
					for j := range labels {
						labels[j] = int32(i + 1)
					}
					if !yield(make([]float32, size), labels) {
						return
					}
				}
			}
		},
		ValPixels: make([]float32, 7),
		ValLabels: make([]int32, 7),
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
func (r *recorder) OnTrainEnd(e TrainEnd) error { r.ends = append(r.ends, e); return r.failEnd }

func TestFitKerasMeans(t *testing.T) {
	m := &fakeModel{}
	rec := &recorder{}
	hist := &History{}
	err := Fit(context.Background(), m, tenExamples(), FitOptions{Epochs: 2, BatchSize: 4, LearningRate: 0.001}, rec, hist)
	if err != nil {
		t.Fatal(err)
	}
	if want := (TrainBegin{Epochs: 2, StepsPerEpoch: 3, TrainExamples: 10, BatchSize: 4, Model: m}); len(rec.begin) != 1 || rec.begin[0] != want {
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
	if len(hist.ValLoss) != 2 || hist.EpochsCompleted != 2 || math.Abs(hist.TrainLoss[1]-1.8) > 1e-9 || hist.Err != nil {
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
			hist := &History{}
			err := Fit(ctx, &fakeModel{nanAt: tt.nanAt}, tenExamples(), FitOptions{Epochs: 3, BatchSize: 4}, rec, hist)
			if !tt.wantErr(err) {
				t.Fatalf("error %v", err)
			}
			if len(rec.batches) != tt.wantBatch {
				t.Errorf("%d batch ends, want %d", len(rec.batches), tt.wantBatch)
			}
			if len(rec.ends) != 1 || rec.ends[0].Err == nil || rec.ends[0].EpochsCompleted != tt.wantEpochs {
				t.Errorf("train end %+v: want one, with the error and %d epochs", rec.ends, tt.wantEpochs)
			}
			if hist.Err == nil || len(hist.TrainLoss) != tt.wantEpochs {
				t.Errorf("history %+v", hist)
			}
		})
	}
}

func TestFitTrainEndErrorIsReturned(t *testing.T) {
	rec := &recorder{failEnd: errors.New("close failed")}
	err := Fit(context.Background(), &fakeModel{}, tenExamples(), FitOptions{Epochs: 1, BatchSize: 4}, rec)
	if err == nil || err.Error() != "close failed" {
		t.Fatalf("error %v, want the OnTrainEnd error", err)
	}
}

func TestFitRejectsEmptySettings(t *testing.T) {
	if err := Fit(context.Background(), &fakeModel{}, tenExamples(), FitOptions{Epochs: 0, BatchSize: 4}); err == nil {
		t.Fatal("0 epochs accepted")
	}
}
