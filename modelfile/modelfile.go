// Package modelfile reads a network described in Keras 3's terms into a spec.Network: tfsweep's
// model file (YAML or JSON: an Input and a list of layers with Keras' class and argument names), the
// JSON of Keras' model.to_json(), and the config.json inside a .keras archive. It is the front's
// reader: the worker receives the resolved spec.Network and never links YAML.
//
// A model file:
//
//	name: convnet                 # optional: the file's base name otherwise
//	layers:
//	  - Input: {shape: [28, 28, 1]}
//	  - Conv2D: {filters: 32, kernel_size: 3, activation: relu}
//	  - MaxPooling2D: {pool_size: 2}
//	  - Flatten:
//	  - Dense: {units: 10, activation: softmax}
//
// Each layer is one Keras class with its Keras arguments, plus name (Keras' automatic name when
// absent) and inbound (the layers it reads, for a functional graph; the previous layer when absent).
// Every error names the file and line, and the layer.
package modelfile

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tfsweep/tfsweep/spec"
)

// MaxFileBytes bounds a model file and a .keras archive's config.json: a 1000-layer Keras JSON is
// about 3 MB.
const MaxFileBytes = 8 << 20

// Error is a problem at a place in a model file. Column is set for one-line files (Keras writes
// model.to_json() on one line).
type Error struct {
	File         string
	Line, Column int
	Err          error
}

func (e *Error) Error() string {
	if e.Column > 0 {
		return fmt.Sprintf("%s:%d:%d: %v", e.File, e.Line, e.Column, e.Err)
	}
	return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Read reads a model file, a Keras model JSON or a .keras archive and returns its network resolved
// (spec.Network.Resolve), the sweep's settings not yet applied.
func Read(path string) (spec.Network, error) {
	f, err := os.Open(path)
	if err != nil {
		return spec.Network{}, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return spec.Network{}, err
	}
	if !info.Mode().IsRegular() {
		return spec.Network{}, fmt.Errorf("%s is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return spec.Network{}, fmt.Errorf("%s: %w", path, err)
	}
	if strings.EqualFold(filepath.Ext(path), ".keras") {
		return readArchive(data, path)
	}
	return Parse(data, path)
}

// Parse reads a model file or a Keras model JSON from data; file names it in errors and gives the
// network its name when the file has none.
func Parse(data []byte, file string) (spec.Network, error) {
	return parse(data, file, baseName(file))
}

// parse reads a model file; name is the network's name unless the file gives one.
func parse(data []byte, file, name string) (spec.Network, error) {
	if len(data) > MaxFileBytes {
		return spec.Network{}, fmt.Errorf("%s: larger than %d bytes", file, MaxFileBytes)
	}
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return spec.Network{}, fmt.Errorf("%s: the file is empty: it needs a list of layers", file)
		}
		return spec.Network{}, syntaxError(file, err)
	}
	p := &parser{file: file, name: name, oneLine: !bytes.Contains(bytes.TrimSpace(data), []byte("\n"))}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if err := checkNesting(root, 0); err != nil {
		return spec.Network{}, p.errorf(root, "%v", err)
	}
	if root.Kind != yaml.MappingNode {
		return spec.Network{}, p.errorf(root, "expected a mapping with a layers list, or a Keras model JSON")
	}
	if lookup(root, "class_name") != nil {
		return p.keras(root)
	}
	return p.modelFile(root)
}

var yamlLine = regexp.MustCompile(`^yaml: line ([0-9]+): `)

// syntaxError places the YAML (or JSON) parser's error at its line, as file:line.
func syntaxError(file string, err error) error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: line, Err: errors.New(msg[len(m[0]):])}
	}
	return fmt.Errorf("%s: %s", file, strings.TrimPrefix(msg, "yaml: "))
}

// readArchive reads the config.json of a .keras archive, checking the Keras version its
// metadata.json records.
func readArchive(data []byte, path string) (spec.Network, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return spec.Network{}, fmt.Errorf("%s: not a .keras archive: %w", path, err)
	}
	read := func(name string) ([]byte, error) {
		f, err := zr.Open(name)
		if err != nil {
			return nil, fmt.Errorf("%s: the archive has no %s: is it a Keras 3 .keras file?", path, name)
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
		if err == nil && len(b) > MaxFileBytes {
			err = fmt.Errorf("larger than %d bytes", MaxFileBytes)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, name, err)
		}
		return b, nil
	}
	meta, err := read("metadata.json")
	if err != nil {
		return spec.Network{}, err
	}
	var metadata struct {
		KerasVersion string `yaml:"keras_version"`
	}
	if err := yaml.Unmarshal(meta, &metadata); err != nil {
		return spec.Network{}, fmt.Errorf("%s: metadata.json: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if err := checkKerasVersion(metadata.KerasVersion); err != nil {
		return spec.Network{}, fmt.Errorf("%s: metadata.json: %w", path, err)
	}
	config, err := read("config.json")
	if err != nil {
		return spec.Network{}, err
	}
	return parse(config, path+":config.json", baseName(path))
}

// checkKerasVersion accepts Keras 3, whose serialisation this package reads.
func checkKerasVersion(version string) error {
	if version == "" || strings.HasPrefix(version, "3.") {
		return nil
	}
	return fmt.Errorf("written by Keras %s: tfsweep reads models saved by Keras 3 (keras>=3.0); load it in Keras 3 and save it again", version)
}

