package model

import (
	"fmt"
	"slices"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"

	"github.com/tfsweep/tfsweep/spec"
)

// fusedBuilder holds what buildFused needs while it builds; the graph keeps only fusedGraph.
type fusedBuilder struct {
	root, s     *op.Scope
	trials      []Config
	mlps        []fusedMLP // each trial's network
	fg          *fusedGraph
	inits       []*tf.Operation
	trialScopes map[string]*op.Scope // trial_<t> and trial_<t>/<layer> → its scope (SubScope would uniquify a second ask)
	trainable   [][]*fusedVar        // per trial, Keras' trainable_weights order
	iterations  tf.Output            // handle of the [T] int64 step counts
	// Reads of the bound data: training pixels and labels, validation pixels and labels.
	trainRows, trainLabels, valRows, valLabels tf.Output
	lr                                         tf.Output                  // handle of the [T] float32 learning rates
	slots                                      map[*fusedVar][2]*fusedVar // Adam's momentum and velocity
}

// buildFused builds the fused trials' variables, training step and evaluation pass.
func buildFused(trials []Config, mlps []fusedMLP) (*fusedGraph, error) {
	b := newFusedBuilder(trials, mlps)
	b.buildInputs(int64(mlps[0].inputs))
	if err := b.buildLayers(); err != nil {
		return nil, err
	}
	b.buildTrialState()
	if err := b.buildStep(); err != nil {
		return nil, err
	}
	if err := b.buildSharedStep(); err != nil {
		return nil, err
	}
	b.buildEval()
	return b.finish()
}

// newFusedBuilder starts the graph of the trials.
func newFusedBuilder(trials []Config, mlps []fusedMLP) *fusedBuilder {
	root := op.NewScope()
	b := &fusedBuilder{
		root: root, s: root.WithDevice(deviceString(trials[0].Device)), trials: trials, mlps: mlps,
		fg: &fusedGraph{weights: make([][]*fusedVar, len(trials)), trialVars: make([]map[string]*fusedVar, len(trials))}, trialScopes: make(map[string]*op.Scope),
		trainable: make([][]*fusedVar, len(trials)), slots: make(map[*fusedVar][2]*fusedVar),
	}
	for t := range trials {
		b.fg.trialVars[t] = make(map[string]*fusedVar)
	}
	return b
}

// buildTrialState adds the [T] learning rates and step counts.
func (b *fusedBuilder) buildTrialState() {
	lrs, steps := make([]float32, len(b.trials)), make([]int64, len(b.trials))
	for t, c := range b.trials {
		lrs[t] = float32(c.LearningRate)
	}
	b.fg.rates = b.stackedVar("learning_rates", tf.Float, op.Const(b.s.SubScope("learning_rates_initial"), lrs))
	b.fg.steps = b.stackedVar("iterations", tf.Int64, op.Const(b.s.SubScope("iterations_initial"), steps))
	b.lr, b.iterations = b.fg.rates.handle, b.fg.steps.handle
}

// finish adds the initialiser of every variable and finalises the graph.
func (b *fusedBuilder) finish() (*fusedGraph, error) {
	b.fg.initAll = op.NoOp(b.s.SubScope("init").WithControlDependencies(b.inits...))
	g, err := b.root.Finalize()
	if err != nil {
		return nil, fmt.Errorf("fused: build graph: %w", err)
	}
	if err := rewireForFusion(g); err != nil {
		return nil, fmt.Errorf("fused: build graph: %w", err)
	}
	b.fg.g = g
	return b.fg, nil
}

