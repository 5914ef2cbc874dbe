package worker

import (
	"testing"

	"github.com/tfsweep/tfsweep/model"
	"github.com/tfsweep/tfsweep/modelfile"
	"github.com/tfsweep/tfsweep/spec"
)

func TestThreads(t *testing.T) {
	for _, tc := range []struct {
		name      string
		jobThread int
		share     int
		device    string
		batch     int
		gpu       bool
		want      int
		asksGPU   bool
	}{
		{"the job's count wins", 3, 0, "auto", 64, false, 3, false},
		{"small batch on the CPU", 0, 0, "cpu", 256, false, 1, false},
		{"large batch on the CPU", 0, 0, "cpu", 512, false, 0, false},
		{"large batch on a share of the CPUs", 0, 4, "cpu", 512, false, 4, false},
		{"small batch on a share of the CPUs", 0, 4, "cpu", 64, false, 1, false},
		{"small batch, auto, no GPU", 0, 0, "auto", 64, false, 1, true},
		{"small batch, auto, a GPU", 0, 0, "auto", 64, true, 0, true},
		{"small batch, auto, a GPU, a share of the CPUs", 0, 2, "auto", 64, true, 2, true},
		{"small batch on the GPU", 0, 0, "gpu", 64, true, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			asked := false
			v := spec.Defaults()
			v.BatchSize = tc.batch
			got := threads(spec.Job{Threads: tc.jobThread, CPUs: tc.share, Device: tc.device}, v, func() bool { asked = true; return tc.gpu })
			if got != tc.want || asked != tc.asksGPU {
				t.Errorf("threads = %d (GPU asked: %v), want %d (%v)", got, asked, tc.want, tc.asksGPU)
			}
		})
	}
}

func TestTowers(t *testing.T) {
	for _, tc := range []struct {
		name      string
		jobThread int
		device    string
		batch     int
		batchNorm bool
		cpus      int
		gpu       bool
		want      int
		asksGPU   bool
	}{
		{"batch 1024 on 2 CPUs", 0, "cpu", 1024, true, 2, false, 2, false},
		{"batch 256 on 2 CPUs", 0, "cpu", 256, true, 2, false, 2, false},
		{"batch 255 on 2 CPUs", 0, "cpu", 255, true, 2, false, 1, false},
		{"batch 128 without batch norm: 64 rows a tower", 0, "cpu", 128, false, 2, false, 2, false},
		{"batch 127 without batch norm", 0, "cpu", 127, false, 2, false, 1, false},
		{"batch 128 with batch norm", 0, "cpu", 128, true, 2, false, 1, false},
		{"batch 1024 on 16 CPUs: 128 rows a tower", 0, "cpu", 1024, true, 16, false, 8, false},
		{"batch 1024 on 16 CPUs without batch norm: 64 rows a tower", 0, "cpu", 1024, false, 16, false, 16, false},
		{"batch 1024 on one CPU", 0, "cpu", 1024, false, 1, false, 1, false},
		{"the job's threads", 2, "cpu", 1024, false, 2, false, 1, false},
		{"auto, no GPU", 0, "auto", 512, false, 2, false, 2, true},
		{"auto, a GPU", 0, "", 512, false, 2, true, 1, true},
		{"gpu", 0, "gpu", 512, false, 2, true, 1, false},
		{"a small batch does not ask for a GPU", 0, "auto", 64, false, 2, false, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			asked := false
			v := spec.Defaults()
			v.BatchSize, v.BatchNorm = tc.batch, tc.batchNorm
			got := towers(spec.Job{Threads: tc.jobThread, Device: tc.device}, v, func() bool { asked = true; return tc.gpu }, tc.cpus)
			if got != tc.want || asked != tc.asksGPU {
				t.Errorf("towers = %d (GPU asked: %v), want %d (%v)", got, asked, tc.want, tc.asksGPU)
			}
		})
	}
}

func TestStepsPerCall(t *testing.T) {
	for _, tc := range []struct {
		name    string
		job     int
		threads int
		steps   int
		want    int
	}{
		{"the job's count wins", 16, 1, 10, 16},
		{"the job's count wins on the default pools", 8, 0, 5000, 8},
		{"one thread, a long run", 0, 1, chunkedRunSteps, 4},
		{"one thread, a short run", 0, 1, chunkedRunSteps - 1, 1},
		{"the default pools", 0, 0, 5000, 1},
		{"two threads", 0, 2, 5000, 1},
	} {
		if got := stepsPerCall(spec.Job{StepsPerCall: tc.job}, tc.threads, tc.steps); got != tc.want {
			t.Errorf("%s: %d steps per call, want %d", tc.name, got, tc.want)
		}
	}
}

