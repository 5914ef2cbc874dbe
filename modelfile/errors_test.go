package modelfile

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// keras returns a Keras fixture, edited by edit (nil: as Keras wrote it).
func kerasFixture(t *testing.T, name string, edit func(model map[string]any)) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata/keras", name))
	if err != nil {
		t.Fatal(err)
	}
	if edit == nil {
		return data
	}
	var model map[string]any
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(&model); err != nil {
		t.Fatal(err)
	}
	edit(model)
	out, err := json.Marshal(model)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// kerasLayers is the layers list of a Keras model JSON decoded as generic values.
func kerasLayers(model map[string]any) []any {
	return model["config"].(map[string]any)["layers"].([]any)
}

func kerasLayer(model map[string]any, name string) map[string]any {
	for _, l := range kerasLayers(model) {
		if l := l.(map[string]any); l["config"].(map[string]any)["name"] == name {
			return l
		}
	}
	panic("no layer " + name)
}

func archive(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, content := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var position = regexp.MustCompile(`^(.*?):(\d+)(?::(\d+))?: `)

// TestMalformedModels holds every refusal to the file:line (and, on Keras' one-line JSON, the
// column of the object at fault), the layer and what is wrong.
func TestMalformedModels(t *testing.T) {
	const head = "layers:\n  - Input: {shape: [784]}\n"
	const image = "layers:\n  - Input: {shape: [28, 28, 1]}\n"
	const out = "  - Dense: {units: 10, activation: softmax}\n"
	var many strings.Builder
	many.WriteString(head)
	for range 50_000 {
		many.WriteString("  - Dense: {units: 8, activation: tanh}\n")
	}
	convnet := kerasFixture(t, "convnet.json", nil)
	tests := []struct {
		name, file string
		content    []byte
		line       int    // the line the error names
		at         string // Keras JSON: what the file holds at the column the error names
		layer      string // how the error names the layer ("" where no layer is at fault)
		want       string
	}{
		{"unknown layer", "m.yaml", []byte(head + "  - LSTM: {units: 8}\n" + out), 3, "", "LSTM `lstm`", "is not a layer class tfsweep builds"},
		{"misspelled argument", "m.yaml", []byte(head + "  - Dense: {unit: 10, activation: softmax}\n"), 3, "", "Dense `dense`",
			"has an argument unit that tfsweep does not build (Dense takes "},
		{"argument of another class", "m.yaml", []byte(head + "  - Dense: {units: 10, filters: 3, activation: softmax}\n"), 3, "", "Dense `dense`",
			"has an argument filters"},
		{"not an integer", "m.yaml", []byte(image + "  - Conv2D: {filters: 32, kernel_size: three}\n  - Flatten:\n" + out), 3, "", "Conv2D `conv2d`",
			"has kernel_size three: expected an integer"},
		{"bad padding", "m.yaml", []byte(image + "  - MaxPooling2D: {padding: full}\n  - Flatten:\n" + out), 3, "", "MaxPooling2D `max_pooling2d`",
			`has padding "full": tfsweep builds valid or same`},
		{"dense on an image", "m.yaml", []byte(image +
			"  - Conv2D: {filters: 32, kernel_size: 3, activation: relu}\n  - MaxPooling2D: {pool_size: 2}\n" +
			"  - Conv2D: {filters: 64, kernel_size: 3, activation: relu}\n  - MaxPooling2D: {pool_size: 2}\n" +
			"  - Dropout: {rate: 0.5}\n" + out), 8, "", "Dense `dense`", "gets a 4-D input (None, 5, 5, 64): add Flatten before it"},
		{"convolution of a vector", "m.yaml", []byte(head + "  - Conv2D: {filters: 8, kernel_size: 3}\n  - Flatten:\n" + out), 3, "", "Conv2D `conv2d`",
			"gets a 2-D input (None, 784): it reads images (None, height, width, channels); add Reshape"},
		{"kernel larger than the image", "m.yaml", []byte("layers:\n  - Input: {shape: [4, 4, 1]}\n  - Conv2D: {filters: 8, kernel_size: 5}\n  - Flatten:\n" + out),
			3, "", "Conv2D `conv2d`", "smaller than its 5x5 kernel with padding valid"},
		{"add of two shapes", "m.yaml", []byte(head + "  - Dense: {name: a, units: 8, activation: relu}\n" +
			"  - Dense: {name: b, units: 16, activation: relu, inbound: input_layer}\n  - Add: {inbound: [a, b]}\n" + out),
			5, "", "Add `add`", "gets (None, 8) from `a` and (None, 16) from `b`: Add needs inputs of one shape"},
		{"concatenate of two sizes", "m.yaml", []byte(image + "  - Conv2D: {name: a, filters: 8, kernel_size: 3, padding: same}\n" +
			"  - Conv2D: {name: b, filters: 8, kernel_size: 3, inbound: input_layer}\n  - Concatenate: {inbound: [a, b]}\n  - Flatten:\n" + out),
			5, "", "Concatenate `concatenate`", "gets (None, 28, 28, 8) from `a` and (None, 26, 26, 8) from `b`"},
		{"cycle", "m.yaml", []byte(head + "  - Dense: {name: a, units: 8, activation: relu, inbound: c}\n" +
			"  - Dense: {name: b, units: 8, activation: relu, inbound: a}\n  - Dense: {name: c, units: 8, activation: relu, inbound: b}\n" +
			"  - Dense: {name: out, units: 10, activation: softmax, inbound: c}\n"),
			4, "", "Dense `b`", "is on a cycle `b` → `c` → `a` → `b`"},
		{"unknown inbound", "m.yaml", []byte(head + "  - Dense: {units: 10, activation: softmax, inbound: dense_9}\n"), 3, "", "Dense `dense`",
			"reads `dense_9`, which is neither a layer of the network nor its input"},
		{"duplicate name", "m.yaml", []byte(head + "  - Dense: {name: x, units: 8}\n  - Dense: {name: x, units: 10, activation: softmax}\n"), 4, "", "Dense `x`",
			"has the name of layer 1"},
		{"dead branch", "m.yaml", []byte(head + "  - Dense: {name: side, units: 8}\n  - Dense: {units: 10, activation: softmax, inbound: input_layer}\n"),
			3, "", "Dense `side`", "does not lead to the output layer `dense`"},
		{"absurd units", "m.yaml", []byte(head + "  - Dense: {units: 1000000000000000, activation: softmax}\n"), 3, "", "Dense `dense`",
			"has units 1000000000000000: it must be in [1, 1099511627776]"},
		{"absurd weights", "m.yaml", []byte(head + "  - Dense: {units: 1000000000}\n  - Dense: {units: 100000}\n" + out), 4, "", "Dense `dense_1`",
			"takes the network beyond 1099511627776 weights"},
		{"50,000 layers", "m.yaml", []byte(many.String()), 2, "", "", "50000 layers, more than the 1000 tfsweep builds"},
		{"dropout rate", "m.yaml", []byte(head + "  - Dropout: {rate: 1.5}\n" + out), 3, "", "Dropout `dropout`", "has rate 1.5: it must be in [0, 1)"},
		{"unknown activation", "m.yaml", []byte(head + "  - Dense: {units: 8, activation: swishy}\n" + out), 3, "", "Dense `dense`",
			`has activation "swishy", which tfsweep does not build`},
		{"softmax before the output", "m.yaml", []byte(head + "  - Dense: {units: 8, activation: softmax}\n" + out), 3, "", "Dense `dense`",
			"has activation softmax before the output layer"},
		{"linear output", "m.yaml", []byte(head + "  - Dense: {units: 10}\n"), 3, "", "Dense `dense`", "is the output layer with activation linear"},
		{"no input", "m.yaml", []byte("layers:\n  - Dense: {units: 10, activation: softmax}\n"), 2, "", "", "the first layer is Dense: a model file starts with Input"},
		{"unknown key", "m.yaml", []byte("name: x\nlayer:\n  - Input: {shape: [784]}\n"), 2, "", "", `unknown key "layer"`},
		{"batch axis", "m.yaml", []byte(head + "  - BatchNormalization: {axis: 0}\n" + out), 3, "", "BatchNormalization `batch_normalization`",
			"has axis 0, the batch axis"},
		{"reshape count", "m.yaml", []byte(head + "  - Reshape: {target_shape: [27, 27, 1]}\n  - Flatten:\n" + out), 3, "", "Reshape `reshape`",
			"the element counts must match"},
		{"input rank", "m.yaml", []byte("layers:\n  - Input: {shape: [1, 2, 3, 4]}\n" + out), 2, "", "", "input shape [1 2 3 4] has 4 dimensions"},
		{"input name", "m.yaml", []byte("layers:\n  - Input: {shape: [784], name: in/put}\n" + out), 2, "", "", `the input's name "in/put" is not a valid name`},
		{"layer name", "m.yaml", []byte(head + "  - Dense: {units: 10, activation: softmax, name: 'dense 1'}\n"), 3, "", "Dense `dense 1`", "is not a valid name"},
		{"YAML syntax", "m.yaml", []byte(head + "\t- Dense: {units: 10}\n"), 3, "", "", "found character that cannot start any token"},
		{"Keras: unsupported layer", "k.json", kerasFixture(t, "unsupported_layer.json", nil), 1, `{"name": "separable_conv2d"`,
			"SeparableConv2D `separable_conv2d`", "is not a layer class tfsweep builds"},
		{"Keras: dilation", "k.json", kerasFixture(t, "unsupported_dilation.json", nil), 1, `[2, 2]`, "Conv2D `conv2d`",
			"has dilation_rate [2 2], which tfsweep does not build: it builds 1 only"},
		{"Keras: bias initializer", "k.json", kerasFixture(t, "unsupported_bias_initializer.json", nil), 1, `{"module": "keras.initializers", "class_name": "Ones"`,
			"Dense `dense`", "has bias_initializer"},
		{"Keras: L1 regularizer", "k.json", kerasFixture(t, "unsupported_regularizer.json", nil), 1, `{"module": "keras.regularizers", "class_name": "L1"`,
			"Dense `dense`", "it takes L2 only"},
		{"Keras: activation", "k.json", kerasFixture(t, "unsupported_activation.json", nil), 1, `"softsign"`, "Dense `dense`", `has activation "softsign"`},
		{"Keras: two inputs", "k.json", kerasFixture(t, "unsupported_two_inputs.json", nil), 1, `{"name": "two_inputs"`, "", "a model with 2 inputs and 1 outputs"},
		{"Keras: Flatten removed", "k.json", kerasFixture(t, "convnet.json", func(m map[string]any) {
			c := m["config"].(map[string]any)
			layers := kerasLayers(m)
			c["layers"] = append(layers[:5:5], layers[6:]...)
		}), 1, `{"build_config":{"input_shape":[null,1600]},"class_name":"Dense"`, "Dense `dense`", "gets a 4-D input (None, 5, 5, 64): add Flatten before it"},
		{"Keras: channels first", "k.json", kerasFixture(t, "convnet.json", func(m map[string]any) {
			kerasLayer(m, "conv2d_1")["config"].(map[string]any)["data_format"] = "channels_first"
		}), 1, `"channels_first"`, "Conv2D `conv2d_1`", "has data_format channels_first, which tfsweep does not build"},
		{"Keras: trainable false", "k.json", kerasFixture(t, "convnet.json", func(m map[string]any) {
			kerasLayer(m, "dense")["config"].(map[string]any)["trainable"] = false
		}), 1, `false`, "Dense `dense`", "has trainable false"},
		{"Keras: custom layer", "k.json", kerasFixture(t, "convnet.json", func(m map[string]any) {
			kerasLayer(m, "flatten")["registered_name"] = "mine>Flatten2"
		}), 1, `{"build_config"`, "Flatten", "is a custom layer (registered as mine>Flatten2)"},
		{"Keras: functional cycle", "k.json", bytes.Replace(kerasFixture(t, "residual.json", nil),
			[]byte(`"keras_history": ["stem", 0, 0]`), []byte(`"keras_history": ["conv2d_1", 0, 0]`), 1),
			1, `{"module": "keras.layers", "class_name": "Conv2D"`, "Conv2D `conv2d_1`", "is on a cycle `conv2d_1` → `conv2d` → `conv2d_1`"},
		{"Keras: shared layer", "k.json", kerasFixture(t, "residual.json", func(m map[string]any) {
			l := kerasLayer(m, "dense")
			nodes := l["inbound_nodes"].([]any)
			l["inbound_nodes"] = append(nodes, nodes[0])
		}), 1, `{"build_config"`, "Dense `dense`", "is called 2 times: tfsweep builds layers called once"},
		{"Keras: no input shape", "k.json", kerasFixture(t, "built_without_input.json", func(m map[string]any) {
			m["config"].(map[string]any)["layers"] = kerasLayers(m)[1:]
			delete(m, "build_config")
		}), 1, `{"build_config":{"input_shape":[null,784]},"class_name":"Dense"`, "", "the model has no input shape: build it with keras.Input(shape=...) first"},
		{"Keras: Keras 2", "k.json", []byte(`{"class_name": "Sequential", "config": {"name": "sequential", "layers": [{"class_name": "Dense", ` +
			`"config": {"name": "dense", "units": 10, "batch_input_shape": [null, 784]}}]}, "keras_version": "2.15.0", "backend": "tensorflow"}`),
			1, `"2.15.0"`, "", "written by Keras 2.15.0: tfsweep reads models saved by Keras 3"},
		{"Keras: Keras 2 without a version", "k.json", []byte(`{"class_name": "Sequential", "config": {"name": "sequential", "layers": []}}`),
			1, `{"class_name"`, "", "without a module key, as Keras 2 writes it"},
		{"Keras archive: Keras 2", "k.keras", archive(t, map[string]string{"metadata.json": `{"keras_version": "2.13.1"}`, "config.json": string(convnet)}),
			0, "", "", "metadata.json: written by Keras 2.13.1"},
		{"Keras archive: no config", "k.keras", archive(t, map[string]string{"metadata.json": `{"keras_version": "3.15.1"}`}),
			0, "", "", "the archive has no config.json"},
		{"Keras archive: bad layer", "k.keras", archive(t, map[string]string{"metadata.json": `{"keras_version": "3.15.1"}`,
			"config.json": string(kerasFixture(t, "unsupported_dilation.json", nil))}),
			1, "", "Conv2D `conv2d`", "has dilation_rate [2 2]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tt.file)
			if err := os.WriteFile(path, tt.content, 0o644); err != nil {
				t.Fatal(err)
			}
			n, err := Read(path)
			if err == nil {
				t.Fatalf("accepted: %+v", n)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) || !strings.Contains(msg, tt.layer) {
				t.Errorf("error %q does not name %q and say %q", msg, tt.layer, tt.want)
			}
			if !strings.HasPrefix(msg, path) {
				t.Errorf("error %q does not start with the file %s", msg, path)
			}
			if tt.line == 0 {
				return
			}
			m := position.FindStringSubmatch(msg)
			if m == nil || m[2] != strconv.Itoa(tt.line) {
				t.Fatalf("error %q is not at line %d", msg, tt.line)
			}
			if tt.at != "" {
				col, _ := strconv.Atoi(m[3])
				if col < 1 || !bytes.HasPrefix(tt.content[col-1:], []byte(tt.at)) {
					t.Errorf("error %q: the file at its column is not %s", msg, tt.at)
				}
			}
		})
	}
}