// buildInputs adds the bound data's variables, of inputs values per example, and the validation
// slice's bounds.
func (b *fusedBuilder) buildInputs(inputs int64) {
	ds := b.s.SubScope("data")
	dataVar := func(name string, dtype tf.DataType, shape ...int64) (assignment, tf.Output) {
		vs := ds.SubScope(name)
		h := op.VarHandleOp(vs, dtype, tf.MakeShape(shape...), op.VarHandleOpSharedName("data/"+name))
		value := op.Placeholder(vs.SubScope("value"), dtype, op.PlaceholderShape(tf.MakeShape(shape...)))
		return assignment{value: value, op: op.AssignVariableOp(vs.SubScope("assign"), h, value)}, op.ReadVariableOp(vs.SubScope("read"), h, dtype)
	}
	d := &b.fg.data
	d.trainPixels, b.trainRows = dataVar("train_pixels", tf.Float, -1, inputs)
	d.trainLabels, b.trainLabels = dataVar("train_labels", tf.Int32, -1)
	d.valPixels, b.valRows = dataVar("validation_pixels", tf.Float, -1, inputs)
	d.valLabels, b.valLabels = dataVar("validation_labels", tf.Int32, -1)
	b.fg.evalStart = op.Placeholder(b.s.SubScope("eval_start"), tf.Int32, op.PlaceholderShape(tf.ScalarShape()))
	b.fg.evalCount = op.Placeholder(b.s.SubScope("eval_count"), tf.Int32, op.PlaceholderShape(tf.ScalarShape()))
}

// newVar adds trial t's variable layer/name, initialised by initial.
func (b *fusedBuilder) newVar(t int, layer, name string, shape []int64, initial func(*op.Scope) tf.Output) *fusedVar {
	key := fmt.Sprintf("trial_%d/%s", t, layer)
	ls, ok := b.trialScopes[key]
	if !ok {
		ls = b.trialScope(t).SubScope(layer)
		b.trialScopes[key] = ls
	}
	vs := ls.SubScope(name)
	v := &fusedVar{name: layer + "/" + name, shape: shape}
	v.handle = op.VarHandleOp(vs, tf.Float, tf.MakeShape(shape...), op.VarHandleOpSharedName(key+"/"+name))
	b.inits = append(b.inits, op.AssignVariableOp(vs.SubScope("init"), v.handle, initial(vs.SubScope("initial_value"))))
	v.read = op.ReadVariableOp(vs.SubScope("read"), v.handle, tf.Float)
	value := op.Placeholder(vs.SubScope("assign_value"), tf.Float, op.PlaceholderShape(tf.MakeShape(shape...)))
	v.assign = assignment{value: value, op: op.AssignVariableOp(vs.SubScope("assign"), v.handle, value)}
	b.fg.trialVars[t][v.name] = v
	return v
}

// trialScope is trial_<t>, the scope of trial t's variables.
func (b *fusedBuilder) trialScope(t int) *op.Scope {
	name := fmt.Sprintf("trial_%d", t)
	ts, ok := b.trialScopes[name]
	if !ok {
		ts = b.s.SubScope(name)
		b.trialScopes[name] = ts
	}
	return ts
}

// stackedVar adds a [T] variable of every trial's value, initialised by initial, with a read and an
// assignment of the whole vector.
func (b *fusedBuilder) stackedVar(name string, dtype tf.DataType, initial tf.Output) stackedVar {
	vs := b.s.SubScope(name)
	shape := tf.MakeShape(int64(len(b.trials)))
	h := op.VarHandleOp(vs, dtype, shape, op.VarHandleOpSharedName("trials/"+name))
	b.inits = append(b.inits, op.AssignVariableOp(vs.SubScope("init"), h, initial))
	value := op.Placeholder(vs.SubScope("assign_value"), dtype, op.PlaceholderShape(shape))
	return stackedVar{handle: h, read: op.ReadVariableOp(vs.SubScope("read"), h, dtype),
		assign: assignment{value: value, op: op.AssignVariableOp(vs.SubScope("assign"), h, value)}}
}

