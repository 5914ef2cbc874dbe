package trainer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// testInit stands in for model.ParseInit: the grid code only needs "canonicalise or refuse".
func testInit(name string) (string, error) {
	switch name {
	case "xavier", "glorot_normal":
		return "xavier", nil
	case "uniform", "he_normal":
		return name, nil
	}
	return "", fmt.Errorf("unknown initialiser %q", name)
}

func runNames(runs []Run) []string {
	names := make([]string, len(runs))
	for i, r := range runs {
		names[i] = r.Name
	}
	return names
}

func TestLabReportPreset(t *testing.T) {
	runs, err := Plan{Grids: LabReport()}.Runs(testInit)
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
	for _, r := range runs {
		if r.Epochs != 5 || r.LR != 0.001 || r.Seed != 1 || r.Scale != ScaleUnit || !slices.Equal(r.Hidden, []int{128, 64}) {
			t.Errorf("%s: %+v, want the defaults (5 epochs, lr 0.001, seed 1, unit scale, 128x64)", r.Name, r.Variant)
		}
	}
}

func TestLabReportFileMatchesPreset(t *testing.T) {
	plan, err := ReadConfig("testdata/lab-report.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fromFile, err := plan.Runs(testInit)
	if err != nil {
		t.Fatal(err)
	}
	preset, err := Plan{Grids: LabReport()}.Runs(testInit)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromFile, preset) {
		t.Fatalf("lab-report.yaml\n got %+v\nwant %+v", fromFile, preset)
	}
}

