// Package atomicfile replaces files so that a crash, a kill -9 or a power
// loss leaves either the old contents or the new ones under the name, never
// an empty or partly written file:
//
//	atomicfile.Write("report/index.html", page, 0o644)
//
// The data goes to a temporary file in the same directory, which is
// fsynced, renamed over the name, and the directory fsynced so that the
// rename itself is durable. A writer killed in between leaves its temporary
// file behind under a recognisable name, ".<name>.tmp-<pid>-<random>";
// RemoveStale removes those whose process is gone.
//
// Files born another way (TensorFlow's checkpoint bundles, SavedModel
// directories, event files) are made durable with the same primitives:
// SyncFile before the rename, Rename (which syncs the directory after it),
// SyncDir after links and removals.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// file is what Write needs from the temporary file.
type file interface {
	io.Writer
	Name() string
	Chmod(mode fs.FileMode) error
	Sync() error
	Close() error
}

// fileSystem is what Write and RemoveStale need from the operating system;
// osFS is the real one, and tests pass one that records the order of
// writes, syncs and renames.
type fileSystem interface {
	CreateTemp(dir, pattern string) (file, error)
	Rename(oldPath, newPath string) error
	Remove(path string) error
	SyncDir(dir string) error
	ReadDir(dir string) ([]fs.DirEntry, error)
	// Alive reports whether the process pid may still be running.
	Alive(pid int) bool
}

type osFS struct{}

func (osFS) CreateTemp(dir, pattern string) (file, error) { return os.CreateTemp(dir, pattern) }
func (osFS) Rename(oldPath, newPath string) error         { return os.Rename(oldPath, newPath) }
func (osFS) Remove(path string) error                     { return os.Remove(path) }
func (osFS) ReadDir(dir string) ([]fs.DirEntry, error)    { return os.ReadDir(dir) }
func (osFS) Alive(pid int) bool                           { return ProcessAlive(pid) }
func (osFS) SyncDir(dir string) error                     { return syncPath(dir) }

// tempInfix separates a file's name from its writer's pid in temporary
// names: ".<name>.tmp-<pid>-<random>".
const tempInfix = ".tmp-"

// Write replaces the file at path with data, atomically and durably. The
// file gets exactly the permissions perm (they are set with chmod, which the
// umask does not narrow). The directory must exist.
func Write(path string, data []byte, perm fs.FileMode) error {
	return write(osFS{}, path, data, perm)
}

func write(fsys fileSystem, path string, data []byte, perm fs.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if base == "" {
		return fmt.Errorf("atomicfile: write %q: no file name", path)
	}
	f, err := fsys.CreateTemp(dir, "."+base+tempInfix+strconv.Itoa(os.Getpid())+"-*")
	if err != nil {
		return fmt.Errorf("atomicfile: write %s: %w", path, err)
	}
	tmp := f.Name()
	closed := false
	defer func() {
		if err != nil {
			if !closed {
				f.Close()
			}
			fsys.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("atomicfile: write %s: %w", tmp, err)
	}
	// CreateTemp makes files 0600; the final file gets the mode asked for.
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("atomicfile: chmod %s: %w", tmp, err)
	}
	// Without this fsync a power loss after the rename can leave the name
	// pointing at an empty file: the rename may reach the disk first.
	if err := f.Sync(); err != nil {
		return fmt.Errorf("atomicfile: sync %s: %w", tmp, err)
	}
	closed = true
	if err := f.Close(); err != nil {
		return fmt.Errorf("atomicfile: close %s: %w", tmp, err)
	}
	if err := fsys.Rename(tmp, path); err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	// The rename lives in the directory: until it is synced, a power loss
	// can bring back the old file (or none).
	if err := fsys.SyncDir(dir); err != nil {
		return fmt.Errorf("atomicfile: sync directory %s: %w", dir, err)
	}
	return nil
}

// tempPID returns the pid in a temporary file name Write makes, and
// whether name is one.
func tempPID(name string) (int, bool) {
	if !strings.HasPrefix(name, ".") {
		return 0, false
	}
	i := strings.LastIndex(name, tempInfix)
	if i <= 1 {
		return 0, false
	}
	rest := name[i+len(tempInfix):]
	j := strings.IndexByte(rest, '-')
	if j <= 0 || j == len(rest)-1 {
		return 0, false
	}
	pid, err := strconv.Atoi(rest[:j])
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}

// RemoveStale removes from dir the temporary files of Write calls whose
// process is gone (killed mid-write); those of live processes, this one
// included, are left alone, as they may still be renamed into place.
func RemoveStale(dir string) error {
	return removeStale(osFS{}, dir)
}

func removeStale(fsys fileSystem, dir string) error {
	entries, err := fsys.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("atomicfile: remove stale temporary files: %w", err)
	}
	var errs []error
	for _, e := range entries {
		pid, ok := tempPID(e.Name())
		if !ok || e.IsDir() || fsys.Alive(pid) {
			continue
		}
		if err := fsys.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("atomicfile: remove stale temporary files: %w", err)
	}
	return nil
}
