package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The real liveness check: this process lives, a pid above any pid_max
// does not, nor does a child that has exited and been reaped.
func TestProcessAlive(t *testing.T) {
	if !ProcessAlive(os.Getpid()) {
		t.Error("this process is not alive")
	}
	if ProcessAlive(1<<31 - 1) {
		t.Error("pid 2^31-1 is alive")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if ProcessAlive(cmd.Process.Pid) {
		t.Errorf("exited child %d is alive", cmd.Process.Pid)
	}
}

func TestRenameAndSync(t *testing.T) {
	dir := t.TempDir()
	from, to := filepath.Join(dir, "a"), filepath.Join(dir, "sub", "b")
	if err := os.Mkdir(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(from, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := SyncFile(from); err != nil {
		t.Fatal(err)
	}
	if err := Rename(from, to); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(to); err != nil || string(got) != "x" {
		t.Errorf("%s holds %q, %v", to, got, err)
	}
	if err := Link(to, from); err != nil {
		t.Fatal(err)
	}
	if err := Link(to, from); !errors.Is(err, fs.ErrExist) {
		t.Errorf("a second link to the same name: %v, want fs.ErrExist", err)
	}
	if err := os.Remove(from); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{SyncFile(from), SyncDir(filepath.Join(dir, "missing")), Rename(from, to)} {
		if err == nil {
			t.Error("an operation on a missing file succeeded")
		}
	}
}
