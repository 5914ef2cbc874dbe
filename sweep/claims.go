package sweep

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tfsweep/tfsweep/internal/atomicfile"
)

// ClaimsDir holds one claim file per run that a process has started: whoever creates it trains the
// run, so that processes sharing a sweep (several machines on one --name, shards of an Indexed Job
// or a Slurm array) never train a run twice at once. Its name starts with a dot: TensorBoard reads
// no event files there, and there are none.
const ClaimsDir = ".claims"

// Run states in claims and in `tfsweep status`.
const (
	StateQueued    = "queued"
	StateRunning   = "running"
	StateStale     = "stale" // running, by a process of this host that is gone
	StateSucceeded = StatusSucceeded
	StateFailed    = StatusFailed
	// StateInterrupted runs were stopped by a signal (Ctrl-C, scancel, a pod's SIGTERM): --resume
	// takes them over as it does stale ones.
	StateInterrupted = StatusInterrupted
)

// Claim is a run's claim file.
type Claim struct {
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	State   string    `json:"state"` // StateRunning, StateSucceeded or StateFailed
	Error   string    `json:"error,omitempty"`
	Ended   time.Time `json:"ended,omitzero"`
}

func claimPath(dir, run string) string { return filepath.Join(dir, ClaimsDir, run+".json") }

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
func (c Claim) state() string {
	if c.State != StateRunning {
		return c.State
	}
	if host, _ := os.Hostname(); c.Host == host && !atomicfile.ProcessAlive(c.PID) {
		return StateStale
	}
	return StateRunning
}

// claimPolicy says which runs a process may take over from an earlier process.
type claimPolicy struct {
	resume      bool // runs of stale claims (their process was killed)
	retryFailed bool // runs whose claim says failed
}

// claim takes the run for this process, or says why not: another process trains it or has trained
// it. Taking over an earlier claim moves it aside by rename, which only one process can do; from is
// then the state of the claim taken over ("" for a run nobody had started).
func (s *Sweep) claim(r Run, policy claimPolicy) (taken bool, from, why string, err error) {
	path := claimPath(s.dir, r.Name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, "", "", err
	}
	host, _ := os.Hostname()
	mine := Claim{Host: host, PID: os.Getpid(), Started: time.Now().UTC(), State: StateRunning}
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
		case state == StateSucceeded:
			return false, "", "already succeeded", nil
		case state == StateFailed && !policy.retryFailed:
			return false, "", "failed before (--retry-failed trains it again)", nil
		case state == StateRunning:
			return false, "", fmt.Sprintf("running on %s pid %d", old.Host, old.PID), nil
		case (state == StateStale || state == StateInterrupted) && !policy.resume:
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
	switch {
	case res.Interrupted:
		c.State = StateInterrupted
	case c.State != StateSucceeded:
		c.State = StateFailed
	}
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o644)
}

// RetireAttempt moves an earlier attempt's run directory aside, to ClaimsDir/attempts of its sweep,
// with its event files renamed so that TensorBoard reads them no more: the new attempt's curves
// start afresh instead of zig-zagging over the old ones, and nothing of the old attempt is deleted.
func RetireAttempt(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	name := filepath.Base(dir)
	attempts := filepath.Join(filepath.Dir(dir), ClaimsDir, "attempts")
	if err := os.MkdirAll(attempts, 0o755); err != nil {
		return err
	}
	var to string
	for n := 1; ; n++ {
		to = filepath.Join(attempts, fmt.Sprintf("%s.%d", name, n))
		if _, err := os.Stat(to); errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err := atomicfile.Rename(dir, to); err != nil {
		return err
	}
	return filepath.WalkDir(to, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.Contains(d.Name(), "tfevents") {
			return err
		}
		return atomicfile.Rename(path, filepath.Join(filepath.Dir(path), strings.ReplaceAll(d.Name(), "tfevents", "retired")))
	})
}

// RunState is one run of a sweep as `tfsweep status` shows it.
type RunState struct {
	Name  string `json:"name"`
	State string `json:"state"` // one of the State constants
	Host  string `json:"host,omitempty"`
	PID   int    `json:"pid,omitempty"`
	Error string `json:"error,omitempty"`
}

// Status reads the state of every run of the sweep in dir from its recorded plan and claims.
func Status(dir string) ([]RunState, error) {
	_, runs, err := ReadPlan(dir)
	if err != nil {
		return nil, err
	}
	out := make([]RunState, len(runs))
	for i, r := range runs {
		out[i] = RunState{Name: r.Name, State: StateQueued}
		c, err := readClaim(claimPath(dir, r.Name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[i] = RunState{Name: r.Name, State: c.state(), Host: c.Host, PID: c.PID, Error: c.Error}
	}
	return out, nil
}
