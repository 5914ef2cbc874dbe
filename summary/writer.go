package summary

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	eventpb "github.com/wamuir/graft/tensorflow/core/util/event_go_proto"
	"google.golang.org/protobuf/proto"
)

// ErrClosed is returned by every write, Flush and Close's later work once
// the Writer is closed.
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

type options struct {
	flushInterval time.Duration
	maxPending    int
	now           func() time.Time
}

// Option configures a Writer.
type Option func(*options)

// FlushInterval sets how long a written event may stay in memory before a
// background flush writes it to the file (default 2 s). d <= 0 disables the
// timer: events then reach the file only through MaxPending, Flush and Close.
func FlushInterval(d time.Duration) Option { return func(o *options) { o.flushInterval = d } }

// MaxPending sets how many events are buffered before they are written to
// the file (default 100). n <= 1 writes every event as it comes.
func MaxPending(n int) Option { return func(o *options) { o.maxPending = n } }

// eventFile is what a Writer needs from its file. Tests inject files that
// fail like a full disk.
type eventFile interface {
	io.Writer
	Sync() error
	Close() error
}

// fileCounter is the process-wide counter in TF2 event file names; with the
// pid it keeps names unique when several writers start in the same second.
var fileCounter atomic.Int64

// A Writer writes one event file in one run directory. It never appends to
// an existing file: every Writer creates a new file, because a new process
// gluing bytes onto a half-written record would make TensorBoard lose the
// rest of the file.
//
// Events are buffered as whole framed records and written when MaxPending
// events are pending, when about 1 MiB is buffered, when the flush interval
// has passed (a background goroutine, stopped by Close), and on Flush and
// Close. A failed write is sticky: every later call returns the same error,
// and what was written before stays readable.
//
// Steps must increase strictly per tag: a value at a step lower than or
// equal to the tag's previous step is refused with an error, and nothing is
// written. TensorBoard would otherwise hide data (its data server keeps only
// the newest of equal steps and drops every point at or after a step that
// goes back). A tag also keeps the plugin of its first value. The step-0
// metadata summaries (Graph, KerasModel and the hparams ones) can each be
// written once per Writer. Argument errors like these are returned but do
// not make the Writer unusable.
//
// A Writer is safe for concurrent use.
type Writer struct {
	path string
	opts options

	mu       sync.Mutex
	f        eventFile
	buf      []byte // framed records not yet written
	pending  int    // events in buf
	err      error  // sticky write error
	closed   bool
	series   map[string]*series
	graph    bool // Graph written
	stop     chan struct{}
	done     chan struct{}
	close1   sync.Once
	closeErr error
}

// series is what a Writer remembers about a tag.
type series struct {
	plugin     string
	lastStep   int64
	scalarTail []byte // scalars: see scalarSummaryBytes
}

// NewWriter creates dir if needed and a new event file in it, named like
// TensorFlow 2 names them:
//
//	events.out.tfevents.<10-digit unix seconds>.<host>.<pid>.<counter>.v2
//
// The file is created with O_EXCL; if the name exists the next counter is
// tried. The first event (file_version "brain.Event:2") is written at once,
// so TensorBoard lists the run even before any value arrives.
func NewWriter(dir string, opts ...Option) (*Writer, error) {
	o := options{flushInterval: defaultFlushInterval, maxPending: defaultMaxPending, now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("summary: create run directory: %w", err)
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	secs := o.now().Unix()
	pid := os.Getpid()
	for attempt := 0; ; attempt++ {
		name := fmt.Sprintf("events.out.tfevents.%010d.%s.%d.%d.v2", secs, host, pid, fileCounter.Add(1)-1)
		path := filepath.Join(dir, name)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) && attempt < 1000 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("summary: create event file: %w", err)
		}
		w, err := newWriter(f, path, secs, o)
		if err != nil {
			f.Close()
			os.Remove(path) // holds at most a part of the first record
			return nil, err
		}
		return w, nil
	}
}

