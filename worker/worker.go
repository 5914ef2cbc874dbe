// Package worker is the TensorFlow side of tfsweep: it takes runs (spec.Job) from the front, builds
// each run's network through model, fits it with trainer's loop and callbacks, and reports progress
// back as spec.Messages. It is the only package of the front's process tree that links TensorFlow;
// cmd/tfsweep-worker is its binary.
package worker

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tfsweep/tfsweep/dataset"
	"github.com/tfsweep/tfsweep/model"
	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/trainer"
)

// progressEvery is how often a run's batch progress is reported: often enough for a live bar,
// seldom enough that the pipe costs nothing against a training step.
const progressEvery = 200 * time.Millisecond

// Serve trains the jobs read from in, one JSON line each, one after another, and writes their
// messages to out. A line of several jobs (spec.Command's Fused) is a group trained at once in one
// graph, each job still a run of its own (trainGroup). It returns nil when in ends, or ctx's error
// once ctx is cancelled (the run in progress then stops at its next batch and is reported failed).
// The data of a data directory are loaded once and shared by every run of the worker, and so are
// the last sets converted for training. log hears what the protocol has no message for: a group
// trained one job after another because it cannot be fused.
func Serve(ctx context.Context, in io.Reader, out, log io.Writer) error {
	verdicts := make(chan spec.Verdict)
	s := &server{out: json.NewEncoder(out), log: log, data: map[string]*dataset.Data{}, standard: map[string]dataset.Normalizer{}, verdicts: verdicts}
	defer s.valSet.close()
	defer s.trainSet.close()
	jobs := make(chan []spec.Job)
	readErr := make(chan error, 1)
	go func() { readErr <- readCommands(ctx, in, jobs, verdicts) }()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-readErr:
			return err
		case group := <-jobs:
			train := s.trainGroup
			if len(group) == 1 {
				train = s.trainAlone
			}
			if err := train(ctx, group); err != nil {
				return err
			}
		}
	}
}

// readCommands passes the front's lines on: jobs, one or a fused group, to the loop that trains
// them, verdicts to the run in training that waits for them (spec.Verdict).
func readCommands(ctx context.Context, in io.Reader, jobs chan<- []spec.Job, verdicts chan<- spec.Verdict) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var c spec.Command
		err := json.Unmarshal(sc.Bytes(), &c)
		kinds := 0
		for _, some := range []bool{c.Job != nil, len(c.Fused) > 0, c.Verdict != nil} {
			if some {
				kinds++
			}
		}
		if err != nil || kinds != 1 {
			return fmt.Errorf("worker: a line that is not one job, one fused group or one verdict: %q", truncate(sc.Text(), 200))
		}
		if c.Verdict != nil {
			select {
			case verdicts <- *c.Verdict:
			case <-ctx.Done():
				return nil
			}
			continue
		}
		group := c.Fused
		if c.Job != nil {
			group = []spec.Job{*c.Job}
		}
		select {
		case jobs <- group:
		case <-ctx.Done():
			return nil
		}
	}
	return sc.Err()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

type server struct {
	verdicts <-chan spec.Verdict // the front's verdicts on the epochs of a Job with Verdicts
	out      *json.Encoder
	outMu    sync.Mutex // the runs of a fused group report from goroutines of their own
	log      io.Writer
	data     map[string]*dataset.Data // by source
	// standard is each source's standardisation, computed from its training split when a run first
	// asks for it.
	standard map[string]dataset.Normalizer
	// The sets the last run was bound to, kept for the next run that trains on the same examples:
	// one training and one validation set, so a sweep over --limit or --scale holds no more.
	trainSet, valSet cachedSet
	gpu              *bool // whether TensorFlow sees a GPU, once asked (hasGPU)
}

// cachedSet is a set of examples converted to float32 in TensorFlow's memory, with what it holds.
type cachedSet struct {
	key      setKey
	examples *model.Examples
}

