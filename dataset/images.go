package dataset

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// imageExtensions are the files an images: folder holds; others are skipped, as Keras skips them.
var imageExtensions = []string{".png", ".jpg", ".jpeg"}

// imageFile is one image of a folder tree and its class.
type imageFile struct {
	path  string
	class int32
	size  int64
	mtime int64
}

// imageReader reads a folder tree class_name/…/*.png|jpg as Keras's image_dataset_from_directory does:
// the classes are the subfolders' names in sorted order, the files of each in sorted order. The decoded
// split is kept in cacheDir (when set), keyed by the files' names, sizes and mtimes and the options.
func imageReader(cacheDir string) func(string, Source, bool, []string) (*Set, []string, error) {
	return func(dir string, src Source, _ bool, trainClasses []string) (*Set, []string, error) {
		classes, files, err := listImages(dir, trainClasses)
		if err != nil {
			return nil, nil, err
		}
		if src.Color == "" {
			src.Color = ColorRGB
		}
		cache := ""
		if cacheDir != "" {
			cache = filepath.Join(cacheDir, "images-"+imagesKey(dir, src, classes, files)+".npz")
			if s, err := readImageCache(cache); err == nil {
				return s, classes, nil
			}
		}
		s, err := decodeImages(files, src)
		if err != nil {
			return nil, nil, err
		}
		if cache != "" {
			if err := writeImageCache(cache, s); err != nil {
				return nil, nil, err
			}
		}
		return s, classes, nil
	}
}

// listImages lists the class folders of dir and their images. A test split's folders must be classes of
// the training split (trainClasses), whose indices they take.
func listImages(dir string, trainClasses []string) ([]string, []imageFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("dataset: %w", err)
	}
	var classes []string
	for _, e := range entries {
		if e.IsDir() {
			classes = append(classes, e.Name())
		}
	}
	if len(classes) == 0 {
		return nil, nil, fmt.Errorf("dataset: %s: %w: no class folders (want DIR/class_name/*.png|jpg)", dir, ErrMissing)
	}
	var files []imageFile
	for _, name := range classes {
		class := int32(slices.Index(classes, name))
		if trainClasses != nil {
			if class = int32(slices.Index(trainClasses, name)); class < 0 {
				return nil, nil, fmt.Errorf("dataset: %s: %w: class folder %q is not one of the training classes %q", dir, ErrUnknownLabel, name, trainClasses)
			}
		}
		err := filepath.WalkDir(filepath.Join(dir, name), func(path string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() || !slices.Contains(imageExtensions, strings.ToLower(filepath.Ext(path))) {
				return err
			}
			info, err := os.Stat(path)
			if err != nil {
				return err
			}
			if !info.Mode().IsRegular() {
				return fileError(path, ErrNotRegular, "%s", info.Mode().Type())
			}
			files = append(files, imageFile{path: path, class: class, size: info.Size(), mtime: info.ModTime().UnixNano()})
			return nil
		})
		if errors.Is(err, ErrNotRegular) {
			return nil, nil, err
		}
		if err != nil {
			return nil, nil, fmt.Errorf("dataset: %w", err)
		}
	}
	if trainClasses != nil {
		classes = trainClasses
	}
	return classes, files, nil
}

// imagesKey names a folder's decoded form: what was asked for and every file's name, size and mtime.
func imagesKey(dir string, src Source, classes []string, files []imageFile) string {
	h := sha256.New()
	fmt.Fprintf(h, "images v1\n%s\n%v\n%s\n%q\n", dir, src.Size, src.Color, classes)
	for _, f := range files {
		fmt.Fprintf(h, "%s\x00%d\x00%d\x00%d\n", f.path, f.class, f.size, f.mtime)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// decodeImages decodes and resizes every file on all cores, keeping the files' order.
func decodeImages(files []imageFile, src Source) (*Set, error) {
	out := make([]decoded, len(files))
	errs := make([]error, len(files))
	parallel(len(files), func(i int) { out[i], errs[i] = decodeImageFile(files[i].path, src) })
	var ex examples
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

func decodeImageFile(path string, src Source) (decoded, error) {
	f, size, err := openRegular(path)
	if err != nil {
		return decoded{}, err
	}
	defer f.Close()
	if size > maxRecord {
		return decoded{}, fileError(path, ErrTooLarge, "%d bytes", size)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(f, b); err != nil {
		return decoded{}, fileError(path, ErrTruncated, "%v", err)
	}
	d, err := decodeImage(b, src.Color, src.Size)
	if err != nil {
		return decoded{}, fileError(path, err, "")
	}
	return d, nil
}

// readImageCache reads a decoded folder written by writeImageCache.
func readImageCache(path string) (*Set, error) {
	s, err := readNPZSplit(path, Source{Arrays: []string{"x", "y", "", ""}}, false)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// writeImageCache writes s as an .npz of x and y (stored, not deflated, so it reads as fast as it can),
// through a temporary file renamed into place: a cache file is whole or absent.
func writeImageCache(path string, s *Set) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("dataset: image cache: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("dataset: image cache: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := writeNPZ(tmp, s); err != nil {
		return fmt.Errorf("dataset: image cache %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("dataset: image cache: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("dataset: image cache: %w", err)
	}
	return nil
}
