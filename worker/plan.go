package worker

import (
	"fmt"
	"reflect"
	"runtime"

	"github.com/tfsweep/tfsweep/model"
	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/trainer"
)

// runPlan is what a worker trains for a job, worked out from the job, its variant and the size of
// the data alone: the model, the loop's settings, the examples and the callbacks. Every axis of the
// variant changes some part of it.
type runPlan struct {
	model       model.Config
	fit         trainer.FitOptions // without a resumed run's InitialEpoch and Resume
	shuffleSeed int64              // of the per-epoch orders (dataset.Permutation)
	train, val  setKey
	validation  string // what validates, as the run's config text says
	// The Keras callbacks beside TensorBoard and HParams; nil is none.
	earlyStopping   *spec.EarlyStoppingOptions
	reduceLR        *spec.ReduceLROnPlateauOptions
	keepCheckpoints int
}

func (p runPlan) trainExamples() int { return p.train.to - p.train.from }

// dataShape is what a plan needs of the data: the examples in each split, the features of one, the
// classes.
type dataShape struct{ train, test, features, classes int }

// planRun is the plan of a job on data of that shape. gpu is asked only when the job's device leaves
// the choice to the worker.
func planRun(job spec.Job, v spec.Variant, data dataShape, gpu func() bool) (runPlan, error) {
	cpus := job.CPUs
	if cpus == 0 {
		// The CPUs this process may use, as the front counts them (GOMAXPROCS honours the affinity
		// mask and a cgroup's CPU quota, where NumCPU sees every CPU of a container's node).
		cpus = runtime.GOMAXPROCS(0)
	}
	cfg, err := modelConfig(v, data, job, gpu, cpus)
	if err != nil {
		return runPlan{}, err
	}
	cfg.KeepValidationProbabilities = job.PicturesEvery > 0
	p := runPlan{
		model:           cfg,
		fit:             trainer.FitOptions{Epochs: v.Epochs, BatchSize: v.BatchSize, LearningRate: v.LR, StepsPerCall: cfg.StepsPerCall},
		shuffleSeed:     v.Seed,
		earlyStopping:   v.EarlyStopping.Options,
		reduceLR:        v.ReduceLR.Options,
		keepCheckpoints: max(1, job.KeepCheckpoints),
	}
	// Keras' validation_split: the last fraction of the (limited) training images, before shuffling.
	nTrain, nVal := v.Examples(data.train)
	src := source(job)
	p.train = setKey{source: src, from: 0, to: nTrain, scale: v.Scale}
	p.val = setKey{source: src, test: true, from: 0, to: data.test, scale: v.Scale}
	p.validation = fmt.Sprintf("test set (%d images)", data.test)
	if nVal > 0 {
		p.val = setKey{source: src, from: nTrain, to: nTrain + nVal, scale: v.Scale}
		p.validation = fmt.Sprintf("validation_split %v: the last %d of the training images", v.ValidationSplit, nVal)
	}
	return p, nil
}

// modelConfig is the variant as the model builds it, on data of that shape, in a worker whose share of the
// machine is cpus CPUs.
func modelConfig(v spec.Variant, data dataShape, job spec.Job, gpu func() bool, cpus int) (model.Config, error) {
	cfg := model.DefaultConfig()
	// A model file's network as the job brought it, its settings applied by the front; else the
	// built-in MLP with the variant's settings.
	net, err := v.Network(data.features, data.classes)
	if err != nil {
		return cfg, fmt.Errorf("the variant's network: %w", err)
	}
	cfg.Network = net
	setModelAxes(&cfg, v)
	cfg.Device = job.Device
	if cfg.Network.Convolves() {
		// The choices below fit Dense layers; oneDNN's convolution and pooling kernels run best on
		// pools of a thread per core (model's BenchmarkConvnetSteps).
		n := job.Threads
		if n == 0 {
			n = job.CPUs
		}
		cfg.IntraOpThreads, cfg.InterOpThreads = n, n
		if cfg.Device == model.DeviceCPU || ((cfg.Device == model.DeviceAuto || cfg.Device == "") && !gpu()) {
			// Each kernel shares its work over the intra-op pool already; on the CPU the ops run one
			// after the other in the calling thread (model's single-threaded executor), which spends
			// less CPU time handing them to a second pool than running two at once gains.
			cfg.Device, cfg.InterOpThreads = model.DeviceCPU, 1
			if n != 1 {
				// One evaluation call leaves the pool idle while its thread runs the small ops
				// between kernels; a second call at once fills those gaps (model's
				// BenchmarkConvnetValidate: 14% more examples a second, the same per CPU-second).
				cfg.ValidateConcurrency = 2
			}
		}
		cfg.StepsPerCall = stepsPerCall(job, n, runSteps(v, data))
		return cfg, nil
	}
	if t := towers(job, v, gpu, cpus); t > 1 {
		cfg.Device = model.DeviceCPU
		cfg.Towers, cfg.IntraOpThreads, cfg.InterOpThreads = t, 1, t
		cfg.StepsPerCall = stepsPerCall(job, 0, runSteps(v, data))
		return cfg, nil
	}
	n := threads(job, v, gpu)
	if n == 1 && (cfg.Device == model.DeviceAuto || cfg.Device == "") && !gpu() {
		// Without a GPU, auto is the CPU; saying so lets a one-thread session run its ops in the
		// calling thread (model's single-threaded executor).
		cfg.Device = model.DeviceCPU
	}
	cfg.IntraOpThreads, cfg.InterOpThreads = n, n
	cfg.StepsPerCall = stepsPerCall(job, n, runSteps(v, data))
	if n == 1 && job.Threads == 0 {
		// The worker's CPUs are the run's: validation, one pass without steps to wait for, takes
		// them all (model's ValidateConcurrency).
		cfg.ValidateConcurrency = cpus
	}
	return cfg, nil
}

