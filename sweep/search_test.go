package sweep

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/summary"
)

func searchPlan(t *testing.T, trials int, seed int64, flags ...string) Plan {
	t.Helper()
	g, err := flagGrid(t, flags...)
	if err != nil {
		t.Fatal(err)
	}
	return Plan{Grids: []Grid{g}, Trials: trials, SearchSeed: seed}
}

func TestRandomSearchDraws(t *testing.T) {
	flags := []string{"--lr", "log_uniform:1e-4:1e-2", "--dropout", "uniform:0:0.5", "--batch-size", "choice:64:128:256", "--batchnorm", "off,on"}
	runs, err := searchPlan(t, 5, 42, flags...).Runs(DefaultMaxRuns)
	if err != nil {
		t.Fatal(err)
	}
	// Lists are crossed, each grid point draws its trials.
	if len(runs) != 10 || runs[0].Name != "xavier-nobn-t001" || runs[9].Name != "xavier-bn-t010" || runs[9].Trial != 10 {
		t.Fatalf("names %v", runNames(runs))
	}
	sizes := map[int]bool{}
	for _, r := range runs {
		if !(r.LR >= 1e-4 && r.LR < 1e-2) || !(r.Dropout >= 0 && r.Dropout < 0.5) {
			t.Errorf("%s: lr %v dropout %v outside their ranges", r.Name, r.LR, r.Dropout)
		}
		switch r.BatchSize {
		case 64, 128, 256:
			sizes[r.BatchSize] = true
		default:
			t.Errorf("%s: batch size %d is no choice", r.Name, r.BatchSize)
		}
	}
	if len(sizes) < 2 {
		t.Errorf("10 draws of 3 batch sizes gave only %v", sizes)
	}
	again, _ := searchPlan(t, 5, 42, flags...).Runs(DefaultMaxRuns)
	if !reflect.DeepEqual(again, runs) {
		t.Error("the same seed drew other trials")
	}
	other, _ := searchPlan(t, 5, 43, flags...).Runs(DefaultMaxRuns)
	if reflect.DeepEqual(other, runs) {
		t.Error("another seed drew the same trials")
	}
}

// log_uniform draws are uniform in log space: over many draws, each decade gets its share.
func TestLogUniformIsUniformInLogSpace(t *testing.T) {
	runs, err := searchPlan(t, 4000, 7, "--lr", "log_uniform:1e-4:1e-1").Runs(DefaultMaxRuns)
	if err != nil {
		t.Fatal(err)
	}
	decades := make([]int, 3)
	for _, r := range runs {
		decades[int(math.Floor(math.Log10(r.LR)))+4]++
	}
	for i, n := range decades {
		// 4000/3 per decade; 5 standard deviations of a binomial(4000, 1/3) is about 149.
		if math.Abs(float64(n)-4000.0/3) > 150 {
			t.Errorf("decade 1e%d holds %d of 4000 draws", i-4, n)
		}
	}
}

