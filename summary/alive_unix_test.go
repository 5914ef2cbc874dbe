//go:build unix

package summary

import (
	"os"
	"testing"
)

// The real liveness check: this process lives, a pid above any pid_max
// does not.
func TestProcessAlive(t *testing.T) {
	if !processAlive(os.Getpid()) {
		t.Error("this process is not alive")
	}
	if processAlive(1<<31 - 1) {
		t.Error("pid 2^31-1 is alive")
	}
}
