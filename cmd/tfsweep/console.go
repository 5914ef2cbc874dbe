package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/sweep"
)

// console is where a sweep talks to its user, and the sweep's Observer. Off a terminal it writes
// zerolog's JSON lines. On a terminal it draws one progress bar per running run and, above the bars,
// one compact line per finished epoch and per ended run, aligned by run name. Every line goes through
// the bar container, which prints it above the bars. A finished run's bar leaves, so that the bars
// never outgrow the screen (rows scrolled off it cannot be redrawn and stay behind as strays), and
// while bars are drawn every line is cut to the terminal's width rather than wrapped into fragments.
type console struct {
	log    zerolog.Logger
	out    io.Writer
	screen io.Writer     // the lines above the bars, cut to the width; nil off a terminal
	bars   *mpb.Progress // nil unless on a terminal
	// The bars are redrawn on our own ticker (mpb's manual refresh) so that close can ask for one last
	// redraw: mpb prints log lines only when it redraws, and would drop those written after its last
	// automatic redraw.
	refresh    chan any
	stopTicker chan struct{}
	tickerDone chan struct{}

	mu        sync.Mutex
	runs      map[string]*runProgress
	nameWidth int // of the longest run name, to align the lines
	running   int // bars drawn
	// firstBegin is when the first run's worker reported it begun, just before its first step;
	// zero until then.
	firstBegin time.Time
}

// runProgress is what a run's bar shows.
type runProgress struct {
	bar   *mpb.Bar
	begin spec.Begin    // its epochs and steps per epoch
	batch spec.Progress // the last batch the worker reported; at an epoch's end, its last step and train loss
}

// newConsole writes to w; width, on a terminal, is its current width in columns (0 when unknown:
// lines are then not cut).
func newConsole(w io.Writer, terminal bool, width func() int) *console {
	c := &console{out: w, runs: map[string]*runProgress{}}
	if !terminal {
		c.log = newLogger(w, false)
		return c
	}
	c.refresh = make(chan any)
	c.stopTicker = make(chan struct{})
	c.tickerDone = make(chan struct{})
	c.bars = mpb.New(mpb.WithOutput(w), mpb.WithWidth(32), mpb.WithManualRefresh(c.refresh))
	go c.tick(150 * time.Millisecond)
	c.screen = &fitWriter{out: c.bars, width: c.barsWidth(width)}
	c.log = newLogger(c.screen, true)
	return c
}

// newLogger writes human-readable lines on a terminal and JSON lines elsewhere. The sweep's slots
// log from goroutines of their own, so every line is written under one lock: a writer such as a
// bytes.Buffer or a pipe the user wraps need not be safe for concurrent use.
func newLogger(w io.Writer, terminal bool) zerolog.Logger {
	w = zerolog.SyncWriter(w)
	if terminal {
		return zerolog.New(humanWriter(w)).With().Timestamp().Logger()
	}
	return zerolog.New(w).With().Timestamp().Logger()
}

// humanWriter is zerolog's console format with numbers rounded to four significant digits: a person
// reads 0.0518, not 0.05182349681854248 (JSON lines keep full precision).
func humanWriter(w io.Writer) zerolog.ConsoleWriter {
	return zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly, FormatFieldValue: func(v any) string {
		if n, ok := v.(json.Number); ok {
			if f, err := n.Float64(); err == nil && f != float64(int64(f)) {
				return strconv.FormatFloat(f, 'g', 4, 64)
			}
		}
		return fmt.Sprint(v)
	}}
}

func (c *console) tick(every time.Duration) {
	defer close(c.tickerDone)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case now := <-t.C:
			select {
			case c.refresh <- now:
			case <-c.stopTicker:
				return
			}
		case <-c.stopTicker:
			return
		}
	}
}

// close draws the bars and pending log lines a last time and stops the bar container; the logger then
// writes straight to the output.
func (c *console) close() {
	if c.bars == nil {
		return
	}
	close(c.stopTicker)
	<-c.tickerDone
	c.refresh <- time.Now()
	c.bars.Wait()
	c.bars = nil
	c.log = newLogger(c.out, true)
}

var _ sweep.Observer = (*console)(nil)

// begin aligns the lines to the longest name of the runs and, on a terminal, heads them.
func (c *console) begin(runs []sweep.Run) {
	c.mu.Lock()
	for _, r := range runs {
		c.nameWidth = max(c.nameWidth, len(r.Name))
	}
	width := c.nameWidth
	c.mu.Unlock()
	if c.screen != nil {
		fmt.Fprintf(c.screen, "%-*s  %5s  %8s  %7s  %8s  %7s  %s\n", width, "RUN", "EPOCH", "LOSS", "ACC", "VAL_LOSS", "VAL_ACC", "TIME")
	}
}

func (c *console) RunStarted(r sweep.Run, b spec.Begin) {
	p := &runProgress{begin: b}
	c.mu.Lock()
	if c.firstBegin.IsZero() {
		c.firstBegin = time.Now()
	}
	c.runs[r.Name] = p
	c.nameWidth = max(c.nameWidth, len(r.Name))
	c.mu.Unlock()
	if c.bars == nil {
		ev := c.log.Info().Str("run", r.Name).Int("epochs", b.Epochs).Int("steps_per_epoch", b.StepsPerEpoch).
			Int("train_examples", b.TrainExamples).Int("batch_size", r.BatchSize).Str("device", b.Device)
		if b.Fused > 1 {
			ev = ev.Int("fused", b.Fused)
		}
		ev.Msg("training")
		return
	}
	// The bar is the terminal's news of a run starting; a finished bar leaves its place to the
	// runs still training, so that there are never more bars than runs training at once (a bar per
	// member of a fused group). Its total is one
	// more than the steps: the bar stays until RunEnded completes it, through the model's export.
	c.mu.Lock()
	c.running++
	c.mu.Unlock()
	p.bar = c.bars.AddBar(int64(b.Epochs*b.StepsPerEpoch)+1, mpb.BarRemoveOnComplete(),
		mpb.PrependDecorators(decor.Name(r.Name, decor.WC{C: decor.DindentRight | decor.DextraSpace})),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return c.status(r.Name) })),
	)
}

