package sweep

import (
	"bytes"
	"encoding/json"

	"github.com/tfsweep/tfsweep/spec"
)

// Result is the machine-readable summary of a sweep (`tfsweep run --json`).
type Result struct {
	SweepDir    string      `json:"sweep_dir"`
	Status      spec.Status `json:"status"` // spec.StatusSucceeded, spec.StatusFailed, spec.StatusInterrupted or spec.StatusPlanned
	WallSeconds float64     `json:"wall_seconds"`
	// Parallel is how many runs trained at once and why (--parallel auto's choice, or the count given).
	Parallel *Parallelism `json:"parallel,omitempty"`
	// Fuse is whether trials trained fused, in which groups and why (--fuse, --fuse-group).
	Fuse *Fusion     `json:"fuse,omitempty"`
	Runs []RunResult `json:"runs"`
	// Report is the path of the written report.md ("" if it could not be written: ReportError).
	Report      string `json:"report,omitempty"`
	ReportError string `json:"report_error,omitempty"`
	// Best is the run with the lowest final validation loss and its model, as the report found it.
	Best *BestRun `json:"best,omitempty"`
	// Timings split the wall time; set by the command that ran the sweep.
	Timings *SweepTimings `json:"timings,omitempty"`
}

// SweepTimings split a sweep's wall time, in seconds: before the first run (flags, data check,
// plan), the runs' own timings summed over every run (so over the parallel slots: with --parallel
// N they can add up to N times the time they took), and the report with its figures. FirstStep is
// what a user waits for before training starts: from the command's start to the first run's first
// step (its worker's report that it began reaching the front), 0 when no run began.
type SweepTimings struct {
	Startup   float64         `json:"startup_seconds"`
	FirstStep float64         `json:"first_step_seconds"`
	Runs      spec.RunTimings `json:"runs"`
	Report    float64         `json:"report_seconds"`
}

// RunResult is one run's outcome. In JSON every axis of the variant is a field of its own (by
// spec.Axis.Key), beside the fields below.
type RunResult struct {
	Name          string       `json:"name"`
	Dir           string       `json:"dir"`
	Status        spec.Status  `json:"status"` // spec.StatusSucceeded, spec.StatusFailed, spec.StatusSkipped or spec.StatusPlanned
	Error         string       `json:"error"`
	Interrupted   bool         `json:"interrupted,omitempty"` // stopped by a signal, not by a fault of the run
	Reason        string       `json:"reason,omitempty"`      // why the scheduler pruned or paused it
	Variant       spec.Variant `json:"-"`
	TrainExamples int          `json:"train_examples"`
	Device        string       `json:"device,omitempty"` // where it trained, as TensorFlow names it
	// FusedGroup names the runs of the fused group its last attempt trained in, itself among them;
	// empty when it trained alone.
	FusedGroup      []string `json:"fused_group,omitempty"`
	EpochsCompleted int      `json:"epochs_completed"`
	// StoppedEpoch and BestEpoch are Keras EarlyStopping's stopped_epoch and best_epoch (0-based;
	// stopped_epoch 0 when it did not stop early); null without early stopping.
	StoppedEpoch *int               `json:"stopped_epoch"`
	BestEpoch    *int               `json:"best_epoch"`
	Final        *spec.EpochMetrics `json:"final"` // the last completed epoch; null if none completed
	History      spec.History       `json:"history"`
	// FitSeconds runs from the first train step to the end of the last completed epoch's validation.
	FitSeconds float64 `json:"fit_seconds"`
	// SamplesPerSecond is epochs completed × training examples / FitSeconds.
	SamplesPerSecond float64 `json:"samples_per_second"`
	// Model is the run's exported SavedModel ("" unless it succeeded); "saved_model" in JSON, since
	// "model" is the model axis.
	Model   string           `json:"saved_model"`
	Timings *spec.RunTimings `json:"timings,omitempty"`
}

// MarshalJSON writes the fields above with the variant's axes spliced in after "error".
func (r RunResult) MarshalJSON() ([]byte, error) {
	type plain RunResult
	body, err := json.Marshal(plain(r))
	if err != nil {
		return nil, err
	}
	var axes bytes.Buffer
	for _, a := range spec.Axes() {
		key, _ := json.Marshal(a.Key)
		value, err := json.Marshal(a.JSON(r.Variant))
		if err != nil {
			return nil, err
		}
		axes.WriteByte(',')
		axes.Write(key)
		axes.WriteByte(':')
		axes.Write(value)
	}
	at := bytes.Index(body, []byte(`,"train_examples"`))
	out := make([]byte, 0, len(body)+axes.Len())
	out = append(out, body[:at]...)
	out = append(out, axes.Bytes()...)
	return append(out, body[at:]...), nil
}

// BestRun is the best run of a sweep and the path of its exported model.
type BestRun struct {
	Run     string  `json:"run"`
	ValLoss float64 `json:"val_loss"`
	Model   string  `json:"model"`
}
