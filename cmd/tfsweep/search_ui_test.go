package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tfsweep/tfsweep/report"
	"github.com/tfsweep/tfsweep/spec"
)

// searchRun is a run of `tfsweep run --json` as a scheduled search reports it.
type searchRun struct {
	Name            string       `json:"name"`
	Status          spec.Status  `json:"status"`
	Reason          string       `json:"reason"`
	EpochsCompleted int          `json:"epochs_completed"`
	History         spec.History `json:"history"`
}

// TestScheduledSearchShowsWhyRunsStopped runs a scheduled search and checks what the user sees of
// every trial, from the --json answer: `tfsweep status` gives its state, epochs and reason, the
// report ranks it, and TensorBoard (both loaders) shows its session with the status its end maps to,
// epochs_trained, and its best epoch's metrics; the experiment lists lr, the axis that varies, first.
// ASHA (η 3, rungs at 1 and 3 of 9 epochs) pauses two thirds of 12 trials at the first rung and
// promotes the others, which resume from their checkpoints; the median rule lets the first trials
// finish and prunes the later ones worse than the median of the others.
func TestScheduledSearchShowsWhyRunsStopped(t *testing.T) {
	t.Parallel()
	data := realData(t)
	tbCheck(t)
	for _, tc := range []struct {
		scheduler, trials, epochs string
		check                     func(counts map[spec.Status]int, promoted, n int) bool
	}{
		{"asha", "12", "9", func(c map[spec.Status]int, promoted, n int) bool { return c[spec.StatusPaused] >= n/2 && promoted > 0 }},
		{"median", "8", "6", func(c map[spec.Status]int, _, _ int) bool {
			return c[spec.StatusPruned] > 0 && c[spec.StatusSucceeded] > 0
		}},
	} {
		t.Run(tc.scheduler, func(t *testing.T) {
			logdir := t.TempDir()
			code, stdout, stderr := runCmd(t, "--data-dir", data, "--logdir", logdir, "--name", "search", "--limit", "1000",
				"--epochs", tc.epochs, "--batch-size", "128", "--lr", "log_uniform:1e-4:1e-1", "--trials", tc.trials, "--search-seed", "1",
				"--scheduler", tc.scheduler, "--log-every", "0", "--json")
			if code != spec.ExitOK {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			var res struct {
				SweepDir string      `json:"sweep_dir"`
				Runs     []searchRun `json:"runs"`
			}
			if err := json.Unmarshal([]byte(stdout), &res); err != nil {
				t.Fatal(err)
			}
			counts, promoted := map[spec.Status]int{}, 0
			for _, r := range res.Runs {
				counts[r.Status]++
				if r.EpochsCompleted > 1 { // past ASHA's first rung: promoted
					promoted++
				}
				if r.Status == spec.StatusPaused || r.Status == spec.StatusPruned {
					if want := fmt.Sprintf("%s at epoch %d by %s", r.Status, r.EpochsCompleted, tc.scheduler); !strings.HasPrefix(r.Reason, want) {
						t.Errorf("%s: %s after %d epochs with the reason %q, want it to begin %q", r.Name, r.Status, r.EpochsCompleted, r.Reason, want)
					}
				}
			}
			if !tc.check(counts, promoted, len(res.Runs)) {
				t.Fatalf("%v of %d trials, %d promoted: not what %s decides\n%s", counts, len(res.Runs), promoted, tc.scheduler, stdout)
			}
			checkSearchStatus(t, res.SweepDir, res.Runs)
			checkSearchReport(t, res.SweepDir, res.Runs)
			checkSearchTensorBoard(t, res.SweepDir, res.Runs)
		})
	}
}

func checkSearchStatus(t *testing.T, dir string, runs []searchRun) {
	t.Helper()
	code, out, errOut := statusCmd(t, dir)
	if code != spec.ExitOK {
		t.Errorf("status exit %d, want 0 for a search every run of which succeeded or was pruned or paused\n%s%s", code, out, errOut)
	}
	for _, r := range runs {
		want := strings.Join(strings.Fields(r.Name+" "+string(r.Status)+" "+strconv.Itoa(r.EpochsCompleted)), " ")
		found := false
		for line := range strings.SplitSeq(out, "\n") {
			if f := strings.Fields(line); len(f) >= 3 && strings.Join(f[:3], " ") == want && strings.HasSuffix(line, r.Reason) {
				found = true
			}
		}
		if !found {
			t.Errorf("status shows no line %q ending with %q:\n%s", want, r.Reason, out)
		}
	}
}

func checkSearchReport(t *testing.T, dir string, runs []searchRun) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, report.JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	var doc report.Document
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Search == nil || len(doc.Search.Ranking) != len(runs) {
		t.Fatalf("report.json has no ranking of the %d trials: %+v", len(runs), doc.Search)
	}
	byName := map[string]searchRun{}
	spent := 0
	for _, r := range runs {
		byName[r.Name] = r
		spent += len(r.History.ValLoss)
	}
	for i, got := range doc.Search.Ranking {
		r := byName[got.Run]
		best, _ := r.History.BestEpoch()
		if got.Status != r.Status || got.Reason != r.Reason || got.At != int64(best) || float32(got.Best) != float32(r.History.ValLoss[best]) {
			t.Errorf("ranking %d: %+v, want %s's best epoch %d (%v), %s %q", i, got, r.Name, best, r.History.ValLoss[best], r.Status, r.Reason)
		}
		if i > 0 && got.Best < doc.Search.Ranking[i-1].Best {
			t.Errorf("ranking %d (%v) is better than the one before (%v)", i, got.Best, doc.Search.Ranking[i-1].Best)
		}
	}
	if n := len(doc.Search.BestVsEpochs); n != spent || float32(doc.Search.BestVsEpochs[n-1].Best) != float32(doc.Search.Ranking[0].Best) {
		t.Errorf("best against epochs: %d points ending at %+v; want %d, ending at the best run's %v", n, doc.Search.BestVsEpochs[n-1], spent, doc.Search.Ranking[0].Best)
	}
}

