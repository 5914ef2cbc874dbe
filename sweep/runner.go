package sweep

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tfsweep/tfsweep/dataset"
	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/summary"
)

// Options are the settings of a sweep that are not axes.
type Options struct {
	LogDir  string // the sweep directory is created under it
	DataDir string // MNIST IDX files, the data unless Source or the plan names a source
	// Source is a data source (dataset.ParseSource: KIND:PATH[:key=value…]); it overrides the plan's
	// data: and DataDir. DataCache is where sources that decode (image folders, IDX, CSV, TFRecord) keep their decoded form.
	Source, DataCache string
	// Data is the data's shape when the caller has read it (a server reads it once); nil reads it
	// from Source, the plan's data: or DataDir.
	Data   *DataShape
	Device string // auto, cpu or gpu
	// Parallel is the runs trained at once, one worker process each; ParallelAuto lets New choose
	// (Sweep.Parallel says what it chose and why).
	Parallel int
	// Fuse is --fuse: FuseAuto ("" too), FuseOn or FuseOff; FuseGroup the most trials of a fused
	// group, 0 letting New choose (Sweep.Fusion says what it chose and why).
	Fuse      string
	FuseGroup int
	// Threads sets TensorFlow's intra- and inter-op pools of every run; 0 lets each worker choose from
	// the batch size and its share of the CPUs (all of them with one worker, split between workers
	// otherwise).
	Threads int
	// StepsPerCall is Keras' steps_per_execution: the batches a worker trains per TensorFlow call,
	// at most spec.MaxStepsPerCall; 0 leaves the choice to the worker. Results do not depend on it.
	StepsPerCall int
	// LogEvery writes batch scalars every LogEvery optimizer steps (Keras' update_freq); 0 writes none.
	LogEvery int
	// PicturesEvery writes each run's pictures of the validation set (spec.PicturesDir) every
	// PicturesEvery epochs and after the last; 0 writes none.
	PicturesEvery int
	MaxRuns       int // a larger plan is refused before it is expanded; 0 = DefaultMaxRuns
	// Worker is the path of the TensorFlow-linked worker binary (tfsweep-worker); WorkerEnv its
	// environment, to which WorkerCommand adds its defaults and, with GPUs, the runner a
	// CUDA_VISIBLE_DEVICES per worker.
	Worker    string
	WorkerEnv []string
	// WorkerGrace is how long a worker told to stop may take before it is killed; 0 is
	// DefaultWorkerGrace.
	WorkerGrace time.Duration
	// GPUs are the GPU ids to pin workers to, one each, round-robin; none leaves the GPUs to
	// TensorFlow.
	GPUs []string
	// Charts gives the Custom Scalars layout of the runs, written with their epoch losses into the
	// sweep's charts directory (spec.ChartsDir); nil writes no charts.
	Charts func([]Run) summary.Layout
	DryRun bool // validate and list the runs, create nothing

	// Name makes the sweep directory LogDir/Name, shared by every process given the same name and
	// plan (several machines, shards); "" makes a new LogDir/sweep-<time>.
	Name string
	// Shard trains only the runs whose index ≡ Shard.Index (mod Shard.Count); the zero value trains
	// every run.
	Shard Shard
	// Resume takes over runs whose earlier process died, from their last checkpoint; RetryFailed
	// trains failed runs again from the start.
	Resume, RetryFailed bool
	// KeepCheckpoints is how many of a run's last per-epoch checkpoints stay, besides the best.
	KeepCheckpoints int
}

// Shard is one of Count parts of a plan.
type Shard struct{ Index, Count int }

func (sh Shard) has(r Run) bool { return sh.Count <= 1 || r.Index%sh.Count == sh.Index }

// DefaultLogEvery is the batch-scalar interval `tfsweep run` uses unless --log-every says otherwise.
const DefaultLogEvery = 10

// DefaultPicturesEvery is the pictures' interval in epochs unless --pictures-every says otherwise:
// drawing them costs about an epoch of a small network, so the lab report's five-epoch runs draw them
// once, after their last epoch.
const DefaultPicturesEvery = 5

