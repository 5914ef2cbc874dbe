package trainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tfsweep/tfsweep/model"
	"github.com/tfsweep/tfsweep/summary"
)

// runInfo is what a run's logs record about it besides the metrics.
type runInfo struct {
	Run
	Limit         int
	TrainExamples int
	Device        string
	Threads       int
}

// hparams are the session's hyper-parameters, under the names the sweep's experiment declares.
func (i runInfo) hparams() map[string]any {
	hp := make(map[string]any, len(experimentHParams))
	for _, h := range experimentHParams {
		hp[h.name] = h.value(i.Run)
	}
	return hp
}

// markdown is the run's full configuration as a Markdown table (the `config` text summary).
func (i runInfo) markdown() string {
	limit := "all"
	if i.Limit > 0 {
		limit = fmt.Sprint(i.Limit)
	}
	threads := "TensorFlow's default"
	if i.Threads > 0 {
		threads = fmt.Sprint(i.Threads)
	}
	rows := [][2]string{
		{"run", i.Name},
		{"init", i.Init},
		{"batchnorm", onOff(i.BatchNorm)},
		{"batch_size", fmt.Sprint(i.BatchSize)},
		{"epochs", fmt.Sprint(i.Epochs)},
		{"lr", fmt.Sprint(i.LR)},
		{"optimizer", "Adam"},
		{"hidden", i.HiddenString() + " (tanh)"},
		{"seed", fmt.Sprint(i.Seed)},
		{"scale", i.Scale},
		{"limit", limit},
		{"train_examples", fmt.Sprint(i.TrainExamples)},
		{"device", i.Device},
		{"threads", threads},
		{"tensorflow", model.TFVersion()},
	}
	var b strings.Builder
	b.WriteString("| setting | value |\n|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s |\n", r[0], r[1])
	}
	return b.String()
}

// inspectable is what the TensorBoard callback reads from the model besides Fit's events.
type inspectable interface {
	Weights() ([]model.Weight, error)
	GraphDef() ([]byte, error)
	KerasJSON() ([]byte, error)
}

// tensorBoard is the Keras TensorBoard callback (histogram_freq=1, write_graph=True,
// update_freq=logEvery) plus hp.KerasCallback: it writes
//   - <run>/train: epoch_loss, epoch_accuracy, epoch_learning_rate at the 0-based epoch; batch_loss
//     every logEvery steps at the 1-based global step; <weight>/histogram per epoch; the GraphDef
//     and the Keras model at step 0; the run's configuration as the `config` text at step 0;
//   - <run>/validation: epoch_loss, epoch_accuracy at the epoch, and evaluation_loss_vs_iterations,
//     evaluation_accuracy_vs_iterations at the optimizer iteration count;
//   - <run>: the hparams session start, and at the end its status (STATUS_SUCCESS or STATUS_FAILURE).
//
// Both metric writers are flushed at every epoch end, and everything is closed in OnTrainEnd whatever
// happened, so a failed or interrupted run keeps all it wrote.
type tensorBoard struct {
	session, train, val *summary.Writer
	info                runInfo
	logEvery            int
	model               inspectable
}

var _ Callback = (*tensorBoard)(nil)

// openTensorBoard creates the run directory (it must not exist) and its three writers, and writes
// the session start and the configuration text.
func openTensorBoard(dir string, info runInfo, logEvery int) (*tensorBoard, error) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("run directory: %w", err)
	}
	tb := &tensorBoard{info: info, logEvery: logEvery}
	var err error
	if tb.session, err = summary.NewWriter(dir); err != nil {
		return nil, err
	}
	if tb.train, err = summary.NewWriter(filepath.Join(dir, "train")); err != nil {
		return nil, errors.Join(err, tb.session.Close())
	}
	if tb.val, err = summary.NewWriter(filepath.Join(dir, "validation")); err != nil {
		return nil, errors.Join(err, tb.session.Close(), tb.train.Close())
	}
	err = errors.Join(
		tb.session.HParamsSessionStart(summary.SessionStart{HParams: info.hparams(), GroupName: info.Name, StartTime: time.Now()}),
		tb.session.Flush(),
		tb.train.Text("config", 0, info.markdown()),
	)
	if err != nil {
		return nil, errors.Join(err, tb.close())
	}
	return tb, nil
}

func (tb *tensorBoard) setModel(m inspectable) { tb.model = m }

