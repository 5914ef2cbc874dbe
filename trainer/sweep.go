package trainer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/tfsweep/tfsweep/dataset"
	"github.com/tfsweep/tfsweep/model"
	"github.com/tfsweep/tfsweep/report"
)

// Options are the settings of a sweep that are not grid axes.
type Options struct {
	LogDir   string // the sweep directory is created under it
	DataDir  string // MNIST IDX files
	Device   string // model.DeviceAuto, DeviceCPU or DeviceGPU
	Parallel int    // runs trained at once (≥1)
	// Threads sets TensorFlow's intra- and inter-op pools of every run; 0 lets TensorFlow choose with
	// one worker and splits the CPUs between workers otherwise.
	Threads int
	// LogEvery writes batch_loss every LogEvery optimizer steps (Keras' update_freq); 0 writes none.
	LogEvery int
	// Log receives progress: JSON lines, or on a terminal human-readable lines plus progress bars.
	Log      io.Writer
	Terminal bool
	DryRun   bool // validate and list the runs, create nothing
}

// DefaultLogEvery is the batch_loss interval `tfsweep run` uses unless --log-every says otherwise.
const DefaultLogEvery = 10

// Sweep is a validated sweep, ready to train.
type Sweep struct {
	plan    Plan
	runs    []Run
	opts    Options
	train   *dataset.Split
	test    *dataset.Split
	dir     string
	created time.Time
	// testCallbacks, set only by tests, adds callbacks to every run (e.g. one that cancels mid-run).
	testCallbacks func(Run) []Callback
}

// BadInputError marks problems with flags, config files, data or the log directory: nothing was
// trained, and `tfsweep run` exits 2.
type BadInputError struct{ Err error }

func (e *BadInputError) Error() string { return e.Err.Error() }
func (e *BadInputError) Unwrap() error { return e.Err }

func badInput(err error) error { return &BadInputError{Err: err} }