// Observer is told what the workers report, as they report it. Its methods are called from one
// goroutine per worker slot, so concurrently.
type Observer interface {
	RunStarted(r Run, b spec.Begin)
	RunProgress(r Run, p spec.Progress)
	EpochEnded(r Run, e spec.EpochMetrics)
	RunEnded(r Run, res RunResult)
}

// BadInputError marks problems with flags, sweep files, data or the log directory: nothing was
// trained, and `tfsweep run` exits 2.
type BadInputError struct{ Err error }

func (e *BadInputError) Error() string { return e.Err.Error() }
func (e *BadInputError) Unwrap() error { return e.Err }

func badInput(err error) error { return &BadInputError{Err: err} }

// Sweep is a validated sweep, ready to train.
type Sweep struct {
	plan          Plan
	runs          []Run
	opts          Options
	trainExamples int // of the data, before any run's limit
	features      int
	classes       int
	source        string            // the data source the workers read (dataset.ParseSource)
	snapshot      spec.DataSnapshot // the entries of the data cache New read the source's splits from
	dir           string
	created       time.Time
	charts        *charts // nil without Options.Charts
	recorder      bool    // this process recorded the plan: it writes the experiment and the layout
	parallel      Parallelism
	fusion        Fusion
	fuseKeys      map[string]string // by run name, the runs that train fused (spec.Variant.FuseKey)
	fused         groupLog          // the fused groups sent, during Run
	trials        *trials           // the scheduler, during Run; nil without one
	search        *search           // TPE's proposals, during Run; nil for a grid or a random search
	// warm is the first slot's worker New started, until Run or Close takes it; nil without one.
	warm atomic.Pointer[worker]
}

// maxThreads bounds --threads: TensorFlow crashes in its thread-pool set-up far above the cores.
func maxThreads() int { return max(64, 8*runtime.NumCPU()) }

// New checks everything that can be checked before training: the options, the plan (against
// MaxRuns), the data directory, the runs against the training set, their memory against the
// machine's, and the log directory, in which it creates the sweep directory (unless DryRun).
// Every error it returns is a *BadInputError. When New reads the data itself (Options.Data nil) for
// a sweep to train, it starts the first slot's worker before the read, so that TensorFlow loads
// while the data is read; Run gives that worker to its first slot, and Close stops it for a Sweep
// that is not Run. A New that fails leaves no worker behind.
func New(plan Plan, opts Options) (*Sweep, error) {
	if opts.MaxRuns == 0 {
		opts.MaxRuns = DefaultMaxRuns
	}
	if err := opts.check(); err != nil {
		return nil, badInput(err)
	}
	runs, err := plan.Runs(opts.MaxRuns)
	if err != nil {
		return nil, badInput(err)
	}
	if err := checkScheduler(plan, opts, runs); err != nil {
		return nil, badInput(err)
	}
	s := &Sweep{plan: plan, runs: runs, opts: opts, created: time.Now()}
	// One reading of the memory available for the parallelism and the memory check, so that auto's
	// count is the one checked, taken before the first worker loads. Without /proc/meminfo there is
	// nothing to compare against: TensorFlow will say.
	available, err := availableMemory()
	if err != nil {
		available = math.Inf(1)
	}
	var warm *worker
	if opts.Data == nil && !opts.DryRun {
		warm = s.startWarm()
	}
	if err := s.prepare(available); err != nil {
		warm.kill()
		return nil, badInput(err)
	}
	s.warm.Store(warm)
	return s, nil
}

// prepare reads the data unless Options.Data gives its shape, checks the runs, their parallelism,
// memory and fusion against it and the machine's available memory, and the log directory, in which
// it creates the sweep directory unless DryRun.
func (s *Sweep) prepare(available float64) error {
	data := s.opts.Data
	if data == nil {
		shape, snapshot, err := readData(&s.plan, s.opts)
		if err != nil {
			return err
		}
		// The snapshot is of data read now, not of a shape read before (Options.Data).
		data, s.snapshot = &shape, snapshot
	}
	if err := s.plan.CheckData(s.runs, data.TrainExamples, data.Features, data.Classes); err != nil {
		return err
	}
	s.trainExamples, s.features, s.classes, s.source = data.TrainExamples, data.Features, data.Classes, data.Source
	if err := s.resolveParallel(available); err != nil {
		return err
	}
	if err := s.checkMemory(available); err != nil {
		return err
	}
	if err := s.resolveFuse(available); err != nil {
		return err
	}
	if s.opts.DryRun {
		return checkDryRunDir(s.opts, s.runs)
	}
	return s.makeDir()
}

