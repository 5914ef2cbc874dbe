package dataset

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// imageExtensions are the files an images: folder holds; others are skipped, as Keras skips them.
var imageExtensions = []string{".png", ".jpg", ".jpeg"}

// isImageName reports whether a file's name has one of imageExtensions, in any case.
func isImageName(name string) bool {
	return slices.Contains(imageExtensions, strings.ToLower(filepath.Ext(name)))
}

// imageFile is one image of a folder tree and its class, and what its stat says of its content.
type imageFile struct {
	path               string
	nameAt             int // where the file's name starts in path
	class              int32
	size, mtime, ctime int64
}

// imageReader reads a folder tree class_name/…/*.png|jpg as Keras's image_dataset_from_directory does:
// the classes are the subfolders' names in sorted order, the files of each in sorted order. The decoded
// split and its classes are kept in the cache c (unless nil): one entry per folder and options, served
// only while every file's name, size, mtime and ctime are those it was decoded from (listingFingerprint).
func imageReader(c *decodedCache) readFunc {
	return func(dir string, src Source, test bool, trainClasses []string) (*Set, []string, error) {
		if src.Color == "" {
			src.Color = ColorRGB
		}
		if c == nil {
			classes, files, err := listImages(dir, trainClasses)
			if err != nil {
				return nil, nil, err
			}
			s, err := decodeImages(files, src)
			return s, classes, err
		}
		entry, err := imageCachePath(c.dir, dir, src, trainClasses)
		if err != nil {
			return nil, nil, err
		}
		if hit, ok := c.handed(entry, test); ok {
			return hit.set, hit.names, nil
		}
		// The cached entry is read while the folder is listed: a hit costs the longer of the two, not both.
		cached := make(chan cachedSplit, 1)
		go func() { cached <- c.readEntry(entry) }()
		listed := time.Now()
		classes, files, err := listImages(dir, trainClasses)
		hit := <-cached
		if err != nil {
			return nil, nil, err
		}
		r := cacheRead{dir, entry, test, hit, listingFingerprint(dir, classes, files), files, listed}
		s, _, err := c.through(r, func() (*Set, []string, error) {
			s, err := decodeImages(files, src)
			return s, classes, err
		})
		return s, classes, err
	}
}

// listImages lists the class folders of dir and their images, and stats the images on all cores.
func listImages(dir string, trainClasses []string) ([]string, []imageFile, error) {
	classes, files, err := findImages(dir, trainClasses)
	if err == nil {
		err = statImages(files)
	}
	return classes, files, err
}

// findImages lists the class folders of dir and their images, unstat'ed. A test split's folders must be
// classes of the training split (trainClasses), whose indices they take.
func findImages(dir string, trainClasses []string) ([]string, []imageFile, error) {
	classes, err := classFolders(dir)
	if err != nil {
		return nil, nil, err
	}
	indices := make([]int32, len(classes))
	for i, name := range classes {
		indices[i] = int32(i)
		if trainClasses != nil {
			if indices[i] = int32(slices.Index(trainClasses, name)); indices[i] < 0 {
				return nil, nil, fmt.Errorf("dataset: %s: %w: class folder %q is not one of the training classes %q", dir, ErrUnknownLabel, name, trainClasses)
			}
		}
	}
	perClass := make([][]imageFile, len(classes))
	errs := make([]error, len(classes))
	parallel(len(classes), func(i int) { perClass[i], errs[i] = walkClass(filepath.Join(dir, classes[i]), indices[i]) })
	total := 0
	for i := range classes {
		if errs[i] != nil {
			return nil, nil, errs[i]
		}
		total += len(perClass[i])
	}
	files := make([]imageFile, 0, total)
	for _, class := range perClass {
		files = append(files, class...)
	}
	if trainClasses != nil {
		classes = trainClasses
	}
	return classes, files, nil
}

// classFolders are the names of dir's subfolders, sorted: an image folder's classes.
func classFolders(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	var classes []string
	for _, e := range entries {
		if e.IsDir() {
			classes = append(classes, e.Name())
		}
	}
	if len(classes) == 0 {
		return nil, fmt.Errorf("dataset: %s: %w: no class folders (want DIR/class_name/*.png|jpg)", dir, ErrMissing)
	}
	return classes, nil
}