// buildLayers adds every trial's layer variables, named and initialised as a Model names and
// initialises them (model/layers.go), so that trial t starts from the weights of a Model of its
// Config: the kernel of the l-th Dense layer draws with seed [Seed, l].
func (b *fusedBuilder) buildLayers() error {
	width := int64(b.mlps[0].inputs)
	for l, shape := range b.mlps[0].layers {
		kshape, bshape := []int64{width, int64(shape.units)}, []int64{int64(shape.units)}
		width = int64(shape.units)
		d := fusedDense{mlpLayer: shape}
		if shape.batchNorm != "" {
			d.bn = &fusedBatchNorm{name: shape.batchNorm}
		}
		for t, c := range b.trials {
			layer := b.mlps[t].layers[l]
			init, err := spec.LookupInit(string(layer.init))
			if err != nil {
				return fmt.Errorf("fused: trial %d: Dense `%s`: %w", t, layer.dense, err)
			}
			seed := [2]int64{c.Seed, int64(l)}
			d.kernel = append(d.kernel, b.newVar(t, d.dense, "kernel", kshape, func(s *op.Scope) tf.Output {
				return buildInit(init, s, kshape, seed)
			}))
			d.bias = append(d.bias, b.newVar(t, d.dense, "bias", bshape, fill(bshape, 0)))
			b.trainable[t] = append(b.trainable[t], d.kernel[t], d.bias[t])
			b.fg.weights[t] = append(b.fg.weights[t], d.kernel[t], d.bias[t])
			if bn := d.bn; bn != nil {
				bn.gamma = append(bn.gamma, b.newVar(t, bn.name, "gamma", bshape, fill(bshape, 1)))
				bn.beta = append(bn.beta, b.newVar(t, bn.name, "beta", bshape, fill(bshape, 0)))
				bn.movingMean = append(bn.movingMean, b.newVar(t, bn.name, "moving_mean", bshape, fill(bshape, 0)))
				bn.movingVariance = append(bn.movingVariance, b.newVar(t, bn.name, "moving_variance", bshape, fill(bshape, 1)))
				b.trainable[t] = append(b.trainable[t], bn.gamma[t], bn.beta[t])
				b.fg.weights[t] = append(b.fg.weights[t], bn.gamma[t], bn.beta[t], bn.movingMean[t], bn.movingVariance[t])
			}
		}
		b.fg.layers = append(b.fg.layers, d)
	}
	return nil
}

// fusedPass is one pass over the stacked trials: the reads it made of each variable.
type fusedPass struct {
	reads     map[*fusedVar]tf.Output
	bnUpdates []*tf.Operation // the moving statistics' assignments (training pass only)
}

func newFusedPass() *fusedPass { return &fusedPass{reads: make(map[*fusedVar]tf.Output)} }

// read is this pass's one read of v.
func (p *fusedPass) read(s *op.Scope, v *fusedVar) tf.Output {
	if _, ok := p.reads[v]; !ok {
		p.reads[v] = op.ReadVariableOp(s, v.handle, tf.Float)
	}
	return p.reads[v]
}

// stack reads each trial's variable once in this pass and stacks the reads along a new leading axis,
// reshaped to shape.
func (p *fusedPass) stack(s *op.Scope, vars []*fusedVar, shape ...int32) tf.Output {
	reads := make([]tf.Output, len(vars))
	for t, v := range vars {
		reads[t] = p.read(s.SubScope(fmt.Sprintf("read_%d", t)), v)
	}
	stacked := op.Pack(s, reads)
	if len(shape) == 0 {
		return stacked
	}
	return op.Reshape(s.SubScope("reshape"), stacked, op.Const(s.SubScope("shape"), shape))
}

// forward adds the network over x, [T, N, Inputs] or [N, Inputs] shared by every trial, giving the
// logits [T, N, Classes]. Batch norm normalises by the batch's statistics in training, else by the
// moving ones.
func (b *fusedBuilder) forward(s *op.Scope, p *fusedPass, x tf.Output, training bool) tf.Output {
	return b.layersFrom(s, p, 0, x, training)
}

