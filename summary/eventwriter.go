package summary

import (
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"time"
	"unicode/utf8"

	summarypb "github.com/wamuir/graft/tensorflow/core/framework/summary_go_proto"
	eventpb "github.com/wamuir/graft/tensorflow/core/util/event_go_proto"
	"google.golang.org/protobuf/proto"
)

// ErrClosed is returned by every write, Flush and Close's later work once
// the writer is closed.
var ErrClosed = errors.New("summary: writer is closed")

const (
	// defaultFlushInterval is far below TensorFlow's 120 s, which leaves
	// TensorBoard showing nothing for minutes; issue #3 asks for ≤ 5 s.
	defaultFlushInterval = 2 * time.Second
	// defaultMaxPending batches enough records to make writes cheap while
	// keeping what a crash can lose small.
	defaultMaxPending = 100
	// maxBufferedBytes flushes early when large values (images, graphs,
	// histograms) pile up, so memory stays bounded whatever MaxPending is.
	maxBufferedBytes = 1 << 20
	// fileVersion makes TensorBoard use SessionLog.START-based purging
	// instead of the legacy out-of-order-step purging.
	fileVersion = "brain.Event:2"
)

// StepPolicy says which steps a writer accepts for a tag.
type StepPolicy int

const (
	// StrictSteps, the default, refuses a value whose step is not greater
	// than the tag's previous step. TensorBoard would otherwise hide data:
	// its data server keeps only the newest of equal steps and drops every
	// point at or after a step that goes back.
	StrictSteps StepPolicy = iota
	// TensorBoardSteps writes every step as given, as TensorFlow's and
	// tensorboardX's writers do, and leaves TensorBoard's own rules to decide
	// what is shown. Use it to write repeated steps on purpose or to replay
	// foreign logs.
	TensorBoardSteps
)

type options struct {
	flushInterval time.Duration
	maxPending    int
	now           func() time.Time
	steps         StepPolicy
	buckets       int
}

func defaultOptions() options {
	return options{flushInterval: defaultFlushInterval, maxPending: defaultMaxPending, now: time.Now, buckets: HistogramBuckets}
}

// Option configures a Writer or an EventWriter.
type Option func(*options)

// FlushInterval sets how long a written event may stay in memory before a
// background flush writes it to the file (default 2 s). d <= 0 disables the
// timer: events then reach the file only through MaxPending, Flush and Close.
// Only Writer has a timer; an EventWriter ignores this option.
func FlushInterval(d time.Duration) Option { return func(o *options) { o.flushInterval = d } }

// MaxPending sets how many events are buffered before they are written out
// (default 100). n <= 1 writes every event as it comes.
func MaxPending(n int) Option { return func(o *options) { o.maxPending = n } }

// Steps sets the step policy (default StrictSteps).
func Steps(p StepPolicy) Option { return func(o *options) { o.steps = p } }

// HistogramBucketCount sets how many buckets Histogram and HistogramFloat32
// use (default HistogramBuckets, Keras' 30). n <= 0 keeps the default.
func HistogramBucketCount(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.buckets = n
		}
	}
}

// ValueOption adjusts one written value. It is a small struct, not a
// function, so that passing one costs no allocation on the hot path.
type ValueOption struct {
	wallTime time.Time
}

// WallTime gives a value its own wall time instead of now: for replayed or
// imported events. The zero time means now.
func WallTime(t time.Time) ValueOption { return ValueOption{wallTime: t} }

// An EventWriter writes events as TFRecords to an io.Writer, the layer
// under Writer (as tar.Writer is to a tar file): framing, buffering, the
// step and tag rules, and sticky errors. The first record is the
// file_version event TensorBoard expects at the start of every event file.
//
// Records are buffered whole and written with one Write each time
// MaxPending events are pending, about 1 MiB is buffered, or Flush or Close
// is called, so a record is only ever cut short by the io.Writer itself. A
// failed Write is sticky: every later call returns the same error, and what
// was written before stays readable.
//
// Under the default StrictSteps policy a value at a step lower than or
// equal to its tag's previous step is refused, and nothing is written. A
// tag also keeps the plugin of its first value. The step-0 metadata
// summaries (Graph, KerasModel, CustomScalars and the hparams ones) can
// each be written once. Argument errors like these are returned but do not
// make the writer unusable.
//
// An EventWriter is safe for concurrent use. Close flushes it but does not
// close the io.Writer.
type EventWriter struct {
	name string // for errors: the file's path under Writer, "" otherwise
	opts options

	mu       sync.Mutex
	w        io.Writer
	buf      []byte // framed records not yet written
	pending  int    // events in buf
	err      error  // sticky write error
	closed   bool
	closeErr error
	series   map[string]*series
	graph    bool // Graph written
}

