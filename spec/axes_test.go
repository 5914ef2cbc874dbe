package spec

import (
	"reflect"
	"strings"
	"testing"
)

func TestTheAxesTableIsValid(t *testing.T) {
	if err := checkAxes(axes); err != nil {
		t.Fatal(err)
	}
}

// A table whose axes share a key, a flag or a default run-name part is refused, naming the clash.
func TestCheckAxesRefusesClashes(t *testing.T) {
	seed, _ := AxisByKey("seed")
	limit, _ := AxisByKey("limit")
	for _, tc := range []struct {
		name  string
		table func() []Axis
		want  string
	}{
		{"key", func() []Axis { a := limit; a.Key = "seed"; return []Axis{seed, a} }, `two axes with the key "seed"`},
		{"flag", func() []Axis { a := limit; a.Flag = "seed"; return []Axis{seed, a} }, "two axes with the flag --seed"},
		{"no flag", func() []Axis { a := seed; a.Flag = ""; return []Axis{a} }, "an axis without a key or flag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkAxes(tc.table())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	// Two axes of distinct keys and flags whose defaults name a run alike.
	twin := seed
	twin.Key, twin.Flag = "seed2", "seed2"
	if err := checkAxes([]Axis{seed, twin}); err == nil || !strings.Contains(err.Error(), `default run-name part "s1" is another axis' too`) {
		t.Errorf("error %v, want the shared name part s1", err)
	}
}

// Axes hands out copies: changing one changes neither the table nor the defaults.
func TestAxesAreImmutable(t *testing.T) {
	got := Axes()
	got[0].Key, got[0].Flag = "changed", "changed"
	if _, ok := AxisByKey("changed"); ok || Axes()[0].Key == "changed" {
		t.Error("a change to Axes' result reached the table")
	}
	d := Defaults()
	d.Hidden[0] = 7
	if Defaults().Hidden[0] == 7 {
		t.Error("a change to Defaults' hidden widths reached the table's default")
	}
}

func TestVariantProtocol(t *testing.T) {
	v := Defaults()
	v.Hidden, v.Dropout, v.Scale = []int{32, 16}, 0.25, ScaleNone
	back, err := DecodeVariant(EncodeVariant(v))
	if err != nil || !reflect.DeepEqual(back, v) {
		t.Errorf("decoded %+v, %v; want %+v", back, err, v)
	}
	if _, err := DecodeVariant(map[string]string{"depth": "3"}); err == nil || !strings.Contains(err.Error(), `unknown axis "depth"`) {
		t.Errorf("an unknown axis: %v", err)
	}
	if _, err := DecodeVariant(map[string]string{"dropout": "1.5"}); err == nil || !strings.Contains(err.Error(), "dropout") {
		t.Errorf("a bad value: %v", err)
	}
}

func TestHistory(t *testing.T) {
	var h History
	h.Append(EpochMetrics{Epoch: 0, Loss: 2, Accuracy: 0.5, ValLoss: 3, ValAccuracy: 0.4, LearningRate: 0.01})
	h.Append(EpochMetrics{Epoch: 1, Loss: 1, Accuracy: 0.7, ValLoss: 2, ValAccuracy: 0.6, LearningRate: 0.005})
	want := EpochMetrics{Epoch: 1, Loss: 1, Accuracy: 0.7, ValLoss: 2, ValAccuracy: 0.6, LearningRate: 0.005}
	if h.Len() != 2 || h.At(1) != want {
		t.Errorf("%d epochs, the last %+v; want 2, %+v", h.Len(), h.At(1), want)
	}
	// A checkpoint's history from before the rates were kept stays without them.
	old := History{TrainLoss: []float64{2}, ValLoss: []float64{3}, TrainAccuracy: []float64{0.5}, ValAccuracy: []float64{0.4}}
	old.Append(EpochMetrics{Epoch: 1, Loss: 1, LearningRate: 0.005})
	if old.Len() != 2 || len(old.LearningRate) != 0 || old.At(1).LearningRate != 0 {
		t.Errorf("history %+v: want two epochs and no rates", old)
	}
}
