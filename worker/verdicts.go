package worker

import (
	"context"
	"fmt"

	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/trainer"
)

// verdicts is the callback that waits, after every epoch, for the front's spec.Verdict on it: a stop
// or a pause ends the run after this epoch, as Keras' model.stop_training does, with the run's end
// saying why.
type verdicts struct {
	ctx context.Context
	in  <-chan spec.Verdict
	run string
	end *spec.End
}

func (v *verdicts) OnEpochEnd(e trainer.EpochEnd) error {
	var got spec.Verdict
	select {
	case got = <-v.in:
	case <-v.ctx.Done():
		return v.ctx.Err()
	}
	if got.Run != v.run || got.Epoch != e.Epoch {
		return fmt.Errorf("the front sent a verdict on %s epoch %d while %s epoch %d waits", got.Run, got.Epoch+1, v.run, e.Epoch+1)
	}
	switch got.Action {
	case spec.VerdictContinue:
		return nil
	case spec.VerdictStop:
		v.end.Status, v.end.Reason = spec.StatusPruned, got.Reason
	case spec.VerdictPause:
		v.end.Status, v.end.Reason = spec.StatusPaused, got.Reason
	default:
		return fmt.Errorf("the front sent an unknown verdict %q", got.Action)
	}
	return trainer.ErrStopTraining
}
