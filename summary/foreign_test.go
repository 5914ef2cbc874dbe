package summary_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/tfsweep/tfsweep/summary"
)

// foreignDir holds logs written by other programs' writers and what
// TensorBoard's own loaders read from them; scripts/make_foreign_fixtures.py
// writes both.
const foreignDir = "testdata/foreign"

type foreignExpectation struct {
	Files map[string]struct {
		Records int `json:"records"`
		Values  int `json:"values"`
	} `json:"files"`
	Runs map[string]map[string]struct {
		Plugin  string            `json:"plugin"`
		Count   int               `json:"count"`
		Scalars []json.RawMessage `json:"scalars"`
	} `json:"runs"`
}

func loadForeign(t *testing.T) foreignExpectation {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(foreignDir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var exp foreignExpectation
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	if len(exp.Files) == 0 || len(exp.Runs) == 0 {
		t.Fatal("expected.json lists no files or runs")
	}
	return exp
}

// Every record TensorBoard's raw loader reads from a foreign file, we read,
// with as many summary values, and none is a corrupt record.
func TestForeignLogsRecordCounts(t *testing.T) {
	exp := loadForeign(t)
	for rel, want := range exp.Files {
		t.Run(rel, func(t *testing.T) {
			events, err := summary.ReadFile(filepath.Join(foreignDir, rel))
			if err != nil {
				t.Fatalf("ReadFile: %v", err)
			}
			values := 0
			for _, ev := range events {
				values += len(ev.Values)
			}
			if len(events) != want.Records || values != want.Values {
				t.Errorf("read %d records, %d values; TensorBoard read %d, %d", len(events), values, want.Records, want.Values)
			}
		})
	}
}

// readRun reads every event file of a run directory.
func readRun(t *testing.T, run string) []summary.Event {
	t.Helper()
	files, err := summary.EventFiles(filepath.Join(foreignDir, run))
	if err != nil {
		t.Fatal(err)
	}
	var all []summary.Event
	for _, f := range files {
		events, err := summary.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, events...)
	}
	return all
}

// Per run, the tags TensorBoard's EventAccumulator holds are ours, with as
// many values and the same plugin, and every scalar it decodes has our value.
func TestForeignLogsValuesMatchTensorBoard(t *testing.T) {
	exp := loadForeign(t)
	for run, tags := range exp.Runs {
		t.Run(run, func(t *testing.T) {
			byTag := map[string][]summary.Value{}
			steps := map[string][]int64{}
			graph := false
			for _, ev := range readRun(t, run) {
				graph = graph || ev.GraphDef != nil
				for _, v := range ev.Values {
					if v.Undecoded == "no tensor" && v.Plugin == summary.PluginScalars {
						continue // TensorBoard keeps no point for a value without data
					}
					byTag[v.Tag] = append(byTag[v.Tag], v)
					steps[v.Tag] = append(steps[v.Tag], ev.Step)
				}
			}
			var gotTags, wantTags []string
			for tag := range byTag {
				gotTags = append(gotTags, tag)
			}
			for tag, want := range tags {
				if tag == "__run_graph__" { // TensorBoard's name for Event.graph_def
					if !graph {
						t.Errorf("TensorBoard found a graph; we read no GraphDef")
					}
					continue
				}
				wantTags = append(wantTags, tag)
				got := byTag[tag]
				if len(got) != want.Count {
					t.Errorf("tag %q: %d values, TensorBoard %d", tag, len(got), want.Count)
					continue
				}
				if got[0].Plugin != want.Plugin {
					t.Errorf("tag %q: plugin %q, TensorBoard %q", tag, got[0].Plugin, want.Plugin)
				}
				for i, raw := range want.Scalars {
					var point [2]any
					if err := json.Unmarshal(raw, &point); err != nil {
						t.Fatal(err)
					}
					checkScalar(t, tag, steps[tag][i], got[i], point)
				}
			}
			sort.Strings(gotTags)
			sort.Strings(wantTags)
			if !reflect.DeepEqual(gotTags, wantTags) {
				t.Errorf("tags %q, TensorBoard's %q", gotTags, wantTags)
			}
		})
	}
}

