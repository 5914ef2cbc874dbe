package dataset

import (
	"io/fs"
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

// dirStatter stats the files of a folder tree through an open descriptor of their directory: the kernel
// resolves one name instead of the whole path, and nothing is allocated per file. One serves one goroutine.
type dirStatter struct {
	dir string
	fd  int
}

func newDirStatter() *dirStatter { return &dirStatter{fd: -1} }

// stat fills in f's size and times; anything but a regular file that fstatat finds is statSlowly's to report.
func (s *dirStatter) stat(f *imageFile) error {
	if dir := f.path[:f.nameAt]; s.fd < 0 || s.dir != dir {
		s.Close()
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return statSlowly(f)
		}
		s.dir, s.fd = dir, fd
	}
	var st unix.Stat_t
	if err := unix.Fstatat(s.fd, f.path[f.nameAt:], &st, 0); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return statSlowly(f)
	}
	f.size, f.mtime, f.ctime = st.Size, st.Mtim.Nano(), st.Ctim.Nano()
	return nil
}

func (s *dirStatter) Close() {
	if s.fd >= 0 {
		unix.Close(s.fd)
		s.fd = -1
	}
}
