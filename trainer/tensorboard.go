package trainer

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/summary"
)

// Weight is one variable's value for a histogram.
type Weight struct {
	Name   string // the Keras path inside the model: "dense/kernel", "batch_normalization/moving_mean"
	Values []float32
}

// Inspectable is what the TensorBoard callback reads from the model besides Fit's events: the
// weights for histograms, and the graphs for the Graphs dashboard. Any method may be left to return
// nil data; *model.Model has them all through a small adapter in the worker.
type Inspectable interface {
	Weights() ([]Weight, error)
	GraphDef() ([]byte, error)  // a serialized GraphDef
	KerasJSON() ([]byte, error) // Keras' model.to_json(), TensorBoard's conceptual graph
}

// TensorBoardOptions configure the TensorBoard callback.
type TensorBoardOptions struct {
	// UpdateFreq writes batch_loss and batch_accuracy every UpdateFreq steps (Keras' update_freq as a
	// number); 0 writes none.
	UpdateFreq int
	// Model, when not nil, is asked for the graphs at the start and the weights at every epoch end
	// (histogram_freq=1, write_graph=True).
	Model Inspectable
	// ModelName prefixes histogram tags as Keras 3 names its variables: "sequential" gives
	// sequential/dense/kernel/histogram, "" dense/kernel/histogram (a Functional model's).
	ModelName string
	// Config is Markdown written as the `config` text at step 0 of train/.
	Config string
	// Outcome, when not nil, gives Markdown written as the `outcome` text of train/ when training
	// ends (e.g. where early stopping stopped); "" writes nothing.
	Outcome func(TrainEnd) string
	// Best chooses the epoch whose metrics best_epoch_loss and best_epoch_accuracy repeat; the zero
	// value is the lowest validation loss. A scheduled search passes its scheduler's metric and mode,
	// so that the HParams sessions rank the runs as the scheduler did.
	Best spec.Objective
}

// TensorBoard is Keras' TensorBoard callback. In the run directory dir it writes
//   - train/: epoch_loss, epoch_accuracy, epoch_learning_rate at the 0-based epoch; batch_loss and
//     batch_accuracy every UpdateFreq steps at the 1-based global step; <model>/<weight>/histogram per
//     epoch; the GraphDef and the Keras model at step 0; the config text at step 0;
//   - validation/: epoch_loss, epoch_accuracy at the epoch, and evaluation_loss_vs_iterations,
//     evaluation_accuracy_vs_iterations at the optimizer iteration count;
//   - both, when training ends: best_epoch_loss and best_epoch_accuracy, the epoch_loss and
//     epoch_accuracy of the run history's best epoch by TensorBoardOptions.Best (the lowest validation
//     loss unless it says otherwise), at its step.
//
// Both writers are flushed at every epoch end and closed in OnTrainEnd whatever happened, so a
// failed or interrupted run keeps all it wrote.
type TensorBoard struct {
	train, val *summary.Writer
	opts       TensorBoardOptions
	history    *spec.History // the run's, from OnTrainBegin: a resumed run's earlier epochs too
}

var (
	_ TrainBeginner = (*TensorBoard)(nil)
	_ BatchEnder    = (*TensorBoard)(nil)
	_ EpochEnder    = (*TensorBoard)(nil)
	_ TrainEnder    = (*TensorBoard)(nil)
)

// NewTensorBoard opens the train/ and validation/ writers under dir, which must exist, and writes
// the config text.
func NewTensorBoard(dir string, opts TensorBoardOptions) (*TensorBoard, error) {
	tb := &TensorBoard{opts: opts}
	var err error
	if tb.train, err = summary.NewWriter(filepath.Join(dir, spec.TrainDir)); err != nil {
		return nil, err
	}
	if tb.val, err = summary.NewWriter(filepath.Join(dir, spec.ValidationDir)); err != nil {
		return nil, errors.Join(err, tb.train.Close())
	}
	if opts.Config != "" {
		if err := tb.train.Text("config", 0, opts.Config); err != nil {
			return nil, errors.Join(err, tb.Close())
		}
	}
	return tb, nil
}

func (tb *TensorBoard) OnTrainBegin(b TrainBegin) error {
	tb.history = b.History
	if tb.opts.Model == nil {
		return nil
	}
	graph, err := tb.opts.Model.GraphDef()
	if err != nil {
		return err
	}
	keras, err := tb.opts.Model.KerasJSON()
	if err != nil {
		return err
	}
	var errs []error
	if graph != nil {
		errs = append(errs, tb.train.Graph(graph))
	}
	if keras != nil {
		errs = append(errs, tb.train.KerasModel(keras))
	}
	return errors.Join(append(errs, tb.train.Flush())...)
}

func (tb *TensorBoard) OnBatchEnd(b BatchEnd) error {
	if tb.opts.UpdateFreq > 0 && b.Step%int64(tb.opts.UpdateFreq) == 0 {
		// Keras' batch logs are the epoch's running means, and so are batch_loss and batch_accuracy.
		return errors.Join(tb.train.Scalar(spec.TagBatchLoss, b.Step, b.Loss), tb.train.Scalar(spec.TagBatchAccuracy, b.Step, b.Accuracy))
	}
	return nil
}