// layersFrom adds the layers from the first-th on over h, [T, N, in] or [N, in].
func (b *fusedBuilder) layersFrom(s *op.Scope, p *fusedPass, first int, h tf.Output, training bool) tf.Output {
	trials := int32(len(b.trials))
	for l := first; l < len(b.fg.layers); l++ {
		d := b.fg.layers[l]
		ls := s.SubScope(d.dense)
		units := int32(d.units)
		kernel := p.stack(ls.SubScope("kernels"), d.kernel)
		bias := p.stack(ls.SubScope("biases"), d.bias, trials, 1, units)
		z := op.AddV2(ls.SubScope("bias_add"), op.BatchMatMulV2(ls, h, kernel), bias)
		if l == len(b.fg.layers)-1 {
			return z // the softmax, its only activation (mlpOf), is folded into the loss
		}
		z = applyActivation(ls, d.denseActivation, z)
		if d.bn != nil {
			z = b.batchNorm(s.SubScope(d.bn.name), p, d, z, training)
		}
		if d.activation != "" {
			z = applyActivation(s.SubScope(d.dense+"_activation"), d.activation, z)
		}
		h = z
	}
	return h
}

// batchNorm normalises z [T, N, C] per trial and channel. In training it is FusedBatchNormV3, the
// kernel a Model's batch norm runs, over the T·C channels of z seen as [N, 1, 1, T·C]; the moving
// statistics are updated as buildGraph's batchNorm updates them. Otherwise it is the moving
// statistics' x*inv + (beta - mean*inv) as there.
func (b *fusedBuilder) batchNorm(s *op.Scope, p *fusedPass, d fusedDense, z tf.Output, training bool) tf.Output {
	trials, width := int32(len(b.trials)), int32(d.units)
	if !training {
		return b.movingNorm(s, p, d, z, trials, 1, width)
	}
	fs := s.SubScope("fused")
	perm := op.Const(fs.SubScope("swap_trials_rows"), []int32{1, 0, 2})
	y := b.batchNormChannels(s, p, d, op.Transpose(fs.SubScope("rows_first"), z, perm))
	back := op.Reshape(fs.SubScope("to_trials"), y, op.Const(fs.SubScope("rows_trials_shape"), []int32{-1, trials, width}))
	return op.Transpose(fs.SubScope("trials_first"), back, perm)
}

// movingNorm normalises z by every trial's moving statistics, x*inv + (beta - mean*inv) as
// buildGraph's batchNorm computes it outside training, the trials' variables stacked to shape, which
// broadcasts against z.
func (b *fusedBuilder) movingNorm(s *op.Scope, p *fusedPass, d fusedDense, z tf.Output, shape ...int32) tf.Output {
	bn := d.bn
	gamma := p.stack(s.SubScope("gammas"), bn.gamma, shape...)
	beta := p.stack(s.SubScope("betas"), bn.beta, shape...)
	mean := p.stack(s.SubScope("moving_means"), bn.movingMean, shape...)
	variance := p.stack(s.SubScope("moving_variances"), bn.movingVariance, shape...)
	inv := op.Mul(s.SubScope("inv"),
		op.Rsqrt(s, op.AddV2(s.SubScope("variance_epsilon"), variance, op.Const(s.SubScope("epsilon"), float32(d.epsilon)))), gamma)
	shift := op.Sub(s.SubScope("shift"), beta, op.Mul(s.SubScope("mean_inv"), mean, inv))
	return op.AddV2(s.SubScope("output"), op.Mul(s.SubScope("scaled"), z, inv), shift)
}

