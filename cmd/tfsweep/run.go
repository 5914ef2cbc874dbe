package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/tfsweep/tfsweep/report"
	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/sweep"
)

const runUsage = `usage: tfsweep run [flags]

Trains a sweep of network variants on MNIST and writes each as a TensorBoard run under a new directory
LOGDIR/sweep-YYYYMMDD-HHMMSS/<run>, where <run> names the variant (xavier-bn-b256, uniform-nobn-b128;
the other axes are added, e.g. -lr0.01, -s2 or convnet-, only when they vary in the sweep).

The network is the lab report's MLP (--hidden sets its widths) or, with --model, networks written in
Keras' terms: a model file (YAML or JSON: an Input and a list of Keras layers, see package modelfile),
the JSON of Keras' model.to_json(), or a .keras archive. --init, --l2, --activation, --batchnorm and
--dropout apply to any network as Keras would (every kernel; every hidden activation; a
BatchNormalization after every hidden Conv2D or Dense; a Dropout after every hidden activation);
where a model file sets a value itself and the flag is not given, the file wins.

Without --init, --batchnorm, --batch-size and --config it trains the lab-report preset: xavier × batch
norm off,on × batch size 64,128,256,512,1024, plus uniform × batch norm off,on × batch size 128;
5 epochs, lr 0.001. The other axis flags apply to the preset's twelve runs (--scale none trains the
report on raw 0–255 pixels). --init, --batchnorm or --batch-size replace the preset with a single grid;
the axes it leaves out take the defaults shown below. With --config, axis flags override that axis in
every grid of the file. Axis flags take comma-separated lists. The default seed is fixed (1), so runs
are reproducible.

Each run trains in a tfsweep-worker process (one per --parallel slot, pinned to one GPU each when
there are GPUs); TensorFlow's own output is shown only when a worker fails. --parallel auto (the
default) trains one run per CPU this process may use (its affinity and cgroup quota), or one per GPU,
but never more runs at once than the sweep has nor than fit the available memory side by side; with a
--scheduler or --search tpe it trains one at a time, since their decisions would otherwise depend on the
order in which runs end (give --parallel N to use the cores anyway). The start line, --dry-run and
--json say the choice and why. A run's last bits depend on its thread count, which --parallel shares
out: --parallel 1 reproduces the bits of the earlier default.

Runs that share a network shape (an MLP of Dense layers, each with an optional batch normalisation and
activation), batch size, data, epochs and optimizer (Adam at a constant learning rate, no dropout or
L2) can train fused: a group of them as one graph in one worker, each still a run of its own directory,
logs, checkpoints and model. --fuse auto (the default) fuses when the workers train on GPUs and not on
CPUs, where it was measured not to pay (docs/fused-trials.md); --fuse on fuses whatever can fuse. A
group takes queued runs of one shape in their order, up to --fuse-group. The start line, --dry-run and
--json say the choice, the groups and why a run trains alone; each run's JSON names its group.

Exit status: 0 every run succeeded, 1 a run failed or the report could not be written, 2 bad input
(nothing trained), 130 interrupted (Ctrl-C, SIGTERM, SIGHUP; a second one stops at once).
`

