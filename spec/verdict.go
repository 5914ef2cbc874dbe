package spec

// A sweep with a scheduler (median stopping, ASHA, Hyperband) decides after every epoch whether a
// run goes on. The front decides, since it sees every run's curve; the worker asks. A Job with
// Verdicts set makes the worker wait after each epoch's MessageEpoch for one Verdict line on its
// stdin, naming that run and epoch, before it trains the next epoch or ends the run. The wait costs
// a round trip per epoch; in exchange a run trains exactly the epochs the scheduler grants it, so a
// search with one worker makes the same decisions every time.

// Verdict actions.
const (
	VerdictContinue = "continue" // train the next epoch
	VerdictStop     = "stop"     // end the run now, for good: StatusPruned
	VerdictPause    = "pause"    // end the run now, resumable from this epoch's checkpoint: StatusPaused
)

// Verdict is the front's answer to a run's epoch.
type Verdict struct {
	Run    string `json:"run"`
	Epoch  int    `json:"epoch"` // 0-based, the epoch it answers
	Action string `json:"action"`
	Reason string `json:"reason,omitempty"` // e.g. "pruned at epoch 3 by asha: rank 7 of 9"
}

// Command is one line the front writes on a worker's stdin: a Job to train, a group of Jobs to train
// fused, or a Verdict on the epoch of a job in training.
type Command struct {
	*Job
	// Fused are trials that share a network shape, batch size, data and optimizer kind, trained
	// together in one graph (model.Fused). Each stays a run of its own: the worker reports each under
	// its own Job.Run, as it reports a lone Job, and ends each with its own MessageEnd; verdicts name
	// the member they answer.
	Fused   []Job    `json:"fused,omitempty"`
	Verdict *Verdict `json:"verdict,omitempty"`
}
