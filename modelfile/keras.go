package modelfile

import (
	"regexp"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/tfsweep/tfsweep/spec"
)

// automaticModelName matches the names Keras gives a model nobody named; the file's name tells
// models apart better.
var automaticModelName = regexp.MustCompile(`^(sequential|functional)(_[0-9]+)?$`)

// keras reads the JSON of Keras 3's model.to_json() (also a .keras archive's config.json): a
// Sequential or Functional model of the layers tfsweep builds.
func (p *parser) keras(root *yaml.Node) (spec.Network, error) {
	n := spec.Network{Name: p.name}
	if v := lookup(root, "keras_version"); v != nil {
		if err := checkKerasVersion(scalar(v)); err != nil {
			return n, p.errorf(v, "%v", err)
		}
	}
	if lookup(root, "module") == nil {
		return n, p.errorf(root, "a Keras model JSON without a module key, as Keras 2 writes it: tfsweep reads models saved by Keras 3 (keras>=3.0)")
	}
	class, config := lookup(root, "class_name"), lookup(root, "config")
	layers := lookup(config, "layers")
	if layers == nil || layers.Kind != yaml.SequenceNode || len(layers.Content) == 0 {
		return n, p.errorf(root, "a Keras %s without a layers list: tfsweep imports Sequential and Functional models", scalar(class))
	}
	if len(layers.Content) > spec.MaxLayers+1 {
		return n, p.errorf(layers, "%d layers, more than the %d tfsweep builds", len(layers.Content)-1, spec.MaxLayers)
	}
	if name := scalar(lookup(config, "name")); name != "" && !automaticModelName.MatchString(name) {
		n.Name = name
	}
	var err error
	switch scalar(class) {
	case "Sequential":
		err = p.sequential(&n, root, layers)
	case "Functional", "Model":
		err = p.functional(&n, config, layers)
	default:
		return n, p.errorf(class, "a Keras %s: tfsweep imports Sequential and Functional models", scalar(class))
	}
	if err != nil {
		return n, err
	}
	return p.resolve(n, root)
}

// kerasLayer reads one entry of a Keras config's layers list.
func (p *parser) kerasLayer(item *yaml.Node) (spec.Layer, error) {
	if item.Kind != yaml.MappingNode {
		return spec.Layer{}, p.errorf(item, "expected a Keras layer object")
	}
	class := scalar(lookup(item, "class_name"))
	if r := lookup(item, "registered_name"); r != nil && r.Tag != "!!null" && r.Value != class {
		return spec.Layer{}, p.errorf(item, "%s is a custom layer (registered as %s): tfsweep builds Keras' own layers only", class, r.Value)
	}
	config := lookup(item, "config")
	if config == nil {
		config = &yaml.Node{Kind: yaml.MappingNode, Line: item.Line, Column: item.Column}
	}
	return p.layer(spec.Class(class), config, false, "")
}

// kerasInput reads an InputLayer's config: batch_shape [null, ...].
func (p *parser) kerasInput(item *yaml.Node) (spec.Input, error) {
	p.input = item
	a := p.args(lookup(item, "config"), "InputLayer", "")
	in := spec.Input{Name: a.string("name", "")}
	a.layer = in.Name
	if v := a.value("batch_shape"); v != nil && v.Kind == yaml.SequenceNode && len(v.Content) > 0 && v.Content[0].Tag == "!!null" {
		in.Shape = a.ints("batch_shape", &yaml.Node{Kind: yaml.SequenceNode, Content: v.Content[1:]})
	} else if a.err == nil {
		a.fail(item, "has no batch_shape [null, ...]: tfsweep needs the input's shape")
	}
	a.fixed("dtype", "float32")
	a.fixed("sparse", "false")
	a.fixed("ragged", "false")
	a.fixed("optional", "false")
	return in, a.done()
}

// sequential reads a Sequential model's layers: an InputLayer first (keras.Input), or else the
// input shape the model was built with.
func (p *parser) sequential(n *spec.Network, root, layers *yaml.Node) error {
	items := layers.Content
	if scalar(lookup(items[0], "class_name")) == "InputLayer" {
		in, err := p.kerasInput(items[0])
		if err != nil {
			return err
		}
		n.Input, items = in, items[1:]
	} else {
		built := lookup(lookup(root, "build_config"), "input_shape")
		if built == nil || built.Kind != yaml.SequenceNode || len(built.Content) < 2 {
			return p.errorf(items[0], "the model has no input shape: build it with keras.Input(shape=...) first")
		}
		a := p.args(nil, "Sequential", "")
		n.Input.Shape = a.ints("input_shape", &yaml.Node{Kind: yaml.SequenceNode, Content: built.Content[1:]})
		if a.err != nil {
			return a.err
		}
	}
	for _, item := range items {
		if scalar(lookup(item, "class_name")) == "InputLayer" {
			return p.errorf(item, "a second InputLayer: tfsweep trains networks with one input")
		}
		l, err := p.kerasLayer(item)
		if err != nil {
			return err
		}
		n.Layers = append(n.Layers, l)
		p.nodes = append(p.nodes, item)
	}
	return nil
}

