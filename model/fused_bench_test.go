package model

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tfsweep/tfsweep/modelfile"
	"github.com/tfsweep/tfsweep/spec"
)

// sweepSystems are the ways BenchmarkSweep trains T trials of the lab network:
//
//	fused        one Fused of all T trials on TensorFlow's default pools (one thread per core each)
//	fused-one-thread one Fused of all T trials on one intra-op and one inter-op thread
//	fused-halves two Fused of T/2 trials each, side by side on one thread each (the cores split as
//	             --parallel 2 splits them)
//	unfused      one Model after another, with the threads, towers and steps per call a worker with
//	             every core chooses (worker/plan.go: one thread and 4 steps per call below batch 128,
//	             else two towers); every Model is built and warmed before the timing, as the fused
//	             sessions are, so the figures compare training only
//	unfused-parallel2 two Models at a time, one thread and 4 steps per call each, as two workers of
//	             --parallel 2 train (here in one process, each session with its own one-thread pools)
var sweepSystems = []string{"fused", "fused-one-thread", "fused-halves", "unfused", "unfused-parallel2"}

// sweepBatches are the two kinds of sweep BenchmarkSweep trains:
//
//	own     every trial its own seed, so its own shuffled order (Fused.TrainStep)
//	shared  every trial the same seed, so the same batches, as in a sweep whose axes leave the seed
//	        alone (Fused.TrainSharedStep; the unfused Models train on the same batches too)
var sweepBatches = []string{"own", "shared"}

// sweepExamples is the training examples per trial per epoch: TFSWEEP_BENCH_EXAMPLES, default 4096.
func sweepExamples(b *testing.B) int {
	n := 4096
	if s := os.Getenv("TFSWEEP_BENCH_EXAMPLES"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n <= 0 {
			b.Fatalf("TFSWEEP_BENCH_EXAMPLES=%q: want a positive count", s)
		}
	}
	return n
}

// trainFLOPs is the matmul and convolution FLOPs of one training example of the configuration's
// network: the forward pass, every weight gradient and every input gradient but the first layer's.
func trainFLOPs(b *testing.B, cfg Config) float64 {
	net, err := cfg.Network.Resolve()
	if err != nil {
		b.Fatal(err)
	}
	s, err := net.Summary()
	if err != nil {
		b.Fatal(err)
	}
	var flops float64
	first := true
	for i, l := range net.Layers {
		out := s.Layers[i].Output
		var mac float64 // multiply-adds of the layer per example: its kernel at every output position
		switch {
		case l.Dense != nil:
			mac = float64(s.Layers[i].Trainable - biases(l.Dense.UseBias, l.Dense.Units))
		case l.Conv2D != nil:
			mac = float64(s.Layers[i].Trainable-biases(l.Conv2D.UseBias, l.Conv2D.Filters)) * float64(out[0]*out[1])
		default:
			continue
		}
		flops += 4 * mac // forward and weight gradient
		if !first {
			flops += 2 * mac
		}
		first = false
	}
	return flops
}

// biases is the bias weights of a layer of n units or filters.
func biases(use bool, n int) int64 {
	if use {
		return int64(n)
	}
	return 0
}

// sweepNetworks are the networks BenchmarkSweep trains, each with its batch-norm settings: the lab MLP
// (784 → 128 → 64 → 10, tanh), without and with batch norm after each hidden Dense, which Fused batches
// over the trials, and Keras' simple MNIST convnet (examples/convnet.yaml), which Fused trains as each
// trial's own layers side by side.
var sweepNetworks = []struct {
	name      string
	batchNorm []bool
}{
	{"mlp", []bool{false, true}},
	{"convnet", []bool{false}},
}

