package dataset

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tfsweep/tfsweep/spec"
)

// TestFilesCache shows that IDX, CSV and TFRecord splits (written by numpy and TensorFlow) are cached
// once their files have settled: a second read returns what the first read, from the cache (an entry's
// marked value and the class names come back), and a split whose files changed is read again: a file
// added to a glob, and a file rewritten in place with its size and mtime restored.
func TestFilesCache(t *testing.T) {
	dir := fixtures(t)
	idx := copyTree(t, dir, "mnist-idx")
	tfr := copyTree(t, dir, "tfrecord")
	csv, csvTest := copyTree(t, dir, "table.csv"), copyTree(t, dir, "table-test.csv")
	time.Sleep(racyMargin) // the copies' times must have settled before they are cached
	for _, tc := range []struct {
		name, spec string
		entries    int
	}{
		{"idx, gzipped training split", "idx:" + idx, 2},
		{"tfrecord, test split", "tfrecord:" + tfr + "/raw.tfrecord:image=image:label=label:test=" + tfr + "/raw-test.tfrecord:classes=3", 2},
		{"csv with class names", "csv:" + csv + ":label=species:test=" + csvTest, 2},
		{"tfrecord glob of gzipped shards", "tfrecord:" + tfr + "/png-*.tfrecord.gz:image=image:label=label:holdout=0.4", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := mustParse(t, tc.spec)
			cache := t.TempDir()
			first := mustOpen(t, src, Options{CacheDir: cache})
			if got := filesEntries(cache); len(got) != tc.entries {
				t.Fatalf("cache holds %v, want %d entries", got, tc.entries)
			}
			uncached := mustOpen(t, src, Options{})
			second := mustOpen(t, src, Options{CacheDir: cache})
			if first.Snapshot.Train.Path == "" || second.Snapshot != first.Snapshot {
				t.Errorf("snapshots %+v and %+v, want one with a training entry, twice", first.Snapshot, second.Snapshot)
			}
			first.Snapshot, second.Snapshot = spec.DataSnapshot{}, spec.DataSnapshot{}
			if !reflect.DeepEqual(first, uncached) || !reflect.DeepEqual(second, uncached) {
				t.Fatal("the reads through the cache differ from the read without it")
			}
			markEntries(t, cache)
			marked := mustOpen(t, src, Options{CacheDir: cache})
			if got := valueAt(marked.Train, 0); got == valueAt(uncached.Train, 0) {
				t.Fatalf("third read's first value %v is the file's, not the cache's mark", got)
			}
			if !reflect.DeepEqual(marked.ClassNames, uncached.ClassNames) {
				t.Errorf("class names from the cache %q, want %q", marked.ClassNames, uncached.ClassNames)
			}
		})
	}

	t.Run("a shard added to the glob", func(t *testing.T) { testCacheSeesAddedShard(t, tfr) })
	t.Run("a file rewritten in place, size and mtime restored", func(t *testing.T) { testCacheSeesRewrite(t, idx) })
}

