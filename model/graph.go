package model

import (
	"fmt"
	"math"
	"reflect"
	"strings"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"

	"github.com/tfsweep/tfsweep/model/catalog"
)

// Keras 3 constants the graph reproduces.
const (
	adamBeta1   = 0.9
	adamBeta2   = 0.999
	adamEpsilon = 1e-7
	bnMomentum  = 0.99
	bnEpsilon   = 1e-3
	// truncatedNormalStddev is the standard deviation of a unit normal truncated at ±2σ; Keras divides
	// by it so that the truncated draw has the variance VarianceScaling asks for.
	truncatedNormalStddev = 0.87962566103423978
)

// variable is one resource variable: a layer weight, a batch-norm moving statistic, an Adam slot or
// the optimizer's step counter.
type variable struct {
	name      string // Keras path, e.g. "dense/kernel", "adam/dense_kernel_momentum"
	shape     []int64
	dtype     tf.DataType
	handle    tf.Output
	init      *tf.Operation // assigns the initial value
	trainable bool
}

// dense and batchNorm hold a layer's variables; a hidden layer has a batchNorm only with Config.BatchNorm.
type dense struct {
	name         string
	kernel, bias *variable
}

type batchNorm struct {
	name                                    string
	gamma, beta, movingMean, movingVariance *variable
}

type hiddenLayer struct {
	dense      dense
	bn         *batchNorm
	activation string // scope of the tanh: Keras' Activation layer name with batch norm, else inside the Dense
}

// forward is one pass of the network over the pixels placeholder. The training pass and the
// evaluation pass are separate subgraphs over the same variables: batch norm differs between them,
// and the gradients must see exactly the reads of the training pass.
type forward struct {
	logits   tf.Output
	hidden   []tf.Output             // activations after each hidden layer's tanh, for tests
	reads    map[*variable]tf.Output // the one read of each variable this pass made
	bnUpdate []*tf.Operation         // moving-statistic assignments (training pass only)
}

// graph is the built TensorFlow graph with the handles the Model runs.
type graph struct {
	g              *tf.Graph
	pixels, labels tf.Output // placeholders [N, Inputs] float32 and [N] int32

	hidden []hiddenLayer
	output dense

	trainable []*variable // in Keras' model.trainable_weights order
	weights   []*variable // trainable weights and moving statistics, Keras' model.weights order
	all       []*variable // every variable, Adam slots and step counter included

	train, eval forward
	grads       []tf.Output // d trainLoss / d trainable[i], for tests

	trainLoss, trainAccuracy tf.Output // batch means
	trainStep                *tf.Operation
	evalLossSum, evalCorrect tf.Output // sums over the fed examples
	initAll                  *tf.Operation
}