// sessionStatus is the TensorBoard status a run's session ends with (worker's sessionEnd).
var sessionStatus = map[spec.Status]string{
	spec.StatusSucceeded: "STATUS_SUCCESS", spec.StatusPruned: "STATUS_FAILURE", spec.StatusPaused: "STATUS_RUNNING",
}

func checkSearchTensorBoard(t *testing.T, dir string, runs []searchRun) {
	t.Helper()
	groups := map[string]any{}
	var texts []map[string]any
	for _, r := range runs {
		best, _ := r.History.BestEpoch()
		m := r.History.At(best)
		groups["search/"+r.Name] = map[string]any{
			"status": sessionStatus[r.Status], "sessions": []string{r.Name},
			"metrics": []map[string]any{
				{"tag": spec.TagEpochsTrained, "value": r.EpochsCompleted},
				{"group": spec.ValidationDir, "tag": spec.TagEpochLoss, "value": r.History.ValLoss[r.EpochsCompleted-1], "step": r.EpochsCompleted - 1},
				{"group": spec.ValidationDir, "tag": spec.TagBestEpochLoss, "value": m.ValLoss, "step": best},
				{"group": spec.ValidationDir, "tag": spec.TagBestEpochAccuracy, "value": m.ValAccuracy, "step": best},
				{"group": spec.TrainDir, "tag": spec.TagBestEpochLoss, "value": m.Loss, "step": best},
				{"group": spec.TrainDir, "tag": spec.TagBestEpochAccuracy, "value": m.Accuracy, "step": best},
			},
		}
		texts = append(texts, map[string]any{"run": r.Name, "tag": spec.TagStatus, "step": 0, "equals": string(r.Status)})
		if r.Reason != "" {
			texts = append(texts, map[string]any{"run": r.Name, "tag": spec.TagReason, "step": 0, "equals": r.Reason})
		}
	}
	runTBCheck(t, dir, map[string]any{
		"runs_subset": true, "runs": []string{"."},
		"rtol": 1e-5, "atol": 1e-6,
		"texts": texts,
		"hparams": map[string]any{
			"experiment": map[string]any{
				"differs": []string{"lr"},
				"metrics": hparamsMetrics,
			},
			"session_groups": groups,
		},
	})
}