// NewSweep checks everything that can be checked before training: the grid values, the data
// directory, the batch sizes against the training set (after plan.Limit), the options, and the log
// directory, in which it creates the sweep directory (unless opts.DryRun). Every error it returns is a
// *BadInputError.
func NewSweep(plan Plan, opts Options) (*Sweep, error) {
	if opts.Parallel < 1 {
		return nil, badInput(fmt.Errorf("--parallel: %d must be at least 1", opts.Parallel))
	}
	if opts.Threads < 0 {
		return nil, badInput(fmt.Errorf("--threads: %d must not be negative", opts.Threads))
	}
	if opts.LogEvery < 0 {
		return nil, badInput(fmt.Errorf("--log-every: %d must not be negative", opts.LogEvery))
	}
	switch opts.Device {
	case model.DeviceAuto, model.DeviceCPU, model.DeviceGPU:
	default:
		return nil, badInput(fmt.Errorf("--device: %q is not one of auto, cpu, gpu", opts.Device))
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	runs, err := plan.Runs(model.ParseInit)
	if err != nil {
		return nil, badInput(err)
	}
	train, test, err := dataset.Load(opts.DataDir)
	if err != nil {
		return nil, badInput(fmt.Errorf("--data-dir: %w", err))
	}
	if plan.Limit > 0 && plan.Limit < train.Len() {
		train = train.Head(plan.Limit)
	}
	if err := CheckData(runs, train.Len()); err != nil {
		return nil, badInput(err)
	}
	s := &Sweep{plan: plan, runs: runs, opts: opts, train: train, test: test, created: time.Now()}
	if !opts.DryRun {
		if s.dir, err = makeSweepDir(opts.LogDir, s.created); err != nil {
			return nil, badInput(err)
		}
	}
	return s, nil
}

// Runs lists the sweep's runs in training order.
func (s *Sweep) Runs() []Run { return s.runs }

// Dir is the sweep directory ("" for a dry run).
func (s *Sweep) Dir() string { return s.dir }

// TrainExamples is the size of the training set after --limit.
func (s *Sweep) TrainExamples() int { return s.train.Len() }

// Result is the machine-readable summary of a sweep (`tfsweep run --json`).
type Result struct {
	SweepDir    string      `json:"sweep_dir"`
	Status      string      `json:"status"` // StatusSucceeded, StatusFailed or StatusInterrupted
	WallSeconds float64     `json:"wall_seconds"`
	Runs        []RunResult `json:"runs"`
	// Report is the path of the written report.md ("" if it could not be written: ReportError).
	Report      string `json:"report,omitempty"`
	ReportError string `json:"report_error,omitempty"`
	// ReportTable is the report's Markdown table, printed by `tfsweep run` without --json.
	ReportTable string `json:"-"`
}

// Sweep and run statuses.
const (
	StatusSucceeded   = "succeeded"
	StatusFailed      = "failed"
	StatusInterrupted = "interrupted"
	StatusPlanned     = "planned" // --dry-run
)

// RunResult is one run's outcome.
type RunResult struct {
	Name            string   `json:"name"`
	Dir             string   `json:"dir"`
	Status          string   `json:"status"` // StatusSucceeded or StatusFailed
	Error           string   `json:"error"`
	Init            string   `json:"init"`
	BatchNorm       bool     `json:"batchnorm"`
	BatchSize       int      `json:"batch_size"`
	Epochs          int      `json:"epochs"`
	LR              float64  `json:"lr"`
	Seed            int64    `json:"seed"`
	Hidden          []int    `json:"hidden"`
	Scale           string   `json:"scale"`
	Limit           int      `json:"limit"`
	TrainExamples   int      `json:"train_examples"`
	EpochsCompleted int      `json:"epochs_completed"`
	Final           *Metrics `json:"final"` // the last completed epoch; null if none completed
	History         Curves   `json:"history"`
	// FitSeconds runs from the first train step to the end of the last completed epoch's validation.
	FitSeconds float64 `json:"fit_seconds"`
	// SamplesPerSecond is epochs completed × training examples / FitSeconds.
	SamplesPerSecond float64 `json:"samples_per_second"`
}

// Metrics are one epoch's values.
type Metrics struct {
	TrainLoss     float64 `json:"train_loss"`
	TrainAccuracy float64 `json:"train_accuracy"`
	ValLoss       float64 `json:"val_loss"`
	ValAccuracy   float64 `json:"val_accuracy"`
}

// Curves are the per-epoch values, index = epoch.
type Curves struct {
	TrainLoss     []float64 `json:"train_loss"`
	ValLoss       []float64 `json:"val_loss"`
	TrainAccuracy []float64 `json:"train_accuracy"`
	ValAccuracy   []float64 `json:"val_accuracy"`
}

// Run trains every run, opts.Parallel at a time, and returns the summary. A failed run does not stop
// the others. When ctx is cancelled the runs in progress stop at their next batch, are marked failed
// (hparams STATUS_FAILURE) and have all their files flushed and closed; runs not yet started are
// reported failed without a directory, and the status is StatusInterrupted.
func (s *Sweep) Run(ctx context.Context) *Result {
	if s.dir == "" {
		panic("trainer: Run on a dry-run sweep")
	}
	con := newConsole(s.opts.Log, s.opts.Terminal)
	log := con.log.With().Str("sweep", s.dir).Logger()

	res := &Result{SweepDir: s.dir, Runs: make([]RunResult, len(s.runs))}
	for i, r := range s.runs {
		res.Runs[i] = s.newRunResult(r)
	}
	if err := writeExperiment(s.dir, s.runs, s.created); err != nil {
		// Without the experiment TensorBoard still builds one from the sessions: worth a warning only.
		log.Warn().Err(err).Msg("could not write the hparams experiment")
	}

	threads := s.threadsPerWorker(log)
	log.Info().Int("runs", len(s.runs)).Int("parallel", s.opts.Parallel).Int("train_examples", s.train.Len()).
		Int("intra_op_threads", threads).Msg("sweep started")

	validation := newValidationCache(s.test)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(s.opts.Parallel, len(s.runs)) {
		wg.Go(func() {
			for i := range jobs {
				s.train1(ctx, con, validation, threads, &res.Runs[i], s.runs[i])
			}
		})
	}
feed:
	for i := range s.runs {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	con.close(s.opts.Log)
	log = con.log.With().Str("sweep", s.dir).Logger()

	res.Status = StatusSucceeded
	for i := range res.Runs {
		if res.Runs[i].Status == "" {
			res.Runs[i].Status = StatusFailed
			res.Runs[i].Error = "not started: the sweep was interrupted"
		}
		if res.Runs[i].Status != StatusSucceeded {
			res.Status = StatusFailed
		}
	}
	if ctx.Err() != nil && res.Status != StatusSucceeded {
		res.Status = StatusInterrupted
	}
	// The report is written also after an interruption: it shows what the logs hold.
	if written, err := report.Generate(context.WithoutCancel(ctx), s.dir); err != nil {
		res.ReportError = err.Error()
		log.Error().Err(err).Msg("could not write the report")
	} else {
		res.Report = filepath.Join(s.dir, report.MarkdownFile)
		res.ReportTable = written.Table
		log.Info().Str("report", res.Report).Int("figures", len(written.Figures)).Msg("report written")
	}
	res.WallSeconds = time.Since(s.created).Seconds()
	log.Info().Str("status", res.Status).Float64("wall_seconds", res.WallSeconds).Msg("sweep done")
	return res
}

// Planned is the summary of a dry run: every run with status "planned" and no results.
func (s *Sweep) Planned() *Result {
	res := &Result{SweepDir: s.dir, Status: StatusPlanned, Runs: make([]RunResult, len(s.runs))}
	for i, r := range s.runs {
		res.Runs[i] = s.newRunResult(r)
		res.Runs[i].Status = StatusPlanned
	}
	return res
}

func (s *Sweep) newRunResult(r Run) RunResult {
	return RunResult{
		Name: r.Name, Init: r.Init, BatchNorm: r.BatchNorm, BatchSize: r.BatchSize, Epochs: r.Epochs,
		LR: r.LR, Seed: r.Seed, Hidden: r.Hidden, Scale: r.Scale, Limit: s.plan.Limit,
		TrainExamples: s.train.Len(),
		History:       Curves{TrainLoss: []float64{}, ValLoss: []float64{}, TrainAccuracy: []float64{}, ValAccuracy: []float64{}},
	}
}

// threadsPerWorker splits the CPU between parallel workers; one worker lets TensorFlow choose (0).
// With GPUs every worker shares them: TensorFlow fixes the visible GPUs once per process, so workers
// cannot be pinned to one GPU each (see model.Config.VisibleGPUs), and GPU memory grows on demand.
func (s *Sweep) threadsPerWorker(log zerolog.Logger) int {
	if s.opts.Device != model.DeviceCPU && s.opts.Parallel > 1 {
		if devices, err := model.ListDevices(); err == nil {
			for _, d := range devices {
				if d.Type == "GPU" {
					log.Info().Str("gpu", d.Name).Msg("parallel runs share this GPU")
				}
			}
		}
	}
	if s.opts.Threads > 0 {
		return s.opts.Threads
	}
	if s.opts.Parallel == 1 {
		return 0
	}
	return max(1, runtime.NumCPU()/s.opts.Parallel)
}

// train1 trains one run into its own directory and fills in its result.
func (s *Sweep) train1(ctx context.Context, con *console, validation *validationCache, threads int, res *RunResult, r Run) {
	res.Dir = filepath.Join(s.dir, r.Name)
	hist := &History{}
	err := s.fit(ctx, con, validation, threads, res.Dir, r, hist)
	if err != nil && hist.Err == nil {
		// Fit never ran (no directory, no model), so no callback has told the user.
		con.log.Error().Str("run", r.Name).Err(err).Msg("run failed")
	}
	res.EpochsCompleted = len(hist.TrainLoss)
	res.History = Curves{TrainLoss: hist.TrainLoss, ValLoss: hist.ValLoss, TrainAccuracy: hist.TrainAccuracy, ValAccuracy: hist.ValAccuracy}
	if res.History.TrainLoss == nil {
		res.History = Curves{TrainLoss: []float64{}, ValLoss: []float64{}, TrainAccuracy: []float64{}, ValAccuracy: []float64{}}
	}
	if n := res.EpochsCompleted; n > 0 {
		res.Final = &Metrics{
			TrainLoss: hist.TrainLoss[n-1], TrainAccuracy: hist.TrainAccuracy[n-1],
			ValLoss: hist.ValLoss[n-1], ValAccuracy: hist.ValAccuracy[n-1],
		}
	}
	res.FitSeconds = hist.FitTime.Seconds()
	if res.FitSeconds > 0 {
		res.SamplesPerSecond = float64(res.EpochsCompleted*s.train.Len()) / res.FitSeconds
	}
	if err != nil {
		res.Status, res.Error = StatusFailed, err.Error()
		return
	}
	res.Status = StatusSucceeded
}

// fit builds the run's model and callbacks and runs Fit. The TensorBoard callback is opened first, so
// that even a model that fails to build leaves a run marked failed in TensorBoard.
func (s *Sweep) fit(ctx context.Context, con *console, validation *validationCache, threads int, dir string, r Run, hist *History) error {
	cfg := model.DefaultConfig()
	cfg.Inputs = s.train.Features()
	cfg.Hidden = r.Hidden
	cfg.Init = r.Init
	cfg.BatchNorm = r.BatchNorm
	cfg.LearningRate = r.LR
	cfg.Seed = r.Seed
	cfg.Device = s.opts.Device
	cfg.IntraOpThreads, cfg.InterOpThreads = threads, threads

	info := runInfo{Run: r, Limit: s.plan.Limit, TrainExamples: s.train.Len(), Device: s.opts.Device, Threads: threads}
	tb, err := openTensorBoard(dir, info, s.opts.LogEvery)
	if err != nil {
		return err
	}
	m, err := model.New(cfg)
	if err != nil {
		err = fmt.Errorf("build the model: %w", err)
		return errors.Join(err, tb.OnTrainEnd(TrainEnd{Err: err}))
	}
	defer m.Close()
	tb.setModel(m)

	scale := dataset.ScaleUnit
	if r.Scale == ScaleNone {
		scale = dataset.ScaleNone
	}
	valPixels, valLabels := validation.get(scale)
	data := FitData{
		TrainExamples: s.train.Len(),
		Epoch: func(epoch int) iter.Seq2[[]float32, []int32] {
			order := dataset.Permutation(s.train.Len(), r.Seed, epoch)
			return func(yield func([]float32, []int32) bool) {
				for b := range s.train.Batches(order, r.BatchSize, scale) {
					if !yield(b.Pixels, b.Labels) {
						return
					}
				}
			}
		},
		ValPixels: valPixels,
		ValLabels: valLabels,
	}
	opts := FitOptions{Epochs: r.Epochs, BatchSize: r.BatchSize, LearningRate: r.LR}
	callbacks := []Callback{hist, tb, con.progress(r.Name)}
	if s.testCallbacks != nil {
		callbacks = append(callbacks, s.testCallbacks(r)...)
	}
	return Fit(ctx, m, data, opts, callbacks...)
}

// validationCache converts the test set to float32 once per scaling, shared by all workers.
type validationCache struct {
	test *dataset.Split
	mu   sync.Mutex
	sets map[dataset.Scaling]validationSet
}

type validationSet struct {
	pixels []float32
	labels []int32
}

func newValidationCache(test *dataset.Split) *validationCache {
	return &validationCache{test: test, sets: map[dataset.Scaling]validationSet{}}
}

func (c *validationCache) get(scale dataset.Scaling) ([]float32, []int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	set, ok := c.sets[scale]
	if !ok {
		set.pixels, set.labels = c.test.Float32(scale)
		c.sets[scale] = set
	}
	return set.pixels, set.labels
}
