package spec

import "testing"

func TestStatusKinds(t *testing.T) {
	for _, tc := range []struct {
		status                Status
		done, stopped, failed bool
	}{
		{StatusPlanned, false, false, false},
		{StatusQueued, false, false, false},
		{StatusRunning, false, false, false},
		{StatusSucceeded, true, false, false},
		{StatusFailed, false, false, true},
		{StatusInterrupted, false, false, true},
		{StatusSkipped, true, false, false},
		{StatusStale, false, false, false},
		{StatusCancelled, false, false, false},
		{StatusPruned, true, true, false},
		{StatusPaused, true, true, false},
		{StatusUnknown, false, false, false},
	} {
		if got := [3]bool{tc.status.Done(), tc.status.Stopped(), tc.status.Failed()}; got != [3]bool{tc.done, tc.stopped, tc.failed} {
			t.Errorf("%s: done, stopped, failed = %v, want %v", tc.status, got, [3]bool{tc.done, tc.stopped, tc.failed})
		}
	}
}
