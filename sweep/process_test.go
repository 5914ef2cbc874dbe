package sweep

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tfsweep/tfsweep/dataset"
	"github.com/tfsweep/tfsweep/spec"
)

// stuckWorker is a worker stand-in that takes a job, reports its run begun and then hangs, deaf to
// SIGTERM, as a worker stuck in a TensorFlow call is.
const stuckWorker = `#!/bin/sh
trap '' TERM
read -r job
run=$(printf '%s' "$job" | sed 's/.*"run":"\([^"]*\)".*/\1/')
printf '{"kind":"begin","run":"%s","begin":{"epochs":1}}\n' "$run"
exec sleep 600
`

// writeTinyData writes an IDX data set of n 28×28 training and n test images, all black.
func writeTinyData(t *testing.T, dir string, n int) {
	t.Helper()
	write := func(name string, dims []uint32, size int) {
		var b bytes.Buffer
		binary.Write(&b, binary.BigEndian, uint32(0x0800|len(dims)))
		binary.Write(&b, binary.BigEndian, dims)
		b.Write(make([]byte, size))
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range [][2]string{{dataset.TrainImagesFile, dataset.TrainLabelsFile}, {dataset.TestImagesFile, dataset.TestLabelsFile}} {
		write(f[0], []uint32{uint32(n), 28, 28}, n*784)
		write(f[1], []uint32{uint32(n)}, n)
	}
}

// standInSweep is a sweep of one run on tiny data, trained by the stand-in worker script.
func standInSweep(t *testing.T, script string, grace time.Duration) *Sweep {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	writeTinyData(t, data, 20)
	worker := filepath.Join(dir, "stand-in-worker")
	if err := os.WriteFile(worker, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	grid, err := flagGrid(t, "--batch-size", "4", "--epochs", "1")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Plan{Grids: []Grid{grid}}, Options{
		LogDir: filepath.Join(dir, "logs"), DataDir: data, Device: "cpu", Parallel: 1, Worker: worker, WorkerGrace: grace,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// begun tells when the first run has begun.
type begun struct {
	noObserver
	ch chan struct{}
}

func (b begun) RunStarted(Run, spec.Begin) { close(b.ch) }

// A cancelled sweep whose worker ignores SIGTERM ends within the grace period: the worker is
// killed, and its run is reported failed and interrupted.
func TestCancelKillsAWorkerThatIgnoresSIGTERM(t *testing.T) {
	const grace = time.Second
	s := standInSweep(t, stuckWorker, grace)
	ctx, cancel := context.WithCancel(t.Context())
	obs := begun{ch: make(chan struct{})}
	done := make(chan *Result)
	go func() { done <- s.Run(ctx, obs) }()
	select {
	case <-obs.ch:
	case <-time.After(30 * time.Second):
		t.Fatal("the stand-in worker never reported its run begun")
	}
	cancel()
	cancelled := time.Now()
	var res *Result
	select {
	case res = <-done:
	case <-time.After(grace + 10*time.Second):
		t.Fatalf("the sweep still runs %v after its cancel, with a grace period of %v", time.Since(cancelled), grace)
	}
	if took := time.Since(cancelled); took < grace {
		t.Errorf("the sweep ended %v after its cancel, before the grace period of %v: the worker was not given it", took, grace)
	}
	if res.Status != spec.StatusInterrupted {
		t.Errorf("sweep status %s, want %s", res.Status, spec.StatusInterrupted)
	}
	if r := res.Runs[0]; r.Status != spec.StatusFailed || !r.Interrupted {
		t.Errorf("run %s: status %s, interrupted %v; want failed and interrupted", r.Name, r.Status, r.Interrupted)
	}
}

// babblingWorker is a worker stand-in that reports its run begun, then writes what a C library's
// diagnostics would write to stdout, and goes on writing.
const babblingWorker = `#!/bin/sh
read -r job
run=$(printf '%s' "$job" | sed 's/.*"run":"\([^"]*\)".*/\1/')
printf '{"kind":"begin","run":"%s","begin":{"epochs":1}}\n' "$run"
echo 'onednn_verbose,info,cpu,runtime:OpenMP'
exec yes 'onednn_verbose,exec,cpu,convolution'
`

// A worker that writes something other than a message is ended, and its run failed naming the
// line, instead of the sweep waiting on it.
func TestAWorkerThatBabblesIsEnded(t *testing.T) {
	s := standInSweep(t, babblingWorker, time.Second)
	done := make(chan *Result)
	go func() { done <- s.Run(t.Context(), noObserver{}) }()
	var res *Result
	select {
	case res = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the sweep still waits on a worker that wrote a line that is not a message")
	}
	r := res.Runs[0]
	if r.Status != spec.StatusFailed || !strings.Contains(r.Error, "not a message") || !strings.Contains(r.Error, "onednn_verbose,info") {
		t.Errorf("run %s: status %s, error %q; want failed, naming the line", r.Name, r.Status, r.Error)
	}
}
