package report

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"

	"github.com/tfsweep/tfsweep/internal/atomicfile"
	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/sweep"
)

// BestLink is the link in the reported directory to the best run's model.
const BestLink = "best"

// Best finds the succeeded run with the lowest final validation loss that has an exported model
// (its directory under the reported directory); nil when no succeeded run has a model.
func (s *Sweep) Best() *sweep.BestRun {
	var best *sweep.BestRun
	for _, r := range s.Runs {
		v, ok := r.Curves.ValLoss.Last()
		if r.Status != spec.StatusSucceeded || !ok || math.IsNaN(v) {
			continue
		}
		dir := filepath.Join(s.Dir, filepath.FromSlash(r.Name), spec.SavedModelDir)
		if _, err := os.Stat(filepath.Join(dir, "saved_model.pb")); err != nil {
			continue
		}
		if best == nil || v < best.ValLoss {
			best = &sweep.BestRun{Run: r.Name, ValLoss: v, Model: dir}
		}
	}
	return best
}

// linkBest points dir/best at the best run's model, replacing an earlier link in one rename, and
// says what it did. A best that is not a link (a directory or file: a copy of the sweep made with
// links followed turns the link into its target's copy) is left as it is, since it may be all that
// is left of a model.
func linkBest(dir string, best *sweep.BestRun) (string, error) {
	link := filepath.Join(dir, BestLink)
	info, err := os.Lstat(link)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if best == nil {
			return "", nil
		}
	case err != nil:
		return "", err
	case info.Mode()&fs.ModeSymlink == 0:
		kind := "a directory"
		if !info.IsDir() {
			kind = "a file"
		}
		note := fmt.Sprintf("left %s as it is: %s, not a link (a copy of the sweep made with links followed?)", link, kind)
		if best != nil {
			note += "; the best model is " + best.Model
		}
		return note, nil
	case best == nil:
		if err := os.Remove(link); err != nil {
			return "", err
		}
		return fmt.Sprintf("removed %s: no succeeded run has a model", link), atomicfile.SyncDir(dir)
	}
	target, err := bestTarget(dir, best.Model)
	if err != nil {
		return "", err
	}
	tmp := filepath.Join(dir, fmt.Sprintf(".%s.%d", BestLink, os.Getpid()))
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return "", err
	}
	if err := atomicfile.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return "", err
	}
	return fmt.Sprintf("linked %s to %s", link, target), nil
}

// bestTarget is the best model's path relative to the directory holding the link, so that the
// sweep can move as a whole; absolute when the two share no root.
func bestTarget(dir, model string) (string, error) {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	absModel, err := filepath.Abs(model)
	if err != nil {
		return "", err
	}
	if rel, err := filepath.Rel(absDir, absModel); err == nil {
		return rel, nil
	}
	return absModel, nil
}
