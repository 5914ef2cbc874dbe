package sweep

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/tfsweep/tfsweep/spec"
)

// --fuse and --fuse-group: auto fuses on GPUs only, on fuses on CPUs too, off never; auto's group
// splits the fusable runs over the workers, at most 16 and what fits the memory.
func TestChooseFusion(t *testing.T) {
	for _, tc := range []struct {
		name    string
		c       fuseChoice
		want    Fusion
		wantErr string
	}{
		{"auto on a CPU", fuseChoice{mode: FuseAuto, workers: 2, fusable: 8, fit: -1},
			Fusion{Auto: true, Reason: cpuFuseReason}, ""},
		{"auto on GPUs", fuseChoice{mode: FuseAuto, gpus: 2, workers: 2, fusable: 8, fit: -1},
			Fusion{On: true, Auto: true, Reason: "the workers train on 2 GPUs", Group: 4, GroupReason: "auto: 8 fusable runs on 2 workers"}, ""},
		{"on", fuseChoice{mode: FuseOn, workers: 2, fusable: 8, fit: -1},
			Fusion{On: true, Reason: "--fuse on", Group: 4, GroupReason: "auto: 8 fusable runs on 2 workers"}, ""},
		{"on, an odd class", fuseChoice{mode: FuseOn, workers: 2, fusable: 5, fit: 100},
			Fusion{On: true, Reason: "--fuse on", Group: 3, GroupReason: "auto: 5 fusable runs on 2 workers"}, ""},
		{"on, at most 16", fuseChoice{mode: FuseOn, workers: 1, fusable: 50, fit: -1},
			Fusion{On: true, Reason: "--fuse on", Group: 16, GroupReason: "auto: at most 16"}, ""},
		{"on, memory for 3", fuseChoice{mode: FuseOn, workers: 1, fusable: 50, fit: 3},
			Fusion{On: true, Reason: "--fuse on", Group: 3, GroupReason: "auto: memory for 3"}, ""},
		{"on, memory for none", fuseChoice{mode: FuseOn, workers: 1, fusable: 50, fit: 0},
			Fusion{On: true, Reason: "--fuse on", Group: 1, GroupReason: "auto: memory for 0"}, ""},
		{"on, a size given", fuseChoice{mode: FuseOn, size: 6, workers: 2, fusable: 50, fit: 10},
			Fusion{On: true, Reason: "--fuse on", Group: 6, GroupReason: "--fuse-group 6"}, ""},
		{"on, a size that does not fit", fuseChoice{mode: FuseOn, size: 6, workers: 2, fusable: 50, fit: 5},
			Fusion{}, "--fuse-group 6: a worker's share of the memory holds a group of 5 at most"},
		{"off", fuseChoice{mode: FuseOff, gpus: 2, workers: 2, fusable: 8, fit: -1},
			Fusion{Reason: "--fuse off"}, ""},
		{"auto, a sweep that cannot fuse", fuseChoice{mode: FuseAuto, gpus: 1, refuse: "--search tpe …"},
			Fusion{Auto: true, Reason: "--search tpe …"}, ""},
		{"auto on GPUs, a scheduler", fuseChoice{mode: FuseAuto, gpus: 1, workers: 1, fusable: 8, fit: -1, adaptive: "--scheduler asha"},
			Fusion{Auto: true, Reason: "--scheduler asha decides on each epoch as it ends, and a fused group's runs end their epochs together: it would decide unlike for runs trained one at a time (--fuse on fuses anyway)"}, ""},
		{"auto on a CPU, a scheduler: the CPU's reason", fuseChoice{mode: FuseAuto, workers: 1, fusable: 8, fit: -1, adaptive: "--scheduler asha"},
			Fusion{Auto: true, Reason: cpuFuseReason}, ""},
		{"on, a scheduler", fuseChoice{mode: FuseOn, workers: 1, fusable: 8, fit: -1, adaptive: "--scheduler median"},
			Fusion{On: true, Reason: "--fuse on", Group: 8, GroupReason: "auto: 8 fusable runs on 1 worker"}, ""},
		{"on, a sweep that cannot fuse", fuseChoice{mode: FuseOn, refuse: "--steps-per-call 4: …"},
			Fusion{}, "--fuse on: --steps-per-call 4: …"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := chooseFusion(tc.c)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !fusionEqual(got, tc.want) {
				t.Errorf("chooseFusion(%+v) = %+v, %v; want %+v", tc.c, got, err, tc.want)
			}
		})
	}
}