// buildGraph builds the network, its training step and its evaluation pass. Device strings go on
// every op except the gradients: op.Gradients refuses a scope with a device. Those ops are left to
// the placer, which in a cpu session has no GPU to choose and otherwise prefers the GPU like the
// forward ops (soft placement covers ops that have no GPU kernel).
func buildGraph(cfg Config) (*graph, error) {
	init, err := catalog.LookupInit(cfg.Init)
	if err != nil {
		return nil, err
	}
	root := op.NewScope()
	s := root.WithDevice(deviceString(cfg.Device))
	b := &graph{}
	b.pixels = op.Placeholder(s.SubScope("pixels"), tf.Float, op.PlaceholderShape(tf.MakeShape(-1, int64(cfg.Inputs))))
	b.labels = op.Placeholder(s.SubScope("labels"), tf.Int32, op.PlaceholderShape(tf.MakeShape(-1)))

	// Variables, named like Keras 3's Sequential auto-names: dense, batch_normalization, dense_1, ...
	var inits []*tf.Operation
	// One scope per layer: SubScope uniquifies, so asking for "dense" twice would give "dense_1".
	layerScopes := make(map[string]*op.Scope)
	newVar := func(layer, name string, shape []int64, dtype tf.DataType, trainable bool, initial func(*op.Scope) tf.Output) *variable {
		ls, ok := layerScopes[layer]
		if !ok {
			ls = s.SubScope(layer)
			layerScopes[layer] = ls
		}
		vs := ls.SubScope(name)
		v := &variable{name: layer + "/" + name, shape: shape, dtype: dtype, trainable: trainable}
		v.handle = op.VarHandleOp(vs, dtype, tf.MakeShape(shape...), op.VarHandleOpSharedName(v.name))
		v.init = op.AssignVariableOp(vs.SubScope("init"), v.handle, initial(vs.SubScope("initial_value")))
		inits = append(inits, v.init)
		b.all = append(b.all, v)
		if trainable {
			b.trainable = append(b.trainable, v)
		}
		return v
	}
	fill := func(shape []int64, value float32) func(*op.Scope) tf.Output {
		return func(s *op.Scope) tf.Output {
			dims := make([]int32, len(shape))
			for i, d := range shape {
				dims[i] = int32(d)
			}
			return op.Fill(s, op.Const(s.SubScope("shape"), dims), op.Const(s.SubScope("value"), value))
		}
	}
	newDense := func(index int, fanIn, units int) dense {
		name := kerasName("dense", index)
		kshape := []int64{int64(fanIn), int64(units)}
		d := dense{name: name}
		d.kernel = newVar(name, "kernel", kshape, tf.Float, true, func(s *op.Scope) tf.Output {
			return buildInit(init, s, kshape, [2]int64{cfg.Seed, int64(index)})
		})
		d.bias = newVar(name, "bias", []int64{int64(units)}, tf.Float, true, fill([]int64{int64(units)}, 0))
		b.weights = append(b.weights, d.kernel, d.bias)
		return d
	}
	fanIn := cfg.Inputs
	for i, width := range cfg.Hidden {
		layer := hiddenLayer{dense: newDense(i, fanIn, width)}
		layer.activation = layer.dense.name + "/tanh"
		if cfg.BatchNorm {
			layer.activation = kerasName("activation", i)
			name := kerasName("batch_normalization", i)
			shape := []int64{int64(width)}
			bn := &batchNorm{name: name}
			bn.gamma = newVar(name, "gamma", shape, tf.Float, true, fill(shape, 1))
			bn.beta = newVar(name, "beta", shape, tf.Float, true, fill(shape, 0))
			bn.movingMean = newVar(name, "moving_mean", shape, tf.Float, false, fill(shape, 0))
			bn.movingVariance = newVar(name, "moving_variance", shape, tf.Float, false, fill(shape, 1))
			b.weights = append(b.weights, bn.gamma, bn.beta, bn.movingMean, bn.movingVariance)
			layer.bn = bn
		}
		b.hidden = append(b.hidden, layer)
		fanIn = width
	}
	b.output = newDense(len(cfg.Hidden), fanIn, cfg.Classes)

	// Training pass: batch statistics, loss and accuracy as batch means.
	ts := s.SubScope("train")
	b.train = b.buildForward(ts, true)
	xent := crossEntropy(ts, b.train.logits, b.labels, cfg.Classes)
	b.trainLoss = op.Mean(ts.SubScope("loss"), xent, op.Const(ts.SubScope("loss_axis"), []int32{0}))
	b.trainAccuracy = op.Mean(ts.SubScope("accuracy"), correct(ts, b.train.logits, b.labels), op.Const(ts.SubScope("accuracy_axis"), []int32{0}))

	// Gradients of the loss with respect to the training pass' reads, in a scope without a device.
	xs := make([]tf.Output, len(b.trainable))
	for i, v := range b.trainable {
		xs[i] = b.train.reads[v]
	}
	b.grads = op.Gradients(root.SubScope("gradients"), []tf.Output{b.trainLoss}, xs)
	if err := root.Err(); err != nil {
		return nil, fmt.Errorf("build gradients: %w", err)
	}
	for i, grad := range b.grads {
		if !isOutput(grad) {
			return nil, fmt.Errorf("build gradients: no gradient reaches %s", b.trainable[i].name)
		}
	}
	b.trainStep = b.buildAdam(s.SubScope("adam_update"), cfg.LearningRate, newVar)

	// Evaluation pass: moving statistics, sums so that chunks combine into means over examples.
	es := s.SubScope("eval")
	b.eval = b.buildForward(es, false)
	evalXent := crossEntropy(es, b.eval.logits, b.labels, cfg.Classes)
	b.evalLossSum = op.Sum(es.SubScope("loss_sum"), evalXent, op.Const(es.SubScope("loss_axis"), []int32{0}))
	b.evalCorrect = op.Sum(es.SubScope("correct_sum"), correct(es, b.eval.logits, b.labels), op.Const(es.SubScope("correct_axis"), []int32{0}))

	b.initAll = op.NoOp(s.SubScope("init").WithControlDependencies(inits...))
	g, err := root.Finalize()
	if err != nil {
		return nil, fmt.Errorf("build graph: %w", err)
	}
	b.g = g
	return b, nil
}

