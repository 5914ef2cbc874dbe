package dataset

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/tfsweep/tfsweep/spec"
)

// decodedCache is the decoded cache as one Open uses it: its directory, the entries Open was handed
// (Options.Snapshot) and those it served or wrote (Data.Snapshot). The training and the test split may
// be read at once; each touches only its own entries.
type decodedCache struct {
	dir         string
	given, used spec.DataSnapshot
}

// handed serves a split from the entry Open was handed for it, without checking the split's files: when
// the entry is the one this source's split is kept in (entry) and still holds the fingerprint it was
// handed with. Entries are replaced whole, so that fingerprint means the data the front read.
func (c *decodedCache) handed(entry string, test bool) (cachedSplit, bool) {
	given := c.given.Split(test)
	if given.Path == "" || given.Path != entry {
		return cachedSplit{}, false
	}
	hit := readCacheEntry(entry)
	if hit.err != nil || hit.fingerprint != given.Fingerprint {
		return cachedSplit{}, false
	}
	touch(entry)
	*c.used.Split(test) = *given
	return hit, true
}

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
		paths, err := files(path, test)
		if err != nil {
			return read(path, src, test, classes)
		}
		// The entry is read while the files are stat'ed, as an image folder's is while it is listed.
		cached := make(chan cachedSplit, 1)
		go func() { cached <- readCacheEntry(entry) }()
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
			return read(path, src, test, classes)
		}
		decode := func() (*Set, []string, error) { return read(path, src, test, classes) }
		return c.through(cacheRead{path, entry, test, hit, listingFingerprint("", nil, stats), stats, listed}, decode)
	}
}

// cacheRead is a split's read through the cache: the split's path, its entry and which split it is, the
// entry as read (hit), and the split's files as listed and stat'ed at listed, and their fingerprint.
type cacheRead struct {
	path, entry string
	test        bool
	hit         cachedSplit
	fingerprint string
	files       []imageFile
	listed      time.Time
}

// through serves a split and its class names from its cache entry (r.hit) when the entry was made from
// the files as they are now (r.fingerprint), else decodes them and keeps them in the cache if every file
// had settled before it was listed, pruning the cache to its bounds. The cache only saves time: one that
// cannot be written (a read-only or full disk) costs the next read the decoding, not this one its data.
// A split handed with an entry that is gone is read again, and must be what the front read.
func (c *decodedCache) through(r cacheRead, decode func() (*Set, []string, error)) (*Set, []string, error) {
	if given := c.given.Split(r.test); given.Path != "" && given.Fingerprint != r.fingerprint {
		return nil, nil, fmt.Errorf("dataset: %s: %w: its files are not those the snapshot's entry %s was decoded from", r.path, ErrChanged, given.Path)
	}
	if r.hit.err == nil && r.hit.fingerprint == r.fingerprint {
		touch(r.entry)
		*c.used.Split(r.test) = spec.DataEntry{Path: r.entry, Fingerprint: r.fingerprint}
		return r.hit.set, r.hit.names, nil
	}
	s, names, err := decode()
	if err != nil || !settled(r.files, r.listed) {
		return s, names, err
	}
	if writeCacheEntry(r.entry, s, names, r.fingerprint) == nil {
		*c.used.Split(r.test) = spec.DataEntry{Path: r.entry, Fingerprint: r.fingerprint}
		_ = pruneCache(c.dir, r.entry, maxCacheEntries, maxCacheBytes) // what it could not remove, the next one will
	}
	return s, names, nil
}

// touch marks an entry as just used: the pruning keeps what was used last; a failure costs nothing now.
func touch(entry string) {
	now := time.Now()
	_ = os.Chtimes(entry, now, now)
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