// runRun is `tfsweep run` in its steps: the flags and the plan (parseRun), the workers and the
// sweep (sweep.New), its training (trainSweep), the report (reportSweep), then the summary and the
// exit status; package sweep does the work.
func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	started := time.Now()
	f, plan, code, ok := parseRun(args, stdout, stderr)
	if !ok {
		return code
	}
	if f.presetNotice != "" {
		log := newLogger(stderr, isTerminal(stderr))
		log.Warn().Msg(f.presetNotice)
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "tfsweep run: %v\n", err)
		return spec.ExitBadInput
	}
	if err := setUpWorkers(ctx, &f.opts); err != nil {
		return fail(err)
	}
	s, err := sweep.New(plan, f.opts)
	if err != nil {
		return fail(err)
	}
	defer s.Close()
	if f.opts.DryRun {
		if f.jsonOut {
			return printJSON(stdout, stderr, s.Planned())
		}
		printRuns(stdout, s.Mine(), s.TrainExamples(), s.Parallel(), s.Fusion())
		return spec.ExitOK
	}
	if ctx.Err() != nil {
		// Interrupted while the data loaded: leave no sweep directory behind that holds only its plan
		// (a shared --name directory stays: other processes may be training into it).
		if f.opts.Name == "" {
			os.RemoveAll(s.Dir())
		}
		return spec.ExitInterrupted
	}
	con := newConsole(stderr, isTerminal(stderr), widthOf(stderr))
	runStart := time.Now()
	res := trainSweep(ctx, s, f.opts, con)
	reportStart := time.Now()
	reportTable := reportSweep(ctx, res, f.opts, con)
	res.Timings = &sweep.SweepTimings{Startup: runStart.Sub(started).Seconds(), FirstStep: con.firstStep(started), Report: time.Since(reportStart).Seconds()}
	logTimings(con, res)
	if f.jsonOut {
		if code := printJSON(stdout, stderr, res); code != spec.ExitOK {
			return code
		}
	} else {
		printResult(stdout, res, reportTable)
	}
	switch {
	case res.Status == spec.StatusInterrupted:
		return spec.ExitInterrupted
	case res.Status != spec.StatusSucceeded, res.ReportError != "":
		return spec.ExitRunFailed
	}
	return spec.ExitOK
}

// runFlags are `tfsweep run`'s flags besides the axes.
type runFlags struct {
	opts         sweep.Options
	config       string
	jsonOut      bool
	trials       int
	searchSeed   int64
	searchMethod string
	sched        sweep.SchedulerOptions
	shard        string
	shards       int
	// presetNotice says that axis flags alone vary the lab-report preset rather than train one run.
	presetNotice string
}

