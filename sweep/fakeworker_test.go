package sweep

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tfsweep/tfsweep/spec"
)

// The runner's tests train with a fake worker: this test binary, started with fakeWorkerEnv set,
// speaks the worker protocol without TensorFlow. It appends every line it is sent to the file
// fakeWorkerEnv names, trains each Job or fused group epoch by epoch (a member's val_loss is
// 1000·lr at every epoch; a resumed member goes on from the epochs its directory records), waits for
// a Verdict per live member after each epoch when the jobs ask for them, dies after the first epoch
// of the run fakeDieEnv names and hangs after that of the run fakeHangEnv names (until a signal).
// Each fake worker first appends its pid and CUDA_VISIBLE_DEVICES to the log's fakeStarts file; if
// the file fakeDieAtStartEnv names exists, it removes it and exits, so that the next one lives.
const (
	fakeWorkerEnv     = "TFSWEEP_TEST_FAKE_WORKER"
	fakeDieEnv        = "TFSWEEP_TEST_FAKE_WORKER_DIES_IN"
	fakeHangEnv       = "TFSWEEP_TEST_FAKE_WORKER_HANGS_IN"
	fakeDieAtStartEnv = "TFSWEEP_TEST_FAKE_WORKER_DIES_AT_START"
	fakeStarts        = ".starts"
)

func TestMain(m *testing.M) {
	if log := os.Getenv(fakeWorkerEnv); log != "" {
		os.Exit(fakeWorkerStart(log))
	}
	os.Exit(m.Run())
}

// fakeWorkerStart records the fake worker's start, dies if told to, and serves.
func fakeWorkerStart(log string) int {
	f, err := os.OpenFile(log+fakeStarts, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err == nil {
		_, err = fmt.Fprintf(f, "%d %s\n", os.Getpid(), os.Getenv("CUDA_VISIBLE_DEVICES"))
		f.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake worker:", err)
		return 3
	}
	if flag := os.Getenv(fakeDieAtStartEnv); flag != "" && os.Remove(flag) == nil {
		return 1
	}
	return fakeWorker(log, os.Getenv(fakeDieEnv), os.Stdin, os.Stdout)
}

// fakeWorker serves the commands on in; its exit code is 0 when in closes.
func fakeWorker(log, die string, in io.Reader, out io.Writer) int {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	read := func() (spec.Command, error) {
		if !sc.Scan() {
			return spec.Command{}, io.EOF
		}
		f, err := os.OpenFile(log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			_, err = f.Write(append(sc.Bytes(), '\n'))
			f.Close()
		}
		var c spec.Command
		if err == nil {
			err = json.Unmarshal(sc.Bytes(), &c)
		}
		return c, err
	}
	enc := json.NewEncoder(out)
	for {
		c, err := read()
		if err == io.EOF {
			return 0
		}
		jobs := c.Fused
		if c.Job != nil {
			jobs = []spec.Job{*c.Job}
		}
		if err == nil && len(jobs) == 0 {
			err = fmt.Errorf("a line that is neither a job nor a group: %+v", c)
		}
		if err == nil {
			err = fakeTrain(jobs, die, read, enc)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "fake worker:", err)
			return 3
		}
	}
}

// fakeMember is one run of what the fake worker trains.
type fakeMember struct {
	job     spec.Job
	variant spec.Variant
	history spec.History
	next    int // the next epoch, 0-based; a resumed run's starts where its last attempt ended
	ended   bool
}

// fakeEpochs is the file in a run directory that stands for its checkpoint: the epochs it trained.
const fakeEpochs = "fake-epochs"

// fakeTrain trains a job or a group: each member's begin, its epochs in turn with every other live
// member's, the verdicts on them, and its end.
func fakeTrain(jobs []spec.Job, die string, read func() (spec.Command, error), enc *json.Encoder) error {
	members := make([]*fakeMember, len(jobs))
	fused := 0
	if len(jobs) > 1 {
		fused = len(jobs)
	}
	for i, j := range jobs {
		m, err := newFakeMember(j)
		if err != nil {
			return err
		}
		members[i] = m
		enc.Encode(spec.Message{Kind: spec.MessageBegin, Run: j.Run, Begin: &spec.Begin{Epochs: m.variant.Epochs, TrainExamples: 20, Fused: fused}})
	}
	for {
		var live []*fakeMember
		for _, m := range members {
			if !m.ended {
				live = append(live, m)
			}
		}
		if len(live) == 0 {
			return nil
		}
		for _, m := range live {
			e := spec.EpochMetrics{Epoch: m.next, Loss: 1000 * m.variant.LR, ValLoss: 1000 * m.variant.LR, Accuracy: 0.5, ValAccuracy: 0.5}
			m.history.Append(e)
			m.next++
			if err := os.WriteFile(filepath.Join(m.job.Dir, fakeEpochs), []byte(strconv.Itoa(m.next)), 0o644); err != nil {
				return err
			}
			enc.Encode(spec.Message{Kind: spec.MessageEpoch, Run: m.job.Run, Epoch: &e})
			switch m.job.Run {
			case die:
				os.Exit(1)
			case os.Getenv(fakeHangEnv):
				time.Sleep(time.Hour)
			}
		}
		if err := fakeVerdicts(live, read, enc); err != nil {
			return err
		}
		for _, m := range live {
			if !m.ended && m.next == m.variant.Epochs {
				m.end(enc, spec.StatusSucceeded, "")
			}
		}
	}
}

