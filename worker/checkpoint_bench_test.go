package worker

import (
	"testing"

	"github.com/tfsweep/tfsweep/model"
	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/trainer"
)

// BenchmarkEpochCheckpoint is what a run pays at every epoch end for its checkpoint (the lab
// network with Adam: the TensorFlow bundle with its fsyncs, the state file, the pruning). The
// twelve-run preset takes 60 of them: the cost on its wall time is 60 × this / the preset's time.
func BenchmarkEpochCheckpoint(b *testing.B) {
	for _, bn := range []bool{false, true} {
		name := map[bool]string{false: "nobn", true: "bn"}[bn]
		b.Run(name, func(b *testing.B) {
			v := spec.Defaults()
			v.BatchNorm = bn
			cfg := model.DefaultConfig()
			net, err := v.Network(784, 10)
			if err != nil {
				b.Fatal(err)
			}
			cfg.Network, cfg.Device = net, model.DeviceCPU
			m, err := model.New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			history := &spec.History{}
			c := &checkpointer{dir: b.TempDir(), m: m, keep: 1, history: history}
			b.ResetTimer()
			for i := range b.N {
				e := trainer.EpochEnd{EpochMetrics: spec.EpochMetrics{Epoch: i, ValLoss: 1 / float64(i+1)}}
				history.Append(e.EpochMetrics)
				if err := c.OnEpochEnd(e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
