package sweep

import (
	"errors"
	"path/filepath"
	"sync"

	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/summary"
)

// charts writes spec.ChartsDir as the workers report epochs; it is safe for concurrent use.
type charts struct {
	mu sync.Mutex
	w  *summary.Writer
}

func openCharts(sweepDir string, layout summary.Layout) (*charts, error) {
	w, err := summary.NewWriter(filepath.Join(sweepDir, spec.ChartsDir))
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

func (c *charts) epoch(run string, e spec.EpochMetrics) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	step := int64(e.Epoch)
	return errors.Join(c.w.Scalar(spec.ChartTag(run, spec.TrainDir), step, e.Loss), c.w.Scalar(spec.ChartTag(run, spec.ValidationDir), step, e.ValLoss), c.w.Flush())
}

func (c *charts) close() error { return c.w.Close() }