func (tb *TensorBoard) OnEpochEnd(e EpochEnd) error {
	step := int64(e.Epoch)
	errs := []error{
		tb.train.Scalar(spec.TagEpochLoss, step, e.Loss),
		tb.train.Scalar(spec.TagEpochAccuracy, step, e.Accuracy),
		tb.train.Scalar(spec.TagEpochLearningRate, step, e.LearningRate),
		tb.val.Scalar("evaluation_loss_vs_iterations", e.Iterations, e.ValLoss),
		tb.val.Scalar("evaluation_accuracy_vs_iterations", e.Iterations, e.ValAccuracy),
		tb.val.Scalar(spec.TagEpochLoss, step, e.ValLoss),
		tb.val.Scalar(spec.TagEpochAccuracy, step, e.ValAccuracy),
	}
	if tb.opts.Model != nil {
		weights, err := tb.opts.Model.Weights()
		errs = append(errs, err)
		prefix := ""
		if tb.opts.ModelName != "" {
			prefix = tb.opts.ModelName + "/"
		}
		for _, w := range weights {
			errs = append(errs, tb.train.HistogramFloat32(prefix+w.Name+"/histogram", step, w.Values))
		}
	}
	errs = append(errs, tb.train.Flush(), tb.val.Flush())
	return errors.Join(errs...)
}

func (tb *TensorBoard) bestEpoch() (int, bool) {
	if tb.history == nil {
		return 0, false
	}
	return tb.history.BestEpochBy(tb.opts.Best)
}

// OnTrainEnd writes the best epoch's metrics and the outcome text, if any, and closes both writers.
func (tb *TensorBoard) OnTrainEnd(e TrainEnd) error {
	var errs []error
	if best, ok := tb.bestEpoch(); ok {
		m, step := tb.history.At(best), int64(best)
		errs = append(errs,
			tb.train.Scalar(spec.TagBestEpochLoss, step, m.Loss),
			tb.train.Scalar(spec.TagBestEpochAccuracy, step, m.Accuracy),
			tb.val.Scalar(spec.TagBestEpochLoss, step, m.ValLoss),
			tb.val.Scalar(spec.TagBestEpochAccuracy, step, m.ValAccuracy))
	}
	if tb.opts.Outcome != nil {
		if text := tb.opts.Outcome(e); text != "" {
			errs = append(errs, tb.train.Text("outcome", int64(e.EpochsCompleted), text))
		}
	}
	return errors.Join(append(errs, tb.Close())...)
}

// Close closes both writers; OnTrainEnd does it after training.
func (tb *TensorBoard) Close() error { return errors.Join(tb.train.Close(), tb.val.Close()) }

// HParams is the hparams plugin's session of one run, as Keras' hp.KerasCallback writes it: the
// session start (hyper-parameters and group name) when created, and in OnTrainEnd the session end
// with its status, beside the epochs_trained scalar and the status and reason texts (spec's tags).
type HParams struct {
	w    *summary.Writer
	opts HParamsOptions
}

// HParamsOptions configure the HParams callback.
type HParamsOptions struct {
	// End, when not nil, says how the session ended. Without it a run ends succeeded, or failed
	// after an error.
	End func(TrainEnd) SessionEnd
}

// SessionEnd is how a run's session ended: TensorBoard's status, and the run's own words for it
// when they say more (a scheduler's pruned or paused run ends with TensorBoard's failure or
// running; State and Reason say which and why).
type SessionEnd struct {
	Status summary.Status
	State  spec.Status // the `status` text; "" writes none
	Reason string      // the `reason` text; "" writes none
}

var _ TrainEnder = (*HParams)(nil)

// NewHParams writes the session start into the run directory dir (which must exist) and flushes
// it, so that even a run that fails to build shows in the HParams dashboard.
func NewHParams(dir string, start summary.SessionStart, opts HParamsOptions) (*HParams, error) {
	w, err := summary.NewWriter(dir)
	if err != nil {
		return nil, err
	}
	if start.StartTime.IsZero() {
		start.StartTime = time.Now()
	}
	if err := errors.Join(w.HParamsSessionStart(start), w.Flush()); err != nil {
		return nil, errors.Join(fmt.Errorf("hparams session start: %w", err), w.Close())
	}
	return &HParams{w: w, opts: opts}, nil
}

// OnTrainEnd records the epochs trained, the session's status and closes the writer.
func (h *HParams) OnTrainEnd(e TrainEnd) error {
	end := SessionEnd{Status: summary.StatusSuccess, State: spec.StatusSucceeded}
	if e.Err != nil {
		end = SessionEnd{Status: summary.StatusFailure, State: spec.StatusFailed}
	}
	if h.opts.End != nil {
		end = h.opts.End(e)
	}
	errs := []error{h.w.Scalar(spec.TagEpochsTrained, 0, float64(e.EpochsCompleted))}
	if end.State != "" {
		errs = append(errs, h.w.Text(spec.TagStatus, 0, string(end.State)))
	}
	if end.Reason != "" {
		errs = append(errs, h.w.Text(spec.TagReason, 0, end.Reason))
	}
	return errors.Join(append(errs, h.w.HParamsSessionEnd(end.Status, time.Now()), h.w.Close())...)
}
