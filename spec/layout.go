package spec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// What a run leaves in its directory, as the worker writes it and the front, the report and the
// service read it. Keras' TensorBoard callback writes the two sub-runs and the epoch tags.
const (
	// TrainDir and ValidationDir are the run's TensorBoard sub-runs, as Keras names them.
	TrainDir      = "train"
	ValidationDir = "validation"

	TagEpochLoss         = "epoch_loss"
	TagEpochAccuracy     = "epoch_accuracy"
	TagEpochLearningRate = "epoch_learning_rate"
	TagBatchLoss         = "batch_loss"
	TagBatchAccuracy     = "batch_accuracy"

	// The best epoch's (History.BestEpochBy the Job's Best) epoch_loss and epoch_accuracy, written
	// into each sub-run when training ends at that epoch's step: TensorBoard's HParams dashboard
	// shows a metric's last value, which for a run a scheduler stopped early is not what it reached.
	TagBestEpochLoss     = "best_epoch_loss"
	TagBestEpochAccuracy = "best_epoch_accuracy"
	// Written into the run directory itself, beside the hparams session, when training ends: the
	// epochs the run trained (a scalar), and in words how it ended (texts: a Status, and the
	// scheduler's reason for a pruned or paused run), which TensorBoard's four session statuses
	// cannot say.
	TagEpochsTrained = "epochs_trained"
	TagStatus        = "status"
	TagReason        = "reason"

	// PicturesDir is the run's TensorBoard sub-run of pictures (trainer.Pictures): the training
	// inputs as the network sees them at step 0, and after every Job.PicturesEvery-th epoch the
	// validation set's confusion matrix, misclassified examples and per-class PR curves.
	PicturesDir = "pictures"

	// SavedModelDir is where a finished run's model is exported, in the format of
	// tf.saved_model.save: serving_default takes raw pixels, the run's scaling inside.
	SavedModelDir = "saved_model"

	// CheckpointsDir holds a run's checkpoints in TensorFlow's format: ckpt-<epoch>.index and
	// .data-00000-of-00001 (the model's whole training state under Keras' variable names), beside
	// ckpt-<epoch>.state.json (what lives in Go: the epoch, the history so far, the callbacks'
	// counters) and the `checkpoint` state file tf.train.latest_checkpoint reads.
	CheckpointsDir = "checkpoints"

	// Suffixes of a checkpoint's files: a single-shard tensor bundle and its Go state.
	CheckpointIndexSuffix = ".index"
	CheckpointDataSuffix  = ".data-00000-of-00001"
	CheckpointStateSuffix = ".state.json"

	// ChartsDir is the sweep's Custom Scalars run: it holds the chart layout and every run's epoch
	// losses under ChartTag, so that a chart can pick runs by tag (Custom Scalars charts select
	// tags, not runs). It has no hparams session, so reports and the HParams dashboard do not take
	// it for a run.
	ChartsDir = "charts"
)

// ChartTag is the tag of a run's epoch loss of a split (TrainDir or ValidationDir) in ChartsDir.
func ChartTag(run, split string) string { return run + "/" + split + "_loss" }

// ClaimsDir holds one claim file per run that a process has started: whoever creates it trains the
// run, so that processes sharing a sweep (several machines on one --name, shards of an Indexed Job
// or a Slurm array) never train a run twice at once. Its name starts with a dot: TensorBoard reads
// no event files there, and there are none.
const ClaimsDir = ".claims"

// RetireAttempt moves an earlier attempt's run directory aside, to ClaimsDir/attempts of its sweep,
// with its event files renamed so that TensorBoard reads them no more: the new attempt's curves
// start afresh instead of zig-zagging over the old ones, and nothing of the old attempt is deleted.
func RetireAttempt(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	name := filepath.Base(dir)
	attempts := filepath.Join(filepath.Dir(dir), ClaimsDir, "attempts")
	if err := os.MkdirAll(attempts, 0o755); err != nil {
		return err
	}
	var to string
	for n := 1; ; n++ {
		to = filepath.Join(attempts, fmt.Sprintf("%s.%d", name, n))
		if _, err := os.Stat(to); errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err := os.Rename(dir, to); err != nil {
		return err
	}
	return filepath.WalkDir(to, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.Contains(d.Name(), "tfevents") {
			return err
		}
		return os.Rename(path, filepath.Join(filepath.Dir(path), strings.ReplaceAll(d.Name(), "tfevents", "retired")))
	})
}
