package spec

import (
	"fmt"
	"slices"
)

// inferShapes computes every layer's output shape in order, resolving the axes of batch
// normalisation and concatenation and a Reshape's -1 on the way.
func (r *resolved) inferShapes() ([]Shape, error) {
	shapes := make([]Shape, len(r.net.Layers))
	for i := range r.net.Layers {
		in := make([]Shape, len(r.inputs[i]))
		for k, j := range r.inputs[i] {
			in[k] = r.net.Input.Shape
			if j >= 0 {
				in[k] = shapes[j]
			}
		}
		out, err := outputShape(&r.net.Layers[i], in, r.inboundNames(i))
		if err == nil {
			if shapeErr := checkShape(out); shapeErr != nil {
				err = fmt.Errorf("gives an output %s that %w", out, shapeErr)
			}
		}
		if err != nil {
			return nil, r.layerError(i, err)
		}
		shapes[i] = out
	}
	return shapes, nil
}

func (r *resolved) inboundNames(i int) []string { return r.net.Layers[i].Inbound }

// outputShape is the shape a layer gives for its inputs' shapes.
func outputShape(l *Layer, in []Shape, from []string) (Shape, error) {
	x := in[0]
	switch l.Class {
	case ClassDense:
		if len(x) != 1 {
			return nil, fmt.Errorf("gets a %d-D input %s: add Flatten before it", len(x)+1, x)
		}
		return Shape{l.Dense.Units}, nil
	case ClassConv2D:
		c := l.Conv2D
		return windowShape(x, c.KernelSize, c.Strides, c.Padding, c.Filters, "kernel")
	case ClassMaxPooling2D, ClassAveragePooling2D:
		p := l.Pooling
		return windowShape(x, p.PoolSize, p.Strides, p.Padding, 0, "pool")
	case ClassGlobalAveragePooling2D:
		if len(x) != 3 {
			return nil, imageInputError(x)
		}
		return Shape{x[2]}, nil
	case ClassFlatten:
		n, _ := elements(x) // within MaxCount: every shape was checked
		return Shape{int(n)}, nil
	case ClassReshape:
		return reshape(x, l.Reshape)
	case ClassBatchNormalization:
		axis, err := resolveAxis(l.BatchNorm.Axis, len(x))
		l.BatchNorm.Axis = axis
		return slices.Clone(x), err
	case ClassAdd:
		for k := 1; k < len(in); k++ {
			if !slices.Equal(in[k], x) {
				return nil, fmt.Errorf("gets %s from `%s` and %s from `%s`: Add needs inputs of one shape", x, from[0], in[k], from[k])
			}
		}
		return slices.Clone(x), nil
	case ClassConcatenate:
		return concatenate(l.Concatenate, in, from)
	}
	return slices.Clone(x), nil // Dropout, Activation, Rescaling
}

func imageInputError(x Shape) error {
	if len(x) == 1 {
		return fmt.Errorf("gets a 2-D input %s: it reads images (None, height, width, channels); add Reshape with a target_shape such as [28, 28, 1] before it", x)
	}
	return fmt.Errorf("gets a %d-D input %s: it reads images (None, height, width, channels)", len(x)+1, x)
}

// windowShape is the output of a convolution (filters > 0) or a pooling over an image, Keras'
// formula: ⌈(in − window + 1)/stride⌉ with valid padding, ⌈in/stride⌉ with same.
func windowShape(x Shape, window, strides [2]int, padding Padding, filters int, what string) (Shape, error) {
	if len(x) != 3 {
		return nil, imageInputError(x)
	}
	out := Shape{0, 0, x[2]}
	if filters > 0 {
		out[2] = filters
	}
	for d := range 2 {
		if padding == PaddingSame {
			out[d] = (x[d] + strides[d] - 1) / strides[d]
			continue
		}
		if x[d] < window[d] {
			return nil, fmt.Errorf("gets an input %s smaller than its %dx%d %s with padding valid: use padding same, or a larger input", x, window[0], window[1], what)
		}
		out[d] = (x[d]-window[d])/strides[d] + 1
	}
	return out, nil
}

func reshape(x Shape, r *ReshapeArgs) (Shape, error) {
	have, _ := elements(x)
	target := slices.Clone(r.TargetShape)
	known, inferred := int64(1), -1
	for i, d := range target {
		if d == -1 {
			inferred = i
			continue
		}
		known, _ = mulCount(known, int64(d)) // a target's product beyond MaxCount cannot match
	}
	if inferred >= 0 && known > 0 && have%known == 0 {
		target[inferred] = int(have / known)
	}
	if n, ok := elements(target); !ok || n != have || target[max(inferred, 0)] < 1 {
		return nil, fmt.Errorf("reshapes %s (%d elements) to target_shape %v: the element counts must match", x, have, []int(r.TargetShape))
	}
	r.TargetShape = target
	return slices.Clone(target), nil
}

// resolveAxis turns a Keras axis (batch dimension counted, negative from the end) into its
// non-negative index, refusing the batch axis.
func resolveAxis(axis, rank int) (int, error) {
	full := rank + 1
	if axis < -full || axis >= full {
		return axis, fmt.Errorf("has axis %d, outside a %d-D input", axis, full)
	}
	if axis < 0 {
		axis += full
	}
	if axis == 0 {
		return axis, fmt.Errorf("has axis 0, the batch axis: use a feature axis (-1 is the last)")
	}
	return axis, nil
}

