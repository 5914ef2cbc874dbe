package report

import (
	"context"
	"errors"
	"fmt"
)

// Errors a DirError wraps besides the fs errors of a missing directory.
var (
	ErrNoRuns       = errors.New("holds no TensorBoard runs (no *tfevents* files)")
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

// Load reads a sweep directory. TEMPORARY until summary's reader lands.
func Load(ctx context.Context, dir string) (*Sweep, error) {
	return nil, errors.New("report: Load needs summary's reader")
}
