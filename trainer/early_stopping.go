package trainer

import (
	"fmt"

	"github.com/tfsweep/tfsweep/spec"
)

// EarlyStopping is Keras 3's keras.callbacks.EarlyStopping (keras/src/callbacks/early_stopping.py,
// Keras 3.15.1), decision for decision: it stops the run with ErrStopTraining when the monitored
// quantity has not improved for Patience epochs. Like the Keras object it can be reused across
// fits (OnTrainBegin resets it) and tells after training where it stopped and which epoch was best.
type EarlyStopping struct {
	opts    spec.EarlyStoppingOptions
	monitor monitor
	weights WeightSnapshotter

	wait         int
	best         float64
	hasBest      bool // Keras' best is not None
	bestEpoch    int
	stoppedEpoch int
	bestWeights  any
	hasWeights   bool // Keras' best_weights is not None
}

var (
	_ TrainBeginner = (*EarlyStopping)(nil)
	_ EpochEnder    = (*EarlyStopping)(nil)
	_ TrainEnder    = (*EarlyStopping)(nil)
)

// NewEarlyStopping checks the options. Keras accepts a negative patience or start_from_epoch (and
// then behaves as with 0); here they are errors, as is an unknown monitor or mode.
func NewEarlyStopping(opts spec.EarlyStoppingOptions) (*EarlyStopping, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	mon := newMonitor(opts.Monitor, opts.Mode, opts.MinDelta)
	opts.Monitor = mon.name
	return &EarlyStopping{opts: opts, monitor: mon}, nil
}

// OnTrainBegin resets the state, as Keras' on_train_begin does, and finds the model's weights when
// they are to be restored: a model that cannot snapshot them fails the run before the first step.
func (es *EarlyStopping) OnTrainBegin(b TrainBegin) error {
	es.wait, es.best, es.hasBest, es.bestEpoch, es.stoppedEpoch = 0, 0, false, 0, 0
	es.bestWeights, es.hasWeights, es.weights = nil, false, nil
	if es.opts.RestoreBestWeights {
		w, ok := b.Model.(WeightSnapshotter)
		if !ok {
			return fmt.Errorf("EarlyStopping: restore_best_weights needs a model that can snapshot its weights; %T cannot (trainer.WeightSnapshotter)", b.Model)
		}
		es.weights = w
	}
	return nil
}

// OnEpochEnd is Keras' on_epoch_end line by line; in particular the wait counter is incremented
// before the comparison, an improvement that does not beat the baseline keeps it, and a stop needs
// epoch > 0.
func (es *EarlyStopping) OnEpochEnd(e EpochEnd) error {
	if e.Epoch < es.opts.StartFromEpoch {
		return nil
	}
	current := es.monitor.value(e)
	snapped := false
	if es.opts.RestoreBestWeights && !es.hasWeights {
		// Keras: if best weights were never set, the current weights are the best.
		if err := es.snapshot(e.Epoch); err != nil {
			return err
		}
		snapped = true
	}
	es.wait++
	if !es.hasBest || es.monitor.improves(current, es.best) {
		es.best, es.hasBest, es.bestEpoch = current, true, e.Epoch
		// Keras takes the weights again here; they are the same weights, so one snapshot will do.
		if es.opts.RestoreBestWeights && !snapped {
			if err := es.snapshot(e.Epoch); err != nil {
				return err
			}
		}
		// Only restart the wait when beating both the baseline and the previous best.
		if es.opts.Baseline == nil || es.monitor.improves(current, *es.opts.Baseline) {
			es.wait = 0
		}
		return nil
	}
	if es.wait >= es.opts.Patience && e.Epoch > 0 {
		es.stoppedEpoch = e.Epoch
		return fmt.Errorf("EarlyStopping: %s did not improve for %d epochs: %w", es.monitor.name, es.wait, ErrStopTraining)
	}
	return nil
}

func (es *EarlyStopping) snapshot(epoch int) error {
	w, err := es.weights.SnapshotWeights()
	if err != nil {
		return fmt.Errorf("EarlyStopping: epoch %d: snapshot of the weights: %w", epoch, err)
	}
	es.bestWeights, es.hasWeights, es.bestEpoch = w, true, epoch
	return nil
}

// OnTrainEnd restores the best weights, as Keras 3.15.1's on_train_end does whenever
// restore_best_weights is set and a snapshot exists, whether or not this callback stopped the run
// (Keras 2 restored only when it stopped). After a failed run the weights are left alone: Keras
// never reaches on_train_end when training raises.
func (es *EarlyStopping) OnTrainEnd(e TrainEnd) error {
	if !es.opts.RestoreBestWeights || !es.hasWeights || e.Err != nil {
		return nil
	}
	if err := es.weights.RestoreWeights(es.bestWeights); err != nil {
		return fmt.Errorf("EarlyStopping: restoring the weights of epoch %d: %w", es.bestEpoch, err)
	}
	return nil
}

// StoppedEpoch is the 0-based epoch at whose end the callback stopped the run, 0 when it did not
// (Keras' stopped_epoch; Keras never stops at epoch 0, so 0 is unambiguous).
func (es *EarlyStopping) StoppedEpoch() int { return es.stoppedEpoch }

// BestEpoch is the 0-based epoch of the best monitored value so far (Keras' best_epoch; 0 before any).
func (es *EarlyStopping) BestEpoch() int { return es.bestEpoch }

// Best is the best monitored value so far; ok is false before the first monitored epoch.
func (es *EarlyStopping) Best() (value float64, ok bool) { return es.best, es.hasBest }

// Wait is the number of epochs counted without improvement (Keras' wait).
func (es *EarlyStopping) Wait() int { return es.wait }

// EarlyStoppingState is what an EarlyStopping has counted, saved with a checkpoint so that a resumed
// run stops where an uninterrupted one would.
type EarlyStoppingState struct {
	Wait         int     `json:"wait"`
	Best         float64 `json:"best"`
	HasBest      bool    `json:"has_best"`
	BestEpoch    int     `json:"best_epoch"`
	StoppedEpoch int     `json:"stopped_epoch"`
	// HasWeights says a snapshot of the best epoch's weights was taken; SetState takes it back.
	HasWeights bool `json:"has_weights"`
}

// State returns the counters.
func (es *EarlyStopping) State() EarlyStoppingState {
	return EarlyStoppingState{Wait: es.wait, Best: es.best, HasBest: es.hasBest, BestEpoch: es.bestEpoch,
		StoppedEpoch: es.stoppedEpoch, HasWeights: es.hasWeights}
}

// SetState puts back counters State returned, after OnTrainBegin, with the best epoch's weights
// snapshot when the state has one (RestoreBestWeights).
func (es *EarlyStopping) SetState(s EarlyStoppingState, bestWeights any) {
	es.wait, es.best, es.hasBest, es.bestEpoch, es.stoppedEpoch = s.Wait, s.Best, s.HasBest, s.BestEpoch, s.StoppedEpoch
	es.bestWeights, es.hasWeights = bestWeights, s.HasWeights && bestWeights != nil
}