// walkClassSlowly lists the images of one class folder and its subfolders, in sorted order, through
// filepath.WalkDir: walkClass where there is no faster way.
func walkClassSlowly(dir string, class int32) ([]imageFile, error) {
	var files []imageFile
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() && isImageName(e.Name()) {
			files = append(files, imageFile{path: path, nameAt: len(path) - len(e.Name()), class: class})
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	return files, nil
}

// statImages fills in every file's size and times, on all cores; the first file (in order) that cannot
// be stat'ed or is not a regular file is the error.
func statImages(files []imageFile) error {
	errs := make([]error, len(files))
	parallelRanges(len(files), func(lo, hi int) {
		s := newDirStatter()
		defer s.Close()
		for i := lo; i < hi; i++ {
			errs[i] = s.stat(&files[i])
		}
	})
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// statSlowly fills in f's size and times from os.Stat, or says why it cannot.
func statSlowly(f *imageFile) error {
	info, err := os.Stat(f.path)
	switch {
	case err != nil:
		return fmt.Errorf("dataset: %w", err)
	case !info.Mode().IsRegular():
		return fileError(f.path, ErrNotRegular, "%s", info.Mode().Type())
	}
	f.size, f.mtime, f.ctime = info.Size(), info.ModTime().UnixNano(), changeTime(info)
	return nil
}

// listingFingerprint is what a folder's decoded form was made from: its classes and every file's path
// under dir, class, size, mtime and ctime. Writing a file in place changes its mtime and ctime, and no
// user can set a ctime back (restoring an mtime sets the ctime to now), so a rewritten file is never served
// from the cache, whatever its size and mtime say.
func listingFingerprint(dir string, classes []string, files []imageFile) string {
	h := sha256.New()
	buf := fmt.Appendf(nil, "images v3\n%q\n", classes)
	for _, f := range files {
		rel, _ := strings.CutPrefix(f.path, dir)
		buf = append(append(buf, rel...), 0)
		for _, v := range []int64{int64(f.class), f.size, f.mtime, f.ctime} {
			buf = binary.LittleEndian.AppendUint64(buf, uint64(v))
		}
		if len(buf) >= chunkBytes {
			h.Write(buf)
			buf = buf[:0]
		}
	}
	h.Write(buf)
	return hex.EncodeToString(h.Sum(nil))
}

// racyMargin is how long before a folder is listed its files must have last changed for their decoded
// form to be cached: a file's times are as coarse as its file system keeps them (a second on some), so a
// change soon after one the listing saw could leave the times as they were.
const racyMargin = 2 * time.Second

// settled reports whether every file last changed more than racyMargin before listed.
func settled(files []imageFile, listed time.Time) bool {
	limit := listed.Add(-racyMargin).UnixNano()
	for _, f := range files {
		if f.mtime >= limit || f.ctime >= limit {
			return false
		}
	}
	return true
}

// imageCachePath names a folder's entry in cacheDir: its absolute path and the options it is decoded with.
func imageCachePath(cacheDir, dir string, src Source, trainClasses []string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("dataset: %w", err)
	}
	key := sha256.Sum256(fmt.Appendf(nil, "images v3\n%s\n%v\n%s\n%q\n", abs, src.Size, src.Color, trainClasses))
	return filepath.Join(cacheDir, imageCachePrefix+hex.EncodeToString(key[:16])+".npz"), nil
}

// decodeImages decodes and resizes every file on all cores, keeping the files' order.
func decodeImages(files []imageFile, src Source) (*Set, error) {
	out := make([]decoded, len(files))
	errs := make([]error, len(files))
	parallelRanges(len(files), func(lo, hi int) {
		var pd pngDecoder
		dirs := newDirStatter()
		defer dirs.Close()
		for i := lo; i < hi; i++ {
			out[i], errs[i] = decodeImageFile(&pd, dirs, &files[i], src)
		}
	})
	var ex examples
	if len(out) > 0 && errs[0] == nil {
		ex.reserve(len(out), out[0])
	}
	for i, d := range out {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if err := ex.add(d, files[i].class); err != nil {
			return nil, fileError(files[i].path, err, "")
		}
		out[i] = decoded{}
	}
	return ex.set()
}

func decodeImageFile(pd *pngDecoder, dirs *dirStatter, f *imageFile, src Source) (decoded, error) {
	b, err := dirs.read(f)
	if err != nil {
		return decoded{}, err
	}
	d, err := decodeImage(pd, b, src.Color, src.Size)
	if err != nil {
		return decoded{}, fileError(f.path, err, "")
	}
	return d, nil
}

// readSlowly reads the whole of a regular file by its path: dirStatter.read where there is no faster way.
func readSlowly(path string) ([]byte, error) {
	f, size, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if size > maxRecord {
		return nil, fileError(path, ErrTooLarge, "%d bytes", size)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fileError(path, ErrTruncated, "%v", err)
	}
	return b, nil
}
