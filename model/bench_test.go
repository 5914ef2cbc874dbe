package model

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/tfsweep/tfsweep/modelfile"
)

// BenchmarkTrainStep measures training throughput of the lab report's network on the CPU, in
// samples/s, at the batch sizes of the Keras comparison. Environment knobs worth comparing:
// TF_ENABLE_ONEDNN_OPTS=0/1 (read when the first session starts) and the thread counts below.
func BenchmarkTrainStep(b *testing.B) {
	for _, bn := range []bool{false, true} {
		for _, batch := range []int{64, 1024} {
			for _, threads := range [][2]int{{0, 0}, {1, 1}, {2, 1}, {2, 2}} {
				name := fmt.Sprintf("bn=%v/batch=%d/intra=%d,inter=%d", bn, batch, threads[0], threads[1])
				b.Run(name, func(b *testing.B) {
					cfg := DefaultConfig()
					cfg.Network, cfg.Device = withBatchNorm(cfg.Network, bn), DeviceCPU
					cfg.IntraOpThreads, cfg.InterOpThreads = threads[0], threads[1]
					m := newModel(b, cfg)
					pixels, labels := randomBatch(1, batch, inputs(cfg), classes(cfg))
					for range 5 { // warm up: the first runs place and optimise the graph
						if _, _, err := m.TrainStep(pixels, labels); err != nil {
							b.Fatal(err)
						}
					}
					b.ResetTimer()
					for b.Loop() {
						if _, _, err := m.TrainStep(pixels, labels); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(batch)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
				})
			}
		}
	}
}

// BenchmarkTrainSteps measures an epoch of TrainSteps over a bound set of 12,800 random examples
// (batches gathered in the graph) at several steps per call and thread counts (0 = TensorFlow's
// default, one per core), in samples/s, New's time for the graph with that many unrolled steps
// (build-ms) and the first call's, which optimises it (first-call-ms). Compare the settings of one
// batch size, each thread count in a process of its own (-bench '.../threads=1/'): oneDNN keeps
// process-wide state through which a one-thread session after a default-pools one of the same shapes
// runs at another speed (docs/benchmarks.md).
func BenchmarkTrainSteps(b *testing.B) {
	const n = 12800
	cfg := DefaultConfig()
	pixels, labels := randomBatch(1, n, inputs(cfg), classes(cfg))
	for _, bn := range []bool{false, true} {
		for _, batch := range []int{64, 128, 256, 512, 1024} {
			for _, set := range []struct{ threads, towers, k int }{
				{0, 1, 1}, {0, 1, 8}, {1, 1, 1}, {1, 1, 2}, {1, 1, 4}, {1, 1, 8}, {1, 2, 1}, {1, 2, 4},
			} {
				name := fmt.Sprintf("bn=%v/batch=%d/threads=%d/steps_per_call=%d", bn, batch, set.threads, set.k)
				if set.towers > 1 {
					// One thread per kernel and an inter-op thread per tower.
					name = fmt.Sprintf("bn=%v/batch=%d/towers=%d/steps_per_call=%d", bn, batch, set.towers, set.k)
				}
				k := set.k
				b.Run(name, func(b *testing.B) {
					cfg := DefaultConfig()
					cfg.Network, cfg.Device, cfg.StepsPerCall, cfg.Towers = withBatchNorm(cfg.Network, bn), DeviceCPU, k, set.towers
					cfg.IntraOpThreads, cfg.InterOpThreads = set.threads, set.threads
					if set.towers > 1 {
						cfg.InterOpThreads = set.towers
					}
					start := time.Now()
					m := newModel(b, cfg)
					built := time.Since(start)
					set := newExamples(b, pixels, labels, inputs(cfg))
					if err := m.Bind(set, set); err != nil {
						b.Fatal(err)
					}
					batches := epochBatches(n, batch, 1)
					losses, accs := make([]float32, len(batches)), make([]float32, len(batches))
					start = time.Now()
					if err := m.TrainSteps(batches[:k], losses[:k], accs[:k]); err != nil { // optimises the graph
						b.Fatal(err)
					}
					first := time.Since(start)
					if err := m.TrainSteps(batches, losses, accs); err != nil { // warm up
						b.Fatal(err)
					}
					b.ResetTimer()
					for b.Loop() {
						if err := m.TrainSteps(batches, losses, accs); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
					b.ReportMetric(float64(built.Microseconds())/1000, "build-ms")
					b.ReportMetric(float64(first.Microseconds())/1000, "first-call-ms")
				})
			}
		}
	}
}

// BenchmarkValidate measures Validate over a bound validation set of 10,000 random examples (the
// MNIST test set's size), the evaluation every epoch ends with, in the settings the worker chooses
// from: TensorFlow's default pools; one thread, its parts one at a time or one per core at once
// (ValidateConcurrency); and two towers of one thread, as a towered run validates: milliseconds
// per pass.
func BenchmarkValidate(b *testing.B) {
	const n = 10000
	cfg := DefaultConfig()
	pixels, labels := randomBatch(3, n, inputs(cfg), classes(cfg))
	for _, bn := range []bool{false, true} {
		for _, set := range []struct{ threads, towers, concurrent int }{{0, 1, 1}, {1, 1, 1}, {1, 1, 2}, {1, 2, 1}, {1, 2, 2}} {
			b.Run(fmt.Sprintf("bn=%v/threads=%d/towers=%d/concurrent=%d", bn, set.threads, set.towers, set.concurrent), func(b *testing.B) {
				cfg := DefaultConfig()
				cfg.Network, cfg.Device, cfg.Towers, cfg.ValidateConcurrency = withBatchNorm(cfg.Network, bn), DeviceCPU, set.towers, set.concurrent
				cfg.IntraOpThreads, cfg.InterOpThreads = set.threads, set.threads*set.towers
				m := newModel(b, cfg)
				set := newExamples(b, pixels, labels, inputs(cfg))
				if err := m.Bind(set, set); err != nil {
					b.Fatal(err)
				}
				if _, _, err := m.Validate(); err != nil { // optimises the pass
					b.Fatal(err)
				}
				b.ResetTimer()
				for b.Loop() {
					if _, _, err := m.Validate(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/pass")
			})
		}
	}
}

// BenchmarkConvnetSteps trains Keras' simple MNIST convnet (modelfile's convnet.yaml) at batch 128 and
// 1024 in four ways: TensorFlow's pools (threads=0/inter=0); the intra-op pool of a thread per core with
// the ops in turn on the single-threaded executor (inter=1), as the worker trains a convnet on the CPU;
// one thread; and two towers of one thread each. samples/cpu-s (all the process' threads) compares them
// where a shared machine makes wall times noisy; oneDNN keeps process-wide state, so compare settings
// each in a process of its own (-bench '.../threads=0/inter=1/').
func BenchmarkConvnetSteps(b *testing.B) {
	net, err := modelfile.Read(filepath.Join("..", "modelfile", "testdata", "convnet.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	const n = 4096
	pixels, labels := randomBatch(1, n, 784, 10)
	for _, batch := range []int{128, 1024} {
		for _, set := range []struct{ threads, inter, towers int }{{0, 0, 1}, {0, 1, 1}, {1, 1, 1}, {1, 2, 2}} {
			b.Run(fmt.Sprintf("batch=%d/threads=%d/inter=%d/towers=%d", batch, set.threads, set.inter, set.towers), func(b *testing.B) {
				cfg := Config{Network: net, Device: DeviceCPU, Towers: set.towers, IntraOpThreads: set.threads, InterOpThreads: set.inter}
				m := newModel(b, cfg)
				examples := newExamples(b, pixels, labels, 784)
				if err := m.Bind(examples, examples); err != nil {
					b.Fatal(err)
				}
				batches := epochBatches(n, batch, 1)
				losses, accs := make([]float32, len(batches)), make([]float32, len(batches))
				if err := m.TrainSteps(batches, losses, accs); err != nil { // optimises the graph, warms up
					b.Fatal(err)
				}
				cpuStart := cpuSeconds(b)
				b.ResetTimer()
				for b.Loop() {
					if err := m.TrainSteps(batches, losses, accs); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
				b.ReportMetric(float64(n)*float64(b.N)/(cpuSeconds(b)-cpuStart), "samples/cpu-s")
			})
		}
	}
}

// BenchmarkConvnetValidate evaluates 10,000 examples (the MNIST test set's size) on Keras' simple MNIST
// convnet as the worker validates a convnet on the CPU: the intra-op pool of a thread per core and one
// inter-op thread. samples/cpu-s counts all the process' threads.
func BenchmarkConvnetValidate(b *testing.B) {
	net, err := modelfile.Read(filepath.Join("..", "modelfile", "testdata", "convnet.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	const n = 10000
	pixels, labels := randomBatch(3, n, 784, 10)
	for _, concurrent := range []int{1, 2} {
		b.Run(fmt.Sprintf("concurrent=%d", concurrent), func(b *testing.B) {
			m := newModel(b, Config{Network: net, Device: DeviceCPU, InterOpThreads: 1, ValidateConcurrency: concurrent})
			examples := newExamples(b, pixels, labels, 784)
			if err := m.Bind(examples, examples); err != nil {
				b.Fatal(err)
			}
			if _, _, err := m.Validate(); err != nil { // optimises the pass
				b.Fatal(err)
			}
			cpuStart := cpuSeconds(b)
			b.ResetTimer()
			for b.Loop() {
				if _, _, err := m.Validate(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
			b.ReportMetric(float64(n)*float64(b.N)/(cpuSeconds(b)-cpuStart), "samples/cpu-s")
		})
	}
}
