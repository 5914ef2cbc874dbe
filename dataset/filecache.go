package dataset

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"time"
)

// cachedReader reads a split through the decoded cache, as an image folder is read: the entry is served
// only while every file the split is read from (files) has the path, size, mtime and ctime it was decoded
// from, so a gzipped IDX set, a CSV table or a TFRecord of PNGs is parsed and decoded once, and a second
// run or another worker of a sweep reads it as an .npz. A split whose files cannot be listed or stat'ed
// is left to read, which names the fault. The entry keeps the class names read gives.
func cachedReader(c *decodedCache, files func(string, bool) ([]string, error), read readFunc) readFunc {
	return func(path string, src Source, test bool, classes []string) (*Set, []string, error) {
		entry, err := filesCachePath(c.dir, path, src, test, classes)
		if err != nil {
			return nil, nil, err
		}
		if hit, ok := c.handed(entry, test); ok {
			return hit.set, hit.names, nil
		}
		decode := func() (*Set, []string, error) { return read(path, src, test, classes) }
		paths, err := files(path, test)
		if err != nil {
			return c.decode(decode)
		}
		// The entry is read while the files are stat'ed, as an image folder's is while it is listed.
		cached := make(chan cachedSplit, 1)
		go func() { cached <- c.readEntry(entry) }()
		listed := time.Now()
		stats := make([]imageFile, len(paths))
		for i, p := range paths {
			abs, err := filepath.Abs(p)
			if err != nil {
				<-cached
				return nil, nil, fmt.Errorf("dataset: %w", err)
			}
			stats[i] = imageFile{path: abs, nameAt: len(abs) - len(filepath.Base(abs))}
		}
		err = statImages(stats)
		hit := <-cached
		if err != nil {
			return c.decode(decode)
		}
		return c.through(cacheRead{path, entry, test, hit, listingFingerprint("", nil, stats), stats, listed}, decode)
	}
}

// filesCachePath names a split's entry in cacheDir: the kind, the split's absolute path (a directory, a
// file or a glob), which split, the options its reader reads and the training split's class names a
// test split's labels are looked up in.
func filesCachePath(cacheDir, path string, src Source, test bool, classes []string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("dataset: %w", err)
	}
	key := sha256.Sum256(fmt.Appendf(nil, "files v1\n%s\n%s\n%t\n%q\n%q\n%v\n%s\n%q\n",
		src.Kind, abs, test, src.Label, src.Image, src.Size, src.Color, classes))
	return filepath.Join(cacheDir, filesCachePrefix+hex.EncodeToString(key[:16])+".npz"), nil
}
