package dataset

import (
	"io/fs"
	"syscall"
)

// changeTime is a file's ctime in nanoseconds: the last change of its content or its inode, which no
// user can set back.
func changeTime(info fs.FileInfo) int64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return st.Ctim.Nano()
	}
	return 0
}
