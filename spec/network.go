package spec

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Network describes a neural network in Keras 3's terms: its input and its layers, each with the
// class name, the name and the arguments Keras gives it. It is plain data, JSON-serialisable as is
// (it crosses the process boundary in the job); every value is typed and canonical once Resolve has
// accepted it, so nothing downstream parses a string again.
type Network struct {
	Name  string `json:"name"` // the model's name, shown in run names and hparams
	Input Input  `json:"input"`
	// Layers in topological order; the last is the output. Resolve sorts a functional graph whose
	// layers come out of order and refuses one with a cycle.
	Layers []Layer `json:"layers"`
}

// Input is the network's one input: Keras' InputLayer (keras.Input(shape=Shape, name=Name)).
type Input struct {
	Name  string `json:"name"`  // "" = Keras' automatic "input_layer"
	Shape Shape  `json:"shape"` // without the batch dimension: [784], [28, 28, 1]
}

// Shape is a tensor's shape without the batch dimension, every dimension known.
type Shape []int

// String writes the shape as Keras prints it, batch dimension included: (None, 5, 5, 64).
func (s Shape) String() string {
	parts := []string{"None"}
	for _, d := range s {
		parts = append(parts, strconv.Itoa(d))
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// Elements is the number of values of the shape per example. The shapes of a resolved network are
// within MaxCount, so it does not overflow for them.
func (s Shape) Elements() int {
	n, _ := elements(s)
	return int(n)
}

// Class is a Keras 3 layer class name.
type Class string

// The layer classes a Network holds.
const (
	ClassDense                  Class = "Dense"
	ClassConv2D                 Class = "Conv2D"
	ClassMaxPooling2D           Class = "MaxPooling2D"
	ClassAveragePooling2D       Class = "AveragePooling2D"
	ClassGlobalAveragePooling2D Class = "GlobalAveragePooling2D"
	ClassFlatten                Class = "Flatten"
	ClassReshape                Class = "Reshape"
	ClassDropout                Class = "Dropout"
	ClassBatchNormalization     Class = "BatchNormalization"
	ClassActivation             Class = "Activation"
	ClassRescaling              Class = "Rescaling"
	ClassAdd                    Class = "Add"
	ClassConcatenate            Class = "Concatenate"
)

// Classes lists the layer classes a Network holds, in the order the documentation gives them.
func Classes() []Class {
	return []Class{ClassDense, ClassConv2D, ClassMaxPooling2D, ClassAveragePooling2D, ClassGlobalAveragePooling2D,
		ClassFlatten, ClassReshape, ClassDropout, ClassBatchNormalization, ClassActivation, ClassRescaling,
		ClassAdd, ClassConcatenate}
}

// Layer is one Keras layer. Exactly the arguments of its class are set: Dense for Dense, Conv2D for
// Conv2D, Pooling for MaxPooling2D and AveragePooling2D, and so on; GlobalAveragePooling2D, Flatten
// and Add have none.
type Layer struct {
	Class Class  `json:"class_name"`
	Name  string `json:"name,omitempty"` // "" = Keras' automatic name (Resolve fills it)
	// Inbound names the layers (or the input) this one reads, in order; empty = the previous layer,
	// as in a Sequential model (the input for the first layer).
	Inbound []string `json:"inbound,omitempty"`

	Dense       *DenseArgs       `json:"dense,omitempty"`
	Conv2D      *Conv2DArgs      `json:"conv2d,omitempty"`
	Pooling     *PoolingArgs     `json:"pooling,omitempty"`
	Reshape     *ReshapeArgs     `json:"reshape,omitempty"`
	Dropout     *DropoutArgs     `json:"dropout,omitempty"`
	BatchNorm   *BatchNormArgs   `json:"batch_normalization,omitempty"`
	Activation  *ActivationArgs  `json:"activation,omitempty"`
	Rescaling   *RescalingArgs   `json:"rescaling,omitempty"`
	Concatenate *ConcatenateArgs `json:"concatenate,omitempty"`
}

// Kernel is what the sweep's --init and --l2 set on every Dense and Conv2D kernel. Its zero value
// means "not set by the model": the sweep's value (or default) applies.
type Kernel struct {
	Initializer Initializer `json:"kernel_initializer,omitempty"` // "" = DefaultInitializer
	// L2 is kernel_regularizer=L2(l2): l2·Σkernel² joins the loss. nil = 0.
	L2 *float64 `json:"kernel_regularizer_l2,omitempty"`
}

// Init is the kernel's initializer, DefaultInitializer when the model leaves it unset.
func (k Kernel) Init() Initializer {
	if k.Initializer == "" {
		return DefaultInitializer
	}
	return k.Initializer
}

// L2Rate is the kernel's L2 factor, 0 when the model leaves it unset.
func (k Kernel) L2Rate() float64 {
	if k.L2 == nil {
		return 0
	}
	return *k.L2
}

// DenseArgs are keras.layers.Dense's arguments. The bias is initialised to zeros.
type DenseArgs struct {
	Units      int        `json:"units"`
	Activation Activation `json:"activation"`
	UseBias    bool       `json:"use_bias"`
	Kernel
}

// Conv2DArgs are keras.layers.Conv2D's arguments, channels last, dilation 1, one group.
type Conv2DArgs struct {
	Filters    int        `json:"filters"`
	KernelSize [2]int     `json:"kernel_size"`
	Strides    [2]int     `json:"strides"`
	Padding    Padding    `json:"padding"`
	UseBias    bool       `json:"use_bias"`
	Activation Activation `json:"activation"`
	Kernel
}

// PoolingArgs are MaxPooling2D's and AveragePooling2D's arguments, channels last. Keras' strides
// default to the pool size; Resolve fills them.
type PoolingArgs struct {
	PoolSize [2]int  `json:"pool_size"`
	Strides  [2]int  `json:"strides"`
	Padding  Padding `json:"padding"`
}

// ReshapeArgs is keras.layers.Reshape's target_shape, without the batch dimension; one entry may be
// -1 (inferred) before Resolve, which replaces it.
type ReshapeArgs struct {
	TargetShape Shape `json:"target_shape"`
}

// DropoutArgs is keras.layers.Dropout's rate, in [0, 1).
type DropoutArgs struct {
	Rate float64 `json:"rate"`
}

// BatchNormArgs are keras.layers.BatchNormalization's arguments. Axis counts the batch dimension as
// Keras does; Resolve makes it non-negative (-1 on a (None, 28, 28, 8) input is 3).
type BatchNormArgs struct {
	Axis     int     `json:"axis"`
	Momentum float64 `json:"momentum"`
	Epsilon  float64 `json:"epsilon"`
	Center   bool    `json:"center"`
	Scale    bool    `json:"scale"`
}

// ActivationArgs is keras.layers.Activation's activation.
type ActivationArgs struct {
	Activation Activation `json:"activation"`
}

// RescalingArgs are keras.layers.Rescaling's arguments: x·Scale + Offset.
type RescalingArgs struct {
	Scale  float64 `json:"scale"`
	Offset float64 `json:"offset"`
}

// ConcatenateArgs is keras.layers.Concatenate's axis, batch dimension counted; Resolve makes it
// non-negative.
type ConcatenateArgs struct {
	Axis int `json:"axis"`
}

// Padding is a convolution's or pooling's padding.
type Padding string

// The paddings Keras offers.
const (
	PaddingValid Padding = "valid"
	PaddingSame  Padding = "same"
)

// Activation is a canonical Keras activation name: "linear", "softmax" (the output only) or one of
// the hidden activations the model builds.
type Activation string

// Activations with a meaning of their own to a Network.
const (
	ActivationLinear  Activation = "linear"
	ActivationSoftmax Activation = "softmax"
	ActivationTanh    Activation = "tanh"
	ActivationReLU    Activation = "relu"
)

// Initializer is a canonical kernel initializer name, as tfsweep's --init spells it.
type Initializer string

// DefaultInitializer is the lab report's: Keras' glorot_normal, tfsweep's "xavier".
const DefaultInitializer Initializer = "xavier"

// Keras 3's BatchNormalization defaults, which the MLP's --batchnorm layers take.
const (
	DefaultBatchNormMomentum = 0.99
	DefaultBatchNormEpsilon  = 1e-3
)

// Limits that keep a Network's arithmetic exact and its graph buildable: a model beyond them is
// refused when it is read, before anything is built.
const (
	MaxLayers = 1000 // Keras' ResNet152 has about 570
	MaxRank   = 3    // dimensions besides the batch: no layer here reads more than (height, width, channels)
	// MaxCount bounds every count (a tensor's elements per example, a layer's weights, the totals):
	// times a batch of 2²⁰ and four bytes it still fits an int64.
	MaxCount = 1 << 40
)

// CheckActivation reports whether a is a canonical activation a Network may hold: linear, softmax
// or one of ActivationNames.
func CheckActivation(a Activation) error {
	if a == ActivationLinear || a == ActivationSoftmax || slices.Contains(ActivationNames(), string(a)) {
		return nil
	}
	return fmt.Errorf("unknown activation %q (want linear, softmax or one of %s)", a, strings.Join(ActivationNames(), ", "))
}

// CheckInitializer reports whether i is a canonical kernel initializer name (one of InitNames).
func CheckInitializer(i Initializer) error {
	if slices.Contains(InitNames(), string(i)) {
		return nil
	}
	return fmt.Errorf("unknown kernel initializer %q (want one of %s)", i, strings.Join(InitNames(), ", "))
}

func joinNames[T ~string](names []T) string {
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = string(n)
	}
	return strings.Join(parts, ", ")
}

// LayerError is a problem with one layer; Index is its position in the Layers Resolve was given.
type LayerError struct {
	Index int
	Class Class
	Name  string
	Err   error // a phrase that follows the layer's name: "gets a 4-D input ...: add Flatten before it"
}

func (e *LayerError) Error() string {
	if e.Name == "" {
		return fmt.Sprintf("%s layer %d %v", e.Class, e.Index+1, e.Err)
	}
	return fmt.Sprintf("%s `%s` %v", e.Class, e.Name, e.Err)
}

func (e *LayerError) Unwrap() error { return e.Err }

// InputError is a problem with the network's input: its shape or its name.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }

func (e *InputError) Unwrap() error { return e.Err }

// MLP is a Sequential network of Dense layers on a flat input: the hidden widths with tanh, then a
// softmax over classes; kernels left to the sweep's --init and --l2. LabReportMLP is the lab
// report's.
func MLP(name string, inputs int, hidden []int, classes int) Network {
	n := Network{Name: name, Input: Input{Shape: Shape{inputs}}}
	dense := func(units int, activation Activation) Layer {
		return Layer{Class: ClassDense, Dense: &DenseArgs{Units: units, Activation: activation, UseBias: true}}
	}
	for _, units := range hidden {
		n.Layers = append(n.Layers, dense(units, ActivationTanh))
	}
	n.Layers = append(n.Layers, dense(classes, ActivationSoftmax))
	return n
}

// LabReportMLP is the network the lab report trains: 784 → 128 → 64 → 10, tanh, softmax.
func LabReportMLP() Network { return MLP("mlp", 784, []int{128, 64}, 10) }