// functional reads a Functional model: one InputLayer, the other layers linked by their
// inbound_nodes, the output layer put last.
func (p *parser) functional(n *spec.Network, config, layers *yaml.Node) error {
	ins, outs := historyNames(lookup(config, "input_layers")), historyNames(lookup(config, "output_layers"))
	if len(ins) != 1 || len(outs) != 1 {
		return p.errorf(config, "a model with %d inputs and %d outputs: tfsweep trains networks with one input and one output", len(ins), len(outs))
	}
	output := -1
	for _, item := range layers.Content {
		if scalar(lookup(item, "class_name")) == "InputLayer" {
			if n.Input.Shape != nil {
				return p.errorf(item, "a second InputLayer: tfsweep trains networks with one input")
			}
			in, err := p.kerasInput(item)
			if err != nil {
				return err
			}
			n.Input = in
			continue
		}
		l, err := p.kerasLayer(item)
		if err != nil {
			return err
		}
		if l.Inbound, err = p.inboundNodes(item, l); err != nil {
			return err
		}
		if l.Name == outs[0] {
			output = len(n.Layers)
		}
		n.Layers = append(n.Layers, l)
		p.nodes = append(p.nodes, item)
	}
	if n.Input.Shape == nil || n.Input.Name != ins[0] {
		return p.errorf(config, "input_layers names %s, which is not the model's InputLayer", ins[0])
	}
	if output < 0 {
		return p.errorf(config, "output_layers names %s, which is not a layer of the model", outs[0])
	}
	outLayer, outNode := n.Layers[output], p.nodes[output]
	n.Layers = append(slices.Delete(n.Layers, output, output+1), outLayer)
	p.nodes = append(slices.Delete(p.nodes, output, output+1), outNode)
	return nil
}

// historyNames reads input_layers or output_layers: [name, 0, 0] for one, a list of those for
// several.
func historyNames(v *yaml.Node) []string {
	if v == nil || v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
		return nil
	}
	if v.Content[0].Kind == yaml.ScalarNode {
		return []string{v.Content[0].Value}
	}
	var names []string
	for _, h := range v.Content {
		if h.Kind == yaml.SequenceNode && len(h.Content) > 0 {
			names = append(names, scalar(h.Content[0]))
		}
	}
	return names
}

// inboundNodes reads the layers a functional layer reads from its one call:
// inbound_nodes: [{args: [tensor or [tensors]], kwargs: {}}], each tensor's keras_history
// [layer, 0, 0].
func (p *parser) inboundNodes(item *yaml.Node, l spec.Layer) ([]string, error) {
	who := string(l.Class) + " `" + l.Name + "`"
	nodes := lookup(item, "inbound_nodes")
	if nodes == nil || nodes.Kind != yaml.SequenceNode || len(nodes.Content) != 1 {
		count := 0
		if nodes != nil {
			count = len(nodes.Content)
		}
		return nil, p.errorf(item, "%s is called %d times: tfsweep builds layers called once (no shared layers)", who, count)
	}
	call := nodes.Content[0]
	args, kwargs := lookup(call, "args"), lookup(call, "kwargs")
	if kwargs != nil && len(kwargs.Content) > 0 {
		return nil, p.errorf(kwargs, "%s is called with keyword arguments %s, which tfsweep does not build", who, text(kwargs))
	}
	if args == nil || args.Kind != yaml.SequenceNode || len(args.Content) != 1 {
		return nil, p.errorf(call, "%s: expected its call's args as [tensor] or [[tensors]]", who)
	}
	tensors := []*yaml.Node{args.Content[0]}
	if args.Content[0].Kind == yaml.SequenceNode {
		tensors = args.Content[0].Content
	}
	var inbound []string
	for _, t := range tensors {
		history := lookup(lookup(t, "config"), "keras_history")
		if history == nil || history.Kind != yaml.SequenceNode || len(history.Content) != 3 ||
			scalar(history.Content[1]) != "0" || scalar(history.Content[2]) != "0" {
			return nil, p.errorf(t, "%s reads %s: expected a Keras tensor with keras_history [layer, 0, 0]", who, text(t))
		}
		inbound = append(inbound, scalar(history.Content[0]))
	}
	return inbound, nil
}
