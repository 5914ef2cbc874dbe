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
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/tfsweep/tfsweep/dataset"
	"github.com/tfsweep/tfsweep/model"
	"github.com/tfsweep/tfsweep/spec"
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
// loaded once and shared by every run of the worker, and so are the last sets converted for training.
func Serve(ctx context.Context, in io.Reader, out io.Writer) error {
	s := &server{out: json.NewEncoder(out), data: map[string]*data{}}
	defer s.valSet.close()
	defer s.trainSet.close()
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
	// The sets the last run was bound to, kept for the next run that trains on the same examples:
	// one training and one validation set, so a sweep over --limit or --scale holds no more.
	trainSet, valSet cachedSet
	gpu              *bool // whether TensorFlow sees a GPU, once asked (hasGPU)
}

// data are a data directory's splits.
type data struct {
	train, test *dataset.Split
}

// cachedSet is a set of examples converted to float32 in TensorFlow's memory, with what it holds.
type cachedSet struct {
	key      setKey
	examples *model.Examples
}

// setKey names a set: examples [from, to) of a data directory's training or test split, scaled.
type setKey struct {
	dir      string
	test     bool
	from, to int
	scale    dataset.Scaling
}

func (s *server) load(dir string) (*data, error) {
	if d, ok := s.data[dir]; ok {
		return d, nil
	}
	train, test, err := dataset.Load(dir)
	if err != nil {
		return nil, err
	}
	d := &data{train: train, test: test}
	s.data[dir] = d
	return d, nil
}

// get returns the set the key names, converting it unless c already holds it.
func (c *cachedSet) get(key setKey, d *data) (*model.Examples, error) {
	if c.examples != nil && c.key == key {
		return c.examples, nil
	}
	c.close()
	split := d.train
	if key.test {
		split = d.test
	}
	part := split.Slice(key.from, key.to)
	e, err := model.NewExamples(part.Len(), part.Features(), func(pixels []float32, labels []int32) {
		part.Float32Into(pixels, labels, key.scale)
	})
	if err != nil {
		return nil, err
	}
	c.key, c.examples = key, e
	return e, nil
}

