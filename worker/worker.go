// Package worker is the TensorFlow side of tfsweep: it takes runs (sweep.Job) from the front, builds
// each run's network through model, fits it with trainer's loop and callbacks, and reports progress
// back as sweep.Messages. It is the only package of the front's process tree that links TensorFlow;
// cmd/tfsweep-worker is its binary.
package worker

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"strconv"
	"time"

	"github.com/tfsweep/tfsweep/dataset"
	"github.com/tfsweep/tfsweep/model"
	"github.com/tfsweep/tfsweep/summary"
	"github.com/tfsweep/tfsweep/sweep"
	"github.com/tfsweep/tfsweep/trainer"
)

// progressEvery is how often a run's batch progress is reported: often enough for a live bar,
// seldom enough that the pipe costs nothing against a training step.
const progressEvery = 200 * time.Millisecond

// Serve trains the jobs read from in, one JSON line each, one after another, and writes their
// messages to out. It returns nil when in ends, or ctx's error once ctx is cancelled (the run in
// progress then stops at its next batch and is reported failed). The data of a data directory are
// loaded once and shared by every run of the worker.
func Serve(ctx context.Context, in io.Reader, out io.Writer) error {
	s := &server{out: json.NewEncoder(out), data: map[string]*data{}}
	jobs := make(chan sweep.Job)
	readErr := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			var job sweep.Job
			if err := json.Unmarshal(sc.Bytes(), &job); err != nil {
				readErr <- fmt.Errorf("worker: a line that is not a job: %w", err)
				return
			}
			select {
			case jobs <- job:
			case <-ctx.Done():
				return
			}
		}
		readErr <- sc.Err()
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-readErr:
			return err
		case job := <-jobs:
			if err := s.train(ctx, job); err != nil {
				return err
			}
		}
	}
}

type server struct {
	out  *json.Encoder
	data map[string]*data
}

// data are a data directory's splits, with the validation set converted once per scaling.
type data struct {
	train, test *dataset.Split
	validation  map[dataset.Scaling]validationSet
}

type validationSet struct {
	pixels []float32
	labels []int32
}

func (s *server) load(dir string) (*data, error) {
	if d, ok := s.data[dir]; ok {
		return d, nil
	}
	train, test, err := dataset.Load(dir)
	if err != nil {
		return nil, err
	}
	d := &data{train: train, test: test, validation: map[dataset.Scaling]validationSet{}}
	s.data[dir] = d
	return d, nil
}

func (d *data) validationSet(scale dataset.Scaling) ([]float32, []int32) {
	set, ok := d.validation[scale]
	if !ok {
		set.pixels, set.labels = d.test.Float32(scale)
		d.validation[scale] = set
	}
	return set.pixels, set.labels
}

func (s *server) send(m sweep.Message) error {
	if err := s.out.Encode(m); err != nil {
		return fmt.Errorf("worker: report to the front: %w", err)
	}
	return nil
}

// train runs one job and always reports its end; the error is only for a front that cannot be
// written to any more.
func (s *server) train(ctx context.Context, job sweep.Job) error {
	end := sweep.End{Status: sweep.StatusSucceeded, History: sweep.Curves{}}
	rep := &reporter{server: s, run: job.Run, end: &end}
	err := s.fit(ctx, job, rep)
	if err != nil {
		end.Status, end.Error = sweep.StatusFailed, err.Error()
		end.Interrupted = ctx.Err() != nil
	}
	if rep.err != nil {
		return rep.err
	}
	return s.send(sweep.Message{Kind: sweep.MessageEnd, Run: job.Run, End: &end})
}