// checkDryRunDir checks, writing nothing, the log directory a dry run stands in for: that it is
// writable, and that the named sweep directory in it, if any, records no other plan.
func checkDryRunDir(opts Options, runs []Run) error {
	if err := checkWritable(opts.LogDir); err != nil {
		return fmt.Errorf("--logdir: %w", err)
	}
	if opts.Name != "" {
		if _, recorded, err := ReadPlan(filepath.Join(opts.LogDir, opts.Name)); err == nil {
			if diff := diffRuns(recorded, runs); diff != "" {
				return fmt.Errorf("--name %s: %s records another plan: %s", opts.Name, filepath.Join(opts.LogDir, opts.Name, PlanFile), diff)
			}
		}
	}
	return nil
}

// makeDir creates the sweep directory, --name's or a new one, and records the plan in it.
func (s *Sweep) makeDir() error {
	var err error
	if s.opts.Name != "" {
		s.dir = filepath.Join(s.opts.LogDir, s.opts.Name)
		if err := os.MkdirAll(s.dir, 0o755); err != nil {
			return fmt.Errorf("--logdir: %w", err)
		}
	} else if s.dir, err = makeSweepDir(s.opts.LogDir, s.created); err != nil {
		return err
	}
	if s.recorder, err = recordPlan(s.dir, s.plan, s.runs, s.opts.MaxRuns); err != nil {
		if s.opts.Name != "" {
			return fmt.Errorf("--name %s: %w", s.opts.Name, err)
		}
		return err
	}
	return nil
}

// check refuses options out of range, each error naming its flag.
func (opts Options) check() error {
	switch {
	case opts.Parallel < ParallelAuto || opts.Parallel > MaxParallel:
		return fmt.Errorf("--parallel: %d must be auto or in [1, %d]", opts.Parallel, MaxParallel)
	case opts.Threads < 0 || opts.Threads > maxThreads():
		return fmt.Errorf("--threads: %d must be in [0, %d] on this machine of %d CPUs", opts.Threads, maxThreads(), runtime.NumCPU())
	case opts.StepsPerCall < 0 || opts.StepsPerCall > spec.MaxStepsPerCall:
		return fmt.Errorf("--steps-per-call: %d must be in [0, %d]", opts.StepsPerCall, spec.MaxStepsPerCall)
	case opts.LogEvery < 0:
		return fmt.Errorf("--log-every: %d must not be negative", opts.LogEvery)
	case opts.PicturesEvery < 0:
		return fmt.Errorf("--pictures-every: %d must not be negative", opts.PicturesEvery)
	case opts.MaxRuns < 0:
		return fmt.Errorf("--max-runs: %d must be positive", opts.MaxRuns)
	case opts.WorkerGrace < 0:
		return fmt.Errorf("--stop-grace: %v must not be negative", opts.WorkerGrace)
	case opts.Shard.Count > 0 && (opts.Shard.Index < 0 || opts.Shard.Index >= opts.Shard.Count):
		return fmt.Errorf("--shard: %d/%d: the index must be in [0, %d)", opts.Shard.Index, opts.Shard.Count, opts.Shard.Count)
	}
	if opts.Name != "" {
		if err := checkName(opts.Name); err != nil {
			return err
		}
	}
	switch opts.Device {
	case "auto", "cpu", "gpu":
	default:
		return fmt.Errorf("--device: %q is not one of auto, cpu, gpu", opts.Device)
	}
	return opts.CheckFuse()
}

// DataShape is what planning needs of the data: the training set's examples and their features, the
// classes, and the source the workers read (a dataset spec; empty: the IDX files of the data directory).
type DataShape struct {
	TrainExamples, Features, Classes int
	Source                           string
}

// ReadDataShape reads and checks the IDX files of a data directory for their shape.
func ReadDataShape(dir string) (DataShape, error) {
	shape, _, err := readData(&Plan{}, Options{DataDir: dir})
	return shape, err
}

