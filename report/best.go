package report

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"

	"github.com/tfsweep/tfsweep/spec"
)

// BestLink is the link in the reported directory to the best run's model.
const BestLink = "best"

// Best is the succeeded run with the lowest final validation loss that has an exported model.
type Best struct {
	Run     string  `json:"run"`
	ValLoss float64 `json:"val_loss"`
	Model   string  `json:"model"` // the model directory, under the reported directory
}

// Best finds the best run, nil when no succeeded run has a model.
func (s *Sweep) Best() *Best {
	var best *Best
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
			best = &Best{Run: r.Name, ValLoss: v, Model: dir}
		}
	}
	return best
}

// linkBest points dir/best at the best run's model, replacing an earlier link in one rename.
func linkBest(dir string, best *Best) error {
	link := filepath.Join(dir, BestLink)
	if best == nil {
		if err := os.Remove(link); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	target, err := filepath.Rel(dir, best.Model)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, fmt.Sprintf(".%s.%d", BestLink, os.Getpid()))
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
