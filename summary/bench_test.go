package summary

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"testing"
)

// Speed goals (issue #3) are measured here, not asserted in tests:
//
//	go test -run '^$' -bench . -benchmem ./summary/
//
// b.SetBytes makes "MB/s" the event file bytes written per second;
// scalars/s is reported as a custom metric.

func BenchmarkScalar(b *testing.B) {
	w, err := NewWriter(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(scalarRecordBytes(b))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := w.Scalar("epoch_loss", int64(i), float64(i)*1e-3); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "scalars/s")
}

// BenchmarkScalarParallel writes from GOMAXPROCS goroutines, one tag each,
// through one Writer: the lock's cost under contention.
func BenchmarkScalarParallel(b *testing.B) {
	w, err := NewWriter(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(scalarRecordBytes(b))
	b.ReportAllocs()
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		tag := fmt.Sprintf("g%d", next.Add(1))
		var step int64
		for pb.Next() {
			if err := w.Scalar(tag, step, 1); err != nil {
				b.Error(err)
				return
			}
			step++
		}
	})
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "scalars/s")
}

// scalarRecordBytes is the size of one epoch_loss scalar record.
func scalarRecordBytes(b *testing.B) int64 {
	w, err := NewWriter(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	before, _ := os.Stat(w.Path())
	w.Scalar("epoch_loss", 1, 1)
	w.Close()
	after, _ := os.Stat(w.Path())
	return after.Size() - before.Size()
}

func BenchmarkHistogram100k(b *testing.B) {
	values := make([]float32, 100_000)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range values {
		values[i] = float32(r.NormFloat64())
	}
	w, err := NewWriter(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(4 * len(values))) // input bytes bucketed per second
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := w.HistogramFloat32("dense/kernel/histogram", int64(i), values); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "histograms/s")
}

func BenchmarkReader(b *testing.B) {
	w, err := NewWriter(b.TempDir(), MaxPending(1000))
	if err != nil {
		b.Fatal(err)
	}
	const n = 100_000
	for i := 0; i < n; i++ {
		w.Scalar("epoch_loss", int64(i), float64(i))
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	info, _ := os.Stat(w.Path())
	b.SetBytes(info.Size())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := os.Open(w.Path())
		if err != nil {
			b.Fatal(err)
		}
		r := NewReader(f, w.Path())
		var events int
		for {
			if _, err := r.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
			events++
		}
		f.Close()
		if events != n+1 {
			b.Fatalf("%d events", events)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
}