// ReadSourceShape reads and checks a data source (--data's KIND:PATH[:key=value…]) for its shape,
// keeping decoded image folders, IDX, CSV and TFRecord splits under cacheDir.
func ReadSourceShape(source, cacheDir string) (DataShape, error) {
	shape, _, err := readData(&Plan{}, Options{Source: source, DataCache: cacheDir})
	return shape, err
}

// readData reads the data source the sweep trains on, --data's, the plan's data: or the IDX files in
// --data-dir, and checks that it fits in the machine's memory as float32. A source from --data is
// recorded in the plan, so that the sweep's own plan file names it. The snapshot is the entries of the
// data cache the splits were read from, for the workers to read.
func readData(plan *Plan, opts Options) (DataShape, spec.DataSnapshot, error) {
	source, origin := opts.Source, "--data"
	switch {
	case source != "":
		plan.Data, plan.dataOrigin = source, origin
	case plan.Data != "":
		source, origin = plan.Data, plan.dataOrigin
	default:
		source, origin = "idx:"+opts.DataDir, "--data-dir"
	}
	src, err := dataset.ParseSource(source)
	if err != nil {
		return DataShape{}, spec.DataSnapshot{}, fmt.Errorf("%s: %w", origin, err)
	}
	// The budget is checked on what the files declare before they are read, and on what was read. The
	// front needs no values: a split its decoded-cache entry serves is the workers' to read.
	d, err := dataset.Describe(src, dataset.Options{CacheDir: opts.DataCache, Budget: DataBudget()})
	if err != nil {
		return DataShape{}, spec.DataSnapshot{}, fmt.Errorf("%s: %w", origin, err)
	}
	return DataShape{TrainExamples: d.TrainExamples, Features: d.Features(), Classes: d.Classes, Source: source}, d.Snapshot, nil
}

// DataBudget is the most bytes a data source may take as float32 (dataset.Options.Budget): the memory
// this machine has available, or 0 (no limit) where it cannot tell.
func DataBudget() int64 {
	available, err := availableMemory()
	if err != nil {
		return 0
	}
	return int64(min(available, math.MaxInt64/2))
}

// checkName refuses sweep names that are not one plain directory name.
func checkName(name string) error {
	if name == "." || name == ".." || strings.HasPrefix(name, ".") {
		return fmt.Errorf("--name: %q may not start with a dot", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("--name: %q: use letters, digits, '-', '_' and '.' only", name)
		}
	}
	if len(name) == 0 || len(name) > 200 {
		return fmt.Errorf("--name: %q must have 1 to 200 characters", name)
	}
	return nil
}

// Mine lists the runs this process trains: its shard's.
func (s *Sweep) Mine() []Run {
	var out []Run
	for _, r := range s.runs {
		if s.opts.Shard.has(r) {
			out = append(out, r)
		}
	}
	return out
}

// Runs lists the sweep's runs in training order.
func (s *Sweep) Runs() []Run { return s.runs }

// Dir is the sweep directory ("" for a dry run).
func (s *Sweep) Dir() string { return s.dir }

// TrainExamples is the size of the training set, before any run's limit.
func (s *Sweep) TrainExamples() int { return s.trainExamples }

// Planned is the summary of a dry run: every run with status "planned" and no results.
func (s *Sweep) Planned() *Result {
	mine := s.Mine()
	res := &Result{SweepDir: s.dir, Status: spec.StatusPlanned, Parallel: new(s.parallel), Fuse: new(s.fusion), Runs: make([]RunResult, len(mine))}
	for i, r := range mine {
		res.Runs[i] = s.newRunResult(r)
		res.Runs[i].Status = spec.StatusPlanned
	}
	return res
}

func (s *Sweep) newRunResult(r Run) RunResult {
	dir := ""
	if s.dir != "" {
		dir = filepath.Join(s.dir, r.Name)
	}
	return RunResult{Name: r.Name, Dir: dir, Variant: r.Variant, TrainExamples: r.TrainExamples(s.trainExamples), History: spec.EmptyHistory()}
}

// cpusPerWorker is each worker's share of the CPUs (cpuShare) when they are split between parallel
// workers and --threads is not given; 0 (all of them) with one worker.
func (s *Sweep) cpusPerWorker() int {
	if s.opts.Threads > 0 || s.opts.Parallel == 1 {
		return 0
	}
	return max(1, cpuShare()/s.opts.Parallel)
}

