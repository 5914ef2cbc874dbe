package report

import (
	"context"
	"testing"
)

// BenchmarkGenerate reads the twelve-run preset sweep from its event files and writes the whole
// report (16 PNGs, Markdown, CSV, JSON): the time `tfsweep run` adds at the end of a sweep.
func BenchmarkGenerate(b *testing.B) {
	dir := b.TempDir()
	writeSweep(b, dir, presetSweepRuns())
	for b.Loop() {
		if _, err := Generate(context.Background(), dir); err != nil {
			b.Fatal(err)
		}
	}
}
