package sweep

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/sweep/scheduler"
)

// SchedulerOptions choose the sweep's trial scheduler (--scheduler, scheduler: in a sweep file):
// which runs stop early, which pause at a rung and which are promoted from it. They are part of the
// plan, recorded with it, so that a resumed sweep decides as it did.
type SchedulerOptions struct {
	Kind   string `yaml:"kind"`             // "median", "asha" or "hyperband"; "" = none
	Metric string `yaml:"metric,omitempty"` // one of SchedulerMetricNames (default validation/epoch_loss)
	Mode   string `yaml:"mode,omitempty"`   // "min" or "max"; "" = the metric's own
	// GraceEpochs and MinTrials are the median rule's (scheduler.MedianOptions); MinEpochs and Eta
	// ASHA's and Hyperband's (scheduler.ASHAOptions). Zero takes the default.
	GraceEpochs int `yaml:"grace_epochs,omitempty"`
	MinTrials   int `yaml:"min_trials,omitempty"`
	MinEpochs   int `yaml:"min_epochs,omitempty"`
	Eta         int `yaml:"eta,omitempty"`
}

// Scheduler kinds.
const (
	SchedulerMedian    = "median"
	SchedulerASHA      = "asha"
	SchedulerHyperband = "hyperband"
)

// schedulerMetrics are the metrics a scheduler can decide on, by their TensorBoard tags, each with
// the name Keras' callbacks give it (spec.ResolveMonitor, which knows its better direction).
var schedulerMetrics = map[string]string{
	spec.ValidationDir + "/" + spec.TagEpochLoss:     "val_loss",
	spec.ValidationDir + "/" + spec.TagEpochAccuracy: "val_accuracy",
	spec.TrainDir + "/" + spec.TagEpochLoss:          "loss",
	spec.TrainDir + "/" + spec.TagEpochAccuracy:      "accuracy",
}

