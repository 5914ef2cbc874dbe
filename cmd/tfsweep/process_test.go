package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/summary"
	"github.com/tfsweep/tfsweep/sweep"
)

// These tests run the real front binary (built by TestMain) as a user would, piping its output.

func realData(t *testing.T) string {
	t.Helper()
	data := os.Getenv("TFSWEEP_DATA_DIR")
	if data == "" {
		t.Fatal("TFSWEEP_DATA_DIR is not set: run `make test`, or `scripts/setup-data.sh` and export TFSWEEP_DATA_DIR=$PWD/data/mnist")
	}
	return data
}

// front is a started `tfsweep run`.
type front struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan struct{}
}

func startFront(t *testing.T, args ...string) *front {
	t.Helper()
	return startFrontEnv(t, nil, args...)
}

// startFrontEnv is startFront with env added to the test's environment.
func startFrontEnv(t *testing.T, env []string, args ...string) *front {
	t.Helper()
	f := &front{cmd: exec.Command(filepath.Join(binDir, "tfsweep"), append([]string{"run"}, args...)...), done: make(chan struct{})}
	f.cmd.Stdout, f.cmd.Stderr = &f.stdout, &f.stderr
	if env != nil {
		f.cmd.Env = append(os.Environ(), env...)
	}
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { f.cmd.Wait(); close(f.done) }()
	t.Cleanup(func() {
		f.cmd.Process.Kill()
		<-f.done
	})
	return f
}

// wait returns the exit code, failing the test when the front does not exit within limit.
func (f *front) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-f.done:
		return f.cmd.ProcessState.ExitCode()
	case <-time.After(limit):
		t.Fatalf("tfsweep did not exit within %s\nstderr:\n%s", limit, f.stderr.String())
		return -1
	}
}

// waitFor polls until cond holds, failing the test after limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// workers lists the pids of the tfsweep-worker processes whose parent is pid.
func workers(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after its closing parenthesis.
		s := string(stat)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) && strings.Contains(s, "(tfsweep-worker)") {
			out = append(out, child)
		}
	}
	return out
}

// runDirStarted tells whether some run under logdir has begun writing its train/ logs.
func runDirStarted(logdir, run string) bool {
	matches, _ := filepath.Glob(filepath.Join(logdir, "sweep-*", run, "train", "*tfevents*"))
	return len(matches) > 0
}

func decodeResult(t *testing.T, stdout string) sweep.Result {
	t.Helper()
	var res sweep.Result
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("stdout is not the JSON summary: %v\n%s", err, stdout)
	}
	return res
}

// What TensorFlow's libraries print on the worker's stdout from C does not reach the front's
// message stream: with oneDNN's verbose mode on, a run trains and succeeds.
func TestLibraryOutputStaysOffTheMessages(t *testing.T) {
	t.Parallel()
	f := startFrontEnv(t, []string{"ONEDNN_VERBOSE=1"}, "--data-dir", realData(t), "--logdir", t.TempDir(),
		"--limit", "1000", "--epochs", "1", "--batch-size", "128", "--init", "xavier", "--batchnorm", "off", "--json")
	if code := f.wait(t, 2*time.Minute); code != spec.ExitOK {
		t.Fatalf("exit %d\n%s", code, f.stderr.String())
	}
	if !strings.Contains(f.stdout.String(), `"succeeded"`) {
		t.Errorf("the run did not succeed:\n%s", f.stdout.String())
	}
}

// Off a terminal, every line tfsweep writes on stderr is a JSON object, TensorFlow's start-up lines
// included (they stay in the workers), so `tfsweep run ... 2>&1 >/dev/null | jq .` works.
func TestPipedStderrIsJSONLines(t *testing.T) {
	f := startFront(t, "--data-dir", realData(t), "--logdir", t.TempDir(), "--limit", "2000", "--epochs", "1",
		"--batch-size", "128", "--parallel", "2", "--seed", "1,2")
	if code := f.wait(t, 2*time.Minute); code != spec.ExitOK {
		t.Fatalf("exit %d\n%s", code, f.stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(f.stderr.String()), "\n")
	messages := map[string]int{}
	for _, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("stderr line is not JSON: %q", line)
			continue
		}
		msg, _ := rec["message"].(string)
		messages[msg]++
	}
	if messages["training"] != 2 || messages["epoch done"] != 2 || messages["run succeeded"] != 2 || messages["report written"] != 1 {
		t.Errorf("messages %v in\n%s", messages, f.stderr.String())
	}
	if !strings.Contains(f.stdout.String(), "xavier-nobn-b128-s2") {
		t.Errorf("stdout lacks the table:\n%s", f.stdout.String())
	}
}

