package sweep

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMakeSweepDirNeverReuses(t *testing.T) {
	logdir := filepath.Join(t.TempDir(), "runs", "nested")
	now := time.Date(2026, 11, 26, 19, 5, 12, 0, time.UTC)
	var dirs []string
	for range 3 {
		dir, err := makeSweepDir(logdir, now)
		if err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, filepath.Base(dir))
	}
	want := []string{"sweep-20261126-190512", "sweep-20261126-190512-2", "sweep-20261126-190512-3"}
	for i := range want {
		if dirs[i] != want[i] {
			t.Fatalf("sweep dirs %v, want %v", dirs, want)
		}
	}
}

func TestMakeSweepDirUnwritable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := makeSweepDir(filepath.Join(file, "runs"), time.Now())
	if err == nil || !strings.HasPrefix(err.Error(), "--logdir: ") {
		t.Fatalf("error %v, want a --logdir error", err)
	}
}
