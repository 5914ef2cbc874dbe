package summary

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tfsweep/tfsweep/internal/atomicfile"
)

// eventFile is what a Writer needs from its file. Tests inject files that
// fail like a full disk.
type eventFile interface {
	io.Writer
	Sync() error
	Close() error
}

// fileSystem is what NewWriter needs from the operating system to create an
// event file durably. osFS is the real one; tests pass one that records the
// order of writes, syncs and links.
type fileSystem interface {
	MkdirAll(dir string) error
	CreateExcl(path string) (eventFile, error)
	// Link gives the file at oldPath a second name, failing with
	// fs.ErrExist if newPath exists.
	Link(oldPath, newPath string) error
	Remove(path string) error
	SyncDir(dir string) error
	ReadDir(dir string) ([]fs.DirEntry, error)
	// Alive reports whether the process pid may still be running.
	Alive(pid int) bool
}

type osFS struct{}

func (osFS) MkdirAll(dir string) error { return os.MkdirAll(dir, 0o755) }

func (osFS) CreateExcl(path string) (eventFile, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
}

// Link falls back to a rename where the file system has no hard links
// (some FUSE and network file systems): the name might then be taken
// between the check and the rename, but names hold the host, pid and a
// counter, so only a clock set back on the same host could collide.
func (osFS) Link(oldPath, newPath string) error {
	err := os.Link(oldPath, newPath)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	if _, serr := os.Lstat(newPath); serr == nil {
		return fs.ErrExist
	}
	if rerr := os.Rename(oldPath, newPath); rerr != nil {
		return fmt.Errorf("%w (and rename: %v)", err, rerr)
	}
	return nil
}

func (osFS) Remove(path string) error                  { return os.Remove(path) }
func (osFS) ReadDir(dir string) ([]fs.DirEntry, error) { return os.ReadDir(dir) }
func (osFS) Alive(pid int) bool                        { return atomicfile.ProcessAlive(pid) }
func (osFS) SyncDir(dir string) error                  { return atomicfile.SyncDir(dir) }

// fileCounter is the process-wide counter in TF2 event file names; with the
// pid it keeps names unique when several writers start in the same second.
// It is global because TensorFlow's is: one sequence per process, whatever
// the directory.
var fileCounter atomic.Int64

// A Writer writes one event file in one run directory: the file layer over
// an EventWriter, whose methods (Scalar, Histogram, Text, ..., WriteEvent,
// WriteSummary, Flush) it has. It never appends to an existing file: every
// Writer creates a new file, because a new process gluing bytes onto a
// half-written record would make TensorBoard lose the rest of the file.
//
// Besides the EventWriter's own flushes, a background goroutine (stopped by
// Close) writes out buffered events once the flush interval has passed, and
// Close fsyncs the file. Use Writer's Close, not its EventWriter's, which
// would leave the file open.
//
// A Writer is safe for concurrent use.
type Writer struct {
	*EventWriter

	path     string
	f        eventFile
	stop     chan struct{}
	done     chan struct{}
	close1   sync.Once
	closeErr error
}

// NewWriter creates dir if needed and a new event file in it, named like
// TensorFlow 2 names them:
//
//	events.out.tfevents.<10-digit unix seconds>.<host>.<pid>.<6-digit counter>.v2
//
// The counter (one per process) has a fixed width so that names sort as the files were made:
// TensorBoard reads a directory's event files in name order, and files a process makes within one
// second would otherwise put its tenth before its ninth (a resumed run's new file before the copy
// of its earlier attempt's).
//
// The file is born under a hidden temporary name without "tfevents" (which
// TensorBoard ignores), gets its first event (file_version "brain.Event:2")
// and an fsync, and only then is linked to its event file name, failing
// over to the next counter if that name exists, and the directory fsynced.
// So no crash ever leaves an empty event file, and TensorBoard lists the
// run even before any value arrives.
func NewWriter(dir string, opts ...Option) (*Writer, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	return newFileWriter(osFS{}, dir, o)
}

