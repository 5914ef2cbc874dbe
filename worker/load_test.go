package worker

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/tfsweep/tfsweep/dataset"
)

// A worker handed the front's data snapshot reads the splits from the cache entries it names, without
// the source: here the source is moved away after the front's read, and the worker still loads it.
func TestLoadReadsTheFrontsSnapshot(t *testing.T) {
	job := smallJob(t, t.TempDir(), "snapshot")
	data := filepath.Join(t.TempDir(), "mnist")
	if out, err := exec.Command("cp", "-a", job.DataDir, data).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	time.Sleep(2 * time.Second) // files changed moments ago are not cached (dataset's racyMargin)
	job.Data, job.DataCache = "idx:"+data, t.TempDir()
	src, err := dataset.ParseSource(job.Data)
	if err != nil {
		t.Fatal(err)
	}
	front, err := dataset.Describe(src, dataset.Options{CacheDir: job.DataCache}) // as sweep.New reads it
	if err != nil {
		t.Fatal(err)
	}
	job.DataSnapshot = front.Snapshot
	if err := os.Rename(data, data+"-moved"); err != nil {
		t.Fatal(err)
	}
	s := &server{data: map[string]*dataset.Data{}}
	d, err := s.load(job)
	if err != nil {
		t.Fatalf("with the source moved away: %v", err)
	}
	if d.Train.Len() != front.TrainExamples || d.Test.Len() != front.TestExamples || d.Snapshot != front.Snapshot {
		t.Errorf("loaded %d and %d examples from %+v, want %d and %d from %+v", d.Train.Len(), d.Test.Len(), d.Snapshot,
			front.TrainExamples, front.TestExamples, front.Snapshot)
	}
}
