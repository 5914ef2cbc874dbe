package sweep

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// makeSweepDir creates a new directory logdir/sweep-YYYYMMDD-HHMMSS, adding -2, -3, … when that name
// is taken. It never reuses an existing directory: os.Mkdir fails on one, and a new name is tried.
func makeSweepDir(logdir string, now time.Time) (string, error) {
	if err := os.MkdirAll(logdir, 0o755); err != nil {
		return "", fmt.Errorf("--logdir: %w", err)
	}
	base := "sweep-" + now.Format("20060102-150405")
	for i := 1; i <= 1000; i++ {
		name := base
		if i > 1 {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		dir := filepath.Join(logdir, name)
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("--logdir: %w", err)
		}
	}
	return "", fmt.Errorf("--logdir: %s: too many sweeps named %s", logdir, base)
}