func TestRunNames(t *testing.T) {
	tests := []struct {
		name  string
		flags GridFlags
		want  []string
	}{
		{"defaults only", GridFlags{}, []string{"xavier-nobn-b128"}},
		{"canonical init name", GridFlags{Init: "glorot_normal", BatchNorm: "on"}, []string{"xavier-bn-b128"}},
		{"seeds vary", GridFlags{Seed: "1,2"}, []string{"xavier-nobn-b128-s1", "xavier-nobn-b128-s2"}},
		{"lr varies", GridFlags{LR: "0.001,1e-4"}, []string{"xavier-nobn-b128-lr0.001", "xavier-nobn-b128-lr0.0001"}},
		{"hidden varies", GridFlags{Hidden: "128x64, 256"}, []string{"xavier-nobn-b128-h128x64", "xavier-nobn-b128-h256"}},
		{"hidden alternatives by ;", GridFlags{Hidden: "128,64;256"}, []string{"xavier-nobn-b128-h128x64", "xavier-nobn-b128-h256"}},
		{"hidden commas are layers", GridFlags{Hidden: "256,128,10"}, []string{"xavier-nobn-b128"}},
		{"epochs and scale vary", GridFlags{Epochs: "1,2", Scale: "unit,none"}, []string{
			"xavier-nobn-b128-e1-unit", "xavier-nobn-b128-e1-none", "xavier-nobn-b128-e2-unit", "xavier-nobn-b128-e2-none",
		}},
		{"one value is no suffix", GridFlags{Seed: "7", LR: "0.01", Hidden: "32"}, []string{"xavier-nobn-b128"}},
		{"order init, bn, batch", GridFlags{Init: "uniform,xavier", BatchNorm: "off,on", BatchSize: "64,32"}, []string{
			"uniform-nobn-b64", "uniform-nobn-b32", "uniform-bn-b64", "uniform-bn-b32",
			"xavier-nobn-b64", "xavier-nobn-b32", "xavier-bn-b64", "xavier-bn-b32",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := tt.flags.Grid()
			if err != nil {
				t.Fatal(err)
			}
			runs, err := Plan{Grids: []Grid{g}}.Runs(testInit)
			if err != nil {
				t.Fatal(err)
			}
			if got := runNames(runs); !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestGridFlagsValues(t *testing.T) {
	g, err := GridFlags{
		Init: "xavier", BatchNorm: "off,on,true,no", BatchSize: "64, 128", Epochs: "3", LR: "0.5,1e-3",
		Hidden: "128x64,10;32,16", Seed: "-1,42", Scale: "NONE",
	}.Grid()
	if err != nil {
		t.Fatal(err)
	}
	want := Grid{
		Init: []string{"xavier"}, BatchNorm: []bool{false, true, true, false}, BatchSize: []int{64, 128},
		Epochs: []int{3}, LR: []float64{0.5, 0.001}, Hidden: [][]int{{128, 64}, {10}, {32, 16}}, Seed: []int64{-1, 42},
		Scale: []string{ScaleNone},
	}
	if !reflect.DeepEqual(g, want) {
		t.Fatalf("got %+v\nwant %+v", g, want)
	}
}

// Every bad input the command must refuse before training, with the flag named in the message.
func TestBadFlags(t *testing.T) {
	tests := []struct {
		name  string
		flags GridFlags
		limit int
		want  string
	}{
		{"unknown init", GridFlags{Init: "xavier,bogus"}, 0, `--init: unknown initialiser "bogus"`},
		{"empty init item", GridFlags{Init: "xavier,"}, 0, "--init: empty item"},
		{"zero batch", GridFlags{BatchSize: "0"}, 0, "--batch-size: 0 must be positive"},
		{"negative batch", GridFlags{BatchSize: "64,-1"}, 0, "--batch-size: -1 must be positive"},
		{"non-numeric batch", GridFlags{BatchSize: "64,abc"}, 0, `--batch-size: "abc" is not an integer`},
		{"zero epochs", GridFlags{Epochs: "0"}, 0, "--epochs: 0 must be positive"},
		{"fractional epochs", GridFlags{Epochs: "1.5"}, 0, `--epochs: "1.5" is not an integer`},
		{"non-numeric lr", GridFlags{LR: "fast"}, 0, `--lr: "fast" is not a number`},
		{"zero lr", GridFlags{LR: "0"}, 0, "--lr: 0 must be a positive finite number"},
		{"NaN lr", GridFlags{LR: "NaN"}, 0, "--lr: NaN must be a positive finite number"},
		{"bad batchnorm", GridFlags{BatchNorm: "maybe"}, 0, `--batchnorm: "maybe" is neither on nor off`},
		{"bad hidden", GridFlags{Hidden: "128,6a"}, 0, `--hidden: "128,6a" is not a list of layer widths`},
		{"bad hidden x form", GridFlags{Hidden: "128x64,6a"}, 0, `--hidden: "6a" is not a list of layer widths`},
		{"empty hidden piece", GridFlags{Hidden: "128;"}, 0, `--hidden: empty item`},
		{"zero width", GridFlags{Hidden: "128x0"}, 0, "--hidden: layer width 0 must be positive"},
		{"bad seed", GridFlags{Seed: "1.5"}, 0, `--seed: "1.5" is not an integer`},
		{"bad scale", GridFlags{Scale: "half"}, 0, `--scale: "half" is neither unit nor none`},
		{"negative limit", GridFlags{}, -5, "--limit: -5 is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := tt.flags.Grid()
			if err == nil {
				_, err = Plan{Grids: []Grid{g}, Limit: tt.limit}.Runs(testInit)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestDuplicateRuns(t *testing.T) {
	plan := Plan{Grids: []Grid{{BatchSize: []int{64, 128}}, {BatchSize: []int{128}}}}
	_, err := plan.Runs(testInit)
	if err == nil || !strings.Contains(err.Error(), "xavier-nobn-b128 appears twice") {
		t.Fatalf("error %v, want a duplicate-run error", err)
	}
}

func TestCheckData(t *testing.T) {
	runs, err := Plan{Grids: []Grid{{BatchSize: []int{64, 2048}}}}.Runs(testInit)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckData(runs, 2048); err != nil {
		t.Errorf("2048 examples: %v", err)
	}
	err = CheckData(runs, 2000)
	if err == nil || !strings.Contains(err.Error(), "--batch-size: 2048 is larger than the 2000 training examples") {
		t.Errorf("2000 examples: error %v", err)
	}
	if err := CheckData(runs, 0); err == nil {
		t.Error("an empty training set was accepted")
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		want  []string
		limit int
		check func(t *testing.T, runs []Run)
	}{
		{
			name: "defaults and two grids",
			yaml: "limit: 500\ndefaults:\n  epochs: 2\ngrids:\n  - batch_size: [32, 64]\n  - init: uniform\n    epochs: 1\n",
			want: []string{"xavier-nobn-b32-e2", "xavier-nobn-b64-e2", "uniform-nobn-b128-e1"}, limit: 500,
		},
		{
			name: "scalar axes and on/off",
			yaml: "grids:\n  - init: xavier\n    batchnorm: on\n    lr: 0.01\n    seed: 3\n    scale: none\n",
			want: []string{"xavier-bn-b128"},
			check: func(t *testing.T, runs []Run) {
				if r := runs[0]; r.LR != 0.01 || r.Seed != 3 || r.Scale != ScaleNone || !r.BatchNorm {
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
			if plan.Limit != tt.limit {
				t.Errorf("limit %d, want %d", plan.Limit, tt.limit)
			}
			runs, err := plan.Runs(testInit)
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
		{"unknown top key", "grid:\n  - init: xavier\n", `line 1: unknown key "grid"`},
		{"unknown grid key", "grids:\n  - init: xavier\n    batch: 64\n", `line 3: unknown key "batch"`},
		{"bad item with line", "grids:\n  - batch_size:\n      - 64\n      - big\n", `sweep.yaml:4: batch_size: "big" is not an integer`},
		{"bad init type", "grids:\n  - init: {a: b}\n", "sweep.yaml:2: init: expected a value or a list"},
		{"empty list", "grids:\n  - lr: []\n", "sweep.yaml:2: lr: empty list"},
		{"bad hidden", "grids:\n  - hidden: [128, wide]\n", `sweep.yaml:2: hidden: "wide" is not an integer`},
		{"bad defaults", "defaults:\n  epochs: many\ngrids:\n  - init: xavier\n", `sweep.yaml:2: epochs: "many" is not an integer`},
		{"limit not a number", "limit: lots\ngrids:\n  - init: xavier\n", "sweep.yaml: line 1"},
		{"no grids", "defaults:\n  epochs: 1\n", "sweep.yaml: no grids"},
		{"empty file", "", "sweep.yaml: the file is empty"},
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

func TestBadConfigValuesCaughtByRuns(t *testing.T) {
	plan, err := ParseConfig(strings.NewReader("grids:\n  - init: lecun\n"), "sweep.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plan.Runs(testInit); err == nil || !strings.Contains(err.Error(), `unknown initialiser "lecun"`) {
		t.Fatalf("error %v", err)
	}
}

func TestReadConfigMissingFile(t *testing.T) {
	_, err := ReadConfig("testdata/no-such-file.yaml")
	if err == nil || !strings.Contains(err.Error(), "--config: open testdata/no-such-file.yaml") || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("error %v", err)
	}
}

func TestNewPlanAppliesOtherAxesToThePreset(t *testing.T) {
	plan, err := NewPlan("", GridFlags{Scale: "none", Epochs: "2"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	runs, err := plan.Runs(testInit)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 12 {
		t.Fatalf("%d runs, want the preset's 12", len(runs))
	}
	for _, r := range runs {
		if r.Scale != "none" || r.Epochs != 2 {
			t.Errorf("%s: scale %q epochs %d, want none and 2", r.Name, r.Scale, r.Epochs)
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
	limit := 100
	tests := []struct {
		name      string
		config    string
		flags     GridFlags
		limit     *int
		want      []string
		wantLimit int
	}{
		{"preset", "", GridFlags{}, nil, nil, 0},
		{"flags make one grid", "", GridFlags{BatchNorm: "on", Seed: "4"}, &limit, []string{"xavier-bn-b128"}, 100},
		{"config", config, GridFlags{}, nil, []string{"xavier-nobn-b32-e3", "xavier-nobn-b64-e3", "uniform-nobn-b128-e5"}, 300},
		{"flags override every grid of the config", config, GridFlags{Epochs: "1", BatchNorm: "on"}, &limit,
			[]string{"xavier-bn-b32", "xavier-bn-b64", "uniform-bn-b128"}, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := NewPlan(tt.config, tt.flags, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			runs, err := plan.Runs(testInit)
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
			if plan.Limit != tt.wantLimit {
				t.Errorf("limit %d, want %d", plan.Limit, tt.wantLimit)
			}
		})
	}
	if _, err := NewPlan(config, GridFlags{Epochs: "x"}, nil); err == nil || !strings.Contains(err.Error(), "--epochs") {
		t.Errorf("bad flag with a config: %v", err)
	}
}
