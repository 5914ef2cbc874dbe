package worker

import (
	"slices"
	"testing"

	"github.com/tfsweep/tfsweep/model"
	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/trainer"
)

// Besides the last checkpoint, a run keeps the one of its best epoch by its objective: the lowest
// validation loss unless the job says otherwise, the highest validation accuracy when it asks for it.
func TestCheckpointsKeepTheBestEpochByTheObjective(t *testing.T) {
	epochs := []spec.EpochMetrics{
		{Epoch: 0, ValLoss: 0.9, ValAccuracy: 0.70},
		{Epoch: 1, ValLoss: 0.4, ValAccuracy: 0.80},
		{Epoch: 2, ValLoss: 0.5, ValAccuracy: 0.90},
		{Epoch: 3, ValLoss: 0.6, ValAccuracy: 0.85},
	}
	for _, tc := range []struct {
		name      string
		objective spec.Objective
		want      []int
	}{
		{"the zero objective: the lowest validation loss", spec.Objective{}, []int{1, 3}},
		{"validation accuracy, greater", spec.Objective{Monitor: "val_accuracy", Greater: true}, []int{2, 3}},
		{"training loss of equal epochs: the earliest", spec.Objective{Monitor: "loss"}, []int{0, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := model.DefaultConfig()
			cfg.Device = model.DeviceCPU
			m, err := model.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			dir := t.TempDir()
			history := &spec.History{}
			c := &checkpointer{dir: dir, m: m, keep: 1, history: history, objective: tc.objective}
			for _, e := range epochs {
				history.Append(e)
				if err := c.OnEpochEnd(trainer.EpochEnd{EpochMetrics: e}); err != nil {
					t.Fatal(err)
				}
			}
			got, err := savedCheckpoints(dir)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("checkpoints of epochs %v kept, want %v", got, tc.want)
			}
		})
	}
}