func newFileWriter(fsys fileSystem, dir string, o options) (*Writer, error) {
	if err := fsys.MkdirAll(dir); err != nil {
		return nil, fmt.Errorf("summary: create run directory: %w", err)
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	secs := o.now().Unix()
	pid := os.Getpid()

	removeStaleTemps(fsys, dir)
	var tmp string
	var f eventFile
	for attempt := 0; ; attempt++ {
		tmp = filepath.Join(dir, tempName(pid, rand.Uint32()))
		f, err = fsys.CreateExcl(tmp)
		if errors.Is(err, fs.ErrExist) && attempt < 1000 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("summary: create event file: %w", err)
		}
		break
	}
	ew := newEventWriter(f, tmp, secs, o)
	fail := func(err error) (*Writer, error) {
		f.Close()
		fsys.Remove(tmp) // holds at most the first record, under a name TensorBoard ignores
		return nil, err
	}
	if err := ew.Flush(); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(fmt.Errorf("summary: sync %s: %w", tmp, err))
	}
	var path string
	for attempt := 0; ; attempt++ {
		name := fmt.Sprintf("events.out.tfevents.%010d.%s.%d.%06d.v2", secs, host, pid, fileCounter.Add(1)-1)
		path = filepath.Join(dir, name)
		err := fsys.Link(tmp, path)
		if errors.Is(err, fs.ErrExist) && attempt < 1000 {
			continue
		}
		if err != nil {
			return fail(fmt.Errorf("summary: name event file: %w", err))
		}
		break
	}
	if err := fsys.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) { // renamed by Link
		fsys.Remove(path)
		return fail(fmt.Errorf("summary: remove temporary name: %w", err))
	}
	if err := fsys.SyncDir(dir); err != nil {
		fsys.Remove(path)
		return fail(fmt.Errorf("summary: event file %s: %w", path, err))
	}
	ew.name = path // no other goroutine has the writer yet
	return startWriter(ew, f, path, o), nil
}

// newWriter starts a Writer on an already created file: it writes and
// flushes the file_version event and starts the flush timer.
func newWriter(f eventFile, path string, secs int64, o options) (*Writer, error) {
	ew := newEventWriter(f, path, secs, o)
	if err := ew.Flush(); err != nil {
		return nil, err
	}
	return startWriter(ew, f, path, o), nil
}

func startWriter(ew *EventWriter, f eventFile, path string, o options) *Writer {
	w := &Writer{EventWriter: ew, path: path, f: f}
	if o.flushInterval > 0 {
		w.stop = make(chan struct{})
		w.done = make(chan struct{})
		go w.flushLoop(o.flushInterval)
	}
	return w
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
			w.Flush() // an error is sticky and returned by the next call
		}
	}
}

// Close flushes, fsyncs and closes the file and stops the flush timer. It is
// idempotent: later calls return the first call's result. Writes after
// Close return ErrClosed.
func (w *Writer) Close() error {
	w.close1.Do(func() {
		if w.stop != nil {
			close(w.stop)
			<-w.done
		}
		err := w.EventWriter.Close()
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

// tempName is the name an event file is born under: hidden, without
// "tfevents" (so TensorBoard never reads it), and with the writer's pid, so
// that the temporary file of a writer killed during the birth is known as
// stale once that process is gone.
func tempName(pid int, n uint32) string { return fmt.Sprintf(".events-%d-%d.tmp", pid, n) }

// tempPID returns the pid in a name tempName made, and whether it is one.
func tempPID(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, ".events-")
	if !ok {
		return 0, false
	}
	rest, ok = strings.CutSuffix(rest, ".tmp")
	if !ok {
		return 0, false
	}
	pidText, n, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(pidText)
	if _, nerr := strconv.ParseUint(n, 10, 63); err != nil || nerr != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}

// removeStaleTemps removes from dir the temporary files of event file
// births whose process is gone (a kill -9 during NewWriter). It is best
// effort: such files only take space, TensorBoard never reads them, so a
// failure to list or remove them must not stop a new writer.
func removeStaleTemps(fsys fileSystem, dir string) {
	entries, err := fsys.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if pid, ok := tempPID(e.Name()); ok && !e.IsDir() && !fsys.Alive(pid) {
			fsys.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