func (tb *tensorBoard) OnTrainBegin(TrainBegin) error {
	if tb.model == nil {
		return nil
	}
	graph, err := tb.model.GraphDef()
	if err != nil {
		return err
	}
	keras, err := tb.model.KerasJSON()
	if err != nil {
		return err
	}
	return errors.Join(tb.train.Graph(graph), tb.train.KerasModel(keras), tb.train.Flush())
}

func (tb *tensorBoard) OnBatchEnd(b BatchEnd) error {
	if tb.logEvery > 0 && b.Step%int64(tb.logEvery) == 0 {
		// Keras' batch logs are the epoch's running mean, and so is batch_loss.
		return tb.train.Scalar("batch_loss", b.Step, b.Loss)
	}
	return nil
}

func (tb *tensorBoard) OnEpochEnd(e EpochEnd) error {
	step := int64(e.Epoch)
	errs := []error{
		tb.train.Scalar("epoch_loss", step, e.Loss),
		tb.train.Scalar("epoch_accuracy", step, e.Accuracy),
		tb.train.Scalar("epoch_learning_rate", step, e.LearningRate),
		tb.val.Scalar("evaluation_loss_vs_iterations", e.Iterations, e.ValLoss),
		tb.val.Scalar("evaluation_accuracy_vs_iterations", e.Iterations, e.ValAccuracy),
		tb.val.Scalar("epoch_loss", step, e.ValLoss),
		tb.val.Scalar("epoch_accuracy", step, e.ValAccuracy),
	}
	if tb.model != nil {
		weights, err := tb.model.Weights()
		errs = append(errs, err)
		for _, w := range weights {
			errs = append(errs, tb.train.HistogramFloat32(w.Name+"/histogram", step, w.Values))
		}
	}
	errs = append(errs, tb.train.Flush(), tb.val.Flush())
	return errors.Join(errs...)
}

// OnTrainEnd records the session's status and closes every writer.
func (tb *tensorBoard) OnTrainEnd(e TrainEnd) error {
	status := summary.StatusSuccess
	if e.Err != nil {
		status = summary.StatusFailure
	}
	return errors.Join(tb.session.HParamsSessionEnd(status, time.Now()), tb.close())
}

func (tb *tensorBoard) close() error {
	return errors.Join(tb.session.Close(), tb.train.Close(), tb.val.Close())
}

// experimentHParams are the axes declared to the HParams dashboard, in column order.
var experimentHParams = []struct {
	name  string
	value func(Run) any
}{
	{"init", func(r Run) any { return r.Init }},
	{"batchnorm", func(r Run) any { return r.BatchNorm }},
	{"batch_size", func(r Run) any { return float64(r.BatchSize) }},
	{"lr", func(r Run) any { return r.LR }},
	{"epochs", func(r Run) any { return float64(r.Epochs) }},
	{"hidden", func(r Run) any { return r.HiddenString() }},
	{"seed", func(r Run) any { return float64(r.Seed) }},
	{"scale", func(r Run) any { return r.Scale }},
}

// experimentMetrics are the metrics the HParams dashboard shows per session: Keras' epoch scalars of
// the session's validation/ and train/ sub-runs.
var experimentMetrics = []summary.MetricInfo{
	{Group: "validation", Tag: "epoch_loss", Dataset: summary.DatasetValidation},
	{Group: "validation", Tag: "epoch_accuracy", Dataset: summary.DatasetValidation},
	{Group: "train", Tag: "epoch_loss", Dataset: summary.DatasetTraining},
	{Group: "train", Tag: "epoch_accuracy", Dataset: summary.DatasetTraining},
}

// writeExperiment writes the hparams experiment at the sweep root: every axis with the values the
// sweep takes (a discrete domain, in first-seen order, so the dashboard can filter by value), and the
// four epoch metrics.
func writeExperiment(dir string, runs []Run, created time.Time) error {
	exp := summary.Experiment{Name: filepath.Base(dir), TimeCreated: created, Metrics: experimentMetrics}
	for _, hp := range experimentHParams {
		var values []any
		seen := map[any]bool{}
		for _, r := range runs {
			v := hp.value(r)
			if !seen[v] {
				seen[v] = true
				values = append(values, v)
			}
		}
		exp.HParams = append(exp.HParams, summary.HParamInfo{Name: hp.name, Discrete: values})
	}
	w, err := summary.NewWriter(dir)
	if err != nil {
		return err
	}
	return errors.Join(w.HParamsExperiment(exp), w.Close())
}
