package report

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"testing"

	"github.com/tfsweep/tfsweep/spec"
)

// presetRun is one of the lab report's twelve variants with made-up, distinct curves: the final
// train loss is 0.5 − 0.01·k and the final validation loss 0.6 − 0.01·k for the k-th variant, so a
// test can tell every cell apart.
type presetRun struct {
	name    string
	variant Variant
	k       int
}

func presetRuns() []presetRun {
	var out []presetRun
	k := 0
	add := func(init string, bn bool, bs int) {
		name := fmt.Sprintf("%s-%s-b%d", init, map[bool]string{false: "nobn", true: "bn"}[bn], bs)
		out = append(out, presetRun{name: name, variant: Variant{Init: init, BatchNorm: bn, BatchSize: bs}, k: k})
		k++
	}
	for _, bn := range []bool{false, true} {
		for _, bs := range []int{64, 128, 256, 512, 1024} {
			add("xavier", bn, bs)
		}
	}
	add("uniform", false, 128)
	add("uniform", true, 128)
	return out
}

// Values are float32, as TensorBoard scalars are, so that they read back from event files unchanged.
func (p presetRun) finalTrain() float64 { return f32(0.5 - 0.01*float64(p.k)) }
func (p presetRun) finalVal() float64   { return f32(0.6 - 0.01*float64(p.k)) }

func f32(v float64) float64 { return float64(float32(v)) }

// curve is a decreasing five-epoch curve ending at last.
func curve(last float64, epochs int) Series {
	s := make(Series, epochs)
	for e := range epochs {
		s[e] = Point{Step: int64(e), Value: f32(last + 0.1*float64(epochs-1-e))}
	}
	return s
}

func (p presetRun) hparams() map[string]any {
	return map[string]any{
		"init": p.variant.Init, "batchnorm": p.variant.BatchNorm, "batch_size": float64(p.variant.BatchSize),
		"lr": 0.001, "epochs": 5.0, "seed": 1.0, "hidden": "128,64", "scale": "unit", "limit": 0.0,
	}
}

// memorySweep builds the preset sweep in memory, as Load would return it.
func memorySweep(dir string) *Sweep {
	s := &Sweep{Dir: dir}
	for _, p := range presetRuns() {
		s.Runs = append(s.Runs, Run{
			Name: p.name, HParams: p.hparams(), Status: spec.StatusSucceeded,
			Curves: Curves{
				TrainLoss: curve(p.finalTrain(), 5), ValLoss: curve(p.finalVal(), 5),
				TrainAccuracy: curve(0.9+0.001*float64(p.k), 5), ValAccuracy: curve(0.8+0.001*float64(p.k), 5),
			},
		})
	}
	return s
}

func f4(v float64) string {
	if math.IsNaN(v) {
		return missing
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}

// presetSweepRuns is the twelve runs of memorySweep.
func presetSweepRuns() []Run { return memorySweep("").Runs }

// buildSweep writes the runs into a fresh sweep directory with summary's writer, reads it back with
// Load and checks that Load returns the runs as written.
func buildSweep(t *testing.T, runs []Run) *Sweep {
	t.Helper()
	dir := t.TempDir()
	writeSweep(t, dir, runs)
	s, err := Load(context.Background(), dir)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := slices.Clone(runs)
	slices.SortFunc(want, compareRuns)
	for i := range want {
		if want[i].Curves.TrainLoss == nil {
			want[i].Curves.TrainLoss = Series{}
		}
	}
	if s.Dir != dir || len(s.Runs) != len(want) {
		t.Fatalf("Load: dir %s, %d runs; want %s, %d", s.Dir, len(s.Runs), dir, len(want))
	}
	for i, got := range s.Runs {
		w := want[i]
		if got.Name != w.Name || got.Status != w.Status || got.Reason != w.Reason || !reflect.DeepEqual(got.HParams, w.HParams) ||
			!sameSeries(got.Curves.TrainLoss, w.Curves.TrainLoss) || !sameSeries(got.Curves.ValLoss, w.Curves.ValLoss) ||
			!sameSeries(got.Curves.TrainAccuracy, w.Curves.TrainAccuracy) || !sameSeries(got.Curves.ValAccuracy, w.Curves.ValAccuracy) {
			t.Fatalf("Load: run %d =\n%+v\nwant\n%+v", i, got, w)
		}
	}
	return s
}

// sameSeries compares steps and values: a point's wall time is when the fixture was written.
func sameSeries(a, b Series) bool {
	return slices.EqualFunc(a, b, func(p, q Point) bool { return p.Step == q.Step && p.Value == q.Value })
}
