package service

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A submitted sweep file that names a model file is refused before the server opens the file: a path
// from a client names a file of the server's disk. The model file here is a FIFO, which an open for
// reading would block on.
func TestCheckRefusesModelFilesUnopened(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "model.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	tr := &SweepTrainer{LogDir: t.TempDir()}
	for _, body := range []string{
		"grids:\n  - model: " + fifo + "\n    batch_size: 32\n",
		"models: {mine: " + fifo + "}\ngrids:\n  - model: [mlp, mine]\n",
	} {
		done := make(chan error, 1)
		go func() { done <- tr.Check([]byte(body), "sweep.yaml") }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "trains the built-in mlp only") {
				t.Errorf("%q: %v", body, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%q: Check opened the model file (it blocks on the FIFO)", body)
		}
	}
}
