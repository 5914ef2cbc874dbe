package model

import (
	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"
)

// fusedConcat is one read of every trial's variable, side by side along axis: a [in, T·C] kernel
// or a [T·C] bias, trial t's columns the t-th C.
type fusedConcat struct {
	vars []*fusedVar
	axis int
	out  tf.Output
}

// concat reads each trial's variable once in this pass and concatenates the reads along axis.
func (p *fusedPass) concat(s *op.Scope, vars []*fusedVar, axis int) tf.Output {
	reads := make([]tf.Output, len(vars))
	for t, v := range vars {
		reads[t] = p.read(s.SubScope("read"), v)
	}
	c := fusedConcat{vars: vars, axis: axis, out: op.ConcatV2(s, reads, op.Const(s.SubScope("axis"), int32(axis)))}
	p.concats = append(p.concats, c)
	return c.out
}

// buildSharedStep adds the training step of one batch for every trial, fed as [B] indices: trials
// that share their seed shuffle alike, so they see the same batches. The first Dense layer of every
// trial is then one wide layer (sharedLayer); the layers after it are as in the per-trial step.
func (b *fusedBuilder) buildSharedStep() error {
	s := b.s.SubScope("train_shared")
	indices := op.Placeholder(s.SubScope("indices"), tf.Int32, op.PlaceholderShape(tf.MakeShape(-1)))
	axis := op.Const(s.SubScope("gather_axis"), int32(0))
	x := op.GatherV2(s.SubScope("gather_pixels"), b.trainRows, indices, axis)
	y := op.GatherV2(s.SubScope("gather_labels"), b.trainLabels, indices, axis)
	p := newFusedPass()
	logits := b.layersFrom(s, p, 1, b.sharedLayer(s, p, x), true)
	perTrial := op.Const(s.SubScope("labels_per_trial_multiples"), []int32{int32(len(b.trials)), 1})
	labels := op.Tile(s.SubScope("labels_per_trial"), op.ExpandDims(s.SubScope("labels_row"), y, op.Const(s.SubScope("row_axis"), int32(0))), perTrial)
	var err error
	b.fg.shared, err = b.trainingStep(s, p, indices, logits, labels)
	return err
}

// sharedLayer adds the first Dense layer of every trial, with what follows it, over x [B, in], the
// batch all trials share, as one layer of T·C units: one MatMul of x by the trials' kernels side by
// side ([in, T·C]), whose weight gradient is one MatMul too, and a BiasAdd, as a Model's Dense layer
// computes; the activations and batch norm run over [B, T·C]. It returns [T, B, C], each trial's
// part, for the batched layers after it.
func (b *fusedBuilder) sharedLayer(s *op.Scope, p *fusedPass, x tf.Output) tf.Output {
	d := b.fg.layers[0]
	ls := s.SubScope(d.dense)
	kernel := p.concat(ls.SubScope("kernels"), d.kernel, 1)
	bias := p.concat(ls.SubScope("biases"), d.bias, 0)
	z := op.BiasAdd(ls, op.MatMul(ls, x, kernel), bias)
	trials, units := int32(len(b.trials)), int32(d.units)
	if len(b.fg.layers) > 1 { // else z is the logits: the softmax, their only activation, is in the loss
		z = applyActivation(ls, d.denseActivation, z)
		if d.bn != nil {
			z = op.Reshape(s.SubScope("wide"), b.batchNormChannels(s.SubScope(d.bn.name), p, d, z),
				op.Const(s.SubScope("wide_shape"), []int32{-1, trials * units}))
		}
		if d.activation != "" {
			z = applyActivation(s.SubScope(d.dense+"_activation"), d.activation, z)
		}
	}
	ts := s.SubScope("per_trial")
	rows := op.Reshape(ts, z, op.Const(ts.SubScope("shape"), []int32{-1, trials, units}))
	return op.Transpose(ts.SubScope("trials_first"), rows, op.Const(ts.SubScope("perm"), []int32{1, 0, 2}))
}
