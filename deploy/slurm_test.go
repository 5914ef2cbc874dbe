package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// These tests run on a real Slurm cluster (scripts/setup-slurm.sh; root is needed to install and start
// it). Without one they fail, saying why.

// Every task of an array runs exactly once, with the array variables tfsweep's --shard auto reads.
func TestSlurmArrayRunsEachTaskOnce(t *testing.T) {
	c := startSlurm(t)
	dir := t.TempDir()
	script := writeScript(t, dir, "task.sh", `#!/bin/bash
echo "$SLURM_ARRAY_TASK_ID $SLURM_ARRAY_TASK_COUNT $SLURM_ARRAY_JOB_ID" >>"$OUT/ran.$SLURM_ARRAY_TASK_ID"
`)
	start := time.Now()
	id, err := c.submitWait(t, 2*time.Minute, []string{"OUT=" + dir},
		"--array=0-2", "--chdir", dir, "--output", filepath.Join(dir, "slurm-%A_%a.out"), script)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("array %s of 3 tasks done in %v", id, time.Since(start).Round(time.Millisecond))

	ran, _ := filepath.Glob(filepath.Join(dir, "ran.*"))
	if len(ran) != 3 {
		t.Errorf("%d tasks wrote their file (%v), want 3", len(ran), ran)
	}
	for i := range 3 {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("ran.%d", i)))
		if err != nil {
			t.Errorf("task %d did not run: %v", i, err)
			continue
		}
		if want := fmt.Sprintf("%d 3 %s\n", i, id); string(b) != want {
			t.Errorf("task %d wrote %q, want %q (once, with SLURM_ARRAY_TASK_COUNT=3)", i, b, want)
		}
	}
	for task, tk := range c.tasks(t, id) {
		if tk.State != "COMPLETED" || tk.Restarts != "0" || tk.ExitCode != "0:0" {
			t.Errorf("task %s: state %s, restarts %s, exit %s; want COMPLETED, 0, 0:0", task, tk.State, tk.Restarts, tk.ExitCode)
		}
	}
}

