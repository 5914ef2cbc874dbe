package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/tfsweep/tfsweep/dataset"
	"github.com/tfsweep/tfsweep/report"
	"github.com/tfsweep/tfsweep/summary"
	"github.com/tfsweep/tfsweep/sweep"
)

// Job is one queued sweep handed to a Trainer.
type Job struct {
	ID     string // the sweep directory's name in the logdir
	Spec   []byte // the sweep file's YAML or JSON
	File   string // the name the spec's messages use
	Resume bool   // an earlier server was stopped while training it
}

// Progress is told what a sweep's workers report; Planned first, with the runs it trains.
type Progress interface {
	sweep.Observer
	Planned(runs []sweep.Run)
}

// Trainer checks and trains sweeps: the service's queue, cancel and restart logic holds no
// TensorFlow and is tested with a fake one.
type Trainer interface {
	// Check validates a spec as `tfsweep run --config --dry-run` does; its errors are the user's.
	Check(spec []byte, file string) error
	// Train trains the sweep until it ends or ctx is cancelled, with its report. A *sweep.BadInputError
	// means nothing was trained.
	Train(ctx context.Context, job Job, progress Progress) (*sweep.Result, error)
}

// SweepTrainer is the real Trainer: `tfsweep run --name <id>` into the logdir, by the same
// tfsweep-worker processes.
type SweepTrainer struct {
	LogDir string
	// Data are the data sources the server offers, each read once (sweep.ReadSourceShape): a sweep
	// trains on the first unless its data: names another of them. No other data: is opened, as a path
	// from a client names a file of the server's disk.
	Data []sweep.DataShape
	// DataCache, Device, Slots (the runs trained at once), Fuse, FuseGroup, Worker, WorkerEnv, GPUs
	// and Charts are sweep.Options', as `tfsweep run` sets them.
	DataCache string
	Device    string
	Slots     int
	Fuse      string
	FuseGroup int
	Worker    string
	WorkerEnv []string
	GPUs      []string
	Charts    func([]sweep.Run) summary.Layout
}

func (t *SweepTrainer) options(name string, data *sweep.DataShape) sweep.Options {
	return sweep.Options{LogDir: t.LogDir, DataCache: t.DataCache, Data: data, Device: t.Device, Parallel: t.Slots, Fuse: t.Fuse, FuseGroup: t.FuseGroup,
		LogEvery: sweep.DefaultLogEvery, PicturesEvery: sweep.DefaultPicturesEvery, Worker: t.Worker, WorkerEnv: t.WorkerEnv, GPUs: t.GPUs,
		Charts: t.Charts, Name: name, KeepCheckpoints: 1}
}

// Check parses the spec and plans it against the data and the machine, creating nothing.
func (t *SweepTrainer) Check(body []byte, file string) error {
	plan, err := sweep.ParseConfig(bytes.NewReader(body), file)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	if err := refuseModelFiles(plan); err != nil {
		return err
	}
	data, err := t.dataOf(plan)
	if err != nil {
		return err
	}
	opts := t.options("", data)
	opts.DryRun = true
	_, err = sweep.New(plan, opts)
	return err
}

// Train runs the sweep into LogDir/<id> and writes its report. Paths in the result are relative to
// the logdir: the service's answers name no file of the host.
func (t *SweepTrainer) Train(ctx context.Context, job Job, progress Progress) (*sweep.Result, error) {
	plan, err := sweep.ParseConfig(bytes.NewReader(job.Spec), job.File)
	if err == nil {
		err = refuseModelFiles(plan)
	}
	var data *sweep.DataShape
	if err == nil {
		data, err = t.dataOf(plan)
	}
	if err != nil {
		return nil, &sweep.BadInputError{Err: err}
	}
	opts := t.options(job.ID, data)
	opts.Resume = job.Resume
	sw, err := sweep.New(plan, opts)
	if err != nil {
		return nil, err
	}
	progress.Planned(sw.Mine())
	res := sw.Run(ctx, progress)
	if ctx.Err() != nil && !errors.Is(context.Cause(ctx), errCancelled) {
		return res, nil // the server stops: the next one resumes the sweep and reports it
	}
	_, _ = report.Finish(ctx, res) // a failure is in res.ReportError
	relativize(res, t.LogDir)
	return res, nil
}

// relativize rewrites the result's paths, and the logdir wherever a message names it, relative to
// the logdir.
func relativize(res *sweep.Result, logDir string) {
	abs, err := filepath.Abs(logDir)
	if err != nil {
		abs = logDir
	}
	rel := func(p *string) {
		if *p == "" {
			return
		}
		full := *p
		if !filepath.IsAbs(full) {
			full = filepath.Join(abs, full)
		}
		if r, err := filepath.Rel(abs, full); err == nil && !strings.HasPrefix(r, "..") {
			*p = filepath.ToSlash(r)
		}
	}
	strip := strings.NewReplacer(abs+string(filepath.Separator), "", logDir+string(filepath.Separator), "")
	rel(&res.SweepDir)
	rel(&res.Report)
	res.ReportError = strip.Replace(res.ReportError)
	if res.Best != nil {
		rel(&res.Best.Model)
	}
	for i := range res.Runs {
		rel(&res.Runs[i].Dir)
		rel(&res.Runs[i].Model)
		res.Runs[i].Error = strip.Replace(res.Runs[i].Error)
	}
}

// isBadInput tells a spec the trainer refused from a failure of the server.
func isBadInput(err error) bool {
	var bad *sweep.BadInputError
	return errors.As(err, &bad)
}

// dataOf is the offered data a sweep trains on: the one its data: names, or the server's first.
func (t *SweepTrainer) dataOf(plan sweep.Plan) (*sweep.DataShape, error) {
	if len(t.Data) == 0 {
		return nil, errors.New("the server offers no data")
	}
	if plan.Data == "" {
		return &t.Data[0], nil
	}
	want, err := dataset.ParseSource(plan.Data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", plan.DataOrigin(), err)
	}
	for i, d := range t.Data {
		if src, err := dataset.ParseSource(d.Source); err == nil && src.String() == want.String() {
			return &t.Data[i], nil
		}
	}
	// The answer lists no offered source: it would name files of the server's disk.
	return nil, fmt.Errorf("%s: %.200q is not a data source this server offers: a sweep submitted to the service trains on one of tfsweep serve's --data sources",
		plan.DataOrigin(), plan.Data)
}

// refuseModelFiles refuses a sweep that names model files: a path in a submitted sweep file names a
// file of the server's disk, which no client may make it open (inline models are for a later
// version; tfsweep run reads model files).
func refuseModelFiles(plan sweep.Plan) error {
	if files := plan.ModelFiles(); len(files) > 0 {
		return fmt.Errorf("--config: model %.80q: a sweep submitted to the service trains the built-in mlp only; model files are read by tfsweep run", files[0])
	}
	return nil
}