// A run's steps: every epoch's batches, the last one short, of the limited training images less
// the validation split.
func TestRunSteps(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    spec.Variant
		want int
	}{
		{"60000 images at 128, 5 epochs", spec.Variant{Epochs: 5, BatchSize: 128}, 5 * 469},
		{"limit 5000 at 64, 9 epochs", spec.Variant{Epochs: 9, BatchSize: 64, Limit: 5000}, 9 * 79},
		{"validation split", spec.Variant{Epochs: 1, BatchSize: 100, ValidationSplit: 0.5}, 300},
	} {
		if got := runSteps(tc.v, dataShape{train: 60000, test: 10000}); got != tc.want {
			t.Errorf("%s: %d steps, want %d", tc.name, got, tc.want)
		}
	}
}

// A one-thread run on a worker without a GPU asks the model for the cpu device, which runs its
// session on the single-threaded executor, and a large batch on 2 CPUs in towers on the cpu device; a
// device the job names, or a GPU seen, stays as it is.
func TestModelConfigDevice(t *testing.T) {
	for _, tc := range []struct {
		name      string
		device    string
		jobThread int
		batch     int
		gpu       bool
		want      string
		threads   int
		cpus      int
		towers    int
		inter     int
		validate  int
	}{
		{"auto, small batch, no GPU", "auto", 0, 64, false, model.DeviceCPU, 1, 1, 0, 1, 1},
		{"unset, small batch, no GPU", "", 0, 64, false, model.DeviceCPU, 1, 1, 0, 1, 1},
		{"auto, small batch, a GPU", "auto", 0, 64, true, model.DeviceAuto, 0, 1, 0, 0, 0},
		{"auto, large batch, no GPU", "auto", 0, 1024, false, model.DeviceAuto, 0, 1, 0, 0, 0},
		{"auto, one thread asked, no GPU", "auto", 1, 1024, false, model.DeviceCPU, 1, 1, 0, 1, 0},
		{"auto, one thread asked, a GPU", "auto", 1, 64, true, model.DeviceAuto, 1, 1, 0, 1, 0},
		{"cpu", "cpu", 0, 64, false, model.DeviceCPU, 1, 1, 0, 1, 1},
		{"gpu", "gpu", 0, 64, true, model.DeviceGPU, 0, 1, 0, 0, 0},
		{"auto, large batch, no GPU, 2 CPUs: towers", "auto", 0, 1024, false, model.DeviceCPU, 1, 2, 2, 2, 0},
		{"auto, large batch, a GPU, 2 CPUs", "auto", 0, 1024, true, model.DeviceAuto, 0, 2, 0, 0, 0},
		{"auto, small batch, no GPU, 2 CPUs", "auto", 0, 64, false, model.DeviceCPU, 1, 2, 0, 1, 2},
		{"auto, batch 128, no GPU, 2 CPUs: towers", "auto", 0, 128, false, model.DeviceCPU, 1, 2, 2, 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := spec.Defaults()
			v.BatchSize = tc.batch
			cfg, err := modelConfig(v, dataShape{features: 784, classes: 10}, spec.Job{Device: tc.device, Threads: tc.jobThread}, func() bool { return tc.gpu }, tc.cpus)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Device != tc.want || cfg.IntraOpThreads != tc.threads || cfg.InterOpThreads != tc.inter || cfg.Towers != tc.towers ||
				cfg.ValidateConcurrency != tc.validate {
				t.Errorf("device %q, threads %d/%d, towers %d, validation %d at once; want %q, %d/%d, %d, %d", cfg.Device, cfg.IntraOpThreads,
					cfg.InterOpThreads, cfg.Towers, cfg.ValidateConcurrency, tc.want, tc.threads, tc.inter, tc.towers, tc.validate)
			}
		})
	}
}

