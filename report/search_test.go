package report

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/summary"
)

// searchEpoch is one validation epoch of a trial, logged at a wall time (seconds).
type searchEpoch struct {
	wall int
	loss float64
}

// searchTrial is a trial of a scheduled search as the worker logs it: the session, its status and
// reason texts, and its validation epochs.
type searchTrial struct {
	name   string
	status summary.Status
	state  spec.Status // the status text; "" writes none
	reason string
	epochs []searchEpoch
}

// The trials of an ASHA-like search, interleaved in time: a paused trial promoted later (t1), one
// pruned after two epochs (t2), and one left paused (t3).
var searchTrials = []searchTrial{
	{"t1", summary.StatusSuccess, spec.StatusSucceeded, "", []searchEpoch{{1, 0.9}, {4, 0.5}, {5, 0.45}}},
	{"t2", summary.StatusFailure, spec.StatusPruned, "pruned at epoch 2 by median: 0.8 is worse than the median 0.65", []searchEpoch{{2, 0.7}, {3, 0.8}}},
	{"t3", summary.StatusRunning, spec.StatusPaused, "paused at epoch 1 by asha: rank 3 of 3", []searchEpoch{{6, 1.2}}},
}

func writeSearchSweep(t *testing.T, dir string, trials []searchTrial) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	at := func(s int) summary.ValueOption { return summary.WallTime(time.Unix(1_800_000_000+int64(s), 0)) }
	for _, tr := range trials {
		run := filepath.Join(dir, tr.name)
		w, err := summary.NewWriter(run)
		must(err)
		must(w.HParamsSessionStart(summary.SessionStart{HParams: map[string]any{"lr": 0.01, "epochs": 3.0}}))
		if tr.state != "" {
			must(w.Text(spec.TagStatus, 0, string(tr.state)))
		}
		if tr.reason != "" {
			must(w.Text(spec.TagReason, 0, tr.reason))
		}
		must(w.HParamsSessionEnd(tr.status, time.Time{}))
		must(w.Close())
		for _, sub := range []string{spec.TrainDir, spec.ValidationDir} {
			w, err := summary.NewWriter(filepath.Join(run, sub))
			must(err)
			for i, e := range tr.epochs {
				must(w.Scalar(tagLoss, int64(i), e.loss, at(e.wall)))
				must(w.Scalar(tagAccuracy, int64(i), 1-e.loss/2, at(e.wall)))
			}
			must(w.Close())
		}
	}
}