// fit builds the run's directory, callbacks and model and runs trainer.Fit. The hparams session is
// opened first, so that even a model that fails to build leaves a run marked failed in TensorBoard.
func (s *server) fit(ctx context.Context, job sweep.Job, rep *reporter) error {
	v, err := sweep.DecodeVariant(job.Variant)
	if err != nil {
		return fmt.Errorf("the front sent a variant this worker cannot read: %w", err)
	}
	d, err := s.load(job.DataDir)
	if err != nil {
		return err
	}
	// Keras' validation_split: the last fraction of the (limited) training images, before shuffling.
	nTrain, nVal := v.Examples(d.train.Len())
	train := d.train.Head(nTrain)
	valPixels, valLabels := d.validationSet(v.Scale)
	validation := fmt.Sprintf("test set (%d images)", len(valLabels))
	if nVal > 0 {
		valPixels, valLabels = d.train.Slice(nTrain, nTrain+nVal).Float32(v.Scale)
		validation = fmt.Sprintf("validation_split %v: the last %d of the training images", v.ValidationSplit, nVal)
	}
	rep.end.TrainExamples = train.Len()
	if err := os.Mkdir(job.Dir, 0o755); err != nil {
		return fmt.Errorf("run directory: %w", err)
	}
	hp, err := trainer.NewHParams(job.Dir, summary.SessionStart{HParams: v.HParams(), GroupName: job.Group})
	if err != nil {
		return err
	}
	m, err := model.New(modelConfig(v, train.Features(), job))
	if err != nil {
		err = fmt.Errorf("build the model: %w", err)
		return errors.Join(err, hp.OnTrainEnd(trainer.TrainEnd{Err: err}))
	}
	defer m.Close()
	threads := "TensorFlow's default"
	if job.Threads > 0 {
		threads = strconv.Itoa(job.Threads)
	}
	rep.device, rep.threads = m.Device(), job.Threads
	config := sweep.ConfigMarkdown(job.Run, v,
		[2]string{"train_examples", strconv.Itoa(train.Len())}, [2]string{"validation", validation}, [2]string{"device", m.Device()},
		[2]string{"threads", threads}, [2]string{"tensorflow", model.TFVersion()})
	callbacks, stopper, err := kerasCallbacks(v)
	if err != nil {
		return errors.Join(err, hp.OnTrainEnd(trainer.TrainEnd{Err: err}))
	}
	tb, err := trainer.NewTensorBoard(job.Dir, trainer.TensorBoardOptions{
		UpdateFreq: job.LogEvery, Model: inspectable{m}, ModelName: "sequential", Config: config,
		Outcome: func(trainer.TrainEnd) string { return outcome(stopper) },
	})
	if err != nil {
		return errors.Join(err, hp.OnTrainEnd(trainer.TrainEnd{Err: err}))
	}
	if stopper != nil {
		defer func() {
			stopped, best := stopper.StoppedEpoch(), stopper.BestEpoch()
			rep.end.StoppedEpoch, rep.end.BestEpoch = &stopped, &best
		}()
	}
	fitData := trainer.FitData{
		TrainExamples: train.Len(),
		Epoch: func(epoch int) iter.Seq2[[]float32, []int32] {
			order := dataset.Permutation(train.Len(), v.Seed, epoch)
			return func(yield func([]float32, []int32) bool) {
				for b := range train.Batches(order, v.BatchSize, v.Scale) {
					if !yield(b.Pixels, b.Labels) {
						return
					}
				}
			}
		},
		ValPixels: valPixels,
		ValLabels: valLabels,
	}
	opts := trainer.FitOptions{Epochs: v.Epochs, BatchSize: v.BatchSize, LearningRate: v.LR}
	// Keras' order for callbacks=[tensorboard, early_stopping, reduce_lr]: TensorBoard logs the rate
	// the epoch trained with, before ReduceLROnPlateau lowers it for the next.
	return trainer.Fit(ctx, fitModel{m}, fitData, opts, append(append([]trainer.Callback{tb, hp}, callbacks...), rep)...)
}

// kerasCallbacks are the variant's EarlyStopping and ReduceLROnPlateau; stopper is the first or nil.
func kerasCallbacks(v sweep.Variant) (callbacks []trainer.Callback, stopper *trainer.EarlyStopping, err error) {
	if o := v.EarlyStopping.Options; o != nil {
		if stopper, err = trainer.NewEarlyStopping(*o); err != nil {
			return nil, nil, err
		}
		callbacks = append(callbacks, stopper)
	}
	if o := v.ReduceLR.Options; o != nil {
		r, err := trainer.NewReduceLROnPlateau(*o)
		if err != nil {
			return nil, nil, err
		}
		callbacks = append(callbacks, r)
	}
	return callbacks, stopper, nil
}

// outcome is the run's outcome text: where early stopping stopped, 1-based as Keras prints epochs.
func outcome(es *trainer.EarlyStopping) string {
	if es == nil {
		return ""
	}
	if es.StoppedEpoch() == 0 {
		return fmt.Sprintf("Early stopping did not stop the run; best epoch %d.", es.BestEpoch()+1)
	}
	return fmt.Sprintf("Early stopping stopped the run after epoch %d; best epoch %d.", es.StoppedEpoch()+1, es.BestEpoch()+1)
}