// Run trains every run, Parallel at a time, each slot in its own worker process, and returns the
// summary. A failed run, or a worker that dies, fails that run alone; the slot starts a new worker
// for its next run. When ctx is cancelled the workers are asked to stop (SIGTERM): the runs in
// progress stop at their next batch, are marked failed (hparams STATUS_FAILURE) and have all their
// files closed; a worker that has not exited after Options.WorkerGrace is killed. Runs not yet
// started are reported failed without a directory, and the status is spec.StatusInterrupted. obs
// (nil: none) is told what the workers report. The first slot's first worker is the one New started,
// if it started one and it is still alive when the slot's first run is sent.
func (s *Sweep) Run(ctx context.Context, obs Observer) *Result {
	if obs == nil {
		obs = noObserver{}
	}
	if s.dir == "" {
		panic("sweep: Run on a dry-run sweep")
	}
	// The first slot's worker, New's if it started one; whoever holds it closes it: this defer, or
	// the slot it is given to.
	warm := s.warm.Swap(nil)
	if warm != nil {
		defer context.AfterFunc(ctx, warm.stop)()
	}
	defer func() { warm.close() }()
	mine := s.Mine()
	res := &Result{SweepDir: s.dir, Parallel: new(s.parallel), Runs: make([]RunResult, len(mine))}
	for i, r := range mine {
		res.Runs[i] = s.newRunResult(r)
	}
	defer s.openLogs(res)()
	// The runs this process may train: its own and, in a scheduled or TPE sweep of several shards, a
	// promoted run of another shard too, since whichever process is free trains a promotion.
	runs, results := mine, res.Runs
	if s.opts.Shard.Count > 1 && (s.plan.Scheduler.Kind != "" || s.plan.Search == SearchTPE) {
		runs, results = s.withOtherShards(mine, res.Runs)
	}
	if s.plan.Scheduler.Kind != "" {
		t, err := openTrials(s.dir, s.plan.Scheduler, maxEpochs(s.runs))
		if err != nil {
			res.Status, res.ReportError = spec.StatusFailed, fmt.Sprintf("scheduler: %v", err)
			return res
		}
		s.trials = t
		defer t.close()
	}
	if s.plan.Search == SearchTPE {
		sr, err := openSearch(s.dir, s.plan, runs)
		if err != nil {
			res.Status, res.ReportError = spec.StatusFailed, fmt.Sprintf("search: %v", err)
			return res
		}
		s.search = sr
		defer sr.close()
	}
	s.trainRuns(ctx, obs, &warm, runs, results, len(mine))
	res.Runs = trainedHere(results, len(mine))
	fusion := s.fusion
	fusion.Groups = s.fused.list()
	res.Fuse = &fusion
	res.settle(ctx.Err() != nil)
	res.WallSeconds = time.Since(s.created).Seconds()
	return res
}

// openLogs writes the sweep's hparams experiment and opens its charts, and returns what closes the
// charts. Without the experiment TensorBoard still builds one from the sessions, so a failure here
// is reported in res and not fatal. Of the processes sharing a sweep, the one that recorded the
// plan writes the experiment and the chart layout, so that each is there once.
func (s *Sweep) openLogs(res *Result) (closeCharts func()) {
	if s.recorder {
		if err := writeExperiment(s.dir, s.plan, s.runs, s.created); err != nil {
			res.ReportError = fmt.Sprintf("hparams experiment: %v", err)
		}
	}
	if s.opts.Charts == nil {
		return func() {}
	}
	layout := summary.Layout{}
	if s.recorder {
		layout = s.opts.Charts(s.runs)
	}
	c, err := openCharts(s.dir, layout)
	if err != nil {
		res.ReportError = strings.TrimSpace(res.ReportError + " charts: " + err.Error())
		return func() {}
	}
	s.charts = c
	return func() {
		if err := c.close(); err != nil {
			res.ReportError = strings.TrimSpace(res.ReportError + " charts: " + err.Error())
		}
	}
}