func fusionEqual(a, b Fusion) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// The console's words for the choice.
func TestFusionString(t *testing.T) {
	for _, tc := range []struct {
		f    Fusion
		want string
	}{
		{Fusion{Reason: "--fuse off"}, "not fused (--fuse off)"},
		{Fusion{Auto: true, Reason: cpuFuseReason}, "not fused (auto: " + cpuFuseReason + ")"},
		{Fusion{On: true, Reason: "--fuse on", Group: 4, GroupReason: "auto: 8 fusable runs on 2 workers", Groups: [][]string{{"a", "b"}}},
			"fused in groups of 4 (--fuse on; auto: 8 fusable runs on 2 workers)"},
		{Fusion{On: true, Auto: true, Reason: "the workers train on 1 GPU", Group: 1, GroupReason: "auto: 1 fusable run on 1 worker"},
			"no runs to fuse (auto: the workers train on 1 GPU; auto: 1 fusable run on 1 worker)"},
	} {
		if got := tc.f.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.f, got, tc.want)
		}
	}
}

// A dry run plans the groups as the slots take them: in queue order, runs of one fuse key up to the
// group size, the runs that cannot fuse alone with their reason.
func TestPlannedGroups(t *testing.T) {
	// Runs in plan order: b4 × lr 0.001, 0.002, 0.004 × adam, sgd; then the same at b8.
	grid := []string{"--batch-size", "4,8", "--lr", "0.001,0.002,0.004", "--optimizer", "adam,sgd", "--epochs", "1"}
	e := newFakeEnv(t)
	for _, tc := range []struct {
		name      string
		opts      Options
		groups    []string
		alone     []string // run: the reason's start
		fusedLine string
	}{
		{"--fuse on, two workers: groups of 3 (6 fusable runs on 2 workers)", Options{Fuse: FuseOn, Parallel: 2},
			[]string{"b4-lr0.001-adam b4-lr0.002-adam b4-lr0.004-adam", "b8-lr0.001-adam b8-lr0.002-adam b8-lr0.004-adam"},
			[]string{"b4-lr0.001-sgd: optimizer sgd: fused training takes adam", "b4-lr0.002-sgd: optimizer sgd", "b4-lr0.004-sgd: optimizer sgd",
				"b8-lr0.001-sgd: optimizer sgd", "b8-lr0.002-sgd: optimizer sgd", "b8-lr0.004-sgd: optimizer sgd"},
			"fused in groups of 3 (--fuse on; auto: 6 fusable runs on 2 workers)"},
		{"--fuse on, four workers: groups of 2", Options{Fuse: FuseOn, Parallel: 4},
			[]string{"b4-lr0.001-adam b4-lr0.002-adam", "b8-lr0.001-adam b8-lr0.002-adam"},
			[]string{"b4-lr0.001-sgd: optimizer sgd", "b4-lr0.002-sgd: optimizer sgd",
				"b4-lr0.004-adam: the other runs of its shape fill groups of 2", "b4-lr0.004-sgd: optimizer sgd",
				"b8-lr0.001-sgd: optimizer sgd", "b8-lr0.002-sgd: optimizer sgd",
				"b8-lr0.004-adam: the other runs of its shape fill groups of 2", "b8-lr0.004-sgd: optimizer sgd"},
			"fused in groups of 2 (--fuse on; auto: 6 fusable runs on 4 workers)"},
		{"--fuse-group 2 on one worker", Options{Fuse: FuseOn, FuseGroup: 2, Parallel: 1},
			[]string{"b4-lr0.001-adam b4-lr0.002-adam", "b8-lr0.001-adam b8-lr0.002-adam"}, nil,
			"fused in groups of 2 (--fuse on; --fuse-group 2)"},
		{"--fuse auto on a CPU", Options{Parallel: 2}, nil, nil, "not fused (auto: " + cpuFuseReason + ")"},
		{"--fuse off", Options{Fuse: FuseOff, Parallel: 2}, nil, nil, "not fused (--fuse off)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.DryRun = true
			s := e.sweep(t, tc.opts, Plan{}, "", grid...)
			f := s.Planned().Fuse
			var groups, alone []string
			for _, g := range f.Groups {
				groups = append(groups, trimNames(strings.Join(g, " ")))
			}
			for _, a := range f.Alone {
				alone = append(alone, trimNames(a.Run)+": "+a.Reason)
			}
			if !slices.Equal(groups, tc.groups) {
				t.Errorf("groups %q, want %q", groups, tc.groups)
			}
			if tc.alone != nil {
				if len(alone) != len(tc.alone) {
					t.Fatalf("alone %q, want %q", alone, tc.alone)
				}
				for i := range alone {
					if !strings.HasPrefix(alone[i], tc.alone[i]) {
						t.Errorf("alone %q, want %q…", alone[i], tc.alone[i])
					}
				}
			}
			if got := f.String(); got != tc.fusedLine {
				t.Errorf("console: %q, want %q", got, tc.fusedLine)
			}
		})
	}
}

// trimNames drops the part every run name of these tests starts with.
func trimNames(s string) string { return strings.ReplaceAll(s, "xavier-nobn-", "") }

