package dataset

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tfsweep/tfsweep/spec"
)

// decodedCache is the decoded cache as one Open uses it: its directory, the entries Open was handed
// (Options.Snapshot) and those it served or wrote (Data.Snapshot). The training and the test split may
// be read at once; each touches only its own entries.
type decodedCache struct {
	dir         string
	given, used spec.DataSnapshot
	// describe serves a split with its labels and its examples' shape, not their values (Describe).
	describe bool
	// estimate, when set, is the budget's check of what the files declare (CheckEstimate), made once
	// before a split is decoded rather than before any is read: a split served from its entry is
	// measured exactly by its entry, without the listing or scan an estimate takes.
	estimate func() error
}

// decode reads a split from its files, once the estimate, if it is this cache's to check, allows it.
func (c *decodedCache) decode(read func() (*Set, []string, error)) (*Set, []string, error) {
	if c.estimate != nil {
		if err := c.estimate(); err != nil {
			return nil, nil, err
		}
	}
	return read()
}

// readEntry reads an entry as the cache serves it: whole, or without the examples' values (describe).
func (c *decodedCache) readEntry(path string) cachedSplit {
	return readCacheSplit(path, c.describe)
}

// handed serves a split from the entry Open was handed for it, without checking the split's files: when
// the entry is the one this source's split is kept in (entry) and still holds the fingerprint it was
// handed with. Entries are replaced whole, so that fingerprint means the data the front read.
func (c *decodedCache) handed(entry string, test bool) (cachedSplit, bool) {
	given := c.given.Split(test)
	if given.Path == "" || given.Path != entry {
		return cachedSplit{}, false
	}
	hit := c.readEntry(entry)
	if hit.err != nil || hit.fingerprint != given.Fingerprint {
		return cachedSplit{}, false
	}
	touch(entry)
	*c.used.Split(test) = *given
	return hit, true
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
	s, names, err := c.decode(decode)
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

// imageCachePrefix starts the name of an image folder's entry in the decoded cache, filesCachePrefix that
// of a split read from files (filecache.go); the cache's bounds count both.
const (
	imageCachePrefix = "images-"
	filesCachePrefix = "files-"
)

// The decoded cache keeps its newest maxCacheEntries entries (by last use) of at most maxCacheBytes in all;
// the entry just used is always kept.
const (
	maxCacheEntries = 16
	maxCacheBytes   = 4 << 30
	// staleTempAge is when a temporary file of a writer that never finished (killed) is removed.
	staleTempAge = 24 * time.Hour
)

// cachedSplit is a cache entry as read: the split, its names and the fingerprint of the files it was decoded
// from.
type cachedSplit struct {
	set         *Set
	names       []string // the class names the split's reader gave, if any
	fingerprint string
	err         error
}

// readCacheEntry reads a decoded split written by writeCacheEntry, whole.
func readCacheEntry(path string) cachedSplit { return readCacheSplit(path, false) }

// readCacheSplit reads a decoded split written by writeCacheEntry: its labels, its class names and its
// examples, or of the examples only their shape (shapeOnly), as a described Set. The examples' values
// (and their CRC) are then a worker's to read; an entry whose values turn out damaged fails
// readCacheEntry, and the worker reads the split's files.
func readCacheSplit(path string, shapeOnly bool) cachedSplit {
	z, err := openNPZ(path)
	if err != nil {
		return cachedSplit{err: err}
	}
	defer z.Close()
	var x *array
	if shapeOnly {
		x, err = z.readShape("x")
	} else {
		x, err = z.read("x", false)
	}
	if err != nil {
		return cachedSplit{err: err}
	}
	y, err := z.read("y", true)
	if err != nil {
		return cachedSplit{err: err}
	}
	names, err := z.readNames()
	if err != nil {
		return cachedSplit{err: err}
	}
	s, err := pairSet(x, y, path, path)
	switch {
	case err != nil:
	case shapeOnly:
		s.described = true
	case z.has(npzFloatsAsBytesFile):
		s.Floats, s.Bytes = bytesToFloats(s.Bytes), nil
	}
	return cachedSplit{set: s, names: names, fingerprint: z.zip.Comment, err: err}
}

// floatsAsBytes returns float32 values that are all whole numbers from 0 to 255 (a CSV table of pixels)
// as bytes, a quarter of their size to write and read again, or nil for any other values (-0 included).
func floatsAsBytes(floats []float32) []byte {
	b := make([]byte, len(floats))
	whole := make([]bool, len(floats)/chunkBytes+1)
	parallel(len(whole), func(c int) {
		lo, hi := c*chunkBytes, min((c+1)*chunkBytes, len(floats))
		// Without a branch a value: a whole number in [0, 255] converts to an int32 that converts back to
		// it; any other value (NaN, an infinity, a value out of int32's range, which converts to whatever
		// the machine gives) does not, or to one out of range. -0 is the one float32 equal to 0 with
		// other bits.
		bad := false
		for i, v := range floats[lo:hi] {
			n := int32(v)
			b[lo+i] = uint8(n)
			bad = bad || float32(n) != v || uint32(n) > 255 || math.Float32bits(v) == negativeZero
		}
		whole[c] = !bad
	})
	if slices.Contains(whole, false) {
		return nil
	}
	return b
}

// negativeZero is -0's float32 bits.
const negativeZero = 1 << 31

// bytesToFloats turns floatsAsBytes's bytes back into float32, on all cores.
func bytesToFloats(b []byte) []float32 {
	floats := make([]float32, len(b))
	parallelRanges(len(b), func(lo, hi int) {
		for i, v := range b[lo:hi] {
			floats[lo+i] = float32(v)
		}
	})
	return floats
}

// writeCacheEntry writes s as an .npz of x and y (stored, not deflated, so it reads as fast as it can; float32
// values that are all whole bytes as bytes) and the class names its reader gave, with the listing's
// fingerprint as the archive's comment, through a temporary file renamed into place: a cache file is whole
// or absent.
func writeCacheEntry(path string, s *Set, names []string, fingerprint string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("dataset: decoded cache: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("dataset: decoded cache: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	stored, asBytes := s, false
	if s.Floats != nil {
		if b := floatsAsBytes(s.Floats); b != nil {
			stored, asBytes = &Set{Shape: s.Shape, Bytes: b, Labels: s.Labels}, true
		}
	}
	if err := writeNPZ(tmp, stored, names, fingerprint, asBytes); err != nil {
		return fmt.Errorf("dataset: decoded cache %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("dataset: decoded cache: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("dataset: decoded cache: %w", err)
	}
	return nil
}

// pruneCache removes the entries of cacheDir beyond the newest maxEntries or maxBytes (newest by
// mtime, which a hit renews), never keep, and temporary files older than staleTempAge. Another process
// still reading a removed entry reads on; one about to open it decodes the folder again.
func pruneCache(cacheDir, keep string, maxEntries int, maxBytes int64) error {
	entries, err := os.ReadDir(cacheDir)
	if err != nil {
		return fmt.Errorf("dataset: decoded cache: %w", err)
	}
	type entry struct {
		path  string
		size  int64
		mtime time.Time
	}
	var cached []entry
	for _, e := range entries {
		name := e.Name()
		info, err := e.Info()
		switch {
		case err != nil || !info.Mode().IsRegular():
			continue
		case strings.HasPrefix(name, ".") && isCacheEntry(name[1:]) && time.Since(info.ModTime()) > staleTempAge:
			_ = os.Remove(filepath.Join(cacheDir, name)) // a writer's leftover; gone already is as good
		case isCacheEntry(name) && strings.HasSuffix(name, ".npz"):
			cached = append(cached, entry{filepath.Join(cacheDir, name), info.Size(), info.ModTime()})
		}
	}
	slices.SortFunc(cached, func(a, b entry) int { return b.mtime.Compare(a.mtime) })
	var kept int
	var total int64
	for _, e := range cached {
		if e.path != keep && (kept >= maxEntries || total > maxBytes-e.size) {
			if err := os.Remove(e.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("dataset: decoded cache: %w", err)
			}
			continue
		}
		kept++
		total += e.size
	}
	return nil
}

// isCacheEntry reports whether a file name starts as the decoded cache names its entries.
func isCacheEntry(name string) bool {
	return strings.HasPrefix(name, imageCachePrefix) || strings.HasPrefix(name, filesCachePrefix)
}
