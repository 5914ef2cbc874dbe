package model

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/tfsweep/tfsweep/dataset"
)

// BenchmarkCheckpointAndExport measures the lab network's (784 → 128 → 64 → 10, Adam, with and
// without batch norm) checkpoint save and restore, SavedModel export and load (TensorFlow's loader
// plus one prediction), and reports the bytes on disk.
func BenchmarkCheckpointAndExport(b *testing.B) {
	for _, bn := range []bool{false, true} {
		cfg := DefaultConfig()
		cfg.Network, cfg.Device = withBatchNorm(cfg.Network, bn), DeviceCPU
		m := newModel(b, cfg)
		pixels, labels := randomBatch(1, 32, inputs(cfg), classes(cfg))
		if _, _, err := m.TrainStep(pixels, labels); err != nil {
			b.Fatal(err)
		}
		dir := b.TempDir()
		prefix := filepath.Join(dir, "ckpt")
		export := filepath.Join(dir, "saved_model")
		if err := m.SaveCheckpoint(prefix); err != nil {
			b.Fatal(err)
		}
		if err := m.ExportSavedModel(export, dataset.Normalizer{Divisor: 255}); err != nil {
			b.Fatal(err)
		}
		raw := make([]float32, len(pixels))
		for i, p := range pixels {
			raw[i] = p * 255
		}
		steps := []struct {
			name  string
			bytes int64
			run   func() error
		}{
			{"save_checkpoint", filesSize(b, prefix+indexSuffix, prefix+dataSuffix), func() error { return m.SaveCheckpoint(prefix) }},
			{"restore_checkpoint", filesSize(b, prefix+indexSuffix, prefix+dataSuffix), func() error { return m.RestoreCheckpoint(prefix) }},
			{"export_saved_model", filesSize(b, export), func() error { return m.ExportSavedModel(export, dataset.Normalizer{Divisor: 255}) }},
			{"load_saved_model", filesSize(b, export), func() error {
				p, err := LoadSavedModel(export)
				if err != nil {
					return err
				}
				if _, _, err := p.Predict(raw, len(labels)); err != nil {
					return err
				}
				return p.Close()
			}},
		}
		for _, step := range steps {
			b.Run(fmt.Sprintf("bn=%v/%s", bn, step.name), func(b *testing.B) {
				for b.Loop() {
					if err := step.run(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(step.bytes), "bytes")
			})
		}
		if _, err := os.Stat(prefix + previousSuffix + indexSuffix); err == nil {
			b.Errorf("a %s file was left behind", previousSuffix)
		}
	}
}