func (c *cachedSet) close() {
	if c.examples != nil {
		c.examples.Close()
		c.examples = nil
	}
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
	arrived := time.Now()
	timings := &sweep.RunTimings{}
	rep.end.Timings = timings
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
	valKey := setKey{dir: job.DataDir, test: true, from: 0, to: d.test.Len(), scale: v.Scale}
	validation := fmt.Sprintf("test set (%d images)", d.test.Len())
	if nVal > 0 {
		valKey = setKey{dir: job.DataDir, from: nTrain, to: nTrain + nVal, scale: v.Scale}
		validation = fmt.Sprintf("validation_split %v: the last %d of the training images", v.ValidationSplit, nVal)
	}
	rep.end.TrainExamples = train.Len()
	from, err := resumePoint(job, v)
	if err != nil {
		return err
	}
	hp, err := trainer.NewHParams(job.Dir, summary.SessionStart{HParams: v.HParams(), GroupName: job.Group})
	if err != nil {
		return err
	}
	cpus := job.CPUs
	if cpus == 0 {
		cpus = runtime.NumCPU()
	}
	cfg, err := modelConfig(v, train.Features(), job, s.hasGPU, cpus)
	var m *model.Model
	if err == nil {
		m, err = model.New(cfg)
	}
	if err != nil {
		err = fmt.Errorf("build the model: %w", err)
		return errors.Join(err, hp.OnTrainEnd(trainer.TrainEnd{Err: err}))
	}
	defer m.Close()
	if err := s.bind(m, setKey{dir: job.DataDir, from: 0, to: nTrain, scale: v.Scale}, valKey, d); err != nil {
		return errors.Join(err, hp.OnTrainEnd(trainer.TrainEnd{Err: err}))
	}
	ckptDir := filepath.Join(job.Dir, CheckpointsDir)
	threads := "TensorFlow's default"
	if n := m.Config().IntraOpThreads; n > 0 {
		threads = strconv.Itoa(n)
	}
	if t := m.Config().Towers; t > 1 {
		threads = fmt.Sprintf("%d towers of one thread", t)
	}
	rep.device, rep.threads, rep.towers = m.Device(), m.Config().IntraOpThreads, m.Config().Towers
	extra := [][2]string{{"train_examples", strconv.Itoa(train.Len())}, {"validation", validation}, {"device", m.Device()},
		{"threads", threads}, {"tensorflow", model.TFVersion()}}
	if from != nil {
		if err := m.RestoreCheckpoint(prefix(ckptDir, from.Epoch)); err != nil {
			return errors.Join(err, hp.OnTrainEnd(trainer.TrainEnd{Err: err}))
		}
		extra = append(extra, [2]string{"resumed", fmt.Sprintf("from %s after epoch %d", filepath.Base(prefix(ckptDir, from.Epoch)), from.Epoch+1)})
		rep.end.History = from.History
	}
	k, err := kerasCallbacks(v)
	if err != nil {
		return errors.Join(err, hp.OnTrainEnd(trainer.TrainEnd{Err: err}))
	}
	tb, err := trainer.NewTensorBoard(job.Dir, trainer.TensorBoardOptions{
		UpdateFreq: job.LogEvery, Model: inspectable{m}, ModelName: "sequential", Config: sweep.ConfigMarkdown(job.Run, v, extra...),
		Outcome: func(trainer.TrainEnd) string { return outcome(k.stopper) },
	})
	if err != nil {
		return errors.Join(err, hp.OnTrainEnd(trainer.TrainEnd{Err: err}))
	}
	if k.stopper != nil {
		defer func() {
			stopped, best := k.stopper.StoppedEpoch(), k.stopper.BestEpoch()
			rep.end.StoppedEpoch, rep.end.BestEpoch = &stopped, &best
		}()
	}
	if err := os.MkdirAll(ckptDir, 0o755); err != nil {
		return errors.Join(err, tb.Close(), hp.OnTrainEnd(trainer.TrainEnd{Err: err}))
	}
	ckpt := &checkpointer{dir: ckptDir, m: m, keep: max(1, job.KeepCheckpoints), es: k.stopper, rlr: k.reduceLR, end: rep.end, best: -1}
	order := make([]int32, train.Len())
	fitData := trainer.FitData{
		TrainExamples: train.Len(),
		Order: func(epoch int) []int32 {
			for i, j := range dataset.Permutation(train.Len(), v.Seed, epoch) {
				order[i] = int32(j)
			}
			return order
		},
	}
	opts := trainer.FitOptions{Epochs: v.Epochs, BatchSize: v.BatchSize, LearningRate: v.LR, StepsPerCall: m.Config().StepsPerCall}
	if from != nil {
		opts.InitialEpoch = from.Epoch + 1
		opts.Resume = func() error { return from.restore(m, ckptDir, k) }
		ckpt.previous = from.FitSeconds
		ckpt.epochs, ckpt.best, ckpt.bestVal = from.kept, from.bestEpoch, from.bestVal
		rep.previousFit = from.FitSeconds
	}
	if from != nil && from.finished(v) {
		// Killed after its last checkpoint: nothing is left to train, only the run's end.
		if err := from.restore(m, ckptDir, k); err != nil {
			return errors.Join(err, tb.Close(), hp.OnTrainEnd(trainer.TrainEnd{Err: err}))
		}
		if o := v.EarlyStopping.Options; o != nil && o.RestoreBestWeights && from.EarlyStopping != nil && from.EarlyStopping.HasWeights {
			if err := m.RestoreCheckpoint(prefix(ckptDir, from.EarlyStopping.BestEpoch)); err != nil {
				return errors.Join(err, tb.Close(), hp.OnTrainEnd(trainer.TrainEnd{Err: err}))
			}
		}
		rep.end.EpochsCompleted, rep.end.Iterations, rep.end.FitSeconds = from.Epoch+1, from.Iterations, from.FitSeconds
		if err := errors.Join(tb.Close(), hp.OnTrainEnd(trainer.TrainEnd{EpochsCompleted: from.Epoch + 1})); err != nil {
			return err
		}
		timings.Setup = time.Since(arrived).Seconds()
		return timedExport(m, job, v, rep.end)
	}
	// Keras' order for callbacks=[tensorboard, early_stopping, reduce_lr, backup_and_restore]:
	// TensorBoard logs the rate the epoch trained with, before ReduceLROnPlateau lowers it for the
	// next, and the checkpoint holds the callbacks' counters after the epoch.
	callbacks := append([]trainer.Callback{tb, hp}, k.list...)
	fitStart := time.Now()
	timings.Setup = fitStart.Sub(arrived).Seconds()
	err = trainer.Fit(ctx, fitModel{m}, fitData, opts, append(callbacks, rep, ckpt)...)
	timings.Train = time.Since(fitStart).Seconds() - rep.validation.Seconds()
	timings.Validation = rep.validation.Seconds()
	if err != nil {
		return err
	}
	return timedExport(m, job, v, rep.end)
}

