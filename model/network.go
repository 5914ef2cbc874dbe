package model

import (
	"errors"
	"fmt"
	"slices"

	"github.com/tfsweep/tfsweep/model/catalog"
)

// layerSpec is one layer of the network the graph builds, named and configured as Keras 3 names
// it. Only the settings of its class are read.
type layerSpec struct {
	class   string   // Keras class name: Dense, Conv2D, MaxPooling2D, ...
	name    string   // unique in the network
	inbound []string // the layers it reads; none for the network's input

	units      int    // Dense
	filters    int    // Conv2D
	activation string // Dense, Conv2D, Activation: canonical name, "linear" or "softmax"
	useBias    bool   // Dense, Conv2D
	init       string // Dense, Conv2D kernel initializer, canonical catalog name
	l2         float64
	// Conv2D's kernel and the pooling layers' pool size, and their strides (height, width).
	kernelSize, strides [2]int
	padding             string // "valid" or "same"
	targetShape         []int  // Reshape, without the batch dimension
	rate                float64
	// BatchNormalization's feature axis and Concatenate's axis, counted over the batched shape
	// (negative from the end).
	axis              int
	momentum, epsilon float64
	scale, offset     float64 // Rescaling
}

// network is the graph's description of a model: the input shape without the batch dimension and
// the layers in topological order. The last layer gives the class probabilities: its activation is
// softmax, which the graph folds into the loss.
type network struct {
	input  []int
	layers []layerSpec
}

// mlpNetwork is the lab report's family as Keras' Sequential auto-names it: per hidden width
// Dense(activation), or Dense → BatchNormalization → Activation with batch norm, each followed by
// Dropout with a rate, then Dense(classes, softmax).
func mlpNetwork(cfg Config) network {
	net := network{input: []int{cfg.Inputs}}
	prev := ""
	add := func(l layerSpec) {
		if prev != "" {
			l.inbound = []string{prev}
		}
		net.layers = append(net.layers, l)
		prev = l.name
	}
	dense := func(i, units int, activation string) layerSpec {
		return layerSpec{class: "Dense", name: kerasName("dense", i), units: units, activation: activation,
			useBias: true, init: cfg.Init, l2: cfg.L2}
	}
	for i, width := range cfg.Hidden {
		if cfg.BatchNorm {
			add(dense(i, width, "linear"))
			add(layerSpec{class: "BatchNormalization", name: kerasName("batch_normalization", i), axis: -1,
				momentum: bnMomentum, epsilon: bnEpsilon})
			add(layerSpec{class: "Activation", name: kerasName("activation", i), activation: cfg.Activation})
		} else {
			add(dense(i, width, cfg.Activation))
		}
		if cfg.Dropout > 0 {
			add(layerSpec{class: "Dropout", name: kerasName("dropout", i), rate: cfg.Dropout})
		}
	}
	add(dense(len(cfg.Hidden), cfg.Classes, "softmax"))
	return net
}

// features is the number of values per example, the flattened input.
func (n network) features() int { return product(n.input) }

// product is the number of elements of a shape, saturating at the largest int so that an absurd
// shape is refused by a bound rather than wrapping around.
func product(shape []int) int {
	p := 1
	for _, d := range shape {
		if d != 0 && p > maxElements/d {
			return maxElements + 1
		}
		p *= d
	}
	return p
}

// maxElements bounds any one tensor's elements per example and any weight's elements.
const maxElements = 1 << 31

