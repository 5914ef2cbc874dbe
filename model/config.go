package model

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tfsweep/tfsweep/spec"
)

// Config describes the network and the session it trains in. The zero value is not usable: start
// from DefaultConfig.
type Config struct {
	// Network is the network trained, in Keras' terms; validate resolves it (automatic names,
	// inbound lists, defaults) and Model.Config returns it resolved. Its examples arrive flattened:
	// an image input of shape (28, 28, 1) takes 784 values per example in row-major order. Dropout
	// masks: the mask of the d-th Dropout layer at step t (t = Iterations() before the step) is drawn
	// with seed [Seed, 2³²·(d+1) + t] (StatelessRandomUniform ≥ rate, or 8 or 16 random bits an
	// element for rates such as 0.5: see dropoutKeep), so the same seed gives the same masks and a
	// resumed run the same mask at the same step. Kernel initialisers draw with seed
	// [Seed, k] for the k-th layer with a kernel. An L2 regulariser's penalty is added to the loss
	// that is differentiated and reported, by TrainStep and by Evaluate (Keras adds it to val_loss
	// too).
	Network spec.Network
	// Optimizer is the Keras 3 optimizer, any spelling ParseOptimizer accepts; "" = adam. Its
	// constants are Keras 3's defaults (see OptimizerNames).
	Optimizer string
	// LearningRate is the optimizer's (initial) learning rate; 0 = Keras' default for the optimizer
	// (KerasDefaultLearningRate: 0.01 for sgd, 0.001 otherwise). The step schedule ignores it.
	LearningRate float64
	// Momentum is SGD's and RMSprop's momentum, in [0, 1]; other optimizers reject a non-zero value.
	Momentum float64
	// Nesterov selects SGD's Nesterov momentum (Keras SGD(nesterov=True)); sgd only.
	Nesterov bool
	// WeightDecay is Keras' decoupled weight_decay (every optimizer accepts it; variable -= variable·wd·lr
	// before the update, on every trainable variable). 0 = none, except for adamw where 0 means Keras
	// AdamW's default 0.004.
	WeightDecay float64
	// Schedule is the learning-rate schedule, evaluated in the graph at the optimizer's iteration
	// count as Keras does; the zero value is the constant LearningRate.
	Schedule spec.Schedule
	Seed     int64  // seeds every initialiser and the dropout masks; the same seed gives the same run
	Device   string // "auto", "cpu" or "gpu"
	// VisibleGPUs is GPUOptions.visible_device_list ("1" pins a sweep worker to the second GPU; "" = all).
	// TensorFlow fixes the GPU mapping for the whole process at the first session that touches GPUs,
	// so every Model in one process must use the same value.
	VisibleGPUs string
	// IntraOpThreads and InterOpThreads size the Model's own TensorFlow thread pools; 0 lets
	// TensorFlow choose (one thread per core for each). TensorFlow's intra-op pool is process-wide
	// unless TF_OVERRIDE_GLOBAL_THREADPOOL=1 is in the environment, sized by the first session: a
	// process that trains Models with different thread counts needs it (tfsweep's front sets it for
	// its workers; this package changes no environment). On the cpu device one inter-op thread also
	// picks TensorFlow's single-threaded executor, which runs the ops in the calling thread.
	IntraOpThreads, InterOpThreads int
	// StepsPerCall is Keras' steps_per_execution: TrainSteps runs this many optimizer steps in one
	// session call, the K steps unrolled in the graph one after the other (so the result is bit for
	// bit that of K calls). 0 or 1 = one step per call; at most spec.MaxStepsPerCall. Each unrolled step
	// adds a copy of the training step to the graph.
	StepsPerCall int
	// Towers splits every batch into this many parts of (nearly) equal rows that the graph computes
	// side by side through the weights they share, as data-parallel replicas do on one machine: the
	// gradients are the towers' contributions summed, and batch norm still normalises over the whole
	// batch (its input is put back together for it). With one intra-op thread and an inter-op thread
	// per tower, each kernel runs on one thread and the towers fill the cores without the hand-offs of
	// splitting every op across them. The losses differ from one tower's in their last bits (the
	// weight gradients are summed in another order). 0 or 1 = one; at most MaxTowers.
	Towers int
	// ValidateConcurrency is how many parts of the bound validation set Validate evaluates at once,
	// each in a session call of its own: with one intra-op thread a call's kernels run on its calling
	// thread, so the parts use as many cores (the parts' sums add up in order, the same bits whatever
	// the timing). 0 or 1 = one part at a time, in spec.EvalChunk examples per call; at most MaxTowers.
	ValidateConcurrency int
	// KeepValidationProbabilities makes Validate fetch the softmax probabilities of every
	// validation example with its sums, for ValidationProbabilities: pictures of the validation
	// set then cost no second pass over it.
	KeepValidationProbabilities bool
}

