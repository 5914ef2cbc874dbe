package sweep

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tfsweep/tfsweep/internal/axistest"
	"github.com/tfsweep/tfsweep/spec"
)

// flagGrid parses command-line flags such as "--seed", "1,2" into a grid, as `tfsweep run` does.
func flagGrid(t *testing.T, args ...string) (Grid, error) {
	t.Helper()
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	f := AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return f.Grid()
}

func runNames(runs []Run) []string {
	names := make([]string, len(runs))
	for i, r := range runs {
		names[i] = r.Name
	}
	return names
}

func TestLabReportPreset(t *testing.T) {
	runs, err := LabReport().Runs(DefaultMaxRuns)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"xavier-nobn-b64", "xavier-nobn-b128", "xavier-nobn-b256", "xavier-nobn-b512", "xavier-nobn-b1024",
		"xavier-bn-b64", "xavier-bn-b128", "xavier-bn-b256", "xavier-bn-b512", "xavier-bn-b1024",
		"uniform-nobn-b128", "uniform-bn-b128",
	}
	if got := runNames(runs); !slices.Equal(got, want) {
		t.Fatalf("names\n got %v\nwant %v", got, want)
	}
	for i, r := range runs {
		if r.Index != i || r.Epochs != 5 || r.LR != 0.001 || r.Seed != 1 || r.Scale != spec.ScaleUnit || r.Limit != 0 || !slices.Equal(r.Hidden, []int{128, 64}) {
			t.Errorf("%s: %+v, want the defaults (5 epochs, lr 0.001, seed 1, unit scale, all data, 128x64)", r.Name, r)
		}
	}
}