// trainRuns gives the runs to Parallel slots, through the queue the scheduler adds promoted runs
// to, until they are all trained or ctx is done. The first slot takes *warm, the worker New
// started (nil: none), and *warm is then nil.
func (s *Sweep) trainRuns(ctx context.Context, obs Observer, warm **worker, runs []Run, results []RunResult, mine int) {
	q := newQueue(s.initialWork(runs, mine))
	var wg sync.WaitGroup
	for slot := range min(s.opts.Parallel, len(runs)) {
		var first *worker
		if slot == 0 {
			first, *warm = *warm, nil
		}
		wg.Go(func() { s.slot(ctx, obs, slot, first, q, runs, results) })
	}
	wg.Wait()
}

// settle gives the runs never started their failure and the sweep its status.
func (res *Result) settle(interrupted bool) {
	res.Status = spec.StatusSucceeded
	for i := range res.Runs {
		if res.Runs[i].Status == "" {
			res.Runs[i].Status = spec.StatusFailed
			res.Runs[i].Error = "not started: the sweep was interrupted"
			res.Runs[i].Dir = ""
		}
		if !res.Runs[i].Status.Done() {
			res.Status = spec.StatusFailed
		}
	}
	if interrupted && res.Status != spec.StatusSucceeded {
		res.Status = spec.StatusInterrupted
	}
}

// noObserver observes nothing.
type noObserver struct{}

func (noObserver) RunStarted(Run, spec.Begin)        {}
func (noObserver) RunProgress(Run, spec.Progress)    {}
func (noObserver) EpochEnded(Run, spec.EpochMetrics) {}
func (noObserver) RunEnded(Run, RunResult)           {}

// job is what the worker needs of a run; a model file's network goes with the run's settings
// applied (the run's final values: a TPE trial's are proposed after planning).
func (s *Sweep) job(r Run) (spec.Job, error) {
	dir := filepath.Join(s.dir, r.Name)
	group, err := filepath.Rel(s.opts.LogDir, dir)
	if err != nil {
		group = filepath.Join(filepath.Base(s.dir), r.Name)
	}
	job := spec.Job{
		Run: r.Name, Index: r.Index, Dir: dir, Group: filepath.ToSlash(group), Variant: spec.EncodeVariant(r.Variant),
		DataDir: s.opts.DataDir, Data: s.source, DataCache: s.opts.DataCache, DataSnapshot: s.snapshot, Device: s.opts.Device, Threads: s.opts.Threads, CPUs: s.cpusPerWorker(),
		LogEvery: s.opts.LogEvery, PicturesEvery: s.opts.PicturesEvery,
		StepsPerCall: s.opts.StepsPerCall, KeepCheckpoints: s.opts.KeepCheckpoints,
	}
	if s.trials != nil || s.search != nil {
		// The runs' best epochs, those their HParams sessions show, by what the search decides on.
		if job.Best, err = schedulerObjective(s.plan.Scheduler); err != nil {
			return job, err
		}
	}
	if r.Model.File != "" {
		net, err := r.Network(s.features, s.classes)
		if err != nil {
			return job, fmt.Errorf("model %s: %w", r.Model.File, err)
		}
		job.Network = &net
	}
	return job, nil
}

// worker is one running worker process.
type worker struct {
	// stop ends the context the process was started with, which tells it to stop (SIGTERM, then
	// SIGKILL after the grace); close calls it once the process has exited.
	stop     context.CancelFunc
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	messages chan spec.Message
	stderr   *tail
	done     chan struct{} // closed when the process has exited; waitErr is then set
	waitErr  error
	readErr  error
}

// workerEnv is the environment of the slot's worker: Options.WorkerEnv, with a GPU pinned. It never
// holds the service's token: a worker needs none, and what a process holds its children and their
// crash reports can leak.
func (s *Sweep) workerEnv(slot int) []string {
	env := slices.DeleteFunc(slices.Clone(s.opts.WorkerEnv), func(kv string) bool { return strings.HasPrefix(kv, TokenEnv+"=") })
	switch {
	case s.opts.Device == "cpu":
		env = append(env, "CUDA_VISIBLE_DEVICES=")
	case len(s.opts.GPUs) > 0:
		// One GPU per worker: TensorFlow fixes the visible GPUs once per process, so pinning is
		// done here, per process, rather than per session.
		env = append(env, "CUDA_VISIBLE_DEVICES="+s.opts.GPUs[slot%len(s.opts.GPUs)])
	}
	return env
}