// MaxTowers bounds Config.Towers: the graph holds that many copies of the forward and backward pass.
const MaxTowers = 64

// DefaultLearningRate is the lab report's, Keras' Adam's default.
const DefaultLearningRate = 0.001

// DefaultConfig returns the lab report's network (spec.LabReportMLP): 784 → 128 → 64 → 10, tanh,
// Xavier (glorot_normal) initialisation, no batch norm, no dropout, no L2, Adam at a constant 0.001,
// placed automatically.
func DefaultConfig() Config {
	return Config{
		Network:      spec.LabReportMLP(),
		Optimizer:    DefaultOptimizer,
		LearningRate: DefaultLearningRate,
		Device:       DeviceAuto,
	}
}

// Device placements accepted in Config.Device.
const (
	DeviceAuto = "auto"
	DeviceCPU  = "cpu"
	DeviceGPU  = "gpu"
)

// validate checks the configuration, resolves the network and fills the defaults that a zero field
// stands for (optimizer, learning rate, AdamW's weight decay, schedule kind, device) and makes the
// names canonical; it reports every problem at once, each naming its field.
func (c Config) validate() (Config, error) {
	var errs []error
	if net, err := c.Network.Resolve(); err != nil {
		errs = append(errs, fmt.Errorf("network: %w", err))
	} else {
		c.Network = net
	}
	errs = append(errs, c.validateOptimizer()...)
	if c.Schedule.Kind == "" {
		c.Schedule.Kind = spec.ScheduleConstant
	}
	if canonical, err := spec.ParseSchedule(c.Schedule.Kind); err != nil {
		errs = append(errs, fmt.Errorf("schedule: %w", err))
	} else {
		c.Schedule.Kind = canonical
		errs = append(errs, c.Schedule.Validate()...)
	}
	c.Schedule.Boundaries = slices.Clone(c.Schedule.Boundaries)
	c.Schedule.Values = slices.Clone(c.Schedule.Values)
	switch c.Device = strings.ToLower(c.Device); c.Device {
	case "":
		c.Device = DeviceAuto
	case DeviceAuto, DeviceCPU, DeviceGPU:
	default:
		errs = append(errs, fmt.Errorf("unknown device %q (want auto, cpu or gpu)", c.Device))
	}
	if c.IntraOpThreads < 0 || c.InterOpThreads < 0 {
		errs = append(errs, fmt.Errorf("thread counts must not be negative, got intra %d, inter %d", c.IntraOpThreads, c.InterOpThreads))
	}
	if c.StepsPerCall < 0 || c.StepsPerCall > spec.MaxStepsPerCall {
		errs = append(errs, fmt.Errorf("steps per call must be in [0, %d], got %d", spec.MaxStepsPerCall, c.StepsPerCall))
	}
	if c.Towers < 0 || c.Towers > MaxTowers {
		errs = append(errs, fmt.Errorf("towers must be in [0, %d], got %d", MaxTowers, c.Towers))
	}
	if c.ValidateConcurrency < 0 || c.ValidateConcurrency > MaxTowers {
		errs = append(errs, fmt.Errorf("validate concurrency must be in [0, %d], got %d", MaxTowers, c.ValidateConcurrency))
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("model config: %w", err)
	}
	return c, nil
}
