package worker

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/tfsweep/tfsweep/internal/atomicfile"
	"github.com/tfsweep/tfsweep/model"
	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/trainer"
)

// checkpointState is ckpt-<epoch>.state.json.
type checkpointState struct {
	Epoch         int                             `json:"epoch"` // the 0-based epoch the checkpoint ends
	Iterations    int64                           `json:"iterations"`
	FitSeconds    float64                         `json:"fit_seconds"` // of every attempt so far
	History       spec.History                    `json:"history"`
	EarlyStopping *trainer.EarlyStoppingState     `json:"early_stopping,omitempty"`
	ReduceLR      *trainer.ReduceLROnPlateauState `json:"reduce_lr,omitempty"`
}

// checkpointer is the callback that saves the run's training state after every epoch (Keras'
// BackupAndRestore), keeping the last `keep` checkpoints and the best: the run's best epoch by its
// objective (spec.Job's Best), and early stopping's best epoch, whose weights a resumed run may have
// to restore.
type checkpointer struct {
	dir      string
	m        *model.Model
	keep     int
	es       *trainer.EarlyStopping
	rlr      *trainer.ReduceLROnPlateau
	history  *spec.History // the fit's, every epoch so far (TrainBegin)
	previous float64       // fit seconds of earlier attempts
	elapsed  float64       // fit seconds of this attempt: its epochs' durations

	epochs    []int // epochs with a checkpoint, ascending
	objective spec.Objective
}

var (
	_ trainer.TrainBeginner = (*checkpointer)(nil)
	_ trainer.EpochEnder    = (*checkpointer)(nil)
)

func (c *checkpointer) OnTrainBegin(b trainer.TrainBegin) error {
	c.history = b.History
	return nil
}

func prefix(dir string, epoch int) string { return filepath.Join(dir, fmt.Sprintf("ckpt-%d", epoch+1)) }

func (c *checkpointer) OnEpochEnd(e trainer.EpochEnd) error {
	p := prefix(c.dir, e.Epoch)
	if err := c.m.SaveCheckpoint(p); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	c.elapsed += e.Seconds
	st := checkpointState{Epoch: e.Epoch, Iterations: e.Iterations, History: *c.history, FitSeconds: c.previous + c.elapsed}
	if c.es != nil {
		s := c.es.State()
		st.EarlyStopping = &s
	}
	if c.rlr != nil {
		s := c.rlr.State()
		st.ReduceLR = &s
	}
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(p+spec.CheckpointStateSuffix, data, 0o644); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	c.epochs = append(c.epochs, e.Epoch)
	return c.prune()
}

// prune rewrites the state file with the checkpoints to keep (the last `keep` and the best ones),
// then deletes the others: a crash in between leaves extra files, never a listed one missing.
func (c *checkpointer) prune() error {
	keep := map[int]bool{}
	if best, ok := c.history.BestEpochBy(c.objective); ok {
		keep[best] = true
	}
	if c.es != nil {
		keep[c.es.BestEpoch()] = true
	}
	for _, e := range c.epochs[max(0, len(c.epochs)-c.keep):] {
		keep[e] = true
	}
	var kept, dropped []int
	for _, e := range c.epochs {
		if keep[e] {
			kept = append(kept, e)
		} else {
			dropped = append(dropped, e)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "model_checkpoint_path: %q\n", filepath.Base(prefix(c.dir, kept[len(kept)-1])))
	for _, e := range kept {
		fmt.Fprintf(&b, "all_model_checkpoint_paths: %q\n", filepath.Base(prefix(c.dir, e)))
	}
	if err := atomicfile.Write(filepath.Join(c.dir, "checkpoint"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	for _, e := range dropped {
		for _, suffix := range []string{spec.CheckpointStateSuffix, spec.CheckpointIndexSuffix, spec.CheckpointDataSuffix} {
			if err := os.Remove(prefix(c.dir, e) + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	c.epochs = kept
	return nil
}

// savedCheckpoints lists the epochs whose checkpoint is whole, ascending: its state file is
// written last, after the model's files, so a checkpoint with one is complete. The files, not the
// `checkpoint` state file (kept for TensorFlow's tools), say what there is, so a kill between the
// two can lose nothing.
func savedCheckpoints(dir string) ([]int, error) {
	states, err := filepath.Glob(filepath.Join(dir, "ckpt-*"+spec.CheckpointStateSuffix))
	if err != nil {
		return nil, err
	}
	var epochs []int
	for _, st := range states {
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(st), "ckpt-"), spec.CheckpointStateSuffix))
		if err != nil {
			continue
		}
		p := prefix(dir, n-1)
		if _, err := os.Stat(p + spec.CheckpointIndexSuffix); err != nil {
			continue
		}
		if _, err := os.Stat(p + spec.CheckpointDataSuffix); err != nil {
			continue
		}
		epochs = append(epochs, n-1)
	}
	if len(epochs) == 0 {
		return nil, fmt.Errorf("%s: no checkpoint", dir)
	}
	slices.Sort(epochs)
	return epochs, nil
}

func readState(dir string, epoch int) (checkpointState, error) {
	var st checkpointState
	data, err := os.ReadFile(prefix(dir, epoch) + spec.CheckpointStateSuffix)
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(data, &st)
}