// shapes checks the network and returns every layer's output shape without the batch dimension,
// by layer name; each error names its layer and what would fix it.
func (n network) shapes() (map[string][]int, error) {
	if len(n.layers) == 0 {
		return nil, errors.New("the network has no layers")
	}
	if len(n.input) == 0 || slices.ContainsFunc(n.input, func(d int) bool { return d <= 0 }) || product(n.input) > maxElements {
		return nil, fmt.Errorf("input shape %v: want positive dimensions of at most %d elements", n.input, maxElements)
	}
	out := make(map[string][]int, len(n.layers))
	for i, l := range n.layers {
		if _, dup := out[l.name]; dup || l.name == "" {
			return nil, fmt.Errorf("layer %d: name %q is empty or not unique", i, l.name)
		}
		in := [][]int{n.input}
		if len(l.inbound) > 0 {
			in = in[:0]
			for _, name := range l.inbound {
				s, ok := out[name]
				if !ok {
					return nil, fmt.Errorf("%s %q: inbound layer %q is not an earlier layer", l.class, l.name, name)
				}
				in = append(in, s)
			}
		}
		s, err := outputShape(l, in)
		if err == nil && product(s) > maxElements {
			err = fmt.Errorf("output %v is larger than %d elements per example", s, maxElements)
		}
		if err == nil && l.activation == "softmax" && i != len(n.layers)-1 {
			err = errors.New("softmax is only supported on the last layer, whose logits the loss takes")
		}
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", l.class, l.name, err)
		}
		out[l.name] = s
	}
	last := n.layers[len(n.layers)-1]
	if s := out[last.name]; len(s) != 1 || s[0] < 2 || last.activation != "softmax" {
		return nil, fmt.Errorf("%s %q: the last layer must give softmax probabilities of shape (None, classes ≥ 2), got %s with %q",
			last.class, last.name, batchShape(out[last.name]), last.activation)
	}
	return out, nil
}

// batchShape formats a shape with Keras' batch dimension: (None, 5, 5, 64).
func batchShape(shape []int) string {
	s := "(None"
	for _, d := range shape {
		s += fmt.Sprintf(", %d", d)
	}
	return s + ")"
}

// outputShape is a layer's output shape for its inputs' shapes, all without the batch dimension.
func outputShape(l layerSpec, in [][]int) ([]int, error) {
	if len(in) != 1 && l.class != "Add" && l.class != "Concatenate" {
		return nil, fmt.Errorf("takes one input, got %d", len(in))
	}
	x := in[0]
	switch l.class {
	case "Dense":
		if len(x) != 1 {
			return nil, fmt.Errorf("gets a %d-D input %s: add Flatten before it", len(x)+1, batchShape(x))
		}
		if l.units <= 0 {
			return nil, fmt.Errorf("units must be positive, got %d", l.units)
		}
		return []int{l.units}, checkKernel(l, x[0]*l.units)
	case "Conv2D":
		if len(x) != 3 {
			return nil, fmt.Errorf("gets a %d-D input %s, wants (None, height, width, channels): add Reshape before it", len(x)+1, batchShape(x))
		}
		if l.filters <= 0 {
			return nil, fmt.Errorf("filters must be positive, got %d", l.filters)
		}
		h, w, err := windowOutput(l, x)
		return []int{h, w, l.filters}, errors.Join(err, checkKernel(l, product([]int{l.kernelSize[0], l.kernelSize[1], x[2], l.filters})))
	case "MaxPooling2D", "AveragePooling2D":
		if len(x) != 3 {
			return nil, fmt.Errorf("gets a %d-D input %s, wants (None, height, width, channels)", len(x)+1, batchShape(x))
		}
		h, w, err := windowOutput(l, x)
		return []int{h, w, x[2]}, err
	case "GlobalAveragePooling2D":
		if len(x) != 3 {
			return nil, fmt.Errorf("gets a %d-D input %s, wants (None, height, width, channels)", len(x)+1, batchShape(x))
		}
		return []int{x[2]}, nil
	case "Flatten":
		return []int{product(x)}, nil
	case "Reshape":
		if product(l.targetShape) != product(x) || slices.ContainsFunc(l.targetShape, func(d int) bool { return d <= 0 }) {
			return nil, fmt.Errorf("cannot reshape %s to %s", batchShape(x), batchShape(l.targetShape))
		}
		return slices.Clone(l.targetShape), nil
	case "Dropout":
		if !(l.rate >= 0 && l.rate < 1) {
			return nil, fmt.Errorf("rate must be in [0, 1), got %v", l.rate)
		}
		return x, nil
	case "BatchNormalization":
		if _, err := featureAxis(l.axis, len(x)); err != nil {
			return nil, err
		}
		if !(l.momentum >= 0 && l.momentum <= 1) || !(l.epsilon > 0) {
			return nil, fmt.Errorf("momentum must be in [0, 1] and epsilon positive, got %v and %v", l.momentum, l.epsilon)
		}
		return x, nil
	case "Activation", "Rescaling":
		return x, nil
	case "Add":
		return mergedShape(l, in)
	case "Concatenate":
		return concatShape(l, in)
	}
	return nil, fmt.Errorf("unsupported layer class %q", l.class)
}

