package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// claimStdout keeps standard output for the worker's own words and sends everything else written
// to file descriptor 1 to standard error. The front reads stdout as JSON lines; TensorFlow and the
// libraries it loads print to descriptor 1 from C (oneDNN's ONEDNN_VERBOSE, for one), and one such
// line ends the worker. The returned file is the original stdout.
func claimStdout() (*os.File, error) {
	fd, err := unix.Dup(1)
	if err != nil {
		return nil, fmt.Errorf("keep stdout: %w", err)
	}
	unix.CloseOnExec(fd)
	if err := unix.Dup2(2, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("send stray output to stderr: %w", err)
	}
	return os.NewFile(uintptr(fd), "/dev/stdout"), nil
}