// BenchmarkSweep trains T = 2, 4, 8, 16 trials of each of sweepNetworks (varying initialiser and learning
// rate) at batch 64, 128 and 1024 on the first TFSWEEP_BENCH_EXAMPLES MNIST training images, each system of
// sweepSystems with each kind of sweepBatches, and reports trials/s (epochs of those examples per second,
// over all trials), trials per CPU-second of the process, GFLOP/s and the trainable weights of one trial
// (which scripts/bench_sweep holds JAX's network to). One untimed epoch first builds and warms every
// session; each timed iteration is one more epoch of every trial, each trial in its shuffled order or,
// shared, in the one order of all. scripts/bench_sweep runs it cell by cell, alternating with JAX and the
// matmul rate.
func BenchmarkSweep(b *testing.B) {
	train, _ := loadMNIST(b)
	n := sweepExamples(b)
	if n > train.Len() {
		b.Fatalf("TFSWEEP_BENCH_EXAMPLES=%d is more than the %d training images", n, train.Len())
	}
	pixels, labels := train.Head(n).Float32(spec.ScaleUnit)
	for _, system := range sweepSystems {
		for _, network := range sweepNetworks {
			for _, bn := range network.batchNorm {
				for _, batches := range sweepBatches {
					for _, trials := range []int{2, 4, 8, 16} {
						for _, batch := range []int{64, 128, 1024} {
							name := fmt.Sprintf("system=%s/network=%s/bn=%s/batches=%s/trials=%d/batch=%d", system, network.name, onOff(bn), batches, trials, batch)
							b.Run(name, func(b *testing.B) {
								cfgs := sweepConfigs(b, network.name, bn, trials, batches == "shared")
								benchmarkSweepCell(b, system, cfgs, batches == "shared", batch, newExamples(b, pixels, labels, 784))
							})
						}
					}
				}
			}
		}
	}
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

// benchmarkSweepCell trains trials of the lab network on set with system, timing one epoch of every
// trial per iteration after an untimed one.
func benchmarkSweepCell(b *testing.B, system string, cfgs []Config, shared bool, batch int, set *Examples) {
	trials := len(cfgs)
	epoch := sweepTrainer(b, system, shared, cfgs, set, batch)
	epoch(0) // builds and optimises every graph
	b.ResetTimer()
	cpuStart := cpuSeconds(b)
	epochs := 0
	for b.Loop() {
		epochs++
		epoch(epochs)
	}
	seconds := b.Elapsed().Seconds()
	b.ReportMetric(float64(trials*epochs)/seconds, "trials/s")
	b.ReportMetric(float64(trials*epochs)/(cpuSeconds(b)-cpuStart), "trials/cpu-s")
	b.ReportMetric(float64(trials*epochs*set.Len())*trainFLOPs(b, cfgs[0])/seconds/1e9, "GFLOP/s")
	s, err := cfgs[0].Network.Summary()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(s.Trainable), "params")
}

// cpuSeconds is the user and system CPU time of the process so far, all its threads: on a machine
// shared with other work, trials per CPU-second compare the systems' efficiency where their wall
// times mostly measure their share of the cores.
func cpuSeconds(b *testing.B) float64 {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		b.Fatal(err)
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano()).Seconds()
}

// sweepConfigs are T trials of the network (with batch norm or without) that differ in initialiser,
// learning rate and, unless they share their batches (and so their seed), seed.
func sweepConfigs(b *testing.B, network string, batchNorm bool, trials int, shared bool) []Config {
	base := DefaultConfig().Network
	if network == "convnet" {
		var err error
		if base, err = modelfile.Read(filepath.Join("..", "examples", "convnet.yaml")); err != nil {
			b.Fatal(err)
		}
	}
	base = withBatchNorm(base, batchNorm)
	inits := []string{"xavier", "glorot_uniform", "he_normal", "he_uniform"}
	cfgs := make([]Config, trials)
	for t := range cfgs {
		cfg := DefaultConfig()
		cfg.Network = withInit(base, inits[t%len(inits)])
		cfg.Device, cfg.Seed = DeviceCPU, int64(t+1)
		if shared {
			cfg.Seed = 1
		}
		cfg.LearningRate = 0.0005 * float64(1+t)
		cfgs[t] = cfg
	}
	return cfgs
}

// sweepTrainer builds the system's sessions for cfgs bound to set and returns a function that
// trains one epoch (its number seeds each trial's shuffling) of every trial, full batches only (a
// fused step takes one size for every trial); shared, every trial in one order.
func sweepTrainer(b *testing.B, system string, shared bool, cfgs []Config, set *Examples, batch int) func(epoch int) {
	order := func(epoch, trial int) [][]int32 {
		if shared {
			trial = 0
		}
		return epochBatches(set.Len(), batch, uint64(1000*trial+epoch))[:set.Len()/batch]
	}
	switch system {
	case "fused":
		return fusedTrainer(b, [][]Config{cfgs}, shared, set, order)
	case "fused-one-thread":
		return fusedTrainer(b, [][]Config{oneThread(cfgs)}, shared, set, order)
	case "fused-halves":
		halves := [][]Config{oneThread(cfgs[:len(cfgs)/2]), oneThread(cfgs[len(cfgs)/2:])}
		return fusedTrainer(b, halves, shared, set, order)
	case "unfused":
		return unfusedTrainer(b, cfgs, set, batch, 1, order)
	case "unfused-parallel2":
		return unfusedTrainer(b, cfgs, set, batch, 2, order)
	}
	b.Fatalf("unknown system %q", system)
	return nil
}

