package sweep

import (
	"slices"
	"strings"
	"testing"

	"github.com/tfsweep/tfsweep/spec"
)

// A job carries --threads as it is; without it, parallel workers get a share of the CPUs each
// (within which a worker chooses its threads), and a single worker all of them (0).
func TestJobThreadsAndCPUs(t *testing.T) {
	cpus := cpuShare()
	for _, tc := range []struct {
		name              string
		parallel, threads int
		wantThreads       int
		wantCPUs          int
	}{
		{"one worker", 1, 0, 0, 0},
		{"two workers", 2, 0, 0, max(1, cpus/2)},
		{"more workers than CPUs", 2 * cpus, 0, 0, 1},
		{"--threads with two workers", 2, 5, 5, 0},
		{"--threads with one worker", 1, 3, 3, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Sweep{opts: Options{Parallel: tc.parallel, Threads: tc.threads, LogDir: "logs"}, dir: "logs/sweep"}
			job, err := s.job(Run{Name: "xavier-nobn-b64", Variant: spec.Defaults()})
			if err != nil {
				t.Fatal(err)
			}
			if job.Threads != tc.wantThreads || job.CPUs != tc.wantCPUs {
				t.Errorf("threads %d, CPUs %d; want %d, %d", job.Threads, job.CPUs, tc.wantThreads, tc.wantCPUs)
			}
		})
	}
}

// The service's token never reaches a worker's environment; the rest of the front's does.
func TestWorkerEnvHasNoToken(t *testing.T) {
	s := &Sweep{opts: Options{Device: "cpu", WorkerEnv: []string{"PATH=/bin", TokenEnv + "=secret-secret-secret", "HOME=/root"}}}
	env := s.workerEnv(0)
	if !slices.Contains(env, "PATH=/bin") || !slices.Contains(env, "HOME=/root") {
		t.Errorf("the front's environment is lost: %q", env)
	}
	for _, kv := range env {
		if strings.Contains(kv, "secret") {
			t.Errorf("the worker's environment holds the token: %q", kv)
		}
	}
	if !slices.Contains(s.opts.WorkerEnv, TokenEnv+"=secret-secret-secret") {
		t.Error("workerEnv changed the options' environment")
	}
}