// batchNormChannels normalises z, [N, …] of T·C channels in trial-major order, in training: one
// FusedBatchNormV3 over z seen as [N, 1, 1, T·C], each channel by its batch statistics, and every
// trial's moving statistics updated. It returns the normalised [N, 1, 1, T·C].
func (b *fusedBuilder) batchNormChannels(s *op.Scope, p *fusedPass, d fusedDense, z tf.Output) tf.Output {
	bn := d.bn
	channels := int32(len(b.trials)) * int32(d.units)
	gamma := p.stack(s.SubScope("gammas"), bn.gamma, channels)
	beta := p.stack(s.SubScope("betas"), bn.beta, channels)
	fs := s.SubScope("fused")
	nhwc := op.Reshape(fs.SubScope("to_nhwc"), z, op.Const(fs.SubScope("nhwc_shape"), []int32{-1, 1, 1, channels}))
	empty := op.Const(fs.SubScope("empty"), []float32{})
	y, batchMean, unbiased, _, _, _ := op.FusedBatchNormV3(fs, nhwc, gamma, beta, empty, empty,
		op.FusedBatchNormV3Epsilon(float32(d.epsilon)), op.FusedBatchNormV3IsTraining(true), op.FusedBatchNormV3DataFormat("NHWC"))
	rows := op.Cast(fs.SubScope("rows"), op.Squeeze(fs.SubScope("batch_size"),
		op.Slice(fs.SubScope("first_dim"), op.Shape(fs.SubScope("shape"), nhwc), op.Const(fs.SubScope("begin"), []int32{0}), op.Const(fs.SubScope("size"), []int32{1}))), tf.Float)
	biased := op.Mul(fs.SubScope("biased_variance"), unbiased,
		op.RealDiv(fs.SubScope("bessel"), op.Sub(fs.SubScope("rows_minus_one"), rows, op.Const(fs.SubScope("one"), float32(1))), rows))
	p.bnUpdates = append(p.bnUpdates, b.movingUpdates(s.SubScope("update_moving_mean"), bn.movingMean, batchMean, d.momentum)...)
	p.bnUpdates = append(p.bnUpdates, b.movingUpdates(s.SubScope("update_moving_variance"), bn.movingVariance, biased, d.momentum)...)
	return y
}

// movingUpdates assigns each trial's moving statistic moving*momentum + batch*(1-momentum), batch
// being the [T·C] statistics of every trial, from reads of their own, off the gradient path.
func (b *fusedBuilder) movingUpdates(s *op.Scope, vars []*fusedVar, batch tf.Output, momentum float64) []*tf.Operation {
	parts := op.Unpack(s.SubScope("trials"), op.Reshape(s.SubScope("per_trial"), batch,
		op.Const(s.SubScope("shape"), []int32{int32(len(vars)), -1})), int64(len(vars)))
	updates := make([]*tf.Operation, len(vars))
	for t, v := range vars {
		es := s.SubScope(fmt.Sprintf("trial_%d", t))
		old := op.ReadVariableOp(es.SubScope("read"), v.handle, tf.Float)
		updated := op.AddV2(es,
			op.Mul(es.SubScope("decay"), old, op.Const(es.SubScope("momentum"), float32(momentum))),
			op.Mul(es.SubScope("batch"), parts[t], op.Const(es.SubScope("one_minus_momentum"), float32(1-momentum))))
		updates[t] = op.AssignVariableOp(es, v.handle, updated)
	}
	return updates
}

// buildStep adds the training step of per-trial batches: each trial's batch gathered from the bound
// training set by its row of the [T, B] indices, and the training pass over the stacked batches.
func (b *fusedBuilder) buildStep() error {
	s := b.s.SubScope("train")
	indices := op.Placeholder(s.SubScope("indices"), tf.Int32, op.PlaceholderShape(tf.MakeShape(int64(len(b.trials)), -1)))
	axis := op.Const(s.SubScope("gather_axis"), int32(0))
	x := op.GatherV2(s.SubScope("gather_pixels"), b.trainRows, indices, axis)
	y := op.GatherV2(s.SubScope("gather_labels"), b.trainLabels, indices, axis)
	p := newFusedPass()
	var err error
	b.fg.perTrial, err = b.trainingStep(s, p, indices, b.forward(s, p, x, true), y)
	return err
}

// trainingStep adds, after a training pass p that gave logits [T, B, K] of the batches fed to
// indices, each trial's batch-mean loss and accuracy against labels [T, B], the gradients of their
// sum, and every trial's Adam update with its own learning rate and step count, then the step
// counts' increment.
func (b *fusedBuilder) trainingStep(s *op.Scope, p *fusedPass, indices, logits, labels tf.Output) (fusedStep, error) {
	perExample, correct := b.perExample(s, logits, labels)
	rowAxis := op.Const(s.SubScope("row_axis"), []int32{1})
	losses := op.Mean(s.SubScope("loss"), perExample, rowAxis)
	accuracies := op.Mean(s.SubScope("accuracy"), correct, rowAxis)
	return b.updateStep(s, p, indices, losses, accuracies)
}

