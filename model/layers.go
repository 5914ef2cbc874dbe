package model

import (
	"strings"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"

	"github.com/tfsweep/tfsweep/spec"
)

// layer is one built layer of the network: its variables and how a pass computes it.
type layer interface {
	spec() *spec.Layer
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

// newLayer builds the resolved layer l, whose first input has the shape in and whose output has the
// shape out (without the batch dimension).
func (lb *layerBuild) newLayer(l *spec.Layer, in, out spec.Shape) layer {
	switch l.Class {
	case spec.ClassDense, spec.ClassConv2D:
		return lb.newKernelLayer(l, in)
	case spec.ClassBatchNormalization:
		return lb.newBatchNorm(l, in)
	case spec.ClassDropout:
		d := &dropoutLayer{plain: plain{l, in, out}, index: lb.dropped}
		lb.dropped++
		return d
	case spec.ClassFlatten, spec.ClassReshape:
		return &reshapeLayer{plain{l, in, out}}
	case spec.ClassMaxPooling2D:
		return &maxPoolLayer{plain: plain{l, in, out}}
	}
	return &plain{l, in, out}
}

// poolBeforeRelu marks every Conv2D with a relu activation whose output only a MaxPooling2D reads
// (and is not the network's output) to leave its ReLU to the pooling layer: max pooling and ReLU
// commute, relu(max(x)) = max(relu(x)) to the bit, and after the pooling the ReLU and its gradient
// work on a quarter of the elements or fewer. The gradient is the same too: the pool's gradient goes
// to the window's first maximum, which is the first maximum of relu(x) wherever that maximum is
// positive, and ReluGrad zeroes it wherever it is not. Once the gradients are built, the forward
// ReLU goes back before the pooling, fused into the convolution (reluBeforePool); its gradient
// stays after it.
func poolBeforeRelu(layers []layer) {
	readers := make(map[string]int)
	for _, l := range layers {
		for _, name := range l.spec().Inbound {
			readers[name]++
		}
	}
	byName := make(map[string]*kernelLayer)
	for _, l := range layers[:len(layers)-1] {
		if k, ok := l.(*kernelLayer); ok && k.l.Conv2D != nil && k.l.Conv2D.Activation == spec.ActivationReLU && readers[k.l.Name] == 1 {
			byName[k.l.Name] = k
		}
	}
	for _, l := range layers {
		if p, ok := l.(*maxPoolLayer); ok {
			if k := byName[p.l.Inbound[0]]; k != nil {
				k.reluAfterPool, p.relu = true, true
			}
		}
	}
}

// plain is a layer without variables; in and out are its (first) input's and its output's shapes
// without the batch dimension.
type plain struct {
	l       *spec.Layer
	in, out spec.Shape
}

func (p *plain) spec() *spec.Layer                    { return p.l }
func (p *plain) weights() []*variable                 { return nil }
func (p *plain) rebind(map[*variable]*variable) layer { return p }
func (p *plain) apply(f *forward, ins [][]tf.Output) []tf.Output {
	l := p.l
	switch l.Class {
	case spec.ClassActivation:
		return f.each(l.Name, ins[0], func(s *op.Scope, x tf.Output) tf.Output { return applyActivation(s, l.Activation.Activation, x) })
	case spec.ClassRescaling:
		return f.each(l.Name, ins[0], func(s *op.Scope, x tf.Output) tf.Output {
			return op.AddV2(s, op.Mul(s.SubScope("scale"), x, op.Const(s.SubScope("factor"), float32(l.Rescaling.Scale))),
				op.Const(s.SubScope("offset"), float32(l.Rescaling.Offset)))
		})
	case spec.ClassAveragePooling2D:
		return p.pool(f, ins[0], func(s *op.Scope, x tf.Output, ksize, strides []int64, padding string) tf.Output {
			return op.AvgPool(s, x, ksize, strides, padding)
		})
	case spec.ClassGlobalAveragePooling2D:
		return f.each(l.Name, ins[0], func(s *op.Scope, x tf.Output) tf.Output {
			return op.Mean(s, x, op.Const(s.SubScope("axes"), []int32{1, 2}))
		})
	case spec.ClassAdd:
		return f.eachMerge(l.Name, ins, func(s *op.Scope, xs []tf.Output) tf.Output {
			sum := xs[0]
			for _, x := range xs[1:] {
				sum = op.AddV2(s, sum, x)
			}
			return sum
		})
	case spec.ClassConcatenate:
		return f.eachMerge(l.Name, ins, func(s *op.Scope, xs []tf.Output) tf.Output {
			return op.ConcatV2(s, xs, op.Const(s.SubScope("axis"), int32(l.Concatenate.Axis)))
		})
	}
	panic("model: no builder for layer class " + string(l.Class)) // Resolve refuses any other class
}

// pool applies MaxPool or AvgPool with the layer's window, strides and padding to every tower's x.
func (p *plain) pool(f *forward, xs []tf.Output, pool func(s *op.Scope, x tf.Output, ksize, strides []int64, padding string) tf.Output) []tf.Output {
	args := p.l.Pooling
	ksize := []int64{1, int64(args.PoolSize[0]), int64(args.PoolSize[1]), 1}
	strides := []int64{1, int64(args.Strides[0]), int64(args.Strides[1]), 1}
	padding := strings.ToUpper(string(args.Padding))
	return f.nonEmpty(p.l.Name, xs, p.in, func(s *op.Scope, x tf.Output) tf.Output { return pool(s, x, ksize, strides, padding) })
}

// maxPoolLayer is MaxPooling2D; with relu it also applies the ReLU of the Conv2D before it
// (poolBeforeRelu).
type maxPoolLayer struct {
	plain
	relu bool
}

func (m *maxPoolLayer) rebind(map[*variable]*variable) layer { return m }

func (m *maxPoolLayer) apply(f *forward, ins [][]tf.Output) []tf.Output {
	return m.pool(f, ins[0], func(s *op.Scope, x tf.Output, ksize, strides []int64, padding string) tf.Output {
		y := op.MaxPool(s, x, ksize, strides, padding)
		if m.relu {
			return applyActivation(s, spec.ActivationReLU, y)
		}
		return y
	})
}

// applyActivation is a layer's activation; softmax is folded into the loss (the last layer's output
// stays the logits) and linear is the identity.
func applyActivation(s *op.Scope, a spec.Activation, x tf.Output) tf.Output {
	if a == spec.ActivationLinear || a == spec.ActivationSoftmax {
		return x
	}
	return activate(s.SubScope(string(a)), string(a), x)
}

// reshapeLayer is Flatten or Reshape: the batch dimension kept, the rest made out.
type reshapeLayer struct{ plain }

func (r *reshapeLayer) rebind(map[*variable]*variable) layer { return r }

func (r *reshapeLayer) apply(f *forward, ins [][]tf.Output) []tf.Output {
	dims := []int32{-1}
	for _, d := range r.out {
		dims = append(dims, int32(d))
	}
	return f.each(r.l.Name, ins[0], func(s *op.Scope, x tf.Output) tf.Output {
		return op.Reshape(s, x, op.Const(s.SubScope("shape"), dims))
	})
}

// kernelLayer is Dense (x·kernel + bias) or Conv2D (NHWC, kernel [height, width, in, filters]),
// followed by its activation.
type kernelLayer struct {
	l            *spec.Layer
	in           spec.Shape
	kernel, bias *variable // bias nil without use_bias
	// reluAfterPool leaves the layer's relu to the MaxPooling2D after it (poolBeforeRelu).
	reluAfterPool bool
}

// kernelArgs are the settings Dense and Conv2D share.
func kernelArgs(l *spec.Layer) (k spec.Kernel, useBias bool, a spec.Activation) {
	if l.Conv2D != nil {
		return l.Conv2D.Kernel, l.Conv2D.UseBias, l.Conv2D.Activation
	}
	return l.Dense.Kernel, l.Dense.UseBias, l.Dense.Activation
}

func (lb *layerBuild) newKernelLayer(l *spec.Layer, in spec.Shape) *kernelLayer {
	var shape []int64
	if c := l.Conv2D; c != nil {
		shape = []int64{int64(c.KernelSize[0]), int64(c.KernelSize[1]), int64(in[2]), int64(c.Filters)}
	} else {
		shape = []int64{int64(in[0]), int64(l.Dense.Units)}
	}
	kernel, useBias, _ := kernelArgs(l)
	init, _ := spec.LookupInit(string(kernel.Init())) // Resolve checked the name
	seed := [2]int64{lb.seed, int64(lb.kernels)}
	lb.kernels++
	k := &kernelLayer{l: l, in: in}
	k.kernel = lb.vars.make(l.Name, "kernel", shape, tf.Float, true, func(s *op.Scope) tf.Output {
		return buildInit(init, s, shape, seed)
	})
	if useBias {
		units := []int64{shape[len(shape)-1]}
		k.bias = lb.vars.make(l.Name, "bias", units, tf.Float, true, fill(units, 0))
	}
	return k
}

func (k *kernelLayer) spec() *spec.Layer { return k.l }

func (k *kernelLayer) weights() []*variable {
	if k.bias == nil {
		return []*variable{k.kernel}
	}
	return []*variable{k.kernel, k.bias}
}

func (k *kernelLayer) rebind(vars map[*variable]*variable) layer {
	c := &kernelLayer{l: k.l, in: k.in, kernel: vars[k.kernel], reluAfterPool: k.reluAfterPool}
	if k.bias != nil {
		c.bias = vars[k.bias]
	}
	return c
}

func (k *kernelLayer) apply(f *forward, ins [][]tf.Output) []tf.Output {
	l := k.l
	kernel, _, activation := kernelArgs(l)
	layer := func(s *op.Scope, x tf.Output) tf.Output {
		var y tf.Output
		if c := l.Conv2D; c != nil {
			strides := []int64{1, int64(c.Strides[0]), int64(c.Strides[1]), 1}
			y = op.Conv2D(s, x, f.read(s, k.kernel), strides, strings.ToUpper(string(c.Padding)))
		} else {
			y = op.MatMul(s, x, f.read(s, k.kernel))
		}
		switch {
		case k.bias == nil:
		case l.Conv2D != nil:
			// AddV2, as Keras adds a convolution's bias: BiasAdd's gradient would be fused by oneDNN into
			// the kernel's (Conv2DBackpropFilter with bias), which sums the bias gradient far slower
			// than a reduction of its own.
			y = op.AddV2(s, y, f.read(s, k.bias))
		default:
			y = op.BiasAdd(s, y, f.read(s, k.bias))
		}
		if k.reluAfterPool {
			return y
		}
		return applyActivation(s, activation, y)
	}
	var out []tf.Output
	if l.Conv2D != nil {
		out = f.nonEmpty(l.Name, ins[0], k.in, layer)
	} else {
		out = f.each(l.Name, ins[0], layer)
	}
	if l2 := kernel.L2Rate(); l2 > 0 {
		f.penalize(l.Name, l2, f.reads[k.kernel])
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
	if !f.training || d.l.Dropout.Rate == 0 {
		return ins[0]
	}
	return f.dropout(f.s.SubScope(d.l.Name), ins[0], d.l.Dropout.Rate, f.seed, d.index, f.iterations)
}

// batchNormLayer is Keras' BatchNormalization over one feature axis. Without center (scale) it has
// no beta (gamma), which stays 0 (1).
type batchNormLayer struct {
	l                                       *spec.Layer
	gamma, beta, movingMean, movingVariance *variable
}

func (lb *layerBuild) newBatchNorm(l *spec.Layer, in spec.Shape) *batchNormLayer {
	shape := []int64{int64(in[l.BatchNorm.Axis-1])}
	bn := &batchNormLayer{l: l}
	if l.BatchNorm.Scale {
		bn.gamma = lb.vars.make(l.Name, "gamma", shape, tf.Float, true, fill(shape, 1))
	}
	if l.BatchNorm.Center {
		bn.beta = lb.vars.make(l.Name, "beta", shape, tf.Float, true, fill(shape, 0))
	}
	bn.movingMean = lb.vars.make(l.Name, "moving_mean", shape, tf.Float, false, fill(shape, 0))
	bn.movingVariance = lb.vars.make(l.Name, "moving_variance", shape, tf.Float, false, fill(shape, 1))
	return bn
}

func (bn *batchNormLayer) spec() *spec.Layer { return bn.l }

func (bn *batchNormLayer) weights() []*variable {
	var out []*variable
	for _, v := range []*variable{bn.gamma, bn.beta, bn.movingMean, bn.movingVariance} {
		if v != nil {
			out = append(out, v)
		}
	}
	return out
}

func (bn *batchNormLayer) rebind(vars map[*variable]*variable) layer {
	return &batchNormLayer{l: bn.l, gamma: vars[bn.gamma], beta: vars[bn.beta],
		movingMean: vars[bn.movingMean], movingVariance: vars[bn.movingVariance]}
}

// width is the number of features normalised.
func (bn *batchNormLayer) width() int64 { return bn.movingMean.shape[0] }

// apply normalises the whole batch: with towers in a training pass the parts are put back together
// for the batch statistics, and the result cut again.
func (bn *batchNormLayer) apply(f *forward, ins [][]tf.Output) []tf.Output {
	zs := ins[0]
	if f.training && len(zs) > 1 {
		bs := f.s.SubScope(bn.l.Name)
		whole := f.joined(bs.SubScope("whole"), zs)
		return f.split(bs.SubScope("towers"), f.batchNorm(bs, bn, whole))
	}
	return f.each(bn.l.Name, zs, func(s *op.Scope, z tf.Output) tf.Output { return f.batchNorm(s, bn, z) })
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
