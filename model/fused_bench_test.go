package model

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tfsweep/tfsweep/spec"
)

// sweepSystems are the ways BenchmarkSweep trains T trials of the lab network:
//
//	fused        one Fused of all T trials on TensorFlow's default pools (one thread per core each)
//	fused-halves two Fused of T/2 trials each, side by side on one thread each (the cores split as
//	             --parallel 2 splits them)
//	unfused      one Model after another, with the threads, towers and steps per call a worker with
//	             every core chooses (worker/plan.go: one thread and 4 steps per call below batch 128,
//	             else two towers); every Model is built and warmed before the timing, as the fused
//	             sessions are, so the figures compare training only
//	unfused-parallel2 two Models at a time, one thread and 4 steps per call each, as two workers of
//	             --parallel 2 train (here in one process, each session with its own one-thread pools)
var sweepSystems = []string{"fused", "fused-halves", "unfused", "unfused-parallel2"}

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

// trainFLOPs is the matmul FLOPs of one training example of the configuration's network: the
// forward matmuls, every weight gradient and every input gradient but the first layer's.
func trainFLOPs(b *testing.B, cfg Config) float64 {
	net, err := cfg.Network.Resolve()
	if err != nil {
		b.Fatal(err)
	}
	m, err := mlpOf(net)
	if err != nil {
		b.Fatal(err)
	}
	widths := []int{m.inputs}
	for _, d := range m.layers {
		widths = append(widths, d.units)
	}
	var flops float64
	for l := range len(widths) - 1 {
		mac := float64(widths[l] * widths[l+1])
		flops += 4 * mac // forward and weight gradient
		if l > 0 {
			flops += 2 * mac
		}
	}
	return flops
}

// BenchmarkSweep trains T = 4, 8, 16 trials of the lab network (varying initialiser and learning
// rate, no batch norm) at batch 64, 128 and 1024 on the first TFSWEEP_BENCH_EXAMPLES MNIST training
// images, each system of sweepSystems, and reports trials/s (epochs of those examples per second,
// over all trials), trials per CPU-second of the process and GFLOP/s. One untimed epoch first builds
// and warms every session; each timed iteration is one more epoch of every trial, each trial in its
// own shuffled order. scripts/bench_sweep runs it cell by cell, alternating with JAX and the matmul
// rate.
func BenchmarkSweep(b *testing.B) {
	train, _ := loadMNIST(b)
	n := sweepExamples(b)
	if n > train.Len() {
		b.Fatalf("TFSWEEP_BENCH_EXAMPLES=%d is more than the %d training images", n, train.Len())
	}
	pixels, labels := train.Head(n).Float32(spec.ScaleUnit)
	for _, system := range sweepSystems {
		for _, trials := range []int{4, 8, 16} {
			for _, batch := range []int{64, 128, 1024} {
				b.Run(fmt.Sprintf("system=%s/trials=%d/batch=%d", system, trials, batch), func(b *testing.B) {
					set := newExamples(b, pixels, labels, 784)
					cfgs := sweepConfigs(trials)
					epoch := sweepTrainer(b, system, cfgs, set, batch)
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
					b.ReportMetric(float64(trials*epochs*n)*trainFLOPs(b, cfgs[0])/seconds/1e9, "GFLOP/s")
				})
			}
		}
	}
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

// sweepConfigs are T trials of the lab network that differ in initialiser, seed and learning rate.
func sweepConfigs(trials int) []Config {
	inits := []string{"xavier", "glorot_uniform", "he_normal", "he_uniform"}
	cfgs := make([]Config, trials)
	for t := range cfgs {
		cfg := DefaultConfig()
		cfg.Network = withInit(cfg.Network, inits[t%len(inits)])
		cfg.Device, cfg.Seed = DeviceCPU, int64(t+1)
		cfg.LearningRate = 0.0005 * float64(1+t%4)
		cfgs[t] = cfg
	}
	return cfgs
}

// sweepTrainer builds the system's sessions for cfgs bound to set and returns a function that
// trains one epoch (its number seeds each trial's shuffling) of every trial, full batches only (a
// fused step takes one size for every trial).
func sweepTrainer(b *testing.B, system string, cfgs []Config, set *Examples, batch int) func(epoch int) {
	order := func(epoch, trial int) [][]int32 {
		return epochBatches(set.Len(), batch, uint64(1000*trial+epoch))[:set.Len()/batch]
	}
	switch system {
	case "fused":
		return fusedTrainer(b, [][]Config{cfgs}, set, order)
	case "fused-halves":
		halves := [][]Config{slices.Clone(cfgs[:len(cfgs)/2]), slices.Clone(cfgs[len(cfgs)/2:])}
		for _, h := range halves {
			for i := range h {
				h[i].IntraOpThreads, h[i].InterOpThreads = 1, 1
			}
		}
		return fusedTrainer(b, halves, set, order)
	case "unfused":
		return unfusedTrainer(b, cfgs, set, batch, 1, order)
	case "unfused-parallel2":
		return unfusedTrainer(b, cfgs, set, batch, 2, order)
	}
	b.Fatalf("unknown system %q", system)
	return nil
}

// fusedTrainer trains each group of trials as one Fused, the groups side by side.
func fusedTrainer(b *testing.B, groups [][]Config, set *Examples, order func(epoch, trial int) [][]int32) func(epoch int) {
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
			fusedEpoch(b, fs[i], orders)
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
// the machine's two cores chooses (worker/plan.go) for a batch without batch norm.
func workerThreads(cfg Config, batch, parallel int) Config {
	cfg.IntraOpThreads, cfg.InterOpThreads, cfg.StepsPerCall = 1, 1, 4
	if parallel == 1 && batch >= 128 {
		cfg.InterOpThreads, cfg.Towers = 2, 2
		if batch > 256 {
			cfg.StepsPerCall = 1
		}
	}
	return cfg
}

// fusedEpoch trains one epoch of f's trials, trial t's batches orders[t].
func fusedEpoch(b *testing.B, f *Fused, orders [][][]int32) {
	losses, accs := make([]float32, f.Trials()), make([]float32, f.Trials())
	step := make([][]int32, f.Trials())
	for k := range orders[0] {
		for t := range step {
			step[t] = orders[t][k]
		}
		if err := f.TrainStep(step, losses, accs); err != nil {
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