// A worker killed with SIGKILL fails its own run, with the cause shown; the next run gets a new
// worker and the sweep goes on, exiting 1.
func TestKilledWorkerFailsOnlyItsRun(t *testing.T) {
	logdir := t.TempDir()
	f := startFront(t, "--data-dir", realData(t), "--logdir", logdir, "--limit", "5000", "--epochs", "20",
		"--batch-size", "32", "--seed", "1,2", "--parallel", "1", "--json")
	first := "xavier-nobn-b32-s1"
	waitFor(t, time.Minute, "the first run to start", func() bool { return runDirStarted(logdir, first) })
	pids := workers(f.cmd.Process.Pid)
	if len(pids) != 1 {
		t.Fatalf("%d workers, want 1", len(pids))
	}
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	code := f.wait(t, 2*time.Minute)
	res := decodeResult(t, f.stdout.String())
	if code != spec.ExitRunFailed || res.Status != spec.StatusFailed {
		t.Fatalf("exit %d, status %s, want 1 and failed\n%s", code, res.Status, f.stderr.String())
	}
	r1, r2 := res.Runs[0], res.Runs[1]
	if r1.Status != spec.StatusFailed || !strings.Contains(r1.Error, "the worker died during the run") || !strings.Contains(r1.Error, "killed") {
		t.Errorf("killed run: %s %q", r1.Status, r1.Error)
	}
	if r2.Status != spec.StatusSucceeded || r2.EpochsCompleted != 20 {
		t.Errorf("the next run: %s after %d epochs (%s)", r2.Status, r2.EpochsCompleted, r2.Error)
	}
	// The killed run's files are readable up to what was flushed.
	assertReadable(t, r1.Dir)
}

// Ctrl-C once, or SIGHUP (a closed terminal or ssh session): the run in progress closes its files as a
// failed session, the rest are not started, the report is written, and tfsweep exits 130. Ctrl-C
// twice: it exits at once, 130, with the workers gone and the files readable.
func TestInterrupts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sig   os.Signal
		twice bool
	}{{"once", os.Interrupt, false}, {"hangup", syscall.SIGHUP, false}, {"twice", os.Interrupt, true}} {
		twice := tc.twice
		t.Run(tc.name, func(t *testing.T) {
			logdir := t.TempDir()
			f := startFront(t, "--data-dir", realData(t), "--logdir", logdir, "--limit", "5000", "--epochs", "50",
				"--batch-size", "32", "--seed", "1,2,3", "--parallel", "1", "--json")
			waitFor(t, time.Minute, "the first run to start", func() bool { return runDirStarted(logdir, "xavier-nobn-b32-s1") })
			waitFor(t, 10*time.Second, "the worker", func() bool { return len(workers(f.cmd.Process.Pid)) == 1 })
			worker := workers(f.cmd.Process.Pid)[0]
			f.cmd.Process.Signal(tc.sig)
			if twice {
				f.cmd.Process.Signal(tc.sig)
			}
			start := time.Now()
			code := f.wait(t, time.Minute)
			if code != spec.ExitInterrupted {
				t.Fatalf("exit %d, want %d\n%s", code, spec.ExitInterrupted, f.stderr.String())
			}
			waitFor(t, 10*time.Second, "the worker to be gone", func() bool {
				return errors.Is(syscall.Kill(worker, 0), syscall.ESRCH)
			})
			sweepDirs, _ := filepath.Glob(filepath.Join(logdir, "sweep-*"))
			if len(sweepDirs) != 1 {
				t.Fatalf("sweep dirs %v", sweepDirs)
			}
			assertReadable(t, filepath.Join(sweepDirs[0], "xavier-nobn-b32-s1"))
			if twice {
				if d := time.Since(start); d > 5*time.Second {
					t.Errorf("a second interrupt took %s to stop tfsweep", d)
				}
				return
			}
			res := decodeResult(t, f.stdout.String())
			if res.Status != spec.StatusInterrupted || res.Runs[0].Status != spec.StatusFailed ||
				!strings.Contains(res.Runs[2].Error, "not started") || res.Report == "" {
				t.Errorf("summary %+v", res)
			}
			if _, err := os.Stat(filepath.Join(sweepDirs[0], "xavier-nobn-b32-s3")); !os.IsNotExist(err) {
				t.Errorf("an unstarted run has a directory: %v", err)
			}
			var end *summary.HParams
			files, _ := summary.EventFiles(res.Runs[0].Dir)
			for _, file := range files {
				events, err := summary.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range events {
					for _, v := range e.Values {
						if v.HParams != nil && v.HParams.SessionEnd != nil {
							end = v.HParams
						}
					}
				}
			}
			if end == nil || end.SessionEnd.Status != summary.StatusFailure {
				t.Errorf("the interrupted run's session end: %+v", end)
			}
		})
	}
}

// assertReadable reads every event file under dir; a truncated last record is tolerated, as by
// TensorBoard, but a corrupt one is not.
func assertReadable(t *testing.T, dir string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.Contains(d.Name(), "tfevents") {
			return err
		}
		n++
		_, err = summary.ReadFile(path)
		return err
	})
	if err != nil || n == 0 {
		t.Errorf("%s: %d event files, %v", dir, n, err)
	}
}

// killFront kills a front with SIGKILL (its workers die with it: Pdeathsig), so that nothing is
// closed and no claim released, and returns the one sweep directory it trained into under logdir.
func killFront(t *testing.T, f *front, logdir string) string {
	t.Helper()
	if err := f.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	f.wait(t, time.Minute)
	dirs, _ := filepath.Glob(filepath.Join(logdir, "sweep-*"))
	if len(dirs) != 1 {
		t.Fatalf("sweep dirs %v", dirs)
	}
	return dirs[0]
}