// buildAdam adds Keras 3's Adam: one ResourceApplyAdam per trainable variable with zero-initialised
// momentum and velocity slots, and the step counter that gives the bias-correction powers
// beta^t, t = iterations+1, inside the graph. It returns the op that runs a whole training step: the
// counter increment, which waits for every update and every moving-statistic assignment.
func (b *graph) buildAdam(s *op.Scope, lr float64, newVar func(string, string, []int64, tf.DataType, bool, func(*op.Scope) tf.Output) *variable) *tf.Operation {
	iterations := newVar("adam", "iteration", nil, tf.Int64, false, func(s *op.Scope) tf.Output {
		return op.Const(s, int64(0))
	})
	step := op.Cast(s.SubScope("local_step"),
		op.AddV2(s.SubScope("next_iteration"), op.ReadVariableOp(s.SubScope("read_iteration"), iterations.handle, tf.Int64), op.Const(s.SubScope("one"), int64(1))),
		tf.Float)
	beta1 := op.Const(s.SubScope("beta_1"), float32(adamBeta1))
	beta2 := op.Const(s.SubScope("beta_2"), float32(adamBeta2))
	beta1Power := op.Pow(s.SubScope("beta_1_power"), beta1, step)
	beta2Power := op.Pow(s.SubScope("beta_2_power"), beta2, step)
	lrConst := op.Const(s.SubScope("learning_rate"), float32(lr))
	epsilon := op.Const(s.SubScope("epsilon"), float32(adamEpsilon))

	updates := append([]*tf.Operation(nil), b.train.bnUpdate...)
	for i, v := range b.trainable {
		slot := keras3SlotName(v.name)
		zeros := func(s *op.Scope) tf.Output {
			dims := make([]int32, len(v.shape))
			for i, d := range v.shape {
				dims[i] = int32(d)
			}
			return op.Fill(s, op.Const(s.SubScope("shape"), dims), op.Const(s.SubScope("value"), float32(0)))
		}
		m := newVar("adam", slot+"_momentum", v.shape, tf.Float, false, zeros)
		vel := newVar("adam", slot+"_velocity", v.shape, tf.Float, false, zeros)
		updates = append(updates, op.ResourceApplyAdam(s.SubScope("update_"+slot), v.handle, m.handle, vel.handle,
			beta1Power, beta2Power, lrConst, beta1, beta2, epsilon, b.grads[i]))
	}
	return op.AssignAddVariableOp(s.SubScope("increment_iteration").WithControlDependencies(updates...),
		iterations.handle, op.Const(s.SubScope("increment"), int64(1)))
}

// buildForward adds one pass of the network: each hidden layer Dense → [BatchNorm] → tanh, then the
// output Dense giving logits (the softmax is folded into the loss, as Keras does for a softmax output).
func (b *graph) buildForward(s *op.Scope, training bool) forward {
	f := forward{reads: make(map[*variable]tf.Output)}
	read := func(s *op.Scope, v *variable) tf.Output {
		out := op.ReadVariableOp(s.SubScope(baseName(v.name)+"_read"), v.handle, v.dtype)
		f.reads[v] = out
		return out
	}
	denseOut := func(s *op.Scope, d dense, x tf.Output) tf.Output {
		ds := s.SubScope(d.name)
		return op.BiasAdd(ds, op.MatMul(ds, x, read(ds, d.kernel)), read(ds, d.bias))
	}
	x := b.pixels
	for _, layer := range b.hidden {
		z := denseOut(s, layer.dense, x)
		if layer.bn != nil {
			z = f.batchNorm(s.SubScope(layer.bn.name), layer.bn, z, training, read)
		}
		x = op.Tanh(s.SubScope(layer.activation), z)
		f.hidden = append(f.hidden, x)
	}
	f.logits = denseOut(s, b.output, x)
	return f
}

// batchNorm is Keras 3's BatchNormalization over axis -1 of a [N, C] input, built from ops with C++
// gradients: tf.nn.moments (biased variance, gradient stopped through the mean inside the variance)
// while training, the moving statistics otherwise, and tf.nn.batch_normalization's
// x*inv + (beta - mean*inv) with inv = rsqrt(var+ε)*gamma.
func (f *forward) batchNorm(s *op.Scope, bn *batchNorm, x tf.Output, training bool, read func(*op.Scope, *variable) tf.Output) tf.Output {
	gamma, beta := read(s, bn.gamma), read(s, bn.beta)
	var mean, variance tf.Output
	if training {
		ms := s.SubScope("moments")
		axis := op.Const(ms.SubScope("axis"), []int32{0})
		mean = op.Mean(ms.SubScope("mean"), x, axis)
		variance = op.Mean(ms.SubScope("variance"),
			op.SquaredDifference(ms, x, op.StopGradient(ms, mean)), axis)
		// moving = moving*momentum + batch*(1-momentum), from reads of their own: these assignments
		// are off the gradient path.
		ema := func(name string, v *variable, batch tf.Output) *tf.Operation {
			es := s.SubScope("update_" + name)
			old := op.ReadVariableOp(es.SubScope("read"), v.handle, tf.Float)
			updated := op.AddV2(es,
				op.Mul(es.SubScope("decay"), old, op.Const(es.SubScope("momentum"), float32(bnMomentum))),
				op.Mul(es.SubScope("batch"), batch, op.Const(es.SubScope("one_minus_momentum"), float32(1-bnMomentum))))
			return op.AssignVariableOp(es, v.handle, updated)
		}
		f.bnUpdate = append(f.bnUpdate, ema("moving_mean", bn.movingMean, mean), ema("moving_variance", bn.movingVariance, variance))
	} else {
		mean, variance = read(s, bn.movingMean), read(s, bn.movingVariance)
	}
	inv := op.Mul(s.SubScope("inv"),
		op.Rsqrt(s, op.AddV2(s.SubScope("variance_epsilon"), variance, op.Const(s.SubScope("epsilon"), float32(bnEpsilon)))),
		gamma)
	shift := op.Sub(s.SubScope("shift"), beta, op.Mul(s.SubScope("mean_inv"), mean, inv))
	return op.AddV2(s.SubScope("output"), op.Mul(s.SubScope("scaled"), x, inv), shift)
}