type parser struct {
	file    string
	name    string // the network's name unless the file gives one
	oneLine bool
	nodes   []*yaml.Node // the node of each layer of the network being built, for errors
	input   *yaml.Node   // the node of the input
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) error {
	e := &Error{File: p.file, Line: n.Line, Err: fmt.Errorf(format, args...)}
	if p.oneLine {
		e.Column = n.Column
	}
	return e
}

// resolve resolves the network, placing an error about a layer at that layer's node.
func (p *parser) resolve(n spec.Network, at *yaml.Node) (spec.Network, error) {
	r, err := n.Resolve()
	if err == nil {
		return r, nil
	}
	var le *spec.LayerError
	if errors.As(err, &le) && le.Index < len(p.nodes) {
		return r, p.errorf(p.nodes[le.Index], "%v", err)
	}
	if ie := (*spec.InputError)(nil); errors.As(err, &ie) && p.input != nil {
		at = p.input
	}
	return r, p.errorf(at, "%v", err)
}

// checkNesting refuses YAML aliases (an alias bomb would expand without bound) and absurd nesting.
func checkNesting(n *yaml.Node, depth int) error {
	if depth > 24 {
		return errors.New("nested too deeply for a model file")
	}
	if n.Kind == yaml.AliasNode {
		return fmt.Errorf("line %d: YAML aliases are not allowed in a model file", n.Line)
	}
	for _, c := range n.Content {
		if err := checkNesting(c, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// lookup is the value of key in a mapping node, nil when absent.
func lookup(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func baseName(path string) string {
	base := filepath.Base(path)
	return strings.TrimSuffix(base, filepath.Ext(base))
}

// modelFile reads tfsweep's model file: name and layers, the first layer an Input.
func (p *parser) modelFile(root *yaml.Node) (spec.Network, error) {
	n := spec.Network{Name: p.name}
	var layers *yaml.Node
	for i := 0; i < len(root.Content); i += 2 {
		key, value := root.Content[i], root.Content[i+1]
		switch key.Value {
		case "name":
			if value.Kind != yaml.ScalarNode || value.Value == "" {
				return n, p.errorf(value, "name: expected the model's name")
			}
			n.Name = value.Value
		case "layers":
			layers = value
		default:
			return n, p.errorf(key, "unknown key %q: a model file has name and layers", key.Value)
		}
	}
	if layers == nil || layers.Kind != yaml.SequenceNode || len(layers.Content) == 0 {
		return n, p.errorf(root, "expected a layers list, the first an Input: {shape: [...]}")
	}
	if len(layers.Content) > spec.MaxLayers+1 {
		return n, p.errorf(layers, "%d layers, more than the %d tfsweep builds", len(layers.Content)-1, spec.MaxLayers)
	}
	names := p.autoNames(layers.Content)
	for i, item := range layers.Content {
		class, args, err := p.layerItem(item)
		if err != nil {
			return n, err
		}
		if i == 0 {
			if n.Input, err = p.inputLayer(class, args, item); err != nil {
				return n, err
			}
			continue
		}
		if class == "Input" || class == "InputLayer" {
			return n, p.errorf(item, "%s: only the first layer is the input; tfsweep trains networks with one input", class)
		}
		l, err := p.layer(spec.Class(class), args, true, names[i-1])
		if err != nil {
			return n, err
		}
		n.Layers = append(n.Layers, l)
		p.nodes = append(p.nodes, item)
	}
	return p.resolve(n, root)
}

// autoNames are the names the layers after the first (the input) will have, for errors found
// before the network is whole.
func (p *parser) autoNames(items []*yaml.Node) []string {
	var skeleton spec.Network
	for i, item := range items {
		class, args, err := p.layerItem(item)
		if i == 0 {
			skeleton.Input.Name = scalar(lookup(args, "name"))
			continue
		}
		if err == nil {
			skeleton.Layers = append(skeleton.Layers, spec.Layer{Class: spec.Class(class), Name: scalar(lookup(args, "name"))})
		} else {
			skeleton.Layers = append(skeleton.Layers, spec.Layer{})
		}
	}
	return skeleton.LayerNames()
}

// layerItem splits a layer entry "- Class: {args}" into its class and arguments.
func (p *parser) layerItem(item *yaml.Node) (string, *yaml.Node, error) {
	if item.Kind != yaml.MappingNode || len(item.Content) != 2 {
		return "", nil, p.errorf(item, "expected a layer as one Keras class with its arguments, e.g. - Dense: {units: 10}")
	}
	class, args := item.Content[0], item.Content[1]
	if args.Tag == "!!null" {
		args = &yaml.Node{Kind: yaml.MappingNode, Line: class.Line, Column: class.Column}
	}
	if args.Kind != yaml.MappingNode {
		return "", nil, p.errorf(args, "%s: expected its arguments as a mapping, e.g. {units: 10}", class.Value)
	}
	return class.Value, args, nil
}

// inputLayer reads the model file's first layer, keras.Input(shape=..., name=...).
func (p *parser) inputLayer(class string, args, item *yaml.Node) (spec.Input, error) {
	if class != "Input" && class != "InputLayer" {
		return spec.Input{}, p.errorf(item, "the first layer is %s: a model file starts with Input: {shape: [...]}", class)
	}
	p.input = item
	a := p.args(args, "Input", "")
	in := spec.Input{Name: a.string("name", ""), Shape: a.shape("shape")}
	return in, a.done()
}
