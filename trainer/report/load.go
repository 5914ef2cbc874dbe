package report

import (
	"context"
	"errors"
	"fmt"
	"os"
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

// readEventDirs reads every TensorBoard run under root. TEMPORARY until summary's reader lands.
func readEventDirs(ctx context.Context, root string) (map[string]eventDir, error) {
	return nil, errors.New("report: reading event files needs summary's reader")
}
