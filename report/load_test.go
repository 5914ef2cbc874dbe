package report

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tfsweep/tfsweep/spec"
)

// trainEventFile returns the one event file of the run's train/ sub-run.
func trainEventFile(t *testing.T, dir, run string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, run, trainRun, "*tfevents*"))
	if err != nil || len(files) != 1 {
		t.Fatalf("event files of %s/train: %v, %v", run, files, err)
	}
	return files[0]
}

func TestLoadCorruptRecord(t *testing.T) {
	dir := t.TempDir()
	writeSweep(t, dir, presetSweepRuns()[:1])
	file := trainEventFile(t, dir, "xavier-nobn-b64")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-10] ^= 0xff // inside the last record's payload: its CRC no longer matches
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(context.Background(), dir)
	var dirErr *DirError
	if err == nil || errors.As(err, &dirErr) {
		t.Fatalf("Load = %v, want a read error (not a DirError)", err)
	}
	if !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "offset") {
		t.Errorf("error %q does not name the file and offset", err)
	}
}

func TestLoadTruncatedTail(t *testing.T) {
	dir := t.TempDir()
	writeSweep(t, dir, presetSweepRuns()[:1])
	file := trainEventFile(t, dir, "xavier-nobn-b64")
	info, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	// Cut the file inside its last record (a writer still writing): the epochs before it stay.
	if err := os.Truncate(file, info.Size()-5); err != nil {
		t.Fatal(err)
	}
	s, err := Load(context.Background(), dir)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if n := len(s.Runs[0].Curves.TrainLoss) + len(s.Runs[0].Curves.TrainAccuracy); n != 9 {
		t.Errorf("%d train points after cutting the last record, want 9", n)
	}
}

func TestLoadBadDirectories(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	onlyExperiment := filepath.Join(tmp, "only-experiment")
	writeSweep(t, onlyExperiment, nil)
	tests := []struct {
		name string
		dir  string
		want error
	}{
		{"missing", filepath.Join(tmp, "nope"), fs.ErrNotExist},
		{"file", file, ErrNotDirectory},
		{"empty", t.TempDir(), ErrNoRuns},
		{"experiment without runs", onlyExperiment, ErrNoRuns},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(context.Background(), tt.dir)
			var dirErr *DirError
			if !errors.As(err, &dirErr) || !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.dir) {
				t.Errorf("Load = %v, want a DirError naming %s and wrapping %v", err, tt.dir, tt.want)
			}
		})
	}
}

// Logs of a Keras script without hparams still make runs, with no hparams and unknown status.
func TestLoadRunsWithoutHParams(t *testing.T) {
	runs := presetSweepRuns()[:2]
	for i := range runs {
		runs[i].HParams, runs[i].Status = nil, spec.StatusUnknown
	}
	s := buildSweep(t, runs)
	w, err := s.Write(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if w.Compared {
		t.Error("lab-report tables laid out for runs without hparams: the names must not stand in for them")
	}
}
