package trainer

import (
	"fmt"
	"math"

	"github.com/tfsweep/tfsweep/spec"
)

// ReduceLROnPlateau is Keras 3's keras.callbacks.ReduceLROnPlateau
// (keras/src/callbacks/reduce_lr_on_plateau.py, Keras 3.15.1), decision for decision: when the
// monitored quantity has not improved for Patience epochs it multiplies the model's learning rate by
// Factor, never below MinLR. The model must be a LearningRater; a model whose rate comes from a
// schedule fails the run at the first reduction, where Keras' optimizer raises a TypeError.
//
// Which rate TensorBoard logs for an epoch that reduces it depends on the callbacks' order, as in
// Keras: EpochEnd.LearningRate is read before each callback, so a TensorBoard after this callback
// logs the reduced rate and one before it the rate the epoch trained with.
type ReduceLROnPlateau struct {
	opts    spec.ReduceLROnPlateauOptions
	monitor monitor
	model   LearningRater

	wait            int
	cooldownCounter int
	best            float64
	hasBest         bool // Keras' best is not None
}

var (
	_ TrainBeginner = (*ReduceLROnPlateau)(nil)
	_ EpochEnder    = (*ReduceLROnPlateau)(nil)
)

// NewReduceLROnPlateau checks the options: Keras refuses a factor ≥ 1; a negative patience,
// cooldown or min_lr, which Keras takes without complaint, are errors here too.
func NewReduceLROnPlateau(opts spec.ReduceLROnPlateauOptions) (*ReduceLROnPlateau, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	mon := newMonitor(opts.Monitor, opts.Mode, opts.MinDelta)
	opts.Monitor = mon.name
	return &ReduceLROnPlateau{opts: opts, monitor: mon}, nil
}

// OnTrainBegin resets the state (Keras' _reset) and finds the model's learning rate. Keras has no
// model without one; here a model that is not a LearningRater fails the run before the first step.
func (r *ReduceLROnPlateau) OnTrainBegin(b TrainBegin) error {
	r.wait, r.cooldownCounter, r.best, r.hasBest = 0, 0, 0, false
	lr, ok := b.Model.(LearningRater)
	if !ok {
		return fmt.Errorf("ReduceLROnPlateau: the learning rate of %T cannot be read and set (trainer.LearningRater)", b.Model)
	}
	r.model = lr
	return nil
}

// OnEpochEnd is Keras' on_epoch_end: the cooldown is counted down (and the wait held at 0) before
// the comparison, and a reduction that changed nothing (the rate already at the floor) neither
// starts a cooldown nor resets the wait.
func (r *ReduceLROnPlateau) OnEpochEnd(e EpochEnd) error {
	current := r.monitor.value(e)
	if r.inCooldown() {
		r.cooldownCounter--
		r.wait = 0
	}
	switch {
	case !r.hasBest || r.monitor.improves(current, r.best):
		r.best, r.hasBest, r.wait = current, true, 0
	case !r.inCooldown():
		r.wait++
		if r.wait >= r.opts.Patience {
			reduced, err := r.reduce(e.Epoch)
			if err != nil {
				return err
			}
			if reduced {
				r.cooldownCounter, r.wait = r.opts.Cooldown, 0
			}
		}
	}
	return nil
}

// reduce is Keras' _reduce_optimizer_lr. Keras compares the rate (a Python float) with
// np.float32(min_lr), which NumPy 2 does in float32, so a rate at a floor that float32 cannot hold
// exactly counts as at the floor; the new rate is then computed in float64.
func (r *ReduceLROnPlateau) reduce(epoch int) (bool, error) {
	old, err := r.model.LearningRate()
	if err != nil {
		return false, fmt.Errorf("ReduceLROnPlateau: epoch %d: reading the learning rate: %w", epoch, err)
	}
	if !(float32(old) > float32(r.opts.MinLR)) {
		return false, nil
	}
	lr := math.Max(old*r.opts.Factor, r.opts.MinLR)
	if err := r.model.SetLearningRate(lr); err != nil {
		return false, fmt.Errorf("ReduceLROnPlateau: epoch %d: cannot reduce the learning rate to %g: %w", epoch, lr, err)
	}
	return true, nil
}

func (r *ReduceLROnPlateau) inCooldown() bool { return r.cooldownCounter > 0 }

// Wait is the number of epochs counted without improvement (Keras' wait).
func (r *ReduceLROnPlateau) Wait() int { return r.wait }

// CooldownCounter is the number of cooldown epochs left (Keras' cooldown_counter).
func (r *ReduceLROnPlateau) CooldownCounter() int { return r.cooldownCounter }

// Best is the best monitored value so far; ok is false before the first epoch.
func (r *ReduceLROnPlateau) Best() (value float64, ok bool) { return r.best, r.hasBest }

// ReduceLROnPlateauState is what a ReduceLROnPlateau has counted, saved with a checkpoint (the rate
// itself is the model's, saved with its variables).
type ReduceLROnPlateauState struct {
	Wait            int     `json:"wait"`
	CooldownCounter int     `json:"cooldown_counter"`
	Best            float64 `json:"best"`
	HasBest         bool    `json:"has_best"`
}

// State returns the counters.
func (r *ReduceLROnPlateau) State() ReduceLROnPlateauState {
	return ReduceLROnPlateauState{Wait: r.wait, CooldownCounter: r.cooldownCounter, Best: r.best, HasBest: r.hasBest}
}

// SetState puts back counters State returned, after OnTrainBegin.
func (r *ReduceLROnPlateau) SetState(s ReduceLROnPlateauState) {
	r.wait, r.cooldownCounter, r.best, r.hasBest = s.Wait, s.CooldownCounter, s.Best, s.HasBest
}
