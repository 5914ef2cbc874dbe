package model

import (
	"fmt"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"
)

// buildSharedStep adds the training step of one batch for every trial, fed as [B] indices: trials
// that share their seed shuffle alike, so they see the same batches. The batch is gathered once,
// the first Dense layer of every trial reads it as it is (sharedLayer), and the layers after it are
// batched over the trials as in the per-trial step.
func (b *fusedBuilder) buildSharedStep() error {
	s := b.s.SubScope("train_shared")
	indices := op.Placeholder(s.SubScope("indices"), tf.Int32, op.PlaceholderShape(tf.MakeShape(-1)))
	axis := op.Const(s.SubScope("gather_axis"), int32(0))
	x := op.GatherV2(s.SubScope("gather_pixels"), b.trainRows, indices, axis)
	y := op.GatherV2(s.SubScope("gather_labels"), b.trainLabels, indices, axis)
	p := newFusedPass()
	logits := b.layersFrom(s, p, 1, b.sharedLayer(s, p, x, true), true)
	perTrial := op.Const(s.SubScope("labels_per_trial_multiples"), []int32{int32(len(b.trials)), 1})
	labels := op.Tile(s.SubScope("labels_per_trial"), op.ExpandDims(s.SubScope("labels_row"), y, op.Const(s.SubScope("row_axis"), int32(0))), perTrial)
	var err error
	b.fg.shared, err = b.trainingStep(s, p, indices, logits, labels)
	return err
}

// sharedLayer adds the first Dense layer of every trial, with what follows it, over x [B, in], the
// batch all trials share (batch norm by the batch's statistics in training, else by the moving
// ones), and returns [T, B, C], every trial's output, for the batched layers after it. Each
// trial's layer is a MatMul of x by its kernel and a BiasAdd, as a Model's Dense layer computes
// (Grappler fuses them with the activation as it does a Model's), not one MatMul of x by the T kernels
// side by side ([784, T·128]): where oneDNN runs one trial's MatMul near the processor's peak the wide
// one gains nothing, and concatenating the kernels and splitting their gradient costs two more passes
// over them each step (docs/fused-trials.md, "Shared batches").
func (b *fusedBuilder) sharedLayer(s *op.Scope, p *fusedPass, x tf.Output, training bool) tf.Output {
	d := b.fg.layers[0]
	last := len(b.fg.layers) == 1 // then its outputs are the logits: the softmax is in the loss
	ls := s.SubScope(d.dense)
	zs := make([]tf.Output, len(b.trials))
	for t := range zs {
		ts := ls.SubScope(fmt.Sprintf("trial_%d", t))
		zs[t] = op.BiasAdd(ts, op.MatMul(ts, x, p.read(ts.SubScope("kernel"), d.kernel[t])), p.read(ts.SubScope("bias"), d.bias[t]))
		if !last {
			zs[t] = applyActivation(ts, d.denseActivation, zs[t])
		}
	}
	if last || d.bn == nil {
		h := op.Pack(s.SubScope(d.dense+"_trials"), zs)
		if !last && d.activation != "" {
			h = applyActivation(s.SubScope(d.dense+"_activation"), d.activation, h)
		}
		return h
	}
	// Side by side, [B, T·C] is the channels batchNormChannels normalises, without a transpose.
	trials, units := int32(len(b.trials)), int32(d.units)
	z := op.ConcatV2(s.SubScope(d.dense+"_side_by_side"), zs, op.Const(s.SubScope(d.dense+"_side_by_side_axis"), int32(1)))
	bs := s.SubScope(d.bn.name)
	if training {
		z = op.Reshape(bs.SubScope("side_by_side"), b.batchNormChannels(bs, p, d, z), op.Const(bs.SubScope("side_by_side_shape"), []int32{-1, trials * units}))
	} else {
		z = b.movingNorm(bs, p, d, z, trials*units)
	}
	if d.activation != "" {
		z = applyActivation(s.SubScope(d.dense+"_activation"), d.activation, z)
	}
	ts := s.SubScope(d.dense + "_trials")
	rows := op.Reshape(ts, z, op.Const(ts.SubScope("shape"), []int32{-1, trials, units}))
	return op.Transpose(ts.SubScope("trials_first"), rows, op.Const(ts.SubScope("perm"), []int32{1, 0, 2}))
}