// --fuse and --fuse-group out of range, or contradicting each other or the sweep, are bad input.
func TestFuseOptionsRefused(t *testing.T) {
	trials, tpe := 2, SearchTPE
	for _, tc := range []struct {
		name   string
		opts   Options
		search Search
		want   string
	}{
		{"unknown mode", Options{Fuse: "yes"}, Search{}, `--fuse: "yes" is not one of auto, on, off`},
		{"negative group", Options{FuseGroup: -1}, Search{}, "--fuse-group: -1 must be 0 (auto) or in [1, 256]"},
		{"group with off", Options{Fuse: FuseOff, FuseGroup: 4}, Search{}, "--fuse-group 4: --fuse off fuses nothing"},
		{"on with TPE", Options{Fuse: FuseOn}, Search{Trials: &trials, Method: &tpe}, "--fuse on: --search tpe proposes each trial"},
		{"on with steps per call", Options{Fuse: FuseOn, StepsPerCall: 4}, Search{Trials: &trials}, "--fuse on: --steps-per-call 4: fused trials train one step per call"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newFakeEnv(t)
			grid, err := flagGrid(t, "--lr", "log_uniform:0.001:0.01", "--batch-size", "4", "--epochs", "1")
			if err != nil {
				t.Fatal(err)
			}
			plan, err := NewPlan("", grid, &tc.search)
			if err != nil {
				t.Fatal(err)
			}
			tc.opts.LogDir, tc.opts.DataDir, tc.opts.Device, tc.opts.DryRun = e.logdir, e.data, "cpu", true
			_, err = New(plan, tc.opts)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error %v, want one starting %q", err, tc.want)
			}
		})
	}
}

// A group fits a worker's share of the memory with the data once and each trial's weights, slots and
// batch activations.
func TestGroupFit(t *testing.T) {
	s := &Sweep{features: 784, classes: 10, trainExamples: 1000, parallel: Parallelism{Workers: 2}}
	r := Run{Name: "r", Variant: spec.Defaults()}
	weights, batch, other, err := memoryBytes(r.Variant, s.features, s.classes, s.trainExamples)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		available float64
		want      int
	}{
		{"room for 3.5 trials a worker", 2 * (other + 3.5*(weights+batch)), 3},
		{"room for one", 2 * (other + weights + batch), 1},
		{"not even the data", other, 0},
		{"a lot", 1e18, MaxParallel},
	} {
		got, err := s.groupFit(r, tc.available)
		if err != nil || got != tc.want {
			t.Errorf("%s: %d, %v; want %d", tc.name, got, err, tc.want)
		}
	}
}

// A group takes the runs of its first run's seed before others of its shape: they shuffle alike, so
// the worker trains them on one batch per step.
func TestGroupsPreferOneSeed(t *testing.T) {
	e := newFakeEnv(t)
	// Runs in plan order: lr0.001-s1, lr0.001-s2, lr0.002-s1, lr0.002-s2, lr0.004-s1, lr0.004-s2.
	grid := []string{"--lr", "0.001,0.002,0.004", "--seed", "1,2", "--batch-size", "4", "--epochs", "1"}
	for _, tc := range []struct {
		group int
		want  []string
		alone []string
	}{
		{2, []string{"lr0.001-s1 lr0.002-s1", "lr0.001-s2 lr0.002-s2", "lr0.004-s1 lr0.004-s2"}, nil},
		{3, []string{"lr0.001-s1 lr0.002-s1 lr0.004-s1", "lr0.001-s2 lr0.002-s2 lr0.004-s2"}, nil},
		{4, []string{"lr0.001-s1 lr0.001-s2 lr0.002-s1 lr0.004-s1", "lr0.002-s2 lr0.004-s2"}, nil},
		{5, []string{"lr0.001-s1 lr0.001-s2 lr0.002-s1 lr0.002-s2 lr0.004-s1"}, []string{"lr0.004-s2"}},
	} {
		s := e.sweep(t, Options{Fuse: FuseOn, FuseGroup: tc.group, Parallel: 1, DryRun: true}, Plan{}, "", grid...)
		var groups, alone []string
		for _, g := range s.Planned().Fuse.Groups {
			groups = append(groups, strings.ReplaceAll(trimNames(strings.Join(g, " ")), "b4-", ""))
		}
		for _, a := range s.Planned().Fuse.Alone {
			alone = append(alone, strings.ReplaceAll(trimNames(a.Run), "b4-", ""))
		}
		if !slices.Equal(groups, tc.want) || !slices.Equal(alone, tc.alone) {
			t.Errorf("--fuse-group %d: groups %q, alone %q; want %q, %q", tc.group, groups, alone, tc.want, tc.alone)
		}
	}
}