// TokenEnv is the environment variable that holds `tfsweep serve`'s bearer token.
const TokenEnv = "TFSWEEP_TOKEN"

// startWorker starts the slot's worker; when ctx is done the worker is told to stop (SIGTERM) and
// killed after Options.WorkerGrace.
func (s *Sweep) startWorker(ctx context.Context, slot int) (*worker, error) {
	ctx, stop := context.WithCancel(ctx)
	cmd := WorkerCommand(ctx, s.opts.Worker, s.workerEnv(slot), s.opts.WorkerGrace, "serve")
	w := &worker{stop: stop, cmd: cmd, messages: make(chan spec.Message, 64), stderr: &tail{max: 64 << 10}, done: make(chan struct{})}
	cmd.Stderr = w.stderr
	stdout, err := cmd.StdoutPipe()
	if err == nil {
		w.stdin, err = cmd.StdinPipe()
	}
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		stop()
		return nil, fmt.Errorf("start worker %s: %w", s.opts.Worker, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			var m spec.Message
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				w.readErr = fmt.Errorf("worker wrote a line that is not a message: %q", truncate(sc.Text(), 200))
				// Nothing it says after that can be trusted, and left running it would
				// block on the pipe no one reads, and Wait with it.
				_ = cmd.Process.Kill()
				break
			}
			w.messages <- m
		}
		if w.readErr == nil {
			w.readErr = sc.Err()
		}
		close(w.messages)
		w.waitErr = cmd.Wait()
		close(w.done)
	}()
	return w, nil
}

func (w *worker) finish(res *RunResult, end spec.End) {
	res.Status, res.Error, res.Interrupted, res.Reason = end.Status, end.Error, end.Interrupted, end.Reason
	res.EpochsCompleted = end.EpochsCompleted
	res.StoppedEpoch, res.BestEpoch = end.StoppedEpoch, end.BestEpoch
	res.Model, res.Timings = end.Model, end.Timings
	if end.History.TrainLoss != nil {
		res.History = end.History
	}
	if n := res.EpochsCompleted; n > 0 && res.History.Len() >= n {
		final := res.History.At(n - 1)
		res.Final = &final
	}
	res.TrainExamples = end.TrainExamples
	res.FitSeconds = end.FitSeconds
	if res.FitSeconds > 0 {
		res.SamplesPerSecond = float64(res.EpochsCompleted*res.TrainExamples) / res.FitSeconds
	}
}

func (w *worker) exitError() error {
	if w.readErr != nil {
		return w.readErr
	}
	if w.waitErr != nil {
		return w.waitErr
	}
	return errors.New("it exited without a word")
}

// failure describes a worker's death with the end of what it wrote on stderr, where TensorFlow
// says why it aborted.
func (w *worker) failure(what string, err error) string {
	msg := fmt.Sprintf("%s (%v)", what, err)
	if t := strings.TrimSpace(w.stderr.String()); t != "" {
		msg += "; its last output:\n" + t
	}
	return msg
}

// close ends the worker: its stdin closed, it exits after the run it trains.
func (w *worker) close() {
	if w == nil {
		return
	}
	w.stdin.Close()
	for range w.messages {
	}
	<-w.done
	w.stop()
}

// tail keeps the last max bytes written to it, cut at a line start.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = t.buf[over:]
		if i := strings.IndexByte(string(t.buf), '\n'); i >= 0 {
			t.buf = t.buf[i+1:]
		}
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := strings.Split(strings.TrimRight(string(t.buf), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// checkWritable tells whether a directory could be created at path (or is there and writable)
// and leaves nothing behind: it makes and removes a probe directory in the nearest existing
// ancestor, since permission bits alone say nothing for root or for /proc.
func checkWritable(path string) error {
	p := filepath.Clean(path)
	for {
		info, err := os.Stat(p)
		if err == nil {
			if !info.IsDir() {
				return fmt.Errorf("mkdir %s: not a directory", p)
			}
			probe, err := os.MkdirTemp(p, ".tfsweep-probe-")
			if err != nil {
				return fmt.Errorf("%s is not writable: %w", p, err)
			}
			return os.Remove(probe)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return err
		}
		p = parent
	}
}