// testCacheSeesAddedShard adds a shard to a cached glob of the TFRecord files in tfr: the split is read
// again, with the new shard's examples.
func testCacheSeesAddedShard(t *testing.T, tfr string) {
	src := mustParse(t, "tfrecord:"+tfr+"/png-*.tfrecord.gz:image=image:label=label:holdout=0.4")
	cache := t.TempDir()
	before := mustOpen(t, src, Options{CacheDir: cache})
	b, err := os.ReadFile(filepath.Join(tfr, "png-1.tfrecord.gz"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, tfr, "png-2.tfrecord.gz", b)
	defer os.Remove(filepath.Join(tfr, "png-2.tfrecord.gz"))
	after := mustOpen(t, src, Options{CacheDir: cache})
	if n, want := after.Train.Len()+after.Test.Len(), before.Train.Len()+before.Test.Len()+2; n != want {
		t.Errorf("%d examples after a shard of 2 was added, want %d", n, want)
	}
}

// testCacheSeesRewrite rewrites a cached IDX file in idx in place and restores its size and mtime: the
// changed ctime has the split read again.
func testCacheSeesRewrite(t *testing.T, idx string) {
	if runtime.GOOS != "linux" {
		t.Skip("the ctime is read on Linux only")
	}
	src := mustParse(t, "idx:"+idx)
	cache := t.TempDir()
	before := mustOpen(t, src, Options{CacheDir: cache})
	victim := filepath.Join(idx, "t10k-images-idx3-ubyte") // stored raw: a flipped pixel reads as one
	info, err := os.Stat(victim)
	if err != nil {
		t.Fatal(err)
	}
	flipByte(t, victim, info.Size()-1)
	if err := os.Chtimes(victim, time.Now(), info.ModTime()); err != nil {
		t.Fatal(err)
	}
	after := mustOpen(t, src, Options{CacheDir: cache})
	last := len(before.Test.Bytes) - 1
	if got, want := after.Test.Bytes[last], before.Test.Bytes[last]^0x55; got != want {
		t.Errorf("after the rewrite the last pixel is %d, want the file's new %d: served from the cache", got, want)
	}
	// A rewrite that corrupts the gzipped training images is the reader's error, not the cache's data.
	flipByte(t, filepath.Join(idx, "train-images-idx3-ubyte.gz"), 40)
	if _, err := Open(src, Options{CacheDir: cache}); !errors.Is(err, ErrCorruptGzip) {
		t.Errorf("after corrupting the training images: %v, want %v", err, ErrCorruptGzip)
	}
}

func filesEntries(cache string) []string {
	entries, _ := filepath.Glob(filepath.Join(cache, filesCachePrefix+"*.npz"))
	return entries
}

// markEntries changes the first value of every entry of cache, keeping its fingerprint: only a read from
// the cache returns the mark.
func markEntries(t *testing.T, cache string) {
	t.Helper()
	for _, path := range filesEntries(cache) {
		entry := readCacheEntry(path)
		if entry.err != nil {
			t.Fatal(entry.err)
		}
		if entry.set.Bytes != nil {
			entry.set.Bytes[0] ^= 0xff
		} else {
			entry.set.Floats[0] += 1000
		}
		if err := writeCacheEntry(path, entry.set, entry.names, entry.fingerprint); err != nil {
			t.Fatal(err)
		}
	}
}

// TestUnwritableCache shows that a cache directory that cannot be written costs nothing but the caching:
// the data are read as without it.
func TestUnwritableCache(t *testing.T) {
	dir := fixtures(t)
	notADir := writeFile(t, t.TempDir(), "file", []byte("x"))
	time.Sleep(racyMargin) // the fixtures may have been written moments ago, and would not be cached
	for _, spec := range []string{
		"idx:" + filepath.Join(dir, "mnist-idx"),
		"images:" + filepath.Join(dir, "images-luma") + ":color=grayscale:holdout=0.5",
	} {
		src := mustParse(t, spec)
		want := mustOpen(t, src, Options{})
		got, err := Open(src, Options{CacheDir: filepath.Join(notADir, "cache")})
		if err != nil {
			t.Errorf("%s with a cache under a file: %v", spec, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s with a cache under a file: the data differ from those read without it", spec)
		}
	}
}

// mustParse is ParseSource, failing the test on an error.
func mustParse(t *testing.T, spec string) Source {
	t.Helper()
	src, err := ParseSource(spec)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// mustOpen is Open, failing the test on an error.
func mustOpen(t *testing.T, src Source, opts Options) *Data {
	t.Helper()
	d, err := Open(src, opts)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestSnapshot shows that a split handed with the entry an earlier Open read it from (Data.Snapshot) is
// read from that entry without its files: with the source moved away it still reads, and what it reads
// is the entry's (a marked value comes back). An entry that is gone is read again from files that did not
// change, and refused, naming the split, from files that did.
func TestSnapshot(t *testing.T) {
	for _, tc := range []struct {
		name, tree, spec, victim string
		test                     bool // whether the test split has an entry of its own
	}{
		{"image folder with a holdout", "images-luma", "images:%s:color=grayscale:holdout=0.5", "cat/00000.png", false},
		{"gzipped IDX", "mnist-idx", "idx:%s", "t10k-images-idx3-ubyte", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyTree(t, fixtures(t), tc.tree)
			time.Sleep(racyMargin) // the copy's times must have settled before it is cached
			src := mustParse(t, fmt.Sprintf(tc.spec, dir))
			cache := t.TempDir()
			first := mustOpen(t, src, Options{CacheDir: cache})
			snap := first.Snapshot
			if snap.Train.Path == "" || (snap.Test.Path != "") != tc.test {
				t.Fatalf("snapshot %+v, want a training entry and a test entry: %t", snap, tc.test)
			}
			markSnapshot(t, snap)
			handed := func() (*Data, error) { return Open(src, Options{CacheDir: cache, Snapshot: snap}) }

			moved := dir + "-moved"
			if err := os.Rename(dir, moved); err != nil {
				t.Fatal(err)
			}
			d, err := handed()
			if err != nil {
				t.Fatalf("handed the snapshot, with the source moved away: %v", err)
			}
			if got, want := valueAt(d.Train, 0), valueAt(first.Train, 0); got == want {
				t.Errorf("the first value %v is the source's, not the entry's mark", got)
			}
			if d.Snapshot != snap || !reflect.DeepEqual(d.ClassNames, first.ClassNames) || d.Classes != first.Classes {
				t.Errorf("handed read: snapshot %+v, classes %d %q; want %+v, %d %q", d.Snapshot, d.Classes, d.ClassNames, snap, first.Classes, first.ClassNames)
			}
			if _, err := Open(src, Options{CacheDir: cache}); err == nil {
				t.Error("without the snapshot the moved-away source was read")
			}
			if err := os.Rename(moved, dir); err != nil {
				t.Fatal(err)
			}

			removeEntries(t, snap)
			again, err := handed()
			if err != nil {
				t.Fatalf("entries gone, files unchanged: %v", err)
			}
			first.Snapshot = again.Snapshot
			if !reflect.DeepEqual(again, first) {
				t.Error("entries gone, files unchanged: the data read again differ from the first read")
			}

			removeEntries(t, snap)
			flipByte(t, filepath.Join(dir, tc.victim), 100)
			if _, err := handed(); !errors.Is(err, ErrChanged) || !strings.Contains(err.Error(), dir) {
				t.Errorf("entries gone, a file rewritten: %v, want %v naming %s", err, ErrChanged, dir)
			}
		})
	}
}

// markSnapshot changes the first value of the snapshot's entries, keeping their fingerprints: only a
// read from an entry returns the mark.
func markSnapshot(t *testing.T, snap spec.DataSnapshot) {
	t.Helper()
	for _, e := range []spec.DataEntry{snap.Train, snap.Test} {
		if e.Path == "" {
			continue
		}
		entry := readCacheEntry(e.Path)
		if entry.err != nil {
			t.Fatal(entry.err)
		}
		entry.set.Bytes[0] ^= 0xff
		if err := writeCacheEntry(e.Path, entry.set, entry.names, entry.fingerprint); err != nil {
			t.Fatal(err)
		}
	}
}

func removeEntries(t *testing.T, snap spec.DataSnapshot) {
	t.Helper()
	for _, e := range []spec.DataEntry{snap.Train, snap.Test} {
		if err := os.Remove(e.Path); e.Path != "" && err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	}
}

// TestCacheEntryKeepsFloats shows that an entry gives back float32 values bit for bit: whole numbers from
// 0 to 255 (a CSV of pixels) stored as bytes, a quarter of the size, and any others (-0, 256, a
// fraction, NaN) as float32.
func TestCacheEntryKeepsFloats(t *testing.T) {
	dir := t.TempDir()
	pixels := make([]float32, 4000)
	for i := range pixels {
		pixels[i] = float32(i % 256)
	}
	negZero := float32(math.Copysign(0, -1))
	for _, tc := range []struct {
		name    string
		odd     float32 // the one value that is not a whole byte, or 0
		asBytes bool
	}{
		{"whole bytes", 0, true},
		{"minus zero", negZero, false},
		{"256", 256, false},
		{"a fraction", 0.5, false},
		{"NaN", float32(math.NaN()), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			floats := slices.Clone(pixels)
			floats[len(floats)-1] = tc.odd
			s := &Set{Shape: []int{4}, Floats: floats, Labels: make([]int32, len(floats)/4)}
			path := filepath.Join(dir, filesCachePrefix+strings.ReplaceAll(tc.name, " ", "-")+".npz")
			if err := writeCacheEntry(path, s, nil, "fingerprint"); err != nil {
				t.Fatal(err)
			}
			got := readCacheEntry(path)
			if got.err != nil {
				t.Fatal(got.err)
			}
			if got.set.Bytes != nil || len(got.set.Floats) != len(floats) {
				t.Fatalf("read back %d bytes and %d floats, want %d floats", len(got.set.Bytes), len(got.set.Floats), len(floats))
			}
			for i, v := range got.set.Floats {
				if math.Float32bits(v) != math.Float32bits(floats[i]) {
					t.Fatalf("value %d read back as %v (%#x), written %v (%#x)", i, v, math.Float32bits(v), floats[i], math.Float32bits(floats[i]))
				}
			}
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if small := info.Size() < int64(3*len(floats)); small != tc.asBytes { // bytes and labels: 2 bytes a value; float32 and labels: 5
				t.Errorf("entry of %d bytes for %d values: stored as bytes %t, want %t", info.Size(), len(floats), small, tc.asBytes)
			}
		})
	}
}

// TestFloatsAsBytes shows that float32 values are kept as bytes only when every one is a whole number
// from 0 to 255, wherever in a long table the one that is not falls.
func TestFloatsAsBytes(t *testing.T) {
	whole := make([]float32, 3*chunkBytes+17)
	for i := range whole {
		whole[i] = float32(i % 256)
	}
	b := floatsAsBytes(whole)
	if len(b) != len(whole) {
		t.Fatalf("%d whole bytes kept as %d bytes", len(whole), len(b))
	}
	for i, v := range b {
		if float32(v) != whole[i] {
			t.Fatalf("value %d: %v kept as %d", i, whole[i], v)
		}
	}
	for _, bad := range []float32{float32(math.Copysign(0, -1)), 0.5, 254.99998, 255.00002, 256, -1, 1e-45,
		float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 1e10, -1e10, 2147483648, 4294967296 + 7*256} {
		for _, at := range []int{0, chunkBytes - 1, 2*chunkBytes + 5, len(whole) - 1} {
			values := slices.Clone(whole)
			values[at] = bad
			if b := floatsAsBytes(values); b != nil {
				t.Errorf("%v at %d: kept as bytes", bad, at)
			}
		}
	}
}
