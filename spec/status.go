package spec

// Status is where a run or a sweep stands, in the front, the service, the claims of a shared sweep
// and the report alike. TensorBoard's hparams session status (summary.Status) is the log's own
// enum; the report reads it into a Status.
type Status string

// Statuses. A run is planned (--dry-run), queued, running, then succeeded, failed or interrupted;
// skipped when another process of the sweep trains it. A sweep in the service may be cancelled.
const (
	StatusPlanned     Status = "planned"
	StatusQueued      Status = "queued"
	StatusRunning     Status = "running"
	StatusSucceeded   Status = "succeeded"
	StatusFailed      Status = "failed"
	StatusInterrupted Status = "interrupted" // stopped by a signal, not by a fault of the run
	StatusSkipped     Status = "skipped"     // another process of the sweep trains or trained it
	StatusStale       Status = "stale"       // claimed as running by a process of this host that is gone
	StatusCancelled   Status = "cancelled"
	StatusPruned      Status = "pruned"  // stopped for good by the sweep's scheduler
	StatusPaused      Status = "paused"  // stopped at an ASHA rung; a promotion resumes it
	StatusUnknown     Status = "unknown" // a log without session_end_info, or STATUS_UNKNOWN
)

// Done reports whether a run in this state needs nothing more of its sweep: it succeeded, another
// process has it, or the scheduler stopped or paused it.
func (s Status) Done() bool {
	switch s {
	case StatusSucceeded, StatusSkipped, StatusPruned, StatusPaused:
		return true
	}
	return false
}

// Stopped reports whether the sweep's scheduler ended the run before its last epoch, pruned for
// good or paused at a rung: its metrics are those of fewer epochs than a completed run's.
func (s Status) Stopped() bool { return s == StatusPruned || s == StatusPaused }

// Failed reports whether the run ended for a fault of its own or a signal, not by a decision of
// its sweep.
func (s Status) Failed() bool { return s == StatusFailed || s == StatusInterrupted }
