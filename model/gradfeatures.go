package model

// TensorFlow's C++ gradient of Relu (and of Relu6) is ReluGrad(dy, x), x the activation's input,
// where Python's registered gradient passes the activation's output y = relu(x). The two give the
// same numbers: the gradient only tests features > 0 (and < 6), and relu(x) > 0 exactly where
// x > 0, NaN included. But reading x gives the bias add before the activation a second consumer,
// and Grappler's remapper fuses Conv2D/MatMul + bias + Relu into one kernel (_FusedConv2D,
// _FusedMatMul) only when the bias add feeds the Relu alone: with the C++ gradient as it is, every
// convolution and dense layer with relu runs as three kernels. After the gradients are built, this
// file points each such gradient's features input at the activation's output, as Python does, and
// the Shape that AddV2's gradient takes of a convolution's output (its other second consumer) at
// the same shape further down the layer (shapesFromOutputs); the gradients themselves are still
// TF_AddGradients'. graft has no edge update, so TF_UpdateEdge is
// called on the C pointers that tf.Graph and tf.Operation start with, checked as canRelease checks
// tf.Tensor's; when the layout differs, the graph is left as TF_AddGradients built it.

/*
#cgo LDFLAGS: -ltensorflow
#include "tensorflow/c/c_api.h"
*/
import "C"

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"unsafe"

	tf "github.com/wamuir/graft/tensorflow"
)

// outputFedGrads maps each gradient op whose C++ gradient function feeds it the activation's input
// to that activation: for these, the activation's output gives the same result. (EluGrad and
// SeluGrad are already fed the output; LeakyReluGrad is not listed because with a negative slope
// its output's sign differs from its input's.)
var outputFedGrads = map[string]string{
	"ReluGrad":  "Relu",
	"Relu6Grad": "Relu6",
}

// gradFeaturesInput is the index of the features input of the ops in outputFedGrads (gradients, features).
const gradFeaturesInput = 1

// canRewire reports whether tf.Graph and tf.Operation start with their *C.TF_Graph and
// *C.TF_Operation, as in graft v0.10.0.
var canRewire = sync.OnceValue(func() bool {
	return startsWithC(reflect.TypeOf(tf.Graph{}), "TF_Graph") && startsWithC(reflect.TypeOf(tf.Operation{}), "TF_Operation")
})

// startsWithC reports whether the graft struct typ's first field is c, a pointer to the C type cName.
func startsWithC(typ reflect.Type, cName string) bool {
	if typ.NumField() == 0 {
		return false
	}
	f := typ.Field(0)
	return f.Name == "c" && f.Offset == 0 && f.Type.Kind() == reflect.Pointer &&
		strings.HasSuffix(f.Type.Elem().Name(), cName) && f.Type.Elem().PkgPath() == typ.PkgPath()
}

// rewireForFusion applies featuresFromOutputs, reluBeforePool and shapesFromOutputs to g, and
// biasGradsBeforePool, which shrinks a reduction rather than fusing.
func rewireForFusion(g *tf.Graph) error {
	if _, err := featuresFromOutputs(g); err != nil {
		return err
	}
	if _, err := reluBeforePool(g); err != nil {
		return err
	}
	if _, err := biasGradsBeforePool(g); err != nil {
		return err
	}
	_, err := shapesFromOutputs(g)
	return err
}

// biasGradsBeforePool replaces the bias gradient of each convolution that a max pooling reads, the
// Sum of the MaxPoolGrad's output over every axis but the channels, by the Sum of the MaxPoolGrad's
// own gradient input, the pooled map's, and returns how many it replaced. MaxPoolGrad hands each element of its
// gradient to one element of the window, every other element getting zero, so both sums add the
// same numbers over 4 times fewer elements (2×2 pooling); float32 adds them in another order, which
// changes a run's last bits. The Sum is AddV2's gradient for its bias input: its axes are
// BroadcastGradientArgs' for the Shape of a vector, every axis of the batch and the map's, whichever
// map's shape they are taken of.
func biasGradsBeforePool(g *tf.Graph) (int, error) {
	if !canRewire() {
		return 0, nil
	}
	rewired := 0
	for _, o := range g.Operations() {
		if o.Type() != "Sum" {
			continue
		}
		grad := tf.Consumer{Op: &o, Index: 0}.Producer()
		for grad.Op.Type() == "Identity" { // AddV2's gradient passes its gradient on through one
			grad = tf.Consumer{Op: grad.Op, Index: 0}.Producer()
		}
		if grad.Op.Type() != "MaxPoolGrad" || !reducesToVector(&o) {
			continue
		}
		// A new Sum: TF_UpdateEdge refuses an input of another shape.
		pooled := tf.Consumer{Op: grad.Op, Index: 2}.Producer()
		keep, err := o.Attr("keep_dims")
		if err != nil {
			return rewired, fmt.Errorf("%s: %w", o.Name(), err)
		}
		sum, err := g.AddOperation(tf.OpSpec{Type: "Sum", Name: o.Name() + "_before_pool", Device: o.Device(),
			Input: []tf.Input{pooled, tf.Consumer{Op: &o, Index: 1}.Producer()}, Attrs: map[string]any{"keep_dims": keep}})
		if err != nil {
			return rewired, fmt.Errorf("%s: %w", o.Name(), err)
		}
		for _, r := range o.Output(0).Consumers() {
			if err := updateEdge(g, sum.Output(0), r.Op, r.Index); err != nil {
				return rewired, fmt.Errorf("%s: read %s: %w", r.Op.Name(), sum.Name(), err)
			}
		}
		rewired++
	}
	return rewired, nil
}

