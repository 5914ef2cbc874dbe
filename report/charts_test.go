package report

import (
	"regexp"
	"strings"
	"testing"

	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/sweep"
)

// The lab-report preset's layout has one chart per figure of the report, each over exactly the runs
// the figure plots.
func TestChartLayoutOfThePreset(t *testing.T) {
	runs, err := sweep.LabReport().Runs(sweep.DefaultMaxRuns)
	if err != nil {
		t.Fatal(err)
	}
	layout := ChartLayout(runs)
	if len(layout.Categories) != 2 || layout.Categories[0].Title != "Lab report figures" || len(layout.Categories[0].Charts) != 14 {
		t.Fatalf("layout %+v", layout)
	}
	matches := func(regex string) []string {
		re := regexp.MustCompile(regex)
		var out []string
		for _, r := range runs {
			for _, split := range []string{"train", "validation"} {
				if tag := spec.ChartTag(r.Name, split); re.MatchString(tag) {
					out = append(out, tag)
				}
			}
		}
		return out
	}
	for _, c := range []struct {
		chart int
		want  string
	}{
		{0, "xavier-nobn-b64/train_loss xavier-bn-b64/train_loss"},
		{3, "xavier-nobn-b128/validation_loss xavier-bn-b128/validation_loss"},
		{10, "xavier-nobn-b64/train_loss xavier-nobn-b128/train_loss xavier-nobn-b256/train_loss xavier-nobn-b512/train_loss xavier-nobn-b1024/train_loss"},
		{13, "uniform-nobn-b128/validation_loss uniform-bn-b128/validation_loss"},
	} {
		chart := layout.Categories[0].Charts[c.chart]
		if got := strings.Join(matches(chart.Tags[0]), " "); got != c.want {
			t.Errorf("%s plots %s, want %s", chart.Title, got, c.want)
		}
	}
	// By axis: init (2 values), batchnorm (2) and batch_size (5).
	if n := len(layout.Categories[1].Charts); n != 9 {
		t.Errorf("%d charts by axis value, want 9", n)
	}
}
