package sweep

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/tfsweep/tfsweep/internal/atomicfile"
	"github.com/tfsweep/tfsweep/spec"
)

// Claim is a run's claim file.
type Claim struct {
	Host    string      `json:"host"`
	PID     int         `json:"pid"`
	Started time.Time   `json:"started"`
	State   spec.Status `json:"state"` // StatusRunning, StatusSucceeded, StatusFailed, StatusInterrupted, StatusPruned or StatusPaused
	Error   string      `json:"error,omitempty"`
	// Reason and Epochs say where and why the scheduler pruned or paused the run: the epochs it
	// trained (the rung it reached) and the decision's reason.
	Reason string    `json:"reason,omitempty"`
	Epochs int       `json:"epochs,omitempty"`
	Ended  time.Time `json:"ended,omitzero"`
}

func claimPath(dir, run string) string { return filepath.Join(dir, spec.ClaimsDir, run+".json") }

func readClaim(path string) (Claim, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Claim{}, err
	}
	var c Claim
	if err := json.Unmarshal(data, &c); err != nil {
		return Claim{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// state is what the claim says of the run; a running claim of this host whose process is gone is
// stale (a killed process cannot say it ended).
func (c Claim) state() spec.Status {
	if c.State != spec.StatusRunning {
		return c.State
	}
	if host, _ := os.Hostname(); c.Host == host && !atomicfile.ProcessAlive(c.PID) {
		return spec.StatusStale
	}
	return spec.StatusRunning
}

// claimPolicy says which runs a process may take over from an earlier process.
type claimPolicy struct {
	resume      bool // runs of stale claims (their process was killed)
	retryFailed bool // runs whose claim says failed
	promote     bool // a run the scheduler paused and now promotes
}

// claim takes the run for this process, or says why not: another process trains it or has trained
// it. Taking over an earlier claim moves it aside by rename, which only one process can do; from is
// then the state of the claim taken over ("" for a run nobody had started).
func (s *Sweep) claim(r Run, policy claimPolicy) (taken bool, from spec.Status, why string, err error) {
	path := claimPath(s.dir, r.Name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, "", "", err
	}
	host, _ := os.Hostname()
	mine := Claim{Host: host, PID: os.Getpid(), Started: time.Now().UTC(), State: spec.StatusRunning}
	from = ""
	for attempt := 0; attempt < 2; attempt++ {
		data, _ := json.Marshal(mine)
		tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
		if err := atomicfile.Write(tmp, data, 0o644); err != nil {
			return false, "", "", err
		}
		err := atomicfile.Link(tmp, path)
		os.Remove(tmp)
		if err == nil {
			return true, from, "", nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return false, "", "", err
		}
		old, err := readClaim(path)
		if err != nil {
			return false, "", "", err
		}
		state := old.state()
		switch {
		case state == spec.StatusSucceeded:
			return false, "", "already succeeded", nil
		case state == spec.StatusPruned:
			return false, "", "pruned by the scheduler", nil
		case state == spec.StatusPaused && !policy.promote:
			return false, "", "paused at a rung by the scheduler", nil
		case state != spec.StatusPaused && policy.promote:
			return false, "", fmt.Sprintf("promoted, but %s", state), nil
		case state == spec.StatusFailed && !policy.retryFailed:
			return false, "", "failed before (--retry-failed trains it again)", nil
		case state == spec.StatusRunning:
			return false, "", fmt.Sprintf("running on %s pid %d", old.Host, old.PID), nil
		case (state == spec.StatusStale || state == spec.StatusInterrupted) && !policy.resume:
			return false, "", fmt.Sprintf("interrupted on %s pid %d (--resume takes it over)", old.Host, old.PID), nil
		}
		// Take it over: whoever renames the old claim away first creates the new one.
		aside := fmt.Sprintf("%s.taken-%d", path, os.Getpid())
		if err := os.Rename(path, aside); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return false, "", "", err
		}
		os.Remove(aside)
		from = state
	}
	return false, "", "claimed by another process meanwhile", nil
}

// release records the run's end in its claim.
func (s *Sweep) release(r Run, res RunResult) error {
	path := claimPath(s.dir, r.Name)
	c, err := readClaim(path)
	if err != nil {
		return err
	}
	c.State, c.Error, c.Ended = res.Status, res.Error, time.Now().UTC()
	c.Reason, c.Epochs = res.Reason, res.EpochsCompleted
	switch {
	case res.Interrupted:
		c.State = spec.StatusInterrupted
	case c.State != spec.StatusSucceeded && c.State != spec.StatusPruned && c.State != spec.StatusPaused:
		c.State = spec.StatusFailed
	}
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o644)
}

// RunState is one run of a sweep as `tfsweep status` shows it.
type RunState struct {
	Name   string      `json:"name"`
	State  spec.Status `json:"state"` // queued, running, stale, succeeded, failed, interrupted, pruned or paused
	Host   string      `json:"host,omitempty"`
	PID    int         `json:"pid,omitempty"`
	Error  string      `json:"error,omitempty"`
	Reason string      `json:"reason,omitempty"` // why the scheduler pruned or paused it
	Epochs int         `json:"epochs,omitempty"` // the epochs it trained, once it ended
}

// Status reads the state of every run of the sweep in dir from its recorded plan and claims.
func Status(dir string) ([]RunState, error) {
	_, runs, err := ReadPlan(dir)
	if err != nil {
		return nil, err
	}
	out := make([]RunState, len(runs))
	for i, r := range runs {
		out[i] = RunState{Name: r.Name, State: spec.StatusQueued}
		c, err := readClaim(claimPath(dir, r.Name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[i] = RunState{Name: r.Name, State: c.state(), Host: c.Host, PID: c.PID, Error: c.Error, Reason: c.Reason, Epochs: c.Epochs}
	}
	return out, nil
}