// fitModel is the model as trainer.Fit sees it: with weight snapshots for EarlyStopping's
// restore_best_weights (Weights returns fresh copies).
type fitModel struct{ *model.Model }

func (f fitModel) SnapshotWeights() (any, error) { return f.Weights() }
func (f fitModel) RestoreWeights(snapshot any) error {
	weights, ok := snapshot.([]model.Weight)
	if !ok {
		return fmt.Errorf("restore weights: a snapshot of %T", snapshot)
	}
	return f.SetWeights(weights)
}

// modelConfig is the variant as the model builds it.
func modelConfig(v sweep.Variant, features int, job sweep.Job) model.Config {
	cfg := model.DefaultConfig()
	cfg.Inputs = features
	cfg.Hidden = v.Hidden
	cfg.Init = v.Init
	cfg.BatchNorm = v.BatchNorm
	cfg.LearningRate = v.LR
	cfg.Seed = v.Seed
	cfg.Activation = v.Activation
	cfg.Optimizer = v.Optimizer
	cfg.Momentum = v.Momentum
	cfg.Nesterov = v.Nesterov
	cfg.Dropout = v.Dropout
	cfg.L2 = v.L2
	cfg.Schedule = v.Schedule
	cfg.Device = job.Device
	cfg.IntraOpThreads, cfg.InterOpThreads = job.Threads, job.Threads
	return cfg
}

// inspectable adapts *model.Model to the TensorBoard callback's view of weights.
type inspectable struct{ m *model.Model }

func (i inspectable) Weights() ([]trainer.Weight, error) {
	weights, err := i.m.Weights()
	if err != nil {
		return nil, err
	}
	out := make([]trainer.Weight, len(weights))
	for j, w := range weights {
		out[j] = trainer.Weight{Name: w.Name, Values: w.Values}
	}
	return out, nil
}
func (i inspectable) GraphDef() ([]byte, error)  { return i.m.GraphDef() }
func (i inspectable) KerasJSON() ([]byte, error) { return i.m.KerasJSON() }

// reporter is the callback that tells the front: the start, batch progress a few times a second,
// every epoch, and the totals for the end message.
type reporter struct {
	*server
	run     string
	end     *sweep.End
	device  string
	threads int
	err     error // the first failure to write to the front

	lastReport time.Time
	examples   int // this epoch's so far
}

func (r *reporter) report(m sweep.Message) error {
	if r.err == nil {
		r.err = r.send(m)
	}
	return r.err
}

func (r *reporter) OnTrainBegin(b trainer.TrainBegin) error {
	r.lastReport = time.Now()
	return r.report(sweep.Message{Kind: sweep.MessageBegin, Run: r.run, Begin: &sweep.Begin{
		Epochs: b.Epochs, StepsPerEpoch: b.StepsPerEpoch, TrainExamples: b.TrainExamples, Device: r.device, Threads: r.threads,
	}})
}

func (r *reporter) OnBatchEnd(b trainer.BatchEnd) error {
	if b.StepInEpoch == 1 {
		r.examples = 0
	}
	r.examples += b.Size
	if time.Since(r.lastReport) < progressEvery {
		return nil
	}
	r.lastReport = time.Now()
	perSecond := 0.0
	if s := b.EpochElapsed.Seconds(); s > 0 {
		perSecond = float64(r.examples) / s
	}
	return r.report(sweep.Message{Kind: sweep.MessageBatch, Run: r.run, Batch: &sweep.Progress{
		Epoch: b.Epoch, StepInEpoch: b.StepInEpoch, Loss: b.Loss, SamplesPerSecond: perSecond,
	}})
}

func (r *reporter) OnEpochEnd(e trainer.EpochEnd) error {
	epoch := sweep.Epoch{
		Epoch: e.Epoch, Loss: e.Loss, Accuracy: e.Accuracy, ValLoss: e.ValLoss, ValAccuracy: e.ValAccuracy,
		LearningRate: e.LearningRate, Seconds: e.Duration.Seconds(),
	}
	if s := e.Duration.Seconds(); s > 0 {
		epoch.SamplesPerSecond = float64(r.examples) / s
	}
	r.end.History.Append(epoch)
	return r.report(sweep.Message{Kind: sweep.MessageEpoch, Run: r.run, Epoch: &epoch})
}

func (r *reporter) OnTrainEnd(e trainer.TrainEnd) error {
	r.end.EpochsCompleted = e.EpochsCompleted
	r.end.Iterations = e.Iterations
	r.end.FitSeconds = e.FitTime.Seconds()
	return nil
}