// setKey names a set: examples [from, to) of a data source's training or test split, scaled.
type setKey struct {
	source   string
	test     bool
	from, to int
	scale    spec.Scaling
}

// source is the data source a job names: its spec, or the IDX files of its data directory.
func source(job spec.Job) string {
	if job.Data != "" {
		return job.Data
	}
	return "idx:" + job.DataDir
}

func (s *server) load(job spec.Job) (*dataset.Data, error) {
	name := source(job)
	if d, ok := s.data[name]; ok {
		return d, nil
	}
	src, err := dataset.ParseSource(name)
	if err != nil {
		return nil, err
	}
	// The front read the data before it started the worker: the splits come from the entries it read.
	d, err := dataset.Open(src, dataset.Options{CacheDir: job.DataCache, Snapshot: job.DataSnapshot})
	if err != nil {
		return nil, err
	}
	s.data[name] = d
	return d, nil
}

// normalizer is how a run on the source turns its values into the network's inputs: divided by the
// scaling's divisor and, for standardize, standardised per channel as a keras.layers.Normalization
// adapted on the source's training split.
func (s *server) normalizer(source string, scale spec.Scaling, d *dataset.Data) (dataset.Normalizer, error) {
	if scale != spec.ScaleStandardize {
		return dataset.Normalizer{Divisor: scale.Divisor()}, nil
	}
	if n, ok := s.standard[source]; ok {
		return n, nil
	}
	n, err := dataset.Standardize(d.Train, scale.Divisor())
	if err != nil {
		return n, err
	}
	s.standard[source] = n
	return n, nil
}

// get returns the set the key names, normalised by norm (the key's scaling's), converting it unless c
// already holds it.
func (c *cachedSet) get(key setKey, d *dataset.Data, norm dataset.Normalizer) (*model.Examples, error) {
	if c.examples != nil && c.key == key {
		return c.examples, nil
	}
	c.close()
	set := d.Train
	if key.test {
		set = d.Test
	}
	e, err := model.NewExamples(key.to-key.from, set.Features(), func(pixels []float32, labels []int32) {
		norm.Into(pixels, labels, set, key.from, key.to)
	})
	if err != nil {
		return nil, err
	}
	c.key, c.examples = key, e
	return e, nil
}

func (c *cachedSet) close() {
	if c.examples != nil {
		c.examples.Close()
		c.examples = nil
	}
}

func (s *server) send(m spec.Message) error {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	if err := s.out.Encode(m); err != nil {
		return fmt.Errorf("worker: report to the front: %w", err)
	}
	return nil
}

// resume is where a run picks up: its last checkpoint's state.
type resume struct {
	checkpointState
	kept []int // epochs with checkpoints, ascending
}

// resumePoint prepares the run directory: a new run makes it (it must not exist); a resumed one
// with a checkpoint has its logs truncated to it; one without (killed in its first epoch) starts
// again, its earlier attempt moved aside.
func resumePoint(job spec.Job) (*resume, error) {
	if !job.Resume {
		if err := os.Mkdir(job.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("run directory: %w", err)
		}
		return nil, nil
	}
	ckptDir := filepath.Join(job.Dir, spec.CheckpointsDir)
	epochs, err := savedCheckpoints(ckptDir)
	if err != nil {
		if err := spec.RetireAttempt(job.Dir); err != nil {
			return nil, fmt.Errorf("retire the earlier attempt: %w", err)
		}
		if err := os.Mkdir(job.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("run directory: %w", err)
		}
		return nil, nil
	}
	// The latest checkpoint whose state reads (a power loss may have emptied the newest).
	var st checkpointState
	for i := len(epochs) - 1; ; i-- {
		if st, err = readState(ckptDir, epochs[i]); err == nil {
			epochs = epochs[:i+1]
			break
		}
		if i == 0 {
			return nil, fmt.Errorf("checkpoint state: %w", err)
		}
	}
	r := &resume{checkpointState: st, kept: epochs}
	if err := truncateLogs(job.Dir, st.Epoch, st.Iterations); err != nil {
		return nil, fmt.Errorf("truncate the logs to the checkpoint: %w", err)
	}
	return r, nil
}