// TestScheduledSearchReport reads a scheduled search's logs: the status and reason texts say how
// each trial ended, the trials rank by their best validation loss, the best loss against the epochs
// spent follows the epochs' wall times, and report.md, report.json and the figure carry them.
func TestScheduledSearchReport(t *testing.T) {
	dir := t.TempDir()
	writeSearchSweep(t, dir, searchTrials)
	s, err := Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	for i, tr := range searchTrials {
		if r := s.Runs[i]; r.Name != tr.name || r.Status != tr.state || r.Reason != tr.reason {
			t.Errorf("run %d: %s %s %q, want %s %s %q", i, r.Name, r.Status, r.Reason, tr.name, tr.state, tr.reason)
		}
	}
	if !s.Scheduled() {
		t.Fatal("a sweep with pruned and paused runs is not taken for a scheduled search")
	}
	wantRanking := []Ranked{
		{Rank: 1, Run: "t1", Status: spec.StatusSucceeded, Epochs: 3, Best: Number(f32(0.45)), At: 2, ValAccuracy: Number(f32(1 - 0.45/2))},
		{Rank: 2, Run: "t2", Status: spec.StatusPruned, Reason: searchTrials[1].reason, Epochs: 2, Best: Number(f32(0.7)), At: 0, ValAccuracy: Number(f32(1 - 0.7/2))},
		{Rank: 3, Run: "t3", Status: spec.StatusPaused, Reason: searchTrials[2].reason, Epochs: 1, Best: Number(f32(1.2)), At: 0, ValAccuracy: Number(f32(1 - 1.2/2))},
	}
	if got := s.Ranking(); !reflect.DeepEqual(got, wantRanking) {
		t.Errorf("ranking\n got %+v\nwant %+v", got, wantRanking)
	}
	// Wall times 1 (t1 0.9), 2 (t2 0.7), 3 (t2 0.8), 4 (t1 0.5), 5 (t1 0.45), 6 (t3 1.2).
	wantSpent := []Spent{{1, Number(f32(0.9)), "t1"}, {2, Number(f32(0.7)), "t2"}, {3, Number(f32(0.7)), "t2"},
		{4, Number(f32(0.5)), "t1"}, {5, Number(f32(0.45)), "t1"}, {6, Number(f32(0.45)), "t3"}}
	if got := s.BestVsEpochs(); !reflect.DeepEqual(got, wantSpent) {
		t.Errorf("best against epochs spent\n got %+v\nwant %+v", got, wantSpent)
	}
	f := s.searchFigure()
	if len(f.Lines) != 1 || len(f.Lines[0].Points) != len(wantSpent) {
		t.Fatalf("search figure lines %+v", f.Lines)
	}
	for i, p := range f.Lines[0].Points {
		if p.Step != int64(wantSpent[i].Epochs) || p.Value != float64(wantSpent[i].Best) {
			t.Errorf("search figure point %d: (%d, %v), want (%d, %v)", i, p.Step, p.Value, wantSpent[i].Epochs, wantSpent[i].Best)
		}
	}

	written, err := s.Write(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !contains(written.Figures, f.File) {
		t.Errorf("figures written %v, want %s among them", written.Figures, f.File)
	}
	if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f.File))); err != nil {
		t.Error(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, MarkdownFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"## The search",
		"|    1 | t1  | succeeded |      3 |        0.4500 |          3 |        0.7750 |",
		"|    2 | t2  | pruned    |      2 |        0.7000 |          1 |        0.6500 | " + searchTrials[1].reason + " |",
		"|    3 | t3  | paused    |      1 |        1.2000 |          1 |        0.4000 | " + searchTrials[2].reason + "                         |",
		"The search trained 6 epochs in all and found a best validation loss of 0.4500.",
		"![Search: best validation loss against epochs spent](" + f.File + ")",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
	var doc Document
	data, err := os.ReadFile(filepath.Join(dir, JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	// report.json holds float32 scalars in their shortest form: 0.45, not 0.44999998807907104.
	if doc.Search == nil || len(doc.Search.BestVsEpochs) != len(wantSpent) || len(doc.Search.Ranking) != len(wantRanking) {
		t.Fatalf("report.json search %+v", doc.Search)
	}
	for i, got := range doc.Search.BestVsEpochs {
		want := wantSpent[i]
		if got.Epochs != want.Epochs || got.Run != want.Run || float32(got.Best) != float32(want.Best) {
			t.Errorf("report.json best_vs_epochs[%d] %+v, want %+v", i, got, want)
		}
	}
	for i, got := range doc.Search.Ranking {
		want := wantRanking[i]
		if got.Run != want.Run || got.Reason != want.Reason || got.At != want.At || float32(got.Best) != float32(want.Best) {
			t.Errorf("report.json ranking[%d] %+v, want %+v", i, got, want)
		}
	}
	if doc.Runs[1].Reason != searchTrials[1].reason || doc.Runs[1].Status != spec.StatusPruned {
		t.Errorf("report.json run t2: %s %q", doc.Runs[1].Status, doc.Runs[1].Reason)
	}
}

// Without the status text (logs of an older tfsweep), a session reads as TensorBoard's status says;
// an interrupted run counts as failed; a sweep nothing pruned or paused has no search section.
func TestReportWithoutScheduler(t *testing.T) {
	dir := t.TempDir()
	trials := []searchTrial{
		{"a", summary.StatusSuccess, "", "", []searchEpoch{{1, 0.5}}},
		{"b", summary.StatusFailure, "", "", []searchEpoch{{2, math.NaN()}}},
		{"c", summary.StatusFailure, spec.StatusInterrupted, "", []searchEpoch{{3, 0.4}}},
	}
	writeSearchSweep(t, dir, trials)
	s, err := Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Runs[0].Status != spec.StatusSucceeded || s.Runs[1].Status != spec.StatusFailed || s.Runs[2].Status != spec.StatusInterrupted || s.Scheduled() {
		t.Errorf("statuses %s, %s, %s; scheduled %v", s.Runs[0].Status, s.Runs[1].Status, s.Runs[2].Status, s.Scheduled())
	}
	if s.Runs[0].Status.Failed() || !s.Runs[1].Status.Failed() || !s.Runs[2].Status.Failed() {
		t.Error("a succeeded run counts as failed, or a failed or interrupted one does not")
	}
	if _, err := s.Write(context.Background()); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, MarkdownFile))
	if strings.Contains(string(md), "## The search") {
		t.Error("a sweep without a scheduler has a search section")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
