package service

import (
	"context"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/sweep"
)

// RunProgress is one run's live state: its last batch report as the worker sent it, and its last
// completed epoch's metrics.
type RunProgress struct {
	Name            string      `json:"name"`
	State           spec.Status `json:"state"` // queued, running, succeeded, failed, pruned or paused
	Epochs          int         `json:"epochs"`
	StepsPerEpoch   int         `json:"steps_per_epoch"`
	EpochsCompleted int         `json:"epochs_completed"`
	// Progress is the epoch in training (the last one once ended), the step in it, the epoch's
	// running mean train loss and the samples per second; at an epoch's end, its last step and its
	// train loss.
	spec.Progress
	// LastEpoch is the last completed epoch's metrics; nil before the first. It is replaced, never
	// changed, so copies of a RunProgress may share it.
	LastEpoch *spec.EpochMetrics `json:"last_epoch,omitempty"`
	Error     string             `json:"error,omitempty"`
	Reason    string             `json:"reason,omitempty"` // why the scheduler pruned or paused it
}

// Event is one message of a sweep's event stream.
type Event struct {
	Type     string       `json:"type"` // state, progress, epoch or run_end
	State    spec.Status  `json:"state,omitempty"`
	ExitCode *int         `json:"exit_code,omitempty"`
	Error    string       `json:"error,omitempty"`
	Run      *RunProgress `json:"run,omitempty"`
}

// live is the running sweep's progress.
type live struct {
	mu    sync.Mutex
	order []string
	runs  map[string]*RunProgress
}

func newLive() *live { return &live{runs: map[string]*RunProgress{}} }

func (l *live) init(runs []sweep.Run) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range runs {
		l.order = append(l.order, r.Name)
		l.runs[r.Name] = &RunProgress{Name: r.Name, State: spec.StatusQueued}
	}
}

func (l *live) update(name string, f func(*RunProgress)) RunProgress {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.runs[name]
	if p == nil {
		p = &RunProgress{Name: name}
		l.runs[name] = p
		l.order = append(l.order, name)
	}
	f(p)
	return *p
}

func (l *live) snapshot() []RunProgress {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]RunProgress, 0, len(l.order))
	for _, name := range l.order {
		out = append(out, *l.runs[name])
	}
	return out
}

func (l *live) samplesPerSecond() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	total := 0.0
	for _, p := range l.runs {
		if p.State == spec.StatusRunning {
			total += p.SamplesPerSecond
		}
	}
	return total
}

// observer feeds a sweep's worker reports into its live progress, the event stream and the metrics.
type observer struct {
	s    *Service
	id   string
	live *live
}

func (o *observer) Planned(runs []sweep.Run) { o.live.init(runs) }

func (o *observer) RunStarted(r sweep.Run, b spec.Begin) {
	o.s.runsRunning.Inc()
	p := o.live.update(r.Name, func(p *RunProgress) {
		p.State, p.Epochs, p.StepsPerEpoch = spec.StatusRunning, b.Epochs, b.StepsPerEpoch
	})
	o.s.hub.publish(o.id, Event{Type: "progress", Run: &p})
}

func (o *observer) RunProgress(r sweep.Run, pr spec.Progress) {
	p := o.live.update(r.Name, func(p *RunProgress) { p.Progress = pr })
	o.s.hub.publish(o.id, Event{Type: "progress", Run: &p})
}

func (o *observer) EpochEnded(r sweep.Run, e spec.EpochMetrics) {
	p := o.live.update(r.Name, func(p *RunProgress) {
		p.Progress = spec.Progress{Epoch: e.Epoch, StepInEpoch: p.StepsPerEpoch, Loss: e.Loss, SamplesPerSecond: e.SamplesPerSecond}
		p.LastEpoch, p.EpochsCompleted = &e, e.Epoch+1
	})
	o.s.hub.publish(o.id, Event{Type: "epoch", Run: &p})
}

func (o *observer) RunEnded(r sweep.Run, res sweep.RunResult) {
	o.s.runsFinished.WithLabelValues(string(res.Status)).Inc()
	var was spec.Status
	p := o.live.update(r.Name, func(p *RunProgress) {
		was = p.State
		p.State, p.Error, p.EpochsCompleted, p.Reason = res.Status, res.Error, res.EpochsCompleted, res.Reason
	})
	if was == spec.StatusRunning {
		o.s.runsRunning.Dec()
	}
	o.s.hub.publish(o.id, Event{Type: "run_end", Run: &p})
}

// hub fans a sweep's events out to its subscribers. A slow subscriber loses progress events, never
// the end of its stream: the channel is closed after the last state.
type hub struct {
	mu   sync.Mutex
	subs map[string]map[chan Event]struct{}
}

func (h *hub) subscribe(id string) (chan Event, func()) {
	ch := make(chan Event, 64)
	h.mu.Lock()
	if h.subs[id] == nil {
		h.subs[id] = map[chan Event]struct{}{}
	}
	h.subs[id][ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := h.subs[id][ch]; ok {
			delete(h.subs[id], ch)
			close(ch)
		}
		if len(h.subs[id]) == 0 {
			delete(h.subs, id)
		}
	}
}

func (h *hub) publish(id string, e Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs[id] {
		select {
		case ch <- e:
		default:
		}
	}
}

// end sends the last event and closes every subscriber's stream; the last event replaces a queued
// one if the channel is full.
func (h *hub) end(id string, e Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs[id] {
		select {
		case ch <- e:
		default:
			select {
			case <-ch:
			default:
			}
			ch <- e
		}
		close(ch)
	}
	delete(h.subs, id)
}

func (s *Service) initMetrics() {
	s.reg = prometheus.NewRegistry()
	s.runsRunning = prometheus.NewGauge(prometheus.GaugeOpts{Name: "tfsweep_runs_running", Help: "Runs training now."})
	s.runsFinished = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tfsweep_runs_finished_total",
		Help: "Runs ended since the server started, by status."}, []string{"status"})
	s.samples = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tfsweep_samples_per_second",
		Help: "Training samples per second of the running runs, summed."}, func() float64 {
		s.mu.Lock()
		lives := make([]*live, 0, len(s.live))
		for _, l := range s.live {
			lives = append(lives, l)
		}
		s.mu.Unlock()
		total := 0.0
		for _, l := range lives {
			total += l.samplesPerSecond()
		}
		return total
	})
	queued := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tfsweep_queue_depth", Help: "Sweeps queued, not yet started."},
		func() float64 {
			n, err := s.store.count(context.Background(), spec.StatusQueued)
			if err != nil {
				return -1
			}
			return float64(n)
		})
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tfsweep_http_requests_total",
		Help: "HTTP requests answered, by route pattern and status."}, []string{"route", "code"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tfsweep_http_request_duration_seconds",
		Help: "Time to answer HTTP requests (event streams: their whole life), by route pattern.", Buckets: prometheus.DefBuckets}, []string{"route"})
	s.reg.MustRegister(s.runsRunning, s.runsFinished, s.samples, queued, s.requests, s.latency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, st := range []string{string(spec.StatusSucceeded), string(spec.StatusFailed)} {
		s.runsFinished.WithLabelValues(st)
	}
}
