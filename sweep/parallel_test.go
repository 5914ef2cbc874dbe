package sweep

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// --parallel auto: a worker per CPU (per GPU with GPUs), never more than the runs or than fit the
// memory, one for an adaptive search, saying what bounded the choice.
func TestChooseParallel(t *testing.T) {
	for _, tc := range []struct {
		name    string
		m       machineShare
		workers int
		reason  string
	}{
		{"a worker per CPU", machineShare{cpus: 2, runs: 12, fit: 40}, 2, "2 CPUs"},
		{"one CPU", machineShare{cpus: 1, runs: 12, fit: 40}, 1, "1 CPU"},
		{"many CPUs, memory unknown", machineShare{cpus: 64, runs: 100, fit: -1}, 64, "64 CPUs"},
		{"fewer runs than CPUs", machineShare{cpus: 8, runs: 3, fit: 40}, 3, "3 runs"},
		{"one run", machineShare{cpus: 8, runs: 1, fit: 40}, 1, "1 run"},
		{"no runs", machineShare{cpus: 8, runs: 0, fit: 40}, 1, "0 runs"},
		{"memory for fewer", machineShare{cpus: 8, runs: 12, fit: 3}, 3, "memory for 3 runs"},
		{"memory for one", machineShare{cpus: 8, runs: 12, fit: 1}, 1, "memory for 1 run"},
		{"memory for none: one, which New then refuses", machineShare{cpus: 8, runs: 12, fit: 0}, 1, "memory for 0 runs"},
		{"a worker per GPU, whatever the CPUs", machineShare{cpus: 32, gpus: 2, runs: 12, fit: 40}, 2, "2 GPUs"},
		{"one GPU", machineShare{cpus: 2, gpus: 1, runs: 12, fit: 40}, 1, "1 GPU"},
		{"GPUs, fewer runs", machineShare{cpus: 2, gpus: 4, runs: 3, fit: 40}, 3, "3 runs"},
		{"more CPUs than workers may be", machineShare{cpus: 1000, runs: 1000, fit: -1}, MaxParallel, "1000 CPUs"},
		{"a scheduler", machineShare{cpus: 2, runs: 12, fit: 40, adaptive: "--scheduler asha"}, 1,
			"--scheduler asha decides in the order runs end: one at a time keeps it reproducible; --parallel 2 would train 2 at once (2 CPUs)"},
		{"TPE with fewer runs than CPUs", machineShare{cpus: 8, runs: 3, fit: 40, adaptive: "--search tpe"}, 1,
			"--search tpe decides in the order runs end: one at a time keeps it reproducible; --parallel 3 would train 3 at once (3 runs)"},
		{"a scheduler on one CPU: no hint", machineShare{cpus: 1, runs: 12, fit: 40, adaptive: "--scheduler median"}, 1,
			"--scheduler median decides in the order runs end: one at a time keeps it reproducible"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := chooseParallel(tc.m)
			if p.Workers != tc.workers || p.Reason != tc.reason || !p.Auto {
				t.Errorf("chooseParallel(%+v) = %+v; want %d workers, auto, because %q", tc.m, p, tc.workers, tc.reason)
			}
		})
	}
}

func TestParseParallel(t *testing.T) {
	for _, tc := range []struct {
		text string
		want int
		ok   bool
	}{
		{"auto", ParallelAuto, true},
		{"1", 1, true},
		{"2", 2, true},
		{" 3 ", 3, true},
		{"256", 256, true},
		{"0", 0, false},
		{"-1", 0, false},
		{"257", 0, false},
		{"all", 0, false},
		{"", 0, false},
		{"2.5", 0, false},
	} {
		got, err := ParseParallel(tc.text)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseParallel(%q) = %d, %v; want %d, ok %v", tc.text, got, err, tc.want, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "give auto or a count in [1, 256]") {
			t.Errorf("ParseParallel(%q): %v does not say what to give", tc.text, err)
		}
	}
}

func TestFitting(t *testing.T) {
	for _, tc := range []struct {
		name            string
		available, need float64
		want            int
	}{
		{"two and a half", 10, 4, 2},
		{"exactly", 8, 4, 2},
		{"none", 3, 4, 0},
		{"no need", 8, 0, MaxParallel},
		{"a tiny need", 1e18, 1e-300, MaxParallel},
	} {
		if got := fitting(tc.available, tc.need); got != tc.want {
			t.Errorf("%s: fitting(%g, %g) = %d, want %d", tc.name, tc.available, tc.need, got, tc.want)
		}
	}
}

