package summary

import (
	"bytes"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

func TestNewPRCurve(t *testing.T) {
	for _, tc := range []struct {
		name       string
		positive   []bool
		prob       []float32
		thresholds int
		want       PRCurve
	}{{
		// buckets floor(p*2): 0.1 and 0.4 in 0, 0.5 and 0.9 in 1, 1 in 2.
		name:     "three thresholds",
		positive: []bool{true, false, true, false, true}, prob: []float32{0.1, 0.4, 0.5, 0.9, 1}, thresholds: 3,
		want: PRCurve{
			TruePositives: []float64{3, 2, 1}, FalsePositives: []float64{2, 1, 0},
			TrueNegatives: []float64{0, 1, 2}, FalseNegatives: []float64{0, 1, 2},
			Precision: []float64{3.0 / 5, 2.0 / 3, 1}, Recall: []float64{1, 2.0 / 3, 1.0 / 3},
		},
	}, {
		// No positives: precision and recall 0, not NaN; no example at the top: 0 of 0 is 0.
		name:     "no positives",
		positive: []bool{false, false}, prob: []float32{0, 0.25}, thresholds: 2,
		want: PRCurve{
			TruePositives: []float64{0, 0}, FalsePositives: []float64{2, 0},
			TrueNegatives: []float64{0, 2}, FalseNegatives: []float64{0, 0},
			Precision: []float64{0, 0}, Recall: []float64{0, 0},
		},
	}, {
		// 0.29 is just below 0.3: 0.29*10 in float32 is 2.9, bucket 2; 0.3*10 is bucket 3.
		name:     "float32 buckets",
		positive: []bool{true, true}, prob: []float32{0.29, 0.3}, thresholds: 11,
		want: func() PRCurve {
			c := PRCurve{TruePositives: []float64{2, 2, 2, 1, 0, 0, 0, 0, 0, 0, 0}}
			for i := range 11 {
				tp := c.TruePositives[i]
				c.FalsePositives = append(c.FalsePositives, 0)
				c.TrueNegatives = append(c.TrueNegatives, 0)
				c.FalseNegatives = append(c.FalseNegatives, 2-tp)
				c.Precision = append(c.Precision, tp/math.Max(1e-7, tp))
				c.Recall = append(c.Recall, tp/2)
			}
			return c
		}(),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NewPRCurve(tc.positive, tc.prob, tc.thresholds)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestPRCurveRefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		name       string
		positive   []bool
		prob       []float32
		thresholds int
		want       string
	}{
		{"lengths", []bool{true}, []float32{0.5, 0.5}, 3, "1 labels and 2 probabilities"},
		{"one threshold", []bool{true}, []float32{0.5}, 1, "1 thresholds"},
		{"above one", []bool{true, false}, []float32{0.5, 1.5}, 3, "probability 1.5 of example 1"},
		{"negative", []bool{true}, []float32{-0.1}, 3, "probability -0.1 of example 0"},
		{"NaN", []bool{true}, []float32{float32(math.NaN())}, 3, "probability NaN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewPRCurve(tc.positive, tc.prob, tc.thresholds); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

func TestClassPRCurves(t *testing.T) {
	// Two classes, three examples labelled 0, 1, 1.
	probs := []float32{0.75, 0.25, 0.5, 0.5, 0, 1}
	curves, err := ClassPRCurves(probs, []int{0, 1, 1}, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range [][]float64{{1, 1, 0}, {2, 2, 1}} { // true positives per class
		if !reflect.DeepEqual(curves[k].TruePositives, want) {
			t.Errorf("class %d: true positives %v, want %v", k, curves[k].TruePositives, want)
		}
	}
	if _, err := ClassPRCurves(probs, []int{0, 2, 1}, 2, 3); err == nil || !strings.Contains(err.Error(), "label 2 of example 1") {
		t.Errorf("a label out of range: error %v", err)
	}
	if _, err := ClassPRCurves(probs, []int{0, 1}, 2, 3); err == nil {
		t.Error("6 probabilities taken as 2 rows of 2 classes")
	}
}

// TestPRCurveRoundTrip writes a curve and reads it back: the [6, n] float32 tensor and the
// threshold count in the plugin data, as TensorBoard's pr_curve summary writes them.
func TestPRCurveRoundTrip(t *testing.T) {
	c, err := NewPRCurve([]bool{true, false, true}, []float32{0.2, 0.6, 0.7}, 5)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := NewEventWriter(&buf)
	if err := w.PRCurve("pr_curves/cat", 3, c); err != nil {
		t.Fatal(err)
	}
	if err := w.PRCurve("pr_curves/cat", 4, PRCurve{Precision: []float64{1, 1}}); err == nil {
		t.Error("a curve with empty rows was written")
	}
	if err := w.Close(); err != nil { // a refused value is not a sticky error
		t.Fatal(err)
	}
	r := NewReader(&buf, "mem")
	var got *Value
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for i := range ev.Values {
			got = &ev.Values[i]
		}
	}
	if got == nil || got.Plugin != PluginPRCurves || got.PRCurve == nil {
		t.Fatalf("read back %+v", got)
	}
	want := c
	for _, row := range []*[]float64{&want.Precision, &want.Recall} {
		r := make([]float64, len(*row))
		for i, x := range *row {
			r[i] = float64(float32(x))
		}
		*row = r
	}
	if !reflect.DeepEqual(*got.PRCurve, want) {
		t.Errorf("read back %+v\nwant      %+v", *got.PRCurve, want)
	}
	num, typ, n := protowire.ConsumeTag(got.PluginContent)
	thresholds, _ := protowire.ConsumeVarint(got.PluginContent[n:])
	if num != 2 || typ != protowire.VarintType || thresholds != 5 {
		t.Errorf("plugin content %x: want num_thresholds (field 2) = 5", got.PluginContent)
	}
}