func TestRunNames(t *testing.T) {
	tests := []struct {
		name  string
		flags []string
		want  []string
	}{
		{"defaults only", nil, []string{"xavier-nobn-b128"}},
		{"canonical init name", []string{"--init", "glorot_normal", "--batchnorm", "on"}, []string{"xavier-bn-b128"}},
		// "uniform" is an initialiser here, not a random-search distribution (that takes uniform:lo:hi).
		{"uniform init", []string{"--init", "uniform"}, []string{"uniform-nobn-b128"}},
		{"seeds vary", []string{"--seed", "1,2"}, []string{"xavier-nobn-b128-s1", "xavier-nobn-b128-s2"}},
		{"lr varies", []string{"--lr", "0.001,1e-4"}, []string{"xavier-nobn-b128-lr0.001", "xavier-nobn-b128-lr0.0001"}},
		{"hidden varies", []string{"--hidden", "128x64, 256"}, []string{"xavier-nobn-b128-h128x64", "xavier-nobn-b128-h256"}},
		{"hidden alternatives by ;", []string{"--hidden", "128,64;256"}, []string{"xavier-nobn-b128-h128x64", "xavier-nobn-b128-h256"}},
		{"hidden commas are layers", []string{"--hidden", "256,128,10"}, []string{"xavier-nobn-b128"}},
		{"epochs and scale vary", []string{"--epochs", "1,2", "--scale", "unit,none"}, []string{
			"xavier-nobn-b128-e1-unit", "xavier-nobn-b128-e1-none", "xavier-nobn-b128-e2-unit", "xavier-nobn-b128-e2-none",
		}},
		{"limit varies", []string{"--limit", "0,500"}, []string{"xavier-nobn-b128-limit0", "xavier-nobn-b128-limit500"}},
		{"one value is no suffix", []string{"--seed", "7", "--lr", "0.01", "--hidden", "32"}, []string{"xavier-nobn-b128"}},
		{"order init, bn, batch", []string{"--init", "uniform,xavier", "--batchnorm", "off,on", "--batch-size", "64,32"}, []string{
			"uniform-nobn-b64", "uniform-nobn-b32", "uniform-bn-b64", "uniform-bn-b32",
			"xavier-nobn-b64", "xavier-nobn-b32", "xavier-bn-b64", "xavier-bn-b32",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := flagGrid(t, tt.flags...)
			if err != nil {
				t.Fatal(err)
			}
			runs, err := Plan{Grids: []Grid{g}}.Runs(DefaultMaxRuns)
			if err != nil {
				t.Fatal(err)
			}
			if got := runNames(runs); !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFlagValues(t *testing.T) {
	g, err := flagGrid(t, "--init", "xavier", "--batchnorm", "off,on,true,no", "--batch-size", "64, 128", "--epochs", "3",
		"--lr", "0.5,1e-3", "--hidden", "128x64,10;32,16", "--seed", "-1,42", "--scale", "NONE")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]any{
		"init": {"xavier"}, "batchnorm": {false, true, true, false}, "batch_size": {64, 128}, "epochs": {3},
		"lr": {0.5, 0.001}, "hidden": {[]int{128, 64}, []int{10}, []int{32, 16}}, "seed": {int64(-1), int64(42)},
		"scale": {spec.ScaleNone}, "limit": nil,
	}
	for key, values := range want {
		if got := g.Values(key); !reflect.DeepEqual(got, values) {
			t.Errorf("%s: got %#v, want %#v", key, got, values)
		}
	}
}

// Every bad value is refused where it is written, with the flag named in the message.
func TestBadFlags(t *testing.T) {
	tests := []struct {
		name  string
		flags []string
		want  string
	}{
		{"unknown init", []string{"--init", "xavier,bogus"}, `--init: unknown initialiser "bogus"`},
		{"empty init item", []string{"--init", "xavier,"}, "--init: empty item"},
		{"empty list", []string{"--seed", ""}, "--seed: empty list"},
		{"zero batch", []string{"--batch-size", "0"}, "--batch-size: 0 must be positive"},
		{"negative batch", []string{"--batch-size", "64,-1"}, "--batch-size: -1 must be positive"},
		{"non-numeric batch", []string{"--batch-size", "64,abc"}, `--batch-size: "abc" is not an integer`},
		{"zero epochs", []string{"--epochs", "0"}, "--epochs: 0 must be positive"},
		{"fractional epochs", []string{"--epochs", "1.5"}, `--epochs: "1.5" is not an integer`},
		{"non-numeric lr", []string{"--lr", "fast"}, `--lr: "fast" is not a number`},
		{"zero lr", []string{"--lr", "0"}, "--lr: 0 must be a positive finite number"},
		{"NaN lr", []string{"--lr", "NaN"}, "--lr: NaN must be a positive finite number"},
		{"bad batchnorm", []string{"--batchnorm", "maybe"}, `--batchnorm: "maybe" is neither on nor off`},
		{"bad hidden", []string{"--hidden", "128,6a"}, `--hidden: "128,6a" is not a list of layer widths`},
		{"bad hidden x form", []string{"--hidden", "128x64,6a"}, `--hidden: "6a" is not a list of layer widths`},
		{"empty hidden piece", []string{"--hidden", "128;"}, `--hidden: empty item`},
		{"zero width", []string{"--hidden", "128x0"}, "--hidden: layer width 0 must be in [1, 16777216]"},
		{"bad seed", []string{"--seed", "1.5"}, `--seed: "1.5" is not an integer`},
		{"bad scale", []string{"--scale", "half"}, `--scale: "half" is none of unit, none, standardize`},
		{"negative limit", []string{"--limit", "-5"}, "--limit: -5 must not be negative"},
		{"unknown activation", []string{"--activation", "relu,swoosh"}, `--activation: unknown activation "swoosh"`},
		{"unknown optimizer", []string{"--optimizer", "adamax"}, `--optimizer: unknown optimizer "adamax"`},
		{"dropout of 1", []string{"--dropout", "1"}, "--dropout: 1 is outside [0, 1)"},
		{"negative dropout", []string{"--dropout", "-0.1"}, "--dropout: -0.1 is outside [0, 1)"},
		{"negative l2", []string{"--l2", "-1e-4"}, "--l2: -0.0001 is outside [0, +Inf)"},
		{"momentum above 1", []string{"--momentum", "1.5"}, "--momentum: 1.5 is outside [0, 1]"},
		{"schedule without its parameters", []string{"--schedule", "exponential"}, "--schedule: exponential: schedule exponential: Schedule.DecaySteps (decay_steps) must be positive"},
		{"schedule with a foreign argument", []string{"--schedule", "cosine:decay_steps=10:decay_rate=0.5"}, "Schedule.DecayRate (decay_rate) does not apply"},
		{"schedule argument unknown", []string{"--schedule", "cosine:steps=10"}, `unknown argument "steps"`},
		{"unknown schedule", []string{"--schedule", "linear"}, `--schedule: unknown learning-rate schedule "linear"`},
		{"validation split of 1", []string{"--validation-split", "1"}, "--validation-split: 1 is outside [0, 1)"},
		{"early stopping argument unknown", []string{"--early-stopping", "patience=2:wait=3"}, `unknown argument "wait"`},
		{"early stopping negative patience", []string{"--early-stopping", "patience=-1"}, "negative patience"},
		{"early stopping bad monitor", []string{"--early-stopping", "patience=1:monitor=f1"}, "--early-stopping: patience=1:monitor=f1: EarlyStopping"},
		{"reduce_lr factor of 1", []string{"--reduce-lr", "factor=1:patience=2"}, "factor >= 1.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := flagGrid(t, tt.flags...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// Settings that only make sense together are checked per run, after the grid is expanded.
func TestCrossAxisChecks(t *testing.T) {
	g, err := flagGrid(t, "--optimizer", "sgd,adam", "--momentum", "0.9")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Plan{Grids: []Grid{g}}.Runs(DefaultMaxRuns)
	if err == nil || !strings.Contains(err.Error(), "run xavier-nobn-b128-adam: momentum applies to sgd and rmsprop only, not adam") {
		t.Fatalf("error %v", err)
	}
}

func TestReduceLRNeedsAConstantRate(t *testing.T) {
	g, err := flagGrid(t, "--reduce-lr", "on", "--schedule", "exponential:decay_steps=10:decay_rate=0.5")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (Plan{Grids: []Grid{g}}).Runs(DefaultMaxRuns); err == nil || !strings.Contains(err.Error(), "reduce_lr needs the constant schedule, not exponential") {
		t.Fatalf("error %v", err)
	}
}

func TestValidationSplitExamples(t *testing.T) {
	for _, tc := range []struct {
		limit      int
		split      float64
		train, val int
	}{{0, 0, 60000, 0}, {0, 0.1, 54000, 6000}, {2000, 0.25, 1500, 500}, {1000, 0.333, 667, 333}} {
		v := spec.Defaults()
		v.Limit, v.ValidationSplit = tc.limit, tc.split
		if train, val := v.Examples(60000); train != tc.train || val != tc.val {
			t.Errorf("limit %d split %v: %d/%d, want %d/%d", tc.limit, tc.split, train, val, tc.train, tc.val)
		}
	}
}

func TestDuplicateRuns(t *testing.T) {
	a, _ := flagGrid(t, "--batch-size", "64,128")
	b, _ := flagGrid(t, "--batch-size", "128")
	_, err := Plan{Grids: []Grid{a, b}}.Runs(DefaultMaxRuns)
	if err == nil || !strings.Contains(err.Error(), "xavier-nobn-b128 appears twice") {
		t.Fatalf("error %v, want a duplicate-run error", err)
	}
}

// A plan is sized before it is expanded: a grid of 1e12 variants must not be built to be refused.
func TestPlanSizeRefusedBeforeExpansion(t *testing.T) {
	var g Grid
	many := make([]any, 10_000)
	for i := range many {
		many[i] = int64(i)
	}
	g.Set("seed", many, "--seed")
	lrs := make([]any, 10_000)
	for i := range lrs {
		lrs[i] = float64(i + 1)
	}
	g.Set("lr", lrs, "--lr")
	g.Set("epochs", []any{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, "--epochs")
	p := Plan{Grids: []Grid{g, g}}
	if n := p.Size(); n != 2_000_000_000 {
		t.Fatalf("size %d", n)
	}
	if _, err := p.Runs(DefaultMaxRuns); err == nil || !strings.Contains(err.Error(), "2000000000 runs, more than --max-runs 10000") {
		t.Fatalf("error %v", err)
	}
}

func TestCheckData(t *testing.T) {
	g, _ := flagGrid(t, "--batch-size", "64,2048")
	plan := Plan{Grids: []Grid{g}}
	runs, err := plan.Runs(DefaultMaxRuns)
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.CheckData(runs, 2048, 784, 10); err != nil {
		t.Errorf("2048 examples: %v", err)
	}
	err = plan.CheckData(runs, 2000, 784, 10)
	if err == nil || !strings.Contains(err.Error(), "--batch-size: 2048 is larger than the 2000 training examples") {
		t.Errorf("2000 examples: error %v", err)
	}
	if err := plan.CheckData(runs, 0, 784, 10); err == nil {
		t.Error("an empty training set was accepted")
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		want  []string
		check func(t *testing.T, runs []Run)
	}{
		{
			name: "defaults, top-level limit and two grids",
			yaml: "limit: 500\ndefaults:\n  epochs: 2\ngrids:\n  - batch_size: [32, 64]\n  - init: uniform\n    epochs: 1\n",
			want: []string{"xavier-nobn-b32-e2", "xavier-nobn-b64-e2", "uniform-nobn-b128-e1"},
			check: func(t *testing.T, runs []Run) {
				for _, r := range runs {
					if r.Limit != 500 {
						t.Errorf("%s: limit %d, want 500", r.Name, r.Limit)
					}
				}
			},
		},
		{
			name: "scalar axes and on/off",
			yaml: "grids:\n  - init: xavier\n    batchnorm: on\n    lr: 0.01\n    seed: 3\n    scale: none\n",
			want: []string{"xavier-bn-b128"},
			check: func(t *testing.T, runs []Run) {
				if r := runs[0]; r.LR != 0.01 || r.Seed != 3 || r.Scale != spec.ScaleNone || !r.BatchNorm {
					t.Errorf("got %+v", r.Variant)
				}
			},
		},
		{
			name: "hidden as one flat list",
			yaml: "grids:\n  - hidden: [256, 128, 10]\n",
			want: []string{"xavier-nobn-b128"},
			check: func(t *testing.T, runs []Run) {
				if !slices.Equal(runs[0].Hidden, []int{256, 128, 10}) {
					t.Errorf("hidden %v", runs[0].Hidden)
				}
			},
		},
		{
			name: "hidden alternatives, nested and x forms",
			yaml: "grids:\n  - hidden: [[128, 64], [32]]\n  - batch_size: 64\n    hidden: [\"128x64\", \"32\"]\n",
			want: []string{"xavier-nobn-b128-h128x64", "xavier-nobn-b128-h32", "xavier-nobn-b64-h128x64", "xavier-nobn-b64-h32"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := ParseConfig(strings.NewReader(tt.yaml), "sweep.yaml")
			if err != nil {
				t.Fatal(err)
			}
			runs, err := plan.Runs(DefaultMaxRuns)
			if err != nil {
				t.Fatal(err)
			}
			if got := runNames(runs); !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			if tt.check != nil {
				tt.check(t, runs)
			}
		})
	}
}

func TestBadConfig(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{"malformed", "grids:\n  - init: xavier\n  - batch_size: 3\n    x: : :\n", "sweep.yaml: line 4: mapping values are not allowed"},
		{"unclosed list", "grids:\n  - init: [xavier\n", "sweep.yaml: line 1: did not find expected ','"},
		{"tab indentation", "grids:\n\t- init: xavier\n", "sweep.yaml: line 2"},
		{"unknown top key", "grid:\n  - init: xavier\n", `sweep.yaml:1: unknown key "grid" (did you mean "grids"?)`},
		{"unknown grid key", "grids:\n  - init: xavier\n    batch: 64\n", `sweep.yaml:3: unknown key "batch"`},
		{"key twice", "grids:\n  - seed: 1\n    seed: 2\n", "sweep.yaml:3"},
		{"bad item with line", "grids:\n  - batch_size:\n      - 64\n      - big\n", `sweep.yaml:4: batch_size: "big" is not an integer`},
		{"range with line", "grids:\n  - init: xavier\n  - epochs: [1, -3]\n", "sweep.yaml:3: epochs: -3 must be positive"},
		{"unknown init with line", "grids:\n  - init: lecun\n", `sweep.yaml:2: init: unknown initialiser "lecun"`},
		{"bad init type", "grids:\n  - init: {a: b}\n", "sweep.yaml:2: init: a distribution is one of"},
		{"empty list", "grids:\n  - lr: []\n", "sweep.yaml:2: lr: empty list"},
		{"bad hidden", "grids:\n  - hidden: [128, wide]\n", `sweep.yaml:2: hidden: "128,wide" is not a list of layer widths`},
		{"bad defaults", "defaults:\n  epochs: many\ngrids:\n  - init: xavier\n", `sweep.yaml:2: epochs: "many" is not an integer`},
		{"limit not a number", "limit: lots\ngrids:\n  - init: xavier\n", `sweep.yaml:1: limit: "lots" is not an integer`},
		{"no grids", "defaults:\n  epochs: 1\n", "no grids"},
		{"data not a spec", "data: [npz, x]\ngrids:\n  - init: xavier\n", "sweep.yaml:1: data: expected a data source"},
		{"grids not a list", "grids: 3\n", "grids: expected a list of grids"},
		{"empty file", "", "sweep.yaml: the file is empty"},
		{"not a mapping", "- 1\n", "expected a mapping"},
		{"alias", "defaults: &d\n  epochs: 1\ngrids:\n  - *d\n", "YAML aliases are not allowed"},
		{"deep nesting", "grids:\n  - hidden: [[[[[[[[[[1]]]]]]]]]]\n", "nested too deeply"},
		{"too large", "grids:\n  - seed: [" + strings.Repeat("1, ", maxConfigBytes/3) + "1]\n", "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig(strings.NewReader(tt.yaml), "sweep.yaml")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestConfigData reads a sweep file's data source and records it in the plan's own sweep file.
func TestConfigData(t *testing.T) {
	plan, err := ParseConfig(strings.NewReader("data: images:pics:size=32x32\ngrids:\n  - init: xavier\n"), "sweep.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if plan.Data != "images:pics:size=32x32" || plan.dataOrigin != "sweep.yaml:1: data" {
		t.Errorf("data %q from %q, want images:pics:size=32x32 from sweep.yaml:1: data", plan.Data, plan.dataOrigin)
	}
	recorded, err := ParseConfig(bytes.NewReader(plan.YAML()), PlanFile)
	if err != nil {
		t.Fatalf("the recorded plan does not read back: %v\n%s", err, plan.YAML())
	}
	if recorded.Data != plan.Data {
		t.Errorf("recorded data %q, want %q", recorded.Data, plan.Data)
	}
}

func TestReadConfigMissingFile(t *testing.T) {
	_, err := ReadConfig("testdata/no-such-file.yaml")
	if err == nil || !strings.Contains(err.Error(), "open testdata/no-such-file.yaml") || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("error %v", err)
	}
}

func TestNewPlanAppliesOtherAxesToThePreset(t *testing.T) {
	g, _ := flagGrid(t, "--scale", "none", "--epochs", "2")
	plan, err := NewPlan("", g, nil)
	if err != nil {
		t.Fatal(err)
	}
	runs, err := plan.Runs(DefaultMaxRuns)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 12 {
		t.Fatalf("%d runs, want the preset's 12", len(runs))
	}
	for _, r := range runs {
		if r.Scale != spec.ScaleNone || r.Epochs != 2 {
			t.Errorf("%s: scale %v epochs %d, want none and 2", r.Name, r.Scale, r.Epochs)
		}
	}
	if got := runs[0].Name; got != "xavier-nobn-b64" {
		t.Errorf("first run %q, want xavier-nobn-b64 (names only carry axes that vary)", got)
	}
}

func TestNewPlan(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "sweep.yaml")
	if err := os.WriteFile(config, []byte("limit: 300\ngrids:\n  - batch_size: [32, 64]\n    epochs: 3\n  - init: uniform\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		config    string
		flags     []string
		want      []string
		wantLimit int
	}{
		{"preset", "", nil, nil, 0},
		{"flags make one grid", "", []string{"--batchnorm", "on", "--seed", "4", "--limit", "100"}, []string{"xavier-bn-b128"}, 100},
		{"config", config, nil, []string{"xavier-nobn-b32-e3", "xavier-nobn-b64-e3", "uniform-nobn-b128-e5"}, 300},
		{"flags override every grid of the config", config, []string{"--epochs", "1", "--batchnorm", "on", "--limit", "100"},
			[]string{"xavier-bn-b32", "xavier-bn-b64", "uniform-bn-b128"}, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := flagGrid(t, tt.flags...)
			if err != nil {
				t.Fatal(err)
			}
			plan, err := NewPlan(tt.config, g, nil)
			if err != nil {
				t.Fatal(err)
			}
			runs, err := plan.Runs(DefaultMaxRuns)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == nil {
				if len(runs) != 12 {
					t.Errorf("%d runs, want the preset's 12", len(runs))
				}
			} else if got := runNames(runs); !slices.Equal(got, tt.want) {
				t.Errorf("runs %v, want %v", got, tt.want)
			}
			for _, r := range runs {
				if r.Limit != tt.wantLimit {
					t.Errorf("%s: limit %d, want %d", r.Name, r.Limit, tt.wantLimit)
				}
			}
		})
	}
}

// TestEveryAxisReachesTheFront checks that every declared axis reaches every place of the front
// that reads the table: its flag, its YAML key, the run name when it varies, the hparams, the
// config text, the JSON summary and the worker protocol. worker's TestEveryAxisChangesWhatTheWorkerTrains
// follows it from there into what the worker trains.
func TestEveryAxisReachesTheFront(t *testing.T) {
	for _, a := range spec.Axes() {
		t.Run(a.Key, func(t *testing.T) {
			s, ok := axistest.Samples[a.Key]
			if !ok {
				t.Fatalf("no sample values for axis %s in axistest.Samples", a.Key)
			}
			flags := []string{"--" + a.Flag, s[0] + listSeparator(a) + s[1]}
			yaml := "grids:\n  - " + a.Key + ": [" + yamlItem(a, s[0]) + ", " + yamlItem(a, s[1]) + "]\n"
			for key, value := range axistest.Context[a.Key] {
				other, _ := spec.AxisByKey(key)
				flags = append(flags, "--"+other.Flag, value)
				yaml += "    " + key + ": " + value + "\n"
			}
			fromFlag, err := flagGrid(t, flags...)
			if err != nil {
				t.Fatalf("flag --%s: %v", a.Flag, err)
			}
			fromYAML, err := ParseConfig(strings.NewReader(yaml), "sweep.yaml")
			if err != nil {
				t.Fatalf("YAML key %s: %v", a.Key, err)
			}
			for what, p := range map[string]Plan{"flags": {Grids: []Grid{fromFlag}}, "yaml": fromYAML} {
				runs, err := p.Runs(DefaultMaxRuns)
				if err != nil || len(runs) != 2 {
					t.Fatalf("%s: %d runs, %v", what, len(runs), err)
				}
				want := s
				if a.Key == "model" { // a model file is recorded as an absolute path
					want[1], _ = filepath.Abs(s[1])
				}
				if a.Text(runs[0].Variant) != want[0] || a.Text(runs[1].Variant) != want[1] {
					t.Errorf("%s: values %s, %s, want %s, %s", what, a.Text(runs[0].Variant), a.Text(runs[1].Variant), want[0], want[1])
				}
				if runs[0].Name == runs[1].Name {
					t.Errorf("%s: both runs are named %s", what, runs[0].Name)
				}
				for _, r := range runs {
					if hp, ok := r.HParams()[a.Key]; !ok || hp != a.HParam(r.Variant) {
						t.Errorf("hparams of %s lack %s", r.Name, a.Key)
					}
					if md := spec.ConfigMarkdown(r.Name, r.Variant); !strings.Contains(md, "| "+a.Key+" | "+a.Text(r.Variant)+" |") {
						t.Errorf("config text of %s lacks %s:\n%s", r.Name, a.Key, md)
					}
					raw, err := json.Marshal(RunResult{Name: r.Name, Variant: r.Variant})
					var doc map[string]any
					if err != nil || json.Unmarshal(raw, &doc) != nil {
						t.Fatalf("JSON: %v\n%s", err, raw)
					}
					if _, ok := doc[a.Key]; !ok {
						t.Errorf("JSON of %s lacks %s: %s", r.Name, a.Key, raw)
					}
					job := spec.Job{Variant: spec.EncodeVariant(r.Variant)}
					if r.Model.File != "" {
						net, err := r.Network(784, 10)
						if err != nil {
							t.Fatal(err)
						}
						job.Network = &net
					}
					back, err := job.DecodedVariant()
					if err != nil || !reflect.DeepEqual(back, r.Variant) {
						t.Errorf("the worker protocol does not carry %s: %+v, %v", a.Key, back, err)
					}
					if v, err := a.FromHParam(a.HParam(r.Variant)); err != nil || !a.Equal(r.Variant, with(a, r.Variant, v)) {
						t.Errorf("%s does not read back from its hparam: %v", a.Key, err)
					}
				}
			}
		})
	}
}

func listSeparator(a spec.Axis) string {
	if a.Key == "hidden" {
		return ";"
	}
	return ","
}

func yamlItem(a spec.Axis, s string) string {
	if a.Key == "hidden" {
		return `"` + s + `"`
	}
	return s
}

func with(a spec.Axis, v spec.Variant, value any) spec.Variant {
	a.Set(&v, value)
	return v
}

func TestRunResultJSON(t *testing.T) {
	r := RunResult{Name: "xavier-nobn-b128", Status: spec.StatusSucceeded, Variant: spec.Defaults(), History: spec.EmptyHistory()}
	raw, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"xavier-nobn-b128","dir":"","status":"succeeded","error":"","model":"mlp","init":"xavier","batchnorm":false,` +
		`"batch_size":128,"lr":0.001,"hidden":[128,64],"seed":1,"epochs":5,"scale":"unit","limit":0,"activation":"tanh",` +
		`"optimizer":"adam","momentum":0,"nesterov":false,"dropout":0,"l2":0,"schedule":"constant","validation_split":0,` +
		`"early_stopping":"off","reduce_lr":"off","train_examples":0,` +
		`"epochs_completed":0,"stopped_epoch":null,"best_epoch":null,"final":null,"history":{"train_loss":[],"val_loss":[],"train_accuracy":[],"val_accuracy":[]},` +
		`"fit_seconds":0,"samples_per_second":0,"saved_model":""}`
	if string(raw) != want {
		t.Errorf("got  %s\nwant %s", raw, want)
	}
}

// Sizes saturate instead of wrapping: a size that wrapped negative once passed the --max-runs check
// and the plan was expanded without bound.
func TestPlanSizeSaturates(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec string
		want int
	}{
		{"trials times seeds", "trials: 4611686018427387904\ngrids:\n  - seed: [1, 2]\n    lr: {log_uniform: [0.0001, 0.01]}\n", maxPlanSize},
		{"largest trials", "trials: 9223372036854775807\ngrids:\n  - lr: {log_uniform: [0.0001, 0.01]}\n", maxPlanSize},
		{"trials of two grids", "trials: 1099511627775\ngrids:\n  - lr: {log_uniform: [0.0001, 0.01]}\n  - lr: {uniform: [0.001, 0.01]}\n", maxPlanSize},
		{"small trials", "trials: 3\ngrids:\n  - seed: [1, 2]\n    lr: {log_uniform: [0.0001, 0.01]}\n", 6},
		{"lists", "grids:\n  - seed: [1, 2, 3]\n    batch_size: [1, 2]\n  - epochs: 1\n", 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseConfig(strings.NewReader(tc.spec), "sweep.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if n := p.Size(); n != tc.want {
				t.Errorf("size %d, want %d", n, tc.want)
			}
		})
	}
	for _, tc := range []struct{ a, b, want int }{
		{0, 5, 0}, {3, 4, 12}, {maxPlanSize, 1, maxPlanSize}, {maxPlanSize, 2, maxPlanSize},
		{1 << 30, 1 << 30, maxPlanSize}, {1 << 62, 1 << 62, maxPlanSize}, {math.MaxInt, 3, maxPlanSize},
	} {
		if got := mulSat(tc.a, tc.b); got != tc.want {
			t.Errorf("mulSat(%d, %d) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

// A sweep file is one document with every key once: the duplicate, the second document or the
// trailing data a parser would silently drop are refused with their line.
func TestConfigStrict(t *testing.T) {
	for _, tc := range []struct{ name, spec, want string }{
		{"duplicate top-level key in JSON", `{"limit": 5, "limit": 6, "grids": [{}]}`, `sweep.yaml:1: "limit" appears twice (first on line 1)`},
		{"duplicate top-level key in YAML", "limit: 5\ngrids: [{}]\nlimit: 6\n", `sweep.yaml:3: "limit" appears twice (first on line 1)`},
		{"duplicate axis in a grid", "grids:\n  - batch_size: 3\n    batch_size: 4\n", `sweep.yaml:3: "batch_size" appears twice (first on line 2)`},
		{"duplicate in defaults", "defaults:\n  epochs: 1\n  epochs: 2\ngrids: [{}]\n", `sweep.yaml:3: "epochs" appears twice`},
		{"duplicate in a distribution", "trials: 2\ngrids:\n  - lr:\n      uniform: [0.1, 0.2]\n      uniform: [0.3, 0.4]\n", `sweep.yaml:5: "uniform" appears twice (first on line 4)`},
		{"second YAML document", "grids: [{}]\n---\ngrids: [{}]\n", "sweep.yaml:2: a second document"},
		{"empty second document", "grids: [{}]\n---\n", "sweep.yaml:2: a second document"},
		{"trailing JSON", "{\"grids\": [{}]}\n\n  garbage", "sweep.yaml:3: data after the document"},
		{"second JSON object", `{"grids": [{}]}{"grids": [{}]}`, "sweep.yaml:1: data after the document"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig(strings.NewReader(tc.spec), "sweep.yaml")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := ParseConfig(strings.NewReader("{\"grids\": [{\"batch_size\": 3}]}\n"), "sweep.yaml"); err != nil {
		t.Errorf("a plain JSON sweep file: %v", err)
	}
}