// exportModel writes the run's SavedModel: its last epoch's weights, or the best one's after
// restore_best_weights.
// timedExport is exportModel, its time added to end's timings.
func timedExport(m *model.Model, job sweep.Job, v sweep.Variant, end *sweep.End) error {
	start := time.Now()
	err := exportModel(m, job, v, end)
	end.Timings.Export = time.Since(start).Seconds()
	return err
}

func exportModel(m *model.Model, job sweep.Job, v sweep.Variant, end *sweep.End) error {
	dir := filepath.Join(job.Dir, SavedModelDir)
	if err := m.ExportSavedModel(dir, inputScale(v.Scale)); err != nil {
		return fmt.Errorf("export the model: %w", err)
	}
	end.Model = dir
	return nil
}

// SavedModelDir is where a finished run's model is exported, in the format of
// tf.saved_model.save: serving_default takes raw pixels, the run's scaling inside.
const SavedModelDir = "saved_model"

func inputScale(s dataset.Scaling) float32 {
	if s == dataset.ScaleUnit {
		return 1.0 / 255
	}
	return 1
}

// resume is where a run picks up: its last checkpoint's state.
type resume struct {
	checkpointState
	kept      []int // epochs with checkpoints, ascending
	bestEpoch int
	bestVal   float64
}

// resumePoint prepares the run directory: a new run makes it (it must not exist); a resumed one
// with a checkpoint has its logs truncated to it; one without (killed in its first epoch) starts
// again, its earlier attempt moved aside.
func resumePoint(job sweep.Job, v sweep.Variant) (*resume, error) {
	if !job.Resume {
		if err := os.Mkdir(job.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("run directory: %w", err)
		}
		return nil, nil
	}
	ckptDir := filepath.Join(job.Dir, CheckpointsDir)
	epochs, err := savedCheckpoints(ckptDir)
	if err != nil {
		if err := sweep.RetireAttempt(job.Dir); err != nil {
			return nil, fmt.Errorf("retire the earlier attempt: %w", err)
		}
		if err := os.Mkdir(job.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("run directory: %w", err)
		}
		return nil, nil
	}
	// The latest checkpoint whose state reads (a power loss may have emptied the newest).
	var st checkpointState
	for i := len(epochs) - 1; ; i-- {
		if st, err = readState(ckptDir, epochs[i]); err == nil {
			epochs = epochs[:i+1]
			break
		}
		if i == 0 {
			return nil, fmt.Errorf("checkpoint state: %w", err)
		}
	}
	r := &resume{checkpointState: st, bestEpoch: -1}
	r.kept = epochs
	for e, vl := range st.History.ValLoss {
		if r.bestEpoch < 0 || vl < r.bestVal {
			r.bestEpoch, r.bestVal = e, vl
		}
	}
	if err := truncateLogs(job.Dir, st.Epoch, st.Iterations); err != nil {
		return nil, fmt.Errorf("truncate the logs to the checkpoint: %w", err)
	}
	return r, nil
}

// finished tells whether the checkpoint ends the run: its last epoch, or where early stopping
// stopped it.
func (r *resume) finished(v sweep.Variant) bool {
	return r.Epoch+1 >= v.Epochs || (r.EarlyStopping != nil && r.EarlyStopping.StoppedEpoch > 0)
}

// restore puts back the callbacks' counters after OnTrainBegin, and early stopping's snapshot of
// its best epoch's weights from that epoch's checkpoint.
func (r *resume) restore(m *model.Model, ckptDir string, k callbacks) error {
	if k.reduceLR != nil && r.ReduceLR != nil {
		k.reduceLR.SetState(*r.ReduceLR)
	}
	if k.stopper == nil || r.EarlyStopping == nil {
		return nil
	}
	var best any
	if r.EarlyStopping.HasWeights {
		if err := m.RestoreCheckpoint(prefix(ckptDir, r.EarlyStopping.BestEpoch)); err != nil {
			return fmt.Errorf("early stopping's best weights: %w", err)
		}
		w, err := m.Weights()
		if err != nil {
			return err
		}
		best = w
		if err := m.RestoreCheckpoint(prefix(ckptDir, r.Epoch)); err != nil {
			return err
		}
	}
	k.stopper.SetState(*r.EarlyStopping, best)
	return nil
}

