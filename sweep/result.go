package sweep

import (
	"bytes"
	"encoding/json"
)

// Sweep and run statuses.
const (
	StatusSucceeded   = "succeeded"
	StatusFailed      = "failed"
	StatusInterrupted = "interrupted"
	StatusPlanned     = "planned" // --dry-run
	StatusSkipped     = "skipped" // another process of the sweep trains or trained it
)

// Result is the machine-readable summary of a sweep (`tfsweep run --json`).
type Result struct {
	SweepDir    string      `json:"sweep_dir"`
	Status      string      `json:"status"` // StatusSucceeded, StatusFailed, StatusInterrupted or StatusPlanned
	WallSeconds float64     `json:"wall_seconds"`
	Runs        []RunResult `json:"runs"`
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
// N they can add up to N times the time they took), and the report with its figures.
type SweepTimings struct {
	Startup float64    `json:"startup_seconds"`
	Runs    RunTimings `json:"runs"`
	Report  float64    `json:"report_seconds"`
}

// RunResult is one run's outcome. In JSON every axis of the variant is a field of its own (by
// Axis.Key), beside the fields below.
type RunResult struct {
	Name            string  `json:"name"`
	Dir             string  `json:"dir"`
	Status          string  `json:"status"` // StatusSucceeded, StatusFailed, StatusSkipped or StatusPlanned
	Error           string  `json:"error"`
	Interrupted     bool    `json:"interrupted,omitempty"` // stopped by a signal, not by a fault of the run
	Variant         Variant `json:"-"`
	TrainExamples   int     `json:"train_examples"`
	Device          string  `json:"device,omitempty"` // where it trained, as TensorFlow names it
	EpochsCompleted int     `json:"epochs_completed"`
	// StoppedEpoch and BestEpoch are Keras EarlyStopping's stopped_epoch and best_epoch (0-based;
	// stopped_epoch 0 when it did not stop early); null without early stopping.
	StoppedEpoch *int     `json:"stopped_epoch"`
	BestEpoch    *int     `json:"best_epoch"`
	Final        *Metrics `json:"final"` // the last completed epoch; null if none completed
	History      Curves   `json:"history"`
	// FitSeconds runs from the first train step to the end of the last completed epoch's validation.
	FitSeconds float64 `json:"fit_seconds"`
	// SamplesPerSecond is epochs completed × training examples / FitSeconds.
	SamplesPerSecond float64 `json:"samples_per_second"`
	// Model is the run's exported SavedModel ("" unless it succeeded).
	Model   string      `json:"model"`
	Timings *RunTimings `json:"timings,omitempty"`
}

// MarshalJSON writes the fields above with the variant's axes spliced in after "error".
func (r RunResult) MarshalJSON() ([]byte, error) {
	type plain RunResult
	body, err := json.Marshal(plain(r))
	if err != nil {
		return nil, err
	}
	var axes bytes.Buffer
	for _, a := range Axes {
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

// Metrics are one epoch's values.
type Metrics struct {
	TrainLoss     float64 `json:"train_loss"`
	TrainAccuracy float64 `json:"train_accuracy"`
	ValLoss       float64 `json:"val_loss"`
	ValAccuracy   float64 `json:"val_accuracy"`
}

// Curves are the per-epoch values, index = epoch.
type Curves struct {
	TrainLoss     []float64 `json:"train_loss"`
	ValLoss       []float64 `json:"val_loss"`
	TrainAccuracy []float64 `json:"train_accuracy"`
	ValAccuracy   []float64 `json:"val_accuracy"`
}

// emptyCurves has empty, not null, lists in JSON.
func emptyCurves() Curves {
	return Curves{TrainLoss: []float64{}, ValLoss: []float64{}, TrainAccuracy: []float64{}, ValAccuracy: []float64{}}
}

// Append adds an epoch's metrics.
func (c *Curves) Append(e Epoch) {
	c.TrainLoss = append(c.TrainLoss, e.Loss)
	c.ValLoss = append(c.ValLoss, e.ValLoss)
	c.TrainAccuracy = append(c.TrainAccuracy, e.Accuracy)
	c.ValAccuracy = append(c.ValAccuracy, e.ValAccuracy)
}

// BestRun is the best run of a sweep and the path of its exported model.
type BestRun struct {
	Run     string  `json:"run"`
	ValLoss float64 `json:"val_loss"`
	Model   string  `json:"model"`
}