// SchedulerMetricNames lists the metrics --scheduler-metric takes.
func SchedulerMetricNames() []string {
	names := make([]string, 0, len(schedulerMetrics))
	for k := range schedulerMetrics {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// DefaultSchedulerMetric is what a scheduler decides on unless told otherwise.
const DefaultSchedulerMetric = spec.ValidationDir + "/" + spec.TagEpochLoss

// schedulerLog is the file, in the sweep directory, where every report and promotion of this
// process's scheduler is appended before the worker hears of it: a resumed sweep replays it and
// makes the same decisions again.
func schedulerLog(dir string) string { return filepath.Join(dir, "scheduler.jsonl") }

// trials is a sweep's scheduler as the runner uses it: safe for the slots' goroutines, with every
// decision logged first and a repeated report (an epoch trained again after a crash) answered as
// the first time.
type trials struct {
	mu        sync.Mutex
	s         scheduler.Scheduler
	objective spec.Objective // the metric the scheduler decides on, and its mode
	log       *sharedLog
	decided   map[string][]scheduler.Decision // by run, per epoch
	// promotedTo is the epoch each promoted run now trains to.
	promotedTo map[string]int
}

// logLine is one line of the scheduler log: a report with its decision, or a promotion.
type logLine struct {
	Run      string                `json:"run,omitempty"`
	Epoch    int                   `json:"epoch,omitempty"` // 1-based
	Value    *float64              `json:"value,omitempty"` // nil for NaN, which JSON cannot carry
	Action   string                `json:"action,omitempty"`
	Reason   string                `json:"reason,omitempty"`
	Promoted []scheduler.Promotion `json:"promoted,omitempty"`
}

// schedulerObjective is the metric and mode the options name, as the worker chooses a run's best
// epoch by them.
func schedulerObjective(o SchedulerOptions) (spec.Objective, error) {
	if o.Metric == "" {
		o.Metric = DefaultSchedulerMetric
	}
	monitor, ok := schedulerMetrics[o.Metric]
	if !ok {
		return spec.Objective{}, fmt.Errorf("--scheduler-metric: %q is not one of %s", o.Metric, strings.Join(SchedulerMetricNames(), ", "))
	}
	_, greater, _ := spec.ResolveMonitor(monitor, "")
	if o.Mode != "" {
		mode, err := scheduler.ParseMode(o.Mode)
		if err != nil {
			return spec.Objective{}, fmt.Errorf("--scheduler-mode: %w", err)
		}
		greater = mode == scheduler.Max
	}
	return spec.Objective{Monitor: monitor, Greater: greater}, nil
}

// newScheduler makes the scheduler the options ask for, for runs of at most maxEpochs epochs, and
// returns the objective it decides by.
func newScheduler(o SchedulerOptions, maxEpochs int) (scheduler.Scheduler, spec.Objective, error) {
	obj, err := schedulerObjective(o)
	if err != nil {
		return nil, obj, err
	}
	mode := scheduler.Min
	if obj.Greater {
		mode = scheduler.Max
	}
	ashaOpts := scheduler.ASHAOptions{Mode: mode, MinEpochs: o.MinEpochs, MaxEpochs: maxEpochs, Eta: o.Eta}
	switch o.Kind {
	case SchedulerMedian:
		return scheduler.NewMedian(scheduler.MedianOptions{Mode: mode, GraceEpochs: o.GraceEpochs, MinTrials: o.MinTrials}), obj, nil
	case SchedulerASHA:
		s, err := scheduler.NewASHA(ashaOpts)
		return s, obj, err
	case SchedulerHyperband:
		s, err := scheduler.NewHyperband(ashaOpts)
		return s, obj, err
	}
	return nil, obj, fmt.Errorf("--scheduler: %q is not one of median, asha, hyperband", o.Kind)
}

// openTrials makes the scheduler and replays the log: what a resumed sweep decided before, and what
// the other processes of a shared sweep have decided so far.
func openTrials(dir string, o SchedulerOptions, maxEpochs int) (*trials, error) {
	s, objective, err := newScheduler(o, maxEpochs)
	if err != nil {
		return nil, err
	}
	t := &trials{s: s, objective: objective, decided: map[string][]scheduler.Decision{}, promotedTo: map[string]int{}}
	if t.log, err = openSharedLog(schedulerLog(dir)); err != nil {
		return nil, err
	}
	if err := t.log.update(func(news [][]byte) ([]any, error) { return nil, t.replay(news) }); err != nil {
		t.log.close()
		return nil, err
	}
	return t, nil
}

// replay feeds logged reports and promotions to the scheduler in their order and checks it decides
// as the log says: the log is of this plan and scheduler, or the sweep is refused.
func (t *trials) replay(news [][]byte) error {
	for i, text := range news {
		var l logLine
		if err := json.Unmarshal(text, &l); err != nil {
			return fmt.Errorf("%s: %w", t.log.where(i), err)
		}
		if err := t.replayLine(l); err != nil {
			return fmt.Errorf("%s: %w (the log is of another scheduler or plan)", t.log.where(i), err)
		}
	}
	return nil
}

func (t *trials) replayLine(l logLine) error {
	if l.Promoted != nil {
		got := t.s.Promotions()
		if !slices.Equal(got, l.Promoted) {
			return fmt.Errorf("promotions %v, logged %v", got, l.Promoted)
		}
		t.note(got)
		return nil
	}
	d := t.report(l.Run, l.Epoch, valueOf(l.Value))
	if d.Action.String() != l.Action {
		return fmt.Errorf("%s epoch %d: decided %s, logged %s", l.Run, l.Epoch, d.Action, l.Action)
	}
	return nil
}

func valueOf(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// report passes an epoch's value to the scheduler once; a repeated epoch gets its first decision.
func (t *trials) report(run string, epoch int, value float64) scheduler.Decision {
	past := t.decided[run]
	if epoch <= len(past) {
		return past[epoch-1]
	}
	d := t.s.Report(run, epoch, value)
	t.decided[run] = append(past, d)
	return d
}

// verdict decides on a run's epoch (0-based, as the protocol counts), after every decision the
// sweep's processes logged before it, and logs the decision before returning it. The last epoch
// always continues: the run ends there anyway, as a success.
func (t *trials) verdict(run string, e spec.EpochMetrics, last bool) (spec.Verdict, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	value := e.Monitored(t.objective.Monitor)
	var d scheduler.Decision
	err := t.log.update(func(news [][]byte) ([]any, error) {
		if err := t.replay(news); err != nil {
			return nil, err
		}
		d = t.report(run, e.Epoch+1, value)
		l := logLine{Run: run, Epoch: e.Epoch + 1, Action: d.Action.String(), Reason: d.Reason}
		if !math.IsNaN(value) {
			l.Value = &value
		}
		return []any{l}, nil
	})
	if err != nil {
		return spec.Verdict{}, fmt.Errorf("scheduler log: %w", err)
	}
	v := spec.Verdict{Run: run, Epoch: e.Epoch, Action: spec.VerdictContinue}
	switch {
	case last:
	case d.Action == scheduler.Stop:
		v.Action, v.Reason = spec.VerdictStop, d.Reason
	case d.Action == scheduler.Pause:
		v.Action, v.Reason = spec.VerdictPause, d.Reason
	}
	return v, nil
}

// promotions returns the paused runs the scheduler promotes now, on every decision logged so far, and
// logs them: this process trains them (a promoted run's claim is taken over once, by rename).
func (t *trials) promotions() ([]scheduler.Promotion, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var p []scheduler.Promotion
	err := t.log.update(func(news [][]byte) ([]any, error) {
		if err := t.replay(news); err != nil {
			return nil, err
		}
		if p = t.s.Promotions(); len(p) == 0 {
			return nil, nil
		}
		t.note(p)
		return []any{logLine{Promoted: p}}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("scheduler log: %w", err)
	}
	return p, nil
}

func (t *trials) note(p []scheduler.Promotion) {
	for _, pr := range p {
		t.promotedTo[pr.Trial] = pr.Epochs
	}
}

// pendingPromotions lists the runs promoted in the log that never reported an epoch past the rung
// they paused at: a sweep killed between a promotion and its training resumes them first.
func (t *trials) pendingPromotions() []string {
	var out []string
	for run, to := range t.promotedTo {
		if len(t.decided[run]) < to && len(t.decided[run]) > 0 && t.decided[run][len(t.decided[run])-1].Action == scheduler.Pause {
			out = append(out, run)
		}
	}
	slices.Sort(out)
	return out
}

func (t *trials) close() error {
	if t == nil {
		return nil
	}
	return t.log.close()
}

// maxEpochs is the most epochs of any run: a scheduler's whole budget per trial.
func maxEpochs(runs []Run) int {
	n := 1
	for _, r := range runs {
		n = max(n, r.Variant.Epochs)
	}
	return n
}

// initialWork is the plan's runs in order, after the promotions a resumed sweep's log holds for
// runs still paused: they go first, as they would have.
func (s *Sweep) initialWork(runs []Run, mine int) []work {
	var items []work
	if s.trials != nil {
		for _, name := range s.trials.pendingPromotions() {
			for i, r := range runs {
				if r.Name == name {
					items = append(items, work{index: i, promoted: true})
				}
			}
		}
	}
	for i := range runs[:mine] {
		items = append(items, work{index: i})
	}
	return items
}

// withOtherShards returns the process's runs followed by the plan's other runs, each with a result
// to fill should this process train a promotion of it.
func (s *Sweep) withOtherShards(mine []Run, results []RunResult) ([]Run, []RunResult) {
	runs := slices.Clone(mine)
	all := slices.Clone(results)
	for _, r := range s.runs {
		if !s.opts.Shard.has(r) {
			runs = append(runs, r)
			all = append(all, s.newRunResult(r))
		}
	}
	return runs, all
}

// trainedHere is the process's own results and those of the other shards' runs it trained.
func trainedHere(results []RunResult, mine int) []RunResult {
	out := results[:mine:mine]
	for _, r := range results[mine:] {
		if r.Status != "" {
			out = append(out, r)
		}
	}
	return out
}

// promoted asks the scheduler, after a run has ended, which paused runs it promotes now.
func (s *Sweep) promoted(runs []Run, res *RunResult) []work {
	if s.trials == nil {
		return nil
	}
	p, err := s.trials.promotions()
	if err != nil {
		res.Error = strings.TrimSpace(res.Error + " " + err.Error())
		return nil
	}
	var items []work
	for _, pr := range p {
		for i, r := range runs {
			if r.Name == pr.Trial {
				items = append(items, work{index: i, promoted: true})
			}
		}
	}
	return items
}

// answer sends the scheduler's verdict on a run's epoch to the worker that waits for it.
func (w *worker) answer(t *trials, r Run, e spec.EpochMetrics) error {
	if t == nil {
		return nil
	}
	v, err := t.verdict(r.Name, e, e.Epoch+1 >= r.Variant.Epochs)
	if err != nil {
		return err
	}
	line, err := json.Marshal(spec.Command{Verdict: &v})
	if err != nil {
		return err
	}
	if _, err := w.stdin.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("the worker did not take the scheduler's verdict: %w", err)
	}
	return nil
}

// checkScheduler refuses a scheduler the options cannot make, before anything is created.
func checkScheduler(plan Plan, opts Options, runs []Run) error {
	if plan.Scheduler.Kind == "" {
		return nil
	}
	_, _, err := newScheduler(plan.Scheduler, maxEpochs(runs))
	return err
}
