// Command benchwriter times tfsweep's event writer on the workload of
// scripts/bench_writers and prints the timings as one JSON object, so that
// the script can set them beside tensorboardX and tf.summary.
//
//	go run ./summary/internal/benchwriter -logdir /tmp/bench [-scalars 1000000] [-histograms 1000] [-values 10000]
//
// Scalars go to run "scalars", histograms to run "histograms", each spread
// over -tags tags with the step advancing once per round of tags. A phase's
// time runs from NewWriter to the end of Close (which fsyncs), so it counts
// every byte reaching the disk.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/tfsweep/tfsweep/summary"
)

// phase is one timed workload.
type phase struct {
	Count   int     `json:"count"`
	Seconds float64 `json:"seconds"`
	Bytes   int64   `json:"bytes"`
	PerSec  float64 `json:"per_second"`
}

type result struct {
	Writer     string `json:"writer"`
	Tags       int    `json:"tags"`
	Values     int    `json:"histogram_values"`
	Scalars    phase  `json:"scalars"`
	Histograms phase  `json:"histograms"`
}

func main() {
	logdir := flag.String("logdir", "", "directory for the runs (must not hold earlier runs)")
	scalars := flag.Int("scalars", 1_000_000, "scalars to write")
	histograms := flag.Int("histograms", 1_000, "histograms to write")
	values := flag.Int("values", 10_000, "values per histogram")
	tags := flag.Int("tags", 10, "tags the scalars and histograms are spread over")
	flag.Parse()
	if *logdir == "" || *tags < 1 {
		fmt.Fprintln(os.Stderr, "benchwriter: -logdir is required and -tags must be positive")
		os.Exit(2)
	}
	res := result{Writer: "tfsweep", Tags: *tags, Values: *values}
	var err error
	if res.Scalars, err = timeScalars(filepath.Join(*logdir, "scalars"), *scalars, *tags); err != nil {
		fmt.Fprintln(os.Stderr, "benchwriter:", err)
		os.Exit(1)
	}
	if res.Histograms, err = timeHistograms(filepath.Join(*logdir, "histograms"), *histograms, *values, *tags); err != nil {
		fmt.Fprintln(os.Stderr, "benchwriter:", err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, "benchwriter:", err)
		os.Exit(1)
	}
}

func tagNames(prefix string, n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s_%d", prefix, i)
	}
	return names
}

func timeScalars(dir string, n, ntags int) (phase, error) {
	names := tagNames("scalar", ntags)
	start := time.Now()
	w, err := summary.NewWriter(dir)
	if err != nil {
		return phase{}, err
	}
	for i := 0; i < n; i++ {
		if err := w.Scalar(names[i%ntags], int64(i/ntags), float64(i%1000)/1000); err != nil {
			w.Close()
			return phase{}, err
		}
	}
	if err := w.Close(); err != nil {
		return phase{}, err
	}
	return finish(dir, n, time.Since(start))
}

func timeHistograms(dir string, n, nvalues, ntags int) (phase, error) {
	// Weights-like data, drawn before the clock starts: the peers get the same distribution.
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]float32, nvalues)
	for i := range data {
		data[i] = float32(rng.NormFloat64() * 0.05)
	}
	names := tagNames("dense/kernel/histogram", ntags)
	start := time.Now()
	w, err := summary.NewWriter(dir)
	if err != nil {
		return phase{}, err
	}
	for i := 0; i < n; i++ {
		if err := w.HistogramFloat32(names[i%ntags], int64(i/ntags), data); err != nil {
			w.Close()
			return phase{}, err
		}
	}
	if err := w.Close(); err != nil {
		return phase{}, err
	}
	return finish(dir, n, time.Since(start))
}

// finish measures the bytes the run's event files hold.
func finish(dir string, n int, d time.Duration) (phase, error) {
	files, err := summary.EventFiles(dir)
	if err != nil {
		return phase{}, err
	}
	var size int64
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return phase{}, err
		}
		size += st.Size()
	}
	return phase{Count: n, Seconds: d.Seconds(), Bytes: size, PerSec: float64(n) / d.Seconds()}, nil
}
