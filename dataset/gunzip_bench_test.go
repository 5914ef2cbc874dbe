package dataset

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// BenchmarkGunzipMNIST inflates MNIST's four gzipped IDX files from memory, with dataset's own inflater
// (gunzip) and with klauspost's streaming reader, as readIDX would read each; -count alternates them.
func BenchmarkGunzipMNIST(b *testing.B) {
	dir := os.Getenv("TFSWEEP_DATA_DIR")
	if dir == "" {
		b.Skip("TFSWEEP_DATA_DIR is not set")
	}
	var files [][]byte
	for _, name := range []string{TrainImagesFile, TrainLabelsFile, TestImagesFile, TestLabelsFile} {
		gz, err := os.ReadFile(filepath.Join(dir, name+".gz"))
		if err != nil {
			b.Fatal(err)
		}
		files = append(files, gz)
	}
	inflaters := []struct {
		name    string
		inflate func([]byte) ([]byte, bool)
	}{
		{"own", func(in []byte) ([]byte, bool) {
			var f inflater
			return f.gunzip(in, maxPayload)
		}},
		{"klauspost", func(in []byte) ([]byte, bool) {
			zr, err := gzip.NewReader(bytes.NewReader(in))
			if err != nil {
				return nil, false
			}
			out, err := readUpTo(zr, int(binary.LittleEndian.Uint32(in[len(in)-4:])))
			return out, err == nil
		}},
	}
	for _, inf := range inflaters {
		b.Run(inf.name, func(b *testing.B) {
			cpu := cpuTime(b)
			for b.Loop() {
				for _, in := range files {
					if _, ok := inf.inflate(in); !ok {
						b.Fatal("not inflated")
					}
				}
			}
			b.ReportMetric((cpuTime(b)-cpu).Seconds()/float64(b.N), "cpu-s/op")
		})
	}
}
