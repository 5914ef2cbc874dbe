package model

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/tfsweep/tfsweep/model/catalog"
)

// Config describes the network and the session it trains in. The zero value is not usable: start
// from DefaultConfig.
type Config struct {
	Inputs       int     // features per example (784 for MNIST)
	Hidden       []int   // hidden widths; empty trains a softmax regression
	Classes      int     // output classes (10 for MNIST)
	Init         string  // kernel initialiser, any spelling ParseInit accepts
	BatchNorm    bool    // Dense → BatchNormalization → tanh in every hidden layer
	LearningRate float64 // Adam learning rate
	Seed         int64   // seeds every initialiser; the same seed gives the same initial weights
	Device       string  // "auto", "cpu" or "gpu"
	// VisibleGPUs is GPUOptions.visible_device_list ("1" pins a sweep worker to the second GPU; "" = all).
	// TensorFlow fixes the GPU mapping for the whole process at the first session that touches GPUs,
	// so every Model in one process must use the same value.
	VisibleGPUs string
	// IntraOpThreads and InterOpThreads size the Model's own TensorFlow thread pools; 0 lets
	// TensorFlow choose (one thread per core for each). TensorFlow's intra-op pool is process-wide
	// unless TF_OVERRIDE_GLOBAL_THREADPOOL=1 is in the environment, sized by the first session: a
	// process that trains Models with different thread counts needs it (tfsweep's front sets it for
	// its workers; this package changes no environment).
	IntraOpThreads, InterOpThreads int
}

// Defaults of the lab report's network and Keras' Adam.
const (
	DefaultLearningRate = 0.001
	DefaultInit         = "xavier"
)

// DefaultConfig returns the lab report's network: 784 → 128 → 64 → 10, tanh, Xavier (glorot_normal)
// initialisation, no batch norm, Adam at 0.001, placed automatically.
func DefaultConfig() Config {
	return Config{
		Inputs:       784,
		Hidden:       []int{128, 64},
		Classes:      10,
		Init:         DefaultInit,
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

// ParseInit validates an initialiser name and returns its canonical spelling (one of InitNames);
// catalog.LookupInit lists the spellings accepted. It needs no TensorFlow.
func ParseInit(name string) (string, error) { return catalog.ParseInit(name) }

// InitNames returns the canonical initialiser names.
func InitNames() []string { return catalog.InitNames() }

// validate checks the configuration and fills the defaults that a zero field stands for (learning
// rate, init, device); it reports every problem at once.
func (c Config) validate() (Config, error) {
	var errs []error
	if c.Inputs <= 0 {
		errs = append(errs, fmt.Errorf("inputs must be positive, got %d", c.Inputs))
	}
	if c.Classes < 2 {
		errs = append(errs, fmt.Errorf("classes must be at least 2, got %d", c.Classes))
	}
	for i, width := range c.Hidden {
		if width <= 0 {
			errs = append(errs, fmt.Errorf("hidden layer %d: width must be positive, got %d", i, width))
		}
	}
	if c.Init == "" {
		c.Init = DefaultInit
	}
	if canonical, err := ParseInit(c.Init); err != nil {
		errs = append(errs, err)
	} else {
		c.Init = canonical
	}
	if c.LearningRate == 0 {
		c.LearningRate = DefaultLearningRate
	}
	if !(c.LearningRate > 0) || math.IsInf(c.LearningRate, 0) {
		errs = append(errs, fmt.Errorf("learning rate must be positive and finite, got %v", c.LearningRate))
	}
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
	c.Hidden = slices.Clone(c.Hidden)
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("model config: %w", err)
	}
	return c, nil
}