// updateStep adds, after a training pass p whose trials' losses and accuracies are [T], the
// gradients of the losses' sum and every trial's Adam update with its own learning rate and step
// count, then the step counts' increment.
func (b *fusedBuilder) updateStep(s *op.Scope, p *fusedPass, indices, losses, accuracies tf.Output) (fusedStep, error) {
	st := fusedStep{indices: indices, losses: losses, accuracies: accuracies}
	total := op.Sum(s.SubScope("total_loss"), st.losses, op.Const(s.SubScope("trial_axis"), []int32{0}))
	gradOf, err := b.gradients(p, total)
	if err != nil {
		return st, err
	}
	updates := append(b.adam(s.SubScope("adam"), gradOf), p.bnUpdates...)
	is := s.SubScope("increment_iterations").WithControlDependencies(updates...)
	st.step = op.AssignAddVariableOp(is, b.iterations, op.Const(is.SubScope("one"), slices.Repeat([]int64{1}, len(b.trials))))
	return st, nil
}

// gradients adds the gradient of total with respect to every trainable variable of every trial, as
// pass p read it.
func (b *fusedBuilder) gradients(p *fusedPass, total tf.Output) (map[*fusedVar]tf.Output, error) {
	var vars []*fusedVar
	var xs []tf.Output
	for _, tv := range b.trainable {
		for _, v := range tv {
			vars, xs = append(vars, v), append(xs, p.reads[v])
		}
	}
	if err := b.root.Err(); err != nil {
		return nil, fmt.Errorf("fused: build training pass: %w", err)
	}
	grads := op.Gradients(b.root.SubScope("gradients"), []tf.Output{total}, xs)
	if err := b.root.Err(); err != nil {
		return nil, fmt.Errorf("fused: build gradients: %w", err)
	}
	gradOf := make(map[*fusedVar]tf.Output, len(vars))
	for i, g := range grads {
		if !isOutput(g) {
			return nil, fmt.Errorf("fused: build gradients: no gradient reaches %s", vars[i].name)
		}
		gradOf[vars[i]] = g
	}
	return gradOf, nil
}

// perExample is each trial's per-example cross-entropy and correctness [T, N] of logits [T, N, K]
// against labels [T, N].
func (b *fusedBuilder) perExample(s *op.Scope, logits, labels tf.Output) (xent, correct tf.Output) {
	classes := b.mlps[0].classes()
	rowsShape := op.Const(s.SubScope("trials_rows"), []int32{int32(len(b.trials)), -1})
	flat := op.Reshape(s.SubScope("flat_logits"), logits, op.Const(s.SubScope("flat_shape"), []int32{-1, int32(classes)}))
	flatLabels := op.Reshape(s.SubScope("flat_labels"), labels, op.Const(s.SubScope("flat_labels_shape"), []int32{-1}))
	xent = op.Reshape(s.SubScope("per_trial_loss"), crossEntropy(s, flat, flatLabels, classes), rowsShape)
	cs := s.SubScope("correct")
	predicted := op.ArgMax(cs, logits, op.Const(cs.SubScope("axis"), int32(2)), op.ArgMaxOutputType(tf.Int32))
	correct = op.Cast(cs, op.Equal(cs, predicted, labels), tf.Float)
	return xent, correct
}