// series is what a writer remembers about a tag.
type series struct {
	plugin     string
	lastStep   int64
	scalarTail []byte // scalars: see scalarSummaryBytes
}

// NewEventWriter returns an EventWriter that writes to w. The file_version
// event is buffered at once, with the wall time of now in whole seconds as
// TensorFlow writes it; it reaches w with the first flush.
func NewEventWriter(w io.Writer, opts ...Option) *EventWriter {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	return newEventWriter(w, "", o.now().Unix(), o)
}

// newEventWriter is NewEventWriter with the file_version event's whole
// seconds given (the file writer uses the same seconds in the file name)
// and a name for errors.
func newEventWriter(w io.Writer, name string, secs int64, o options) *EventWriter {
	if o.now == nil {
		o.now = time.Now
	}
	if o.buckets <= 0 {
		o.buckets = HistogramBuckets
	}
	ew := &EventWriter{name: name, opts: o, w: w, series: make(map[string]*series)}
	first := &eventpb.Event{
		WallTime:       float64(secs),
		What:           &eventpb.Event_FileVersion{FileVersion: fileVersion},
		SourceMetadata: &eventpb.SourceMetadata{Writer: "tensorflow.core.util.events_writer"},
	}
	// Buffered only: a failing io.Writer shows on the first flush. An
	// event of fixed, valid fields cannot fail to marshal.
	if err := ew.bufferEventLocked(first); err != nil {
		panic(err)
	}
	ew.pending++
	return ew
}

// errorf formats an error prefixed with "summary:" and the writer's name.
func (w *EventWriter) errorf(format string, args ...any) error {
	if w.name != "" {
		return fmt.Errorf("summary: %s: "+format, append([]any{w.name}, args...)...)
	}
	return fmt.Errorf("summary: "+format, args...)
}

// usableLocked returns why nothing can be written, if anything.
func (w *EventWriter) usableLocked() error {
	if w.closed {
		return ErrClosed
	}
	return w.err
}

var marshalOptions = proto.MarshalOptions{}

// appendEventLocked marshals ev straight into the output buffer as one
// framed record and flushes when the pending limits are reached.
func (w *EventWriter) appendEventLocked(ev *eventpb.Event) error {
	if err := w.bufferEventLocked(ev); err != nil {
		return err
	}
	return w.recordAppendedLocked()
}

// bufferEventLocked marshals ev into the output buffer as one framed
// record, without copying it.
func (w *EventWriter) bufferEventLocked(ev *eventpb.Event) error {
	start := len(w.buf)
	w.buf = append(w.buf, make([]byte, recordHeaderLen)...)
	buf, err := marshalOptions.MarshalAppend(w.buf, ev)
	if err != nil {
		w.buf = w.buf[:start]
		return w.errorf("marshal event: %w", err)
	}
	w.buf = finishRecord(buf, start)
	return nil
}

// recordAppendedLocked counts a record added to the buffer and flushes
// when the pending limits are reached.
func (w *EventWriter) recordAppendedLocked() error {
	w.pending++
	if w.pending >= w.opts.maxPending || len(w.buf) >= maxBufferedBytes {
		return w.flushLocked()
	}
	return nil
}

// flushLocked writes the buffered records with one Write, so that a record
// is only ever cut short by the io.Writer itself.
func (w *EventWriter) flushLocked() error {
	if w.err != nil {
		return w.err
	}
	if len(w.buf) == 0 {
		return nil
	}
	n, err := w.w.Write(w.buf)
	if err == nil && n < len(w.buf) {
		err = io.ErrShortWrite
	}
	w.pending = 0
	if cap(w.buf) > 4*maxBufferedBytes {
		w.buf = nil // don't keep a huge image's buffer forever
	} else {
		w.buf = w.buf[:0]
	}
	if err != nil {
		if w.name != "" {
			w.err = fmt.Errorf("summary: write %s: %w", w.name, err)
		} else {
			w.err = fmt.Errorf("summary: write: %w", err)
		}
	}
	return w.err
}

// Flush writes every buffered event to the io.Writer. It does not fsync:
// an event written is safe from a crash of this process; Writer.Close
// fsyncs.
func (w *EventWriter) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usableLocked(); err != nil {
		return err
	}
	return w.flushLocked()
}

// Close flushes the buffered events; it does not close the io.Writer. It
// is idempotent: later calls return the first call's result. Writes after
// Close return ErrClosed.
func (w *EventWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.closed = true
		w.closeErr = w.flushLocked()
	}
	return w.closeErr
}

