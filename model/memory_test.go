package model

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"testing"
)

// residentBytes is the process' resident set size, from /proc/self/statm.
func residentBytes(t *testing.T) int64 {
	t.Helper()
	raw, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skipf("no /proc/self/statm: %v", err)
	}
	var size, resident int64
	if _, err := fmt.Fscan(bytes.NewReader(raw), &size, &resident); err != nil {
		t.Fatalf("/proc/self/statm: %v", err)
	}
	return resident * int64(os.Getpagesize())
}

// memoryRun trains the lab report's network for steps steps of batch 256 (every tenth batch 100
// examples, as an epoch's last batch) with an evaluation of 12 500 examples (two chunks) every 100
// steps, and returns how much the resident set grew after a warm-up.
func memoryRun(t *testing.T, steps int) (growth, peak int64) {
	cfg := DefaultConfig()
	cfg.Device = DeviceCPU
	m := newModel(t, cfg)
	pixels, labels := randomBatch(11, 256, inputs(cfg), classes(cfg))
	evalPixels, evalLabels := randomBatch(12, 12500, inputs(cfg), classes(cfg))
	step := func(i int) {
		n := 256
		if i%10 == 9 {
			n = 100
		}
		if _, _, err := m.TrainStep(pixels[:n*inputs(cfg)], labels[:n]); err != nil {
			t.Fatal(err)
		}
		if i%100 == 99 {
			if _, _, err := m.Evaluate(evalPixels, evalLabels); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range 100 { // warm-up: thread pools, allocator arenas, every cached shape
		step(i)
	}
	runtime.GC()
	before := residentBytes(t)
	peak = before
	for i := range steps {
		step(i)
		if i%50 == 0 {
			peak = max(peak, residentBytes(t))
		}
	}
	after := residentBytes(t)
	return after - before, max(peak, after)
}

// Training and evaluation release every tensor they create: over 500 steps (200 MB of pixel
// tensors) and 5 evaluations (195 MB), the resident set grows by less than 40 MB (with graft's
// finalizers alone it would grow by about the sum).
func TestMemoryIsBounded(t *testing.T) {
	const steps, bound = 500, 40 << 20
	growth, peak := memoryRun(t, steps)
	t.Logf("resident set grew %d MB over %d steps and 5 evaluations (peak %d MB)", growth>>20, steps, peak>>20)
	if growth > bound {
		t.Errorf("resident set grew %d MB over %d steps, want under %d MB", growth>>20, steps, bound>>20)
	}
}
