package summary

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// killHelperEnv names the directory the helper process creates writers in;
// set, TestKillHelper is that process rather than a test.
const killHelperEnv = "SUMMARY_KILL_HELPER_DIR"

// TestKillHelper creates writers as fast as it can until it is killed: the
// child of TestKill9LeavesNoEmptyEventFile.
func TestKillHelper(t *testing.T) {
	dir := os.Getenv(killHelperEnv)
	if dir == "" {
		return // not the helper: nothing to do
	}
	fmt.Println("ready")
	for i := 0; ; i++ {
		w, err := NewWriter(filepath.Join(dir, fmt.Sprintf("run-%d", i%4)), FlushInterval(0))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		w.Scalar("loss", 0, 1)
	}
}

// A process killed with SIGKILL while creating event files leaves none
// empty: each one under a tfevents name holds at least its file_version
// event. Before event files were born under a temporary name, this failed
// on every try (2 of 20 kills left a 0-byte file); the temporary files of
// killed births are removed by the next NewWriter in their directory.
func TestKill9LeavesNoEmptyEventFile(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a child process 20 times")
	}
	dir := t.TempDir()
	for kill := 0; kill < 20; kill++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillHelper$")
		cmd.Env = append(os.Environ(), killHelperEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ready := make([]byte, 6)
		if _, err := out.Read(ready); err != nil {
			t.Fatalf("helper did not start: %v", err)
		}
		time.Sleep(time.Duration(5+rand.IntN(30)) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
	}
	// A writer of this process removes the temporary files of the dead.
	for i := 0; i < 4; i++ {
		if err := newTestWriter(t, filepath.Join(dir, fmt.Sprintf("run-%d", i))).Close(); err != nil {
			t.Fatal(err)
		}
	}
	var files, temps int
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.HasPrefix(d.Name(), ".events-") {
			temps++
			return nil
		}
		if !IsEventFile(d.Name()) {
			t.Errorf("unexpected file %s", path)
			return nil
		}
		files++
		events, err := ReadFile(path)
		if err != nil || len(events) == 0 || events[0].FileVersion != fileVersion {
			info, _ := d.Info()
			t.Errorf("%s (%d bytes): %d events, %v; want its file_version event", path, info.Size(), len(events), err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatal("the helper created no event file")
	}
	if temps != 0 {
		t.Errorf("%d temporary files of killed births left after a new writer in each directory", temps)
	}
	t.Logf("%d event files, all with their first event", files)
}
