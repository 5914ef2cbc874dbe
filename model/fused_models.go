package model

import (
	"fmt"
	"strings"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"
)

// A Fused of a network that is not the batched MLP (a convnet; dropout, L2, a Dense without bias,
// batch norm anywhere) holds every trial's network as a Model builds it: the trial's layers made by
// graph.buildLayers over variables of its own (trial_<t>/…, initialised by the same stateless draws),
// each training pass and the evaluation pass made by graph.buildForward and buildEvaluation, so every
// trial runs the kernels its Model runs, side by side in one graph. What the trials share is the
// data, gathered once when they share a batch (TrainSharedStep), the step: the sum of their losses
// differentiated in one TF_AddGradients, and Adam per variable as the batched MLP's (fusedBuilder.adam),
// with the trial's learning rate and step count, which also keys its dropout masks.

// trialModel is one trial's network in the fused graph: its layers and variables, built by the
// Model's code into the fused graph, and the fused variable of each.
type trialModel struct {
	g     *graph // not finalised: its layers, variables and passes live in the fused graph
	fused map[*variable]*fusedVar
}

// buildFusedModels builds the trials' networks, their training steps and evaluation pass.
func buildFusedModels(trials []Config) (*fusedGraph, error) {
	b := newFusedBuilder(trials, nil)
	b.buildInputs(int64(features(trials[0].Network.Input.Shape)))
	models := make([]*trialModel, len(trials))
	for t := range trials {
		var err error
		if models[t], err = b.buildTrialModel(t); err != nil {
			return nil, err
		}
	}
	b.buildTrialState()
	var err error
	if b.fg.perTrial, err = b.buildModelsStep(models, false); err != nil {
		return nil, err
	}
	if b.fg.shared, err = b.buildModelsStep(models, true); err != nil {
		return nil, err
	}
	b.buildModelsEval(models)
	return b.finish()
}

// buildTrialModel builds trial t's layers and variables as a Model of its Config builds them, the
// variables' resources named trial_<t>/<the Model's name>.
func (b *fusedBuilder) buildTrialModel(t int) (*trialModel, error) {
	c := b.trials[t]
	summary, err := c.Network.Summary()
	if err != nil {
		return nil, fmt.Errorf("fused: trial %d: %w", t, err)
	}
	g := &graph{assign: make(map[*variable]assignment), net: c.Network, summary: summary,
		features: features(c.Network.Input.Shape), numClasses: summary.Output[0]}
	vars := &varSet{s: b.trialScope(t), b: g, scopes: make(map[string]*op.Scope), byName: make(map[string]*variable),
		shared: fmt.Sprintf("trial_%d/", t)}
	g.buildLayers(vars, summary, c.Seed)
	b.inits = append(b.inits, vars.inits...)
	m := &trialModel{g: g, fused: make(map[*variable]*fusedVar, len(g.all))}
	for _, v := range g.all {
		layer := v.name[:strings.LastIndex(v.name, "/")]
		fv := &fusedVar{name: v.name, shape: v.shape, handle: v.handle, assign: g.assign[v],
			read: op.ReadVariableOp(vars.scopes[layer].SubScope(baseName(v.name)+"_value"), v.handle, tf.Float)}
		m.fused[v] = fv
		b.fg.trialVars[t][v.name] = fv
	}
	for _, v := range g.trainable {
		b.trainable[t] = append(b.trainable[t], m.fused[v])
	}
	for _, v := range g.weights {
		b.fg.weights[t] = append(b.fg.weights[t], m.fused[v])
	}
	return m, nil
}

// buildModelsStep adds a training step: with shared, of one batch for every trial, fed as [B]
// indices and gathered once; else of each trial's own, fed as [T, B] and gathered per trial. Every
// trial's pass is its Model's training pass, its dropout keyed by its own step count.
func (b *fusedBuilder) buildModelsStep(models []*trialModel, shared bool) (fusedStep, error) {
	n := int64(len(models))
	name, shape := "train", tf.MakeShape(n, -1)
	if shared {
		name, shape = "train_shared", tf.MakeShape(-1)
	}
	s := b.s.SubScope(name)
	indices := op.Placeholder(s.SubScope("indices"), tf.Int32, op.PlaceholderShape(shape))
	gather := func(s *op.Scope, rows tf.Output) batch {
		axis := op.Const(s.SubScope("gather_axis"), int32(0))
		return batch{pixels: []tf.Output{op.GatherV2(s.SubScope("gather_pixels"), b.trainRows, rows, axis)},
			labels: []tf.Output{op.GatherV2(s.SubScope("gather_labels"), b.trainLabels, rows, axis)}}
	}
	ins := make([]batch, n)
	if shared {
		in := gather(s, indices)
		for t := range ins {
			ins[t] = in
		}
	} else {
		for t, rows := range op.Unpack(s.SubScope("trial_indices"), indices, n) {
			ins[t] = gather(s.SubScope(fmt.Sprintf("trial_%d_batch", t)), rows)
		}
	}
	iterations := op.Unpack(s.SubScope("trial_iterations"), op.ReadVariableOp(s.SubScope("read_iterations"), b.iterations, tf.Int64), n)
	p := newFusedPass()
	losses, accuracies := make([]tf.Output, n), make([]tf.Output, n)
	for t, m := range models {
		ts := s.SubScope(fmt.Sprintf("trial_%d", t))
		f := m.g.buildForward(ts, ins[t], true, b.trials[t], iterations[t])
		losses[t], accuracies[t] = f.batchMeans(ts, m.g.numClasses)
		for v, read := range f.reads {
			p.reads[m.fused[v]] = read
		}
		p.bnUpdates = append(p.bnUpdates, f.bnUpdate...)
	}
	return b.updateStep(s, p, indices, op.Pack(s.SubScope("losses"), losses), op.Pack(s.SubScope("accuracies"), accuracies))
}

// buildModelsEval adds the evaluation pass over the bound validation set's slice, every trial's
// its Model's (buildEvaluation): each trial's loss and correct sums [T], its L2 penalty when a trial
// has one (0 for a trial without) and its softmax [T, N, K].
func (b *fusedBuilder) buildModelsEval(models []*trialModel) {
	s := b.s.SubScope("eval")
	x, y := b.evalSlice(s)
	n := len(models)
	lossSums, correct, penalties, probabilities := make([]tf.Output, n), make([]tf.Output, n), make([]tf.Output, n), make([]tf.Output, n)
	withPenalty := false
	for t, m := range models {
		ts := s.SubScope(fmt.Sprintf("trial_%d", t))
		m.g.pixels, m.g.labels = x, y
		m.g.buildEvaluation(ts, b.trials[t])
		lossSums[t], correct[t], probabilities[t] = m.g.evalLossSum, m.g.evalCorrect, m.g.probabilities
		penalties[t] = m.g.evalPenalty
		if penalties[t].Op == nil {
			penalties[t] = op.Const(ts.SubScope("no_penalty"), float32(0))
		} else {
			withPenalty = true
		}
	}
	b.fg.evalLossSum = op.Pack(s.SubScope("loss_sums"), lossSums)
	b.fg.evalCorrect = op.Pack(s.SubScope("correct_sums"), correct)
	b.fg.evalProbabilities = op.Pack(s.SubScope("probabilities"), probabilities)
	if withPenalty {
		b.fg.evalPenalty = op.Pack(s.SubScope("penalties"), penalties)
	}
}