// parseRun reads the flags and makes the plan: the preset, a sweep file or a recorded sweep's own
// plan, with the axis flags and the random search applied. ok is false when the command ends here,
// with code (help, or bad flags: the message is on stderr).
func parseRun(args []string, stdout, stderr io.Writer) (f *runFlags, plan sweep.Plan, code int, ok bool) {
	c := newCLI("run", runUsage)
	fs := c.fs
	axes := sweep.AddFlags(fs)
	f = &runFlags{}
	opts := &f.opts
	fs.StringVar(&opts.LogDir, "logdir", "./runs", "`dir`ectory under which the sweep directory is created")
	fs.StringVar(&opts.DataDir, "data-dir", "data/mnist", "`dir`ectory with the MNIST IDX files (the shorthand of --data idx:DIR)")
	fs.StringVar(&opts.Source, "data", "", "train on a data `source` KIND:PATH[:key=value…]: idx:DIR, npz:FILE, npy:DIR, cifar10:DIR, cifar100:DIR, images:DIR, csv:FILE, tfrecord:GLOB (see README, Your data)")
	fs.StringVar(&opts.DataCache, "data-cache", defaultDataCache(), "`dir`ectory where decoded image folders, IDX, CSV and TFRecord splits are kept for the next run")
	fs.StringVar(&f.config, "config", "", "YAML sweep `file` with several grids (see sweep/presets/lab-report.yaml)")
	fs.IntVar(&f.trials, "trials", 0, "random search: draw `N` trials per grid point of the axes given as distributions (uniform:lo:hi, log_uniform:lo:hi, choice:a:b:c)")
	fs.StringVar(&f.searchMethod, "search", sweep.SearchRandom, "how trials draw the distributions: random (each on its own) or tpe (Tree-structured Parzen Estimator: each trial proposed from the trials that ended)")
	fs.Int64Var(&f.searchSeed, "search-seed", 0, "seed of the random search's draws, so the same command draws the same trials")
	fs.StringVar(&opts.Name, "name", "", "train into LOGDIR/`NAME`, a sweep directory several processes share (same plan; each run trained once)")
	fs.StringVar(&f.shard, "shard", "", "train only the runs whose index ≡ I (mod N): `I/N`, or auto from JOB_COMPLETION_INDEX (with --shards) or SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT")
	fs.IntVar(&f.shards, "shards", 0, "with --shard auto under a Kubernetes Indexed Job: the number of shards (the Job's completions)")
	fs.BoolVar(&opts.Resume, "resume", false, "continue the interrupted runs of a sweep from their last checkpoints: tfsweep run --resume DIR, or with --name")
	fs.IntVar(&opts.KeepCheckpoints, "keep-checkpoints", 1, "keep a run's last `N` per-epoch checkpoints, besides the best")
	fs.DurationVar(&opts.WorkerGrace, "stop-grace", sweep.DefaultWorkerGrace, "after a stop (Ctrl-C, SIGTERM), how long a worker may take to close its run before it is killed (a `duration`)")
	fs.StringVar(&f.sched.Kind, "scheduler", "", "stop bad trials early: median (Vizier's rule), asha (pause at rungs, promote the top 1/eta) or hyperband (several asha brackets); default none")
	fs.StringVar(&f.sched.Metric, "scheduler-metric", sweep.DefaultSchedulerMetric, "the `tag` the scheduler ranks trials by: "+strings.Join(sweep.SchedulerMetricNames(), ", "))
	fs.StringVar(&f.sched.Mode, "scheduler-mode", "", "min or max: which way the metric is better (default: the metric's own)")
	fs.IntVar(&f.sched.GraceEpochs, "grace-epochs", 0, "median: no trial stops at or before epoch `N` (default 1)")
	fs.IntVar(&f.sched.MinEpochs, "min-epochs", 0, "asha, hyperband: the first rung's epoch `N` (default 1)")
	fs.IntVar(&f.sched.Eta, "eta", 0, "asha, hyperband: the reduction factor `N`; rungs at min-epochs·eta^k (default 3)")
	fs.BoolVar(&opts.RetryFailed, "retry-failed", false, "train runs that failed in an earlier attempt again")
	fs.StringVar(&opts.Device, "device", "auto", "where to train: auto, cpu or gpu (a `device`)")
	fs.Var(parallelFlag{&opts.Parallel}, "parallel", "train `N` runs at once, each in its own worker (CPU threads are split between them); auto: one per CPU (per GPU with GPUs), at most the runs and what fits the memory, 1 with a scheduler or TPE")
	fs.StringVar(&opts.Fuse, "fuse", sweep.FuseAuto, "train runs that share a network shape, batch size, data, epochs and optimizer fused, a group as one graph in one worker: auto (on GPUs only), on or off")
	fs.IntVar(&opts.FuseGroup, "fuse-group", 0, "put at most `N` runs in a fused group (0 = the runs of one shape split evenly over the workers, at most 16 and what fits the memory)")
	fs.IntVar(&opts.Threads, "threads", 0, "`N` TensorFlow intra- and inter-op threads per run (0 = chosen from the batch size and the CPUs split by --parallel)")
	fs.IntVar(&opts.StepsPerCall, "steps-per-call", 0, "train `N` batches per TensorFlow call, Keras' steps_per_execution (0 = chosen: 4 on one thread for runs of 2,000 steps or more, else 1)")
	fs.IntVar(&opts.LogEvery, "log-every", sweep.DefaultLogEvery, "write batch_loss and batch_accuracy every `N` steps (0 = never)")
	fs.IntVar(&opts.PicturesEvery, "pictures-every", sweep.DefaultPicturesEvery, "write each run's confusion matrix, misclassified examples and PR curves of the validation set to <run>/pictures every `N` epochs and after the last (0 = never)")
	fs.IntVar(&opts.MaxRuns, "max-runs", sweep.DefaultMaxRuns, "refuse a sweep of more than `N` runs before expanding it")
	fs.BoolVar(&f.jsonOut, "json", false, "print one JSON summary on stdout (logs stay on stderr)")
	fs.BoolVar(&opts.DryRun, "dry-run", false, "check everything a run checks, print the runs and exit without creating anything")
	pos, code, ok := c.parse(args, stdout, stderr)
	if !ok {
		return nil, sweep.Plan{}, code, false
	}
	plan, err := f.plan(fs, axes, pos)
	if err != nil {
		fmt.Fprintf(stderr, "tfsweep run: %v\n", err)
		return nil, sweep.Plan{}, spec.ExitBadInput, false
	}
	return f, plan, spec.ExitOK, true
}

