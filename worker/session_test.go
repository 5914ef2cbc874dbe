package worker

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/summary"
	"github.com/tfsweep/tfsweep/trainer"
)

// Every way a run ends gives its session a TensorBoard status and the run's own word for it; a
// scheduler's reason goes with a pruned or paused run only, and a fault or a signal wins over what
// the scheduler said of an earlier epoch.
func TestSessionEnd(t *testing.T) {
	const reason = "paused at epoch 3 by asha: rank 7 of 9"
	interrupted := fmt.Errorf("interrupted in epoch 2: %w", context.Canceled)
	for _, tc := range []struct {
		name   string
		status spec.Status // the run's end as the verdicts left it
		err    error       // Fit's
		want   trainer.SessionEnd
	}{
		{"trained to its end", spec.StatusSucceeded, nil, trainer.SessionEnd{Status: summary.StatusSuccess, State: spec.StatusSucceeded}},
		{"pruned", spec.StatusPruned, nil, trainer.SessionEnd{Status: summary.StatusFailure, State: spec.StatusPruned, Reason: reason}},
		{"paused", spec.StatusPaused, nil, trainer.SessionEnd{Status: summary.StatusRunning, State: spec.StatusPaused, Reason: reason}},
		{"failed", spec.StatusSucceeded, errors.New("loss is NaN"), trainer.SessionEnd{Status: summary.StatusFailure, State: spec.StatusFailed}},
		{"interrupted", spec.StatusSucceeded, interrupted, trainer.SessionEnd{Status: summary.StatusFailure, State: spec.StatusInterrupted}},
		{"past its deadline", spec.StatusSucceeded, context.DeadlineExceeded, trainer.SessionEnd{Status: summary.StatusFailure, State: spec.StatusInterrupted}},
		{"failed after a pause", spec.StatusPaused, errors.New("export"), trainer.SessionEnd{Status: summary.StatusFailure, State: spec.StatusFailed}},
	} {
		end := &spec.End{Status: tc.status, Reason: reason}
		if got := sessionEnd(end, trainer.TrainEnd{Err: tc.err}); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
