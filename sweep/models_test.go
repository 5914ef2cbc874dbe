package sweep

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tfsweep/tfsweep/spec"
)

// sweepDir writes a sweep file and model files into a directory of their own and returns the sweep
// file's path.
func sweepDir(t *testing.T, sweep string, models map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range models {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "sweep.yaml")
	if err := os.WriteFile(path, []byte(sweep), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func readFixture(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func classes(n *spec.Network) []string {
	var out []string
	for _, l := range n.Layers {
		out = append(out, string(l.Class))
	}
	return out
}

// TestModelAxisInSweepFiles: named models and paths relative to the sweep file, run names by the
// model's name, the grid's settings applied to the file's network and the file's values kept where
// the grid leaves a setting alone.
func TestModelAxisInSweepFiles(t *testing.T) {
	convnet := readFixture(t, "../modelfile/testdata/convnet.yaml")
	path := sweepDir(t, `
models:
  small: models/convnet.yaml
grids:
  - model: [mlp, small]
  - model: models/residual.yaml
    batchnorm: on
    dropout: 0.1
`, map[string]string{"models/convnet.yaml": convnet, "models/residual.yaml": readFixture(t, "../modelfile/testdata/residual.yaml")})
	plan, err := ReadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	runs, err := plan.Runs(DefaultMaxRuns)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range runs {
		names = append(names, r.Name)
	}
	// The activation axis tells the files' relu (the grids leave it to them) beside the mlp's tanh.
	want := []string{"mlp-xavier-nobn-b128-tanh-d0", "small-xavier-nobn-b128-relu-d0", "residual-xavier-bn-b128-relu-d0.1"}
	if !slices.Equal(names, want) {
		t.Fatalf("runs %v, want %v", names, want)
	}
	if runs[0].Model.Network != nil || runs[0].HParams()["model"] != "mlp" {
		t.Errorf("the built-in mlp: network %v, hparam %v", runs[0].Model.Network, runs[0].HParams()["model"])
	}
	small := runs[1].Model
	if small.Network == nil || small.Network.Name != "small" || small.File != filepath.Join(filepath.Dir(path), "models/convnet.yaml") {
		t.Fatalf("the named model: %+v", small)
	}
	// No setting given: the file's Dropout(0.5) stays, nothing is added.
	if got := classes(small.Network); !slices.Equal(got, []string{"Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dropout", "Dense"}) {
		t.Errorf("small's layers %v, want the file's", got)
	}
	residual, err := runs[2].Network(784, 10)
	if err != nil {
		t.Fatal(err)
	}
	if given := runs[2].Model.Given; !slices.Equal(given, []string{"batchnorm", "dropout"}) {
		t.Errorf("residual's given settings %v, want [batchnorm dropout]", given)
	}
	var bn, dropout int
	for _, l := range residual.Layers {
		bn += btoi(l.Class == spec.ClassBatchNormalization)
		dropout += btoi(l.Class == spec.ClassDropout && l.Dropout.Rate == 0.1)
	}
	// Five Conv2D (three with relu, two linear before an Add) get a BatchNormalization; the five relus
	// (three moved into Activation layers, and the two after the Adds) get a Dropout.
	if bn != 5 || dropout != 5 {
		t.Errorf("residual with batchnorm and dropout 0.1: %d BatchNormalization, %d Dropout(0.1), want 5 and 5", bn, dropout)
	}
	if runs[2].HParams()["model"] != "residual" {
		t.Errorf("hparam model %v, want residual", runs[2].HParams()["model"])
	}
	if err := plan.CheckData(runs, 60_000, 784, 10); err != nil {
		t.Errorf("MNIST: %v", err)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestModelAxisFromFlags: --model takes files relative to the working directory, and a setting the
// flags give applies to every model.
func TestModelAxisFromFlags(t *testing.T) {
	g, err := flagGrid(t, "--model", "mlp,../modelfile/testdata/convnet.yaml,../modelfile/testdata/keras/residual.keras", "--init", "he_normal")
	if err != nil {
		t.Fatal(err)
	}
	runs, err := Plan{Grids: []Grid{g}}.Runs(DefaultMaxRuns)
	if err != nil {
		t.Fatal(err)
	}
	if names := runNames(runs); !slices.Equal(names, []string{"mlp-he_normal-nobn-b128-tanh", "convnet-he_normal-nobn-b128-relu", "residual-he_normal-nobn-b128-relu"}) {
		t.Fatalf("runs %v", names)
	}
	residual, err := runs[2].Network(784, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range residual.Layers {
		if l.Conv2D != nil && l.Conv2D.Init() != "he_normal" {
			t.Errorf("%s: %s, want --init's he_normal over the file's glorot_uniform", l.Name, l.Conv2D.Init())
		}
	}
}

// TestRunsTellTheFilesSettings: where the sweep leaves a setting to a model file that uses one value
// throughout, the run's name and hparams show the file's value, not the axis' default.
func TestRunsTellTheFilesSettings(t *testing.T) {
	g, err := flagGrid(t, "--model", "../modelfile/testdata/keras/every_layer.json,../modelfile/testdata/keras/convnet.json")
	if err != nil {
		t.Fatal(err)
	}
	runs, err := Plan{Grids: []Grid{g}}.Runs(DefaultMaxRuns)
	if err != nil {
		t.Fatal(err)
	}
	// every_layer mixes initializers (he_uniform, lecun_normal, random_uniform), L2 factors and
	// hidden activations (elu, gelu): those axes keep their defaults. Keras' convnet is
	// glorot_uniform and relu throughout, without L2.
	if got := runNames(runs); !slices.Equal(got, []string{"every_layer-xavier-nobn-b128-tanh", "convnet-glorot_uniform-nobn-b128-relu"}) {
		t.Errorf("runs %v", got)
	}
	if hp := runs[1].HParams(); hp["init"] != "glorot_uniform" || hp["activation"] != "relu" || hp["l2"] != 0.0 {
		t.Errorf("convnet's hparams %v", hp)
	}
}

func TestModelAxisErrors(t *testing.T) {
	convnet := readFixture(t, "../modelfile/testdata/convnet.yaml")
	tests := []struct {
		name, sweep string
		models      map[string]string
		want        string // after the sweep file's directory
	}{
		{"missing file", "grids:\n  - model: nowhere.yaml\n", nil, "sweep.yaml:2: model: open "},
		{"bad model file", "grids:\n  - model: m.yaml\n", map[string]string{"m.yaml": strings.Replace(convnet, "  - Flatten:\n", "", 1)},
			"sweep.yaml:2: model: " + "m.yaml:10: Dense `dense` gets a 4-D input (None, 5, 5, 64): add Flatten before it"},
		{"hidden with a file", "grids:\n  - model: m.yaml\n    hidden: 32\n", map[string]string{"m.yaml": convnet},
			"sweep.yaml:3: hidden: hidden gives the widths of the built-in mlp, not of model"},
		{"two files, one name", "grids:\n  - model: [a/m.yaml, b/m.yaml]\n", map[string]string{"a/m.yaml": convnet, "b/m.yaml": convnet},
			"are both named convnet"},
		{"models not a mapping", "models: [a]\ngrids:\n  - model: mlp\n", nil, "sweep.yaml:1: models: expected a mapping"},
		{"model named mlp", "models:\n  mlp: m.yaml\ngrids:\n  - model: mlp\n", nil, "sweep.yaml:2: models: mlp is the built-in model's name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := sweepDir(t, tt.sweep, tt.models)
			plan, err := ReadConfig(path)
			if err == nil {
				_, err = plan.Runs(DefaultMaxRuns)
			}
			if err == nil {
				t.Fatal("accepted")
			}
			msg := strings.ReplaceAll(err.Error(), filepath.Dir(path)+"/", "")
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error %q does not say %q", msg, tt.want)
			}
		})
	}
}

// TestCheckDataRefusesModelsThatDoNotFit: a model must read the data's examples and classify them
// into its classes.
func TestCheckDataRefusesModelsThatDoNotFit(t *testing.T) {
	for _, tt := range []struct{ model, want string }{
		{"layers:\n  - Input: {shape: [32, 32, 3]}\n  - Flatten:\n  - Dense: {units: 10, activation: softmax}\n",
			"reads inputs of shape (None, 32, 32, 3), 3072 values, but the data's examples have 784"},
		{"layers:\n  - Input: {shape: [784]}\n  - Dense: {units: 100, activation: softmax}\n",
			"gives (None, 100), but the data has 10 classes: its output layer needs 10 units"},
	} {
		path := sweepDir(t, "grids:\n  - model: m.yaml\n", map[string]string{"m.yaml": tt.model})
		plan, err := ReadConfig(path)
		if err != nil {
			t.Fatal(err)
		}
		runs, err := plan.Runs(DefaultMaxRuns)
		if err != nil {
			t.Fatal(err)
		}
		if err := plan.CheckData(runs, 60_000, 784, 10); err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "sweep.yaml:2: model") {
			t.Errorf("error %v, want sweep.yaml:2: model ... %s", err, tt.want)
		}
	}
}

// TestMemoryEstimateCountsTheNetwork: the estimate grows with a model file's activations, which a
// Dense-only count would miss.
func TestMemoryEstimateCountsTheNetwork(t *testing.T) {
	g, err := flagGrid(t, "--model", "mlp,../modelfile/testdata/convnet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	runs, err := Plan{Grids: []Grid{g}}.Runs(DefaultMaxRuns)
	if err != nil {
		t.Fatal(err)
	}
	_, mlpBatch, _, err := memoryBytes(runs[0].Variant, 784, 10, 60_000)
	if err != nil {
		t.Fatal(err)
	}
	_, convBatch, _, err := memoryBytes(runs[1].Variant, 784, 10, 60_000)
	if err != nil {
		t.Fatal(err)
	}
	// Per example: the MLP's layers give 128+64+10 values, the convnet's 26·26·32 + 13·13·32 +
	// 11·11·64 + 5·5·64 + 1600 + 1600 + 10.
	const f32, batch = 4, 128
	if want := 6.0 * f32 * (128 + 64 + 10) * batch; mlpBatch != want {
		t.Errorf("mlp batch activations %v bytes, want %v", mlpBatch, want)
	}
	if want := 6.0 * f32 * (26*26*32 + 13*13*32 + 11*11*64 + 5*5*64 + 1600 + 1600 + 10) * batch; convBatch != want {
		t.Errorf("convnet batch activations %v bytes, want %v", convBatch, want)
	}
}

// TestRecordedPlanFindsTheModelFiles: the plan a sweep records names its model files by absolute
// paths, so that `tfsweep run --config DIR/sweep.yaml` trains the same networks from anywhere.
func TestRecordedPlanFindsTheModelFiles(t *testing.T) {
	g, err := flagGrid(t, "--model", "../modelfile/testdata/convnet.yaml", "--batchnorm", "on")
	if err != nil {
		t.Fatal(err)
	}
	plan := Plan{Grids: []Grid{g}}
	runs, err := plan.Runs(DefaultMaxRuns)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), PlanFile)
	if err := os.WriteFile(path, plan.YAML(), 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := ReadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	replayed, err := again.Runs(DefaultMaxRuns)
	if err != nil {
		t.Fatalf("the recorded plan:\n%s\n%v", plan.YAML(), err)
	}
	a, errA := runs[0].Network(784, 10)
	b, errB := replayed[0].Network(784, 10)
	if errA != nil || errB != nil || replayed[0].Name != runs[0].Name || !reflect.DeepEqual(a, b) {
		t.Errorf("the recorded plan trains %s (%v), want %s (%v)", replayed[0].Name, errB, runs[0].Name, errA)
	}
}
