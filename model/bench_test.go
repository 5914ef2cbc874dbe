package model

import (
	"fmt"
	"testing"
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
					cfg.BatchNorm, cfg.Device = bn, DeviceCPU
					cfg.IntraOpThreads, cfg.InterOpThreads = threads[0], threads[1]
					m := newModel(b, cfg)
					pixels, labels := randomBatch(1, batch, cfg.Inputs, cfg.Classes)
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
