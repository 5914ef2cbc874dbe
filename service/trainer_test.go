package service

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tfsweep/tfsweep/sweep"
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

// A submitted sweep trains on the server's first data source unless its data: names another it
// offers (options in any order); any other data: is refused naming the sweep file's line, unopened
// (here a FIFO, which an open would block on).
func TestDataOfOffersTheServersSourcesOnly(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "data.npz")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	tr := &SweepTrainer{LogDir: dir, Data: []sweep.DataShape{
		{TrainExamples: 60000, Features: 784, Classes: 10, Source: "idx:/data/mnist"},
		{TrainExamples: 600, Features: 784, Classes: 10, Source: "images:/data/png:color=grayscale:test=/data/png-test"},
	}}
	for _, tc := range []struct{ name, spec, want, err string }{
		{"no data:", "grids:\n  - batch_size: 32\n", "idx:/data/mnist", ""},
		{"an offered source", "data: images:/data/png:test=/data/png-test:color=grayscale\ngrids:\n  - batch_size: 32\n", "images:/data/png:color=grayscale:test=/data/png-test", ""},
		{"another source", "data: npz:" + fifo + "\ngrids:\n  - batch_size: 32\n", "", "sweep.yaml:1: data: \"npz:" + fifo + "\" is not a data source this server offers"},
		{"the offered folder read otherwise", "data: images:/data/png:test=/data/png-test\ngrids:\n  - batch_size: 32\n", "", "is not a data source this server offers"},
		{"a bad source", "data: parquet:/x\ngrids:\n  - batch_size: 32\n", "", "sweep.yaml:1: data: bad data source"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := sweep.ParseConfig(strings.NewReader(tc.spec), "sweep.yaml")
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			var data *sweep.DataShape
			go func() { data, err = tr.dataOf(plan); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("dataOf opened the data (it blocks on the FIFO)")
			}
			switch {
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("%v, want an error naming %q", err, tc.err)
			case tc.err == "" && (err != nil || data.Source != tc.want):
				t.Errorf("%+v, %v; want %s", data, err, tc.want)
			}
		})
	}
}

// The server's --fuse and --fuse-group reach every sweep it plans, as tfsweep run's do.
func TestFuseReachesTheSweep(t *testing.T) {
	data := []sweep.DataShape{{TrainExamples: 600, Features: 784, Classes: 10, Source: "idx:/data/mnist"}}
	const body = "grids:\n  - batch_size: 32\n    lr: [0.001, 0.002]\n"
	for _, tc := range []struct {
		fuse  string
		group int
		err   string
	}{
		{sweep.FuseOn, 2, ""},
		{sweep.FuseAuto, 0, ""},
		{"maybe", 0, `--fuse: "maybe" is not one of auto, on, off`},
		{sweep.FuseOff, 4, "--fuse-group 4: --fuse off fuses nothing"},
	} {
		tr := &SweepTrainer{LogDir: t.TempDir(), Data: data, Device: "cpu", Fuse: tc.fuse, FuseGroup: tc.group}
		err := tr.Check([]byte(body), "sweep.yaml")
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("--fuse %s --fuse-group %d: %v, want %q", tc.fuse, tc.group, err, tc.err)
		}
	}
}
