package dataset

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// changeTime is a file's ctime in nanoseconds: the last change of its content or its inode, which no
// user can set back.
func changeTime(info fs.FileInfo) int64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return st.Ctim.Nano()
	}
	return 0
}

// dirStatter stats and reads the files of a folder tree through an open descriptor of their directory:
// the kernel resolves one name instead of the whole path, and a stat allocates nothing. One serves one
// goroutine.
type dirStatter struct {
	dir string
	fd  int
}

func newDirStatter() *dirStatter { return &dirStatter{fd: -1} }

// stat fills in f's size and times; anything but a regular file that fstatat finds is statSlowly's to report.
func (s *dirStatter) stat(f *imageFile) error {
	if !s.openDir(f) {
		return statSlowly(f)
	}
	var st unix.Stat_t
	if err := unix.Fstatat(s.fd, f.path[f.nameAt:], &st, 0); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return statSlowly(f)
	}
	f.size, f.mtime, f.ctime = st.Size, st.Mtim.Nano(), st.Ctim.Nano()
	return nil
}

// openDir makes s's descriptor that of f's directory; false when it cannot be opened.
func (s *dirStatter) openDir(f *imageFile) bool {
	if dir := f.path[:f.nameAt]; s.fd < 0 || s.dir != dir {
		s.Close()
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return false
		}
		s.dir, s.fd = dir, fd
	}
	return true
}

// read reads the whole of f, opened through its directory's descriptor without blocking (a FIFO put in
// its place since it was listed would block a plain open) and checked by that descriptor to be a regular
// file: one name resolved and one fstat, where readSlowly stats and opens by the whole path and os.File
// stats again. Anything else is readSlowly's to read or to report.
func (s *dirStatter) read(f *imageFile) ([]byte, error) {
	if !s.openDir(f) {
		return readSlowly(f.path)
	}
	fd, err := unix.Openat(s.fd, f.path[f.nameAt:], unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return readSlowly(f.path)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return readSlowly(f.path)
	}
	if st.Size > maxRecord {
		return nil, fileError(f.path, ErrTooLarge, "%d bytes", st.Size)
	}
	b := make([]byte, st.Size)
	for n := 0; n < len(b); {
		k, err := unix.Read(fd, b[n:])
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return nil, fileError(f.path, ErrTruncated, "%v", err)
		case k == 0:
			return nil, fileError(f.path, ErrTruncated, "%v", io.ErrUnexpectedEOF)
		}
		n += k
	}
	return b, nil
}

func (s *dirStatter) Close() {
	if s.fd >= 0 {
		unix.Close(s.fd)
		s.fd = -1
	}
}

// walkClass lists the images of one class folder and its subfolders in sorted order, as filepath.WalkDir
// would, from the directories' raw entries: no allocation per entry but its path (os.ReadDir's entries,
// their sorting through an interface and filepath.Join took half the time of a cached folder's listing
// beside its stats).
func walkClass(dir string, class int32) ([]imageFile, error) {
	var files []imageFile
	err := walkDir(dir, func(path string, nameAt int) {
		files = append(files, imageFile{path: path, nameAt: nameAt, class: class})
	})
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	return files, nil
}

// walkDir calls image for every image file under dir, in sorted order, descending into subfolders.
func walkDir(dir string, image func(path string, nameAt int)) error {
	entries, err := readDirEntries(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		path := dir + string(os.PathSeparator) + e.name
		switch {
		case e.dir:
			if err := walkDir(path, image); err != nil {
				return err
			}
		case isImageName(e.name):
			image(path, len(dir)+1)
		}
	}
	return nil
}

// dirEntry is a directory entry: its name and whether it is a directory (not following a symbolic link).
type dirEntry struct {
	name string
	dir  bool
}

// readDirEntries reads dir's entries (but . and ..) sorted by name, parsing getdents' records: the names
// of one read share one string.
func readDirEntries(dir string) ([]dirEntry, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(fd)
	var entries []dirEntry
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.Getdents(fd, buf)
		if err != nil {
			return nil, &fs.PathError{Op: "readdirent", Path: dir, Err: err}
		}
		if n <= 0 {
			break
		}
		chunk := string(buf[:n])
		for off := 0; off+19 <= n; {
			reclen := int(chunk[off+16]) | int(chunk[off+17])<<8 // linux_dirent64: ino 8, off 8, reclen 2, type 1, name
			if reclen == 0 || off+reclen > n {
				return nil, &fs.PathError{Op: "readdirent", Path: dir, Err: syscall.EIO}
			}
			name := chunk[off+19 : off+reclen]
			name = name[:strings.IndexByte(name, 0)]
			typ := chunk[off+18]
			off += reclen
			if name == "." || name == ".." {
				continue
			}
			isDir := typ == unix.DT_DIR
			if typ == unix.DT_UNKNOWN {
				info, err := os.Lstat(dir + string(os.PathSeparator) + name)
				if err != nil {
					return nil, err
				}
				isDir = info.IsDir()
			}
			entries = append(entries, dirEntry{name, isDir})
		}
	}
	slices.SortFunc(entries, func(a, b dirEntry) int { return strings.Compare(a.name, b.name) })
	return entries, nil
}
