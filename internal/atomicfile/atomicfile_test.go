package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// recordingFS is the real file system with every operation recorded, one
// of them optionally failing, and chosen pids dead.
type recordingFS struct {
	osFS
	ops    []string
	failOn string
	dead   map[int]bool
}

var errInjected = errors.New("injected failure")

func (r *recordingFS) record(op, path string) error {
	r.ops = append(r.ops, op+" "+filepath.Base(path))
	if op == r.failOn {
		return errInjected
	}
	return nil
}

func (r *recordingFS) CreateTemp(dir, pattern string) (file, error) {
	if err := r.record("create", pattern); err != nil {
		return nil, err
	}
	f, err := r.osFS.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	return &recordingFile{file: f, fs: r}, nil
}

func (r *recordingFS) Rename(oldPath, newPath string) error {
	if err := r.record("rename", newPath); err != nil {
		return err
	}
	return r.osFS.Rename(oldPath, newPath)
}

func (r *recordingFS) Remove(path string) error {
	r.record("remove", path)
	return r.osFS.Remove(path)
}

func (r *recordingFS) SyncDir(dir string) error {
	if err := r.record("syncdir", dir); err != nil {
		return err
	}
	return r.osFS.SyncDir(dir)
}

func (r *recordingFS) Alive(pid int) bool { return !r.dead[pid] }

type recordingFile struct {
	file
	fs *recordingFS
}

func (f *recordingFile) Write(p []byte) (int, error) {
	if err := f.fs.record("write", "tmp"); err != nil {
		return 0, err
	}
	return f.file.Write(p)
}

func (f *recordingFile) Chmod(mode fs.FileMode) error {
	if err := f.fs.record("chmod", "tmp"); err != nil {
		return err
	}
	return f.file.Chmod(mode)
}

func (f *recordingFile) Sync() error {
	if err := f.fs.record("sync", "tmp"); err != nil {
		return err
	}
	return f.file.Sync()
}

func (f *recordingFile) Close() error {
	if err := f.fs.record("close", "tmp"); err != nil {
		f.file.Close()
		return err
	}
	return f.file.Close()
}

// The file is fsynced before the rename and the directory after it.
func TestWriteSyncsFileThenRenamesThenSyncsDir(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "report.html")
	rfs := &recordingFS{}
	if err := write(rfs, path, []byte("<p>new</p>"), 0o640); err != nil {
		t.Fatal(err)
	}
	pattern := ".report.html.tmp-" + strconv.Itoa(os.Getpid()) + "-*"
	want := []string{"create " + pattern, "write tmp", "chmod tmp", "sync tmp", "close tmp", "rename report.html", "syncdir " + filepath.Base(dir)}
	if !reflect.DeepEqual(rfs.ops, want) {
		t.Errorf("ops\n %q\nwant\n %q", rfs.ops, want)
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != "<p>new</p>" {
		t.Errorf("file holds %q, %v", got, err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, %v; want 0640", info.Mode(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %v, want only report.html", entries)
	}
}

// Whichever step fails, the old file is intact and no temporary file is
// left. (A failed directory sync comes after the rename: the new contents
// are in place but the error says they may not survive a power loss.)
func TestWriteFailureKeepsOldFile(t *testing.T) {
	for _, tt := range []struct {
		op   string
		want string
	}{
		{"create", "old"}, {"write", "old"}, {"chmod", "old"}, {"sync", "old"}, {"close", "old"},
		{"rename", "old"}, {"syncdir", "new"},
	} {
		t.Run(tt.op, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "figure.png")
			if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
			err := write(&recordingFS{failOn: tt.op}, path, []byte("new"), 0o644)
			if !errors.Is(err, errInjected) || !strings.HasPrefix(err.Error(), "atomicfile: ") {
				t.Fatalf("error %v, want the injected one wrapped", err)
			}
			if got, _ := os.ReadFile(path); string(got) != tt.want {
				t.Errorf("file holds %q, want %q", got, tt.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("directory holds %v", entries)
			}
		})
	}
}

func TestWriteReal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.txt")
	for _, data := range []string{"first", "second, longer", ""} {
		if err := Write(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(path); string(got) != data {
			t.Errorf("file holds %q, want %q", got, data)
		}
	}
	if err := Write(filepath.Join(t.TempDir(), "missing", "a.txt"), nil, 0o644); err == nil {
		t.Error("write into a missing directory succeeded")
	}
	if err := Write(t.TempDir()+"/", nil, 0o644); err == nil {
		t.Error("write to a directory path succeeded")
	}
}

func TestTempPID(t *testing.T) {
	for _, tt := range []struct {
		name string
		pid  int
		ok   bool
	}{
		{".figure-11.png.tmp-3155-81723", 3155, true},
		{".a.tmp-b.tmp-42-1", 42, true},
		{"figure.png.tmp-3155-1", 0, false}, // not hidden
		{".figure.png.3155353418", 0, false},
		{".figure.png.tmp-x-1", 0, false},
		{".figure.png.tmp-12-", 0, false},
		{".tmp-12-1", 0, false}, // no file name
		{".figure.png.tmp-0-1", 0, false},
	} {
		pid, ok := tempPID(tt.name)
		if pid != tt.pid || ok != tt.ok {
			t.Errorf("tempPID(%q) = %d, %v; want %d, %v", tt.name, pid, ok, tt.pid, tt.ok)
		}
	}
}

// A killed writer's temporary file goes; a live writer's, this process's
// and files that only look similar stay.
func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	files := map[string]bool{ // name: removed
		".figure-11.png.tmp-1001-81723":                        true,
		".report.html.tmp-1002-1":                              false, // its process lives
		".report.html.tmp-" + strconv.Itoa(os.Getpid()) + "-5": false,
		".figure-11.png.3155353418":                            false, // someone else's pattern
		"report.html":                                          false,
		".hidden":                                              false,
	}
	for name := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Mkdir(filepath.Join(dir, ".dir.tmp-1001-1"), 0o755)
	files[".dir.tmp-1001-1"] = false // directories are never Write's
	rfs := &recordingFS{dead: map[int]bool{1001: true}}
	if err := removeStale(rfs, dir); err != nil {
		t.Fatal(err)
	}
	for name, removed := range files {
		_, err := os.Stat(filepath.Join(dir, name))
		if gone := errors.Is(err, fs.ErrNotExist); gone != removed {
			t.Errorf("%s: removed %v, want %v", name, gone, removed)
		}
	}
	if err := RemoveStale(filepath.Join(dir, "missing")); err == nil {
		t.Error("RemoveStale of a missing directory succeeded")
	}
}