// adam adds every trial's Keras 3 Adam update of its trainable variables, as buildOptimizer's adam
// case: ResourceApplyAdam with β^(iterations+1) and the trial's learning rate. It returns the updates.
// Every training step built updates the same slot variables, made by the first.
func (b *fusedBuilder) adam(s *op.Scope, gradOf map[*fusedVar]tf.Output) []*tf.Operation {
	n := int64(len(b.trials))
	steps := op.Unpack(s.SubScope("local_steps"), op.Cast(s.SubScope("local_step"),
		op.AddV2(s.SubScope("plus_one"), op.ReadVariableOp(s.SubScope("read_iterations"), b.iterations, tf.Int64),
			op.Const(s.SubScope("one"), int64(1))), tf.Float), n)
	lrs := op.Unpack(s.SubScope("learning_rates"), op.ReadVariableOp(s.SubScope("read_learning_rates"), b.lr, tf.Float), n)
	f32 := func(s *op.Scope, name string, v float64) tf.Output { return op.Const(s.SubScope(name), float32(v)) }
	var updates []*tf.Operation
	for t, vars := range b.trainable {
		ts := s.SubScope(fmt.Sprintf("trial_%d", t))
		beta1Power := op.Pow(ts.SubScope("beta_1_power"), f32(ts, "beta_1", adamBeta1), steps[t])
		beta2Power := op.Pow(ts.SubScope("beta_2_power"), f32(ts, "beta_2", adamBeta2), steps[t])
		for _, v := range vars {
			slotName := keras3SlotName(v.name)
			slots, ok := b.slots[v]
			if !ok {
				slots = [2]*fusedVar{
					b.newVar(t, "adam", slotName+"_momentum", v.shape, fill(v.shape, 0)),
					b.newVar(t, "adam", slotName+"_velocity", v.shape, fill(v.shape, 0)),
				}
				b.slots[v] = slots
			}
			us := ts.SubScope("update_" + slotName)
			updates = append(updates, op.ResourceApplyAdam(us, v.handle, slots[0].handle, slots[1].handle, beta1Power, beta2Power, lrs[t],
				f32(us, "beta_1", adamBeta1), f32(us, "beta_2", adamBeta2), f32(us, "epsilon", adamEpsilon), gradOf[v]))
		}
	}
	return updates
}

// buildEval adds the evaluation pass over the bound validation set's examples [evalStart,
// evalStart+evalCount), shared by every trial as a shared training step's batch is (sharedLayer):
// each trial's loss and correct sums [T].
func (b *fusedBuilder) buildEval() {
	s := b.s.SubScope("eval")
	x, y := b.evalSlice(s)
	trials := op.Const(s.SubScope("trials"), []int32{int32(len(b.trials)), 1})
	labels := op.Tile(s.SubScope("labels_per_trial"), op.ExpandDims(s.SubScope("labels_row"), y, op.Const(s.SubScope("row_axis"), int32(0))), trials)
	p := newFusedPass()
	logits := b.layersFrom(s, p, 1, b.sharedLayer(s, p, x, false), false)
	xent, correct := b.perExample(s, logits, labels)
	rowAxis := op.Const(s.SubScope("sum_axis"), []int32{1})
	b.fg.evalLossSum = op.Sum(s.SubScope("loss_sum"), xent, rowAxis)
	b.fg.evalCorrect = op.Sum(s.SubScope("correct_sum"), correct, rowAxis)
	b.fg.evalProbabilities = op.Softmax(s.SubScope("probabilities"), logits)
}

// evalSlice is the bound validation set's examples [evalStart, evalStart+evalCount): their pixels
// and labels.
func (b *fusedBuilder) evalSlice(s *op.Scope) (x, y tf.Output) {
	zero, all := op.Const(s.SubScope("zero"), int32(0)), op.Const(s.SubScope("all"), int32(-1))
	x = op.Slice(s.SubScope("pixels"), b.valRows,
		op.Pack(s.SubScope("begin"), []tf.Output{b.fg.evalStart, zero}), op.Pack(s.SubScope("size"), []tf.Output{b.fg.evalCount, all}))
	y = op.Slice(s.SubScope("labels"), b.valLabels,
		op.Pack(s.SubScope("label_begin"), []tf.Output{b.fg.evalStart}), op.Pack(s.SubScope("label_size"), []tf.Output{b.fg.evalCount}))
	return x, y
}
