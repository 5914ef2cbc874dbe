package dataset

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// BenchmarkReadMNIST reads and prepares (float32, pixels/255) all 70,000 MNIST images from every format.
// scripts/bench_data writes the formats with their own writers and runs it; without
// $TFSWEEP_BENCH_DATA there is nothing to read.
func BenchmarkReadMNIST(b *testing.B) {
	dir := os.Getenv("TFSWEEP_BENCH_DATA")
	idx := os.Getenv("TFSWEEP_DATA_DIR")
	if dir == "" || idx == "" {
		b.Skip("TFSWEEP_BENCH_DATA or TFSWEEP_DATA_DIR is not set: run scripts/bench_data")
	}
	png := "images:" + filepath.Join(dir, "mnist-png", "train") + ":color=grayscale:test=" + filepath.Join(dir, "mnist-png", "test")
	csv := "csv:" + filepath.Join(dir, "mnist-train.csv") + ":test=" + filepath.Join(dir, "mnist-test.csv")
	tfrecord := "tfrecord:" + filepath.Join(dir, "mnist-train.tfrecord") + ":image=image:label=label:color=grayscale:test=" + filepath.Join(dir, "mnist-test.tfrecord")
	// Each format that has a decoded cache is read three ways: without it, as a first read that writes it (a
	// new cache each time) and from it (the cache filled once before); the PNG folder also as a sweep's
	// worker reads it, handed the entries the front read (Data.Snapshot). The front's read of a second run
	// (from the cache, nothing prepared) is timed as Open made it before Describe (front-open) and as
	// Describe makes it (front-describe).
	for _, tc := range []struct {
		name, spec, cache string
		front             func(Source, Options) (int, int, error)
	}{
		{"idx", "idx:" + idx, "", nil},
		{"idx-first", "idx:" + idx, "first", nil},
		{"idx-cached", "idx:" + idx, "cached", nil},
		{"idx-front-open", "idx:" + idx, "cached", frontOpen},
		{"idx-front-describe", "idx:" + idx, "cached", frontDescribe},
		{"npz", "npz:" + filepath.Join(dir, "mnist.npz"), "", nil},
		{"csv", csv, "", nil},
		{"csv-first", csv, "first", nil},
		{"csv-cached", csv, "cached", nil},
		{"tfrecord", tfrecord, "", nil},
		{"tfrecord-first", tfrecord, "first", nil},
		{"tfrecord-cached", tfrecord, "cached", nil},
		{"png-first", png, "first", nil},
		{"png-cached", png, "cached", nil},
		{"png-handed", png, "handed", nil},
		{"png-front-open", png, "cached", frontOpen},
		{"png-front-describe", png, "cached", frontDescribe},
	} {
		b.Run(tc.name, func(b *testing.B) {
			src, err := ParseSource(tc.spec)
			if err != nil {
				b.Fatal(err)
			}
			var opts Options
			if tc.cache == "cached" || tc.cache == "handed" {
				opts.CacheDir = b.TempDir()
				d, err := Open(src, opts) // fill the cache
				if err != nil {
					b.Fatal(err)
				}
				if tc.cache == "handed" {
					opts.Snapshot = d.Snapshot
				}
			}
			cpu := cpuTime(b)
			for b.Loop() {
				if tc.cache == "first" {
					opts.CacheDir = b.TempDir()
				}
				if tc.front != nil {
					if train, test, err := tc.front(src, opts); err != nil || train != 60000 || test != 10000 {
						b.Fatalf("%d and %d examples, want 60000 and 10000 (%v)", train, test, err)
					}
					continue
				}
				d, err := Open(src, opts)
				if err != nil {
					b.Fatal(err)
				}
				if d.Train.Len() != 60000 || d.Test.Len() != 10000 {
					b.Fatalf("%d and %d examples, want 60000 and 10000", d.Train.Len(), d.Test.Len())
				}
				for _, s := range []*Set{d.Train, d.Test} {
					Normalizer{Divisor: 255}.Into(make([]float32, s.Len()*s.Features()), make([]int32, s.Len()), s, 0, s.Len())
				}
			}
			b.ReportMetric((cpuTime(b)-cpu).Seconds()/float64(b.N), "cpu-s/op")
		})
	}
}

// frontOpen and frontDescribe are the front's read of a source: its splits' sizes, by Open and by Describe,
// checked against a budget as the front checks the machine's memory (sweep.DataBudget).
func frontOpen(src Source, opts Options) (int, int, error) {
	opts.Budget = frontBudget
	d, err := Open(src, opts)
	if err != nil {
		return 0, 0, err
	}
	return d.Train.Len(), d.Test.Len(), nil
}

func frontDescribe(src Source, opts Options) (int, int, error) {
	opts.Budget = frontBudget
	d, err := Describe(src, opts)
	return d.TrainExamples, d.TestExamples, err
}

// frontBudget is a budget the data fit in, as a machine's memory.
const frontBudget = 8 << 30

// cpuTime is the user and system CPU time this process has used: the benchmark's work on all cores, which
// a loaded machine stretches less than the wall time.
func cpuTime(b *testing.B) time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		b.Fatal(err)
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

// BenchmarkListImages lists, stats and fingerprints the 70,000 files of the MNIST PNG folder: what a
// cached read of an image folder costs beyond reading its entry.
func BenchmarkListImages(b *testing.B) {
	dir := os.Getenv("TFSWEEP_BENCH_DATA")
	if dir == "" {
		b.Skip("TFSWEEP_BENCH_DATA is not set: run scripts/bench_data")
	}
	cpu := cpuTime(b)
	for b.Loop() {
		for _, split := range []string{"train", "test"} {
			root := filepath.Join(dir, "mnist-png", split)
			classes, files, err := listImages(root, nil)
			if err != nil {
				b.Fatal(err)
			}
			listingFingerprint(root, classes, files)
		}
	}
	b.ReportMetric((cpuTime(b)-cpu).Seconds()/float64(b.N), "cpu-s/op")
}