func concatenate(c *ConcatenateArgs, in []Shape, from []string) (Shape, error) {
	x := in[0]
	axis, err := resolveAxis(c.Axis, len(x))
	if err != nil {
		return nil, err
	}
	c.Axis = axis
	out := slices.Clone(x)
	for k := 1; k < len(in); k++ {
		y := in[k]
		same := len(y) == len(x)
		for d := 0; same && d < len(x); d++ {
			same = d == axis-1 || x[d] == y[d]
		}
		if !same {
			return nil, fmt.Errorf("gets %s from `%s` and %s from `%s`: Concatenate on axis %d needs every other dimension equal", x, from[0], y, from[k], axis)
		}
		sum, ok := addCount(int64(out[axis-1]), int64(y[axis-1]))
		if !ok {
			return nil, fmt.Errorf("concatenates more than %d elements on axis %d", int64(MaxCount), axis)
		}
		out[axis-1] = int(sum)
	}
	return out, nil
}

// checkOutput refuses a network whose output is not a softmax over a vector, or that uses softmax
// before its output: tfsweep trains with sparse categorical cross-entropy on the output's
// probabilities, as Keras compiles a classifier.
func (r *resolved) checkOutput(shapes []Shape) error {
	last := len(r.net.Layers) - 1
	for i, l := range r.net.Layers {
		if activation(l) == ActivationSoftmax && i != last {
			return r.layerError(i, fmt.Errorf("has activation softmax before the output layer: tfsweep applies softmax at the output only"))
		}
	}
	out := r.net.Layers[last]
	if len(shapes[last]) != 1 {
		return r.layerError(last, fmt.Errorf("is the output layer and gives %s: the output must be a vector of class probabilities; add Flatten and Dense before it", shapes[last]))
	}
	if activation(out) != ActivationSoftmax {
		return r.layerError(last, fmt.Errorf("is the output layer with activation %s: tfsweep trains classifiers with sparse categorical cross-entropy, so the output's activation must be softmax", activation(out)))
	}
	return nil
}

// activation is the activation a layer applies: a Dense's, Conv2D's or Activation's; "" for others.
func activation(l Layer) Activation {
	switch {
	case l.Dense != nil:
		return l.Dense.Activation
	case l.Conv2D != nil:
		return l.Conv2D.Activation
	case l.Activation != nil:
		return l.Activation.Activation
	}
	return ""
}

// Summary is a resolved network's shapes and sizes, as Keras' model.summary() lists them, with the
// activations the memory estimate needs.
type Summary struct {
	Output       Shape // the output layer's
	Layers       []LayerSummary
	Trainable    int64 // trainable weights
	NonTrainable int64 // batch normalisation's moving statistics
	// Activations are the elements the forward pass produces per example: the input and every
	// layer's output.
	Activations int64
}

// LayerSummary is one layer's line of the summary.
type LayerSummary struct {
	Name                    string
	Class                   Class
	Output                  Shape
	Trainable, NonTrainable int64
}

// Summary resolves the network (Resolve) and counts its weights and activations.
func (n Network) Summary() (Summary, error) {
	_, s, err := n.resolve()
	return s, err
}

// summarize counts the weights and activations of the resolved network; a layer that takes a count
// beyond MaxCount is refused with a *LayerError.
func (r *resolved) summarize(shapes []Shape) (Summary, error) {
	s := Summary{Output: shapes[len(shapes)-1]}
	in := map[string]Shape{r.net.Input.Name: r.net.Input.Shape}
	s.Activations, _ = elements(r.net.Input.Shape)
	for i, l := range r.net.Layers {
		trainable, fixed, ok := weights(l, in[l.Inbound[0]])
		in[l.Name] = shapes[i]
		s.Layers = append(s.Layers, LayerSummary{Name: l.Name, Class: l.Class, Output: shapes[i], Trainable: trainable, NonTrainable: fixed})
		out, _ := elements(shapes[i])
		var ok1, ok2, ok3 bool
		s.Trainable, ok1 = addCount(s.Trainable, trainable)
		s.NonTrainable, ok2 = addCount(s.NonTrainable, fixed)
		s.Activations, ok3 = addCount(s.Activations, out)
		if !ok || !ok1 || !ok2 || !ok3 {
			return Summary{}, r.layerError(i, fmt.Errorf("takes the network beyond %d weights or activations per example: make it smaller", int64(MaxCount)))
		}
	}
	return s, nil
}

// weights counts a layer's trainable and non-trainable weights for its input shape; false beyond
// MaxCount.
func weights(l Layer, in Shape) (trainable, fixed int64, ok bool) {
	bias := func(use bool, n int64) int64 {
		if use {
			return n
		}
		return 0
	}
	switch l.Class {
	case ClassDense:
		kernel, ok := mulCount(int64(in[0]), int64(l.Dense.Units))
		trainable, ok2 := addCount(kernel, bias(l.Dense.UseBias, int64(l.Dense.Units)))
		return trainable, 0, ok && ok2
	case ClassConv2D:
		c := l.Conv2D
		kernel, ok := elements(Shape{c.KernelSize[0], c.KernelSize[1], in[2], c.Filters})
		trainable, ok2 := addCount(kernel, bias(c.UseBias, int64(c.Filters)))
		return trainable, 0, ok && ok2
	case ClassBatchNormalization:
		b := l.BatchNorm
		features := int64(in[b.Axis-1]) // a dimension of a checked shape, within MaxCount
		return bias(b.Center, features) + bias(b.Scale, features), 2 * features, true
	}
	return 0, 0, true
}
