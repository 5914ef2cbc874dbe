package model

import (
	"bytes"
	"fmt"
	"math"
	"slices"

	tf "github.com/wamuir/graft/tensorflow"
)

// One trial's state moves between a Fused and a Model of that trial's Config: a worker trains a group
// fused and keeps each trial's checkpoints, exports and callbacks on a Model of its own, which it
// brings up to date from the group (CopyTrialTo) and, for a trial resumed from its checkpoint, into
// the group (CopyTrialFrom).

// CopyTrialTo sets m's whole training state, as a checkpoint holds it (weights, moving statistics,
// Adam slots, step count and learning rate), to trial t's. m must be a Model of the trial's network
// and optimizer: every variable of m is matched by name and shape, and nothing is assigned when one
// does not match.
func (f *Fused) CopyTrialTo(t int, m *Model) error {
	vars, err := f.trialVarsOf(t, m)
	if err != nil {
		return err
	}
	fetches := []tf.Output{f.graph.steps.read, f.graph.rates.read}
	for _, fv := range vars {
		if fv != nil {
			fetches = append(fetches, fv.read)
		}
	}
	out, err := f.sess.Run(nil, fetches, nil)
	if err != nil {
		return fmt.Errorf("fused: copy trial %d: read: %w", t, err)
	}
	defer release(out...)
	steps, ok := out[0].Value().([]int64)
	rates, err := float32s(out[1])
	if !ok || err != nil {
		return fmt.Errorf("fused: copy trial %d: the step counts and learning rates do not read", t)
	}
	scalars := make([]*tf.Tensor, 0, 2) // made here; the others are out's
	defer func() { release(scalars...) }()
	feeds := make(map[tf.Output]*tf.Tensor, len(vars))
	targets := make([]*tf.Operation, 0, len(vars))
	next := 2
	for _, v := range m.graph.all {
		var x *tf.Tensor
		switch v {
		case m.graph.iterations:
			x, err = tf.NewTensor(steps[t])
			scalars = append(scalars, x)
		case m.graph.lrVar:
			x, err = tf.NewTensor(rates[t])
			scalars = append(scalars, x)
		default:
			x = out[next]
			next++
		}
		if err != nil {
			return fmt.Errorf("fused: copy trial %d: %s: %w", t, v.name, err)
		}
		feeds[m.graph.assign[v].value] = x
		targets = append(targets, m.graph.assign[v].op)
	}
	if _, err := m.sess.Run(feeds, nil, targets); err != nil {
		return fmt.Errorf("fused: copy trial %d into the model: %w", t, err)
	}
	m.iterations = steps[t]
	return nil
}

// CopyTrialFrom sets trial t's whole training state to m's, the inverse of CopyTrialTo: a trial
// resumed from a checkpoint restored into a Model of its Config goes on in the group from there.
func (f *Fused) CopyTrialFrom(t int, m *Model) error {
	vars, err := f.trialVarsOf(t, m)
	if err != nil {
		return err
	}
	out, err := m.sess.Run(nil, m.graph.ckpt.reads, nil)
	if err != nil {
		return fmt.Errorf("fused: copy into trial %d: read the model: %w", t, err)
	}
	defer release(out...)
	stacked, err := f.sess.Run(nil, []tf.Output{f.graph.steps.read, f.graph.rates.read}, nil)
	if err != nil {
		return fmt.Errorf("fused: copy into trial %d: read the step counts and learning rates: %w", t, err)
	}
	defer release(stacked...)
	steps, okSteps := stacked[0].Value().([]int64)
	rates, okRates := stacked[1].Value().([]float32)
	if !okSteps || !okRates {
		return fmt.Errorf("fused: copy into trial %d: the step counts and learning rates do not read", t)
	}
	n := len(m.graph.all)
	feeds := make(map[tf.Output]*tf.Tensor, n)
	targets := make([]*tf.Operation, 0, n)
	for i, v := range m.graph.all {
		switch {
		case v == m.graph.iterations:
			steps[t] = out[i].Value().(int64)
		case v == m.graph.lrVar:
			rates[t] = out[i].Value().(float32)
		default:
			feeds[vars[i].assign.value] = out[i]
			targets = append(targets, vars[i].assign.op)
		}
	}
	stepsT, err := tf.NewTensor(steps)
	if err != nil {
		return err
	}
	ratesT, err := tf.NewTensor(rates)
	if err != nil {
		release(stepsT)
		return err
	}
	defer release(stepsT, ratesT)
	feeds[f.graph.steps.assign.value], feeds[f.graph.rates.assign.value] = stepsT, ratesT
	targets = append(targets, f.graph.steps.assign.op, f.graph.rates.assign.op)
	if _, err := f.sess.Run(feeds, nil, targets); err != nil {
		return fmt.Errorf("fused: copy into trial %d: %w", t, err)
	}
	return nil
}