// reducesToVector reports whether the axes of the Sum sum are BroadcastGradientArgs' reduction axes
// for an input that is the Shape of a vector (output i gives input i's axes).
func reducesToVector(sum *tf.Operation) bool {
	axes := tf.Consumer{Op: sum, Index: 1}.Producer()
	if axes.Op.Type() != "BroadcastGradientArgs" {
		return false
	}
	shape := tf.Consumer(axes).Producer()
	if shape.Op.Type() != "Shape" {
		return false
	}
	return tf.Consumer{Op: shape.Op, Index: 0}.Producer().Shape().NumDimensions() == 1
}

// featuresFromOutputs points the features input of every op of g in outputFedGrads at the output of
// an activation of the right type that reads the same tensor, and returns how many it rewired. An
// op that has no such activation is left alone.
func featuresFromOutputs(g *tf.Graph) (int, error) {
	if !canRewire() {
		return 0, nil
	}
	rewired := 0
	for _, o := range g.Operations() {
		activation, ok := outputFedGrads[o.Type()]
		if !ok {
			continue
		}
		features := tf.Consumer{Op: &o, Index: gradFeaturesInput}
		y, ok := activationOf(features.Producer(), activation)
		if !ok {
			continue
		}
		if err := updateEdge(g, y, &o, gradFeaturesInput); err != nil {
			return rewired, fmt.Errorf("%s: feed %s's output: %w", o.Name(), activation, err)
		}
		rewired++
	}
	return rewired, nil
}

// reluBeforePool moves the forward ReLU of each convolution that leaves its ReLU to a max pooling
// (model's poolBeforeRelu) back before the pooling, where the remapper fuses it into the convolution
// with its bias, and returns how many it moved; the ReLU's gradient stays after the pooling. For
// relu(max(c)), c = conv + bias, it adds relu(c), points the MaxPool and its MaxPoolGrad's input at
// it, and the readers of the old relu (the next layer, ReluGrad's features) at the pooling, whose
// output max(relu(c)) equals relu(max(c)) to the bit. The gradient keeps its bits: ReluGrad
// (features > 0) still zeroes the windows whose maximum is not positive, and in the others the
// first maximum of relu(c) is c's. A pattern with any other reader of c or of the pooling is left
// alone.
func reluBeforePool(g *tf.Graph) (int, error) {
	if !canRewire() {
		return 0, nil
	}
	moved := 0
	for _, o := range g.Operations() {
		if o.Type() != "Relu" {
			continue
		}
		pool := tf.Consumer{Op: &o, Index: 0}.Producer()
		if pool.Op.Type() != "MaxPool" || !onlyReluAndGradsRead(pool, &o) {
			continue
		}
		c := tf.Consumer{Op: pool.Op, Index: 0}.Producer()
		readers, ok := poolInputReaders(c, pool)
		if !ok || (c.Op.Type() != "AddV2" && c.Op.Type() != "BiasAdd") {
			continue
		}
		if conv := (tf.Consumer{Op: c.Op, Index: 0}).Producer(); conv.Op.Type() != "Conv2D" {
			continue
		}
		relu, err := g.AddOperation(tf.OpSpec{Type: "Relu", Name: o.Name() + "_before_pool", Input: []tf.Input{c}, Device: o.Device()})
		if err != nil {
			return moved, fmt.Errorf("%s: %w", o.Name(), err)
		}
		for _, r := range readers {
			if err := updateEdge(g, relu.Output(0), r.Op, r.Index); err != nil {
				return moved, fmt.Errorf("%s: read %s: %w", r.Op.Name(), relu.Name(), err)
			}
		}
		for _, r := range o.Output(0).Consumers() {
			if err := updateEdge(g, pool, r.Op, r.Index); err != nil {
				return moved, fmt.Errorf("%s: read %s: %w", r.Op.Name(), pool.Op.Name(), err)
			}
		}
		moved++
	}
	return moved, nil
}

// onlyReluAndGradsRead reports whether pool's output has no readers but relu and MaxPoolGrads (as
// orig_output): any other would read the pooled map before the ReLU, which reluBeforePool changes.
func onlyReluAndGradsRead(pool tf.Output, relu *tf.Operation) bool {
	for _, r := range pool.Consumers() {
		if r.Op.Name() != relu.Name() && (r.Op.Type() != "MaxPoolGrad" || r.Index != 1) {
			return false
		}
	}
	return true
}

