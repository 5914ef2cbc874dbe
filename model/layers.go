package model

import (
	"strings"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"

	"github.com/tfsweep/tfsweep/model/catalog"
)

// layer is one built layer of the network: its variables and how a pass computes it.
type layer interface {
	spec() *layerSpec
	// apply adds the layer to the pass p: ins[i] holds inbound i's output, one per tower, and the
	// result is the layer's output, one per tower.
	apply(p *forward, ins [][]tf.Output) []tf.Output
	// weights are the layer's variables in Keras' layer.weights order.
	weights() []*variable
	// rebind is the same layer over other variables (the serving graph's copies).
	rebind(vars map[*variable]*variable) layer
}

// layerBuild is what building the layers in order keeps count of: the seeds of kernel initialisers
// and dropout masks are the ordinals of the layer among those with a kernel and among the Dropout
// layers, so that the MLP's seeds are its hidden-layer indices.
type layerBuild struct {
	vars             *varSet
	seed             int64
	kernels, dropped int
}

// newLayer builds the layer l, whose inputs have the shapes in (without the batch dimension); the
// network's shapes() has checked them.
func (lb *layerBuild) newLayer(l *layerSpec, in [][]int, out []int) layer {
	switch l.class {
	case "Dense", "Conv2D":
		return lb.newKernelLayer(l, in[0], out)
	case "BatchNormalization":
		return lb.newBatchNorm(l, in[0])
	case "Dropout":
		d := &dropoutLayer{plain: plain{l}, index: lb.dropped}
		lb.dropped++
		return d
	case "Flatten", "Reshape":
		return &reshapeLayer{plain{l}, out}
	}
	return &plain{l}
}

// plain is a layer without variables.
type plain struct{ l *layerSpec }

func (p *plain) spec() *layerSpec                     { return p.l }
func (p *plain) weights() []*variable                 { return nil }
func (p *plain) rebind(map[*variable]*variable) layer { return p }
func (p *plain) apply(f *forward, ins [][]tf.Output) []tf.Output {
	l := p.l
	switch l.class {
	case "Activation":
		return f.each(l.name, ins[0], func(s *op.Scope, x tf.Output) tf.Output { return applyActivation(s, l.activation, x) })
	case "Rescaling":
		return f.each(l.name, ins[0], func(s *op.Scope, x tf.Output) tf.Output {
			return op.AddV2(s, op.Mul(s.SubScope("scale"), x, op.Const(s.SubScope("factor"), float32(l.scale))),
				op.Const(s.SubScope("offset"), float32(l.offset)))
		})
	case "MaxPooling2D", "AveragePooling2D":
		ksize := []int64{1, int64(l.kernelSize[0]), int64(l.kernelSize[1]), 1}
		strides := []int64{1, int64(l.strides[0]), int64(l.strides[1]), 1}
		padding := strings.ToUpper(l.padding)
		return f.each(l.name, ins[0], func(s *op.Scope, x tf.Output) tf.Output {
			if l.class == "MaxPooling2D" {
				return op.MaxPool(s, x, ksize, strides, padding)
			}
			return op.AvgPool(s, x, ksize, strides, padding)
		})
	case "GlobalAveragePooling2D":
		return f.each(l.name, ins[0], func(s *op.Scope, x tf.Output) tf.Output {
			return op.Mean(s, x, op.Const(s.SubScope("axes"), []int32{1, 2}))
		})
	case "Add":
		return f.eachMerge(l.name, ins, func(s *op.Scope, xs []tf.Output) tf.Output {
			sum := xs[0]
			for _, x := range xs[1:] {
				sum = op.AddV2(s, sum, x)
			}
			return sum
		})
	case "Concatenate":
		return f.eachMerge(l.name, ins, func(s *op.Scope, xs []tf.Output) tf.Output {
			a, _ := featureAxis(l.axis, int(xs[0].Shape().NumDimensions())-1)
			return op.ConcatV2(s, xs, op.Const(s.SubScope("axis"), int32(a+1)))
		})
	}
	panic("model: no builder for layer class " + l.class) // shapes() refuses any other class
}

// applyActivation is a layer's activation; softmax is folded into the loss (the last layer's output
// stays the logits) and linear is the identity.
func applyActivation(s *op.Scope, name string, x tf.Output) tf.Output {
	if name == "linear" || name == "softmax" {
		return x
	}
	return activate(s.SubScope(name), name, x)
}

// reshapeLayer is Flatten or Reshape: the batch dimension kept, the rest made out.
type reshapeLayer struct {
	plain
	out []int
}

func (r *reshapeLayer) rebind(map[*variable]*variable) layer { return r }

func (r *reshapeLayer) apply(f *forward, ins [][]tf.Output) []tf.Output {
	dims := []int32{-1}
	for _, d := range r.out {
		dims = append(dims, int32(d))
	}
	return f.each(r.l.name, ins[0], func(s *op.Scope, x tf.Output) tf.Output {
		return op.Reshape(s, x, op.Const(s.SubScope("shape"), dims))
	})
}

// kernelLayer is Dense (x·kernel + bias) or Conv2D (NHWC, kernel [height, width, in, filters]),
// followed by its activation.
type kernelLayer struct {
	l            *layerSpec
	kernel, bias *variable // bias nil without use_bias
}