// A network with convolutions trains on TensorFlow's pools whatever the batch: no towers, no single
// thread per kernel; the job's threads still win. On the CPU one inter-op thread runs the ops in
// turn (the single-threaded executor) and validation makes two calls at once, unless the job gives
// one thread; with a GPU the inter-op pool stays.
func TestConvnetTrainsOnThePools(t *testing.T) {
	net, err := modelfile.Read("../modelfile/testdata/convnet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		batch, cpus, threads int
		device               string
		gpu                  bool
		intra, inter         int
		wantDevice           string
		validate             int
	}{
		{128, 2, 0, "auto", false, 2, 1, model.DeviceCPU, 2},
		{1024, 2, 0, "cpu", false, 2, 1, model.DeviceCPU, 2},
		{64, 0, 0, "auto", false, 0, 1, model.DeviceCPU, 2},
		{128, 2, 1, "auto", false, 1, 1, model.DeviceCPU, 0},
		{128, 2, 0, "auto", true, 2, 2, "auto", 0},
		{128, 2, 0, "gpu", true, 2, 2, model.DeviceGPU, 0},
	} {
		v := spec.Defaults()
		v.BatchSize = tc.batch
		v.Model = spec.Model{Name: "convnet", File: "convnet.yaml", Network: &net}
		job := spec.Job{Device: tc.device, CPUs: tc.cpus, Threads: tc.threads}
		cfg, err := modelConfig(v, dataShape{features: 784, classes: 10}, job, func() bool { return tc.gpu }, 2)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Towers > 1 || cfg.IntraOpThreads != tc.intra || cfg.InterOpThreads != tc.inter || cfg.Device != tc.wantDevice || cfg.Network.Name != "convnet" ||
			cfg.ValidateConcurrency != tc.validate {
			t.Errorf("batch %d, %d CPUs, job threads %d, device %s, GPU %v: towers %d, threads %d/%d, device %s, network %q, validation calls %d; want 1 tower, %d/%d threads, device %s, convnet, %d",
				tc.batch, tc.cpus, tc.threads, tc.device, tc.gpu, cfg.Towers, cfg.IntraOpThreads, cfg.InterOpThreads, cfg.Device, cfg.Network.Name, cfg.ValidateConcurrency,
				tc.intra, tc.inter, tc.wantDevice, tc.validate)
		}
	}
}

// A fused group's member trains on the threads its lone run would use, without the towers and
// chunked calls model.Fused has not: a lone run's towers become as many threads of one session.
func TestGroupPlan(t *testing.T) {
	for _, tc := range []struct {
		name           string
		batch, cpus    int
		jobThreads     int
		limit, epochs  int
		threads, calls int // the member's intra- and inter-op threads and steps per call
	}{
		{"batch 64: one thread, a short run", 64, 2, 0, 4096, 2, 1, 1},
		{"batch 64: one thread, a long run that chunks alone", 64, 2, 0, 60000, 5, 1, 1},
		{"batch 128 on 2 CPUs: two towers alone, two threads fused", 128, 2, 0, 4096, 2, 2, 1},
		{"batch 1024 on 2 CPUs: two towers alone, two threads fused", 1024, 2, 0, 4096, 2, 2, 1},
		{"the job's threads", 128, 2, 3, 4096, 2, 3, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := spec.Defaults()
			v.BatchSize, v.Limit, v.Epochs = tc.batch, tc.limit, tc.epochs
			p, err := planRun(spec.Job{Device: "cpu", CPUs: tc.cpus, Threads: tc.jobThreads}, v, dataShape{train: 60000, test: 10000, features: 784, classes: 10}, func() bool { return false })
			if err != nil {
				t.Fatal(err)
			}
			g := groupPlan(p)
			c := g.model
			if c.IntraOpThreads != tc.threads || c.InterOpThreads != tc.threads || c.Towers > 1 || c.StepsPerCall != tc.calls || g.fit.StepsPerCall != tc.calls {
				t.Errorf("member: %d intra-op, %d inter-op threads, %d towers, %d and %d steps per call; want %d threads, one tower, %d steps per call (alone: %d threads, %d towers, %d steps per call)",
					c.IntraOpThreads, c.InterOpThreads, c.Towers, c.StepsPerCall, g.fit.StepsPerCall, tc.threads, tc.calls, p.model.IntraOpThreads, p.model.Towers, p.model.StepsPerCall)
			}
		})
	}
}