// finished tells whether the checkpoint ends the run: its last epoch, or where early stopping
// stopped it.
func (r *resume) finished(p runPlan) bool {
	return r.Epoch+1 >= p.fit.Epochs || (r.EarlyStopping != nil && r.EarlyStopping.StoppedEpoch > 0)
}

// restore puts back the callbacks' counters after OnTrainBegin, and early stopping's snapshot of
// its best epoch's weights from that epoch's checkpoint.
func (r *resume) restore(m *model.Model, ckptDir string, k callbacks) error {
	if k.reduceLR != nil && r.ReduceLR != nil {
		k.reduceLR.SetState(*r.ReduceLR)
	}
	if k.stopper == nil || r.EarlyStopping == nil {
		return nil
	}
	var best any
	if r.EarlyStopping.HasWeights {
		if err := m.RestoreCheckpoint(prefix(ckptDir, r.EarlyStopping.BestEpoch)); err != nil {
			return fmt.Errorf("early stopping's best weights: %w", err)
		}
		w, err := m.Weights()
		if err != nil {
			return err
		}
		best = w
		if err := m.RestoreCheckpoint(prefix(ckptDir, r.Epoch)); err != nil {
			return err
		}
	}
	k.stopper.SetState(*r.EarlyStopping, best)
	return nil
}

// callbacks are the variant's Keras callbacks beside TensorBoard and HParams.
type callbacks struct {
	list     []trainer.Callback
	stopper  *trainer.EarlyStopping     // nil without early stopping
	reduceLR *trainer.ReduceLROnPlateau // nil without
}

// kerasCallbacks are the plan's EarlyStopping and ReduceLROnPlateau.
func kerasCallbacks(p runPlan) (callbacks, error) {
	var k callbacks
	var err error
	if o := p.earlyStopping; o != nil {
		if k.stopper, err = trainer.NewEarlyStopping(*o); err != nil {
			return k, err
		}
		k.list = append(k.list, k.stopper)
	}
	if o := p.reduceLR; o != nil {
		if k.reduceLR, err = trainer.NewReduceLROnPlateau(*o); err != nil {
			return k, err
		}
		k.list = append(k.list, k.reduceLR)
	}
	return k, nil
}

// outcome is the run's outcome text: where early stopping stopped, 1-based as Keras prints epochs.
func outcome(es *trainer.EarlyStopping) string {
	if es == nil {
		return ""
	}
	if es.StoppedEpoch() == 0 {
		return fmt.Sprintf("Early stopping did not stop the run; best epoch %d.", es.BestEpoch()+1)
	}
	return fmt.Sprintf("Early stopping stopped the run after epoch %d; best epoch %d.", es.StoppedEpoch()+1, es.BestEpoch()+1)
}

// binder is a model that takes its data: a Model, or a fused group's model.Fused.
type binder interface {
	Bind(train, validation *model.Examples) error
}

// bind gives the model its training and validation sets, normalised by norm, converted once per
// worker and reused while the runs train on the same examples.
func (s *server) bind(m binder, trainKey, valKey setKey, d *dataset.Data, norm dataset.Normalizer) error {
	train, err := s.trainSet.get(trainKey, d, norm)
	if err != nil {
		return fmt.Errorf("training set: %w", err)
	}
	val, err := s.valSet.get(valKey, d, norm)
	if err != nil {
		return fmt.Errorf("validation set: %w", err)
	}
	return m.Bind(train, val)
}

// fitModel is the model as trainer.Fit sees it: with weight snapshots for EarlyStopping's
// restore_best_weights (Weights returns fresh copies).
type fitModel struct{ *model.Model }

