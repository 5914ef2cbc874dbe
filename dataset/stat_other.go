//go:build !linux

package dataset

import "io/fs"

// changeTime is 0 where the stat's ctime is not read: there the image cache trusts sizes and mtimes.
func changeTime(fs.FileInfo) int64 { return 0 }

// dirStatter stats files by their paths where no descriptor-relative stat is used.
type dirStatter struct{}

func newDirStatter() *dirStatter { return &dirStatter{} }

func (*dirStatter) stat(f *imageFile) error { return statSlowly(f) }

func (*dirStatter) read(f *imageFile) ([]byte, error) { return readSlowly(f.path) }

func (*dirStatter) Close() {}

// walkClass lists the images of one class folder and its subfolders, in sorted order.
func walkClass(dir string, class int32) ([]imageFile, error) { return walkClassSlowly(dir, class) }
