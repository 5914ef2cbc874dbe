package dataset

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkDecodeMNISTPNG decodes 5,000 of the MNIST PNGs PIL wrote for scripts/bench_data (every
// twelfth, of every class) on one goroutine, from memory: the PNG decoder's share of a TFRecord's or a PNG
// folder's first read. It reports the CPU time per image, which a loaded machine stretches less than the
// wall time.
func BenchmarkDecodeMNISTPNG(b *testing.B) {
	dir := os.Getenv("TFSWEEP_BENCH_DATA")
	if dir == "" {
		b.Skip("TFSWEEP_BENCH_DATA is not set: run scripts/bench_data")
	}
	paths, err := filepath.Glob(filepath.Join(dir, "mnist-png", "train", "*", "*.png"))
	if err != nil || len(paths) < 5000 {
		b.Fatalf("%d PNGs under %s (%v), want 5,000 or more", len(paths), dir, err)
	}
	var pngs [][]byte
	for i := 0; i < len(paths) && len(pngs) < 5000; i += 12 {
		p := paths[i]
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		pngs = append(pngs, data)
	}
	var pd pngDecoder
	cpu := cpuTime(b)
	for b.Loop() {
		for _, data := range pngs {
			if _, _, _, ok := pd.decode(data, 1); !ok {
				b.Fatal("not decoded")
			}
		}
	}
	b.ReportMetric((cpuTime(b)-cpu).Seconds()*1e9/float64(b.N*len(pngs)), "cpu-ns/image")
}
