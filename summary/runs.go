package summary

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// IsEventFile reports whether a file name is an event file's, by the rule
// both TensorBoard loaders use: its base name contains "tfevents".
func IsEventFile(name string) bool { return strings.Contains(filepath.Base(name), "tfevents") }

// Runs returns TensorBoard's runs under logdir: the directories directly
// holding at least one non-empty event file, relative to logdir,
// "/"-separated, "." for logdir itself, sorted. A 0-byte event file holds no
// event, so, as for TensorBoard's data server, it makes no run. Symbolic
// links are not followed.
func Runs(logdir string) ([]string, error) {
	seen := map[string]bool{}
	err := filepath.WalkDir(logdir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !IsEventFile(d.Name()) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) { // removed since the directory was listed
				return nil
			}
			return err
		}
		if info.Size() == 0 {
			return nil
		}
		rel, err := filepath.Rel(logdir, filepath.Dir(p))
		if err != nil {
			return err
		}
		seen[path.Clean(filepath.ToSlash(rel))] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("summary: find runs: %w", err)
	}
	runs := make([]string, 0, len(seen))
	for r := range seen {
		runs = append(runs, r)
	}
	sort.Strings(runs)
	return runs, nil
}

// EventFiles returns the paths of the event files directly in runDir,
// sorted by name, which is the order TensorBoard reads them in (TF2 names
// start with the creation time).
func EventFiles(runDir string) ([]string, error) {
	entries, err := os.ReadDir(runDir)
	if err != nil {
		return nil, fmt.Errorf("summary: %w", err)
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() && IsEventFile(e.Name()) {
			files = append(files, filepath.Join(runDir, e.Name()))
		}
	}
	return files, nil
}
