package model

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"

	"github.com/tfsweep/tfsweep/internal/atomicfile"
	"github.com/tfsweep/tfsweep/spec"
	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"
)

// Checkpoints are TensorFlow's tensor bundles (the format of tf.train.Checkpoint and tf.compat.v1
// Saver V2), written and read by the SaveV2 and RestoreV2 ops of the graph: <prefix>.index and
// <prefix>.data-00000-of-00001, one entry per variable under its Keras 3 path (dense/kernel,
// batch_normalization/moving_mean, adam/dense_kernel_momentum, adam/iteration, ...), so that
// Python's tf.train.load_checkpoint(prefix).get_variable_to_shape_map() lists those names.

// Suffixes of a single-shard tensor bundle's files.
const (
	indexSuffix = spec.CheckpointIndexSuffix
	dataSuffix  = spec.CheckpointDataSuffix
	// previousSuffix names the copy of a checkpoint kept while SaveCheckpoint replaces it.
	previousSuffix = ".previous"
)

// saver is a SaveV2 and a RestoreV2 over a fixed list of variables.
type saver struct {
	vars     []*variable
	prefix   tf.Output     // string scalar, PlaceholderWithDefault("model")
	reads    []tf.Output   // one read of each variable, what save writes
	save     *tf.Operation // SaveV2 of every variable's current value to prefix
	saved    tf.Output     // prefix, once save has run (SaverDef.save_tensor_name)
	restore  *tf.Operation // every variable assigned from RestoreV2(prefix), shapes checked
	restored []tf.Output   // RestoreV2's outputs, in vars order
	checked  []tf.Output   // restored with its shape checked, what restore assigns, in vars order
}

// buildSaver adds the save and restore ops of vars in s, which must carry no device (SaveV2 and
// RestoreV2 have CPU kernels only; their reads and assignments are colocated with the variables).
func buildSaver(s *op.Scope, vars []*variable) saver {
	sv := saver{vars: vars}
	sv.prefix = op.PlaceholderWithDefault(s.SubScope("filename"), op.Const(s.SubScope("default_filename"), "model"), tf.ScalarShape())
	names := make([]string, len(vars))
	sliceSpecs := make([]string, len(vars))
	dtypes := make([]tf.DataType, len(vars))
	reads := make([]tf.Output, len(vars))
	rs := s.SubScope("read")
	for i, v := range vars {
		names[i] = v.name
		dtypes[i] = v.dtype
		reads[i] = op.ReadVariableOp(rs.SubScope(keras3SlotName(v.name)), v.handle, v.dtype)
	}
	namesOut := op.Const(s.SubScope("tensor_names"), names)
	slicesOut := op.Const(s.SubScope("shape_and_slices"), sliceSpecs)
	sv.reads = reads
	sv.save = op.SaveV2(s.SubScope("save"), sv.prefix, namesOut, slicesOut, reads)
	sv.saved = op.Identity(s.SubScope("control_dependency").WithControlDependencies(sv.save), sv.prefix)
	sv.restored = op.RestoreV2(s.SubScope("restore"), sv.prefix, namesOut, slicesOut, dtypes)
	// A checkpoint of another architecture must fail before any variable is assigned: every
	// assignment waits for every shape check (RestoreV2 itself checks the names and dtypes).
	checked := make([]tf.Output, len(vars))
	checks := make([]*tf.Operation, len(vars))
	cs := s.SubScope("check_shape")
	for i, v := range vars {
		checked[i] = op.EnsureShape(cs.SubScope(keras3SlotName(v.name)), sv.restored[i], tf.MakeShape(v.shape...))
		checks[i] = checked[i].Op
	}
	sv.checked = checked
	assigns := make([]*tf.Operation, len(vars))
	as := s.SubScope("assign").WithControlDependencies(checks...)
	for i, v := range vars {
		assigns[i] = op.AssignVariableOp(as.SubScope(keras3SlotName(v.name)), v.handle, checked[i], op.AssignVariableOpValidateShape(true))
	}
	sv.restore = op.NoOp(s.SubScope("restore_all").WithControlDependencies(assigns...))
	return sv
}

