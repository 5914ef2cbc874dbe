package model

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corepb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"

	"github.com/tfsweep/tfsweep/dataset"
	"github.com/tfsweep/tfsweep/spec"
)

// predictionTolerance is how far a SavedModel's probabilities may be from the Model's own.
const predictionTolerance = 1e-6

// pythonTensorFlow is a Python TensorFlow that judges the exports: the venv of a requirement set
// (scripts/setup-python.sh SET), or the python an environment variable names, and the version it has.
type pythonTensorFlow struct {
	set, env, version string
}

// pythonTensorFlows are libtensorflow's version (the peers venv) and the newest on PyPI: a model
// exported by tfsweep loads in both, as users on either load it. A test that needs them fails when
// one is missing: Python's verdict is the point.
var pythonTensorFlows = []pythonTensorFlow{
	{"peers", "TFSWEEP_PEERS_PYTHON", "2.18.0"},
	{"tensorflow-newest", "TFSWEEP_TF_NEWEST_PYTHON", "2.21.0"},
}

func (p pythonTensorFlow) python(t *testing.T) string {
	t.Helper()
	if path := os.Getenv(p.env); path != "" {
		return path
	}
	out, err := exec.Command("../scripts/setup-python.sh", p.set).Output()
	if err != nil {
		t.Fatalf("scripts/setup-python.sh %s (or set %s): %v", p.set, p.env, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

// asSet is an MNIST split as the data sources give it.
func asSet(s *dataset.Split) *dataset.Set {
	labels := make([]int32, s.Len())
	for i, l := range s.Labels {
		labels[i] = int32(l)
	}
	return &dataset.Set{Shape: []int{s.Rows, s.Cols}, Bytes: s.Pixels, Labels: labels}
}

// pythonVerdict is what scripts/check_saved_model.py prints.
type pythonVerdict struct {
	TensorFlow  string                                `json:"tensorflow"`
	SavedModels map[string]map[string]pythonSignature `json:"saved_models"`
	Checkpoints map[string]map[string][]int           `json:"checkpoints"`
	Digests     map[string]map[string]string          `json:"checkpoint_digests"`
}

type pythonSignature struct {
	Inputs        map[string]pythonSpec `json:"inputs"`
	Outputs       map[string]pythonSpec `json:"outputs"`
	Probabilities [][]float64           `json:"probabilities"`
	Classes       []int64               `json:"classes"`
}

type pythonSpec struct {
	DType string `json:"dtype"`
	Shape []*int `json:"shape"`
}

func (s pythonSpec) String() string {
	dims := make([]string, len(s.Shape))
	for i, d := range s.Shape {
		if d == nil {
			dims[i] = "None"
		} else {
			dims[i] = fmt.Sprint(*d)
		}
	}
	return s.DType + "[" + strings.Join(dims, ", ") + "]"
}

// checkPython runs scripts/check_saved_model.py with python on the SavedModels and checkpoints.
func checkPython(t *testing.T, python string, raw []byte, n int, savedModels, checkpoints []string) pythonVerdict {
	t.Helper()
	pixels := filepath.Join(t.TempDir(), "pixels.u8")
	if err := os.WriteFile(pixels, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"../scripts/check_saved_model.py", "--pixels", pixels, "--n", fmt.Sprint(n)}
	for _, d := range savedModels {
		args = append(args, "--saved-model", d)
	}
	for _, p := range checkpoints {
		args = append(args, "--checkpoint", p)
	}
	cmd := exec.Command(python, args...)
	// Without LD_LIBRARY_PATH: it names libtensorflow 2.18's directory (the Makefile's), whose
	// libtensorflow_framework.so.2 another version's Python TensorFlow would load instead of its own.
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "LD_LIBRARY_PATH=") })
	cmd.Env = append(env, "TF_CPP_MIN_LOG_LEVEL=2", "CUDA_VISIBLE_DEVICES=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("check_saved_model.py: %v\n%s", err, stderr.String())
	}
	t.Logf("check_saved_model.py took %v", time.Since(start).Round(time.Millisecond))
	var v pythonVerdict
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("check_saved_model.py output: %v\n%s", err, out)
	}
	return v
}

// shapeMap is name → shape of variables, as tf.train.load_checkpoint's get_variable_to_shape_map.
func shapeMap(vars []*variable) map[string][]int {
	m := make(map[string][]int, len(vars))
	for _, v := range vars {
		shape := make([]int, len(v.shape))
		for i, d := range v.shape {
			shape[i] = int(d)
		}
		m[v.name] = shape
	}
	return m
}