// checkKernel checks a Dense or Conv2D layer's activation, initializer and kernel size.
func checkKernel(l layerSpec, elements int) error {
	var errs []error
	if elements > maxElements {
		errs = append(errs, fmt.Errorf("the kernel has more than %d elements", maxElements))
	}
	if l.activation != "linear" && l.activation != "softmax" {
		if _, err := catalog.ParseActivation(l.activation); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := catalog.LookupInit(l.init); err != nil {
		errs = append(errs, err)
	}
	if !(l.l2 >= 0) {
		errs = append(errs, fmt.Errorf("l2 must not be negative, got %v", l.l2))
	}
	return errors.Join(errs...)
}

// windowOutput is the height and width a Conv2D or pooling window gives, as TensorFlow computes
// them: ⌈(in - size + 1)/stride⌉ with valid padding, ⌈in/stride⌉ with same.
func windowOutput(l layerSpec, x []int) (h, w int, err error) {
	k, st := l.kernelSize, l.strides
	if k[0] <= 0 || k[1] <= 0 || st[0] <= 0 || st[1] <= 0 {
		return 0, 0, fmt.Errorf("window %v and strides %v must be positive", k, st)
	}
	switch l.padding {
	case "same":
		return (x[0] + st[0] - 1) / st[0], (x[1] + st[1] - 1) / st[1], nil
	case "valid":
		if k[0] > x[0] || k[1] > x[1] {
			return 0, 0, fmt.Errorf("window %dx%d is larger than its input %s: use padding \"same\" or a smaller window", k[0], k[1], batchShape(x))
		}
		return (x[0]-k[0])/st[0] + 1, (x[1]-k[1])/st[1] + 1, nil
	}
	return 0, 0, fmt.Errorf("padding must be \"valid\" or \"same\", got %q", l.padding)
}

// featureAxis resolves an axis over the batched shape of a rank-1 input (rank counts the
// dimensions without the batch) to an index into the unbatched shape.
func featureAxis(axis, rank int) (int, error) {
	a := axis
	if a < 0 {
		a += rank + 1
	}
	if a < 1 || a > rank {
		return 0, fmt.Errorf("axis %d is outside the input's feature axes (1…%d, or -%d…-1)", axis, rank, rank)
	}
	return a - 1, nil
}

func mergedShape(l layerSpec, in [][]int) ([]int, error) {
	if len(in) < 2 {
		return nil, fmt.Errorf("merges at least 2 inputs, got %d", len(in))
	}
	for _, s := range in[1:] {
		if !slices.Equal(s, in[0]) {
			return nil, fmt.Errorf("inputs %s and %s differ in shape", batchShape(in[0]), batchShape(s))
		}
	}
	return slices.Clone(in[0]), nil
}

func concatShape(l layerSpec, in [][]int) ([]int, error) {
	if len(in) < 2 {
		return nil, fmt.Errorf("merges at least 2 inputs, got %d", len(in))
	}
	a, err := featureAxis(l.axis, len(in[0]))
	if err != nil {
		return nil, err
	}
	out := slices.Clone(in[0])
	for _, s := range in[1:] {
		if len(s) != len(out) {
			return nil, fmt.Errorf("inputs %s and %s differ in rank", batchShape(in[0]), batchShape(s))
		}
		for d := range s {
			if d != a && s[d] != out[d] {
				return nil, fmt.Errorf("inputs %s and %s differ outside axis %d", batchShape(in[0]), batchShape(s), l.axis)
			}
		}
		out[a] += s[a]
	}
	return out, nil
}