// run saves (restore false) or restores every variable of sv at prefix. A restore also returns
// the values it assigns to the variables of fetch, from the same call.
func (sv saver) run(sess *tf.Session, prefix string, restore bool, fetch ...*variable) ([]*tf.Tensor, error) {
	t, err := tf.NewTensor(prefix)
	if err != nil {
		return nil, err
	}
	defer release(t)
	target := sv.save
	var fetches []tf.Output
	if restore {
		target = sv.restore
		for _, v := range fetch {
			i := slices.Index(sv.vars, v)
			if i < 0 {
				return nil, fmt.Errorf("variable %s is not in the checkpoint", v.name)
			}
			fetches = append(fetches, sv.checked[i])
		}
	}
	return sess.Run(map[tf.Output]*tf.Tensor{sv.prefix: t}, fetches, []*tf.Operation{target})
}

// SaveCheckpoint writes the model's whole training state to the tensor bundle prefix
// (<prefix>.index and <prefix>.data-00000-of-00001, directories created as needed): every weight,
// the batch-norm moving statistics, every optimizer slot, the optimizer's iteration count and, with
// the constant schedule, the learning-rate variable, each under its Keras 3 path.
//
// The save is atomic. The bundle is written under a temporary prefix in the same directory and its
// files are synced, then renamed into place, data first and index last, and the directory is synced:
// a prefix whose .index exists is complete, and a crash at any moment leaves every other checkpoint
// untouched. When prefix already holds a checkpoint, its files are first hard-linked (or copied) to
// <prefix>.previous.{index,data-00000-of-00001}, removed once the new one is durable, so that a crash
// between the two renames (new data, old index: the index's checksums no longer match) still leaves
// the old state to RestoreCheckpoint; a previous copy left by such a crash is kept until a save
// completes. Writing each epoch to a new prefix (ckpt-<epoch>) never needs the copy.
func (m *Model) SaveCheckpoint(prefix string) error {
	if err := saveBundle(prefix, m.writeCheckpoint); err != nil {
		return fmt.Errorf("save checkpoint %s: %w", prefix, err)
	}
	return nil
}

// writeCheckpoint writes the model's training state as a tensor bundle at prefix, in place.
func (m *Model) writeCheckpoint(prefix string) error {
	_, err := m.graph.ckpt.run(m.sess, prefix, false)
	return err
}

// RestoreCheckpoint sets the model's whole training state from the checkpoint at prefix, as
// SaveCheckpoint wrote it: Iterations() returns the restored step count, and training continues as the
// run that saved it would have (the learning-rate schedule and the dropout masks follow the step;
// the masks also follow Config.Seed, which is configuration, not state: restore into a Model built
// from the same Config).
// Every variable of the model must be in the checkpoint with its dtype and shape; nothing is assigned
// otherwise. If the checkpoint at prefix is unreadable and a <prefix>.previous one exists (a save that
// replaced prefix was interrupted), that previous checkpoint is restored instead.
func (m *Model) RestoreCheckpoint(prefix string) error {
	err := m.restoreBundle(prefix)
	if err != nil {
		previous := prefix + previousSuffix
		if _, serr := os.Stat(previous + indexSuffix); serr == nil {
			perr := m.restoreBundle(previous)
			if perr == nil {
				return nil
			}
			err = errors.Join(err, fmt.Errorf("previous checkpoint %s: %w", previous, perr))
		}
		return fmt.Errorf("restore checkpoint %s: %w", prefix, err)
	}
	return nil
}

func (m *Model) restoreBundle(prefix string) error {
	// RestoreV2 would name only the data file; the index is what says whether a checkpoint exists.
	if _, err := os.Stat(prefix + indexSuffix); err != nil {
		return err
	}
	// The step count comes from the restoring call: a second call to read it would be one more
	// signature for the session to optimise.
	out, err := m.graph.ckpt.run(m.sess, prefix, true, m.graph.iterations)
	if err != nil {
		return err
	}
	defer release(out...)
	m.iterations = out[0].Value().(int64)
	return nil
}

// bundleSave is one atomic replacement of the tensor bundle at prefix (see SaveCheckpoint), in
// the steps saveBundle takes; a crash between any two leaves a restorable checkpoint.
type bundleSave struct {
	prefix, dir string
	tmp         string // the temporary prefix the new bundle is written under
	kept        bool   // the previous checkpoint is kept at prefix.previous
}

