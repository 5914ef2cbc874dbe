package sweep

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// DefaultWorkerGrace is how long a worker has, after SIGTERM, to stop its run at the next batch,
// close the run's files and report, before it is killed: a worker stuck in a TensorFlow call must
// not hold up a cancelled sweep or the server's shutdown for ever.
const DefaultWorkerGrace = 10 * time.Second

// WorkerCommand is how the front starts tfsweep-worker, for every command: path is the binary,
// args its subcommand and arguments, env its environment (nil: the front's) to which
// TF_CPP_MIN_LOG_LEVEL=1 and TF_OVERRIDE_GLOBAL_THREADPOOL=1 are added unless env sets them. The
// worker gets its own process group, so that a terminal's Ctrl-C reaches the front, which decides
// what the workers are told, and dies with the front. When ctx is done it gets SIGTERM, and
// SIGKILL grace later (DefaultWorkerGrace when grace is 0) unless it has exited.
func WorkerCommand(ctx context.Context, path string, env []string, grace time.Duration, args ...string) *exec.Cmd {
	if env == nil {
		env = os.Environ()
	}
	if grace <= 0 {
		grace = DefaultWorkerGrace
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = withDefaults(env,
		// TensorFlow's C++ INFO lines (oneDNN, CPU features) only fill the failure reports.
		"TF_CPP_MIN_LOG_LEVEL=1",
		// Each Model gets the intra-op threads its Config asks for, not the first session's.
		"TF_OVERRIDE_GLOBAL_THREADPOOL=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = grace
	return cmd
}

// withDefaults adds each KEY=value of defaults that env does not set.
func withDefaults(env []string, defaults ...string) []string {
	out := append([]string(nil), env...)
	for _, kv := range defaults {
		key, _, _ := strings.Cut(kv, "=")
		set := false
		for _, have := range env {
			set = set || strings.HasPrefix(have, key+"=")
		}
		if !set {
			out = append(out, kv)
		}
	}
	return out
}
