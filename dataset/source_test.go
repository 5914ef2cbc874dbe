package dataset

import (
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseSource(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want Source
	}{
		{"idx:data/mnist", Source{Kind: KindIDX, Path: "data/mnist"}},
		{"npz:/d/mnist.npz:holdout=0.25", Source{Kind: KindNPZ, Path: "/d/mnist.npz", Holdout: 0.25}},
		{"npy:dir:arrays=a,b,c,d:classes=7", Source{Kind: KindNPY, Path: "dir", Arrays: []string{"a", "b", "c", "d"}, Classes: 7}},
		{"cifar100:c:label=coarse", Source{Kind: KindCIFAR100, Path: "c", Label: "coarse"}},
		{"images:pics:size=64x48:color=grayscale:test=pics-test", Source{Kind: KindImages, Path: "pics", Size: [2]int{64, 48}, Color: ColorGrayscale, Test: "pics-test"}},
		{"csv:iris.csv:label=species:holdout=0.2", Source{Kind: KindCSV, Path: "iris.csv", Label: "species", Holdout: 0.2}},
		{"tfrecord:shards/*.tfrecord.gz:image=image/encoded:label=image/class/label:test=val-*",
			Source{Kind: KindTFRecord, Path: "shards/*.tfrecord.gz", Image: "image/encoded", Label: "image/class/label", Test: "val-*"}},
		// A path with a colon: the options start at the first known key=value.
		{"csv:C:/data/a:b.csv:holdout=0.5", Source{Kind: KindCSV, Path: "C:/data/a:b.csv", Holdout: 0.5}},
		{"CIFAR10:c", Source{Kind: KindCIFAR10, Path: "c"}},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := ParseSource(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			again, err := ParseSource(got.String())
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Errorf("String() %q reads back as %+v (%v)", got.String(), again, err)
			}
		})
	}
}

func TestParseSourceFaults(t *testing.T) {
	for _, tc := range []struct{ spec, says string }{
		{"mnist", "want KIND:PATH"},
		{"hdf5:x.h5", `unknown kind "hdf5"`},
		{"npz:", "want KIND:PATH"},
		{"npz::holdout=0.5", "no path"},
		{"npz:x.npz:holdout=1", "holdout=1: want a fraction between 0 and 1"},
		{"npz:x.npz:holdout=abc", "holdout=abc"},
		{"npz:x.npz:holdout=0.1:test=y.npz", "test= and holdout= both given"},
		{"npz:x.npz:holdout=0.1:holdout=0.2", "holdout given twice"},
		{"npz:x.npz:classes=0", "classes=0: want at least 1 class"},
		{"npz:x.npz:label=y", "label=y: npz takes no label option"},
		{"npz:x.npz:arrays=a,b", "arrays=a,b: want four names"},
		{"cifar100:c:label=medium", "label=medium: want coarse or fine"},
		{"images:p:size=64", "size=64: want HxW"},
		{"images:p:size=0x5", "size=0x5: want HxW"},
		{"images:p:color=sepia", "color=sepia: want grayscale or rgb"},
		{"images:p:test=", "test=: empty value"},
		{"tfrecord:*.tfrecord:image=x", "tfrecord needs image=FEATURE and label=FEATURE"},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			_, err := ParseSource(tc.spec)
			if !errors.Is(err, ErrSpec) {
				t.Fatalf("error %v, want %v", err, ErrSpec)
			}
			if !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), tc.spec) {
				t.Errorf("error %q does not name the spec and say %q", err, tc.says)
			}
		})
	}
}

