package trainer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/tfsweep/tfsweep/spec"
)

// Model is what Fit trains; *model.Model satisfies it. The model holds its data (the training and
// validation sets live in TensorFlow's memory), so Fit hands it only example indices. Fit never
// sees TensorFlow or TensorBoard: those live behind this interface and behind the callbacks.
type Model interface {
	// TrainSteps runs one optimizer step per batch, in order: batches[i] are the indices of step
	// i's examples in the training set. It writes each step's batch loss and accuracy, computed
	// before the step's update, to losses[i] and accuracies[i].
	TrainSteps(batches [][]int32, losses, accuracies []float32) error
	// Validate returns the loss and accuracy over the whole validation set.
	Validate() (loss, acc float64, err error)
	Iterations() int64
}

// FitData is one run's data as Fit sees it. Order returns an epoch's example order, a permutation
// of the TrainExamples indices (shuffled per epoch); Fit cuts it into batches, the last partial
// batch kept, as Keras does.
type FitData struct {
	TrainExamples int
	Order         func(epoch int) []int32
}

// LearningRater is a Model whose optimizer's learning rate can be read and set, as Keras'
// model.optimizer.learning_rate. LearningRate is the rate the next step uses (a schedule's value at
// the current iteration); SetLearningRate fails when the rate comes from a schedule, as Keras'
// setter does. Fit reports it in EpochEnd.LearningRate, and ReduceLROnPlateau needs it.
type LearningRater interface {
	LearningRate() (float64, error)
	SetLearningRate(float64) error
}

// WeightSnapshotter is a Model whose weights can be copied and put back, as Keras'
// model.get_weights and set_weights; EarlyStopping with RestoreBestWeights needs it. A snapshot is
// opaque to trainer and must not change when the model trains on.
type WeightSnapshotter interface {
	SnapshotWeights() (any, error)
	RestoreWeights(snapshot any) error
}

// FitOptions are the loop's settings.
type FitOptions struct {
	Epochs    int
	BatchSize int
	// LearningRate is reported to callbacks as Keras' epoch_learning_rate when the model is not a
	// LearningRater; one that is reports its own current rate instead.
	LearningRate float64
	// History is the history Fit appends every epoch to and returns: a resumed run's earlier
	// epochs; nil starts an empty one.
	History *spec.History
	// InitialEpoch is Keras' initial_epoch: a resumed run trains epochs InitialEpoch..Epochs-1, its
	// global step continuing from the model's Iterations.
	InitialEpoch int
	// Resume, when not nil, runs after every OnTrainBegin and before the first step: it puts back
	// the state an earlier attempt saved (callbacks' counters), which OnTrainBegin resets, as Keras'
	// BackupAndRestore does after on_train_begin.
	Resume func() error
	// StepsPerCall is Keras' steps_per_execution: the batches given to each TrainSteps call; 0 or 1
	// = one. Every step still gets its OnBatchEnd, after the call that trained it; cancellation and
	// ErrStopTraining take effect once a call's steps are all reported, as in Keras.
	StepsPerCall int
}

// ErrNonFiniteLoss stops a run whose loss became NaN or ±Inf, as Keras' TerminateOnNaN does.
var ErrNonFiniteLoss = errors.New("TerminateOnNaN: the loss is not finite")

// ErrStopTraining, returned (or wrapped) by any hook, asks Fit to end the run successfully, as
// setting Keras' model.stop_training = True does. It is a request, not a failure: the other
// callbacks of the same event still run, and Fit stops where Keras checks the flag, after every
// batch's OnBatchEnd calls (then validates and ends that epoch as usual) and after every epoch's
// OnEpochEnd calls. TrainEnd.Err stays nil and TrainEnd.StoppedEarly is set.
var ErrStopTraining = errors.New("stop training")

// Callback observes training the way a Keras callback does: it is any value with one or more of
// the hooks below (TrainBeginner, BatchEnder, EpochEnder, TrainEnder), and implements only those it
// needs. An error from any hook stops the run (ErrStopTraining ends it successfully instead);
// OnTrainEnd is always called, also after an error or cancellation, so callbacks can close what
// they opened. Fit refuses a callback with no hook.
type Callback any

// The hooks a Callback may implement.
type (
	TrainBeginner interface{ OnTrainBegin(TrainBegin) error }
	BatchEnder    interface{ OnBatchEnd(BatchEnd) error }
	EpochEnder    interface{ OnEpochEnd(EpochEnd) error }
	TrainEnder    interface{ OnTrainEnd(TrainEnd) error }
)

