package sweep

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"syscall"
)

// sharedLog is a JSON-lines file in a sweep directory that every process of the sweep (--parallel
// slots, shards on other machines of one --name) reads and appends to under an exclusive lock, so
// that all of them see one order of events. A scheduler or a TPE search replays the lines other
// processes appended before it decides, and appends its decision before anyone acts on it: each
// decision is made once, on everything decided before it, whichever process makes it.
type sharedLog struct {
	path   string
	f      *os.File
	offset int64 // what this process has read (and written) of the file
	lines  int   // the number of the last line read, for messages
}

func openSharedLog(path string) (*sharedLog, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &sharedLog{path: path, f: f}, nil
}

// update locks the log, passes fn the lines appended since this process last read it, and appends
// and syncs what fn returns, before it unlocks. A line that fn cannot read is an error naming it.
func (l *sharedLog) update(fn func(news [][]byte) ([]any, error)) error {
	if err := syscall.Flock(int(l.f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", l.path, err)
	}
	defer syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	news, err := l.readNew()
	if err != nil {
		return err
	}
	more, err := fn(news)
	if err != nil {
		return err
	}
	l.lines += len(news) + len(more)
	var buf bytes.Buffer
	for _, v := range more {
		line, err := json.Marshal(v)
		if err != nil {
			return err
		}
		buf.Write(append(line, '\n'))
	}
	if buf.Len() == 0 {
		return nil
	}
	n, err := l.f.Write(buf.Bytes())
	l.offset += int64(n)
	if err != nil {
		return fmt.Errorf("%s: %w", l.path, err)
	}
	return l.f.Sync()
}

// readNew reads the whole lines past the offset. A last line without its newline was cut short by a
// process that died while writing it (it held the lock, so nobody writes now): nobody acted on it, and
// it is cut off so that the next line starts clean.
func (l *sharedLog) readNew() ([][]byte, error) {
	info, err := l.f.Stat()
	if err != nil {
		return nil, err
	}
	data := make([]byte, info.Size()-l.offset)
	if _, err := l.f.ReadAt(data, l.offset); err != nil && err != io.EOF {
		return nil, err
	}
	if i := bytes.LastIndexByte(data, '\n'); i+1 < len(data) {
		if err := l.f.Truncate(l.offset + int64(i+1)); err != nil {
			return nil, err
		}
		data = data[:i+1]
	}
	l.offset += int64(len(data))
	var news [][]byte
	for _, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		if len(line) > 0 {
			news = append(news, line)
		}
	}
	return news, nil
}

// where names the i-th of the new lines in messages.
func (l *sharedLog) where(i int) string { return fmt.Sprintf("%s:%d", l.path, l.lines+i+1) }

func (l *sharedLog) close() error {
	if l == nil {
		return nil
	}
	return l.f.Close()
}
