package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// binDir holds the tfsweep and tfsweep-worker binaries built for this test run: commands run
// in-process find the worker through TFSWEEP_WORKER, and the signal tests run the real front.
// The tests that train sweeps (ten seconds and more each) call t.Parallel: each spends much of its
// time waiting on worker processes, TensorBoard or a server, so two at a time keep both cores busy.
// Each has its own temporary logdir and port and finds its workers by its own front's pid.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "tfsweep-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		binDir = dir
		for _, b := range []struct{ name, pkg, cgo string }{
			{"tfsweep", ".", "0"}, {"tfsweep-worker", "../tfsweep-worker", "1"},
		} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(dir, b.name), b.pkg)
			cmd.Env = append(os.Environ(), "CGO_ENABLED="+b.cgo)
			if out, err := cmd.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "build %s: %v\n%s", b.name, err, out)
				return 1
			}
		}
		os.Setenv("TFSWEEP_WORKER", filepath.Join(dir, "tfsweep-worker"))
		return m.Run()
	}())
}
