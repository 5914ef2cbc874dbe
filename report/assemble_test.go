package report

import (
	"slices"
	"testing"

	"github.com/tfsweep/tfsweep/spec"
)

func TestNaturalCompare(t *testing.T) {
	names := []string{"b007", "b7", "xavier-nobn-b128", "uniform-bn-b128", "xavier-bn-b1024", "xavier-bn-b64", "r-s10", "r-s2", "r", "xavier-bn-b128"}
	slices.SortFunc(names, naturalCompare)
	want := []string{"b007", "b7", "r", "r-s2", "r-s10", "uniform-bn-b128", "xavier-bn-b64", "xavier-bn-b128", "xavier-bn-b1024", "xavier-nobn-b128"}
	if !slices.Equal(names, want) {
		t.Errorf("sorted %q, want %q", names, want)
	}
}

func TestAssemble(t *testing.T) {
	loss := func(vs ...float64) map[string][]Point {
		m := map[string][]Point{}
		for i, v := range vs {
			m[tagLoss] = append(m[tagLoss], Point{Step: int64(i), Value: v})
		}
		return m
	}
	dirs := map[string]eventDir{
		".":                       {}, // the sweep's experiment: not a run
		"a":                       {session: true, hparams: map[string]any{"x": 1.0}, status: spec.StatusSucceeded},
		"a/train":                 {scalars: loss(0.9, 0.5)},
		"a/validation":            {scalars: loss(0.8, 0.6)},
		"b":                       {session: true, hparams: map[string]any{"x": 2.0}}, // no session end
		"keras/train":             {scalars: loss(0.4)},                               // no hparams at all
		"lonely":                  {scalars: loss(0.1)},                               // neither a session nor a parent of train/
		"a/train/plugins/profile": {},
	}
	runs := assemble(dirs)
	var names []string
	for _, r := range runs {
		names = append(names, r.Name)
	}
	if !slices.Equal(names, []string{"a", "b", "keras"}) {
		t.Fatalf("runs %q, want a, b, keras", names)
	}
	a, b, k := runs[0], runs[1], runs[2]
	if f := a.Final(); f.Loss != 0.5 || f.ValLoss != 0.6 || a.Status != spec.StatusSucceeded || a.HParams["x"] != 1.0 {
		t.Errorf("run a = %+v, final %+v", a, f)
	}
	if b.Status != spec.StatusUnknown || b.Epochs() != 0 {
		t.Errorf("run b = %+v, want status unknown and no epochs", b)
	}
	if k.HParams != nil || k.Status != spec.StatusUnknown || k.Final().Loss != 0.4 {
		t.Errorf("run keras = %+v", k)
	}
}
