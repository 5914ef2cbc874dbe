package modelfile

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tfsweep/tfsweep/spec"
)

// args reads one layer's Keras arguments from a mapping node. The first problem sticks: later
// reads return zero values and done reports it, at the node it concerns.
type args struct {
	p     *parser
	node  *yaml.Node
	class string
	layer string // the layer's name, "" while unknown
	used  map[string]bool
	err   error
}

func (p *parser) args(node *yaml.Node, class, layer string) *args {
	return &args{p: p, node: node, class: class, layer: layer, used: map[string]bool{}}
}

// who names the layer as errors start: Conv2D `conv2d`, or Conv2D alone while it has no name.
func (a *args) who() string {
	if a.layer == "" {
		return a.class
	}
	return fmt.Sprintf("%s `%s`", a.class, a.layer)
}

func (a *args) fail(n *yaml.Node, format string, v ...any) {
	if a.err == nil {
		a.err = a.p.errorf(n, "%s %s", a.who(), fmt.Sprintf(format, v...))
	}
}

// value is the node of a key, nil when it is absent or null (Keras writes null for "none").
func (a *args) value(key string) *yaml.Node {
	a.used[key] = true
	v := lookup(a.node, key)
	if v == nil || v.Tag == "!!null" {
		return nil
	}
	return v
}

// text is a node's value as written, on one line, for messages.
func text(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return n.Value
	}
	flow := *n
	setFlow(&flow)
	out, err := yaml.Marshal(&flow)
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}

// setFlow sets flow style on a node and its children, copying them so that the file's nodes stay
// as they are.
func setFlow(n *yaml.Node) {
	n.Style = yaml.FlowStyle
	children := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		copied := *c
		setFlow(&copied)
		children[i] = &copied
	}
	n.Content = children
}

func (a *args) int(key string, def int) int {
	v := a.value(key)
	if v == nil || a.err != nil {
		return def
	}
	n, err := strconv.Atoi(v.Value)
	if v.Kind != yaml.ScalarNode || err != nil {
		f, ferr := strconv.ParseFloat(v.Value, 64)
		if v.Kind == yaml.ScalarNode && ferr == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int(f)
		}
		a.fail(v, "has %s %s: expected an integer", key, text(v))
		return def
	}
	return n
}

func (a *args) float(key string, def float64) float64 {
	v := a.value(key)
	if v == nil || a.err != nil {
		return def
	}
	f, err := strconv.ParseFloat(v.Value, 64)
	if v.Kind != yaml.ScalarNode || err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		a.fail(v, "has %s %s: expected a finite number", key, text(v))
		return def
	}
	return f
}

func (a *args) bool(key string, def bool) bool {
	v := a.value(key)
	if v == nil || a.err != nil {
		return def
	}
	switch strings.ToLower(v.Value) {
	case "true":
		return true
	case "false":
		return false
	}
	a.fail(v, "has %s %s: expected true or false", key, text(v))
	return def
}

func (a *args) string(key, def string) string {
	v := a.value(key)
	if v == nil || a.err != nil {
		return def
	}
	if v.Kind != yaml.ScalarNode {
		a.fail(v, "has %s %s: expected a name", key, text(v))
		return def
	}
	return v.Value
}

// ints reads a list of integers.
func (a *args) ints(key string, v *yaml.Node) []int {
	if v.Kind != yaml.SequenceNode {
		a.fail(v, "has %s %s: expected a list of integers", key, text(v))
		return nil
	}
	out := make([]int, len(v.Content))
	for i, c := range v.Content {
		n, err := strconv.Atoi(c.Value)
		if c.Kind != yaml.ScalarNode || err != nil {
			a.fail(c, "has %s %s: expected a list of integers", key, text(v))
			return nil
		}
		out[i] = n
	}
	return out
}

// pair reads Keras' int-or-tuple arguments (kernel_size: 3 or [3, 3]).
func (a *args) pair(key string, def [2]int) [2]int {
	v := a.value(key)
	if v == nil || a.err != nil {
		return def
	}
	if v.Kind == yaml.ScalarNode {
		n := a.int(key, 0)
		return [2]int{n, n}
	}
	list := a.ints(key, v)
	if a.err == nil && len(list) != 2 {
		a.fail(v, "has %s %s: expected one integer or two", key, text(v))
	}
	if len(list) != 2 {
		return def
	}
	return [2]int{list[0], list[1]}
}

func (a *args) shape(key string) spec.Shape {
	v := a.value(key)
	if v == nil {
		if a.err == nil {
			a.fail(a.node, "has no %s", key)
		}
		return nil
	}
	return a.ints(key, v)
}