// crossEntropy is the per-example sparse categorical cross-entropy of softmax(logits). It goes through
// one-hot labels because SparseSoftmaxCrossEntropyWithLogits has no C++ gradient.
func crossEntropy(s *op.Scope, logits, labels tf.Output, classes int) tf.Output {
	cs := s.SubScope("cross_entropy")
	oneHot := op.OneHot(cs, labels, op.Const(cs.SubScope("depth"), int32(classes)),
		op.Const(cs.SubScope("on"), float32(1)), op.Const(cs.SubScope("off"), float32(0)))
	loss, _ := op.SoftmaxCrossEntropyWithLogits(cs, logits, oneHot)
	return loss
}

// correct is 1 where the arg-max class equals the label, else 0, per example.
func correct(s *op.Scope, logits, labels tf.Output) tf.Output {
	cs := s.SubScope("correct")
	predicted := op.ArgMax(cs, logits, op.Const(cs.SubScope("axis"), int32(1)), op.ArgMaxOutputType(tf.Int32))
	return op.Cast(cs, op.Equal(cs, predicted, labels), tf.Float)
}

// buildInit adds the initialiser's draw for a kernel of the given shape [fan_in, fan_out].
func buildInit(init catalog.Initialiser, s *op.Scope, shape []int64, seed [2]int64) tf.Output {
	shapeOut := op.Const(s.SubScope("shape"), []int32{int32(shape[0]), int32(shape[1])})
	seedOut := op.Const(s.SubScope("seed"), seed[:])
	scaled := func(x tf.Output, mul, add float32) tf.Output {
		y := op.Mul(s.SubScope("scale"), x, op.Const(s.SubScope("factor"), mul))
		if add == 0 {
			return y
		}
		return op.AddV2(s.SubScope("shift"), y, op.Const(s.SubScope("offset"), add))
	}
	switch init.Distribution {
	case "fixed_uniform": // RandomUniform(minval=-0.05, maxval=0.05): min + (max-min)*U[0,1)
		return scaled(op.StatelessRandomUniform(s, shapeOut, seedOut), 0.1, -0.05)
	case "uniform":
		limit := math.Sqrt(3 * initVariance(init, shape))
		return scaled(op.StatelessRandomUniform(s, shapeOut, seedOut), float32(2*limit), float32(-limit))
	default: // truncated_normal
		stddev := math.Sqrt(initVariance(init, shape)) / truncatedNormalStddev
		return scaled(op.StatelessTruncatedNormal(s, shapeOut, seedOut), float32(stddev), 0)
	}
}

// variance is VarianceScaling's scale/n for a kernel [fan_in, fan_out].
func initVariance(init catalog.Initialiser, shape []int64) float64 {
	fanIn, fanOut := float64(shape[0]), float64(shape[1])
	n := fanIn
	if init.Mode == "fan_avg" {
		n = (fanIn + fanOut) / 2
	}
	return init.Scale / n
}

// isOutput reports whether o refers to an operation. For an x that receives no gradient, graft
// returns an Output whose Operation wraps a nil TF_Operation, and any method called on it crashes
// in C; the nil pointer is only visible through reflection.
func isOutput(o tf.Output) bool {
	if o.Op == nil {
		return false
	}
	c := reflect.ValueOf(o.Op).Elem().Field(0) // Operation.c *C.TF_Operation
	return c.Kind() == reflect.Pointer && !c.IsNil()
}

// kerasName is Keras' auto-name of the index-th layer of a class: dense, dense_1, dense_2, ...
func kerasName(base string, index int) string {
	if index == 0 {
		return base
	}
	return fmt.Sprintf("%s_%d", base, index)
}

// keras3SlotName is the prefix of Keras 3's optimizer slot names: "dense/kernel" → "dense_kernel".
func keras3SlotName(path string) string { return strings.ReplaceAll(path, "/", "_") }

// baseName is the last element of a variable path: "dense/kernel" → "kernel".
func baseName(path string) string { return path[strings.LastIndex(path, "/")+1:] }
