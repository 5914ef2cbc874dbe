package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tfsweep/tfsweep/spec"
)

// fusedSweepJSON is what this test reads of `tfsweep run --json` beyond sweepJSON: the fusion choice
// and the group each run trained in.
type fusedSweepJSON struct {
	Fuse struct {
		On     bool       `json:"on"`
		Groups [][]string `json:"groups"`
	} `json:"fuse"`
	Runs []struct {
		Name       string      `json:"name"`
		Status     string      `json:"status"`
		Seed       int64       `json:"seed"`
		FusedGroup []string    `json:"fused_group"`
		History    historyJSON `json:"history"`
	} `json:"runs"`
}

// TestRunFusedMatchesUnfused trains one sweep twice through the real front and worker, with --fuse on
// and --fuse off: the fused sweep must send every run in a group, write the same files for every run
// (event files, checkpoints, SavedModel, pictures), and train each run to the unfused run's metrics
// within float32 rounding. The worker's tests cover members on batches of their own; here each group
// holds one seed's runs, which share their batches.
func TestRunFusedMatchesUnfused(t *testing.T) {
	t.Parallel()
	data := os.Getenv("TFSWEEP_DATA_DIR")
	if data == "" {
		t.Fatal("TFSWEEP_DATA_DIR is not set: run `make test`, or `scripts/setup-data.sh` and export TFSWEEP_DATA_DIR=$PWD/data/mnist")
	}
	sweeps := map[string]fusedSweepJSON{}
	trees := map[string][]string{}
	for _, fuse := range []string{"on", "off"} {
		logdir := t.TempDir()
		code, stdout, stderr := runCmd(t, "--data-dir", data, "--logdir", logdir, "--name", "s", "--limit", "1024",
			"--epochs", "2", "--batch-size", "64", "--lr", "0.001,0.003", "--seed", "1,2", "--init", "xavier,he_normal",
			"--parallel", "2", "--pictures-every", "1", "--device", "cpu", "--fuse", fuse, "--json")
		if code != spec.ExitOK {
			t.Fatalf("--fuse %s: exit %d\nstdout: %s\nstderr: %s", fuse, code, stdout, stderr)
		}
		var res fusedSweepJSON
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			t.Fatalf("--fuse %s: stdout is not the JSON summary: %v\n%s", fuse, err, stdout)
		}
		sweeps[fuse] = res
		trees[fuse] = runFiles(t, filepath.Join(logdir, "s"))
	}
	fused, alone := sweeps["on"], sweeps["off"]
	checkGroups(t, fused)
	if alone.Fuse.On || len(alone.Fuse.Groups) != 0 {
		t.Errorf("--fuse off sent groups: %+v", alone.Fuse)
	}
	if !slices.Equal(trees["on"], trees["off"]) {
		t.Errorf("the fused sweep's files differ from the unfused one's:\nfused:   %q\nunfused: %q", trees["on"], trees["off"])
	}
	if len(fused.Runs) != 8 || len(alone.Runs) != 8 {
		t.Fatalf("%d fused and %d unfused runs, want 8 each", len(fused.Runs), len(alone.Runs))
	}
	for i, f := range fused.Runs {
		a := alone.Runs[i]
		if f.Name != a.Name || f.Status != "succeeded" || a.Status != "succeeded" {
			t.Fatalf("run %d: fused %s %s, unfused %s %s", i, f.Name, f.Status, a.Name, a.Status)
		}
		// Measured: 0 to 1.1e-7 relative (BatchMatMulV2 rounds differently from MatMul).
		for _, c := range []struct {
			what     string
			got, was []float64
		}{
			{"train_loss", f.History.TrainLoss, a.History.TrainLoss}, {"val_loss", f.History.ValLoss, a.History.ValLoss},
			{"train_accuracy", f.History.TrainAccuracy, a.History.TrainAccuracy}, {"val_accuracy", f.History.ValAccuracy, a.History.ValAccuracy},
		} {
			if len(c.got) != 2 || len(c.was) != 2 {
				t.Fatalf("%s %s: %d fused and %d unfused epochs, want 2", f.Name, c.what, len(c.got), len(c.was))
			}
			for e := range c.got {
				if d := math.Abs(c.got[e]-c.was[e]) / math.Abs(c.was[e]); d > 1e-6 {
					t.Errorf("%s %s epoch %d: fused %v, unfused %v (relative %.2g > 1e-6)", f.Name, c.what, e, c.got[e], c.was[e], d)
				}
			}
		}
	}
}

// checkGroups asserts that every run of a --fuse on sweep trained in exactly one group, the one its
// result names, and that a group holds runs of one seed (they train on one shared batch per step)
// when the sweep has enough of them: here four per seed, in groups of four.
func checkGroups(t *testing.T, res fusedSweepJSON) {
	t.Helper()
	if !res.Fuse.On || len(res.Fuse.Groups) == 0 {
		t.Fatalf("--fuse on sent no groups: %+v", res.Fuse)
	}
	in := map[string][]string{}
	for _, g := range res.Fuse.Groups {
		if len(g) < 2 {
			t.Errorf("a group of %d runs: %q", len(g), g)
		}
		for _, name := range g {
			if _, twice := in[name]; twice {
				t.Errorf("run %s in two groups", name)
			}
			in[name] = g
		}
	}
	seed := map[string]int64{}
	for _, r := range res.Runs {
		seed[r.Name] = r.Seed
	}
	for _, g := range res.Fuse.Groups {
		for _, name := range g {
			if seed[name] != seed[g[0]] {
				t.Errorf("group %q mixes seeds %d and %d", g, seed[g[0]], seed[name])
			}
		}
	}
	for _, r := range res.Runs {
		if !slices.Equal(in[r.Name], r.FusedGroup) {
			t.Errorf("run %s says it trained in %q, the sweep sent it in %q", r.Name, r.FusedGroup, in[r.Name])
		}
	}
}

// eventFileStamp is the part of an event file's name that differs between two writes of the same run.
var eventFileStamp = regexp.MustCompile(`tfevents\.[^/]*$`)

// runFiles lists the files of a sweep's runs relative to the sweep, event files' stamps elided.
func runFiles(t *testing.T, sweepDir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(sweepDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(sweepDir, path)
		if err != nil {
			return err
		}
		if strings.HasPrefix(rel, ".claims") || !strings.Contains(rel, string(filepath.Separator)) {
			return nil // the sweep's own files, not a run's
		}
		files = append(files, eventFileStamp.ReplaceAllString(rel, "tfevents.*"))
		return nil
	})
	if err != nil {
		t.Fatal(fmt.Errorf("list %s: %w", sweepDir, err))
	}
	slices.Sort(files)
	return files
}