// plan makes the sweep's plan from the parsed flags and the positional arguments, and the shard.
func (f *runFlags) plan(fs *flag.FlagSet, axes *sweep.Flags, pos []string) (sweep.Plan, error) {
	fromFlags, err := axes.Grid()
	if err != nil {
		return sweep.Plan{}, err
	}
	switch {
	case len(pos) == 1 && f.opts.Resume:
		// tfsweep run --resume DIR: the sweep's own recorded plan, in its own directory.
		dir := filepath.Clean(pos[0])
		if f.config != "" || len(fromFlags.Keys()) > 0 {
			return sweep.Plan{}, errors.New("--resume DIR trains the plan recorded in DIR/sweep.yaml: give no --config and no axis flags")
		}
		if _, _, err := sweep.ReadPlan(dir); err != nil {
			return sweep.Plan{}, fmt.Errorf("--resume: %w", err)
		}
		f.config, f.opts.LogDir, f.opts.Name = filepath.Join(dir, sweep.PlanFile), filepath.Dir(dir), filepath.Base(dir)
	case len(pos) > 0:
		return sweep.Plan{}, fmt.Errorf("unexpected argument %q (flags only, or --resume DIR; see tfsweep run -h)", pos[0])
	}
	var search sweep.Search
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "trials":
			search.Trials = &f.trials
		case "search-seed":
			search.Seed = &f.searchSeed
		case "search":
			search.Method = &f.searchMethod
		case "scheduler", "scheduler-metric", "scheduler-mode", "grace-epochs", "min-epochs", "eta":
			search.Scheduler = &f.sched
		}
	})
	plan, err := sweep.NewPlan(f.config, fromFlags, &search)
	if err != nil {
		return sweep.Plan{}, err
	}
	if f.config == "" && len(fromFlags.Keys()) > 0 && sweep.TrainsPreset(fromFlags) {
		f.presetNotice = presetNotice(fromFlags, plan.Size())
	}
	if f.opts.Shard, err = parseShard(f.shard, f.shards, os.Getenv); err != nil {
		return sweep.Plan{}, err
	}
	if f.opts.Shard.Count > 1 && f.opts.Name == "" {
		return sweep.Plan{}, errors.New("--shard: shards of a sweep share it through --name NAME")
	}
	return plan, nil
}

// presetNotice tells a user who gave axis flags but none of the preset's own axes that the flags
// vary the preset's runs, and how to train one run instead.
func presetNotice(fromFlags sweep.Grid, runs int) string {
	var given, replace []string
	for _, key := range fromFlags.Keys() {
		if a, ok := spec.AxisByKey(key); ok {
			given = append(given, "--"+a.Flag)
		}
	}
	preset := sweep.PresetAxes()
	for _, a := range preset {
		replace = append(replace, "--"+a.Flag)
	}
	example := preset[len(preset)-1]
	return fmt.Sprintf("training the lab-report preset: %s apply to each of its %d runs; to train one run instead, add one of %s (e.g. --%s %s)",
		strings.Join(given, ", "), runs, strings.Join(replace, ", "), example.Flag, example.Text(spec.Defaults()))
}

// isTerminal tells whether w is a terminal, where the console draws progress bars.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

// widthOf is the width of the terminal w is, if it is a file (0 when unknown).
func widthOf(w io.Writer) func() int {
	if f, ok := w.(*os.File); ok {
		return terminalWidth(f)
	}
	return func() int { return 0 }
}

