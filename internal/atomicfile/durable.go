package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// These are the primitives every durable write of the project is made of:
// Write uses them, and so do the writers whose files are born another way
// (TensorFlow's checkpoint bundles, SavedModel directories, event files).

// SyncFile flushes the contents of the file at path to stable storage.
func SyncFile(path string) error {
	if err := syncPath(path); err != nil {
		return fmt.Errorf("atomicfile: sync %s: %w", path, err)
	}
	return nil
}

// SyncDir makes the entries of dir (the names renamed, linked, created or
// removed in it) durable.
func SyncDir(dir string) error {
	if err := syncPath(dir); err != nil {
		return fmt.Errorf("atomicfile: sync directory %s: %w", dir, err)
	}
	return nil
}

// syncPath fsyncs a file or a directory: both are opened read-only.
func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Rename moves oldPath to newPath and syncs the directories involved, so
// that the new name survives a power loss. The file (or directory) must
// already be synced: a rename that reaches the disk before the data can
// otherwise leave newPath empty.
func Rename(oldPath, newPath string) error {
	if err := os.Rename(oldPath, newPath); err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	newDir := parent(newPath)
	if err := SyncDir(newDir); err != nil {
		return err
	}
	if oldDir := parent(oldPath); filepath.Clean(oldDir) != filepath.Clean(newDir) {
		return SyncDir(oldDir)
	}
	return nil
}

// Link gives the synced file at oldPath the second name newPath, failing with fs.ErrExist (and
// changing nothing) if newPath exists, and syncs newPath's directory: of two processes linking
// the same name, exactly one wins.
func Link(oldPath, newPath string) error {
	if err := os.Link(oldPath, newPath); err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	return SyncDir(parent(newPath))
}

func parent(path string) string {
	dir := filepath.Dir(path)
	if dir == "" {
		return "."
	}
	return dir
}

// ProcessAlive reports whether the process pid may still be running: it
// says no only when the system says the process is gone, so that a live
// writer's temporary file is never taken for a stale one (another user's
// process, or a system that cannot tell, counts as alive).
func ProcessAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	defer p.Release()
	err = p.Signal(syscall.Signal(0))
	return err == nil || !(errors.Is(err, os.ErrProcessDone) || errors.Is(err, syscall.ESRCH))
}
