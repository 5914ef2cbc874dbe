package worker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/tfsweep/tfsweep/dataset"
	"github.com/tfsweep/tfsweep/model"
	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/summary"
	"github.com/tfsweep/tfsweep/trainer"
)

// trainAlone trains a lone job (a group of one).
func (s *server) trainAlone(ctx context.Context, jobs []spec.Job) error {
	return s.train(ctx, jobs[0], nil)
}

// train runs one job, alone or, with mem, as a member of a fused group, and always reports its end;
// the error is only for a front that cannot be written to any more.
func (s *server) train(ctx context.Context, job spec.Job, mem *member) error {
	end := spec.End{Status: spec.StatusSucceeded, History: spec.History{}}
	rep := &reporter{server: s, run: job.Run, end: &end, mem: mem}
	err := s.fit(ctx, job, rep, mem)
	if err != nil {
		end.Status, end.Error = spec.StatusFailed, err.Error()
		end.Interrupted = ctx.Err() != nil
	}
	if rep.err != nil {
		return rep.err
	}
	return s.send(spec.Message{Kind: spec.MessageEnd, Run: job.Run, End: &end})
}

// prepared is a job read and planned, before anything of its run is made: its variant, data and plan.
type prepared struct {
	v spec.Variant
	d *dataset.Data
	p runPlan
}

// prepare reads the job's variant and objective, loads its data and plans its run.
func (s *server) prepare(job spec.Job) (prepared, error) {
	v, err := job.DecodedVariant()
	if err != nil {
		return prepared{}, fmt.Errorf("the front sent a variant this worker cannot read: %w", err)
	}
	if err := job.Best.Check(); err != nil {
		return prepared{}, fmt.Errorf("the front sent a best-epoch objective this worker cannot read: %w", err)
	}
	d, err := s.load(job)
	if err != nil {
		return prepared{}, err
	}
	p, err := planRun(job, v, dataShape{train: d.Train.Len(), test: d.Test.Len(), features: d.Train.Features(), classes: d.Classes}, s.hasGPU)
	if err != nil {
		return prepared{}, err
	}
	return prepared{v: v, d: d, p: p}, nil
}

// fit trains a job in named steps: its plan (prepare; a group's member comes prepared), the run
// directory (resumePoint), the run's session, model and callbacks (setUp), the fit or, for a run
// killed after its last checkpoint, only its end, and the export of the model.
func (s *server) fit(ctx context.Context, job spec.Job, rep *reporter, mem *member) error {
	arrived := time.Now()
	rep.end.Timings = &spec.RunTimings{}
	var pr prepared
	if mem != nil {
		pr, rep.fused = mem.prepared, mem.g.f.Trials()
	} else {
		var err error
		if pr, err = s.prepare(job); err != nil {
			return err
		}
	}
	v, p := pr.v, pr.p
	rep.end.TrainExamples = p.trainExamples()
	from, err := resumePoint(job)
	if err != nil {
		return err
	}
	r, err := s.setUp(job, v, p, pr.d, from, rep, mem)
	if err != nil {
		return err
	}
	defer r.m.Close()
	if es := r.k.stopper; es != nil {
		defer func() {
			stopped, best := es.StoppedEpoch(), es.BestEpoch()
			rep.end.StoppedEpoch, rep.end.BestEpoch = &stopped, &best
		}()
	}
	if from != nil && from.finished(p) {
		if mem != nil {
			mem.leave() // nothing to train
		}
		err = r.finishResumed(from, p)
		rep.end.Timings.Setup = time.Since(arrived).Seconds()
	} else {
		err = r.fit(ctx, p, from, arrived)
	}
	if err != nil {
		return err
	}
	if rep.end.Status == spec.StatusPaused {
		return nil // exported when a promotion ends it, as every run that ends for good is
	}
	return r.export(job, p)
}

// run is a job's open session, model and callbacks, between setUp and the end of its training.
type run struct {
	m        *model.Model
	norm     dataset.Normalizer // how the data become the network's inputs, in training and in the export
	hp       *trainer.HParams
	tb       *trainer.TensorBoard // nil until opened
	pictures *trainer.Pictures    // nil until opened, or without pictures
	k        callbacks
	ckptDir  string
	rep      *reporter
	job      spec.Job
	verdicts <-chan spec.Verdict
	mem      *member // the run's place in a fused group, or nil for a lone run
}

// end ends the TensorBoard callback (its best epoch's metrics, the outcome text, the writers) and
// the hparams session with the run's outcome, for a run that Fit did not end.
func (r *run) end(e trainer.TrainEnd) error {
	var errs []error
	if r.tb != nil {
		errs = append(errs, r.tb.OnTrainEnd(e))
	}
	if r.pictures != nil {
		errs = append(errs, r.pictures.OnTrainEnd(e))
	}
	return errors.Join(append(errs, r.hp.OnTrainEnd(e))...)
}