// saveBundle writes a tensor bundle through write(tmpPrefix) and moves it to prefix atomically.
func saveBundle(prefix string, write func(tmp string) error) (err error) {
	b, err := newBundleSave(prefix)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			b.removeTemporary()
		}
	}()
	if err := b.write(write); err != nil {
		return err
	}
	if err := b.keepPrevious(); err != nil {
		return err
	}
	if err := b.moveInPlace(dataSuffix); err != nil {
		return err
	}
	// The index goes last: a prefix whose index is in place is complete. One directory sync makes
	// both renames durable; a crash before it that keeps the index and loses the data leaves an
	// unreadable bundle, which the previous copy (or, for a new prefix, the missing state file
	// written after this) guards against.
	if err := b.moveInPlace(indexSuffix); err != nil {
		return err
	}
	if err := atomicfile.SyncDir(b.dir); err != nil {
		return err
	}
	return b.dropPrevious()
}

// newBundleSave prepares the replacement of the bundle at prefix: its directory, created if needed,
// and a temporary prefix beside it.
func newBundleSave(prefix string) (*bundleSave, error) {
	if prefix == "" {
		return nil, errors.New("empty prefix")
	}
	dir, base := filepath.Split(prefix)
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return &bundleSave{prefix: prefix, dir: dir, tmp: filepath.Join(dir, fmt.Sprintf(".%s.saving-%016x", base, rand.Uint64()))}, nil
}

// write writes the new bundle under the temporary prefix through write and syncs its files.
func (b *bundleSave) write(write func(tmp string) error) error {
	if err := write(b.tmp); err != nil {
		return err
	}
	for _, suffix := range []string{dataSuffix, indexSuffix} {
		if err := atomicfile.SyncFile(b.tmp + suffix); err != nil {
			return err
		}
	}
	return nil
}

func (b *bundleSave) removeTemporary() {
	os.Remove(b.tmp + dataSuffix)
	os.Remove(b.tmp + indexSuffix)
}

// keepPrevious makes sure the checkpoint being replaced, if any, survives at prefix.previous.
func (b *bundleSave) keepPrevious() error {
	kept, err := keepPrevious(b.prefix, b.prefix+previousSuffix)
	if err != nil {
		return err
	}
	b.kept = kept
	if kept {
		return atomicfile.SyncDir(b.dir)
	}
	return nil
}

// moveInPlace renames the new bundle's file with suffix, synced already, into place; the
// directory is synced after both files are.
func (b *bundleSave) moveInPlace(suffix string) error {
	return os.Rename(b.tmp+suffix, b.prefix+suffix)
}

// dropPrevious removes the copy of the replaced checkpoint once the new one is durable.
func (b *bundleSave) dropPrevious() error {
	if !b.kept {
		return nil
	}
	for _, suffix := range []string{indexSuffix, dataSuffix} {
		if err := os.Remove(b.prefix + previousSuffix + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// keepPrevious hard-links a complete checkpoint at prefix to previous and reports whether there is
// a previous checkpoint to fall back on. A complete previous copy that is still there is kept as it
// is: it means the save that made it did not finish, and the checkpoint at prefix may be the
// half-replaced one that it guards against.
func keepPrevious(prefix, previous string) (bool, error) {
	if exists(previous+indexSuffix) && exists(previous+dataSuffix) {
		return true, nil
	}
	for _, suffix := range []string{indexSuffix, dataSuffix} {
		if _, err := os.Stat(prefix + suffix); errors.Is(err, fs.ErrNotExist) {
			return false, nil
		} else if err != nil {
			return false, err
		}
	}
	// The index goes last and comes out first, so that a previous.index always has its data.
	if err := os.Remove(previous + indexSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	for _, suffix := range []string{dataSuffix, indexSuffix} {
		if err := os.Remove(previous + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, err
		}
		if err := os.Link(prefix+suffix, previous+suffix); err != nil {
			// A file system without hard links gets a copy.
			if cerr := copyFileSync(prefix+suffix, previous+suffix); cerr != nil {
				return false, fmt.Errorf("keep the previous checkpoint: %w", errors.Join(err, cerr))
			}
		}
	}
	return true, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// copyFileSync copies a file to a new file and syncs the copy.
func copyFileSync(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Close(); err != nil {
		return err
	}
	return atomicfile.SyncFile(to)
}
