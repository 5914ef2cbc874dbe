package spec

import (
	"encoding/json"
	"math"
	"testing"
)

// A metric the run does not have (no validation logged, a diverged loss) is null in JSON and NaN
// again when read; the other fields keep their names and order.
func TestEpochMetricsJSON(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	for _, tc := range []struct {
		name string
		in   EpochMetrics
		want string
		back EpochMetrics // what reading want gives; NaN stands for null
	}{
		{"complete", EpochMetrics{Epoch: 2, Loss: 0.5, Accuracy: 0.75, ValLoss: 0.25, ValAccuracy: 0.875, LearningRate: 0.001, Seconds: 1.5, SamplesPerSecond: 4000},
			`{"epoch":2,"train_loss":0.5,"train_accuracy":0.75,"val_loss":0.25,"val_accuracy":0.875,"learning_rate":0.001,"seconds":1.5,"samples_per_second":4000}`,
			EpochMetrics{Epoch: 2, Loss: 0.5, Accuracy: 0.75, ValLoss: 0.25, ValAccuracy: 0.875, LearningRate: 0.001, Seconds: 1.5, SamplesPerSecond: 4000}},
		{"no validation", EpochMetrics{Epoch: 0, Loss: 0.5, Accuracy: 0.75, ValLoss: nan, ValAccuracy: nan},
			`{"epoch":0,"train_loss":0.5,"train_accuracy":0.75,"val_loss":null,"val_accuracy":null}`,
			EpochMetrics{Loss: 0.5, Accuracy: 0.75, ValLoss: nan, ValAccuracy: nan}},
		{"diverged", EpochMetrics{Epoch: 4, Loss: inf, Accuracy: 0.1, ValLoss: -inf, ValAccuracy: 0.1},
			`{"epoch":4,"train_loss":null,"train_accuracy":0.1,"val_loss":null,"val_accuracy":0.1}`,
			EpochMetrics{Epoch: 4, Loss: nan, Accuracy: 0.1, ValLoss: nan, ValAccuracy: 0.1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Errorf("JSON\n got %s\nwant %s", b, tc.want)
			}
			// Inside the worker protocol's message too.
			if _, err := json.Marshal(Message{Kind: MessageEpoch, Epoch: &tc.in}); err != nil {
				t.Errorf("message: %v", err)
			}
			var got EpochMetrics
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if !sameMetrics(got, tc.back) {
				t.Errorf("read back %+v, want %+v", got, tc.back)
			}
		})
	}
}

func TestEpochMetricsMissingFieldsReadAsNaN(t *testing.T) {
	var got EpochMetrics
	if err := json.Unmarshal([]byte(`{"epoch":1,"train_loss":0.5}`), &got); err != nil {
		t.Fatal(err)
	}
	want := EpochMetrics{Epoch: 1, Loss: 0.5, Accuracy: math.NaN(), ValLoss: math.NaN(), ValAccuracy: math.NaN()}
	if !sameMetrics(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func sameMetrics(a, b EpochMetrics) bool {
	same := func(x, y float64) bool { return x == y || math.IsNaN(x) && math.IsNaN(y) }
	return a.Epoch == b.Epoch && same(a.Loss, b.Loss) && same(a.Accuracy, b.Accuracy) && same(a.ValLoss, b.ValLoss) &&
		same(a.ValAccuracy, b.ValAccuracy) && a.LearningRate == b.LearningRate && a.Seconds == b.Seconds &&
		a.SamplesPerSecond == b.SamplesPerSecond
}

// A history's best epoch by each objective: the best value in the objective's direction, the
// earliest of equals, NaN never counting; none in a history without a number.
func TestBestEpochBy(t *testing.T) {
	nan := math.NaN()
	h := History{
		TrainLoss:     []float64{0.9, 0.5, 0.5, 0.7},
		ValLoss:       []float64{nan, 0.4, 0.3, 0.3},
		TrainAccuracy: []float64{0.6, 0.8, 0.8, 0.7},
		ValAccuracy:   []float64{0.7, 0.9, 0.85, nan},
	}
	for _, tc := range []struct {
		name   string
		h      History
		o      Objective
		want   int
		wantOK bool
	}{
		{"zero value: the lowest val_loss", h, Objective{}, 2, true},
		{"val_loss", h, Objective{Monitor: "val_loss"}, 2, true},
		{"val_accuracy, greater", h, Objective{Monitor: "val_accuracy", Greater: true}, 1, true},
		{"val_accuracy, smaller", h, Objective{Monitor: "val_accuracy"}, 0, true},
		{"loss, a tie", h, Objective{Monitor: "loss"}, 1, true},
		{"accuracy, greater, a tie", h, Objective{Monitor: "accuracy", Greater: true}, 1, true},
		{"only NaN", History{TrainLoss: []float64{1}, ValLoss: []float64{nan}, TrainAccuracy: []float64{0}, ValAccuracy: []float64{nan}}, Objective{}, -1, false},
		{"empty", History{}, Objective{Monitor: "val_accuracy", Greater: true}, -1, false},
	} {
		got, ok := tc.h.BestEpochBy(tc.o)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("%s: epoch %d, %v; want %d, %v", tc.name, got, ok, tc.want, tc.wantOK)
		}
	}
	if err := (Objective{Monitor: "val_auc"}).Check(); err == nil {
		t.Error("Check takes an unknown monitor")
	}
}
