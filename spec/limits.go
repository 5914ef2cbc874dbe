package spec

// MaxStepsPerCall bounds the batches a worker trains per TensorFlow call (--steps-per-call): the
// graph holds that many copies of the step.
const MaxStepsPerCall = 64

// EvalChunk is the most examples a worker evaluates per session call; a network with convolutions
// takes fewer, as many as keep its largest layer output small (model's evalChunkFor).
const EvalChunk = 10_000

// Exit codes of tfsweep's commands and of a sweep the service ran, which scripts and CI rely on.
const (
	ExitOK          = 0   // every run succeeded
	ExitRunFailed   = 1   // at least one run failed (or the command itself failed at run time)
	ExitBadInput    = 2   // bad flags, sweep file or data: nothing was trained
	ExitInterrupted = 130 // stopped by SIGINT/SIGTERM/SIGHUP, as shells report a Ctrl-C
)