// A task cancelled mid-run (as JOBID_TASKID) stops there, leaves its sibling alone, and once requeued
// runs again to the end.
func TestSlurmCancelAndRequeueTask(t *testing.T) {
	c := startSlurm(t)
	dir := t.TempDir()
	// Task 1 sleeps on its first run, long enough to be cancelled; its rerun (SLURM_RESTART_COUNT=1) does
	// not. The cancel signals every process of the step, and when the sleep dies before the shell does
	// the shell would run on to "done": a killed sleep ends the script, as a killed worker ends its task.
	script := writeScript(t, dir, "task.sh", `#!/bin/bash
out="$OUT/task.$SLURM_ARRAY_TASK_ID"
echo "start ${SLURM_RESTART_COUNT:-0}" >>"$out"
if [ "$SLURM_ARRAY_TASK_ID" = 1 ] && [ "${SLURM_RESTART_COUNT:-0}" = 0 ]; then sleep 300 || exit $?; fi
echo "done ${SLURM_RESTART_COUNT:-0}" >>"$out"
`)
	start := time.Now()
	id := c.submit(t, []string{"OUT=" + dir},
		"--array=0-1", "--requeue", "--chdir", dir, "--output", filepath.Join(dir, "slurm-%A_%a.out"), script)
	task1 := filepath.Join(dir, "task.1")
	if got := waitForFile(t, task1, time.Minute); got != "start 0\n" {
		t.Fatalf("task 1 wrote %q before the cancel, want %q", got, "start 0\n")
	}
	c.waitTask(t, id, "1", 10*time.Second, "RUNNING")

	c.cancelTask(t, id, "1")
	c.waitTask(t, id, "1", 30*time.Second, "CANCELLED")
	if b, _ := os.ReadFile(task1); string(b) != "start 0\n" {
		t.Fatalf("after the cancel task 1 wrote %q, want %q: it was not stopped mid-run", b, "start 0\n")
	}
	t0 := c.waitTask(t, id, "0", 30*time.Second, "COMPLETED", "CANCELLED", "FAILED")
	if t0.State != "COMPLETED" {
		t.Errorf("task 0 ended %s after its sibling's cancel, want COMPLETED", t0.State)
	}

	requeued := time.Now()
	c.requeueTask(t, id, "1")
	t1 := c.waitTask(t, id, "1", 90*time.Second, "COMPLETED", "FAILED", "CANCELLED")
	t.Logf("requeued task restarted and completed %v after the requeue (%v in all)",
		time.Since(requeued).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	if t1.State != "COMPLETED" || t1.Restarts != "1" {
		t.Errorf("requeued task 1: state %s, restarts %s; want COMPLETED, 1", t1.State, t1.Restarts)
	}
	if b, _ := os.ReadFile(task1); string(b) != "start 0\nstart 1\ndone 1\n" {
		t.Errorf("task 1 wrote %q, want it killed once and rerun once to the end", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "task.0")); string(b) != "start 0\ndone 0\n" {
		t.Errorf("task 0 wrote %q, want one whole run", b)
	}
}

// deploy/slurm/tfsweep-array.sbatch and tfsweep-report.sbatch on the cluster, with a stand-in for the
// tfsweep binary that records how it was called: each task runs `tfsweep run` once with the sweep's
// flags, its shard from the array, and the extra arguments; the report starts only after every task.
func TestSlurmRecipes(t *testing.T) {
	arrayScript := filepath.Join(repoRoot(t), "deploy", "slurm", "tfsweep-array.sbatch")
	reportScript := filepath.Join(repoRoot(t), "deploy", "slurm", "tfsweep-report.sbatch")
	src, err := os.ReadFile(arrayScript)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"#SBATCH --array=0-", "#SBATCH --gres=gpu:1", "#SBATCH --requeue"} {
		if !strings.Contains(string(src), "\n"+d) {
			t.Errorf("%s has no %q line", arrayScript, d)
		}
	}

	c := startSlurm(t)
	dir := t.TempDir()
	stub := writeScript(t, dir, "tfsweep", `#!/bin/bash
set -eu
mkdir -p "$LOGDIR/calls"
f="$LOGDIR/calls/$1.${SLURM_ARRAY_TASK_ID:-none}"
{
  printf 'arg %s\n' "$@"
  echo "task ${SLURM_ARRAY_TASK_ID:-} of ${SLURM_ARRAY_TASK_COUNT:-}"
  for g in "$LOGDIR"/calls/*; do echo "seen ${g##*/}"; done
} >"$f.tmp"
mv "$f.tmp" "$f"
`)
	logdir := filepath.Join(dir, "logs")
	env := []string{"TFSWEEP=" + stub, "SWEEP_FILE=" + filepath.Join(dir, "sweep.yaml"), "SWEEP_NAME=smoke",
		"LOGDIR=" + logdir, "DATA_DIR=" + filepath.Join(dir, "mnist")}

	start := time.Now()
	// --gres=none: this cluster has no GPU, and options on sbatch's command line override #SBATCH lines.
	id := c.submit(t, env, "--gres=none", "--array=0-2", "--chdir", dir,
		"--output", filepath.Join(dir, "array-%A_%a.out"), arrayScript, "--limit", "2000", "--epochs", "1")
	rid := c.submit(t, env, "--dependency=afterok:"+id, "--chdir", dir,
		"--output", filepath.Join(dir, "report-%j.out"), reportScript)
	rep := c.waitTask(t, rid, "", 2*time.Minute, "COMPLETED", "FAILED", "CANCELLED")
	t.Logf("array %s and report %s done in %v", id, rid, time.Since(start).Round(time.Millisecond))
	if rep.State != "COMPLETED" {
		out, _ := os.ReadFile(filepath.Join(dir, "report-"+rid+".out"))
		t.Fatalf("report job ended %s:\n%s", rep.State, out)
	}

	calls, _ := filepath.Glob(filepath.Join(logdir, "calls", "*"))
	for i := range calls {
		calls[i] = filepath.Base(calls[i])
	}
	sort.Strings(calls)
	if want := []string{"report.none", "run.0", "run.1", "run.2"}; !slices.Equal(calls, want) {
		t.Fatalf("tfsweep was called as %v, want %v", calls, want)
	}
	read := func(name string) []string {
		b, err := os.ReadFile(filepath.Join(logdir, "calls", name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	args := func(xs ...string) []string {
		var out []string
		for _, x := range xs {
			out = append(out, "arg "+x)
		}
		return out
	}
	wantRun := args("run", "--config", filepath.Join(dir, "sweep.yaml"), "--name", "smoke", "--shard", "auto", "--resume",
		"--logdir", logdir, "--data-dir", filepath.Join(dir, "mnist"), "--limit", "2000", "--epochs", "1")
	for i := range 3 {
		lines := read(fmt.Sprintf("run.%d", i))
		if got := lines[:min(len(wantRun), len(lines))]; !slices.Equal(got, wantRun) {
			t.Errorf("task %d ran tfsweep with\n%q\nwant\n%q", i, got, wantRun)
		}
		if !slices.Contains(lines, fmt.Sprintf("task %d of 3", i)) {
			t.Errorf("task %d: its tfsweep saw %q, want SLURM_ARRAY_TASK_ID=%d of SLURM_ARRAY_TASK_COUNT=3", i, lines, i)
		}
	}
	lines := read("report.none")
	if want := args("report", filepath.Join(logdir, "smoke")); !slices.Equal(lines[:min(2, len(lines))], want) {
		t.Errorf("the report ran tfsweep with %q, want %q", lines, want)
	}
	for i := range 3 {
		if !slices.Contains(lines, fmt.Sprintf("seen run.%d", i)) {
			t.Errorf("the report started before task %d had run (it saw %q)", i, lines)
		}
	}
}
