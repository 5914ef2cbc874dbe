package dataset

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tfsweep/tfsweep/internal/datafixtures"
)

// The formats' own writers (numpy, PIL, TensorFlow; CIFAR and IDX by their documented layouts) make the
// files these tests read (internal/datafixtures), once per test binary, into a directory TestMain removes.
var fixtureRun struct {
	once sync.Once
	dir  string
	err  error
}

func fixtures(t testing.TB) string {
	t.Helper()
	fixtureRun.once.Do(func() {
		if fixtureRun.dir, fixtureRun.err = os.MkdirTemp("", "tfsweep-data-fixtures-"); fixtureRun.err == nil {
			fixtureRun.err = datafixtures.Write(fixtureRun.dir)
		}
	})
	if fixtureRun.err != nil {
		t.Fatal(fixtureRun.err)
	}
	return fixtureRun.dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureRun.dir != "" {
		os.RemoveAll(fixtureRun.dir)
	}
	os.Exit(code)
}

// manifestCase is one data set the writers made and what it holds (see make_data_fixtures.py).
type manifestCase struct {
	Name        string
	Spec        string
	Train, Test manifestSplit
	Classes     int
	Names       []string
	Tolerance   float64
	// What Keras's Normalization(axis=-1), adapted on the training split, makes of the splits.
	Standardized *struct{ Train, Test []float64 }
}

type manifestSplit struct {
	Shape  []int
	Values []float64
	Labels []int32
}

func readManifest(t *testing.T, dir string) []manifestCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct{ Cases []manifestCase }
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Cases) < 20 {
		t.Fatalf("the manifest lists %d cases, want every format's", len(m.Cases))
	}
	return m.Cases
}

// TestFormatsReadWhatWritersWrote reads every data set the writers made and compares it, value for value,
// with the arrays the writers were given (or, for resized and JPEG images, what TensorFlow decodes): as a
// first read, and again from the decoded cache for the formats that have one.
func TestFormatsReadWhatWritersWrote(t *testing.T) {
	dir := fixtures(t)
	time.Sleep(racyMargin) // files written moments ago are not cached
	for _, tc := range readManifest(t, dir) {
		t.Run(tc.Name, func(t *testing.T) {
			src, err := ParseSource(tc.Spec)
			if err != nil {
				t.Fatal(err)
			}
			cache := t.TempDir()
			for _, read := range []string{"first read", "from the cache"} {
				d, err := Open(src, Options{CacheDir: cache})
				if err != nil {
					t.Fatal(err)
				}
				if d.Classes != tc.Classes {
					t.Errorf("%s: %d classes, want %d", read, d.Classes, tc.Classes)
				}
				if tc.Names != nil && !slices.Equal(d.ClassNames, tc.Names) {
					t.Errorf("%s: class names %q, want %q", read, d.ClassNames, tc.Names)
				}
				compareSplit(t, read+": train", d.Train, tc.Train, tc.Tolerance)
				compareSplit(t, read+": test", d.Test, tc.Test, tc.Tolerance)
				if tc.Standardized != nil {
					compareStandardized(t, d, tc.Standardized.Train, tc.Standardized.Test)
				}
			}
			cached := len(cacheEntries(cache)) + len(filesEntries(cache))
			switch src.Kind {
			case KindImages, KindIDX, KindCSV, KindTFRecord:
				if cached == 0 {
					t.Errorf("%s: nothing was cached", src.Kind)
				}
			default:
				if cached != 0 {
					t.Errorf("%s: %d entries cached, a format without a decoded cache", src.Kind, cached)
				}
			}
		})
	}
}