// trainSweep trains the sweep's runs with the console as their observer.
func trainSweep(ctx context.Context, s *sweep.Sweep, opts sweep.Options, con *console) *sweep.Result {
	fewest, most := trainExamples(s.Mine(), s.TrainExamples())
	par, fuse := s.Parallel(), s.Fusion()
	started := con.log.Info().Str("sweep", s.Dir()).Int("runs", len(s.Mine())).Int("parallel", par.Workers).
		Str("parallel_reason", par.Reason).Bool("fuse", fuse.On).Str("fuse_reason", fuse.Reason).Int("train_examples", most)
	if fuse.On {
		started = started.Int("fuse_group", fuse.Group).Int("fused_groups", len(fuse.Groups))
	}
	if fewest != most {
		started = started.Int("train_examples_fewest", fewest)
	}
	started.Msg(fmt.Sprintf("sweep started: %d runs, %s, %s", len(s.Mine()), par, fuse))
	con.begin(s.Mine())
	res := s.Run(ctx, con)
	con.close()
	if res.Status == spec.StatusInterrupted {
		resume := fmt.Sprintf("tfsweep run --resume %s --data-dir %s", s.Dir(), opts.DataDir)
		if opts.Source != "" {
			resume = fmt.Sprintf("tfsweep run --resume %s --data %s", s.Dir(), opts.Source)
		}
		con.log.Warn().Str("sweep", s.Dir()).Str("resume", resume).
			Msg("interrupted: unfinished runs are marked failed; continue them from their checkpoints with: " + resume)
	}
	return res
}

// trainExamples is the fewest and the most images a run trains on of the data's n training images
// (after --limit and --validation-split).
func trainExamples(runs []sweep.Run, n int) (fewest, most int) {
	for i, r := range runs {
		c := r.TrainExamples(n)
		if i == 0 || c < fewest {
			fewest = c
		}
		most = max(most, c)
	}
	return fewest, most
}

// reportSweep writes the report, as every sweep `tfsweep serve` trains gets it, unless other
// processes sharing the sweep still train: the one that sees every run ended writes it. It returns
// the report's table for the console.
func reportSweep(ctx context.Context, res *sweep.Result, opts sweep.Options, con *console) string {
	if pending := unfinished(res.SweepDir); pending > 0 && opts.Name != "" {
		con.log.Info().Int("unfinished", pending).Str("sweep", res.SweepDir).
			Msg("other processes' runs are unfinished: the last to end writes the report (or run tfsweep report)")
		return ""
	}
	written, err := report.Finish(ctx, res)
	if err != nil {
		con.log.Error().Err(err).Msg("could not write the report")
		return ""
	}
	con.log.Info().Str("report", res.Report).Int("figures", len(written.Figures)).Msg("report written")
	return written.Table
}

// logTimings adds up the runs' timings into the sweep's and logs them.
func logTimings(con *console, res *sweep.Result) {
	for _, r := range res.Runs {
		if r.Timings != nil {
			res.Timings.Runs = res.Timings.Runs.Add(*r.Timings)
		}
	}
	t := res.Timings
	con.log.Info().Str("status", string(res.Status)).Float64("wall_seconds", res.WallSeconds).
		Float64("startup_seconds", t.Startup).Float64("first_step_seconds", t.FirstStep).Float64("setup_seconds", t.Runs.Setup).Float64("train_seconds", t.Runs.Train).
		Float64("validation_seconds", t.Runs.Validation).Float64("export_seconds", t.Runs.Export).Float64("report_seconds", t.Report).
		Msg("sweep done")
}

// setUpWorkers sets what `run` and `serve` give every sweep: the worker binary and its environment,
// the GPUs (unless --device cpu; --device gpu is refused without one) and the chart layout.
func setUpWorkers(ctx context.Context, opts *sweep.Options) error {
	var err error
	if opts.Worker, err = findWorker(); err != nil {
		return err
	}
	if err := checkDevice(ctx, opts.Device); err != nil {
		return err
	}
	if opts.Device != "cpu" {
		opts.GPUs = gpuIDs()
	}
	opts.WorkerEnv = workerEnvironment(os.Environ(), tcmallocLibraries)
	opts.Charts = report.ChartLayout
	return nil
}