// TestNormalizer checks unit scaling against x.astype("float32") / 255 and standardisation against the
// per-channel mean and standard deviation of the training split, worked out by hand.
func TestNormalizer(t *testing.T) {
	// Two 1×2 RGB examples: channel 0 holds 0, 10, 20, 30; channel 1 is constant; channel 2 holds 255s.
	train := &Set{Shape: []int{1, 2, 3}, Bytes: []byte{0, 7, 255, 10, 7, 255, 20, 7, 255, 30, 7, 255}, Labels: []int32{0, 1}}
	unit := Normalizer{Divisor: 255}
	got, labels := make([]float32, 6), make([]int32, 1)
	unit.Into(got, labels, train, 1, 2)
	for i, b := range train.Bytes[6:] {
		if want := float32(b) / 255; got[i] != want {
			t.Errorf("unit: value %d is %v, want %v", i, got[i], want)
		}
	}
	if labels[0] != 1 {
		t.Errorf("label %d, want 1", labels[0])
	}

	n, err := Standardize(train, 1)
	if err != nil {
		t.Fatal(err)
	}
	std0 := float32(math.Sqrt(125)) // the population variance of 0, 10, 20, 30
	if want := []float32{15, 7, 255}; !reflect.DeepEqual(n.Mean, want) {
		t.Errorf("means %v, want %v", n.Mean, want)
	}
	if want := []float32{std0, 1e-7, 1e-7}; !reflect.DeepEqual(n.Std, want) {
		t.Errorf("standard deviations %v, want %v", n.Std, want)
	}
	all := make([]float32, 12)
	n.Into(all, make([]int32, 2), train, 0, 2)
	if want := []float32{-15 / std0, 0, 0, -5 / std0, 0, 0, 5 / std0, 0, 0, 15 / std0, 0, 0}; !reflect.DeepEqual(all, want) {
		t.Errorf("standardised %v, want %v", all, want)
	}

	// Tabular rows standardise per feature; grey images as one channel.
	rows := &Set{Shape: []int{2}, Floats: []float32{1, 100, 3, 300}, Labels: []int32{0, 0}}
	if n, _ := Standardize(rows, 1); !reflect.DeepEqual(n.Mean, []float32{2, 200}) {
		t.Errorf("feature means %v, want [2 200]", n.Mean)
	}
	grey := &Set{Shape: []int{1, 2}, Bytes: []byte{0, 4}, Labels: []int32{0}}
	if n, _ := Standardize(grey, 2); !reflect.DeepEqual(n.Mean, []float32{1}) || !reflect.DeepEqual(n.Std, []float32{1}) {
		t.Errorf("grey: mean %v, std %v, want [1] and [1] (pixels halved first)", n.Mean, n.Std)
	}
}

// TestNormalizerOnAllCores checks that a whole split, converted on all cores in ranges, gets every value
// as the one-value formula gives it: bytes and floats, unit and standardised, from an example that is not
// the first, so that the ranges do not start on a channel boundary of the split.
func TestNormalizerOnAllCores(t *testing.T) {
	const features = 7 * 3
	const examples = 2 + parallelValues/features
	bytes := make([]byte, examples*features)
	floats := make([]float32, len(bytes))
	for i := range bytes {
		bytes[i] = byte(i*7 + i/13)
		floats[i] = float32(i%1000) - 0.25
	}
	labels := make([]int32, examples)
	std := Normalizer{Divisor: 255, Mean: []float32{0.1, 0.5, 0.9}, Std: []float32{0.3, 0.2, 0.7}}
	for _, tc := range []struct {
		name string
		set  *Set
		norm Normalizer
	}{
		{"bytes, unit", &Set{Shape: []int{7, 1, 3}, Bytes: bytes, Labels: labels}, Normalizer{Divisor: 255}},
		{"bytes, standardised", &Set{Shape: []int{7, 1, 3}, Bytes: bytes, Labels: labels}, std},
		{"floats, standardised", &Set{Shape: []int{7, 1, 3}, Floats: floats, Labels: labels}, std},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from := 1
			got := make([]float32, (examples-from)*features)
			if len(got) < parallelValues {
				t.Fatalf("%d values: fewer than the %d converted on all cores", len(got), parallelValues)
			}
			tc.norm.Into(got, make([]int32, examples-from), tc.set, from, examples)
			for i := range got {
				k := from*features + i
				var want float32
				if tc.set.Bytes != nil {
					want = float32(tc.set.Bytes[k]) / tc.norm.Divisor
				} else {
					want = tc.set.Floats[k] / tc.norm.Divisor
				}
				if c := len(tc.norm.Mean); c > 0 {
					want = (want - tc.norm.Mean[i%c]) / tc.norm.Std[i%c]
				}
				if math.Float32bits(got[i]) != math.Float32bits(want) {
					t.Fatalf("value %d is %v, want %v", i, got[i], want)
				}
			}
		})
	}
}

func TestBudget(t *testing.T) {
	d := &Data{
		Train: &Set{Shape: []int{28, 28}, Bytes: make([]byte, 3*784), Labels: make([]int32, 3)},
		Test:  &Set{Shape: []int{28, 28}, Bytes: make([]byte, 784), Labels: make([]int32, 1)},
	}
	need, err := d.Float32Bytes()
	if want := int64(4 * (784 + 1) * 4); err != nil || need != want {
		t.Fatalf("Float32Bytes = %d, %v, want %d", need, err, want)
	}
	if err := d.CheckBudget(need); err != nil {
		t.Errorf("exactly the budget refused: %v", err)
	}
	err = d.CheckBudget(need - 1)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "12560 B") || !strings.Contains(err.Error(), "12559 B") {
		t.Errorf("one byte over: %v, want ErrTooLarge naming both sizes", err)
	}
	// A shape whose size overflows int64 is refused, not wrapped around.
	huge := &Data{Train: &Set{Shape: []int{1 << 31, 1 << 31}, Labels: make([]int32, 1)}, Test: &Set{Shape: []int{1}}}
	if _, err := huge.Float32Bytes(); !errors.Is(err, ErrTooLarge) {
		t.Errorf("overflowing shape: %v, want ErrTooLarge", err)
	}
}