func compareSplit(t *testing.T, name string, got *Set, want manifestSplit, tolerance float64) {
	t.Helper()
	if !slices.Equal(got.Shape, want.Shape) {
		t.Errorf("%s: examples of %v, want %v", name, got.Shape, want.Shape)
	}
	if !slices.Equal(got.Labels, want.Labels) {
		t.Errorf("%s: labels %v, want %v", name, got.Labels, want.Labels)
	}
	n := len(got.Bytes) + len(got.Floats)
	if n != len(want.Values) {
		t.Fatalf("%s: %d values, want %d", name, n, len(want.Values))
	}
	worst, at := 0.0, -1
	for i, w := range want.Values {
		v := float64(valueAt(got, i))
		if diff := math.Abs(v - w); diff > worst || math.IsNaN(diff) {
			worst, at = diff, i
		}
	}
	if worst > tolerance {
		t.Errorf("%s: value %d is %v, want %v (the largest difference, %v; tolerance %v)", name, at, valueAt(got, at), want.Values[at], worst, tolerance)
	}
	if tolerance > 0 {
		t.Logf("%s: largest difference from the writer's values %v (tolerance %v)", name, worst, tolerance)
	}
}

// compareStandardized checks Standardize against Keras: float32 there, float64 sums here.
func compareStandardized(t *testing.T, d *Data, train, test []float64) {
	t.Helper()
	n, err := Standardize(d.Train, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, split := range []struct {
		name string
		set  *Set
		want []float64
	}{{"train", d.Train, train}, {"test", d.Test, test}} {
		got := make([]float32, len(split.want))
		n.Into(got, make([]int32, split.set.Len()), split.set, 0, split.set.Len())
		for i, w := range split.want {
			if diff := math.Abs(float64(got[i]) - w); diff > 1e-5*max(1, math.Abs(w)) {
				t.Errorf("standardised %s value %d is %v, Keras's %v", split.name, i, got[i], w)
				break
			}
		}
	}
}

// TestMNISTFormatsAgree reads the same MNIST images (the first of each split, class after class) as IDX,
// .npz and a PNG folder: the arrays are equal.
func TestMNISTFormatsAgree(t *testing.T) {
	dir := fixtures(t)
	open := func(spec string) *Data {
		t.Helper()
		src, err := ParseSource(spec)
		if err != nil {
			t.Fatal(err)
		}
		d, err := Open(src, Options{CacheDir: filepath.Join(dir, "cache")})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	idx := open("idx:" + filepath.Join(dir, "mnist-idx"))
	npz := open("npz:" + filepath.Join(dir, "mnist.npz"))
	png := open("images:" + filepath.Join(dir, "mnist-png", "train") + ":color=grayscale:test=" + filepath.Join(dir, "mnist-png", "test"))
	for _, split := range []struct {
		name          string
		idx, npz, png *Set
	}{{"train", idx.Train, npz.Train, png.Train}, {"test", idx.Test, npz.Test, png.Test}} {
		if split.idx.Len() < 100 || split.idx.Bytes == nil || split.npz.Bytes == nil || split.png.Bytes == nil {
			t.Fatalf("%s: %d examples; bytes held: idx %v, npz %v, png %v", split.name, split.idx.Len(), split.idx.Bytes != nil, split.npz.Bytes != nil, split.png.Bytes != nil)
		}
		if !slices.Equal(split.idx.Bytes, split.npz.Bytes) || !slices.Equal(split.idx.Labels, split.npz.Labels) {
			t.Errorf("%s: IDX and npz differ", split.name)
		}
		if !slices.Equal(split.npz.Bytes, split.png.Bytes) || !slices.Equal(split.npz.Labels, split.png.Labels) {
			t.Errorf("%s: npz and the PNG folder differ", split.name)
		}
		if split.png.Features() != split.idx.Features() || !slices.Equal(split.png.Shape, []int{28, 28, 1}) {
			t.Errorf("%s: PNG examples of %v, IDX of %v", split.name, split.png.Shape, split.idx.Shape)
		}
		if !slices.IsSorted(split.idx.Labels) || split.idx.Labels[0] == split.idx.Labels[split.idx.Len()-1] {
			t.Errorf("%s: labels %v…, want several classes, class after class", split.name, split.idx.Labels[:10])
		}
	}
	if idx.Classes != 10 || npz.Classes != 10 || png.Classes != 10 {
		t.Errorf("classes: idx %d, npz %d, png %d, want 10", idx.Classes, npz.Classes, png.Classes)
	}
}

// valueAt is the set's k-th value, example after example.
func valueAt(s *Set, k int) float32 {
	if s.Bytes != nil {
		return float32(s.Bytes[k])
	}
	return s.Floats[k]
}