// hooks are the callbacks sorted by the hooks they implement, in the order given.
type hooks struct {
	begin []TrainBeginner
	batch []BatchEnder
	epoch []EpochEnder
	end   []TrainEnder
}

func sortHooks(callbacks []Callback) (hooks, error) {
	var h hooks
	for _, cb := range callbacks {
		some := false
		if c, ok := cb.(TrainBeginner); ok {
			h.begin, some = append(h.begin, c), true
		}
		if c, ok := cb.(BatchEnder); ok {
			h.batch, some = append(h.batch, c), true
		}
		if c, ok := cb.(EpochEnder); ok {
			h.epoch, some = append(h.epoch, c), true
		}
		if c, ok := cb.(TrainEnder); ok {
			h.end, some = append(h.end, c), true
		}
		if !some {
			return hooks{}, fmt.Errorf("fit: callback %T has none of OnTrainBegin, OnBatchEnd, OnEpochEnd, OnTrainEnd", cb)
		}
	}
	return h, nil
}

// TrainBegin is sent before the first step.
type TrainBegin struct {
	Epochs        int
	StepsPerEpoch int
	TrainExamples int
	BatchSize     int
	// Model is the model being trained, as Keras gives its callbacks self.model: callbacks that
	// need more than Fit's events (ReduceLROnPlateau, EarlyStopping's restore) assert the optional
	// interfaces they need on it.
	Model Model
	// History is the run's history, as Keras' callbacks find it in self.model.history: an epoch
	// is in it before any callback's OnEpochEnd for that epoch runs.
	History *spec.History
}

// BatchEnd is sent after every optimizer step.
//
// Loss and Accuracy are Keras' batch logs: running means over the epoch so far, each batch weighted by
// its size (Keras 3 updates its loss tracker, a metrics.Mean, with sample_weight = batch size, and
// accuracy is a mean over examples). So they equal the loss and accuracy over all examples seen this
// epoch, and the last batch's values are the epoch's. BatchLoss is this batch's own loss.
type BatchEnd struct {
	Epoch        int   // 0-based
	Step         int64 // 1-based global batch count, not reset per epoch (Keras' batch_* step)
	StepInEpoch  int   // 1-based
	Size         int   // examples in this batch
	BatchLoss    float64
	Loss         float64
	Accuracy     float64
	EpochElapsed time.Duration // since the epoch's first step
}

// EpochEnd is sent after an epoch's validation: its metrics, with Seconds the epoch's steps and
// validation and SamplesPerSecond its training examples over them.
//
// LearningRate is the rate as Keras 3's TensorBoard logs epoch_learning_rate: the optimizer's rate
// read when this callback's OnEpochEnd runs. For a LearningRater model Fit reads it anew before
// each callback, so a callback after a ReduceLROnPlateau that cut the rate this epoch sees the new
// rate and one before it the old, as in Keras' list order. Otherwise FitOptions.LearningRate. The
// history holds the rate the first callback sees, the one the epoch trained with.
type EpochEnd struct {
	spec.EpochMetrics
	Iterations int64 // optimizer steps so far (Keras' optimizer.iterations)
}

// TrainEnd is sent once, last. Err is nil when every epoch completed or a callback stopped the run
// with ErrStopTraining.
type TrainEnd struct {
	EpochsCompleted int
	Iterations      int64
	// FitTime runs from the first train step to the end of the last completed epoch's validation.
	FitTime time.Duration
	// ValidationTime is the part of FitTime spent in Validate.
	ValidationTime time.Duration
	Err            error
	// StoppedEarly is set when a callback stopped the run with ErrStopTraining, even in the last
	// epoch (as Keras' EarlyStopping sets stopped_epoch whenever it sets stop_training);
	// StoppedEpoch is then the 0-based epoch that was the last, and 0 otherwise.
	StoppedEarly bool
	StoppedEpoch int
}