// TestImageCache shows that a second read of a folder comes from the cache, that a folder whose files
// changed is decoded again, even a file rewritten in place with its size and mtime restored, and that a
// folder changed moments ago is not cached.
func TestImageCache(t *testing.T) {
	dir := copyTree(t, fixtures(t), "images-luma")
	cache := t.TempDir()
	src, err := ParseSource("images:" + dir + ":color=grayscale:holdout=0.5")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(src, Options{CacheDir: cache}); err != nil {
		t.Fatal(err)
	}
	if entries := cacheEntries(cache); len(entries) != 0 {
		t.Fatalf("a folder copied moments ago was cached: %v", entries)
	}
	time.Sleep(racyMargin)
	first, err := Open(src, Options{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	markCachedPixel(t, cache)
	second, err := Open(src, Options{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := second.Train.Bytes[0], first.Train.Bytes[0]^0xff; got != want {
		t.Fatalf("second read's first pixel %d, want the cache's mark %d", got, want)
	}

	t.Run("a file added", func(t *testing.T) {
		extra := filepath.Join(dir, "cat", "00000-copy.png")
		if out, err := exec.Command("cp", filepath.Join(dir, "cat", "00000.png"), extra).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v\n%s", err, out)
		}
		defer os.Remove(extra)
		d, err := Open(src, Options{CacheDir: cache})
		if err != nil {
			t.Fatal(err)
		}
		if n, want := d.Train.Len()+d.Test.Len(), first.Train.Len()+first.Test.Len()+1; n != want {
			t.Errorf("%d examples, want %d", n, want)
		}
		if d.Train.Bytes[0] != first.Train.Bytes[0] {
			t.Error("the first pixel is the cache's mark: the changed folder was served from the cache")
		}
	})
	t.Run("a file rewritten in place, size and mtime restored", func(t *testing.T) {
		if runtime.GOOS != "linux" {
			t.Skip("the ctime is read on Linux only")
		}
		if _, err := Open(src, Options{CacheDir: cache}); err != nil { // the entry is the folder's as it is now
			t.Fatal(err)
		}
		victim := filepath.Join(dir, "cat", "00000.png")
		info, err := os.Stat(victim)
		if err != nil {
			t.Fatal(err)
		}
		flipByte(t, victim, info.Size()/2)
		if err := os.Chtimes(victim, time.Now(), info.ModTime()); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(src, Options{CacheDir: cache}); !errors.Is(err, ErrDecode) {
			t.Errorf("after the rewrite: %v, want %v", err, ErrDecode)
		}
	})
}

// markCachedPixel inverts the first pixel of the one entry of cache, keeping its fingerprint: only a read
// from the cache returns the mark.
func markCachedPixel(t *testing.T, cache string) {
	t.Helper()
	entries := cacheEntries(cache)
	if len(entries) != 1 {
		t.Fatalf("cache holds %v, want one decoded folder", entries)
	}
	entry := readCacheEntry(entries[0])
	if entry.err != nil {
		t.Fatal(entry.err)
	}
	entry.set.Bytes[0] ^= 0xff
	if err := writeCacheEntry(entries[0], entry.set, entry.names, entry.fingerprint); err != nil {
		t.Fatal(err)
	}
}

func cacheEntries(cache string) []string {
	entries, _ := filepath.Glob(filepath.Join(cache, imageCachePrefix+"*.npz"))
	return entries
}

// TestImageCacheBound shows that Open keeps the newest maxCacheEntries entries: each size= is an entry.
func TestImageCacheBound(t *testing.T) {
	dir := filepath.Join(fixtures(t), "images-luma")
	cache := t.TempDir()
	time.Sleep(racyMargin) // the fixtures may have been written moments ago
	for i := range maxCacheEntries + 2 {
		src, err := ParseSource(fmt.Sprintf("images:%s:color=grayscale:size=%dx2:holdout=0.5", dir, i+1))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Open(src, Options{CacheDir: cache}); err != nil {
			t.Fatal(err)
		}
	}
	if entries := cacheEntries(cache); len(entries) != maxCacheEntries {
		t.Errorf("cache holds %d entries, want %d", len(entries), maxCacheEntries)
	}
}

// TestPruneImageCache shows which entries pruning removes, an image folder's or a split's (files-): the
// oldest beyond the count or the size, never the one in use, and a dead writer's temporary file only once
// it is old.
func TestPruneImageCache(t *testing.T) {
	now := time.Now()
	// Entries a (newest) to e (oldest), 100 bytes each; "keep" is the one in use.
	files := []struct {
		name string
		age  time.Duration
	}{
		{"images-a.npz", 1 * time.Minute}, {"images-b.npz", 2 * time.Minute}, {"images-c.npz", 3 * time.Minute},
		{"images-d.npz", 4 * time.Minute}, {"images-e.npz", 5 * time.Minute}, {"files-f.npz", 6 * time.Minute},
		{".images-x.npz.tmp-1", time.Minute}, {".images-y.npz.tmp-2", 2 * staleTempAge}, {"notes.txt", time.Hour},
	}
	for _, tc := range []struct {
		name       string
		keep       string
		maxEntries int
		maxBytes   int64
		want       []string
	}{
		{"under both bounds", "images-a.npz", 10, 1000, []string{"a", "b", "c", "d", "e", "f"}},
		{"count", "images-a.npz", 3, 1000, []string{"a", "b", "c"}},
		{"size", "images-a.npz", 10, 250, []string{"a", "b"}},
		{"the entry in use is kept", "images-e.npz", 2, 1000, []string{"a", "b", "e"}},
		{"the entry in use alone exceeds the size", "images-c.npz", 10, 50, []string{"c"}},
		{"a split's entry counts as a folder's", "files-f.npz", 2, 1000, []string{"a", "b", "f"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range files {
				p := writeFile(t, dir, f.name, make([]byte, 100))
				if err := os.Chtimes(p, now, now.Add(-f.age)); err != nil {
					t.Fatal(err)
				}
			}
			if err := pruneCache(dir, filepath.Join(dir, tc.keep), tc.maxEntries, tc.maxBytes); err != nil {
				t.Fatal(err)
			}
			var got []string
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				got = append(got, e.Name())
			}
			want := []string{".images-x.npz.tmp-1", "notes.txt"}
			for _, k := range tc.want {
				if k == "f" {
					want = append(want, "files-f.npz")
					continue
				}
				want = append(want, "images-"+k+".npz")
			}
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("left %q, want %q", got, want)
			}
		})
	}
}

// TestWalkClassAsWalkDir shows that walkClass lists what filepath.WalkDir does, in its order: images of
// every case of extension, in nested and empty subfolders, beside other files, and symbolic links, to an
// image (listed) and to a folder (not followed).
func TestWalkClassAsWalkDir(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"b.png", "a.PNG", "c.jpeg", "notes.txt", "z.jpg", "sub/x.png", "sub/deeper/y.JPG",
		"sub/deeper/readme", "a-sub/q.png", "empty/", "sub.png/inside.png"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(name, "/") {
			writeFile(t, filepath.Dir(p), filepath.Base(p), []byte("x"))
		}
	}
	for link, target := range map[string]string{"link.png": "b.png", "linked-dir": "sub"} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := walkClass(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	want, err := walkClassSlowly(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 9 || !reflect.DeepEqual(got, want) {
		t.Errorf("walkClass listed\n%v\nfilepath.WalkDir (9 images)\n%v", got, want)
	}
	if _, err := walkClass(filepath.Join(dir, "none"), 0); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing folder: %v, want %v", err, os.ErrNotExist)
	}
}

// TestReadSplitsBeside shows that a format whose test split needs the training split's class names, when
// it can tell them before the training split is read, has its test split read beside it with those names;
// and read again, with the names the training split's reader gave, when they were not those (a class
// folder added in between).
func TestReadSplitsBeside(t *testing.T) {
	for _, tc := range []struct {
		name       string
		trainNames []string
		wantReads  []string // the test split's reads, by the class names each was given
	}{
		{"the names told", []string{"a", "b"}, []string{"[a b]"}},
		{"other names read", []string{"a", "b", "c"}, []string{"[a b]", "[a b c]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var testReads []string
			f := format{
				classes: func(string) ([]string, error) { return []string{"a", "b"}, nil },
				read: func(_ string, _ Source, test bool, classes []string) (*Set, []string, error) {
					s := &Set{Shape: []int{1}, Bytes: []byte{0}, Labels: []int32{int32(len(classes))}}
					if !test {
						return s, tc.trainNames, nil
					}
					mu.Lock()
					defer mu.Unlock()
					testReads = append(testReads, fmt.Sprint(classes))
					return s, classes, nil
				},
			}
			d, err := f.readSplits(Source{Kind: KindImages, Path: "train", Test: "test"})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(testReads, tc.wantReads) {
				t.Errorf("the test split read with %q, want %q", testReads, tc.wantReads)
			}
			if got := int(d.Test.Labels[0]); got != len(tc.trainNames) {
				t.Errorf("the test split kept is the one read with %d names, want %d", got, len(tc.trainNames))
			}
		})
	}
}
