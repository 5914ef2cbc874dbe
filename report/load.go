package report

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/summary"
)

// Errors a DirError wraps besides the fs errors of a missing directory.
var (
	ErrNoRuns       = errors.New("holds no runs (no hparams session nor train/ or validation/ event files)")
	ErrNotDirectory = errors.New("is not a directory")
)

// DirError is a directory that cannot be reported on: it does not exist, is not a directory, or
// holds no runs. `tfsweep report` exits 2 for it and 1 for any other error (a file it cannot read).
type DirError struct {
	Dir string
	Err error
}

func (e *DirError) Error() string { return fmt.Sprintf("%s: %v", e.Dir, e.Err) }
func (e *DirError) Unwrap() error { return e.Err }

// Load reads the event files of every run under dir.
func Load(ctx context.Context, dir string) (*Sweep, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, &DirError{Dir: dir, Err: err}
	}
	if !info.IsDir() {
		return nil, &DirError{Dir: dir, Err: ErrNotDirectory}
	}
	dirs, err := readEventDirs(ctx, dir)
	if err != nil {
		return nil, err
	}
	// Event files alone (the sweep's hparams experiment, say) are not runs: a run has a hparams
	// session or train/ and validation/ sub-runs.
	runs := assemble(dirs)
	if len(runs) == 0 {
		return nil, &DirError{Dir: dir, Err: ErrNoRuns}
	}
	return &Sweep{Dir: dir, Runs: runs}, nil
}

// readEventDirs reads every TensorBoard run under root (keyed by summary.Runs' names): the epoch
// scalars the report plots and the hparams session. A corrupt record fails the read, naming the file
// and offset; a truncated last record (a writer still writing) is read up to the cut, as TensorBoard does.
func readEventDirs(ctx context.Context, root string) (map[string]eventDir, error) {
	names, err := summary.Runs(root)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", root, err)
	}
	dirs := make(map[string]eventDir, len(names))
	for _, name := range names {
		files, err := summary.EventFiles(filepath.Join(root, filepath.FromSlash(name)))
		if err != nil {
			return nil, err
		}
		d := eventDir{scalars: map[string][]Point{}}
		for _, file := range files {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if err := readEventFile(file, &d); err != nil {
				return nil, err
			}
		}
		dirs[name] = d
	}
	return dirs, nil
}

func readEventFile(path string, d *eventDir) error {
	for ev, err := range summary.ReadEvents(path) {
		if err != nil {
			return err
		}
		for _, v := range ev.Values {
			switch {
			// A string or undecodable value under a metric's tag is not a number to plot.
			case v.Plugin == summary.PluginScalars && (v.Tag == tagLoss || v.Tag == tagAccuracy) && v.DType != "string" && v.Raw == nil:
				d.scalars[v.Tag] = append(d.scalars[v.Tag], Point{Step: ev.Step, Value: v.Scalar, Wall: ev.WallTime})
			case v.Plugin == summary.PluginText && v.Tag == spec.TagStatus:
				d.state = spec.Status(v.Text)
			case v.Plugin == summary.PluginText && v.Tag == spec.TagReason:
				d.reason = v.Text
			case v.Plugin == summary.PluginHParams && v.HParams != nil:
				if start := v.HParams.SessionStart; start != nil {
					d.session, d.hparams = true, start.HParams
				}
				if end := v.HParams.SessionEnd; end != nil {
					d.status = statusName(end.Status)
				}
			}
		}
	}
	return nil
}

func statusName(s summary.Status) spec.Status {
	switch s {
	case summary.StatusSuccess:
		return spec.StatusSucceeded
	case summary.StatusFailure:
		return spec.StatusFailed
	case summary.StatusRunning:
		return spec.StatusRunning
	}
	return spec.StatusUnknown
}