// callbacks are the variant's Keras callbacks beside TensorBoard and HParams.
type callbacks struct {
	list     []trainer.Callback
	stopper  *trainer.EarlyStopping     // nil without early stopping
	reduceLR *trainer.ReduceLROnPlateau // nil without
}

// kerasCallbacks are the variant's EarlyStopping and ReduceLROnPlateau.
func kerasCallbacks(v sweep.Variant) (callbacks, error) {
	var k callbacks
	var err error
	if o := v.EarlyStopping.Options; o != nil {
		if k.stopper, err = trainer.NewEarlyStopping(*o); err != nil {
			return k, err
		}
		k.list = append(k.list, k.stopper)
	}
	if o := v.ReduceLR.Options; o != nil {
		if k.reduceLR, err = trainer.NewReduceLROnPlateau(*o); err != nil {
			return k, err
		}
		k.list = append(k.list, k.reduceLR)
	}
	return k, nil
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

// bind gives the model its training and validation sets, converted once per worker and reused
// while the runs train on the same examples.
func (s *server) bind(m *model.Model, trainKey, valKey setKey, d *data) error {
	train, err := s.trainSet.get(trainKey, d)
	if err != nil {
		return fmt.Errorf("training set: %w", err)
	}
	val, err := s.valSet.get(valKey, d)
	if err != nil {
		return fmt.Errorf("validation set: %w", err)
	}
	return m.Bind(train, val)
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

// singleThreadBatch is the largest batch that trains faster on one TensorFlow thread than on a pool
// of one per core: a small step's ops are too short to share, and a single thread runs them without
// handing work between threads (measured on 2 cores by model's BenchmarkTrainSteps, one thread on
// the single-threaded executor against the pools: about 1.5× at batch 64, 1.1× at 256 without batch
// norm and 1.45× with it; at 512 0.85× without and 1.04× with; 0.75-0.9× at 1024).
const singleThreadBatch = 256

// threads is the thread count of a job's run: the job's, else one thread for a small batch on the
// CPU, else the worker's share of the CPUs (job.CPUs), or 0, TensorFlow's pools of one thread per
// core, when the share is all of them. gpu is asked only when the job's device is auto.
func threads(job sweep.Job, v sweep.Variant, gpu func() bool) int {
	switch {
	case job.Threads > 0:
		return job.Threads
	case v.BatchSize > singleThreadBatch || job.Device == model.DeviceGPU:
		return job.CPUs
	case (job.Device == model.DeviceAuto || job.Device == "") && gpu():
		return job.CPUs
	}
	return 1
}

// towerRows is the fewest rows of a batch a tower takes: 64, or 128 with batch norm, which joins the
// towers at every layer both ways. Below it one thread on the single-threaded executor trains as fast
// or faster. Measured on 2 cores by model's BenchmarkTrainSteps, three rounds. Without batch norm:
// batch 128, 312k-336k samples/s on one thread (4 steps per call) against 349k-379k in two towers of
// 64 (306k-330k against 335k-363k in full runs); batch 64, 247k-272k against 219k-242k in two
// towers of 32. With batch norm, batch 128: 266k-299k on one thread against 254k-290k in two towers;
// batch 256, 308k-340k against 348k-367k. Larger batches train 1.2-1.3× faster in towers than on
// TensorFlow's pools, with and without batch norm.
func towerRows(v sweep.Variant) int {
	if v.BatchNorm {
		return 128
	}
	return 64
}

// towers is the number of towers a job's run splits its batches into (model.Config.Towers), each on
// an inter-op thread of its own with one thread per kernel: one per CPU of the worker's cpus, each of
// at least towerRows rows, when the worker chooses the threads of a run on the CPU; else 1. gpu is
// asked only when the job's device is auto and the batch is large enough.
func towers(job sweep.Job, v sweep.Variant, gpu func() bool, cpus int) int {
	rows := towerRows(v)
	switch {
	case job.Threads > 0 || job.Device == model.DeviceGPU || cpus < 2 || v.BatchSize < 2*rows:
		return 1
	case (job.Device == model.DeviceAuto || job.Device == "") && gpu():
		return 1
	}
	return min(cpus, v.BatchSize/rows)
}

// stepsPerCall is the batches a job's run trains per session call: the job's, else 4 when the run
// has one thread, whose steps are short enough for the call's own cost to show. Each step in a call
// adds a copy of the step to the graph, which the first call optimises. model's BenchmarkTrainSteps
// on 2 cores, one thread, on the single-threaded executor (which took most of the call's cost away),
// 4 steps per call against 1: batch 64 1.05× the samples/s without batch norm and 1.03-1.23× with it
// (20 and 80 ms more for the first call), batch 128 0.98-1.06×, batch 256 0.91-1.01×. With the pools
// of one thread per core calls gain nothing.
func stepsPerCall(job sweep.Job, threads int) int {
	switch {
	case job.StepsPerCall > 0:
		return job.StepsPerCall
	case threads == 1:
		return 4
	}
	return 1
}

// hasGPU reports whether TensorFlow sees a GPU, asked once per worker.
func (s *server) hasGPU() bool {
	if s.gpu == nil {
		devices, err := model.ListDevices()
		gpu := false
		for _, d := range devices {
			gpu = gpu || d.Type == "GPU"
		}
		// A failed listing leaves the choice of threads to TensorFlow, as with a GPU; the model's
		// own session reports the error.
		gpu = gpu || err != nil
		s.gpu = &gpu
	}
	return *s.gpu
}

// variantNetwork is the variant's MLP on examples of the given number of features: spec.MLP with
// the variant's initialiser, batch norm, activation, dropout and L2 applied.
func variantNetwork(v sweep.Variant, features int) (spec.Network, error) {
	s := spec.Settings{BatchNorm: &v.BatchNorm, Dropout: &v.Dropout, L2: &v.L2}
	if v.Init != "" {
		init := spec.Initializer(v.Init)
		s.Init = &init
	}
	if v.Activation != "" {
		act := spec.Activation(v.Activation)
		s.Activation = &act
	}
	return spec.MLP("mlp", features, v.Hidden, 10).Apply(s)
}

// modelConfig is the variant as the model builds it in a worker whose share of the machine is cpus CPUs.
func modelConfig(v sweep.Variant, features int, job sweep.Job, gpu func() bool, cpus int) (model.Config, error) {
	cfg := model.DefaultConfig()
	net, err := variantNetwork(v, features)
	if err != nil {
		return cfg, err
	}
	cfg.Network = net
	cfg.LearningRate = v.LR
	cfg.Seed = v.Seed
	cfg.Optimizer = v.Optimizer
	cfg.Momentum = v.Momentum
	cfg.Nesterov = v.Nesterov
	cfg.Schedule = v.Schedule
	cfg.Device = job.Device
	if t := towers(job, v, gpu, cpus); t > 1 {
		cfg.Device = model.DeviceCPU
		cfg.Towers, cfg.IntraOpThreads, cfg.InterOpThreads = t, 1, t
		cfg.StepsPerCall = stepsPerCall(job, 0)
		return cfg, nil
	}
	n := threads(job, v, gpu)
	if n == 1 && (cfg.Device == model.DeviceAuto || cfg.Device == "") && !gpu() {
		// Without a GPU, auto is the CPU; saying so lets a one-thread session run its ops in the
		// calling thread (model's single-threaded executor).
		cfg.Device = model.DeviceCPU
	}
	cfg.IntraOpThreads, cfg.InterOpThreads = n, n
	cfg.StepsPerCall = stepsPerCall(job, n)
	if n == 1 && job.Threads == 0 {
		// The worker's CPUs are the run's: validation, one pass without steps to wait for, takes
		// them all (model's ValidateConcurrency; 12.8 → 7.6 ms for the 10,000 test images on 2 cores).
		cfg.ValidateConcurrency = cpus
	}
	return cfg, nil
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
	towers  int
	err     error // the first failure to write to the front

	lastReport  time.Time
	examples    int     // this epoch's so far
	previousFit float64 // fit seconds of earlier attempts of a resumed run
	validation  time.Duration
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
		Towers: r.towers,
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
	r.validation = e.ValidationTime
	r.end.EpochsCompleted = e.EpochsCompleted
	r.end.Iterations = e.Iterations
	r.end.FitSeconds = r.previousFit + e.FitTime.Seconds()
	return nil
}