// Fit trains m for opts.Epochs epochs and validates it on the whole validation set after each one,
// and returns the history of the epochs that completed, as Keras' fit does. It stops early, with
// OnTrainEnd still called, when ctx is cancelled, a step fails, the loss is not finite, or a
// callback fails (all errors), or a callback returns ErrStopTraining (a success).
func Fit(ctx context.Context, m Model, data FitData, opts FitOptions, callbacks ...Callback) (*spec.History, error) {
	if opts.Epochs <= 0 || opts.BatchSize <= 0 || data.TrainExamples <= 0 || opts.InitialEpoch < 0 || opts.InitialEpoch >= opts.Epochs {
		return nil, fmt.Errorf("fit: epochs %d..%d of batch %d over %d examples", opts.InitialEpoch, opts.Epochs, opts.BatchSize, data.TrainExamples)
	}
	h, err := sortHooks(callbacks)
	if err != nil {
		return nil, err
	}
	if opts.History == nil {
		opts.History = &spec.History{}
	}
	f := fitLoop{model: m, data: data, opts: opts, hooks: h}
	end := f.run(ctx)
	var errs []error
	if end.Err != nil {
		errs = append(errs, end.Err)
	}
	for _, cb := range h.end {
		if err := cb.OnTrainEnd(end); err != nil {
			errs = append(errs, err)
		}
	}
	return opts.History, errors.Join(errs...)
}

type fitLoop struct {
	model Model
	data  FitData
	opts  FitOptions
	hooks hooks
	// stop is Keras' model.stop_training: set by a hook's ErrStopTraining, checked where Keras checks it.
	stop bool

	start        time.Time // the first train step
	step         int64     // global step: optimizer steps so far
	batches      [][]int32 // an epoch's batches, reused from epoch to epoch
	losses, accs []float32 // a call's, reused from call to call
}

// hookFailed records a hook's result: ErrStopTraining only raises the stop flag, any other error
// fails the run.
func (f *fitLoop) hookFailed(err error) bool {
	if errors.Is(err, ErrStopTraining) {
		f.stop = true
		return false
	}
	return err != nil
}

// run is the loop: begin, then each epoch's training, validation and end, until the last epoch,
// an error or a stop. The TrainEnd it returns is what every OnTrainEnd gets.
func (f *fitLoop) run(ctx context.Context) TrainEnd {
	var end TrainEnd
	if err := f.begin(); err != nil {
		end.Err = err
		return end
	}
	end.EpochsCompleted = f.opts.InitialEpoch
	for epoch := f.opts.InitialEpoch; epoch < f.opts.Epochs; epoch++ {
		epochStart := time.Now()
		if f.start.IsZero() {
			f.start = epochStart
		}
		metrics, examples, err := f.train(ctx, epoch, epochStart)
		if err == nil {
			err = f.validate(ctx, epoch, &metrics, &end)
		}
		if err != nil {
			end.Err = err
			return f.finish(end)
		}
		end.FitTime = time.Since(f.start)
		end.EpochsCompleted = epoch + 1
		e := EpochEnd{EpochMetrics: metrics, Iterations: f.model.Iterations()}
		e.Seconds = time.Since(epochStart).Seconds()
		if e.Seconds > 0 {
			e.SamplesPerSecond = float64(examples) / e.Seconds
		}
		if err := f.endEpoch(e); err != nil {
			end.Err = err
			return f.finish(end)
		}
		if f.stop {
			end.StoppedEarly, end.StoppedEpoch = true, epoch
			break
		}
	}
	end.Iterations = f.model.Iterations()
	return end
}

// begin calls every OnTrainBegin, then puts back a resumed run's state, as Keras' BackupAndRestore
// does after on_train_begin.
func (f *fitLoop) begin() error {
	begin := TrainBegin{
		Epochs:        f.opts.Epochs,
		StepsPerEpoch: (f.data.TrainExamples + f.opts.BatchSize - 1) / f.opts.BatchSize,
		TrainExamples: f.data.TrainExamples,
		BatchSize:     f.opts.BatchSize,
		Model:         f.model,
		History:       f.opts.History,
	}
	for _, cb := range f.hooks.begin {
		if err := cb.OnTrainBegin(begin); f.hookFailed(err) {
			return err
		}
	}
	if f.opts.Resume != nil {
		if err := f.opts.Resume(); err != nil {
			return fmt.Errorf("resume: %w", err)
		}
	}
	f.step = f.model.Iterations()
	perCall := max(1, f.opts.StepsPerCall)
	f.losses, f.accs = make([]float32, perCall), make([]float32, perCall)
	return nil
}