func (lb *layerBuild) newKernelLayer(l *layerSpec, in, out []int) *kernelLayer {
	shape := []int64{int64(in[0]), int64(l.units)}
	if l.class == "Conv2D" {
		shape = []int64{int64(l.kernelSize[0]), int64(l.kernelSize[1]), int64(in[2]), int64(l.filters)}
	}
	init, _ := catalog.LookupInit(l.init) // shapes() checked the name
	seed := [2]int64{lb.seed, int64(lb.kernels)}
	lb.kernels++
	k := &kernelLayer{l: l}
	k.kernel = lb.vars.make(l.name, "kernel", shape, tf.Float, true, func(s *op.Scope) tf.Output {
		return buildInit(init, s, shape, seed)
	})
	if l.useBias {
		units := []int64{int64(out[len(out)-1])}
		k.bias = lb.vars.make(l.name, "bias", units, tf.Float, true, fill(units, 0))
	}
	return k
}

func (k *kernelLayer) spec() *layerSpec { return k.l }

func (k *kernelLayer) weights() []*variable {
	if k.bias == nil {
		return []*variable{k.kernel}
	}
	return []*variable{k.kernel, k.bias}
}

func (k *kernelLayer) rebind(vars map[*variable]*variable) layer {
	c := &kernelLayer{l: k.l, kernel: vars[k.kernel]}
	if k.bias != nil {
		c.bias = vars[k.bias]
	}
	return c
}

func (k *kernelLayer) apply(f *forward, ins [][]tf.Output) []tf.Output {
	l := k.l
	out := make([]tf.Output, len(ins[0]))
	for t, x := range ins[0] {
		ds := f.scopes[t].SubScope(l.name)
		var y tf.Output
		if l.class == "Conv2D" {
			strides := []int64{1, int64(l.strides[0]), int64(l.strides[1]), 1}
			y = op.Conv2D(ds, x, f.read(ds, k.kernel), strides, strings.ToUpper(l.padding))
		} else {
			y = op.MatMul(ds, x, f.read(ds, k.kernel))
		}
		if k.bias != nil {
			y = op.BiasAdd(ds, y, f.read(ds, k.bias))
		}
		out[t] = applyActivation(ds, l.activation, y)
	}
	if l.l2 > 0 {
		f.penalize(l.name, l.l2, f.reads[k.kernel])
	}
	return out
}

// dropoutLayer is Keras' Dropout: training passes only, its mask drawn as forward.dropout says with
// the layer's ordinal among the Dropout layers.
type dropoutLayer struct {
	plain
	index int
}

func (d *dropoutLayer) rebind(map[*variable]*variable) layer { return d }

func (d *dropoutLayer) apply(f *forward, ins [][]tf.Output) []tf.Output {
	if !f.training || d.l.rate == 0 {
		return ins[0]
	}
	return f.dropout(f.s.SubScope(d.l.name), ins[0], d.l.rate, f.seed, d.index, f.iterations)
}

// batchNormLayer is Keras' BatchNormalization over one feature axis.
type batchNormLayer struct {
	l                                       *layerSpec
	axis                                    int // into the batched shape
	gamma, beta, movingMean, movingVariance *variable
}

func (lb *layerBuild) newBatchNorm(l *layerSpec, in []int) *batchNormLayer {
	a, _ := featureAxis(l.axis, len(in))
	shape := []int64{int64(in[a])}
	bn := &batchNormLayer{l: l, axis: a + 1}
	bn.gamma = lb.vars.make(l.name, "gamma", shape, tf.Float, true, fill(shape, 1))
	bn.beta = lb.vars.make(l.name, "beta", shape, tf.Float, true, fill(shape, 0))
	bn.movingMean = lb.vars.make(l.name, "moving_mean", shape, tf.Float, false, fill(shape, 0))
	bn.movingVariance = lb.vars.make(l.name, "moving_variance", shape, tf.Float, false, fill(shape, 1))
	return bn
}

func (bn *batchNormLayer) spec() *layerSpec { return bn.l }

func (bn *batchNormLayer) weights() []*variable {
	return []*variable{bn.gamma, bn.beta, bn.movingMean, bn.movingVariance}
}

func (bn *batchNormLayer) rebind(vars map[*variable]*variable) layer {
	return &batchNormLayer{l: bn.l, axis: bn.axis, gamma: vars[bn.gamma], beta: vars[bn.beta],
		movingMean: vars[bn.movingMean], movingVariance: vars[bn.movingVariance]}
}

// apply normalises the whole batch: with towers in a training pass the parts are put back together
// for the batch statistics, and the result cut again.
func (bn *batchNormLayer) apply(f *forward, ins [][]tf.Output) []tf.Output {
	zs := ins[0]
	if f.training && len(zs) > 1 {
		bs := f.s.SubScope(bn.l.name)
		whole := f.joined(bs.SubScope("whole"), zs)
		return f.split(bs.SubScope("towers"), f.batchNorm(bs, bn, whole))
	}
	return f.each(bn.l.name, zs, func(s *op.Scope, z tf.Output) tf.Output { return f.batchNorm(s, bn, z) })
}

// fill is an initial value of the shape with every element value.
func fill(shape []int64, value float32) func(*op.Scope) tf.Output {
	return func(s *op.Scope) tf.Output {
		dims := make([]int32, len(shape))
		for i, d := range shape {
			dims[i] = int32(d)
		}
		return op.Fill(s, op.Const(s.SubScope("shape"), dims), op.Const(s.SubScope("value"), value))
	}
}
