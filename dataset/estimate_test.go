package dataset

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Estimate gives, from headers and file sizes alone, what every data set the writers made takes as
// float32 once read.
func TestEstimateIsWhatOpenReads(t *testing.T) {
	dir := fixtures(t)
	for _, tc := range readManifest(t, dir) {
		t.Run(tc.Name, func(t *testing.T) {
			src, err := ParseSource(tc.Spec)
			if err != nil {
				t.Fatal(err)
			}
			d, err := Open(src, Options{CacheDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			want, err := d.Float32Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if got, err := Estimate(src); err != nil || got != want {
				t.Errorf("Estimate %d, %v; Open read %d bytes as float32", got, err, want)
			}
			// A budget of exactly that admits it; a byte less refuses it before reading.
			if _, err := Open(src, Options{CacheDir: t.TempDir(), Budget: want}); err != nil {
				t.Errorf("a budget of %d: %v", want, err)
			}
			// Refused by what the files declare (Open's check after reading words it otherwise).
			if _, err := Open(src, Options{CacheDir: t.TempDir(), Budget: want - 1}); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "its files declare") {
				t.Errorf("a budget of %d: %v, want %v before reading", want-1, err, ErrTooLarge)
			}
		})
	}
}

// npyHeader is a version 1 .npy header declaring an array of that shape and no data after it.
func npyHeader(descr, shape string) []byte {
	dict := "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }"
	dict += strings.Repeat(" ", 63-(10+len(dict))%64) + "\n"
	var b bytes.Buffer
	b.WriteString(npyMagic + "\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(len(dict)))
	b.WriteString(dict)
	return b.Bytes()
}

// writeNested writes b to path, making its directory.
func writeNested(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Sources whose few bytes declare far more data than the budget are refused with both sizes, naming
// the source, before their examples are read: the error is the budget's, not the truncation the reader
// would find, and the refusal allocates almost nothing.
func TestBudgetRefusesBeforeReading(t *testing.T) {
	dir := t.TempDir()
	idxDir := filepath.Join(dir, "idx")
	var idx bytes.Buffer
	binary.Write(&idx, binary.BigEndian, []uint32{0x803, 1_000_000, 1000, 1000}) // 1e12 pixels
	writeNested(t, filepath.Join(idxDir, TrainImagesFile), idx.Bytes())
	writeNested(t, filepath.Join(idxDir, TestImagesFile), idx.Bytes())

	npyDir := filepath.Join(dir, "npy")
	writeNested(t, filepath.Join(npyDir, "x_train.npy"), npyHeader("|u1", "(60000000, 28, 28)"))
	writeNested(t, filepath.Join(npyDir, "x_test.npy"), npyHeader("|u1", "(10, 28, 28)"))

	var npz bytes.Buffer
	z := zip.NewWriter(&npz)
	for name, header := range map[string][]byte{"x_train.npy": npyHeader("<f4", "(100000000, 784)"), "x_test.npy": npyHeader("<f4", "(1, 784)")} {
		w, _ := z.Create(name)
		w.Write(header)
	}
	z.Close()
	writeNested(t, filepath.Join(dir, "big.npz"), npz.Bytes())

	cifarDir := filepath.Join(dir, "cifar")
	for _, name := range []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"} {
		writeNested(t, filepath.Join(cifarDir, name), nil)
		if err := os.Truncate(filepath.Join(cifarDir, name), 3073*1_000_000); err != nil { // sparse: no disk used
			t.Fatal(err)
		}
	}

	var img bytes.Buffer
	png.Encode(&img, image.NewGray(image.Rect(0, 0, 4, 4)))
	for _, name := range []string{"a/1.png", "a/2.png", "b/3.png"} {
		writeNested(t, filepath.Join(dir, "images", name), img.Bytes())
	}

	// The sizes as Float32Bytes counts them: idx 2·10⁶ examples of 10⁶+1 values; npy 6·10⁷ of 785 and
	// 10 of 785; npz 10⁸ of 785 and 1 of 785; CIFAR 6·10⁶ records of 3072+1; three RGB images of
	// 8000×8000×3+1; five TFRecord images resized to 16384×16384×3, plus their labels; every value
	// four bytes.
	const budget = 64 << 20
	for _, tc := range []struct{ name, spec, size string }{
		{"idx header", "idx:" + idxDir, "7629402.2 MiB"},
		{"npy header", "npy:" + npyDir, "179672.3 MiB"},
		{"npz header", "npz:" + filepath.Join(dir, "big.npz"), "299453.7 MiB"},
		{"cifar file sizes", "cifar10:" + cifarDir, "70335.4 MiB"},
		{"images resized", "images:" + filepath.Join(dir, "images") + ":size=8000x8000:holdout=0.5", "2197.3 MiB"},
		{"tfrecord resized", "tfrecord:" + filepath.Join(fixtures(t), "tfrecord", "png-*.tfrecord.gz") + ":image=image:label=label:size=16384x16384:holdout=0.4", "15360.0 MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := ParseSource(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			// Opened, and described as the front reads, also through an empty decoded cache (where
			// Describe checks the estimate before it decodes a split, not before it looks at the cache).
			for _, read := range []struct {
				name string
				read func() error
			}{
				{"Open", func() error { _, err := Open(src, Options{Budget: budget}); return err }},
				{"Describe", func() error { _, err := Describe(src, Options{Budget: budget}); return err }},
				{"Describe through a cache", func() error {
					_, err := Describe(src, Options{Budget: budget, CacheDir: t.TempDir()})
					return err
				}},
			} {
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				err := read.read()
				runtime.ReadMemStats(&after)
				if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), src.String()) ||
					!strings.Contains(err.Error(), tc.size+" as float32, more than the budget of 64.0 MiB") {
					t.Errorf("%s: %v; want %v naming %s, %s and the budget", read.name, err, ErrTooLarge, src, tc.size)
				}
				if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
					t.Errorf("%s: the refusal allocated %d bytes", read.name, grew)
				}
			}
		})
	}
}

// A CSV's extent is its rows after the header and the header's columns less the label's, never below
// what the reader finds.
func TestCSVExtent(t *testing.T) {
	wide := strings.Repeat("f,", chunkBytes) + "label\n" + strings.Repeat("1,", chunkBytes) + "0\n"
	for _, tc := range []struct {
		name, text string
		want       extent
	}{
		{"header only", "a,b,label\n", extent{0, 2}},
		{"header without its line break", "a,b,label", extent{0, 2}},
		{"rows", "a,b,label\n1,2,0\n3,4,1\n", extent{2, 2}},
		{"a last row without its line break", "a,b,label\n1,2,0\n3,4,1", extent{2, 2}},
		{"a quoted line break counts twice", "a,b,label\n1,\"x\ny\",0\n", extent{2, 2}},
		{"a header wider than a read", wide, extent{1, chunkBytes}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "t.csv")
			writeNested(t, path, []byte(tc.text))
			if got, err := csvExtent(path); err != nil || got != tc.want {
				t.Errorf("%+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}
