package spec

import (
	"math"
	"testing"
)

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
