//go:build unix

package atomicfile

import (
	"errors"
	"syscall"
)

// processAlive asks the kernel with signal 0, which checks without
// signalling. EPERM means the process exists but is another user's.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