// train runs an epoch's steps, StepsPerCall batches per call, and returns its training metrics
// (Keras' means over the examples, each batch weighted by its size) and its examples.
func (f *fitLoop) train(ctx context.Context, epoch int, epochStart time.Time) (spec.EpochMetrics, int, error) {
	order := f.data.Order(epoch)
	if len(order) != f.data.TrainExamples {
		return spec.EpochMetrics{}, 0, fmt.Errorf("epoch %d: an order of %d examples for a training set of %d", epoch, len(order), f.data.TrainExamples)
	}
	f.batches = f.batches[:0]
	for i := 0; i < len(order); i += f.opts.BatchSize {
		f.batches = append(f.batches, order[i:min(i+f.opts.BatchSize, len(order))])
	}
	var sumLoss, sumAcc float64
	examples, inEpoch := 0, 0
	perCall := len(f.losses)
	for first := 0; first < len(f.batches); first += perCall {
		if err := ctx.Err(); err != nil {
			return spec.EpochMetrics{}, 0, fmt.Errorf("interrupted in epoch %d: %w", epoch, err)
		}
		call := f.batches[first:min(first+perCall, len(f.batches))]
		losses, accs := f.losses[:len(call)], f.accs[:len(call)]
		if err := f.model.TrainSteps(call, losses, accs); err != nil {
			if len(call) == 1 {
				return spec.EpochMetrics{}, 0, fmt.Errorf("epoch %d, batch %d: %w", epoch, first+1, err)
			}
			return spec.EpochMetrics{}, 0, fmt.Errorf("epoch %d, batches %d-%d: %w", epoch, first+1, first+len(call), err)
		}
		for j, batch := range call {
			f.step++
			inEpoch++
			n, loss := len(batch), losses[j]
			if !finite(float64(loss)) {
				return spec.EpochMetrics{}, 0, fmt.Errorf("%w: epoch %d, batch %d (global step %d): loss %v", ErrNonFiniteLoss, epoch, inEpoch, f.step, loss)
			}
			sumLoss += float64(loss) * float64(n)
			sumAcc += float64(accs[j]) * float64(n)
			examples += n
			b := BatchEnd{
				Epoch: epoch, Step: f.step, StepInEpoch: inEpoch, Size: n, BatchLoss: float64(loss),
				Loss: sumLoss / float64(examples), Accuracy: sumAcc / float64(examples),
				EpochElapsed: time.Since(epochStart),
			}
			for _, cb := range f.hooks.batch {
				if err := cb.OnBatchEnd(b); f.hookFailed(err) {
					return spec.EpochMetrics{}, 0, err
				}
			}
		}
		if f.stop {
			// Keras breaks out of the epoch here and still validates and ends it.
			break
		}
	}
	if examples == 0 {
		return spec.EpochMetrics{}, 0, fmt.Errorf("epoch %d: no training batches", epoch)
	}
	m := spec.EpochMetrics{Epoch: epoch, Loss: sumLoss / float64(examples), Accuracy: sumAcc / float64(examples)}
	return m, examples, nil
}

// validate evaluates the epoch on the whole validation set, its time added to end's.
func (f *fitLoop) validate(ctx context.Context, epoch int, m *spec.EpochMetrics, end *TrainEnd) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted in epoch %d: %w", epoch, err)
	}
	valStart := time.Now()
	loss, acc, err := f.model.Validate()
	end.ValidationTime += time.Since(valStart)
	if err != nil {
		return fmt.Errorf("epoch %d: validation: %w", epoch, err)
	}
	if !finite(loss) {
		return fmt.Errorf("%w: epoch %d: validation loss %v", ErrNonFiniteLoss, epoch, loss)
	}
	m.ValLoss, m.ValAccuracy = loss, acc
	return nil
}

// endEpoch adds the epoch to the history and calls every OnEpochEnd, each with the model's
// learning rate as it is when the callback runs; the history holds the first callback's.
func (f *fitLoop) endEpoch(e EpochEnd) error {
	rater, hasRate := f.model.(LearningRater)
	e.LearningRate = f.opts.LearningRate
	readRate := func() error {
		if !hasRate {
			return nil
		}
		lr, err := rater.LearningRate()
		if err != nil {
			return fmt.Errorf("epoch %d: learning rate: %w", e.Epoch, err)
		}
		e.LearningRate = lr
		return nil
	}
	if err := readRate(); err != nil {
		return err
	}
	f.opts.History.Append(e.EpochMetrics)
	for i, cb := range f.hooks.epoch {
		if i > 0 {
			if err := readRate(); err != nil {
				return err
			}
		}
		if err := cb.OnEpochEnd(e); f.hookFailed(err) {
			return err
		}
	}
	return nil
}

// finish fills in what a stopped run reached. FitTime keeps the last completed epoch's value, so it
// never counts a half epoch.
func (f *fitLoop) finish(end TrainEnd) TrainEnd {
	end.Iterations = f.model.Iterations()
	if end.EpochsCompleted == f.opts.InitialEpoch && !f.start.IsZero() {
		end.FitTime = time.Since(f.start)
	}
	return end
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