// firstStep is the seconds from start to the first run's first step; 0 when no run began.
func (c *console) firstStep(start time.Time) float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.firstBegin.IsZero() {
		return 0
	}
	return c.firstBegin.Sub(start).Seconds()
}

// status is the text beside a bar; epochs are 1-based, as Keras prints them.
func (c *console) status(run string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.runs[run]
	return fmt.Sprintf("epoch %d/%d  step %d/%d  loss %.4f  %.0f samples/s",
		p.batch.Epoch+1, p.begin.Epochs, p.batch.StepInEpoch, p.begin.StepsPerEpoch, p.batch.Loss, p.batch.SamplesPerSecond)
}

func (c *console) RunProgress(r sweep.Run, pr spec.Progress) {
	c.mu.Lock()
	p := c.runs[r.Name]
	if p != nil {
		p.batch = pr
	}
	c.mu.Unlock()
	if p != nil && p.bar != nil {
		p.bar.SetCurrent(int64(pr.Epoch*p.begin.StepsPerEpoch + pr.StepInEpoch))
	}
}

func (c *console) EpochEnded(r sweep.Run, e spec.EpochMetrics) {
	c.mu.Lock()
	p := c.runs[r.Name]
	var begin spec.Begin
	if p != nil {
		begin = p.begin
		p.batch.Epoch, p.batch.StepInEpoch, p.batch.Loss = e.Epoch, begin.StepsPerEpoch, e.Loss
	}
	c.mu.Unlock()
	if p != nil && p.bar != nil {
		p.bar.SetCurrent(int64((e.Epoch + 1) * begin.StepsPerEpoch))
	}
	took := seconds(e.Seconds)
	if c.screen != nil {
		c.line(r.Name, "%5s  %8.4f  %7.4f  %8.4f  %7.4f  %s",
			fmt.Sprintf("%d/%d", e.Epoch+1, begin.Epochs), e.Loss, e.Accuracy, e.ValLoss, e.ValAccuracy, took)
		return
	}
	c.log.Info().Str("run", r.Name).Int("epoch", e.Epoch+1).
		Float64("loss", e.Loss).Float64("accuracy", e.Accuracy).
		Float64("val_loss", e.ValLoss).Float64("val_accuracy", e.ValAccuracy).
		Int("samples_per_second", int(e.SamplesPerSecond)).Stringer("epoch_time", took).Msg("epoch done")
}

// RunEnded tells the outcome before it completes the bar: once the last bar is done, the container
// may stop printing lines.
func (c *console) RunEnded(r sweep.Run, res sweep.RunResult) {
	if c.screen != nil {
		c.endLine(r.Name, res)
	} else {
		c.logEnd(r.Name, res)
	}
	c.mu.Lock()
	p := c.runs[r.Name]
	if p != nil && p.bar != nil {
		c.running--
	}
	c.mu.Unlock()
	if p != nil && p.bar != nil {
		if res.Status.Done() {
			p.bar.SetTotal(-1, true)
		} else {
			p.bar.Abort(true)
		}
	}
}

func (c *console) logEnd(run string, res sweep.RunResult) {
	switch res.Status {
	case spec.StatusSucceeded:
		c.log.Info().Str("run", run).Stringer("fit_time", seconds(res.FitSeconds)).Msg("run succeeded")
	case spec.StatusPruned, spec.StatusPaused:
		c.log.Info().Str("run", run).Int("epochs_completed", res.EpochsCompleted).Str("reason", res.Reason).Msg("run " + string(res.Status))
	default:
		c.log.Error().Str("run", run).Str("error", res.Error).Int("epochs_completed", res.EpochsCompleted).Msg("run failed")
	}
}

// endLine is a run's outcome in one line; a failure's whole message comes in the summary after the
// bars.
func (c *console) endLine(run string, res sweep.RunResult) {
	switch res.Status {
	case spec.StatusSucceeded:
		c.line(run, "succeeded in %s", seconds(res.FitSeconds))
	case spec.StatusPruned, spec.StatusPaused:
		c.line(run, "%s after %d epochs: %s", res.Status, res.EpochsCompleted, res.Reason)
	default:
		first, _, _ := strings.Cut(res.Error, "\n")
		c.line(run, "FAILED after %d epochs: %s", res.EpochsCompleted, first)
	}
}

// line writes one line above the bars: the run's name padded to the longest, then the text.
func (c *console) line(run, format string, args ...any) {
	c.mu.Lock()
	width := c.nameWidth
	c.mu.Unlock()
	fmt.Fprintf(c.screen, "%-*s  %s\n", width, run, fmt.Sprintf(format, args...))
}

// barsWidth is the width lines are cut to: the terminal's while bars are drawn, 0 (uncut)
// otherwise, when a wrapped line disturbs nothing and cutting would hide what it says.
func (c *console) barsWidth(terminal func() int) func() int {
	return func() int {
		c.mu.Lock()
		running := c.running
		c.mu.Unlock()
		if running == 0 || terminal == nil {
			return 0
		}
		return terminal()
	}
}

func seconds(s float64) time.Duration {
	return time.Duration(s * float64(time.Second)).Round(time.Millisecond)
}
