package worker

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	summarypb "github.com/wamuir/graft/tensorflow/core/framework/summary_go_proto"

	"github.com/tfsweep/tfsweep/internal/atomicfile"
	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/summary"
)

// Tags the resumed run writes again from the start, so their copies from the killed attempt go.
var rewrittenTags = map[string]bool{"config": true, "keras": true, "outcome": true, spec.TagBestEpochLoss: true, spec.TagBestEpochAccuracy: true}

// truncateLogs makes a run's event files hold what they held at its checkpoint, so that the
// resumed run's curves continue from there in both TensorBoard loaders: the Python one purges on
// a restart and the Rust one does not, so steps the killed attempt logged past the checkpoint must
// go from the files themselves. In train/ and validation/ every event up to the checkpoint (epoch
// tags up to lastEpoch, batch and evaluation-vs-iterations tags up to iterations) is copied into a
// new file, then the old files are renamed out of TensorBoard's sight ("tfevents" → "retired").
// The run directory's own files (the hparams session) are retired whole: the resumed run writes its
// session anew. A crash between the copy and the renames leaves copies of the same steps, which
// the next truncation keeps once.
func truncateLogs(runDir string, lastEpoch int, iterations int64) error {
	for _, sub := range []string{spec.TrainDir, spec.ValidationDir} {
		if err := truncateDir(filepath.Join(runDir, sub), lastEpoch, iterations); err != nil {
			return err
		}
	}
	files, err := summary.EventFiles(runDir)
	if err != nil {
		return err
	}
	return retire(files)
}

func truncateDir(dir string, lastEpoch int, iterations int64) error {
	files, err := summary.EventFiles(dir)
	if err != nil || len(files) == 0 {
		return err
	}
	w, err := summary.NewWriter(dir, summary.Steps(summary.TensorBoardSteps))
	if err != nil {
		return err
	}
	seen := map[string]map[int64]bool{}
	for _, file := range files {
		if err := copyUpTo(w, file, lastEpoch, iterations, seen); err != nil {
			return errors.Join(err, w.Close())
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	return retire(files)
}

func copyUpTo(w *summary.Writer, file string, lastEpoch int, iterations int64, seen map[string]map[int64]bool) error {
	for ev, err := range summary.ReadProtos(file) {
		if err != nil {
			return err
		}
		s := ev.GetSummary()
		if s == nil {
			continue // the file version, graphs and session logs: the resumed run writes its own
		}
		var kept []*summarypb.Summary_Value
		for _, v := range s.GetValue() {
			tag := v.GetTag()
			limit := int64(lastEpoch)
			if strings.HasPrefix(tag, "batch_") || strings.HasSuffix(tag, "_vs_iterations") {
				limit = iterations
			}
			if rewrittenTags[tag] || ev.GetStep() > limit || seen[tag][ev.GetStep()] {
				continue
			}
			if seen[tag] == nil {
				seen[tag] = map[int64]bool{}
			}
			seen[tag][ev.GetStep()] = true
			kept = append(kept, v)
		}
		if len(kept) == 0 {
			continue
		}
		s.Value = kept
		if err := w.WriteEvent(ev); err != nil {
			return fmt.Errorf("copy %s: %w", file, err)
		}
	}
	return nil
}

// retire renames event files so that TensorBoard reads them no more; their data stay.
func retire(files []string) error {
	for _, f := range files {
		to := filepath.Join(filepath.Dir(f), strings.ReplaceAll(filepath.Base(f), "tfevents", "retired"))
		if err := atomicfile.Rename(f, to); err != nil {
			return err
		}
	}
	return nil
}
