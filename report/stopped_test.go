package report

import (
	"encoding/csv"
	"encoding/json"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tfsweep/tfsweep/spec"
)

const (
	prunedReason = "pruned at epoch 2 by asha: rank 3 of 3"
	pausedReason = "paused at epoch 1 by asha: rank 2 of 3"
)

// seedRun is the lab report's xavier, no batch norm, batch 64 variant with its own seed, as it
// ended: after epochs epochs, with final train and validation losses train and val.
func seedRun(name string, seed float64, status spec.Status, reason string, epochs int, train, val float64) Run {
	r := presetSweepRuns()[0]
	r.Name, r.Status, r.Reason = name, status, reason
	r.HParams = maps.Clone(r.HParams)
	r.HParams["seed"] = seed
	r.Curves = Curves{
		TrainLoss: curve(train, epochs), ValLoss: curve(val, epochs),
		TrainAccuracy: curve(0.9, epochs), ValAccuracy: curve(0.8, epochs),
	}
	return r
}

// A completed, a pruned, a paused and a failed run of one variant: report.csv, report.json and
// report.md's Runs table say how and why each ended, with the epochs and final losses it logged
// (null, and an empty curve, for the validation the failed one never logged).
func TestReportStoppedRuns(t *testing.T) {
	want := []struct {
		run    Run
		epochs int
	}{
		{seedRun("s1", 1, spec.StatusSucceeded, "", 5, 0.4, 0.5), 5},
		{seedRun("s2", 2, spec.StatusPruned, prunedReason, 2, 0.7, 0.8), 2},
		{seedRun("s3", 3, spec.StatusPaused, pausedReason, 1, 0.9, 0.95), 1},
		{seedRun("s4", 4, spec.StatusFailed, "", 1, 1.5, 0), 1},
	}
	// s4 failed in its first validation: it logged a train loss only.
	want[3].run.Curves.ValLoss, want[3].run.Curves.ValAccuracy = nil, nil
	var runs []Run
	for _, w := range want {
		runs = append(runs, w.run)
	}
	s := buildSweep(t, runs)
	written, md := writeReport(t, s)

	records, err := csv.NewReader(strings.NewReader(readFile(t, filepath.Join(s.Dir, CSVFile)))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 1+len(want) || !slices.Equal(records[0][:3], []string{"run", "status", "reason"}) {
		t.Fatalf("report.csv header %q, %d records", records[0], len(records))
	}
	col := map[string]int{}
	for i, name := range records[0] {
		col[name] = i
	}
	var doc struct {
		Runs []struct {
			Name   string                     `json:"name"`
			Status string                     `json:"status"`
			Reason string                     `json:"reason"`
			Epochs int                        `json:"epochs"`
			Final  map[string]json.RawMessage `json:"final"`
			Curves map[string]json.RawMessage `json:"curves"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(s.Dir, JSONFile))), &doc); err != nil {
		t.Fatal(err)
	}
	runsTable := markdownTable(md, "## Runs")
	for i, w := range want {
		t.Run(w.run.Name, func(t *testing.T) {
			f := w.run.Final()
			rec := records[1+i]
			if got := []string{rec[col["run"]], rec[col["status"]], rec[col["reason"]], rec[col["epochs_logged"]]}; !slices.Equal(got, []string{w.run.Name, string(w.run.Status), w.run.Reason, strconv.Itoa(w.epochs)}) {
				t.Errorf("report.csv run, status, reason, epochs = %q", got)
			}
			if got := rec[col["train_loss"]]; got != shortest(f.Loss) {
				t.Errorf("report.csv train_loss %s, want %s", got, shortest(f.Loss))
			}
			r := doc.Runs[i]
			if r.Name != w.run.Name || r.Status != string(w.run.Status) || r.Reason != w.run.Reason || r.Epochs != w.epochs {
				t.Errorf("report.json run %s %s %q %d epochs", r.Name, r.Status, r.Reason, r.Epochs)
			}
			var final spec.EpochMetrics
			if b, err := json.Marshal(r.Final); err != nil || json.Unmarshal(b, &final) != nil {
				t.Fatalf("report.json final %s", b)
			}
			if final.Epoch != w.epochs-1 || final.Loss != f.Loss || !sameNumber(final.ValLoss, f.ValLoss) || !sameNumber(final.ValAccuracy, f.ValAccuracy) {
				t.Errorf("report.json final %+v, want the last epoch's %+v", final, f)
			}
			if r.Curves["val_loss"] == nil || (len(w.run.Curves.ValLoss) == 0) != (string(r.Curves["val_loss"]) == "[]") {
				t.Errorf("report.json curves.val_loss %s, want %d points", r.Curves["val_loss"], len(w.run.Curves.ValLoss))
			}
			if len(w.run.Curves.ValLoss) == 0 && string(r.Final["val_loss"]) != "null" {
				t.Errorf("report.json final.val_loss %s, want null for a run that logged no validation", r.Final["val_loss"])
			}
			if row := runsTable[i]; row[0] != w.run.Name || !slices.Contains(row, string(w.run.Status)) || row[len(row)-1] != w.run.Reason {
				t.Errorf("report.md Runs row %q, want status %s and reason %q last", row, w.run.Status, w.run.Reason)
			}
		})
	}
	if !strings.Contains(written.Table, "| Reason") || !strings.Contains(written.Table, prunedReason) || !strings.Contains(written.Table, pausedReason) {
		t.Errorf("printed table lacks the reasons:\n%s", written.Table)
	}
}

func sameNumber(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }

// A lab-report cell's mean is of the runs that ran to their end: a failed run and one a scheduler
// pruned or paused (fewer epochs) are named beside it and left out of it, in report.md and
// report.json alike.
func TestLabReportMeanLeavesOutStoppedRuns(t *testing.T) {
	completed := seedRun("s1", 1, spec.StatusSucceeded, "", 5, 0.4, 0.5)
	completed2 := seedRun("s4", 4, spec.StatusSucceeded, "", 5, 0.2, 0.3)
	pruned := seedRun("s2", 2, spec.StatusPruned, prunedReason, 2, 0.7, 0.8)
	paused := seedRun("s3", 3, spec.StatusPaused, pausedReason, 1, 0.9, 0.95)
	failed := seedRun("s5", 5, spec.StatusFailed, "", 3, 0.6, 0.7)
	for _, tc := range []struct {
		name      string
		runs      []Run
		wantRuns  string // Table 1's Run cell
		wantValue string // Table 1's tfsweep cell
		wantMean  float64
		averaged  int
		stopped   []string
		failed    []string
	}{
		{"completed only", []Run{completed, completed2}, "s1, s4", f4(f32(0.3)) + " (mean of 2 seeds)", (f32(0.4) + f32(0.2)) / 2, 2, nil, nil},
		{"completed, pruned and paused", []Run{completed, pruned, paused}, "s1, s2, s3 (pruned or paused: s2, s3)",
			f4(f32(0.4)) + " (mean of 1 completed, 2 left out)", f32(0.4), 1, []string{"s2", "s3"}, nil},
		{"two completed, one pruned, one failed", []Run{completed, pruned, completed2, failed}, "s1, s2, s4, s5 (failed: s5) (pruned or paused: s2)",
			f4((f32(0.4)+f32(0.2))/2) + " (mean of 2 completed, 2 left out)", (f32(0.4) + f32(0.2)) / 2, 2, []string{"s2"}, []string{"s5"}},
		{"pruned and paused only", []Run{pruned, paused}, "s2, s3", "pruned or paused", math.NaN(), 0, []string{"s2", "s3"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := buildSweep(t, tc.runs)
			_, md := writeReport(t, s)
			rows := markdownTable(md, "**Table 1: Train Loss**")
			if len(rows) != 2 || rows[0][1] != tc.wantRuns || rows[0][3] != tc.wantValue {
				t.Errorf("Table 1 first row %q, want runs %q and tfsweep %q", rows, tc.wantRuns, tc.wantValue)
			}
			var doc Document
			if err := json.Unmarshal([]byte(readFile(t, filepath.Join(s.Dir, JSONFile))), &doc); err != nil {
				t.Fatal(err)
			}
			row := doc.Tables[0].Rows[0]
			mean := float64(row.Tfsweep)
			if !(mean == tc.wantMean || math.IsNaN(mean) && math.IsNaN(tc.wantMean)) && f32(mean) != f32(tc.wantMean) {
				t.Errorf("report.json Table 1 tfsweep %v, want %v", mean, tc.wantMean)
			}
			if row.Averaged != tc.averaged || !slices.Equal(row.Stopped, tc.stopped) || !slices.Equal(row.Failed, tc.failed) {
				t.Errorf("report.json Table 1 row averaged %d, stopped %q, failed %q; want %d, %q, %q",
					row.Averaged, row.Stopped, row.Failed, tc.averaged, tc.stopped, tc.failed)
			}
		})
	}
}

// Across sweeps, a configuration's means leave out the runs a scheduler stopped, which are marked.
func TestAcrossSweepsMeanLeavesOutStoppedRuns(t *testing.T) {
	runs := []Run{
		seedRun("a/s1", 1, spec.StatusSucceeded, "", 5, 0.4, 0.5),
		seedRun("a/s2", 2, spec.StatusPruned, prunedReason, 2, 0.7, 0.8),
		seedRun("b/s4", 4, spec.StatusSucceeded, "", 5, 0.2, 0.3),
	}
	_, md := writeReport(t, buildSweep(t, runs))
	rows := markdownTable(md, "## Across sweeps")
	want := []string{"(all equal)", "a/s1, a/s2 (pruned), b/s4 (mean of 2)", f4((f32(0.4) + f32(0.2)) / 2), f4((f32(0.5) + f32(0.3)) / 2)}
	if len(rows) != 1 || !slices.Equal(rows[0][:4], want) {
		t.Errorf("Across sweeps = %q, want a row starting %q", rows, want)
	}
}
