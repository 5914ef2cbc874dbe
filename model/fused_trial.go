package model

import (
	"bytes"
	"fmt"
	"math"
	"slices"

	tf "github.com/wamuir/graft/tensorflow"
)

// A trial's state moves between a Fused and a Model of that trial's Config: a worker trains a group
// fused and keeps each trial's checkpoints, exports and callbacks on a Model of its own, which it
// brings up to date from the group (CopyTrialsTo) and, for a trial resumed from its checkpoint, into
// the group (CopyTrialsFrom). Both move several trials in one call of the group's session: a session
// optimises every new set of fetches and targets on its first call (about 17 ms for the lab network's
// group of 8), so one call for the trials that validate together costs that once, not once per trial.

// CopyTrialsTo sets models[i]'s whole training state, as a checkpoint holds it (weights, moving
// statistics, Adam slots, step count and learning rate), to trial trials[i]'s. Each model must be a
// Model of its trial's network and optimizer: every variable is matched by name and shape, and
// nothing is assigned when one does not match.
func (f *Fused) CopyTrialsTo(trials []int, models []*Model) error {
	vars, err := f.trialsVarsOf(trials, models)
	if err != nil {
		return err
	}
	fetches := []tf.Output{f.graph.steps.read, f.graph.rates.read}
	for _, tv := range vars {
		for _, fv := range tv {
			if fv != nil {
				fetches = append(fetches, fv.read)
			}
		}
	}
	out, err := f.sess.Run(nil, fetches, nil)
	if err != nil {
		return fmt.Errorf("fused: copy trials %v: read: %w", trials, err)
	}
	defer release(out...)
	steps, ok := out[0].Value().([]int64)
	rates, err := float32s(out[1])
	if !ok || err != nil {
		return fmt.Errorf("fused: copy trials %v: the step counts and learning rates do not read", trials)
	}
	next := 2
	for i, t := range trials {
		n := len(vars[i]) - 2 // the trial's own variables; its step count and rate are elements
		if err := assignTrial(models[i], steps[t], rates[t], out[next:next+n]); err != nil {
			return fmt.Errorf("fused: copy trial %d into its model: %w", t, err)
		}
		next += n
	}
	return nil
}

// assignTrial sets every variable of m: the step count and learning rate to step and rate, the others
// to values, in m.graph.all's order.
func assignTrial(m *Model, step int64, rate float32, values []*tf.Tensor) error {
	scalars, err := newTensors(step, rate)
	if err != nil {
		return err
	}
	defer release(scalars...)
	stepT, rateT := scalars[0], scalars[1]
	feeds := make(map[tf.Output]*tf.Tensor, len(m.graph.all))
	targets := make([]*tf.Operation, 0, len(m.graph.all))
	next := 0
	for _, v := range m.graph.all {
		x := stepT
		switch v {
		case m.graph.iterations:
		case m.graph.lrVar:
			x = rateT
		default:
			x = values[next]
			next++
		}
		feeds[m.graph.assign[v].value] = x
		targets = append(targets, m.graph.assign[v].op)
	}
	if _, err := m.sess.Run(feeds, nil, targets); err != nil {
		return err
	}
	m.iterations = step
	return nil
}

// CopyTrialsFrom sets trial trials[i]'s whole training state to models[i]'s, the inverse of
// CopyTrialsTo: a trial resumed from a checkpoint restored into a Model of its Config goes on in the
// group from there.
func (f *Fused) CopyTrialsFrom(trials []int, models []*Model) error {
	vars, err := f.trialsVarsOf(trials, models)
	if err != nil {
		return err
	}
	stacked, err := f.sess.Run(nil, []tf.Output{f.graph.steps.read, f.graph.rates.read}, nil)
	if err != nil {
		return fmt.Errorf("fused: copy into trials %v: read the step counts and learning rates: %w", trials, err)
	}
	defer release(stacked...)
	steps, okSteps := stacked[0].Value().([]int64)
	rates, okRates := stacked[1].Value().([]float32)
	if !okSteps || !okRates {
		return fmt.Errorf("fused: copy into trials %v: the step counts and learning rates do not read", trials)
	}
	feeds := make(map[tf.Output]*tf.Tensor)
	var targets []*tf.Operation
	for i, t := range trials {
		m := models[i]
		out, err := m.sess.Run(nil, m.graph.ckpt.reads, nil)
		if err != nil {
			return fmt.Errorf("fused: copy into trial %d: read its model: %w", t, err)
		}
		defer release(out...)
		for j, v := range m.graph.all {
			switch v {
			case m.graph.iterations:
				steps[t] = out[j].Value().(int64)
			case m.graph.lrVar:
				rates[t] = out[j].Value().(float32)
			default:
				feeds[vars[i][j].assign.value] = out[j]
				targets = append(targets, vars[i][j].assign.op)
			}
		}
	}
	state, err := newTensors(steps, rates)
	if err != nil {
		return err
	}
	defer release(state...)
	feeds[f.graph.steps.assign.value], feeds[f.graph.rates.assign.value] = state[0], state[1]
	targets = append(targets, f.graph.steps.assign.op, f.graph.rates.assign.op)
	if _, err := f.sess.Run(feeds, nil, targets); err != nil {
		return fmt.Errorf("fused: copy into trials %v: %w", trials, err)
	}
	return nil
}

// trialsVarsOf is trialVarsOf of every trial and its model; a trial given twice is an error.
func (f *Fused) trialsVarsOf(trials []int, models []*Model) ([][]*fusedVar, error) {
	if len(trials) != len(models) {
		return nil, fmt.Errorf("fused: %d trials and %d models", len(trials), len(models))
	}
	vars := make([][]*fusedVar, len(trials))
	for i, t := range trials {
		if slices.Contains(trials[:i], t) {
			return nil, fmt.Errorf("fused: trial %d given twice", t)
		}
		var err error
		if vars[i], err = f.trialVarsOf(t, models[i]); err != nil {
			return nil, err
		}
	}
	return vars, nil
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