// trialVarsOf matches every variable of m, in m.graph.all's order, with trial t's variable of that
// name and shape; the step count and the learning rate, one element of the group's [T] variables,
// are nil.
func (f *Fused) trialVarsOf(t int, m *Model) ([]*fusedVar, error) {
	if t < 0 || t >= len(f.trials) {
		return nil, fmt.Errorf("fused: no trial %d of %d", t, len(f.trials))
	}
	if m.graph.lrVar == nil {
		return nil, fmt.Errorf("fused: trial %d: the model's learning rate follows a schedule", t)
	}
	vars := make([]*fusedVar, len(m.graph.all))
	for i, v := range m.graph.all {
		if v == m.graph.iterations || v == m.graph.lrVar {
			continue
		}
		fv, ok := f.graph.trialVars[t][v.name]
		if !ok || v.dtype != tf.Float || !slices.Equal(fv.shape, v.shape) {
			return nil, fmt.Errorf("fused: trial %d has no variable %s of shape %v: the model is not of its network and optimizer", t, v.name, v.shape)
		}
		vars[i] = fv
	}
	if len(f.graph.trialVars[t]) != len(vars)-2 {
		return nil, fmt.Errorf("fused: trial %d has %d variables, the model %d", t, len(f.graph.trialVars[t]), len(vars)-2)
	}
	return vars, nil
}

// TrialLearningRate is trial t's learning rate, what its next step uses.
func (f *Fused) TrialLearningRate(t int) (float64, error) {
	rates, err := f.rates()
	if err != nil {
		return 0, err
	}
	if t < 0 || t >= len(rates) {
		return 0, fmt.Errorf("fused: no trial %d of %d", t, len(rates))
	}
	return float64(rates[t]), nil
}

// SetTrialLearningRate sets trial t's learning rate for the following steps, as Model's
// SetLearningRate sets a Model's (stored in float32). 0 freezes the trial's weights: a trial that
// left the group trains on masked, its results unread.
func (f *Fused) SetTrialLearningRate(t int, lr float64) error {
	if !(lr >= 0) || math.IsInf(lr, 0) {
		return fmt.Errorf("fused: set the learning rate of trial %d: must be non-negative and finite, got %v", t, lr)
	}
	rates, err := f.rates()
	if err != nil {
		return err
	}
	if t < 0 || t >= len(rates) {
		return fmt.Errorf("fused: no trial %d of %d", t, len(rates))
	}
	rates[t] = float32(lr)
	x, err := tf.ReadTensor(tf.Float, []int64{int64(len(rates))}, bytes.NewReader(sliceBytes(rates)))
	if err != nil {
		return err
	}
	defer release(x)
	a := f.graph.rates.assign
	if _, err := f.sess.Run(map[tf.Output]*tf.Tensor{a.value: x}, nil, []*tf.Operation{a.op}); err != nil {
		return fmt.Errorf("fused: set the learning rate of trial %d: %w", t, err)
	}
	return nil
}

func (f *Fused) rates() ([]float32, error) {
	out, err := f.sess.Run(nil, []tf.Output{f.graph.rates.read}, nil)
	if err != nil {
		return nil, fmt.Errorf("fused: read the learning rates: %w", err)
	}
	defer release(out...)
	return float32s(out[0])
}

// ValidationProbabilities returns trial t's softmax probabilities of every bound validation example,
// row-major [examples, classes], from the last Validate, when a trial's Config sets
// KeepValidationProbabilities; nil otherwise. The slice is overwritten by the next Validate.
func (f *Fused) ValidationProbabilities(t int) []float32 {
	if t < 0 || t >= len(f.valProbabilities) || len(f.valProbabilities[t]) == 0 {
		return nil
	}
	return f.valProbabilities[t]
}