// valueTime is a value's time: the last WallTime in opts, or now.
func (w *EventWriter) valueTime(opts []ValueOption) time.Time {
	t := time.Time{}
	for _, o := range opts {
		if !o.wallTime.IsZero() {
			t = o.wallTime
		}
	}
	if t.IsZero() {
		t = w.opts.now()
	}
	return t
}

// wallTime is a value's time as TensorFlow's NowMicros()/1e6: float64
// seconds with microsecond resolution.
func (w *EventWriter) wallTime(opts []ValueOption) float64 {
	return float64(w.valueTime(opts).UnixMicro()) / 1e6
}

// checkTag refuses tags TensorBoard cannot take: empty ones, and invalid
// UTF-8, which makes TensorBoard's data server drop the whole file.
func checkTag(tag string) error {
	if tag == "" {
		return errors.New("empty tag")
	}
	if !utf8.ValidString(tag) {
		return fmt.Errorf("tag %q is not valid UTF-8", tag)
	}
	return nil
}

// seriesLocked checks that a value of plugin at step may be written under
// tag and returns the tag's series (nil for a new tag). Metadata summaries
// (once) may be written only once per tag. An empty plugin (a raw value
// without metadata, as TF1 writes after a tag's first value) matches any.
func (w *EventWriter) seriesLocked(tag, plugin string, step int64, once bool) (*series, error) {
	s := w.series[tag]
	if s == nil {
		return nil, nil
	}
	switch {
	case plugin != "" && s.plugin != "" && s.plugin != plugin:
		return nil, w.errorf("tag %q holds %s values, not %s", tag, s.plugin, plugin)
	case once:
		return nil, w.errorf("tag %q was already written; it is written once", tag)
	case step <= s.lastStep && w.opts.steps == StrictSteps:
		return nil, w.errorf("tag %q: step %d is not after step %d (steps must increase strictly per tag; see summary.Steps)", tag, step, s.lastStep)
	}
	return s, nil
}

func (w *EventWriter) remember(s *series, tag, plugin string, step int64) {
	if s == nil {
		w.series[tag] = &series{plugin: plugin, lastStep: step}
		return
	}
	if s.plugin == "" {
		s.plugin = plugin
	}
	s.lastStep = step
}

// checkWallTime refuses a wall time TensorBoard cannot take: NaN makes its
// data server drop the whole file, an infinity drops the event.
func checkWallTime(t float64) error {
	if math.IsNaN(t) || math.IsInf(t, 0) {
		return fmt.Errorf("wall time %v is not finite", t)
	}
	return nil
}

// WriteEvent writes ev as it is, for events this package has no method
// for (a tagged run metadata, a meta graph, a foreign log replayed). Only
// what would make TensorBoard drop the whole file is refused: a non-finite
// wall time, and strings that are not UTF-8. Steps and tags are not
// checked and not remembered; use WriteSummary for summary values.
func (w *EventWriter) WriteEvent(ev *eventpb.Event) error {
	if ev == nil {
		return w.errorf("nil event")
	}
	if err := checkWallTime(ev.GetWallTime()); err != nil {
		return w.errorf("%w", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usableLocked(); err != nil {
		return err
	}
	return w.appendEventLocked(ev)
}

// WriteSummary writes s as one event at step, with the wall time of now or
// of a WallTime option: for values of plugins this package does not know.
// Each value's tag is checked like the typed methods' (the step policy,
// the plugin of the tag's first value), so a summary mixing a refused tag
// with good ones is written not at all. Give every value its plugin
// metadata: TensorBoard takes a tag's plugin from its first value.
func (w *EventWriter) WriteSummary(step int64, s *summarypb.Summary, opts ...ValueOption) error {
	if s == nil || len(s.GetValue()) == 0 {
		return w.errorf("empty summary")
	}
	seen := make(map[string]bool, len(s.GetValue()))
	for _, v := range s.GetValue() {
		if err := checkTag(v.GetTag()); err != nil {
			return w.errorf("%w", err)
		}
		if seen[v.GetTag()] {
			return w.errorf("tag %q appears twice in one summary", v.GetTag())
		}
		seen[v.GetTag()] = true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usableLocked(); err != nil {
		return err
	}
	found := make([]*series, len(s.GetValue()))
	for i, v := range s.GetValue() {
		sr, err := w.seriesLocked(v.GetTag(), v.GetMetadata().GetPluginData().GetPluginName(), step, false)
		if err != nil {
			return err
		}
		found[i] = sr
	}
	ev := &eventpb.Event{WallTime: w.wallTime(opts), Step: step, What: &eventpb.Event_Summary{Summary: s}}
	if err := w.appendEventLocked(ev); err != nil {
		return err
	}
	for i, v := range s.GetValue() {
		w.remember(found[i], v.GetTag(), v.GetMetadata().GetPluginData().GetPluginName(), step)
	}
	return nil
}