// setModelAxes copies the value of every axis with a ModelField into that field of cfg, so that an
// axis for a setting the model has needs no line here. A field that is not there, or not of the
// axis' type, panics: the table and model.Config disagree, which every worker test shows.
func setModelAxes(cfg *model.Config, v spec.Variant) {
	c := reflect.ValueOf(cfg).Elem()
	for _, a := range spec.Axes() {
		if a.ModelField == "" {
			continue
		}
		f := c.FieldByName(a.ModelField)
		if !f.IsValid() {
			panic("worker: axis " + a.Key + ": model.Config has no field " + a.ModelField)
		}
		f.Set(reflect.ValueOf(a.Get(v)))
	}
}

// singleThreadBatch is the largest batch that trains faster on one TensorFlow thread than on a pool
// of one per core: a small step's ops are too short to share, and a single thread runs them without
// handing work between threads (docs/benchmarks.md, "Threads, towers and steps per call").
const singleThreadBatch = 256

// threads is the thread count of a job's run: the job's, else one thread for a small batch on the
// CPU, else the worker's share of the CPUs (job.CPUs), or 0, TensorFlow's pools of one thread per
// core, when the share is all of them. gpu is asked only when the job's device is auto.
func threads(job spec.Job, v spec.Variant, gpu func() bool) int {
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
// or faster, above it towers beat TensorFlow's pools (docs/benchmarks.md, "Threads, towers and steps
// per call").
func towerRows(v spec.Variant) int {
	if v.BatchNorm {
		return 128
	}
	return 64
}

// towers is the number of towers a job's run splits its batches into (model.Config.Towers), each on
// an inter-op thread of its own with one thread per kernel: one per CPU of the worker's cpus, each of
// at least towerRows rows, when the worker chooses the threads of a run on the CPU; else 1. gpu is
// asked only when the job's device is auto and the batch is large enough.
func towers(job spec.Job, v spec.Variant, gpu func() bool, cpus int) int {
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
// has one thread, whose steps are short enough for the call's own cost to show, and trains at least
// chunkedRunSteps steps. Each step in a call adds a copy of the step to the graph, which the first
// call optimises; with the pools of one thread per core calls gain nothing (docs/benchmarks.md,
// "Threads, towers and steps per call"). The results are the same bits either way.
func stepsPerCall(job spec.Job, threads, steps int) int {
	switch {
	case job.StepsPerCall > 0:
		return job.StepsPerCall
	case threads == 1 && steps >= chunkedRunSteps:
		return 4
	}
	return 1
}

// chunkedRunSteps is the fewest steps a run takes in calls of 4: a call of four steps saves a little of
// every step, and its larger graph costs the first call more, which only a long run pays back. A short
// run (a search's trial on a few thousand images, stopped or paused after a few epochs) is quicker with
// one step per call. docs/benchmarks.md ("Start-up cut to the same bits") has the figures.
const chunkedRunSteps = 2000

// runSteps is the optimizer steps a run of v takes over all its epochs on data of that shape.
func runSteps(v spec.Variant, data dataShape) int {
	train, _ := v.Examples(data.train)
	if v.BatchSize <= 0 {
		return 0
	}
	return v.Epochs * ((train + v.BatchSize - 1) / v.BatchSize)
}

// groupPlan is a job's plan as a member of a fused group: model.Fused trains without towers and
// one step per call, so a lone run's towers become as many threads of one session, its other
// thread choices stay (one thread for a small batch on the CPU, the worker's share for a large one).
func groupPlan(p runPlan) runPlan {
	if t := p.model.Towers; t > 1 {
		p.model.IntraOpThreads, p.model.InterOpThreads, p.model.Towers = t, t, 1
	}
	p.model.StepsPerCall, p.fit.StepsPerCall = 1, 1
	return p
}
