package spec

import (
	"fmt"
	"slices"
)

// The front and its workers speak JSON lines: the front writes one Job per line on a worker's stdin,
// the worker trains it and answers on its stdout with Messages about that run, the last of kind
// MessageEnd. A worker trains jobs one after another until its stdin closes. Its stderr is not part
// of the protocol: TensorFlow's own lines go there, and the front keeps them for a failure report.

// Job is one run for a worker to train.
type Job struct {
	Run   string `json:"run"`   // the run's name
	Index int    `json:"index"` // its place in the plan
	Dir   string `json:"dir"`   // the run directory to create (it must not exist)
	// Group is the HParams session group name: the run's path under the logdir, so that runs of the
	// same name in different sweeps stay different rows in TensorBoard.
	Group   string            `json:"group"`
	Variant map[string]string `json:"variant"` // every axis' Text, by key
	// Network is the variant's model file's network, read, resolved and with the sweep's settings
	// applied by the front (Variant.Model.Network); nil for the built-in MLP.
	Network *Network `json:"network,omitempty"`
	DataDir string   `json:"data_dir"`
	// Data is the data source, a dataset spec KIND:PATH[:key=value…]; empty means the IDX files in
	// DataDir. DataCache is where sources that decode (image folders, IDX, CSV, TFRecord) keep their decoded form.
	Data      string `json:"data,omitempty"`
	DataCache string `json:"data_cache,omitempty"`
	Device    string `json:"device"`  // auto, cpu or gpu
	Threads   int    `json:"threads"` // TensorFlow intra- and inter-op threads; 0 = the worker's choice
	// CPUs is the worker's share of the machine's CPUs, within which it chooses the threads when
	// Threads is 0; 0 = all of them.
	CPUs     int `json:"cpus,omitempty"`
	LogEvery int `json:"log_every"` // batch scalars every N steps; 0 = none
	// PicturesEvery writes the validation set's pictures (PicturesDir) every N epochs and after the
	// last; 0 = no pictures.
	PicturesEvery int `json:"pictures_every,omitempty"`
	// StepsPerCall is the batches trained per TensorFlow call; 0 = the worker's choice.
	StepsPerCall int `json:"steps_per_call,omitempty"`
	// Resume continues the run from its last checkpoint in Dir (which then exists), its logs cut
	// back to it; without a checkpoint the earlier attempt is moved aside and the run starts anew.
	Resume          bool `json:"resume,omitempty"`
	KeepCheckpoints int  `json:"keep_checkpoints,omitempty"` // the last N besides the best; 0 = 1
	// Verdicts makes the worker wait for the front's Verdict after every epoch (verdict.go).
	Verdicts bool `json:"verdicts,omitempty"`
	// Best chooses the run's best epoch: the one whose metrics end its logs (TagBestEpochLoss,
	// TagBestEpochAccuracy, what the HParams session shows) and whose checkpoint is kept. A
	// scheduled or TPE search sends the metric and mode it decides on; the zero value is the lowest
	// val_loss.
	Best Objective `json:"best,omitzero"`
	// DataSnapshot is the decoded form of the source's splits that the front read and validated before
	// any worker started: the worker reads them from it without checking the source's files again.
	DataSnapshot DataSnapshot `json:"data_snapshot,omitzero"`
}

// DataSnapshot names the entries of the data cache a data source's splits were read from, each with the
// fingerprint of the source's files it was decoded from. Whoever is handed one reads a split from its
// entry while the entry holds that fingerprint, so every run of a sweep trains on the data as the front
// read them. A split without an entry (an empty Path) is read from the source.
type DataSnapshot struct {
	Train DataEntry `json:"train,omitzero"`
	Test  DataEntry `json:"test,omitzero"`
}

// DataEntry is one split's entry in the data cache.
type DataEntry struct {
	Path        string `json:"path"`
	Fingerprint string `json:"fingerprint"`
}

// Split is the training or the test split's entry.
func (s *DataSnapshot) Split(test bool) *DataEntry {
	if test {
		return &s.Test
	}
	return &s.Train
}

// Message kinds.
const (
	MessageBegin = "begin"
	MessageBatch = "batch"
	MessageEpoch = "epoch"
	MessageEnd   = "end"
)

// Message is a worker's report on the run it trains.
type Message struct {
	Kind  string        `json:"kind"`
	Run   string        `json:"run"`
	Begin *Begin        `json:"begin,omitempty"`
	Batch *Progress     `json:"batch,omitempty"`
	Epoch *EpochMetrics `json:"epoch,omitempty"`
	End   *End          `json:"end,omitempty"`
}

