package modelfile

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tfsweep/tfsweep/spec"
)

// kerasSummary is what scripts/keras_models.py records of a model from Keras itself.
type kerasSummary struct {
	Params int64 `json:"params"`
	Layers []struct {
		Name        string `json:"name"`
		OutputShape []int  `json:"output_shape"`
	} `json:"layers"`
}

// TestKerasImportsAgreeWithKeras reads the models Keras wrote and holds the shapes and weight counts
// tfsweep infers to those Keras computed for the same models.
func TestKerasImportsAgreeWithKeras(t *testing.T) {
	for _, file := range []string{"convnet.json", "mlp.json", "built_without_input.json", "residual.json", "residual.keras", "every_layer.json"} {
		t.Run(file, func(t *testing.T) {
			n, err := Read(filepath.Join("testdata/keras", file))
			if err != nil {
				t.Fatal(err)
			}
			s, err := n.Summary()
			if err != nil {
				t.Fatal(err)
			}
			var want kerasSummary
			data, err := os.ReadFile(filepath.Join("testdata/keras", strings.TrimSuffix(file, filepath.Ext(file))+".summary.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &want); err != nil {
				t.Fatal(err)
			}
			if got := s.Trainable + s.NonTrainable; got != want.Params {
				t.Errorf("%d weights, Keras counts %d", got, want.Params)
			}
			var kerasNames []string
			for _, l := range want.Layers {
				if l.Name == n.Input.Name {
					continue // a functional model lists its InputLayer
				}
				kerasNames = append(kerasNames, l.Name)
				i := slices.IndexFunc(s.Layers, func(ls spec.LayerSummary) bool { return ls.Name == l.Name })
				if i < 0 {
					t.Errorf("no layer %s", l.Name)
				} else if !slices.Equal(s.Layers[i].Output, l.OutputShape) {
					t.Errorf("%s gives %v, Keras %v", l.Name, s.Layers[i].Output, l.OutputShape)
				}
			}
			if len(kerasNames) != len(s.Layers) {
				t.Errorf("%d layers, Keras has %d (%v)", len(s.Layers), len(kerasNames), kerasNames)
			}
		})
	}
}

// TestModelFilesEqualKerasImports reads the same networks written as tfsweep model files and
// exported by Keras: the networks must be the same, names included.
func TestModelFilesEqualKerasImports(t *testing.T) {
	glorot := spec.Initializer("glorot_uniform")
	same := spec.Settings{Init: &glorot} // Keras writes its default initializer out; the model files leave it
	tests := []struct{ file, keras string }{
		{"testdata/convnet.yaml", "testdata/keras/convnet.json"},
		{"testdata/residual.yaml", "testdata/keras/residual.json"},
		{"testdata/residual.yaml", "testdata/keras/residual.keras"},
		{"testdata/mlp.json", "testdata/keras/mlp.json"},
	}
	for _, tt := range tests {
		t.Run(tt.keras, func(t *testing.T) {
			ours, err := Read(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			theirs, err := Read(tt.keras)
			if err != nil {
				t.Fatal(err)
			}
			if ours, err = ours.Apply(same); err != nil {
				t.Fatal(err)
			}
			if theirs, err = theirs.Apply(same); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ours, theirs) {
				a, _ := json.Marshal(ours)
				b, _ := json.Marshal(theirs)
				t.Errorf("model file\n%s\nKeras\n%s", a, b)
			}
		})
	}
}

// TestLabReportMLPIsTheKerasMLP: the built-in network is the lab report's as Keras writes it.
func TestLabReportMLPIsTheKerasMLP(t *testing.T) {
	imported, err := Read("testdata/keras/mlp.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range imported.Layers {
		if got := l.Dense.Init(); got != spec.DefaultInitializer {
			t.Errorf("%s: Keras' glorot_normal read as %s, want %s", l.Name, got, spec.DefaultInitializer)
		}
	}
	// The built-in network leaves its kernels to --init; Keras writes glorot_normal out.
	xavier := spec.DefaultInitializer
	builtIn, err := spec.LabReportMLP().Apply(spec.Settings{Init: &xavier})
	if err != nil {
		t.Fatal(err)
	}
	if imported, err = imported.Apply(spec.Settings{}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(builtIn, imported) {
		a, _ := json.Marshal(builtIn)
		b, _ := json.Marshal(imported)
		t.Errorf("built in\n%s\nKeras\n%s", a, b)
	}
}

// TestSequentialWithoutInputLayer reads the input shape from the build_config Keras writes for a
// built Sequential model when its layers list has no InputLayer.
func TestSequentialWithoutInputLayer(t *testing.T) {
	data := kerasFixture(t, "built_without_input.json", func(m map[string]any) {
		c := m["config"].(map[string]any)
		c["layers"] = kerasLayers(m)[1:]
	})
	n, err := Parse(data, "built.json")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(n.Input.Shape, spec.Shape{784}) || len(n.Layers) != 2 {
		t.Errorf("input %v, %d layers; want [784] and 2", n.Input.Shape, len(n.Layers))
	}
}