func TestBadSearch(t *testing.T) {
	tests := []struct {
		name   string
		trials int
		flags  []string
		want   string
	}{
		{"trials without a distribution", 5, []string{"--lr", "0.1,0.01"}, "--trials: no axis is a distribution"},
		{"distribution without trials", 0, []string{"--lr", "log_uniform:1e-4:1e-2"}, "--lr: a distribution needs --trials N"},
		{"lo not below hi", 3, []string{"--lr", "uniform:0.1:0.01"}, "--lr: uniform: lo 0.1 must be below hi 0.01"},
		{"log_uniform from zero", 3, []string{"--dropout", "log_uniform:0:0.5"}, "--dropout: log_uniform: bounds must be positive"},
		{"bound outside the axis", 3, []string{"--dropout", "uniform:0:1.5"}, "--dropout: uniform: bound 1.5 is outside [0, 1)"},
		{"range of a name", 3, []string{"--activation", "uniform:0:1"}, "--activation: uniform: activation takes lists or choice:, not a range"},
		{"one bound", 3, []string{"--lr", "uniform:0.1"}, "want two bounds"},
		{"bad choice", 3, []string{"--activation", "choice:relu:nope"}, `--activation: choice: unknown activation "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := flagGrid(t, tt.flags...)
			if err == nil {
				_, err = Plan{Grids: []Grid{g}, Trials: tt.trials}.Runs(DefaultMaxRuns)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestSearchFromYAML(t *testing.T) {
	plan, err := ParseConfig(strings.NewReader("trials: 4\nsearch_seed: 9\ngrids:\n  - lr: {log_uniform: [1e-4, 1e-2]}\n    batch_size: {choice: [64, 128]}\n"), "sweep.yaml")
	if err != nil {
		t.Fatal(err)
	}
	runs, err := plan.Runs(DefaultMaxRuns)
	if err != nil || len(runs) != 4 {
		t.Fatalf("%d runs, %v", len(runs), err)
	}
	flags, _ := searchPlan(t, 4, 9, "--lr", "log_uniform:1e-4:1e-2", "--batch-size", "choice:64:128").Runs(DefaultMaxRuns)
	if !reflect.DeepEqual(runs, flags) {
		t.Errorf("YAML and flags of the same search drew differently:\n%v\n%v", runs, flags)
	}
	for _, bad := range []struct{ yaml, want string }{
		{"trials: 2\ngrids:\n  - lr: {log_uniform: [0, 1e-2]}\n", "sweep.yaml:3: lr: log_uniform: bound 0 must be a positive finite number"},
		{"trials: 2\ngrids:\n  - lr: {normal: [0, 1]}\n", `sweep.yaml:3: lr: unknown distribution "normal"`},
		{"trials: -1\ngrids:\n  - lr: 0.1\n", "sweep.yaml:1: trials"},
	} {
		if _, err := ParseConfig(strings.NewReader(bad.yaml), "sweep.yaml"); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: error %v, want %q", bad.yaml, err, bad.want)
		}
	}
}

// The experiment declares a drawn axis as an interval, so TensorBoard's parallel coordinates show a
// range; listed axes stay discrete. The axes that vary come first.
func TestExperimentIntervals(t *testing.T) {
	plan := searchPlan(t, 3, 1, "--lr", "log_uniform:1e-4:1e-2", "--batchnorm", "off,on")
	runs, err := plan.Runs(DefaultMaxRuns)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := writeExperiment(dir, plan, runs, time.Now()); err != nil {
		t.Fatal(err)
	}
	files, _ := summary.EventFiles(dir)
	events, err := summary.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var exp *summary.Experiment
	for _, e := range events {
		for _, v := range e.Values {
			if v.HParams != nil && v.HParams.Experiment != nil {
				exp = v.HParams.Experiment
			}
		}
	}
	if exp == nil {
		t.Fatal("no experiment written")
	}
	// The axes that vary come first, marked, in the axes' order; the constant ones follow.
	if n := len(exp.HParams); n != len(spec.Axes()) || exp.HParams[0].Name != "batchnorm" || exp.HParams[1].Name != "lr" {
		t.Fatalf("experiment hparams %v, want every axis with batchnorm and lr first", exp.HParams)
	}
	for i, h := range exp.HParams {
		if h.Differs != (i < 2) {
			t.Errorf("hparam %d %s: differs %v", i, h.Name, h.Differs)
		}
	}
	for _, h := range exp.HParams {
		switch h.Name {
		case "lr":
			if h.Interval == nil || h.Interval.Min != 1e-4 || h.Interval.Max != 1e-2 || h.Discrete != nil {
				t.Errorf("lr: %+v, want the interval [1e-4, 1e-2]", h)
			}
		case "batchnorm":
			if h.Interval != nil || len(h.Discrete) != 2 {
				t.Errorf("batchnorm: %+v, want two discrete values", h)
			}
		}
	}
}