func diffShapeMaps(got, want map[string][]int) []string {
	var diff []string
	for name, shape := range want {
		if g, ok := got[name]; !ok {
			diff = append(diff, "missing "+name)
		} else if !slices.Equal(g, shape) {
			diff = append(diff, fmt.Sprintf("%s has shape %v, want %v", name, g, shape))
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			diff = append(diff, "unexpected "+name)
		}
	}
	slices.Sort(diff)
	return diff
}

func maxAbsDiff(a []float32, b []float64) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var d float64
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-b[i]))
	}
	return d
}

func filesSize(t testing.TB, paths ...string) int64 {
	t.Helper()
	var n int64
	for _, p := range paths {
		err := filepath.Walk(p, func(_ string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() {
				n += info.Size()
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// exported is one trained model of TestSavedModel with what it predicts itself.
type exported struct {
	name, dir     string
	m             *Model
	probabilities []float32
	classes       []int64
}

// The lab network (with and without batch norm; dropout on, which inference must leave out), a
// model trained on unscaled pixels and one on standardised pixels (the training images' mean and
// deviation baked into the export) are trained briefly on MNIST and exported. TensorFlow's C++
// loader (LoadSavedModel) and Python's tf.saved_model.load both give the model's own probabilities
// on 100 test images, from float32 and from uint8 pixels; Python's tf.train.load_checkpoint lists
// the Keras names and shapes of every checkpoint, slot variables of sgd with momentum, adamw and nadam
// included, and of every SavedModel's variables/, and reads back every value bit for bit (SHA-256).
// The sizes and times of checkpoints and SavedModels are logged.
func TestSavedModel(t *testing.T) {
	train, test := loadMNIST(t)
	train = train.Head(1024)
	test = test.Head(100)
	const n = 100
	variants := []struct {
		name  string
		edit  func(*Config)
		scale spec.Scaling
	}{
		{"lab", func(c *Config) { c.Network = withDropout(c.Network, 0.2) }, spec.ScaleUnit},
		{"lab batchnorm", func(c *Config) { c.Network = withBatchNorm(c.Network, true) }, spec.ScaleUnit},
		{"unscaled sgd", func(c *Config) { c.Network, c.Optimizer, c.LearningRate = mlp(784, []int{32}, 10), "sgd", 1e-4 }, spec.ScaleNone},
		{"residual convnet", func(c *Config) { c.Network = residualConvnet(spec.Shape{28, 28, 1}, 10) }, spec.ScaleUnit},
		{"standardized", func(c *Config) {}, spec.ScaleStandardize},
		{"keras convnet", func(c *Config) { c.Network = kerasConvnet(t) }, spec.ScaleUnit},
	}
	trainSet, testSet := asSet(train), asSet(test)
	root := t.TempDir()
	var models []exported
	var checkpoints []string
	ckptVars := make(map[string]map[string][]int)
	ckptDigests := make(map[string]map[string]string) // what each checkpoint must hold, value for value
	for _, v := range variants {
		cfg := DefaultConfig()
		cfg.Device, cfg.Seed = DeviceCPU, 5
		v.edit(&cfg)
		m := newModel(t, cfg)
		norm := dataset.Normalizer{Divisor: v.scale.Divisor()}
		if v.scale == spec.ScaleStandardize {
			var err error
			if norm, err = dataset.Standardize(trainSet, 1); err != nil {
				t.Fatal(err)
			}
		}
		f := trainSet.Features()
		pixels, labels := make([]float32, trainSet.Len()*f), make([]int32, trainSet.Len())
		norm.Into(pixels, labels, trainSet, 0, trainSet.Len())
		order := dataset.Permutation(train.Len(), 5, 0)
		for start := 0; start < len(order); start += 32 {
			var bx []float32
			var by []int32
			for _, i := range order[start:min(start+32, len(order))] {
				bx, by = append(bx, pixels[i*f:(i+1)*f]...), append(by, labels[i])
			}
			if _, _, err := m.TrainStep(bx, by); err != nil {
				t.Fatal(err)
			}
		}
		dir := filepath.Join(root, strings.ReplaceAll(v.name, " ", "_"))
		start := time.Now()
		if err := m.ExportSavedModel(dir, norm); err != nil {
			t.Fatal(err)
		}
		exportTime := time.Since(start)
		pixels = make([]float32, n*testSet.Features())
		norm.Into(pixels, make([]int32, n), testSet, 0, n)
		probabilities, classes, err := m.Predict(pixels, n)
		if err != nil {
			t.Fatal(err)
		}
		models = append(models, exported{v.name, dir, m, probabilities, classes})

		prefix := filepath.Join(root, strings.ReplaceAll(v.name, " ", "_")+"-ckpt")
		start = time.Now()
		if err := m.SaveCheckpoint(prefix); err != nil {
			t.Fatal(err)
		}
		saveTime := time.Since(start)
		checkpoints = append(checkpoints, prefix)
		ckptVars[prefix] = shapeMap(m.graph.all)
		ckptDigests[prefix] = digests(m.state(t))
		weights := m.state(t)
		for name := range weights {
			if !slices.ContainsFunc(m.graph.weights, func(v *variable) bool { return v.name == name }) {
				delete(weights, name)
			}
		}
		ckptDigests[filepath.Join(dir, variablesDir, variablesName)] = digests(weights)
		fresh := newModel(t, cfg)
		start = time.Now()
		if err := fresh.RestoreCheckpoint(prefix); err != nil {
			t.Fatal(err)
		}
		restoreTime := time.Since(start)

		start = time.Now()
		p, err := LoadSavedModel(dir)
		if err != nil {
			t.Fatal(err)
		}
		loadTime := time.Since(start)
		t.Cleanup(func() {
			if err := p.Close(); err != nil {
				t.Error(err)
			}
		})
		t.Logf("%s: checkpoint %d bytes, saved in %v, restored in %v; SavedModel %d bytes (saved_model.pb %d), exported in %v, loaded in %v",
			v.name, filesSize(t, prefix+indexSuffix, prefix+dataSuffix), saveTime.Round(time.Microsecond), restoreTime.Round(time.Microsecond),
			filesSize(t, dir), filesSize(t, filepath.Join(dir, savedModelFile)), exportTime.Round(time.Microsecond), loadTime.Round(time.Microsecond))

		// TensorFlow's C++ loader, from float32 and uint8 pixels.
		rawFloat := make([]float32, len(test.Pixels))
		for i, b := range test.Pixels {
			rawFloat[i] = float32(b)
		}
		for _, input := range []string{"float32", "uint8"} {
			var got []float32
			var gotClasses []int64
			if input == "float32" {
				got, gotClasses, err = p.Predict(rawFloat, n)
			} else {
				got, gotClasses, err = p.PredictUint8(test.Pixels, n)
			}
			if err != nil {
				t.Fatal(err)
			}
			d := maxAbsDiff(got, float64s(probabilities))
			t.Logf("%s: LoadSavedModel (%s pixels) vs the model: max |Δp| %.3g, bitwise equal %v", v.name, input, d, slices.Equal(got, probabilities))
			// Same library, same process, same kernels: the export scales the pixels as the dataset
			// package does (x/255), so nothing may differ, not even the last bit.
			if !slices.Equal(got, probabilities) {
				t.Errorf("%s: LoadSavedModel (%s pixels) probabilities differ by up to %.3g", v.name, input, d)
			}
			if !slices.Equal(gotClasses, classes) {
				t.Errorf("%s: LoadSavedModel (%s pixels) classes %v, want %v", v.name, input, gotClasses, classes)
			}
		}
		checkSavedModelFiles(t, dir)
	}

	// Checkpoints of the other optimizers' slots, with batch norm.
	for _, opt := range []struct {
		name string
		edit func(*Config)
	}{
		{"sgd_momentum", func(c *Config) { c.Optimizer, c.Momentum = "sgd", 0.9 }},
		{"adamw", func(c *Config) { c.Optimizer = "adamw" }},
		{"nadam", func(c *Config) { c.Optimizer = "nadam" }},
	} {
		cfg := checkpointConfig(func(c *Config) { c.Network = withBatchNorm(c.Network, true); opt.edit(c) })
		m := newModel(t, cfg)
		trainSteps(t, m, 0, 2)
		prefix := filepath.Join(root, opt.name+"-ckpt")
		if err := m.SaveCheckpoint(prefix); err != nil {
			t.Fatal(err)
		}
		checkpoints = append(checkpoints, prefix)
		ckptVars[prefix] = shapeMap(m.graph.all)
		ckptDigests[prefix] = digests(m.state(t))
	}

	var dirs []string
	for _, e := range models {
		dirs = append(dirs, e.dir)
	}
	for _, py := range pythonTensorFlows {
		t.Run("tensorflow "+py.version, func(t *testing.T) {
			verdict := checkPython(t, py.python(t), test.Pixels, n, dirs, checkpoints)
			if verdict.TensorFlow != py.version {
				t.Errorf("Python TensorFlow %s, want %s", verdict.TensorFlow, py.version)
			}
			for _, e := range models {
				sigs := verdict.SavedModels[e.dir]
				dims := "[None"
				for _, d := range e.m.cfg.Network.Input.Shape {
					dims += fmt.Sprintf(", %d", d)
				}
				dims += "]"
				for key, input := range map[string]string{SignatureDefault: "float32" + dims, SignatureUint8: "uint8" + dims} {
					sig, ok := sigs[key]
					if !ok {
						t.Errorf("%s: Python sees no signature %s (has %v)", e.name, key, keys(sigs))
						continue
					}
					if got := fmt.Sprint(sig.Inputs[InputPixels]); len(sig.Inputs) != 1 || got != input {
						t.Errorf("%s %s: inputs %v, want pixels %s", e.name, key, sig.Inputs, input)
					}
					if p, c := fmt.Sprint(sig.Outputs[OutputProbabilities]), fmt.Sprint(sig.Outputs[OutputClasses]); len(sig.Outputs) != 2 ||
						p != "float32[None, 10]" || c != "int64[None]" {
						t.Errorf("%s %s: outputs %v, want probabilities float32[None, 10], classes int64[None]", e.name, key, sig.Outputs)
					}
					var flat []float64
					for _, row := range sig.Probabilities {
						flat = append(flat, row...)
					}
					d := maxAbsDiff(e.probabilities, flat)
					bitwise := d == 0
					t.Logf("%s: Python tf.saved_model.load %s vs the model: max |Δp| %.3g over %d images, bitwise equal %v", e.name, key, d, len(sig.Probabilities), bitwise)
					if len(sig.Probabilities) != n || d > predictionTolerance {
						t.Errorf("%s %s: Python's probabilities (%d rows) differ from the model's by %.3g", e.name, key, len(sig.Probabilities), d)
					}
					if !slices.Equal(sig.Classes, e.classes) {
						t.Errorf("%s %s: Python's classes %v, want %v", e.name, key, sig.Classes, e.classes)
					}
				}
				got := verdict.Checkpoints[filepath.Join(e.dir, variablesDir, variablesName)]
				if diff := diffShapeMaps(got, shapeMap(e.m.graph.weights)); len(diff) > 0 {
					t.Errorf("%s: variables/variables as Python lists it: %v", e.name, diff)
				}
			}
			for prefix, want := range ckptDigests {
				got := verdict.Digests[prefix]
				var differ []string
				for name, digest := range want {
					if got[name] != digest {
						differ = append(differ, name)
					}
				}
				slices.Sort(differ)
				if len(got) != len(want) || len(differ) > 0 {
					t.Errorf("%s: Python reads %d tensors, want %d; values differ in %v", prefix, len(got), len(want), differ)
				}
			}
			for _, prefix := range checkpoints {
				got := verdict.Checkpoints[prefix]
				if diff := diffShapeMaps(got, ckptVars[prefix]); len(diff) > 0 {
					t.Errorf("%s as tf.train.load_checkpoint lists it: %v", filepath.Base(prefix), diff)
				}
				t.Logf("%s: tf.train.load_checkpoint lists %d variables: %v", filepath.Base(prefix), len(got), keys(got))
			}

		})
	}
}

// digests are the SHA-256 of each variable's bytes (little-endian, as the host's).
func digests(state map[string][]byte) map[string]string {
	d := make(map[string]string, len(state))
	for name, b := range state {
		sum := sha256.Sum256(b)
		d[name] = hex.EncodeToString(sum[:])
	}
	return d
}

func keys[V any](m map[string]V) []string {
	k := make([]string, 0, len(m))
	for name := range m {
		k = append(k, name)
	}
	slices.Sort(k)
	return k
}

func float64s(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// checkSavedModelFiles checks the directory layout and the SavedModel proto of an export.
func checkSavedModelFiles(t *testing.T, dir string) {
	t.Helper()
	var files []string
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			files = append(files, rel)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"saved_model.pb", "variables/variables.data-00000-of-00001", "variables/variables.index"}; !slices.Equal(files, want) {
		t.Errorf("%s holds %v, want %v", dir, files, want)
	}
	entries, err := os.ReadDir(filepath.Dir(dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".exporting-") {
			t.Errorf("stray temporary directory %s", e.Name())
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, savedModelFile))
	if err != nil {
		t.Fatal(err)
	}
	var sm corepb.SavedModel
	if err := proto.Unmarshal(b, &sm); err != nil {
		t.Fatal(err)
	}
	if len(sm.MetaGraphs) != 1 {
		t.Fatalf("%d MetaGraphs, want 1", len(sm.MetaGraphs))
	}
	mg := sm.MetaGraphs[0]
	if tags := mg.GetMetaInfoDef().GetTags(); !slices.Equal(tags, []string{"serve"}) {
		t.Errorf("tags %v, want [serve]", tags)
	}
	if sd := mg.GetSaverDef(); sd.GetRestoreOpName() == "" || sd.GetFilenameTensorName() == "" || sd.GetVersion() != corepb.SaverDef_V2 {
		t.Errorf("saver_def %v", sd)
	}
	def := mg.GetSignatureDef()[SignatureDefault]
	if def.GetMethodName() != predictMethod || def.GetInputs()[InputPixels].GetName() != "pixels:0" ||
		def.GetOutputs()[OutputProbabilities].GetName() != "probabilities:0" || def.GetOutputs()[OutputClasses].GetName() != "classes:0" {
		t.Errorf("serving_default %v", def)
	}
	// The serving graph has no training op: no optimizer, no gradients, no dropout.
	for _, node := range mg.GetGraphDef().GetNode() {
		for _, banned := range []string{"gradients", "adam", "sgd", "dropout", "StatelessRandomUniform", "ResourceApply"} {
			if strings.Contains(node.GetName(), banned) || node.GetOp() == banned {
				t.Errorf("serving graph node %s (%s)", node.GetName(), node.GetOp())
			}
		}
	}
}

// An export replaces an existing one; a directory that is not a SavedModel fails to load naming it.
func TestSavedModelReplaceAndBadDirectories(t *testing.T) {
	cfg := tinyConfig(true)
	m := newModel(t, cfg)
	dir := filepath.Join(t.TempDir(), "model")
	pixels, labels := randomBatch(9, 8, inputs(cfg), classes(cfg))
	raw := make([]float32, len(pixels))
	for i, p := range pixels {
		raw[i] = p * 2
	}
	for round := range 2 {
		if _, _, err := m.TrainStep(pixels, labels); err != nil {
			t.Fatal(err)
		}
		if err := m.ExportSavedModel(dir, dataset.Normalizer{Divisor: 2}); err != nil {
			t.Fatal(err)
		}
		want, _, err := m.Predict(pixels, len(labels))
		if err != nil {
			t.Fatal(err)
		}
		p, err := LoadSavedModel(dir)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := p.Predict(raw, len(labels))
		if err != nil {
			t.Fatal(err)
		}
		if d := maxAbsDiff(got, float64s(want)); d > predictionTolerance {
			t.Errorf("round %d: the loaded export differs by %.3g", round, d)
		}
		if _, _, err := p.Predict(raw[1:], len(labels)); err == nil || !strings.Contains(err.Error(), "pixels for 8 examples of 5 features") {
			t.Errorf("Predict with a pixel missing: %v", err)
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []dataset.Normalizer{
		{Divisor: 0},
		{Divisor: 1, Mean: []float32{0, 0}, Std: []float32{1}},
		{Divisor: 1, Mean: []float32{0, 0}, Std: []float32{1, 1}}, // 5 features are not channels of 2
		{Divisor: 1, Mean: []float32{0}, Std: []float32{0}},
	} {
		if err := m.ExportSavedModel(dir, bad); err == nil {
			t.Errorf("ExportSavedModel with %+v succeeded", bad)
		}
	}

	empty := t.TempDir()
	garbage := t.TempDir()
	if err := os.WriteFile(filepath.Join(garbage, savedModelFile), []byte("not a proto"), 0o644); err != nil {
		t.Fatal(err)
	}
	noVars := t.TempDir()
	if err := os.WriteFile(filepath.Join(noVars, savedModelFile), []byte{}, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, dir, want string }{
		{"missing", filepath.Join(empty, "nothing"), "not a SavedModel directory"},
		{"empty", empty, "not a SavedModel directory"},
		{"garbage proto", garbage, ""},
		{"no serve MetaGraph", noVars, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := LoadSavedModel(tc.dir)
			if err == nil {
				p.Close()
				t.Fatal("loaded")
			}
			t.Logf("%v", err)
			if !strings.Contains(err.Error(), tc.dir) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name %s and %q", err, tc.dir, tc.want)
			}
		})
	}
}