// newFakeMember makes the job's run directory, or finds the epochs of the run it resumes.
func newFakeMember(j spec.Job) (*fakeMember, error) {
	v, err := spec.DecodeVariant(j.Variant)
	if err != nil {
		return nil, err
	}
	m := &fakeMember{job: j, variant: v, history: spec.EmptyHistory()}
	// A resumed run without a checkpoint starts anew, as the worker's do.
	if text, err := os.ReadFile(filepath.Join(j.Dir, fakeEpochs)); j.Resume && err == nil {
		if m.next, err = strconv.Atoi(string(text)); err != nil {
			return nil, err
		}
	}
	return m, os.MkdirAll(j.Dir, 0o755)
}

// fakeVerdicts reads a verdict for every live member that asks for them, each naming its member and
// the epoch it trained last, and ends the members told to stop or pause.
func fakeVerdicts(live []*fakeMember, read func() (spec.Command, error), enc *json.Encoder) error {
	for range live {
		if !live[0].job.Verdicts {
			return nil
		}
		c, err := read()
		if err != nil || c.Verdict == nil {
			return fmt.Errorf("want a verdict, read %+v (%v)", c, err)
		}
		var m *fakeMember
		for _, l := range live {
			if l.job.Run == c.Verdict.Run && !l.ended {
				m = l
			}
		}
		if m == nil || c.Verdict.Epoch != m.next-1 {
			return fmt.Errorf("a verdict on %s epoch %d, which is no live member's last epoch", c.Verdict.Run, c.Verdict.Epoch)
		}
		switch c.Verdict.Action {
		case spec.VerdictStop:
			m.end(enc, spec.StatusPruned, c.Verdict.Reason)
		case spec.VerdictPause:
			m.end(enc, spec.StatusPaused, c.Verdict.Reason)
		}
	}
	return nil
}

func (m *fakeMember) end(enc *json.Encoder, status spec.Status, reason string) {
	m.ended = true
	enc.Encode(spec.Message{Kind: spec.MessageEnd, Run: m.job.Run, End: &spec.End{Status: status, Reason: reason,
		EpochsCompleted: m.next, TrainExamples: 20, FitSeconds: 1, History: m.history}})
}

// fakeEnv is a test's data, its log directory and the fake worker's log of the lines it was sent.
type fakeEnv struct{ data, logdir, log string }

func newFakeEnv(t *testing.T) fakeEnv {
	t.Helper()
	dir := t.TempDir()
	e := fakeEnv{data: filepath.Join(dir, "data"), logdir: filepath.Join(dir, "logs"), log: filepath.Join(dir, "sent.jsonl")}
	if err := os.Mkdir(e.data, 0o755); err != nil {
		t.Fatal(err)
	}
	writeTinyData(t, e.data, 20)
	return e
}

// sweep plans a sweep of the grid the flags give, trained by the fake worker, which dies in the run
// die names ("" none).
func (e fakeEnv) sweep(t *testing.T, opts Options, plan Plan, die string, flags ...string) *Sweep {
	return e.sweepEnv(t, opts, plan, []string{fakeDieEnv + "=" + die}, flags...)
}

// sweepEnv is sweep with the fake worker's behaviour in env.
func (e fakeEnv) sweepEnv(t *testing.T, opts Options, plan Plan, env []string, flags ...string) *Sweep {
	t.Helper()
	grid, err := flagGrid(t, flags...)
	if err != nil {
		t.Fatal(err)
	}
	plan.Grids = []Grid{grid}
	s, err := New(plan, e.options(t, opts, env))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// options are opts with the test's data and log directory, on the CPU, trained by the fake worker
// with env added to its environment.
func (e fakeEnv) options(t *testing.T, opts Options, env []string) Options {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	opts.LogDir, opts.DataDir, opts.Device, opts.Worker = e.logdir, e.data, "cpu", self
	opts.WorkerEnv = append(append(os.Environ(), fakeWorkerEnv+"="+e.log), env...)
	opts.WorkerGrace = 5 * time.Second
	return opts
}

// sent is what the fake worker was sent, a line each: the runs of a job ("a"), of a fused group
// ("a+b+c"), the resumed ones marked ("a(resume)"); verdicts are left out.
func (e fakeEnv) sent(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(e.log)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for line := range strings.Lines(string(data)) {
		var c spec.Command
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatalf("the fake worker was sent %q: %v", line, err)
		}
		jobs := c.Fused
		if c.Job != nil {
			jobs = []spec.Job{*c.Job}
		}
		if len(jobs) == 0 {
			continue
		}
		names := make([]string, len(jobs))
		for i, j := range jobs {
			names[i] = j.Run
			if j.Resume {
				names[i] += "(resume)"
			}
		}
		out = append(out, strings.Join(names, "+"))
	}
	return out
}