// poolInputReaders returns the readers of c, the input of the MaxPool pool: pool itself and the
// MaxPoolGrads of pool (orig_input c, orig_output pool's output), when it has no other reader.
func poolInputReaders(c, pool tf.Output) ([]tf.Consumer, bool) {
	readers := c.Consumers()
	for _, r := range readers {
		switch {
		case r.Op.Name() == pool.Op.Name():
		case r.Op.Type() == "MaxPoolGrad" && r.Index == 0 && (tf.Consumer{Op: r.Op, Index: 1}).Producer().Op.Name() == pool.Op.Name():
		default:
			return nil, false
		}
	}
	return readers, true
}

// shapeReaders are the contractions the remapper fuses with a bias add and an activation only when
// the contraction's output has no consumer but the add.
var shapeReaders = map[string]bool{"Conv2D": true, "MatMul": true}

// elementwise are the activations the remapper fuses after a contraction and its bias; each output
// has its input's shape.
var elementwise = map[string]bool{"Relu": true, "Relu6": true, "Elu": true, "Selu": true, "LeakyRelu": true, "Tanh": true, "Sigmoid": true}

// shapesFromOutputs points every Shape op reading a contraction's output that is then added to a
// bias at the end of that chain instead (the bias add's output, or the activation's after it), and
// returns how many it rewired. The gradient of AddV2, which adds a convolution's bias as Keras
// adds it, reads the shape of both its inputs; that Shape is the contraction's second consumer,
// which keeps the remapper from fusing the three. A [C] bias broadcast onto an [..., C] tensor and
// an elementwise activation keep its shape, so the Shape op's value is unchanged.
func shapesFromOutputs(g *tf.Graph) (int, error) {
	if !canRewire() {
		return 0, nil
	}
	rewired := 0
	for _, o := range g.Operations() {
		if o.Type() != "Shape" {
			continue
		}
		x := tf.Consumer{Op: &o, Index: 0}.Producer()
		if !shapeReaders[x.Op.Type()] {
			continue
		}
		end, ok := biasChainEnd(x)
		if !ok {
			continue
		}
		if err := updateEdge(g, end, &o, 0); err != nil {
			return rewired, fmt.Errorf("%s: read %s: %w", o.Name(), end.Op.Name(), err)
		}
		rewired++
	}
	return rewired, nil
}

// biasChainEnd returns the output of x + bias, or of the elementwise activation of x + bias, when
// the add is x's only consumer besides Shape ops and the bias a vector as long as x's last
// dimension, both known.
func biasChainEnd(x tf.Output) (tf.Output, bool) {
	add, ok := soleConsumer(x)
	if !ok || (add.Op.Type() != "AddV2" && add.Op.Type() != "Add") {
		return tf.Output{}, false
	}
	bias := tf.Consumer{Op: add.Op, Index: 1 - add.Index}.Producer()
	xs, bs := x.Shape(), bias.Shape()
	if xs.NumDimensions() < 2 || bs.NumDimensions() != 1 {
		return tf.Output{}, false
	}
	c := xs.Size(xs.NumDimensions() - 1)
	if c < 0 || bs.Size(0) != c {
		return tf.Output{}, false
	}
	sum := add.Op.Output(0)
	if act, ok := soleConsumer(sum); ok && act.Index == 0 && elementwise[act.Op.Type()] {
		return act.Op.Output(0), true
	}
	return sum, true
}

// soleConsumer returns the one consumer of x that is not a Shape op.
func soleConsumer(x tf.Output) (tf.Consumer, bool) {
	var found []tf.Consumer
	for _, c := range x.Consumers() {
		if c.Op.Type() != "Shape" {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		return tf.Consumer{}, false
	}
	return found[0], true
}

// activationOf returns the output of an op of type activation whose input is x.
func activationOf(x tf.Output, activation string) (tf.Output, bool) {
	for _, c := range x.Consumers() {
		if c.Index == 0 && c.Op.Type() == activation {
			return c.Op.Output(0), true
		}
	}
	return tf.Output{}, false
}

// updateEdge makes src the input index of dst.
func updateEdge(g *tf.Graph, src tf.Output, dst *tf.Operation, index int) error {
	status := C.TF_NewStatus()
	defer C.TF_DeleteStatus(status)
	newSrc := C.TF_Output{oper: cOperation(src.Op), index: C.int(src.Index)}
	input := C.TF_Input{oper: cOperation(dst), index: C.int(index)}
	C.TF_UpdateEdge(cGraph(g), newSrc, input, status)
	if C.TF_GetCode(status) != C.TF_OK {
		return fmt.Errorf("update edge: %s", C.GoString(C.TF_Message(status)))
	}
	return nil
}

// cGraph and cOperation are the C objects graft's types wrap; only valid when canRewire.
func cGraph(g *tf.Graph) *C.TF_Graph { return *(**C.TF_Graph)(unsafe.Pointer(g)) }

func cOperation(o *tf.Operation) *C.TF_Operation { return *(**C.TF_Operation)(unsafe.Pointer(o)) }