// oneThread is a copy of cfgs on one intra-op and one inter-op thread.
func oneThread(cfgs []Config) []Config {
	out := slices.Clone(cfgs)
	for i := range out {
		out[i].IntraOpThreads, out[i].InterOpThreads = 1, 1
	}
	return out
}

// fusedTrainer trains each group of trials as one Fused, the groups side by side; shared, through
// TrainSharedStep.
func fusedTrainer(b *testing.B, groups [][]Config, shared bool, set *Examples, order func(epoch, trial int) [][]int32) func(epoch int) {
	fs := make([]*Fused, len(groups))
	for i, g := range groups {
		fs[i] = newFused(b, g)
		if err := fs[i].Bind(set, set); err != nil {
			b.Fatal(err)
		}
	}
	return func(epoch int) {
		parallel(len(fs), func(i int) {
			orders := make([][][]int32, fs[i].Trials())
			for t := range orders {
				orders[t] = order(epoch, i*len(orders)+t)
			}
			fusedEpoch(b, fs[i], orders, shared)
		})
	}
}

// unfusedTrainer trains the trials as Models, slots of them at a time.
func unfusedTrainer(b *testing.B, cfgs []Config, set *Examples, batch, slots int, order func(epoch, trial int) [][]int32) func(epoch int) {
	models := make([]*Model, len(cfgs))
	for t, cfg := range cfgs {
		models[t] = newModel(b, workerThreads(cfg, batch, slots))
		if err := models[t].Bind(set, set); err != nil {
			b.Fatal(err)
		}
	}
	return func(epoch int) {
		parallel(slots, func(slot int) {
			for t := slot; t < len(models); t += slots {
				batches := order(epoch, t)
				losses, accs := make([]float32, len(batches)), make([]float32, len(batches))
				if err := models[t].TrainSteps(batches, losses, accs); err != nil {
					b.Error(err)
				}
			}
		})
	}
}

// workerThreads gives cfg the threads, towers and steps per call a worker of the sweep's share of
// the machine's two cores chooses (worker/plan.go): a convnet on the share's pool with its ops in turn;
// an MLP's small batch on one thread, 4 steps per call; a larger one (128 rows, 256 with batch norm,
// which joins the towers at every layer) in two towers.
func workerThreads(cfg Config, batch, parallel int) Config {
	cfg.IntraOpThreads, cfg.InterOpThreads, cfg.StepsPerCall = 1, 1, 4
	if cfg.Network.Convolves() {
		if parallel == 1 {
			cfg.IntraOpThreads, cfg.StepsPerCall = runtime.GOMAXPROCS(0), 1
		}
		return cfg
	}
	rows := 64
	if usesBatchNorm(cfg.Network) {
		rows = 128
	}
	if parallel == 1 && batch >= 2*rows {
		cfg.InterOpThreads, cfg.Towers = 2, 2
		if batch > 256 {
			cfg.StepsPerCall = 1
		}
	}
	return cfg
}

// usesBatchNorm reports whether the network has a BatchNormalization layer.
func usesBatchNorm(n spec.Network) bool {
	return slices.ContainsFunc(n.Layers, func(l spec.Layer) bool { return l.Class == spec.ClassBatchNormalization })
}

// fusedEpoch trains one epoch of f's trials, trial t's batches orders[t]; shared, every trial's
// orders[0] (which the others equal) through TrainSharedStep.
func fusedEpoch(b *testing.B, f *Fused, orders [][][]int32, shared bool) {
	losses, accs := make([]float32, f.Trials()), make([]float32, f.Trials())
	step := make([][]int32, f.Trials())
	for k := range orders[0] {
		for t := range step {
			step[t] = orders[t][k]
		}
		train := f.TrainStep
		if shared {
			train = func(step [][]int32, losses, accs []float32) error { return f.TrainSharedStep(step[0], losses, accs) }
		}
		if err := train(step, losses, accs); err != nil {
			b.Error(err)
			return
		}
	}
}

// parallel runs fn(0…n-1) side by side and waits for them.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { fn(i) })
	}
	wg.Wait()
}
