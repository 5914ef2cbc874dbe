package sweep

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tfsweep/tfsweep/spec"
)

// A sweep that reads its data hands its workers the entries of the data cache it read the splits from;
// one given a shape read before (the service's) hands none, and its workers read the source.
func TestJobsCarryTheDataSnapshot(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	writeTinyData(t, data, 20)
	time.Sleep(2 * time.Second) // files changed moments ago are not cached (dataset's racyMargin)
	grid, err := flagGrid(t, "--batch-size", "4", "--epochs", "1")
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{LogDir: filepath.Join(dir, "logs"), DataDir: data, DataCache: filepath.Join(dir, "cache"), Device: "cpu", Parallel: 1, DryRun: true}
	shape, err := ReadDataShape(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		shape *DataShape
		want  bool
	}{
		{"data read by New", nil, true},
		{"a shape read before", &shape, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts.Data = tc.shape
			s, err := New(Plan{Grids: []Grid{grid}}, opts)
			if err != nil {
				t.Fatal(err)
			}
			job, err := s.job(s.runs[0])
			if err != nil {
				t.Fatal(err)
			}
			snap := job.DataSnapshot
			if !tc.want {
				if snap != (spec.DataSnapshot{}) {
					t.Errorf("snapshot %+v, want none", snap)
				}
				return
			}
			for _, e := range []spec.DataEntry{snap.Train, snap.Test} {
				if filepath.Dir(e.Path) != opts.DataCache || e.Fingerprint == "" {
					t.Errorf("entry %+v, want one in %s with a fingerprint", e, opts.DataCache)
				}
				if _, err := os.Stat(e.Path); err != nil {
					t.Error(err)
				}
			}
		})
	}
}
