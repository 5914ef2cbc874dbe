package dataset

import (
	"bytes"
	"compress/zlib"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkInflateSmallPNG inflates the zlib streams of 2,000 MNIST images as a PNG holds them (a filter
// byte before each 28-pixel row, 812 bytes), written by compress/zlib: what the PNG decoder's inflater does
// for a TFRecord of PNGs or a PNG folder.
func BenchmarkInflateSmallPNG(b *testing.B) {
	dir := os.Getenv("TFSWEEP_DATA_DIR")
	if dir == "" {
		b.Skip("TFSWEEP_DATA_DIR is not set")
	}
	pixels, n, rows, cols, err := ReadImages(filepath.Join(dir, TrainImagesFile+".gz"))
	if err != nil {
		b.Fatal(err)
	}
	var streams [][]byte
	raw := make([]byte, rows*(cols+1))
	for i := range min(n, 2000) {
		for r := range rows {
			copy(raw[r*(cols+1)+1:], pixels[(i*rows+r)*cols:][:cols])
		}
		var z bytes.Buffer
		w := zlib.NewWriter(&z)
		w.Write(raw)
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		streams = append(streams, z.Bytes())
	}
	var f inflater
	for b.Loop() {
		for _, z := range streams {
			if !f.inflate(z, raw) {
				b.Fatal("not inflated")
			}
		}
	}
}