// checkDevice refuses --device gpu when TensorFlow sees no GPU, before anything is created.
func checkDevice(ctx context.Context, device string) error {
	if device != "gpu" {
		return nil
	}
	devices, err := listDevices(ctx)
	if err != nil {
		return fmt.Errorf("--device gpu: %w", err)
	}
	var seen []string
	for _, d := range devices {
		if d.Type == "GPU" {
			return nil
		}
		seen = append(seen, d.Name)
	}
	return fmt.Errorf("--device gpu: %w seen by TensorFlow (it sees %s)", errNoGPU, strings.Join(seen, ", "))
}

func printJSON(stdout, stderr io.Writer, v any) int {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(stderr, "tfsweep run: write the JSON summary: %v\n", err)
		return spec.ExitRunFailed
	}
	return spec.ExitOK
}

// parseShard reads --shard: "" (every run), "I/N", or "auto" from the scheduler's environment, a
// Kubernetes Indexed Job's JOB_COMPLETION_INDEX (with --shards N) or a Slurm array's
// SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT (counted from SLURM_ARRAY_TASK_MIN).
func parseShard(spec string, shards int, getenv func(string) string) (sweep.Shard, error) {
	num := func(what, s string) (int, error) {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return 0, fmt.Errorf("--shard: %s %q is not an integer", what, s)
		}
		return n, nil
	}
	var sh sweep.Shard
	var err error
	switch {
	case spec == "":
		return sweep.Shard{}, nil
	case spec == "auto" && getenv("JOB_COMPLETION_INDEX") != "":
		if sh.Index, err = num("JOB_COMPLETION_INDEX", getenv("JOB_COMPLETION_INDEX")); err != nil {
			return sh, err
		}
		if shards <= 0 {
			return sh, errors.New("--shard auto: JOB_COMPLETION_INDEX is set; give the Job's completions as --shards N")
		}
		sh.Count = shards
	case spec == "auto" && getenv("SLURM_ARRAY_TASK_ID") != "":
		if sh.Index, err = num("SLURM_ARRAY_TASK_ID", getenv("SLURM_ARRAY_TASK_ID")); err != nil {
			return sh, err
		}
		if first := getenv("SLURM_ARRAY_TASK_MIN"); first != "" {
			m, err := num("SLURM_ARRAY_TASK_MIN", first)
			if err != nil {
				return sh, err
			}
			sh.Index -= m
		}
		if sh.Count, err = num("SLURM_ARRAY_TASK_COUNT", getenv("SLURM_ARRAY_TASK_COUNT")); err != nil {
			return sh, err
		}
		if shards > 0 && shards != sh.Count {
			return sh, fmt.Errorf("--shards %d disagrees with SLURM_ARRAY_TASK_COUNT %d", shards, sh.Count)
		}
	case spec == "auto":
		return sh, errors.New("--shard auto: neither JOB_COMPLETION_INDEX (Kubernetes Indexed Job) nor SLURM_ARRAY_TASK_ID (Slurm array) is set")
	default:
		i, n, ok := strings.Cut(spec, "/")
		if !ok {
			return sh, fmt.Errorf("--shard: %q is neither I/N nor auto", spec)
		}
		if sh.Index, err = num("index", i); err != nil {
			return sh, err
		}
		if sh.Count, err = num("count", n); err != nil {
			return sh, err
		}
	}
	if sh.Count < 1 || sh.Index < 0 || sh.Index >= sh.Count {
		return sh, fmt.Errorf("--shard: index %d is outside [0, %d)", sh.Index, sh.Count)
	}
	return sh, nil
}

// unfinished counts the runs of the sweep's plan that are not yet succeeded or failed.
func unfinished(dir string) int {
	states, err := sweep.Status(dir)
	if err != nil {
		return 0
	}
	n := 0
	for _, st := range states {
		if st.State == spec.StatusRunning || st.State == spec.StatusQueued {
			n++
		}
	}
	return n
}

// defaultDataCache is $TFSWEEP_CACHE/data, or tfsweep/data in the user's cache directory: outside any
// data folder, shared by every sweep of the user.
func defaultDataCache() string {
	if dir := os.Getenv("TFSWEEP_CACHE"); dir != "" {
		return filepath.Join(dir, "data")
	}
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "tfsweep", "data")
	}
	return filepath.Join(os.TempDir(), "tfsweep-data")
}
