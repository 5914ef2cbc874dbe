package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/sweep"
)

// console is where a sweep talks to its user: zerolog lines (human-readable on a terminal, JSON
// otherwise) and, on a terminal, one progress bar per running run. Log lines go through the bar
// container so that they print above the bars instead of tearing them. It is the sweep's Observer.
type console struct {
	log  zerolog.Logger
	out  io.Writer
	bars *mpb.Progress // nil unless on a terminal
	// The bars are redrawn on our own ticker (mpb's manual refresh) so that close can ask for one last
	// redraw: mpb prints log lines only when it redraws, and would drop those written after its last
	// automatic redraw.
	refresh    chan any
	stopTicker chan struct{}
	tickerDone chan struct{}

	mu   sync.Mutex
	runs map[string]*runProgress
}

// runProgress is what a run's bar shows.
type runProgress struct {
	bar                 *mpb.Bar
	epochs, steps       int
	epoch, stepInEpoch  int
	loss, samplesPerSec float64
}

func newConsole(w io.Writer, terminal bool) *console {
	c := &console{out: w, runs: map[string]*runProgress{}}
	if !terminal {
		c.log = zerolog.New(w).With().Timestamp().Logger()
		return c
	}
	c.refresh = make(chan any)
	c.stopTicker = make(chan struct{})
	c.tickerDone = make(chan struct{})
	c.bars = mpb.New(mpb.WithOutput(w), mpb.WithWidth(32), mpb.WithManualRefresh(c.refresh))
	go c.tick(150 * time.Millisecond)
	c.log = zerolog.New(humanWriter(c.bars)).With().Timestamp().Logger()
	return c
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
	c.log = zerolog.New(humanWriter(c.out)).With().Timestamp().Logger()
}

var _ sweep.Observer = (*console)(nil)

func (c *console) RunStarted(r sweep.Run, b spec.Begin) {
	c.log.Info().Str("run", r.Name).Int("epochs", b.Epochs).Int("steps_per_epoch", b.StepsPerEpoch).
		Int("train_examples", b.TrainExamples).Int("batch_size", r.BatchSize).Str("device", b.Device).Msg("training")
	p := &runProgress{epochs: b.Epochs, steps: b.StepsPerEpoch}
	if c.bars != nil {
		p.bar = c.bars.AddBar(int64(b.Epochs*b.StepsPerEpoch),
			mpb.PrependDecorators(decor.Name(r.Name, decor.WC{C: decor.DindentRight | decor.DextraSpace})),
			mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return c.status(r.Name) })),
		)
	}
	c.mu.Lock()
	c.runs[r.Name] = p
	c.mu.Unlock()
}

// status is the text beside a bar; epochs are 1-based, as Keras prints them.
func (c *console) status(run string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.runs[run]
	return fmt.Sprintf("epoch %d/%d  step %d/%d  loss %.4f  %.0f samples/s",
		p.epoch+1, p.epochs, p.stepInEpoch, p.steps, p.loss, p.samplesPerSec)
}

func (c *console) RunProgress(r sweep.Run, pr spec.Progress) {
	c.mu.Lock()
	p := c.runs[r.Name]
	if p != nil {
		p.epoch, p.stepInEpoch, p.loss, p.samplesPerSec = pr.Epoch, pr.StepInEpoch, pr.Loss, pr.SamplesPerSecond
	}
	c.mu.Unlock()
	if p != nil && p.bar != nil {
		p.bar.SetCurrent(int64(pr.Epoch*p.steps + pr.StepInEpoch))
	}
}

func (c *console) EpochEnded(r sweep.Run, e spec.EpochMetrics) {
	c.mu.Lock()
	p := c.runs[r.Name]
	if p != nil {
		p.epoch, p.stepInEpoch, p.loss = e.Epoch, p.steps, e.Loss
	}
	c.mu.Unlock()
	if p != nil && p.bar != nil {
		p.bar.SetCurrent(int64((e.Epoch + 1) * p.steps))
	}
	c.log.Info().Str("run", r.Name).Int("epoch", e.Epoch+1).
		Float64("loss", e.Loss).Float64("accuracy", e.Accuracy).
		Float64("val_loss", e.ValLoss).Float64("val_accuracy", e.ValAccuracy).
		Int("samples_per_second", int(e.SamplesPerSecond)).
		Stringer("epoch_time", (time.Duration(e.Seconds * float64(time.Second))).Round(time.Millisecond)).Msg("epoch done")
}

// RunEnded logs the outcome before it completes the bar: once the last bar is done, the container
// may stop printing log lines.
func (c *console) RunEnded(r sweep.Run, res sweep.RunResult) {
	switch res.Status {
	case spec.StatusSucceeded:
		c.log.Info().Str("run", r.Name).Stringer("fit_time", time.Duration(res.FitSeconds*float64(time.Second)).Round(time.Millisecond)).Msg("run succeeded")
	case spec.StatusPruned, spec.StatusPaused:
		c.log.Info().Str("run", r.Name).Int("epochs_completed", res.EpochsCompleted).Str("reason", res.Reason).Msg("run " + string(res.Status))
	default:
		c.log.Error().Str("run", r.Name).Str("error", res.Error).Int("epochs_completed", res.EpochsCompleted).Msg("run failed")
	}
	c.mu.Lock()
	p := c.runs[r.Name]
	c.mu.Unlock()
	if p != nil && p.bar != nil {
		if res.Status.Done() {
			p.bar.SetTotal(-1, true)
		} else {
			p.bar.Abort(false)
		}
	}
}