// newWriter starts a Writer on an already created file: it writes and
// flushes the file_version event and starts the flush timer.
func newWriter(f eventFile, path string, secs int64, o options) (*Writer, error) {
	if o.now == nil {
		o.now = time.Now
	}
	w := &Writer{
		path:   path,
		opts:   o,
		f:      f,
		series: make(map[string]*series),
	}
	// Like TF's EventsWriter: whole seconds, the same as in the file name.
	first := &eventpb.Event{
		WallTime:       float64(secs),
		What:           &eventpb.Event_FileVersion{FileVersion: fileVersion},
		SourceMetadata: &eventpb.SourceMetadata{Writer: "tensorflow.core.util.events_writer"},
	}
	w.mu.Lock()
	err := w.appendEventLocked(first)
	if err == nil {
		err = w.flushLocked()
	}
	w.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if o.flushInterval > 0 {
		w.stop = make(chan struct{})
		w.done = make(chan struct{})
		go w.flushLoop(o.flushInterval)
	}
	return w, nil
}

// Path returns the event file's path.
func (w *Writer) Path() string { return w.path }

func (w *Writer) flushLoop(d time.Duration) {
	defer close(w.done)
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			w.mu.Lock()
			if !w.closed && w.err == nil {
				w.flushLocked() // an error is sticky and returned by the next call
			}
			w.mu.Unlock()
		}
	}
}

// usableLocked returns why nothing can be written, if anything.
func (w *Writer) usableLocked() error {
	if w.closed {
		return ErrClosed
	}
	return w.err
}

var marshalOptions = proto.MarshalOptions{}

// appendEventLocked marshals ev straight into the output buffer as one
// framed record and flushes when the pending limits are reached.
func (w *Writer) appendEventLocked(ev *eventpb.Event) error {
	start := len(w.buf)
	w.buf = append(w.buf, make([]byte, recordHeaderLen)...)
	buf, err := marshalOptions.MarshalAppend(w.buf, ev)
	if err != nil {
		w.buf = w.buf[:start]
		return fmt.Errorf("summary: %s: marshal event: %w", w.path, err)
	}
	w.buf = finishRecord(buf, start)
	return w.recordAppendedLocked()
}

// recordAppendedLocked counts a record added to the buffer and flushes
// when the pending limits are reached.
func (w *Writer) recordAppendedLocked() error {
	w.pending++
	if w.pending >= w.opts.maxPending || len(w.buf) >= maxBufferedBytes {
		return w.flushLocked()
	}
	return nil
}

// flushLocked writes the buffered records with one Write, so that a record
// is only ever cut short by the disk itself.
func (w *Writer) flushLocked() error {
	if w.err != nil {
		return w.err
	}
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.f.Write(w.buf)
	w.pending = 0
	if cap(w.buf) > 4*maxBufferedBytes {
		w.buf = nil // don't keep a huge image's buffer forever
	} else {
		w.buf = w.buf[:0]
	}
	if err != nil {
		w.err = fmt.Errorf("summary: write %s: %w", w.path, err)
	}
	return w.err
}

// Flush writes every buffered event to the file. It does not fsync: an
// event written is safe from a crash of this process, and Close fsyncs.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usableLocked(); err != nil {
		return err
	}
	return w.flushLocked()
}

// Close flushes, fsyncs and closes the file and stops the flush timer. It is
// idempotent: later calls return the first call's result. Writes after
// Close return ErrClosed.
func (w *Writer) Close() error {
	w.close1.Do(func() {
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
		if w.stop != nil {
			close(w.stop)
			<-w.done
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		err := w.flushLocked()
		if err == nil {
			if serr := w.f.Sync(); serr != nil {
				err = fmt.Errorf("summary: sync %s: %w", w.path, serr)
			}
		}
		if cerr := w.f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("summary: close %s: %w", w.path, cerr)
		}
		w.closeErr = err
	})
	return w.closeErr
}

// wallTime is TensorFlow's NowMicros()/1e6: float64 seconds with
// microsecond resolution.
func (w *Writer) wallTime() float64 { return float64(w.opts.now().UnixMicro()) / 1e6 }

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
// (once) may be written only once per tag.
func (w *Writer) seriesLocked(tag, plugin string, step int64, once bool) (*series, error) {
	s := w.series[tag]
	if s == nil {
		return nil, nil
	}
	switch {
	case s.plugin != plugin:
		return nil, fmt.Errorf("summary: %s: tag %q holds %s values, not %s", w.path, tag, s.plugin, plugin)
	case once:
		return nil, fmt.Errorf("summary: %s: tag %q was already written; it is written once", w.path, tag)
	case step <= s.lastStep:
		return nil, fmt.Errorf("summary: %s: tag %q: step %d is not after step %d (steps must increase strictly per tag)", w.path, tag, step, s.lastStep)
	}
	return s, nil
}
