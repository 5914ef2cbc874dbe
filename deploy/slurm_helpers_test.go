package deploy

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// slurmCluster is the one-node cluster that scripts/setup-slurm.sh installs and starts on this machine.
// Its commands (sbatch, scontrol, ...) need SLURM_CONF, which env carries.
type slurmCluster struct {
	conf string   // its slurm.conf
	env  []string // os.Environ() with SLURM_CONF
}

var (
	slurmOnce    sync.Once
	slurmShared  *slurmCluster
	slurmFailure error
)

// repoRoot is the repository's top directory (the tests run in deploy/).
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// startSlurm installs (only if missing) and starts the cluster, once per test binary, and fails the
// test with the setup script's own words when Slurm cannot run here: a missing cluster is never a skip.
func startSlurm(t testing.TB) *slurmCluster {
	t.Helper()
	slurmOnce.Do(func() {
		script := filepath.Join(repoRoot(t), "scripts", "setup-slurm.sh")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		start := time.Now()
		var out bytes.Buffer
		cmd := exec.CommandContext(ctx, script, "start")
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			slurmFailure = fmt.Errorf("%s start: %v\n%s", script, err, out.String())
			return
		}
		env, err := exec.CommandContext(ctx, script, "env").Output()
		if err != nil {
			slurmFailure = fmt.Errorf("%s env: %v", script, err)
			return
		}
		m := regexp.MustCompile(`^export SLURM_CONF=(\S+)\n?$`).FindSubmatch(env)
		if m == nil {
			slurmFailure = fmt.Errorf("%s env printed %q, want export SLURM_CONF=...", script, env)
			return
		}
		conf := string(m[1])
		slurmShared = &slurmCluster{conf: conf, env: append(os.Environ(), "SLURM_CONF="+conf)}
		t.Logf("Slurm cluster ready in %v (SLURM_CONF=%s) %s", time.Since(start).Round(time.Millisecond), conf, strings.TrimSpace(out.String()))
	})
	if slurmFailure != nil {
		t.Fatalf("no Slurm cluster: %v", slurmFailure)
	}
	return slurmShared
}

// command is a Slurm command with the cluster's SLURM_CONF and the extra environment (KEY=VALUE).
func (c *slurmCluster) command(ctx context.Context, extraEnv []string, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(append([]string{}, c.env...), extraEnv...)
	return cmd
}

// run runs a Slurm command and returns its trimmed stdout, failing the test (with stderr) if it fails.
func (c *slurmCluster) run(t testing.TB, extraEnv []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := c.command(ctx, extraEnv, name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}

// submit runs `sbatch --parsable ARGS...` and returns the job id (the array's job id for an array);
// the job is cancelled when the test ends, should it still run.
func (c *slurmCluster) submit(t testing.TB, extraEnv []string, args ...string) string {
	t.Helper()
	out := c.run(t, extraEnv, "sbatch", append([]string{"--parsable"}, args...)...)
	id, _, _ := strings.Cut(out, ";") // "id;cluster" on multi-cluster setups
	if !regexp.MustCompile(`^[0-9]+$`).MatchString(id) {
		t.Fatalf("sbatch printed %q, want a job id", out)
	}
	c.cancelOnCleanup(t, id)
	return id
}

// submitWait is `sbatch --parsable --wait ARGS...`: it returns once every task has ended, with the job id
// and sbatch's error (non-nil when a task failed, with sbatch's stderr), giving up after timeout.
func (c *slurmCluster) submitWait(t testing.TB, timeout time.Duration, extraEnv []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := c.command(ctx, extraEnv, "sbatch", append([]string{"--parsable", "--wait"}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	id, _, _ := strings.Cut(strings.TrimSpace(stdout.String()), ";")
	if id != "" {
		c.cancelOnCleanup(t, id)
	}
	if ctx.Err() != nil {
		t.Fatalf("sbatch --wait %s: not done after %v", strings.Join(args, " "), timeout)
	}
	if err != nil {
		err = fmt.Errorf("sbatch --wait: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return id, err
}

func (c *slurmCluster) cancelOnCleanup(t testing.TB, jobID string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = c.command(ctx, nil, "scancel", jobID).Run()
	})
}

// slurmTask is one job (or one array task) as `scontrol show job` reports it.
type slurmTask struct {
	JobID, ArrayJobID, ArrayTaskID string
	State                          string // PENDING, RUNNING, COMPLETED, CANCELLED, FAILED, ...
	Restarts                       string
	ExitCode                       string
	Fields                         map[string]string // every Key=Value of the record
}

var slurmField = regexp.MustCompile(`(\w+)=(\S*)`)

// tasks lists the job's records, keyed by array task id ("" for a job that is no array; a group of
// tasks still pending together is keyed by its range, such as "1-2").
func (c *slurmCluster) tasks(t testing.TB, jobID string) map[string]slurmTask {
	t.Helper()
	out := c.run(t, nil, "scontrol", "--oneliner", "show", "job", jobID)
	tasks := map[string]slurmTask{}
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := map[string]string{}
		for _, m := range slurmField.FindAllStringSubmatch(line, -1) {
			if _, seen := f[m[1]]; !seen {
				f[m[1]] = m[2]
			}
		}
		tk := slurmTask{JobID: f["JobId"], ArrayJobID: f["ArrayJobId"], ArrayTaskID: f["ArrayTaskId"],
			State: f["JobState"], Restarts: f["Restarts"], ExitCode: f["ExitCode"], Fields: f}
		tasks[tk.ArrayTaskID] = tk
	}
	return tasks
}

// waitTask polls the array task (taskID "" for a plain job) until its state is one of states.
func (c *slurmCluster) waitTask(t testing.TB, jobID, taskID string, timeout time.Duration, states ...string) slurmTask {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last slurmTask
	for {
		if tk, ok := c.tasks(t, jobID)[taskID]; ok {
			last = tk
			for _, s := range states {
				if tk.State == s {
					return tk
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s task %q: state %q after %v, want one of %v (record %v)", jobID, taskID, last.State, timeout, states, last.Fields)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// cancelTask cancels one array task, named as Slurm wants it: JOBID_TASKID.
func (c *slurmCluster) cancelTask(t testing.TB, jobID, taskID string) {
	t.Helper()
	c.run(t, nil, "scancel", jobID+"_"+taskID)
}

// requeueTask puts a running, cancelled or ended array task back in the queue (it starts again after the
// cluster's cred_expire+1 s, 11 s here).
func (c *slurmCluster) requeueTask(t testing.TB, jobID, taskID string) {
	t.Helper()
	c.run(t, nil, "scontrol", "requeue", jobID+"_"+taskID)
}

// waitForFile waits until path exists and is not empty, and returns its content.
func waitForFile(t testing.TB, path string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not written after %v", path, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// writeScript writes an executable script into dir.
func writeScript(t testing.TB, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}
