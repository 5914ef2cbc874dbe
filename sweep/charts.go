package sweep

import (
	"errors"
	"path/filepath"
	"sync"

	"github.com/tfsweep/tfsweep/summary"
)

// ChartsDir is the sweep's Custom Scalars run: it holds the chart layout and every run's epoch
// losses under ChartTag, so that a chart can pick runs by tag (Custom Scalars charts select tags,
// not runs). It has no hparams session, so reports and the HParams dashboard do not take it for a
// run.
const ChartsDir = "charts"

// ChartTag is the tag of a run's epoch loss of a split ("train" or "validation") in ChartsDir.
func ChartTag(run, split string) string { return run + "/" + split + "_loss" }

// charts writes ChartsDir as the workers report epochs; it is safe for concurrent use.
type charts struct {
	mu sync.Mutex
	w  *summary.Writer
}

func openCharts(sweepDir string, layout summary.Layout) (*charts, error) {
	w, err := summary.NewWriter(filepath.Join(sweepDir, ChartsDir))
	if err != nil {
		return nil, err
	}
	// Processes joining a sweep write no layout: the one that recorded the plan wrote it.
	if len(layout.Categories) > 0 {
		if err := errors.Join(w.CustomScalars(layout), w.Flush()); err != nil {
			return nil, errors.Join(err, w.Close())
		}
	}
	return &charts{w: w}, nil
}

func (c *charts) epoch(run string, e Epoch) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	step := int64(e.Epoch)
	return errors.Join(c.w.Scalar(ChartTag(run, "train"), step, e.Loss), c.w.Scalar(ChartTag(run, "validation"), step, e.ValLoss), c.w.Flush())
}

func (c *charts) close() error { return c.w.Close() }