// checkScalar compares our value with TensorBoard's [step, value] point,
// whose value is a JSON number, bool or string (or null when TensorBoard's
// Python loader cannot decode the dtype).
func checkScalar(t *testing.T, tag string, step int64, got summary.Value, point [2]any) {
	t.Helper()
	if int64(point[0].(float64)) != step {
		t.Errorf("tag %q: step %d, TensorBoard %v", tag, step, point[0])
	}
	switch want := point[1].(type) {
	case nil:
	case float64:
		if math.Abs(got.Scalar-want) > 1e-9*math.Max(1, math.Abs(want)) {
			t.Errorf("tag %q step %d: %v, TensorBoard %v", tag, step, got.Scalar, want)
		}
	case bool:
		if got.DType != "bool" || (got.Scalar == 1) != want {
			t.Errorf("tag %q step %d: %v (%s), TensorBoard %v", tag, step, got.Scalar, got.DType, want)
		}
	case string:
		if got.DType != "string" || got.Text != want {
			t.Errorf("tag %q step %d: %q (%s), TensorBoard %q", tag, step, got.Text, got.DType, want)
		}
	default:
		t.Errorf("tag %q: unexpected TensorBoard value %v", tag, want)
	}
}

// The values the issue names, in detail: tf.summary.write of float16,
// bfloat16 and string scalars, a TF1 scalar without a tensor, a value of a
// plugin nobody knows, and tensorboardX's Custom Scalars layout.
func TestForeignValueKinds(t *testing.T) {
	find := func(run, tag string) []summary.Value {
		var vs []summary.Value
		for _, ev := range readRun(t, run) {
			for _, v := range ev.Values {
				if v.Tag == tag {
					vs = append(vs, v)
				}
			}
		}
		if len(vs) == 0 {
			t.Fatalf("%s: no tag %q", run, tag)
		}
		return vs
	}
	tests := []struct {
		run, tag, dtype string
		scalars         []float64
		texts           []string
	}{
		{"tf_summary", "dtype/half", "float16", []float64{0.5, 1.5, 2.5}, nil},
		{"tf_summary", "dtype/bfloat16", "bfloat16", []float64{1.5, 2.5, 3.5}, nil},
		{"tf_summary", "dtype/double", "float64", []float64{0.25, 1.25, 2.25}, nil},
		{"tf_summary", "dtype/int32", "int32", []float64{7, 8, 9}, nil},
		{"tf_summary", "dtype/int64", "int64", []float64{1 << 40, 1<<40 + 1, 1<<40 + 2}, nil},
		{"tf_summary", "dtype/bool", "bool", []float64{0, 1, 0}, nil},
		{"tf_summary", "dtype/string", "string", []float64{0, 0, 0}, []string{"step 0", "step 1", "step 2"}},
		{"tf_summary", "loss", "float32", []float64{1, 0.5, float64(float32(1.0 / 3))}, nil},
		{"tf1", "loss", "", []float64{1, 0.5, float64(float32(1.0 / 3))}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.run+"/"+tt.tag, func(t *testing.T) {
			vs := find(tt.run, tt.tag)
			if len(vs) != len(tt.scalars) {
				t.Fatalf("%d values, want %d", len(vs), len(tt.scalars))
			}
			for i, v := range vs {
				if v.Plugin != summary.PluginScalars || v.DType != tt.dtype || v.Scalar != tt.scalars[i] || v.Raw != nil {
					t.Errorf("value %d: plugin %q dtype %q scalar %v raw %v; want scalars %q %v",
						i, v.Plugin, v.DType, v.Scalar, v.Raw != nil, tt.dtype, tt.scalars[i])
				}
				if tt.texts != nil && v.Text != tt.texts[i] {
					t.Errorf("value %d: text %q, want %q", i, v.Text, tt.texts[i])
				}
			}
		})
	}

	empty := find("tf1", "empty")[0]
	if empty.Plugin != summary.PluginScalars || empty.Undecoded != "no tensor" || empty.Raw == nil {
		t.Errorf("scalar without tensor: %+v", empty)
	}
	custom := find("tf_summary", "custom/thing")[0]
	if custom.Plugin != "my_plugin" || string(custom.PluginContent) != "v1" || custom.Raw == nil ||
		len(custom.Raw.GetTensor().GetTensorContent()) == 0 || custom.Undecoded != "" {
		t.Errorf("unknown plugin's value: %+v", custom)
	}
	layout := find("tensorboardx", summary.CustomScalarsTag)[0]
	want := &summary.Layout{Categories: []summary.Category{{Title: "losses", Charts: []summary.Chart{{Title: "loss", Tags: []string{"loss"}}}}}}
	if !reflect.DeepEqual(layout.Layout, want) {
		t.Errorf("tensorboardX layout %+v, want %+v", layout.Layout, want)
	}
}