// On this machine: auto chooses within the memory actually available (a network sized to need about
// 0.7 of it trains alone, where --parallel 2 is refused), and one at a time under a scheduler.
func TestAutoParallelOnThisMachine(t *testing.T) {
	if cpuShare() < 2 {
		t.Skipf("this process may use %d CPU: auto is 1 whatever the memory", cpuShare())
	}
	available, err := availableMemory()
	if err != nil {
		t.Skipf("no memory figure to respect: %v", err)
	}
	data := t.TempDir()
	writeTinyData(t, data, 100)
	newSweep := func(parallel int, search *Search, args ...string) (*Sweep, error) {
		return newThreeRunSweep(t, data, parallel, search, args...)
	}
	s, err := newSweep(ParallelAuto, &Search{})
	if err != nil {
		t.Fatal(err)
	}
	want := Parallelism{Workers: min(cpuShare(), 3), Auto: true, Reason: fmt.Sprintf("%d CPUs", cpuShare())}
	if cpuShare() > 3 {
		want.Reason = "3 runs"
	}
	if p := s.Parallel(); p != want {
		t.Errorf("three runs of a small network: %+v, want %+v", p, want)
	}
	if p := s.Planned().Parallel; p == nil || p.Workers != min(cpuShare(), 3) {
		t.Errorf("the dry run's summary says %+v", p)
	}

	width := hiddenNeeding(t, 0.7*available)
	big := []string{"--hidden", width}
	s, err = newSweep(ParallelAuto, &Search{}, big...)
	if err != nil {
		t.Fatalf("--hidden %s alone should fit the %.0f bytes available: %v", width, available, err)
	}
	if p := s.Parallel(); p.Workers != 1 || p.Reason != "memory for 1 run" {
		t.Errorf("a network needing 0.7 of the memory: %+v, want 1 for the memory", p)
	}
	if _, err := newSweep(2, &Search{}, big...); err == nil || !strings.Contains(err.Error(), "shared by 2 parallel runs") {
		t.Errorf("--parallel 2 of a network needing 0.7 of the memory: %v, want it refused", err)
	}

	trials, method := 3, SearchTPE
	s, err = newSweep(ParallelAuto, &Search{Trials: &trials, Method: &method}, "--lr", "log_uniform:0.0001:0.01")
	if err != nil {
		t.Fatal(err)
	}
	if p := s.Parallel(); p.Workers != 1 || !strings.HasPrefix(p.Reason, "--search tpe decides in the order runs end") {
		t.Errorf("TPE: %+v", p)
	}
	s, err = newSweep(ParallelAuto, &Search{Scheduler: &SchedulerOptions{Kind: "median"}})
	if err != nil {
		t.Fatal(err)
	}
	if p := s.Parallel(); p.Workers != 1 || !strings.HasPrefix(p.Reason, "--scheduler median decides in the order runs end") {
		t.Errorf("the median rule: %+v", p)
	}
	s, err = newSweep(3, &Search{Scheduler: &SchedulerOptions{Kind: "median"}})
	if err != nil {
		t.Fatal(err)
	}
	if p := s.Parallel(); p.Workers != 3 || p.Auto || p.Reason != "--parallel 3" {
		t.Errorf("--parallel 3 given: %+v", p)
	}
}

// newThreeRunSweep plans a dry run of three seeds of batch 10 for 3 epochs on the IDX files in data, with
// the flags given, and makes it with New.
func newThreeRunSweep(t *testing.T, data string, parallel int, search *Search, args ...string) (*Sweep, error) {
	t.Helper()
	grid, err := flagGrid(t, append([]string{"--batch-size", "10", "--epochs", "3", "--seed", "1,2,3"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := NewPlan("", grid, search)
	if err != nil {
		t.Fatal(err)
	}
	return New(plan, Options{LogDir: filepath.Join(data, "logs"), DataDir: data, Device: "cpu", Parallel: parallel, DryRun: true})
}

// hiddenNeeding is the width of one hidden layer whose run (batch 10, 100 images) needs about
// target bytes by memoryBytes.
func hiddenNeeding(t *testing.T, target float64) string {
	t.Helper()
	need := func(width int) float64 {
		grid, err := flagGrid(t, "--batch-size", "10", "--hidden", strconv.Itoa(width))
		if err != nil {
			t.Fatal(err)
		}
		runs, err := Plan{Grids: []Grid{grid}}.Runs(DefaultMaxRuns)
		if err != nil {
			t.Fatal(err)
		}
		w, b, o, err := memoryBytes(runs[0].Variant, 784, 10, 100)
		if err != nil {
			t.Fatal(err)
		}
		return w + b + o
	}
	n1, n2 := need(1000), need(2000)
	return strconv.Itoa(1000 + int((target-n1)/(n2-n1)*1000))
}