// activation reads an activation by any name the names catalog accepts, or linear or softmax.
func (a *args) activation(key string, required bool) spec.Activation {
	name := a.string(key, "")
	switch strings.ToLower(name) {
	case "":
		if required && a.err == nil {
			a.fail(a.node, "has no %s", key)
		}
		return spec.ActivationLinear
	case "linear", "softmax":
		return spec.Activation(strings.ToLower(name))
	}
	canonical, err := parseActivation(name)
	if err != nil {
		a.fail(lookup(a.node, key), "has %s %q, which tfsweep does not build: want linear, softmax or one of %s",
			key, name, strings.Join(activationNames(), ", "))
	}
	return spec.Activation(canonical)
}

// initializer reads a kernel initializer, by name or as Keras serialises it
// ({class_name: GlorotUniform, config: {seed: null}}); "" when absent.
func (a *args) initializer(key string) spec.Initializer {
	v := a.value(key)
	if v == nil || a.err != nil {
		return ""
	}
	name, config := v.Value, (*yaml.Node)(nil)
	if v.Kind == yaml.MappingNode {
		name, config = scalar(lookup(v, "class_name")), lookup(v, "config")
	}
	canonical, randomUniform, err := lookupInit(name)
	if err != nil {
		a.fail(v, "has %s %s, which tfsweep does not build: want one of %s", key, text(v), strings.Join(initNames(), ", "))
		return ""
	}
	if config != nil {
		c := a.p.args(config, a.class, a.layer)
		c.fixed("seed", "null")
		c.fixed("input_axes", "null")
		c.fixed("output_axes", "null")
		if randomUniform {
			c.fixed("minval", "-0.05")
			c.fixed("maxval", "0.05")
		}
		if err := c.done(); err != nil && a.err == nil {
			a.err = fmt.Errorf("%w (in %s)", err, key)
		}
	}
	return spec.Initializer(canonical)
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// l2 reads a kernel regularizer: null, "l2" (Keras' L2(0.01)) or {class_name: L2, config: {l2: x}};
// nil when absent.
func (a *args) l2(key string) *float64 {
	v := a.value(key)
	if v == nil || a.err != nil {
		return nil
	}
	if v.Kind == yaml.ScalarNode && strings.EqualFold(v.Value, "l2") {
		factor := 0.01
		return &factor
	}
	if v.Kind == yaml.MappingNode && scalar(lookup(v, "class_name")) == "L2" {
		c := a.p.args(lookup(v, "config"), a.class, a.layer)
		factor := c.float("l2", 0.01)
		if err := c.done(); err != nil {
			a.err = err
		}
		return &factor
	}
	a.fail(v, "has %s %s, which tfsweep does not build: it takes L2 only (l2 or {class_name: L2, config: {l2: 0.0001}})", key, text(v))
	return nil
}

// fixed accepts an argument tfsweep does not vary only at one of the values it builds (as Keras
// writes them); absent is fine.
func (a *args) fixed(key string, allowed ...string) {
	a.used[key] = true
	v := lookup(a.node, key)
	if v == nil || a.err != nil {
		return
	}
	got := text(v)
	if v.Tag == "!!null" {
		got = "null"
	}
	if !slices.Contains(allowed, got) {
		a.fail(v, "has %s %s, which tfsweep does not build: it builds %s only", key, got, strings.Join(allowed, " or "))
	}
}

// fixedInit accepts an initializer argument only as the class tfsweep builds (Zeros, Ones).
func (a *args) fixedInit(key, class string) {
	v := a.value(key)
	if v == nil || a.err != nil {
		return
	}
	name := v.Value
	if v.Kind == yaml.MappingNode {
		name = scalar(lookup(v, "class_name"))
	}
	if !strings.EqualFold(strings.ReplaceAll(name, "_", ""), class) {
		a.fail(v, "has %s %s, which tfsweep does not build: it builds %s only", key, text(v), class)
	}
}

// common reads what every Keras layer config may hold: trainable (true only) and dtype (float32).
func (a *args) common() {
	a.fixed("trainable", "true")
	v := a.value("dtype")
	if v == nil || a.err != nil {
		return
	}
	name := v.Value
	if v.Kind == yaml.MappingNode {
		name = scalar(lookup(lookup(v, "config"), "name"))
	}
	if name != "float32" {
		a.fail(v, "has dtype %s: tfsweep trains float32 only", text(v))
	}
}

// done reports an argument nothing read (most likely a misspelling, and the cause of a missing
// one), else the first problem.
func (a *args) done() error {
	if a.node == nil {
		return a.err
	}
	if a.node.Kind != yaml.MappingNode {
		return a.p.errorf(a.node, "%s: expected its arguments as a mapping", a.who())
	}
	for i := 0; i < len(a.node.Content); i += 2 {
		key := a.node.Content[i]
		if !a.used[key.Value] {
			known := make([]string, 0, len(a.used))
			for k := range a.used {
				known = append(known, k)
			}
			slices.Sort(known)
			return a.p.errorf(key, "%s has an argument %s that tfsweep does not build (%s takes %s)", a.who(), key.Value, a.class, strings.Join(known, ", "))
		}
	}
	return a.err
}