// Begin is sent before the first step.
type Begin struct {
	Epochs        int    `json:"epochs"`
	StepsPerEpoch int    `json:"steps_per_epoch"`
	TrainExamples int    `json:"train_examples"`
	Device        string `json:"device"` // where the run actually trains, e.g. "CPU:0"
	Threads       int    `json:"threads"`
	Towers        int    `json:"towers,omitempty"` // model.Config.Towers, when more than one
	Fused         int    `json:"fused,omitempty"`  // the trials of the fused group it trains in, when more than one
}

// Progress is a batch-level update; workers send a few per second, not one per step.
type Progress struct {
	Epoch            int     `json:"epoch"` // 0-based
	StepInEpoch      int     `json:"step_in_epoch"`
	Loss             float64 `json:"loss"` // the epoch's running mean, as Keras' progress bar shows it
	SamplesPerSecond float64 `json:"samples_per_second"`
}

// End is a run's outcome.
type End struct {
	Status          Status  `json:"status"` // StatusSucceeded, StatusFailed, StatusPruned or StatusPaused
	Error           string  `json:"error,omitempty"`
	Reason          string  `json:"reason,omitempty"` // why a scheduler pruned or paused the run
	Interrupted     bool    `json:"interrupted,omitempty"`
	EpochsCompleted int     `json:"epochs_completed"`
	Iterations      int64   `json:"iterations"`
	FitSeconds      float64 `json:"fit_seconds"`
	TrainExamples   int     `json:"train_examples"`
	History         History `json:"history"`
	Model           string  `json:"model,omitempty"` // the exported SavedModel's directory
	// StoppedEpoch and BestEpoch are set with early stopping (RunResult's).
	StoppedEpoch *int        `json:"stopped_epoch,omitempty"`
	BestEpoch    *int        `json:"best_epoch,omitempty"`
	Timings      *RunTimings `json:"timings,omitempty"`
}

// RunTimings split a run's time in its worker, in seconds.
type RunTimings struct {
	// Setup runs from the job's arrival to the first step: the data (loaded and converted once per
	// worker, so mostly in its first run), the graph and session, the callbacks' files, a restore.
	Setup      float64 `json:"setup_seconds"`
	Train      float64 `json:"train_seconds"`      // the steps, with the callbacks that observe them
	Validation float64 `json:"validation_seconds"` // the epoch-end evaluations
	Export     float64 `json:"export_seconds"`     // the SavedModel
}

// Add sums t and u field by field.
func (t RunTimings) Add(u RunTimings) RunTimings {
	return RunTimings{Setup: t.Setup + u.Setup, Train: t.Train + u.Train, Validation: t.Validation + u.Validation, Export: t.Export + u.Export}
}

// EncodeVariant writes every axis of v as text, the form Job carries.
func EncodeVariant(v Variant) map[string]string {
	out := make(map[string]string, len(axes))
	for _, a := range axes {
		out[a.Key] = a.Text(v)
	}
	return out
}

// DecodeVariant reads a Job's variant back; an axis the map lacks takes its default, and a key that
// is no axis is an error (a front newer than its worker).
func DecodeVariant(m map[string]string) (Variant, error) {
	v := Defaults()
	for key, text := range m {
		a, ok := AxisByKey(key)
		if !ok {
			return Variant{}, fmt.Errorf("unknown axis %q", key)
		}
		value, err := a.Parse(text)
		if err != nil {
			return Variant{}, fmt.Errorf("%s: %w", key, err)
		}
		a.impl.set(&v, value)
	}
	v.Hidden = slices.Clone(v.Hidden)
	return v, nil
}

// The answers of the worker's own subcommands, as JSON on its stdout: `tfsweep-worker devices
// --json` lists Devices, `predict` Predictions and `evaluate` an Evaluation.

// Device is a compute device TensorFlow can place ops on.
type Device struct {
	Name        string // e.g. /job:localhost/replica:0/task:0/device:GPU:0
	Type        string // "CPU" or "GPU"
	MemoryBytes int64  // memory limit TensorFlow reports for the device
}

// Prediction is one image's class.
type Prediction struct {
	File          string    `json:"file"`
	Index         int       `json:"index"` // the image's place in an IDX file; 0 for a PNG
	Class         int64     `json:"class"`
	Probability   float32   `json:"probability"` // of Class
	Probabilities []float32 `json:"probabilities"`
}

// Evaluation is a model's loss and accuracy on a data set's test split.
type Evaluation struct {
	Model    string  `json:"model"`
	Examples int     `json:"examples"`
	Loss     float64 `json:"loss"` // sparse categorical cross-entropy of the served probabilities
	Accuracy float64 `json:"accuracy"`
}
