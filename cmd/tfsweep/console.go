package trainer

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// console is where a sweep talks to its user: zerolog lines (human-readable on a terminal, JSON
// otherwise) and, on a terminal, one progress bar per running run. Log lines go through the bar
// container so that they print above the bars instead of tearing them.
type console struct {
	log  zerolog.Logger
	bars *mpb.Progress // nil unless on a terminal
	// The bars are redrawn on our own ticker (mpb's manual refresh) so that close can ask for one last
	// redraw: mpb prints log lines only when it redraws, and would drop those written after its last
	// automatic redraw.
	refresh     chan any
	stopTicker  chan struct{}
	tickerDone  chan struct{}
	refreshRate time.Duration
}

func newConsole(w io.Writer, terminal bool) *console {
	if !terminal {
		return &console{log: zerolog.New(w).With().Timestamp().Logger()}
	}
	c := &console{
		refresh:     make(chan any),
		stopTicker:  make(chan struct{}),
		tickerDone:  make(chan struct{}),
		refreshRate: 150 * time.Millisecond,
	}
	c.bars = mpb.New(mpb.WithOutput(w), mpb.WithWidth(32), mpb.WithManualRefresh(c.refresh))
	go c.tick()
	out := zerolog.ConsoleWriter{Out: c.bars, TimeFormat: time.TimeOnly}
	c.log = zerolog.New(out).With().Timestamp().Logger()
	return c
}

func (c *console) tick() {
	defer close(c.tickerDone)
	t := time.NewTicker(c.refreshRate)
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
// writes straight to w.
func (c *console) close(w io.Writer) {
	if c.bars == nil {
		return
	}
	close(c.stopTicker)
	<-c.tickerDone
	c.refresh <- time.Now()
	c.bars.Wait()
	c.bars = nil
	c.log = zerolog.New(zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}).With().Timestamp().Logger()
}

// progress is the per-run callback: a bar (epoch, step, running loss, samples/s) on a terminal and a
// log line per epoch everywhere.
type progress struct {
	log  zerolog.Logger
	bars *mpb.Progress
	name string

	bar       *mpb.Bar
	mu        sync.Mutex // guards the fields below, read by the bar's render goroutine
	epoch     int
	epochs    int
	stepInEp  int
	steps     int
	loss      float64
	perSecond float64
	examples  int // this epoch so far
}

func (c *console) progress(name string) *progress {
	return &progress{log: c.log.With().Str("run", name).Logger(), bars: c.bars, name: name}
}

var _ Callback = (*progress)(nil)

func (p *progress) OnTrainBegin(b TrainBegin) error {
	p.mu.Lock()
	p.epochs, p.steps = b.Epochs, b.StepsPerEpoch
	p.mu.Unlock()
	p.log.Info().Int("epochs", b.Epochs).Int("steps_per_epoch", b.StepsPerEpoch).
		Int("train_examples", b.TrainExamples).Int("batch_size", b.BatchSize).Msg("training")
	if p.bars != nil {
		p.bar = p.bars.AddBar(int64(b.Epochs*b.StepsPerEpoch),
			mpb.PrependDecorators(decor.Name(p.name, decor.WC{C: decor.DindentRight | decor.DextraSpace})),
			mpb.AppendDecorators(decor.Any(p.status)),
		)
	}
	return nil
}

// status is the text beside the bar.
func (p *progress) status(decor.Statistics) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprintf("epoch %d/%d  step %d/%d  loss %.4f  %.0f samples/s",
		p.epoch+1, p.epochs, p.stepInEp, p.steps, p.loss, p.perSecond)
}

func (p *progress) OnBatchEnd(b BatchEnd) error {
	p.mu.Lock()
	if b.StepInEpoch == 1 {
		p.examples = 0
	}
	p.examples += b.Size
	p.epoch, p.stepInEp, p.loss = b.Epoch, b.StepInEpoch, b.Loss
	if s := b.EpochElapsed.Seconds(); s > 0 {
		p.perSecond = float64(p.examples) / s
	}
	p.mu.Unlock()
	if p.bar != nil {
		p.bar.Increment()
	}
	return nil
}

func (p *progress) OnEpochEnd(e EpochEnd) error {
	p.mu.Lock()
	examples := p.examples
	p.mu.Unlock()
	p.log.Info().Int("epoch", e.Epoch).
		Float64("loss", e.Loss).Float64("accuracy", e.Accuracy).
		Float64("val_loss", e.ValLoss).Float64("val_accuracy", e.ValAccuracy).
		Int("samples_per_second", int(float64(examples)/e.Duration.Seconds())).
		Stringer("epoch_time", e.Duration.Round(time.Millisecond)).Msg("epoch done")
	return nil
}

// OnTrainEnd logs the outcome before it completes the bar: once the last bar is done, the container
// may stop printing log lines.
func (p *progress) OnTrainEnd(e TrainEnd) error {
	if e.Err != nil {
		p.log.Error().Err(e.Err).Int("epochs_completed", e.EpochsCompleted).Msg("run failed")
	} else {
		p.log.Info().Stringer("fit_time", e.FitTime.Round(time.Millisecond)).Int64("iterations", e.Iterations).Msg("run succeeded")
	}
	if p.bar != nil {
		if e.Err != nil {
			p.bar.Abort(false)
		} else {
			p.bar.SetTotal(-1, true)
		}
	}
	return nil
}