// sessionEnd is how a run's hparams session ends. TensorBoard has four statuses, so a run a
// scheduler pruned (stopped for good, judged worse than the others) ends STATUS_FAILURE, and one it
// paused at a rung (which a promotion trains on, in this sweep or a --resume) STATUS_RUNNING; the
// status and reason texts say which and why.
func sessionEnd(end *spec.End, e trainer.TrainEnd) trainer.SessionEnd {
	switch {
	case errors.Is(e.Err, context.Canceled) || errors.Is(e.Err, context.DeadlineExceeded):
		return trainer.SessionEnd{Status: summary.StatusFailure, State: spec.StatusInterrupted}
	case e.Err != nil:
		return trainer.SessionEnd{Status: summary.StatusFailure, State: spec.StatusFailed}
	case end.Status == spec.StatusPruned:
		return trainer.SessionEnd{Status: summary.StatusFailure, State: spec.StatusPruned, Reason: end.Reason}
	case end.Status == spec.StatusPaused:
		return trainer.SessionEnd{Status: summary.StatusRunning, State: spec.StatusPaused, Reason: end.Reason}
	}
	return trainer.SessionEnd{Status: summary.StatusSuccess, State: spec.StatusSucceeded}
}

// setUp opens the hparams session first, so that even a model that fails to build leaves a run
// marked failed in TensorBoard, then builds the model with its data, restores a resumed run's
// checkpoint, and opens the callbacks. On an error everything it opened is closed again and the
// session ends failed. A member of a fused group trains in the group's model, which holds the data:
// its own Model, which keeps its checkpoints, exports and feeds its callbacks, is not bound.
func (s *server) setUp(job spec.Job, v spec.Variant, p runPlan, d *dataset.Data, from *resume, rep *reporter, mem *member) (_ *run, err error) {
	hp, err := trainer.NewHParams(job.Dir, summary.SessionStart{HParams: v.HParams(), GroupName: job.Group},
		trainer.HParamsOptions{End: func(e trainer.TrainEnd) trainer.SessionEnd { return sessionEnd(rep.end, e) }})
	if err != nil {
		return nil, err
	}
	r := &run{hp: hp, ckptDir: filepath.Join(job.Dir, spec.CheckpointsDir), rep: rep, job: job, verdicts: s.verdicts, mem: mem}
	defer func() {
		if err != nil {
			if r.m != nil {
				r.m.Close()
			}
			err = errors.Join(err, r.end(trainer.TrainEnd{Err: err}))
		}
	}()
	if r.m, err = model.New(p.model); err != nil {
		return nil, fmt.Errorf("build the model: %w", err)
	}
	if r.norm, err = s.normalizer(p.train.source, p.train.scale, d); err != nil {
		return nil, err
	}
	var source validated = r.m
	if mem != nil {
		mem.shadow, r.verdicts, source = r.m, mem.verdicts, mem
	} else if err := s.bind(r.m, p.train, p.val, d, r.norm); err != nil {
		return nil, err
	}
	extra, err := r.restore(p, from)
	if err != nil {
		return nil, err
	}
	if r.k, err = kerasCallbacks(p); err != nil {
		return nil, err
	}
	r.tb, err = trainer.NewTensorBoard(job.Dir, trainer.TensorBoardOptions{
		UpdateFreq: job.LogEvery, Model: inspectable{r.m}, ModelName: weightScope(v, r.m), Config: spec.ConfigMarkdown(job.Run, v, extra...),
		Outcome: func(trainer.TrainEnd) string { return outcome(r.k.stopper) }, Best: job.Best,
	})
	if err != nil {
		return nil, err
	}
	if job.PicturesEvery > 0 {
		r.pictures, err = trainer.NewPictures(filepath.Join(job.Dir, spec.PicturesDir), trainer.PicturesOptions{
			Source: newPictureSource(source, p, d, r.norm), Classes: classNames(d), Every: job.PicturesEvery,
		})
		if err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(r.ckptDir, 0o755); err != nil {
		return nil, err
	}
	return r, nil
}

// restore puts a resumed run's last checkpoint into the model and its history into the report,
// and returns the rows the run's config text adds to the variant's.
func (r *run) restore(p runPlan, from *resume) ([][2]string, error) {
	threads := "TensorFlow's default"
	if n := r.m.Config().IntraOpThreads; n > 0 {
		threads = strconv.Itoa(n)
	}
	if t := r.m.Config().Towers; t > 1 {
		threads = fmt.Sprintf("%d towers of one thread", t)
	}
	r.rep.device, r.rep.threads, r.rep.towers = r.m.Device(), r.m.Config().IntraOpThreads, r.m.Config().Towers
	extra := [][2]string{{"train_examples", strconv.Itoa(p.trainExamples())}, {"validation", p.validation}, {"device", r.m.Device()},
		{"threads", threads}, {"tensorflow", model.TFVersion()}}
	if from == nil {
		return extra, nil
	}
	if err := r.m.RestoreCheckpoint(prefix(r.ckptDir, from.Epoch)); err != nil {
		return nil, err
	}
	r.rep.end.History = from.History
	return append(extra, [2]string{"resumed", fmt.Sprintf("from %s after epoch %d", filepath.Base(prefix(r.ckptDir, from.Epoch)), from.Epoch+1)}), nil
}

// finishResumed ends a run killed after its last checkpoint: nothing is left to train, only the
// callbacks' state and the weights to export to put back, and the run's end.
func (r *run) finishResumed(from *resume, p runPlan) (err error) {
	defer func() {
		if err != nil {
			err = errors.Join(err, r.end(trainer.TrainEnd{Err: err}))
		}
	}()
	if err := from.restore(r.m, r.ckptDir, r.k); err != nil {
		return err
	}
	if o := p.earlyStopping; o != nil && o.RestoreBestWeights && from.EarlyStopping != nil && from.EarlyStopping.HasWeights {
		if err := r.m.RestoreCheckpoint(prefix(r.ckptDir, from.EarlyStopping.BestEpoch)); err != nil {
			return err
		}
	}
	end := r.rep.end
	end.EpochsCompleted, end.Iterations, end.FitSeconds = from.Epoch+1, from.Iterations, from.FitSeconds
	// The graphs and, at the end, the best epoch's metrics, which the cut logs no longer hold.
	history := from.History
	if err := r.tb.OnTrainBegin(trainer.TrainBegin{History: &history}); err != nil {
		return err
	}
	return r.end(trainer.TrainEnd{EpochsCompleted: from.Epoch + 1})
}

// fit runs trainer.Fit, which ends the session and closes the writers itself.
func (r *run) fit(ctx context.Context, p runPlan, from *resume, arrived time.Time) error {
	ckpt := &checkpointer{dir: r.ckptDir, m: r.m, keep: p.keepCheckpoints, es: r.k.stopper, rlr: r.k.reduceLR, objective: r.job.Best}
	n := p.trainExamples()
	order := make([]int32, n)
	data := trainer.FitData{
		TrainExamples: n,
		Order: func(epoch int) []int32 {
			for i, j := range dataset.Permutation(n, p.shuffleSeed, epoch) {
				order[i] = int32(j)
			}
			return order
		},
	}
	opts := p.fit
	if from != nil {
		earlier := from.History
		opts.History = &earlier
		opts.InitialEpoch = from.Epoch + 1
		opts.Resume = func() error { return from.restore(r.m, r.ckptDir, r.k) }
		ckpt.previous = from.FitSeconds
		ckpt.epochs = from.kept
		r.rep.previousFit = from.FitSeconds
	}
	// Keras' order for callbacks=[tensorboard, early_stopping, reduce_lr, backup_and_restore]:
	// TensorBoard logs the rate the epoch trained with, before ReduceLROnPlateau lowers it for the
	// next, and the checkpoint holds the callbacks' counters after the epoch.
	callbacks := []trainer.Callback{r.tb, r.hp}
	if r.pictures != nil {
		callbacks = append(callbacks, r.pictures)
	}
	callbacks = append(callbacks, r.k.list...)
	fitStart := time.Now()
	timings := r.rep.end.Timings
	timings.Setup = fitStart.Sub(arrived).Seconds()
	callbacks = append(callbacks, r.rep, ckpt)
	if r.job.Verdicts {
		// Last, so that the epoch's message is out and its checkpoint written before the wait: a
		// paused run resumes from this very epoch.
		callbacks = append(callbacks, &verdicts{ctx: ctx, in: r.verdicts, run: r.job.Run, end: r.rep.end})
	}
	var m trainer.Model = fitModel{r.m}
	if r.mem != nil {
		m, opts.StepsPerCall = r.mem, 1 // a fused step is one step of every member
	}
	history, err := trainer.Fit(ctx, m, data, opts, callbacks...)
	if r.mem != nil {
		r.mem.leave() // before the export: the group trains on without this run
	}
	if history != nil {
		r.rep.end.History = *history
	}
	timings.Train = time.Since(fitStart).Seconds() - r.rep.validation.Seconds()
	timings.Validation = r.rep.validation.Seconds()
	return err
}

// export writes the run's SavedModel: its last epoch's weights, or the best one's after
// restore_best_weights; serving_default takes raw pixels, the run's normalisation inside.
func (r *run) export(job spec.Job, p runPlan) error {
	start := time.Now()
	defer func() { r.rep.end.Timings.Export = time.Since(start).Seconds() }()
	dir := filepath.Join(job.Dir, spec.SavedModelDir)
	if err := r.m.ExportSavedModel(dir, r.norm); err != nil {
		return fmt.Errorf("export the model: %w", err)
	}
	r.rep.end.Model = dir
	return nil
}

// weightScope prefixes the run's weight histograms as Keras' TensorBoard callback prefixes the
// model's: the built-in MLP's with "sequential", the lab report's unnamed keras.Sequential, and a
// model file's with its own name, or nothing for a Functional model (Model.KerasWeightScope).
func weightScope(v spec.Variant, m *model.Model) string {
	if v.Model.File == "" {
		return "sequential"
	}
	return m.KerasWeightScope()
}
