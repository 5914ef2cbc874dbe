package worker

import (
	"testing"

	"github.com/tfsweep/tfsweep/model"
	"github.com/tfsweep/tfsweep/sweep"
)

func TestThreads(t *testing.T) {
	for _, tc := range []struct {
		name      string
		jobThread int
		device    string
		batch     int
		gpu       bool
		want      int
		asksGPU   bool
	}{
		{"the job's count wins", 3, "auto", 64, false, 3, false},
		{"small batch on the CPU", 0, "cpu", 256, false, 1, false},
		{"large batch on the CPU", 0, "cpu", 512, false, 0, false},
		{"small batch, auto, no GPU", 0, "auto", 64, false, 1, true},
		{"small batch, auto, a GPU", 0, "auto", 64, true, 0, true},
		{"small batch on the GPU", 0, "gpu", 64, true, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			asked := false
			v := sweep.Defaults()
			v.BatchSize = tc.batch
			got := threads(sweep.Job{Threads: tc.jobThread, Device: tc.device}, v, func() bool { asked = true; return tc.gpu })
			if got != tc.want || asked != tc.asksGPU {
				t.Errorf("threads = %d (GPU asked: %v), want %d (%v)", got, asked, tc.want, tc.asksGPU)
			}
		})
	}
}

// The front refuses --steps-per-call above the bound the model builds.
func TestStepsPerCallBoundsAgree(t *testing.T) {
	if sweep.MaxStepsPerCall != model.MaxStepsPerCall {
		t.Errorf("sweep.MaxStepsPerCall %d, model.MaxStepsPerCall %d", sweep.MaxStepsPerCall, model.MaxStepsPerCall)
	}
}
