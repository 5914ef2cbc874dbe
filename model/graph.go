package model

import (
	"fmt"
	"math"
	"reflect"
	"strings"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"

	"github.com/tfsweep/tfsweep/spec"
)

// Keras 3 constants the graph reproduces.
const (
	adamBeta1   = 0.9
	adamBeta2   = 0.999
	adamEpsilon = 1e-7
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

// forward is one pass of the network over the pixels placeholder. The training pass and the
// evaluation pass are separate subgraphs over the same variables: batch norm differs between them,
// and the gradients must see exactly the reads of the training pass.
type forward struct {
	// s is the pass' scope and scopes each tower's (s itself with one tower).
	s        *op.Scope
	scopes   []*op.Scope
	training bool
	// seed and iterations key the dropout masks (training passes only).
	seed       int64
	iterations tf.Output
	// logits are the whole pass' [N, Classes]; towerLogits each tower's part; rows is N and sizes
	// the rows of each part (Config.Towers > 1 only); labels each tower's part of the batch's labels.
	towers      int
	towerLogits []tf.Output
	rows, sizes tf.Output
	labels      []tf.Output
	logits      tf.Output
	outputs     map[string][]tf.Output // each layer's output per tower, by layer name
	// penalties are L2·Σkernel² per regularised kernel in layer order, Keras' model.losses (none in
	// the serving graph).
	penalties     []tf.Output
	withPenalties bool
	reads         map[*variable]tf.Output // the one read of each variable this pass made
	bnUpdate      []*tf.Operation         // moving-statistic assignments (training pass only)
}

// graph is the built TensorFlow graph with the handles the Model runs.
type graph struct {
	g *tf.Graph
	// The training pass gathers the rows at indices of trainSource and trainLabelSource, by default
	// the data variables' (TrainSteps); TrainStep feeds its batch as both sources with indices
	// 0…B-1. The evaluation pass reads pixels and labels: by default the validation set's rows from
	// evalStart, evalCount of them (Validate); Evaluate and Predict feed them.
	indices                       tf.Output // [B] int32
	trainSource, trainLabelSource tf.Output // [N, features] float32, [N] int32
	pixels, labels                tf.Output // [N, features] float32, [N] int32
	evalStart, evalCount          tf.Output // int32 scalars
	data                          dataVars
	// One read per run of the training set's variables, the rows and labels every gather takes.
	trainRows, trainRowLabels tf.Output

	net        spec.Network // resolved
	summary    spec.Summary // its shapes and sizes
	evalChunk  int          // examples per evaluation call (evalChunkFor)
	layers     []layer      // in the network's order
	features   int          // values per example, the input flattened
	numClasses int
	serving    bool // the SavedModel's inference graph: no regularisation penalties

	trainable []*variable // in Keras' model.trainable_weights order
	weights   []*variable // trainable weights and moving statistics, Keras' model.weights order
	all       []*variable // every variable, optimizer slots and step counter included

	iterations *variable // the optimizer's step counter, Keras' optimizer.iterations
	lrVar      *variable // the constant schedule's learning-rate variable, else nil
	// Assignments for SetWeights and SetLearningRate: a placeholder and an AssignVariableOp per variable.
	assign map[*variable]assignment

	// The step TrainStep runs: its reads of the step counter (the steps taken before it) and of the
	// learning rate it uses (the schedule there), its batch-mean loss and accuracy, its increment.
	single *step
	eval   forward // the evaluation pass

	chunk                    *chunk    // Config.StepsPerCall > 1 only
	evalLossSum, evalCorrect tf.Output // sums over the fed examples
	evalPenalty              tf.Output // Σ of the L2 penalties at the current weights (a network with L2 regularisers only)
	// The evaluation pass' softmax [N, Classes] and arg-max class [N] int64, what a SavedModel serves.
	probabilities, classes tf.Output
	initAll                *tf.Operation

	ckpt         saver // every variable: the checkpoint of the training state
	weightsSaver saver // the weights and moving statistics only: a SavedModel's variables/
}

// step is one optimizer step's ops: its reads of the step counter and learning rate, its training
// pass, the gradients and the updates.
type step struct {
	iterRead, learningRate tf.Output
	train                  forward
	grads                  []tf.Output
	loss, accuracy         tf.Output
	increment              *tf.Operation // iterations += 1, after every update of the step
}

// chunk is Config.StepsPerCall steps unrolled: step k gathers the rows indices[k] of the training
// set and runs after step k-1's increment, so the chunk computes exactly what as many single steps do.
type chunk struct {
	size               int
	indices            tf.Output // [size, B] int32
	losses, accuracies tf.Output // [size] float32, each step's batch means
	last               *tf.Operation
}

// dataVars hold the examples a Model is bound to (Bind), in TensorFlow's memory: on the GPU when
// the model runs there. They are outside the checkpoint and the SavedModel.
type dataVars struct {
	trainPixels, trainLabels, valPixels, valLabels assignment
}

type assignment struct {
	value tf.Output // placeholder of the variable's dtype and shape
	op    *tf.Operation
}

// buildGraph builds the network, its training step and its evaluation pass. Device strings go on
// every op except the gradients: op.Gradients refuses a scope with a device. Those ops are left to
// the placer, which in a cpu session has no GPU to choose and otherwise prefers the GPU like the
// forward ops (soft placement covers ops that have no GPU kernel).
func buildGraph(cfg Config) (*graph, error) {
	summary, err := cfg.Network.Summary()
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	root := op.NewScope()
	s := root.WithDevice(deviceString(cfg.Device))
	b := &graph{assign: make(map[*variable]assignment), net: cfg.Network, summary: summary, features: features(cfg.Network.Input.Shape), numClasses: summary.Output[0],
		evalChunk: evalChunkFor(cfg.Network, summary)}
	b.buildInputs(s.SubScope("data"), s, b.features)
	vars := &varSet{s: s, b: b, scopes: make(map[string]*op.Scope), byName: make(map[string]*variable)}
	b.buildLayers(vars, summary, cfg.Seed)

	// The optimizer's step counter and learning rate come first: dropout draws its masks from the
	// step. Keras names the optimizer's variables under the optimizer's name.
	optName := kerasOptimizerName(cfg.Optimizer)
	b.iterations = vars.make(optName, "iteration", nil, tf.Int64, false, func(s *op.Scope) tf.Output {
		return op.Const(s, int64(0))
	})
	if cfg.Schedule.Kind == spec.ScheduleConstant {
		b.lrVar = vars.make(optName, "learning_rate", nil, tf.Float, false, func(s *op.Scope) tf.Output {
			return op.Const(s, float32(cfg.LearningRate))
		})
	}
	if b.single, err = b.buildStep(root, s, "gradients", cfg, optName, vars.make, gatherBatch(s, b.trainSource, b.trainLabelSource, b.indices, cfg.Towers)); err != nil {
		return nil, err
	}
	if cfg.StepsPerCall > 1 {
		if b.chunk, err = b.buildChunk(root, s.SubScope("train_chunk"), cfg, optName, vars.make); err != nil {
			return nil, err
		}
	}
	b.buildEvaluation(s.SubScope("eval"), cfg)

	// Savers carry no device: SaveV2 and RestoreV2 run on the CPU, next to the file system.
	b.ckpt = buildSaver(root.SubScope("save"), b.all)
	b.weightsSaver = buildSaver(root.SubScope("save_weights"), b.weights)

	b.initAll = op.NoOp(s.SubScope("init").WithControlDependencies(vars.inits...))
	g, err := root.Finalize()
	if err != nil {
		return nil, fmt.Errorf("build graph: %w", err)
	}
	if err := rewireForFusion(g); err != nil {
		return nil, fmt.Errorf("build graph: %w", err)
	}
	b.g = g
	return b, nil
}

// varSet creates the graph's resource variables, one scope per layer named as Keras names its
// weights (dense/kernel, adam/iteration, ...).
type varSet struct {
	s *op.Scope
	b *graph
	// One scope per layer: SubScope uniquifies, so asking for "dense" twice would give "dense_1".
	scopes map[string]*op.Scope
	// Every step of a chunk asks for the optimizer's slots: the first call creates a variable, the
	// others get it.
	byName map[string]*variable
	inits  []*tf.Operation
	// shared prefixes every variable's resource name: "" in a Model, "trial_<t>/" for a fused trial's
	// (the variables of one session are one resource per name).
	shared string
}

// make returns the variable layer/name, creating it with its initial value, its assignment and its
// place in the graph's lists when it is new.
func (vs *varSet) make(layer, name string, shape []int64, dtype tf.DataType, trainable bool, initial func(*op.Scope) tf.Output) *variable {
	if v, ok := vs.byName[layer+"/"+name]; ok {
		return v
	}
	ls, ok := vs.scopes[layer]
	if !ok {
		ls = vs.s.SubScope(layer)
		vs.scopes[layer] = ls
	}
	s := ls.SubScope(name)
	v := &variable{name: layer + "/" + name, shape: shape, dtype: dtype, trainable: trainable}
	v.handle = op.VarHandleOp(s, dtype, tf.MakeShape(shape...), op.VarHandleOpSharedName(vs.shared+v.name))
	v.init = op.AssignVariableOp(s.SubScope("init"), v.handle, initial(s.SubScope("initial_value")))
	vs.inits = append(vs.inits, v.init)
	as := s.SubScope("assign")
	value := op.Placeholder(as.SubScope("value"), dtype, op.PlaceholderShape(tf.MakeShape(shape...)))
	vs.b.assign[v] = assignment{value: value, op: op.AssignVariableOp(as, v.handle, value)}
	vs.b.all = append(vs.b.all, v)
	vs.byName[v.name] = v
	if trainable {
		vs.b.trainable = append(vs.b.trainable, v)
	}
	return v
}

// buildLayers creates every layer's variables in the network's order, Keras' model.weights order.
func (b *graph) buildLayers(vars *varSet, summary spec.Summary, seed int64) {
	lb := &layerBuild{vars: vars, seed: seed}
	shapes := map[string]spec.Shape{b.net.Input.Name: b.net.Input.Shape}
	for i := range b.net.Layers {
		l := &b.net.Layers[i]
		built := lb.newLayer(l, shapes[l.Inbound[0]], summary.Layers[i].Output)
		shapes[l.Name] = summary.Layers[i].Output
		b.layers = append(b.layers, built)
		b.weights = append(b.weights, built.weights()...)
	}
	poolBeforeRelu(b.layers)
}

// evalLayerBytes bounds the largest layer output of one evaluation call of a network with
// convolutions, so that a layer's output stays in the processor's caches for the next layer to read.
const evalLayerBytes = 12 << 20

// evalChunkFor is the number of examples an evaluation call takes: spec.EvalChunk, or for a network
// with convolutions as many as keep its largest layer output within evalLayerBytes. A convnet's
// feature maps are large (Keras' MNIST convnet: 86 kB an example after its first Conv2D), and a
// call of 10,000 examples streams each through main memory (docs/benchmarks.md, "The convnet's
// step"). Dense networks keep spec.EvalChunk and so their losses' bits (the chunks' float32 sums
// add up in float64).
func evalChunkFor(net spec.Network, summary spec.Summary) int {
	if !net.Convolves() {
		return spec.EvalChunk
	}
	largest := 1
	for _, l := range summary.Layers {
		largest = max(largest, features(l.Output))
	}
	return max(1, min(spec.EvalChunk, evalLayerBytes/4/largest))
}

// features is the number of values of an example of the shape: the model's examples arrive
// flattened. Resolve bounds it.
func features(shape spec.Shape) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// buildEvaluation adds the evaluation pass in es: moving statistics, no dropout, and sums so that
// chunks combine into means over examples; and the predictions a SavedModel serves.
func (b *graph) buildEvaluation(es *op.Scope, cfg Config) {
	b.eval = b.buildForward(es, splitBatch(es, b.pixels, b.labels, cfg.Towers), false, cfg, tf.Output{})
	evalXent := b.eval.crossEntropy(es, b.numClasses)
	b.evalLossSum = op.Sum(es.SubScope("loss_sum"), evalXent, op.Const(es.SubScope("loss_axis"), []int32{0}))
	b.evalCorrect = op.Sum(es.SubScope("correct_sum"), b.eval.perExample(es, correct), op.Const(es.SubScope("correct_axis"), []int32{0}))
	if len(b.eval.penalties) > 0 {
		ps := es.SubScope("penalty")
		b.evalPenalty = op.Sum(ps, op.Pack(ps, b.eval.penalties), op.Const(ps.SubScope("axis"), []int32{0}))
	}
	b.probabilities, b.classes = predictions(es, b.eval.logits)
}

// buildInputs adds the data variables and the two passes' inputs: the training pass gathers the
// training set's rows at indices, the evaluation pass slices the validation set; both defaults give
// way to a fed tensor (PlaceholderWithDefault), so TrainStep, Evaluate and Predict take any examples.
func (b *graph) buildInputs(ds, s *op.Scope, inputs int) {
	dataVar := func(name string, dtype tf.DataType, shape ...int64) (assignment, tf.Output) {
		vs := ds.SubScope(name)
		h := op.VarHandleOp(vs, dtype, tf.MakeShape(shape...), op.VarHandleOpSharedName("data/"+name))
		value := op.Placeholder(vs.SubScope("value"), dtype, op.PlaceholderShape(tf.MakeShape(shape...)))
		a := assignment{value: value, op: op.AssignVariableOp(vs.SubScope("assign"), h, value)}
		return a, op.ReadVariableOp(vs.SubScope("read"), h, dtype)
	}
	var valX, valY tf.Output
	b.data.trainPixels, b.trainRows = dataVar("train_pixels", tf.Float, -1, int64(inputs))
	b.data.trainLabels, b.trainRowLabels = dataVar("train_labels", tf.Int32, -1)
	b.data.valPixels, valX = dataVar("validation_pixels", tf.Float, -1, int64(inputs))
	b.data.valLabels, valY = dataVar("validation_labels", tf.Int32, -1)

	b.indices = op.Placeholder(s.SubScope("indices"), tf.Int32, op.PlaceholderShape(tf.MakeShape(-1)))
	b.trainSource = op.PlaceholderWithDefault(s.SubScope("train_pixels"), b.trainRows, tf.MakeShape(-1, int64(inputs)))
	b.trainLabelSource = op.PlaceholderWithDefault(s.SubScope("train_labels"), b.trainRowLabels, tf.MakeShape(-1))

	b.evalStart = op.Placeholder(s.SubScope("eval_start"), tf.Int32, op.PlaceholderShape(tf.ScalarShape()))
	b.evalCount = op.Placeholder(s.SubScope("eval_count"), tf.Int32, op.PlaceholderShape(tf.ScalarShape()))
	vs := s.SubScope("validation_slice")
	zero, all := op.Const(vs.SubScope("zero"), int32(0)), op.Const(vs.SubScope("all"), int32(-1))
	valRows := op.Slice(vs.SubScope("pixels"), valX, op.Pack(vs.SubScope("begin"), []tf.Output{b.evalStart, zero}), op.Pack(vs.SubScope("size"), []tf.Output{b.evalCount, all}))
	valLabels := op.Slice(vs.SubScope("labels"), valY, op.Pack(vs.SubScope("label_begin"), []tf.Output{b.evalStart}), op.Pack(vs.SubScope("label_size"), []tf.Output{b.evalCount}))
	b.pixels = op.PlaceholderWithDefault(s.SubScope("pixels"), valRows, tf.MakeShape(-1, int64(inputs)))
	b.labels = op.PlaceholderWithDefault(s.SubScope("labels"), valLabels, tf.MakeShape(-1))
}

// batch is a pass' examples, cut into the towers' parts in row order (one part with one tower).
type batch struct {
	pixels, labels []tf.Output // labels nil in a pass without them (the SavedModel's)
	rows, sizes    tf.Output   // towers > 1 only: the batch's rows and each part's, as towerSizes gives them
}

// splitBatch cuts the rows of pixels and of labels (when it is an output) into the towers' parts.
func splitBatch(s *op.Scope, pixels, labels tf.Output, towers int) batch {
	if towers <= 1 {
		in := batch{pixels: []tf.Output{pixels}}
		if isOutput(labels) {
			in.labels = []tf.Output{labels}
		}
		return in
	}
	in := batch{}
	in.rows, in.sizes = towerSizes(s.SubScope("tower_sizes"), pixels, towers)
	axis := op.Const(s.SubScope("towers_axis"), int32(0))
	in.pixels = op.SplitV(s.SubScope("towers"), pixels, in.sizes, axis, int64(towers))
	if isOutput(labels) {
		in.labels = op.SplitV(s.SubScope("label_towers"), labels, in.sizes, axis, int64(towers))
	}
	return in
}

// gatherBatch gathers the rows of pixels and labels at indices. With towers each tower gathers its
// own part of the indices, so that the gathers, a tenth of a batch-1024 step, run side by side too.
func gatherBatch(s *op.Scope, pixels, labels, indices tf.Output, towers int) batch {
	gather := func(s *op.Scope, indices tf.Output) (tf.Output, tf.Output) {
		axis := op.Const(s.SubScope("gather_axis"), int32(0))
		return op.GatherV2(s.SubScope("gather_pixels"), pixels, indices, axis), op.GatherV2(s.SubScope("gather_labels"), labels, indices, axis)
	}
	if towers <= 1 {
		x, y := gather(s, indices)
		return batch{pixels: []tf.Output{x}, labels: []tf.Output{y}}
	}
	in := batch{pixels: make([]tf.Output, towers), labels: make([]tf.Output, towers)}
	in.rows, in.sizes = towerSizes(s.SubScope("tower_sizes"), indices, towers)
	parts := op.SplitV(s.SubScope("towers"), indices, in.sizes, op.Const(s.SubScope("towers_axis"), int32(0)), int64(towers))
	for t, part := range parts {
		in.pixels[t], in.labels[t] = gather(s.SubScope(fmt.Sprintf("tower_%d", t)), part)
	}
	return in
}

// buildStep adds one optimizer step on the batch in: the reads of the step counter
// and learning rate, the training pass with the loss and accuracy as batch means, the gradients
// (under root.SubScope(gradScope), a scope without a device: op.Gradients refuses one) and the
// optimizer's updates. Every op outside the gradients inherits s's control dependencies.
func (b *graph) buildStep(root, s *op.Scope, gradScope string, cfg Config, optName string, newVar newVarFunc, in batch) (*step, error) {
	st := &step{}
	us := s.SubScope(optName + "_update")
	st.iterRead = op.ReadVariableOp(us.SubScope("read_iteration"), b.iterations.handle, tf.Int64)
	if b.lrVar != nil {
		st.learningRate = op.ReadVariableOp(us.SubScope("read_learning_rate"), b.lrVar.handle, tf.Float)
	} else {
		st.learningRate = buildSchedule(us.SubScope("learning_rate"), cfg.Schedule, cfg.LearningRate, st.iterRead)
	}

	ts := s.SubScope("train")
	st.train = b.buildForward(ts, in, true, cfg, st.iterRead)
	st.loss, st.accuracy = st.train.batchMeans(ts, b.numClasses)

	// Gradients of the loss with respect to the training pass' reads.
	xs := make([]tf.Output, len(b.trainable))
	for i, v := range b.trainable {
		xs[i] = st.train.reads[v]
	}
	if err := root.Err(); err != nil {
		return nil, fmt.Errorf("build training pass: %w", err)
	}
	st.grads = op.Gradients(root.SubScope(gradScope), []tf.Output{st.loss}, xs)
	if err := root.Err(); err != nil {
		return nil, fmt.Errorf("build gradients: %w", err)
	}
	for i, grad := range st.grads {
		if !isOutput(grad) {
			return nil, fmt.Errorf("build gradients: no gradient reaches %s", b.trainable[i].name)
		}
	}
	st.increment = b.buildOptimizer(us, cfg, optName, newVar, st)
	return st, nil
}

// batchMeans are a training pass' batch-mean loss, its L2 penalties added, and accuracy, in ts.
func (f *forward) batchMeans(ts *op.Scope, classes int) (loss, accuracy tf.Output) {
	xent := f.crossEntropy(ts, classes)
	loss = op.Mean(ts.SubScope("loss"), xent, op.Const(ts.SubScope("loss_axis"), []int32{0}))
	if len(f.penalties) > 0 {
		// Keras' compute_loss: ops.sum([loss, *model.losses]), the regularisers in layer order.
		terms := append([]tf.Output{loss}, f.penalties...)
		tl := ts.SubScope("total_loss")
		loss = op.Sum(tl, op.Pack(tl, terms), op.Const(tl.SubScope("axis"), []int32{0}))
	}
	accuracy = op.Mean(ts.SubScope("accuracy"), f.perExample(ts, correct), op.Const(ts.SubScope("accuracy_axis"), []int32{0}))
	return loss, accuracy
}

// buildChunk unrolls Config.StepsPerCall steps in s, each after the previous one's increment.
func (b *graph) buildChunk(root, s *op.Scope, cfg Config, optName string, newVar newVarFunc) (*chunk, error) {
	c := &chunk{size: cfg.StepsPerCall}
	c.indices = op.Placeholder(s.SubScope("indices"), tf.Int32, op.PlaceholderShape(tf.MakeShape(int64(c.size), -1)))
	losses := make([]tf.Output, c.size)
	accuracies := make([]tf.Output, c.size)
	for k := range c.size {
		ks := s.SubScope(fmt.Sprintf("step_%d", k))
		if c.last != nil {
			ks = ks.WithControlDependencies(c.last)
		}
		row := op.GatherV2(ks.SubScope("indices"), c.indices, op.Const(ks.SubScope("k"), int32(k)), op.Const(ks.SubScope("axis"), int32(0)))
		st, err := b.buildStep(root, ks, "train_chunk_gradients", cfg, optName, newVar, gatherBatch(ks, b.trainRows, b.trainRowLabels, row, cfg.Towers))
		if err != nil {
			return nil, fmt.Errorf("step %d of %d: %w", k+1, c.size, err)
		}
		losses[k], accuracies[k], c.last = st.loss, st.accuracy, st.increment
	}
	c.losses = op.Pack(s.SubScope("losses"), losses)
	c.accuracies = op.Pack(s.SubScope("accuracies"), accuracies)
	return c, nil
}

// buildForward adds one pass of the network over the batch in: every layer in the network's order,
// the last one's pre-softmax output the logits (the softmax is folded into the loss, as Keras does
// for a softmax output), and the kernels' L2 penalties. With Config.Towers T > 1 the rows are split
// into T parts computed side by side through one read of each variable; batch norm in the training
// pass normalises the parts put back together, and dropout draws one mask over the whole batch, so
// that each row meets the same numbers as in one tower.
func (b *graph) buildForward(s *op.Scope, in batch, training bool, cfg Config, iterations tf.Output) forward {
	f := forward{s: s, scopes: []*op.Scope{s}, training: training, seed: cfg.Seed, iterations: iterations,
		reads: make(map[*variable]tf.Output), outputs: make(map[string][]tf.Output), withPenalties: !b.serving,
		towers: len(in.pixels), rows: in.rows, sizes: in.sizes, labels: in.labels}
	if f.towers > 1 {
		f.scopes = make([]*op.Scope, f.towers)
		for t := range f.scopes {
			f.scopes[t] = s.SubScope(fmt.Sprintf("tower_%d", t))
		}
	}
	xs := in.pixels
	if len(b.net.Input.Shape) > 1 && xs[0].Shape().NumDimensions() == 2 { // the examples arrive flattened
		dims := []int32{-1}
		for _, d := range b.net.Input.Shape {
			dims = append(dims, int32(d))
		}
		xs = f.each("input_shape", xs, func(s *op.Scope, x tf.Output) tf.Output {
			return op.Reshape(s, x, op.Const(s.SubScope("shape"), dims))
		})
	}
	f.outputs[b.net.Input.Name] = xs
	for _, l := range b.layers {
		var ins [][]tf.Output
		for _, name := range l.spec().Inbound {
			ins = append(ins, f.outputs[name])
		}
		xs = l.apply(&f, ins)
		f.outputs[l.spec().Name] = xs
	}
	f.towerLogits = xs
	f.logits = f.joined(s.SubScope("logits"), f.towerLogits)
	return f
}

// read is the pass' one read of v, made in s the first time.
func (f *forward) read(s *op.Scope, v *variable) tf.Output {
	if out, ok := f.reads[v]; ok {
		return out
	}
	out := op.ReadVariableOp(s.SubScope(baseName(v.name)+"_read"), v.handle, v.dtype)
	f.reads[v] = out
	return out
}

// each applies fn to every tower's x, in the tower's scope under name.
func (f *forward) each(name string, xs []tf.Output, fn func(s *op.Scope, x tf.Output) tf.Output) []tf.Output {
	out := make([]tf.Output, len(xs))
	for t, x := range xs {
		out[t] = fn(f.scopes[t].SubScope(name), x)
	}
	return out
}

// nonEmpty applies fn to every tower's x (of static shape in, batch dimension aside) in the tower's
// scope under name, with one row of zeros appended that the result drops again. With towers a part
// can be empty (a batch of fewer rows than towers), and oneDNN's Conv2D and pooling kernels give an
// empty input's shape to their empty output, which the towers' joins then refuse; the extra row
// keeps every input non-empty and leaves the other rows' results as they are.
func (f *forward) nonEmpty(name string, xs []tf.Output, in spec.Shape, fn func(s *op.Scope, x tf.Output) tf.Output) []tf.Output {
	if len(xs) == 1 {
		return f.each(name, xs, fn)
	}
	row := append([]int64{1}, make([]int64, len(in))...)
	for i, d := range in {
		row[i+1] = int64(d)
	}
	all := make([]int32, len(in))
	for i := range all {
		all[i] = -1
	}
	return f.each(name, xs, func(s *op.Scope, x tf.Output) tf.Output {
		ps := s.SubScope("non_empty")
		padded := op.ConcatV2(ps.SubScope("padded"), []tf.Output{x, fill(row, 0)(ps.SubScope("zero_row"))}, op.Const(ps.SubScope("axis"), int32(0)))
		y := fn(s, padded)
		rows := op.Slice(ps.SubScope("rows"), op.Shape(ps.SubScope("shape"), x), op.Const(ps.SubScope("first"), []int32{0}), op.Const(ps.SubScope("one"), []int32{1}))
		size := op.ConcatV2(ps.SubScope("size"), []tf.Output{rows, op.Const(ps.SubScope("all"), all)}, op.Const(ps.SubScope("size_axis"), int32(0)))
		return op.Slice(ps.SubScope("unpadded"), y, op.Const(ps.SubScope("begin"), make([]int32, len(in)+1)), size)
	})
}

// eachMerge applies fn to every tower's inputs of a layer that merges several.
func (f *forward) eachMerge(name string, ins [][]tf.Output, fn func(s *op.Scope, xs []tf.Output) tf.Output) []tf.Output {
	out := make([]tf.Output, len(ins[0]))
	for t := range out {
		xs := make([]tf.Output, len(ins))
		for i := range ins {
			xs[i] = ins[i][t]
		}
		out[t] = fn(f.scopes[t].SubScope(name), xs)
	}
	return out
}

// penalize adds Keras' L2 regulariser of a kernel, ops.cast(l2) * ops.sum(ops.square(kernel)).
func (f *forward) penalize(layer string, l2 float64, kernel tf.Output) {
	if !f.withPenalties {
		return
	}
	ps := f.s.SubScope(layer + "_l2")
	axes := make([]int32, kernel.Shape().NumDimensions())
	for i := range axes {
		axes[i] = int32(i)
	}
	f.penalties = append(f.penalties, op.Mul(ps, op.Const(ps.SubScope("l2"), float32(l2)),
		op.Sum(ps, op.Square(ps, kernel), op.Const(ps.SubScope("axes"), axes))))
}

// towerSizes are the rows of x and those of each of the towers' parts: ⌊N/towers⌋ each, the last
// taking the rest (-1 to SplitV).
func towerSizes(s *op.Scope, x tf.Output, towers int) (rows, sizes tf.Output) {
	rows = op.StridedSlice(s.SubScope("rows"), op.Shape(s.SubScope("shape"), x),
		op.Const(s.SubScope("begin"), []int32{0}), op.Const(s.SubScope("end"), []int32{1}), op.Const(s.SubScope("strides"), []int32{1}),
		op.StridedSliceShrinkAxisMask(1))
	part := op.FloorDiv(s.SubScope("part"), rows, op.Const(s.SubScope("towers"), int32(towers)))
	parts := make([]tf.Output, towers)
	for t := range towers - 1 {
		parts[t] = part
	}
	parts[towers-1] = op.Const(s.SubScope("rest"), int32(-1))
	return rows, op.Pack(s, parts)
}

// joined is the towers' parts put back together in row order; the one part itself with one tower.
func (f *forward) joined(s *op.Scope, parts []tf.Output) tf.Output {
	if len(parts) == 1 {
		return parts[0]
	}
	return op.ConcatV2(s, parts, op.Const(s.SubScope("axis"), int32(0)))
}

// split cuts x into the towers' parts, as the pass' input was cut.
func (f *forward) split(s *op.Scope, x tf.Output) []tf.Output {
	return op.SplitV(s, x, f.sizes, op.Const(s.SubScope("axis"), int32(0)), int64(f.towers))
}

// perExample applies fn to each tower's logits and its part of the labels and joins the per-example
// results in row order: the whole batch's vector, whatever the towers.
func (f *forward) perExample(s *op.Scope, fn func(s *op.Scope, logits, labels tf.Output) tf.Output) tf.Output {
	if len(f.towerLogits) == 1 {
		return fn(s, f.towerLogits[0], f.labels[0])
	}
	out := make([]tf.Output, len(f.towerLogits))
	for t := range out {
		out[t] = fn(s.SubScope(fmt.Sprintf("tower_%d", t)), f.towerLogits[t], f.labels[t])
	}
	return f.joined(s.SubScope("joined"), out)
}

// activate applies a hidden-layer activation (canonical name) as Keras 3's TensorFlow backend
// computes it; every op here has a C++ gradient.
func activate(s *op.Scope, name string, x tf.Output) tf.Output {
	switch name {
	case "relu":
		return op.Relu(s, x)
	case "sigmoid":
		return op.Sigmoid(s, x)
	case "elu": // alpha 1: tf.nn.elu alone
		return op.Elu(s, x)
	case "selu":
		return op.Selu(s, x)
	case "gelu": // tf.nn.gelu(approximate=False): 0.5 * x * (1 + erf(x / sqrt(2)))
		half := op.Mul(s.SubScope("half_x"), op.Const(s.SubScope("half"), float32(0.5)), x)
		erf := op.Erf(s, op.RealDiv(s.SubScope("scaled"), x, op.Const(s.SubScope("sqrt2"), float32(1.4142135623730951))))
		return op.Mul(s, half, op.AddV2(s.SubScope("one_plus_erf"), op.Const(s.SubScope("one"), float32(1)), erf))
	case "silu": // tf.nn.silu: x * sigmoid(beta * x) with beta 1, which is x itself
		return op.Mul(s, x, op.Sigmoid(s, x))
	case "softplus":
		// graft has no Softplus wrapper; the op and its C++ gradient are TensorFlow's.
		return s.AddOperation(tf.OpSpec{Type: "Softplus", Input: []tf.Input{x}}).Output(0)
	case "leaky_relu":
		return op.LeakyRelu(s, x, op.LeakyReluAlpha(leakyReluSlope))
	}
	return op.Tanh(s, x)
}

// dropout is Keras 3's Dropout: x * (1/(1-rate)) where the mask (dropoutKeep) keeps an element,
// else 0. The mask is drawn over the whole batch's shape with seed [seed, 2³²·(layer+1) + iterations]:
// a function of the seed, the layer and the step only, cut into the towers' parts like x.
func (f *forward) dropout(s *op.Scope, xs []tf.Output, rate float64, seed int64, layer int, iterations tf.Output) []tf.Output {
	key := op.Pack(s.SubScope("seed"), []tf.Output{
		op.Const(s.SubScope("run_seed"), seed),
		op.AddV2(s.SubScope("step_key"), iterations, op.Const(s.SubScope("layer_key"), int64(layer+1)<<32)),
	})
	shape := op.Shape(s, xs[0])
	if len(xs) > 1 {
		ws := s.SubScope("whole_shape")
		rest := op.Slice(ws.SubScope("rest"), shape, op.Const(ws.SubScope("begin"), []int32{1}), op.Const(ws.SubScope("size"), []int32{-1}))
		rows := op.Reshape(ws.SubScope("rows"), f.rows, op.Const(ws.SubScope("rows_shape"), []int32{1}))
		shape = op.ConcatV2(ws, []tf.Output{rows, rest}, op.Const(ws.SubScope("axis"), int32(0)))
	}
	// One factor per element, 1/(1-rate) or 0, so that the pass and its gradient multiply once each:
	// x times it is x*(1/(1-rate))*1 or x*0, to the bit. graft has no SelectV2 wrapper (the scalars
	// broadcast); the op is TensorFlow's.
	ks := s.SubScope("keep")
	factor := ks.AddOperation(tf.OpSpec{Type: "SelectV2", Input: []tf.Input{dropoutKeep(s, shape, key, rate),
		op.Const(ks.SubScope("scale"), float32(1/(1-rate))), op.Const(ks.SubScope("zero"), float32(0))}}).Output(0)
	factors := []tf.Output{factor}
	if len(xs) > 1 {
		factors = f.split(s.SubScope("keep_towers"), factor)
	}
	out := make([]tf.Output, len(xs))
	for t, x := range xs {
		ts := s
		if len(xs) > 1 {
			ts = s.SubScope(fmt.Sprintf("tower_%d", t))
		}
		out[t] = op.Mul(ts.SubScope("output"), x, factors[t])
	}
	return out
}

// dropoutKeep is a boolean mask of the shape that is true with probability 1 - rate. When
// rate·2^b is a whole number t for b = 8 or 16 bits (rates such as 0.5, 0.25 or 0.1875), each element
// takes b bits of StatelessRandomUniformFullInt's uint32 words (little-endian, by Bitcast) and is kept
// when they are ≥ t: exactly 1 - rate, from 32/b elements per word where a float uniform takes a
// word per element (Philox's draw was the mask's cost). Other rates compare StatelessRandomUniform's
// floats with the rate, as tf.nn.experimental.stateless_dropout does.
func dropoutKeep(s *op.Scope, shape, key tf.Output, rate float64) tf.Output {
	bits := maskBits(rate)
	if bits == 0 {
		uniform := op.StatelessRandomUniform(s, shape, key)
		return op.GreaterEqual(s, uniform, op.Const(s.SubScope("rate"), float32(rate)))
	}
	perWord, dtype := int32(32/bits), tf.Uint8
	threshold := op.Const(s.SubScope("threshold"), uint8(rate*256))
	if bits == 16 {
		dtype, threshold = tf.Uint16, op.Const(s.SubScope("threshold"), uint16(rate*65536))
	}
	ms := s.SubScope("mask")
	n := op.Prod(ms.SubScope("size"), shape, op.Const(ms.SubScope("axis"), int32(0)))
	words := op.FloorDiv(ms.SubScope("words"), op.AddV2(ms.SubScope("round_up"), n, op.Const(ms.SubScope("per_word_less_one"), perWord-1)),
		op.Const(ms.SubScope("per_word"), perWord))
	draw := op.StatelessRandomUniformFullInt(ms, op.Reshape(ms.SubScope("words_shape"), words, op.Const(ms.SubScope("vector"), []int32{1})),
		key, op.StatelessRandomUniformFullIntDtype(tf.Uint32))
	parts := op.Reshape(ms.SubScope("parts"), op.Bitcast(ms, draw, dtype), op.Const(ms.SubScope("flat"), []int32{-1}))
	used := op.Slice(ms.SubScope("used"), parts, op.Const(ms.SubScope("begin"), []int32{0}),
		op.Reshape(ms.SubScope("count"), n, op.Const(ms.SubScope("count_shape"), []int32{1})))
	return op.GreaterEqual(s, op.Reshape(ms.SubScope("shaped"), used, shape), threshold)
}

// maskBits is the number of random bits per element dropoutKeep draws for the rate: 8 or 16 when
// rate·2^bits is a whole number, else 0.
func maskBits(rate float64) int {
	for _, bits := range []int{8, 16} {
		if t := rate * float64(int(1)<<bits); t == math.Trunc(t) {
			return bits
		}
	}
	return 0
}

// batchNorm is Keras 3's BatchNormalization over the layer's feature axis. While training it is
// TensorFlow's FusedBatchNormV3 with the input seen as NHWC [M, 1, 1, C] (the feature axis moved
// last first, M every other element), whose C++ gradient is FusedBatchNormGradV3: one kernel each
// way instead of the dozens of small ops of tf.nn.moments and tf.nn.batch_normalization, with the
// same normalisation by the biased batch variance (the Keras replays and
// TestBatchNormMatchesHandComputation hold it to Keras within their bounds). The moving statistics
// take the batch mean and the biased variance, as Keras' moments give them: the fused op's
// batch_variance is Bessel-corrected, so it is scaled back by (M-1)/M. Otherwise it is
// tf.nn.batch_normalization over the moving statistics, x*inv + (beta - mean*inv) with
// inv = rsqrt(var+ε)*gamma.
func (f *forward) batchNorm(s *op.Scope, bn *batchNormLayer, x tf.Output) tf.Output {
	args := bn.l.BatchNorm
	gamma, beta := f.readOr(s, bn.gamma, bn.width(), 1), f.readOr(s, bn.beta, bn.width(), 0)
	rank := x.Shape().NumDimensions()
	var inverse tf.Output
	if args.Axis != rank-1 { // Keras broadcasts over the other axes; moving the axis last is the same arithmetic
		order := make([]int32, 0, rank)
		for d := range rank {
			if d != args.Axis {
				order = append(order, int32(d))
			}
		}
		order = append(order, int32(args.Axis))
		back := make([]int32, rank)
		for i, d := range order {
			back[d] = int32(i)
		}
		inverse = op.Const(s.SubScope("inverse_perm"), back)
		x = op.Transpose(s.SubScope("feature_last"), x, op.Const(s.SubScope("perm"), order))
	}
	var y tf.Output
	if f.training {
		y = f.fusedBatchNorm(s.SubScope("fused"), bn, x, gamma, beta)
	} else {
		mean, variance := f.read(s, bn.movingMean), f.read(s, bn.movingVariance)
		inv := op.Mul(s.SubScope("inv"),
			op.Rsqrt(s, op.AddV2(s.SubScope("variance_epsilon"), variance, op.Const(s.SubScope("epsilon"), float32(args.Epsilon)))),
			gamma)
		shift := op.Sub(s.SubScope("shift"), beta, op.Mul(s.SubScope("mean_inv"), mean, inv))
		y = op.AddV2(s.SubScope("output"), op.Mul(s.SubScope("scaled"), x, inv), shift)
	}
	if inverse.Op != nil {
		y = op.Transpose(s.SubScope("feature_back"), y, inverse)
	}
	return y
}

// readOr is the pass' read of v, or a constant vector of n values where the layer has no such
// variable (batch norm without center or scale).
func (f *forward) readOr(s *op.Scope, v *variable, n int64, value float32) tf.Output {
	if v != nil {
		return f.read(s, v)
	}
	return fill([]int64{n}, value)(s.SubScope(fmt.Sprintf("constant_%g", value)))
}

// fusedBatchNorm is the training pass' normalisation of x (features last) by its batch statistics
// and the moving statistics' updates.
func (f *forward) fusedBatchNorm(fs *op.Scope, bn *batchNormLayer, x, gamma, beta tf.Output) tf.Output {
	args := bn.l.BatchNorm
	nhwc := op.Reshape(fs.SubScope("to_nhwc"), x, op.Const(fs.SubScope("nhwc_shape"), []int32{-1, 1, 1, int32(bn.width())}))
	empty := op.Const(fs.SubScope("empty"), []float32{})
	y, batchMean, unbiased, _, _, _ := op.FusedBatchNormV3(fs, nhwc, gamma, beta, empty, empty,
		op.FusedBatchNormV3Epsilon(float32(args.Epsilon)), op.FusedBatchNormV3IsTraining(true), op.FusedBatchNormV3DataFormat("NHWC"))
	rows := op.Cast(fs.SubScope("rows"), op.Squeeze(fs.SubScope("batch_size"),
		op.Slice(fs.SubScope("first_dim"), op.Shape(fs.SubScope("shape"), nhwc), op.Const(fs.SubScope("begin"), []int32{0}), op.Const(fs.SubScope("size"), []int32{1}))), tf.Float)
	biased := op.Mul(fs.SubScope("biased_variance"), unbiased,
		op.RealDiv(fs.SubScope("bessel"), op.Sub(fs.SubScope("rows_minus_one"), rows, op.Const(fs.SubScope("one"), float32(1))), rows))
	// moving = moving*momentum + batch*(1-momentum), from reads of their own: these assignments
	// are off the gradient path.
	ema := func(name string, v *variable, batch tf.Output) *tf.Operation {
		es := fs.SubScope("update_" + name)
		old := op.ReadVariableOp(es.SubScope("read"), v.handle, tf.Float)
		updated := op.AddV2(es,
			op.Mul(es.SubScope("decay"), old, op.Const(es.SubScope("momentum"), float32(args.Momentum))),
			op.Mul(es.SubScope("batch"), batch, op.Const(es.SubScope("one_minus_momentum"), float32(1-args.Momentum))))
		return op.AssignVariableOp(es, v.handle, updated)
	}
	f.bnUpdate = append(f.bnUpdate, ema("moving_mean", bn.movingMean, batchMean), ema("moving_variance", bn.movingVariance, biased))
	return op.Reshape(fs.SubScope("to_input_shape"), y, op.Shape(fs.SubScope("input_shape"), x))
}

// crossEntropy is the pass' per-example sparse categorical cross-entropy of softmax(logits), each
// tower's from its own logits.
func (f *forward) crossEntropy(s *op.Scope, classes int) tf.Output {
	return f.perExample(s, func(s *op.Scope, logits, labels tf.Output) tf.Output {
		return crossEntropy(s, logits, labels, classes)
	})
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

// predictions are the softmax of the logits, the network's output layer, and the arg-max class as
// int64.
func predictions(s *op.Scope, logits tf.Output) (probabilities, classes tf.Output) {
	ps := s.SubScope("predictions")
	probabilities = op.Softmax(ps.SubScope("probabilities"), logits)
	classes = op.ArgMax(ps.SubScope("classes"), logits, op.Const(ps.SubScope("axis"), int32(1)), op.ArgMaxOutputType(tf.Int64))
	return probabilities, classes
}

// correct is 1 where the arg-max class equals the label, else 0, per example.
func correct(s *op.Scope, logits, labels tf.Output) tf.Output {
	cs := s.SubScope("correct")
	predicted := op.ArgMax(cs, logits, op.Const(cs.SubScope("axis"), int32(1)), op.ArgMaxOutputType(tf.Int32))
	return op.Cast(cs, op.Equal(cs, predicted, labels), tf.Float)
}

// buildInit adds the initialiser's draw for a kernel of the given shape: [fan_in, fan_out] for
// Dense, [height, width, in, out] for Conv2D.
func buildInit(init spec.Initialiser, s *op.Scope, shape []int64, seed [2]int64) tf.Output {
	dims := make([]int32, len(shape))
	for i, d := range shape {
		dims[i] = int32(d)
	}
	shapeOut := op.Const(s.SubScope("shape"), dims)
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

// initVariance is VarianceScaling's scale/n for a kernel, its fans as Keras' compute_fans gives them:
// the last two dimensions times the receptive field, the product of the others.
func initVariance(init spec.Initialiser, shape []int64) float64 {
	field := 1.0
	for _, d := range shape[:len(shape)-2] {
		field *= float64(d)
	}
	fanIn, fanOut := float64(shape[len(shape)-2])*field, float64(shape[len(shape)-1])*field
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
