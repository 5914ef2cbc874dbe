package sweep

import (
	"testing"

	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/summary"
)

// A sweep whose runs give no chart (one run, nothing varies) still writes its losses, and no
// layout: an empty layout is an error to TensorBoard's plugin and used to fail the sweep.
func TestChartsWithoutLayout(t *testing.T) {
	dir := t.TempDir()
	c, err := openCharts(dir, summary.Layout{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.epoch("r", spec.EpochMetrics{Epoch: 0, Loss: 0.5, ValLoss: 0.6}); err != nil {
		t.Fatal(err)
	}
	if err := c.close(); err != nil {
		t.Fatal(err)
	}
	files, err := summary.EventFiles(dir + "/" + spec.ChartsDir)
	if err != nil || len(files) != 1 {
		t.Fatalf("event files %v, %v", files, err)
	}
	events, err := summary.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	tags := map[string]bool{}
	for _, e := range events {
		for _, v := range e.Values {
			tags[v.Tag] = true
		}
	}
	if !tags[spec.ChartTag("r", "train")] || !tags[spec.ChartTag("r", "validation")] || tags[summary.CustomScalarsTag] {
		t.Errorf("tags %v: want both losses and no layout", tags)
	}
}