func (f fitModel) SnapshotWeights() (any, error) { return f.Weights() }
func (f fitModel) RestoreWeights(snapshot any) error {
	weights, ok := snapshot.([]model.Weight)
	if !ok {
		return fmt.Errorf("restore weights: a snapshot of %T", snapshot)
	}
	return f.SetWeights(weights)
}

// hasGPU reports whether TensorFlow sees a GPU, asked once per worker.
func (s *server) hasGPU() bool {
	if s.gpu == nil {
		devices, err := model.ListDevices()
		gpu := false
		for _, d := range devices {
			gpu = gpu || d.Type == "GPU"
		}
		// A failed listing leaves the choice of threads to TensorFlow, as with a GPU; the model's
		// own session reports the error.
		gpu = gpu || err != nil
		s.gpu = &gpu
	}
	return *s.gpu
}

// inspectable adapts *model.Model to the TensorBoard callback's view of weights.
type inspectable struct{ m *model.Model }

func (i inspectable) Weights() ([]trainer.Weight, error) {
	weights, err := i.m.Weights()
	if err != nil {
		return nil, err
	}
	out := make([]trainer.Weight, len(weights))
	for j, w := range weights {
		out[j] = trainer.Weight{Name: w.Name, Values: w.Values}
	}
	return out, nil
}
func (i inspectable) GraphDef() ([]byte, error)  { return i.m.GraphDef() }
func (i inspectable) KerasJSON() ([]byte, error) { return i.m.KerasJSON() }

// reporter is the callback that tells the front: the start, batch progress a few times a second,
// every epoch, and the totals for the end message.
type reporter struct {
	*server
	run     string
	end     *spec.End
	device  string
	threads int
	towers  int
	fused   int     // the members of its fused group, or 0
	mem     *member // its place in the group, whose epoch messages go out in trial order; nil alone
	err     error   // the first failure to write to the front

	lastReport  time.Time
	examples    int     // this epoch's so far
	previousFit float64 // fit seconds of earlier attempts of a resumed run
	validation  time.Duration
}

func (r *reporter) report(m spec.Message) error {
	if r.err == nil {
		r.err = r.send(m)
	}
	return r.err
}

func (r *reporter) OnTrainBegin(b trainer.TrainBegin) error {
	r.lastReport = time.Now()
	return r.report(spec.Message{Kind: spec.MessageBegin, Run: r.run, Begin: &spec.Begin{
		Epochs: b.Epochs, StepsPerEpoch: b.StepsPerEpoch, TrainExamples: b.TrainExamples, Device: r.device, Threads: r.threads,
		Towers: r.towers, Fused: r.fused,
	}})
}

func (r *reporter) OnBatchEnd(b trainer.BatchEnd) error {
	if b.StepInEpoch == 1 {
		r.examples = 0
	}
	r.examples += b.Size
	if time.Since(r.lastReport) < progressEvery {
		return nil
	}
	r.lastReport = time.Now()
	perSecond := 0.0
	if s := b.EpochElapsed.Seconds(); s > 0 {
		perSecond = float64(r.examples) / s
	}
	return r.report(spec.Message{Kind: spec.MessageBatch, Run: r.run, Batch: &spec.Progress{
		Epoch: b.Epoch, StepInEpoch: b.StepInEpoch, Loss: b.Loss, SamplesPerSecond: perSecond,
	}})
}

func (r *reporter) OnEpochEnd(e trainer.EpochEnd) error {
	if r.mem != nil {
		r.mem.awaitTurn()
		defer r.mem.passTurn()
	}
	epoch := e.EpochMetrics
	return r.report(spec.Message{Kind: spec.MessageEpoch, Run: r.run, Epoch: &epoch})
}

func (r *reporter) OnTrainEnd(e trainer.TrainEnd) error {
	r.validation = e.ValidationTime
	r.end.EpochsCompleted = e.EpochsCompleted
	r.end.Iterations = e.Iterations
	r.end.FitSeconds = r.previousFit + e.FitTime.Seconds()
	return nil
}
