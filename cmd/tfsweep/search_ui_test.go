package main

import (
	"encoding/json"
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
	Name            string      `json:"name"`
	Status          spec.Status `json:"status"`
	Reason          string      `json:"reason"`
	EpochsCompleted int         `json:"epochs_completed"`
	History         spec.Curves `json:"history"`
}

// TestScheduledSearchShowsWhyRunsStopped runs an ASHA search of 12 trials (rungs at 1 and 3 of 9
// epochs: a third of the trials are promoted past the first, resumed from their checkpoints, the
// others pause there) and checks what the user sees of every trial,
// from the --json answer: `tfsweep status` gives its state, epochs and reason, the report ranks it,
// and TensorBoard (both loaders) shows its session with the status its end maps to, epochs_trained,
// and its best epoch's metrics; the experiment lists lr, the axis that varies, first.
func TestScheduledSearchShowsWhyRunsStopped(t *testing.T) {
	data := realData(t)
	tbCheck(t)
	logdir := t.TempDir()
	code, stdout, stderr := runCmd(t, "--data-dir", data, "--logdir", logdir, "--name", "asha", "--limit", "1000", "--epochs", "9",
		"--batch-size", "128", "--lr", "log_uniform:1e-4:1e-1", "--trials", "12", "--search-seed", "1", "--scheduler", "asha",
		"--log-every", "0", "--json")
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
	paused, promoted := 0, 0
	for _, r := range res.Runs {
		if r.EpochsCompleted > 1 {
			promoted++
		}
		if r.Status == spec.StatusPaused {
			paused++
			if !strings.HasPrefix(r.Reason, "paused at epoch "+strconv.Itoa(r.EpochsCompleted)+" by asha") {
				t.Errorf("%s: paused after %d epochs with the reason %q", r.Name, r.EpochsCompleted, r.Reason)
			}
		}
	}
	if paused < len(res.Runs)/2 || promoted == 0 {
		t.Fatalf("%d of %d trials paused and %d promoted; ASHA with η 3 pauses two thirds at the first rung and promotes the others:\n%s",
			paused, len(res.Runs), promoted, stdout)
	}
	checkSearchStatus(t, res.SweepDir, res.Runs)
	checkSearchReport(t, res.SweepDir, res.Runs)
	checkSearchTensorBoard(t, res.SweepDir, res.Runs)
}

func checkSearchStatus(t *testing.T, dir string, runs []searchRun) {
	t.Helper()
	code, out, errOut := statusCmd(t, dir)
	if code != spec.ExitOK {
		t.Errorf("status exit %d, want 0 for a search every run of which succeeded or was paused\n%s%s", code, out, errOut)
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
		groups["asha/"+r.Name] = map[string]any{
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
				"metrics": []map[string]string{
					{"group": "validation", "tag": "epoch_loss"}, {"group": "validation", "tag": "epoch_accuracy"},
					{"group": "train", "tag": "epoch_loss"}, {"group": "train", "tag": "epoch_accuracy"},
					{"group": "validation", "tag": "best_epoch_loss"}, {"group": "validation", "tag": "best_epoch_accuracy"},
					{"group": "train", "tag": "best_epoch_loss"}, {"group": "train", "tag": "best_epoch_accuracy"},
					{"tag": "epochs_trained"},
				},
			},
			"session_groups": groups,
		},
	})
}
