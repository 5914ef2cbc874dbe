package dataset

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// copyTree copies the fixture directory name into a fresh directory, so a case may damage its copy.
func copyTree(t *testing.T, fixturesDir, name string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(name))
	if out, err := exec.Command("cp", "-a", filepath.Join(fixturesDir, name), dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	return dst
}

func truncateBy(t *testing.T, path string, n int64) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, info.Size()-n); err != nil {
		t.Fatal(err)
	}
}

func flipByte(t *testing.T, path string, offset int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[offset] ^= 0x55
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
}

// record frames data as one TFRecord record, CRCs right.
func record(data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(data)))
	b = binary.LittleEndian.AppendUint32(b, maskedCRC(b))
	b = append(b, data...)
	return binary.LittleEndian.AppendUint32(b, maskedCRC(data))
}

// idxSet writes an IDX directory of n uint8 images of 2×2 and the given train labels; the test split is
// one image labelled 0.
func idxSet(t *testing.T, trainImages []byte, n int, trainLabels []byte) string {
	dir := t.TempDir()
	writeFile(t, dir, TrainImagesFile, idx(imagesMagic, []uint32{uint32(n), 2, 2}, trainImages))
	writeFile(t, dir, TrainLabelsFile, trainLabels)
	writeFile(t, dir, TestImagesFile, idx(imagesMagic, []uint32{1, 2, 2}, make([]byte, 4)))
	writeFile(t, dir, TestLabelsFile, labels(0))
	return dir
}

// malformedCase is a damaged or inconsistent data source: setup makes it and returns its spec and what the
// error must say (the file and the position); the error must wrap want (nil: any).
type malformedCase struct {
	name  string
	setup func(t *testing.T) (spec string, says []string)
	want  error
}

// TestMalformedData opens damaged and inconsistent data of every format: each is refused with an error
// that wraps the fault, names the file and says where in it.
func TestMalformedData(t *testing.T) {
	fx := fixtures(t)
	bad := filepath.Join(fx, "bad")
	var cases []malformedCase
	for _, faults := range []func(fx, bad string) []malformedCase{idxFaults, npyFaults, npzFaults, cifarFaults, imageFaults, csvFaults, tfrecordFaults} {
		cases = append(cases, faults(fx, bad)...)
	}
	if len(cases) < 40 {
		t.Fatalf("%d malformed cases, the issue asks for at least 40", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec, says := tc.setup(t)
			src, err := ParseSource(spec)
			if err != nil {
				t.Fatal(err)
			}
			// Opened and described (as the front reads), without a cache and through the decoded cache as the
			// commands read: the same fault.
			for _, opts := range []Options{{}, {CacheDir: t.TempDir()}} {
				_, describeErr := Describe(src, opts)
				d, err := Open(src, opts)
				if err == nil {
					t.Fatalf("cache %q: read %d+%d examples, want an error", opts.CacheDir, d.Train.Len(), d.Test.Len())
				}
				t.Log(err)
				if describeErr == nil || describeErr.Error() != err.Error() {
					t.Errorf("cache %q: Describe's error %v, want Open's %q", opts.CacheDir, describeErr, err)
				}
				if tc.want != nil && !errors.Is(err, tc.want) {
					t.Errorf("error %q is not %q", err, tc.want)
				}
				for _, s := range says {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not say %q", err, s)
					}
				}
			}
		})
	}
}

// idxFaults are IDX sets in their documented layout, damaged or inconsistent.
func idxFaults(fx, bad string) []malformedCase {
	return []malformedCase{
		{"idx truncated gzip images", func(t *testing.T) (string, []string) {
			dir := idxSet(t, nil, 1, labels(0))
			p := writeFile(t, dir, TrainImagesFile+".gz", gz(t, idx(imagesMagic, []uint32{3, 2, 2}, make([]byte, 8))))
			os.Remove(filepath.Join(dir, TrainImagesFile))
			return "idx:" + dir, []string{p, "declare 12 data bytes, file holds 8"}
		}, ErrTruncated},
		{"idx counts differ", func(t *testing.T) (string, []string) {
			dir := idxSet(t, make([]byte, 8), 2, labels(0, 1, 1))
			return "idx:" + dir, []string{TrainImagesFile, "holds 2 examples", TrainLabelsFile, "3 labels"}
		}, ErrCountMismatch},
		{"idx unknown element type", func(t *testing.T) (string, []string) {
			dir := idxSet(t, make([]byte, 4), 1, labels(0))
			p := writeFile(t, dir, TrainImagesFile, idx(0x00000a03, []uint32{1, 2, 2}, make([]byte, 4)))
			return "idx:" + dir, []string{p, "0x0a"}
		}, ErrElementType},
		{"idx fractional float labels", func(t *testing.T) (string, []string) {
			dir := idxSet(t, make([]byte, 4), 1, idx(0x00000d01, []uint32{1}, []byte{0x3f, 0, 0, 0}))
			return "idx:" + dir, []string{TrainLabelsFile, "label 0.5 of example 0"}
		}, ErrLabelRange},
		{"idx negative int8 label", func(t *testing.T) (string, []string) {
			dir := idxSet(t, make([]byte, 8), 2, idx(0x00000901, []uint32{2}, []byte{1, 0xff}))
			return "idx:" + dir, []string{TrainLabelsFile, "label -1 of example 1"}
		}, ErrLabelRange},
		{"idx label above classes=", func(t *testing.T) (string, []string) {
			dir := idxSet(t, make([]byte, 8), 2, labels(1, 3))
			return "idx:" + dir + ":classes=3", []string{"training split", "label 3 of example 1, want 0..2"}
		}, ErrLabelRange},
		{"idx trailing bytes", func(t *testing.T) (string, []string) {
			dir := idxSet(t, make([]byte, 5), 1, labels(0))
			return "idx:" + dir, []string{TrainImagesFile, "declare 4 data bytes, file holds 5"}
		}, ErrTrailing},
		{"idx corrupt gzip", func(t *testing.T) (string, []string) {
			dir := idxSet(t, make([]byte, 4), 1, labels(0))
			z := gz(t, labels(0))
			z[len(z)-6] ^= 0xff // the CRC
			p := writeFile(t, dir, TrainLabelsFile, z)
			return "idx:" + dir, []string{p}
		}, ErrCorruptGzip},
		{"idx test files missing", func(t *testing.T) (string, []string) {
			dir := idxSet(t, make([]byte, 4), 1, labels(0))
			os.Remove(filepath.Join(dir, TestImagesFile))
			return "idx:" + dir, []string{dir, TestImagesFile}
		}, ErrMissing},
		{"idx FIFO", func(t *testing.T) (string, []string) {
			dir := idxSet(t, make([]byte, 4), 1, labels(0))
			os.Remove(filepath.Join(dir, TrainLabelsFile))
			mkfifo(t, filepath.Join(dir, TrainLabelsFile))
			return "idx:" + dir, []string{TrainLabelsFile, "not a regular file"}
		}, nil},
	}
}

// npyFaults are .npy files as numpy wrote them, then damaged or swapped for ones a reader must refuse.
func npyFaults(fx, bad string) []malformedCase {
	return []malformedCase{
		{"npy Fortran order", func(t *testing.T) (string, []string) {
			dir := copyTree(t, fx, "npy-v1")
			copyFile(t, filepath.Join(bad, "fortran.npy"), filepath.Join(dir, "x_train.npy"))
			return "npy:" + dir, []string{"x_train.npy", "Fortran-order"}
		}, ErrUnsupported},
		{"npy object array", func(t *testing.T) (string, []string) {
			dir := copyTree(t, fx, "npy-v1")
			copyFile(t, filepath.Join(bad, "object.npy"), filepath.Join(dir, "x_train.npy"))
			return "npy:" + dir, []string{"x_train.npy", "object array"}
		}, ErrUnsupported},
		{"npy complex", func(t *testing.T) (string, []string) {
			dir := copyTree(t, fx, "npy-v1")
			copyFile(t, filepath.Join(bad, "complex.npy"), filepath.Join(dir, "x_test.npy"))
			return "npy:" + dir, []string{"x_test.npy", `"<c8"`}
		}, ErrUnsupported},
		{"npy fractional labels", func(t *testing.T) (string, []string) {
			dir := copyTree(t, fx, "npy-v1")
			copyFile(t, filepath.Join(bad, "float-labels.npy"), filepath.Join(dir, "y_train.npy"))
			return "npy:" + dir, []string{"y_train.npy", "label 0.5 of example 0"}
		}, ErrLabelRange},
		{"npy negative labels", func(t *testing.T) (string, []string) {
			dir := copyTree(t, fx, "npy-v1")
			copyFile(t, filepath.Join(bad, "negative-labels.npy"), filepath.Join(dir, "y_test.npy"))
			return "npy:" + dir, []string{"y_test.npy", "label -1 of example 1"}
		}, ErrLabelRange},
		{"npy truncated", func(t *testing.T) (string, []string) {
			dir := copyTree(t, fx, "npy-v1")
			truncateBy(t, filepath.Join(dir, "x_train.npy"), 3)
			return "npy:" + dir, []string{"x_train.npy", "needs 72 data bytes, the array holds 69"}
		}, ErrTruncated},
		{"npy trailing bytes", func(t *testing.T) (string, []string) {
			dir := copyTree(t, fx, "npy-v1")
			f, _ := os.OpenFile(filepath.Join(dir, "y_test.npy"), os.O_APPEND|os.O_WRONLY, 0)
			f.Write([]byte{1, 2})
			f.Close()
			return "npy:" + dir, []string{"y_test.npy", "holds 18"}
		}, ErrTrailing},
		{"npy bad magic", func(t *testing.T) (string, []string) {
			dir := copyTree(t, fx, "npy-v2")
			flipByte(t, filepath.Join(dir, "x_test.npy"), 1)
			return "npy:" + dir, []string{"x_test.npy", "not a .npy array"}
		}, ErrFormat},
		{"npy unknown version", func(t *testing.T) (string, []string) {
			dir := copyTree(t, fx, "npy-v3")
			b, _ := os.ReadFile(filepath.Join(dir, "x_train.npy"))
			b[6] = 4
			os.WriteFile(filepath.Join(dir, "x_train.npy"), b, 0o644)
			return "npy:" + dir, []string{"x_train.npy", "version 4.0"}
		}, ErrUnsupported},
		{"npy header cut short", func(t *testing.T) (string, []string) {
			dir := copyTree(t, fx, "npy-v1")
			os.Truncate(filepath.Join(dir, "y_train.npy"), 40)
			return "npy:" + dir, []string{"y_train.npy", "inside the header"}
		}, ErrTruncated},
	}
}

// npzFaults are .npz archives as numpy wrote them, inconsistent or damaged.
func npzFaults(fx, bad string) []malformedCase {
	return []malformedCase{
		{"npz counts differ", func(t *testing.T) (string, []string) {
			p := filepath.Join(bad, "count-mismatch.npz")
			return "npz:" + p, []string{p + "[x_train]", "3 examples", p + "[y_train]", "2 labels"}
		}, ErrCountMismatch},
		{"npz no such array", func(t *testing.T) (string, []string) {
			p := filepath.Join(fx, "npz", "keras.npz")
			return "npz:" + p + ":arrays=images,y_train,x_test,y_test", []string{p, `no array "images"`, "x_train, y_train"}
		}, ErrMissing},
		{"npz without test arrays", func(t *testing.T) (string, []string) {
			p := filepath.Join(bad, "no-test.npz")
			return "npz:" + p, []string{p, `no array "x_test"`}
		}, ErrMissing},
		{"npz splits of different shapes", func(t *testing.T) (string, []string) {
			return "npz:" + filepath.Join(bad, "shape-mismatch.npz"), []string{"shape-mismatch.npz", "training examples are [2], test examples [3]"}
		}, ErrShape},
		{"npz not a zip", func(t *testing.T) (string, []string) {
			p := writeFile(t, t.TempDir(), "x.npz", []byte("PK but not a zip at all"))
			return "npz:" + p, []string{p, "not a zip archive"}
		}, ErrFormat},
		{"npz entry damaged", func(t *testing.T) (string, []string) {
			dir := copyTree(t, fx, "npz")
			flipByte(t, filepath.Join(dir, "keras.npz"), 200) // inside x_train's stored data
			return "npz:" + filepath.Join(dir, "keras.npz"), []string{"keras.npz[x_train.npy]", "checksum"}
		}, ErrChecksum},
		{"npz FIFO", func(t *testing.T) (string, []string) {
			p := filepath.Join(t.TempDir(), "fifo.npz")
			mkfifo(t, p)
			return "npz:" + p, []string{p, "not a regular file"}
		}, ErrNotRegular},
	}
}

// cifarFaults are CIFAR batches in their documented layout, then damaged.
func cifarFaults(fx, bad string) []malformedCase {
	return []malformedCase{
		{"cifar10 batch cut short", func(t *testing.T) (string, []string) {
			dir := copyTree(t, fx, "cifar10")
			truncateBy(t, filepath.Join(dir, "data_batch_2.bin"), 100)
			return "cifar10:" + dir, []string{"data_batch_2.bin", "record 1 at offset 3073 is cut short"}
		}, ErrTruncated},
		{"cifar10 label 10", func(t *testing.T) (string, []string) {
			dir := copyTree(t, fx, "cifar10")
			b, _ := os.ReadFile(filepath.Join(dir, "data_batch_1.bin"))
			b[2*3073] = 10
			os.WriteFile(filepath.Join(dir, "data_batch_1.bin"), b, 0o644)
			return "cifar10:" + dir, []string{"data_batch_1.bin", "record 2 at offset 6146: label 10, want 0..9"}
		}, ErrLabelRange},
		{"cifar10 batch missing", func(t *testing.T) (string, []string) {
			dir := copyTree(t, fx, "cifar10")
			os.Remove(filepath.Join(dir, "data_batch_3.bin"))
			return "cifar10:" + dir, []string{"data_batch_3.bin"}
		}, fs.ErrNotExist},
		{"cifar10 nine class names", func(t *testing.T) (string, []string) {
			dir := copyTree(t, fx, "cifar10")
			os.WriteFile(filepath.Join(dir, "batches.meta.txt"), []byte("a\nb\nc\nd\ne\nf\ng\nh\ni\n"), 0o644)
			return "cifar10:" + dir, []string{"batches.meta.txt", "9 class names, want 10"}
		}, ErrCountMismatch},
		{"cifar100 fine label 100", func(t *testing.T) (string, []string) {
			dir := copyTree(t, fx, "cifar100")
			b, _ := os.ReadFile(filepath.Join(dir, "test.bin"))
			b[3074+1] = 100
			os.WriteFile(filepath.Join(dir, "test.bin"), b, 0o644)
			return "cifar100:" + dir + ":label=fine", []string{"test.bin", "record 1 at offset 3074: label 100, want 0..99"}
		}, ErrLabelRange},
	}
}

// imageFaults are image folders as PIL wrote them, inconsistent or damaged.
func imageFaults(fx, bad string) []malformedCase {
	return []malformedCase{
		{"images of two sizes", func(t *testing.T) (string, []string) {
			return "images:" + filepath.Join(bad, "mixed-sizes") + ":holdout=0.5", []string{filepath.Join("mixed-sizes", "a", "1.png"), "[5 4 3] after examples of [4 4 3]"}
		}, ErrShape},
		{"image undecodable", func(t *testing.T) (string, []string) {
			return "images:" + filepath.Join(bad, "undecodable") + ":holdout=0.5", []string{filepath.Join("undecodable", "a", "1.png")}
		}, ErrDecode},
		{"image cut short", func(t *testing.T) (string, []string) {
			dir := copyTree(t, fx, "images-luma")
			truncateBy(t, filepath.Join(dir, "dog", "00003.png"), 30)
			return "images:" + dir + ":holdout=0.5", []string{filepath.Join("dog", "00003.png")}
		}, ErrDecode},
		{"images without class folders", func(t *testing.T) (string, []string) {
			return "images:" + filepath.Join(bad, "no-classes") + ":holdout=0.5", []string{"no-classes", "no class folders"}
		}, ErrMissing},
		{"images test class unknown", func(t *testing.T) (string, []string) {
			dir := copyTree(t, fx, "images-luma")
			test := copyTree(t, fx, "images-luma")
			os.Rename(filepath.Join(test, "dog"), filepath.Join(test, "wolf"))
			return "images:" + dir + ":color=grayscale:test=" + test, []string{test, `"wolf"`}
		}, ErrUnknownLabel},
		{"image FIFO", func(t *testing.T) (string, []string) {
			dir := copyTree(t, fx, "images-luma")
			mkfifo(t, filepath.Join(dir, "cat", "fifo.png"))
			return "images:" + dir + ":holdout=0.5", []string{filepath.Join("cat", "fifo.png"), "not a regular file"}
		}, ErrNotRegular},
	}
}

// csvFaults are CSV tables a reader must refuse.
func csvFaults(fx, bad string) []malformedCase {
	return []malformedCase{
		{"csv row of two fields", func(t *testing.T) (string, []string) {
			p := filepath.Join(bad, "ragged.csv")
			return "csv:" + p + ":holdout=0.5", []string{p, "line 3", "wrong number of fields"}
		}, ErrFields},
		{"csv text feature", func(t *testing.T) (string, []string) {
			p := filepath.Join(bad, "text.csv")
			return "csv:" + p + ":holdout=0.5", []string{p, `line 3, column "b": "x"`}
		}, ErrNotNumber},
		{"csv label column missing", func(t *testing.T) (string, []string) {
			p := filepath.Join(fx, "numeric.csv")
			return "csv:" + p + ":label=class:holdout=0.5", []string{p, `line 1: no column "class"`}
		}, ErrMissing},
		{"csv test label unknown", func(t *testing.T) (string, []string) {
			test := writeFile(t, t.TempDir(), "test.csv", []byte("a,species,b,c\n1,2,3,4\n1,rose,3,4\n"))
			return "csv:" + filepath.Join(fx, "table.csv") + ":label=species:test=" + test, []string{test, "line 2", `"2"`}
		}, ErrUnknownLabel},
		{"csv empty", func(t *testing.T) (string, []string) {
			p := writeFile(t, t.TempDir(), "empty.csv", nil)
			return "csv:" + p + ":holdout=0.5", []string{p, "no header row"}
		}, ErrMissing},
		{"csv without a test split", func(t *testing.T) (string, []string) {
			return "csv:" + filepath.Join(fx, "numeric.csv"), []string{"numeric.csv", "test=PATH or holdout=FRACTION"}
		}, ErrSpec},
	}
}

// tfrecordFaults are TFRecord files as TensorFlow wrote them, then damaged, and ones a reader must refuse.
func tfrecordFaults(fx, bad string) []malformedCase {
	return []malformedCase{
		{"tfrecord data CRC", func(t *testing.T) (string, []string) {
			dir := copyTree(t, fx, "tfrecord")
			flipByte(t, filepath.Join(dir, "raw.tfrecord"), 20)
			return "tfrecord:" + filepath.Join(dir, "raw.tfrecord") + ":image=image:label=label:holdout=0.5", []string{"raw.tfrecord", "record 0 at offset 0", "data's CRC"}
		}, ErrChecksum},
		{"tfrecord length CRC", func(t *testing.T) (string, []string) {
			dir := copyTree(t, fx, "tfrecord")
			b, _ := os.ReadFile(filepath.Join(dir, "floats.tfrecord"))
			second := 12 + binary.LittleEndian.Uint64(b) + 4
			flipByte(t, filepath.Join(dir, "floats.tfrecord"), int64(second)+9)
			return "tfrecord:" + filepath.Join(dir, "floats.tfrecord") + ":image=image:label=label:holdout=0.5", []string{"floats.tfrecord", "record 1 at offset " + strconv.FormatUint(second, 10), "length's CRC"}
		}, ErrChecksum},
		{"tfrecord cut short", func(t *testing.T) (string, []string) {
			dir := copyTree(t, fx, "tfrecord")
			truncateBy(t, filepath.Join(dir, "raw.tfrecord"), 3)
			return "tfrecord:" + filepath.Join(dir, "raw.tfrecord") + ":image=image:label=label:holdout=0.5", []string{"raw.tfrecord", "record 3 at offset"}
		}, ErrTruncated},
		{"tfrecord gzip cut short", func(t *testing.T) (string, []string) {
			dir := copyTree(t, fx, "tfrecord")
			truncateBy(t, filepath.Join(dir, "png-1.tfrecord.gz"), 40)
			return "tfrecord:" + filepath.Join(dir, "png-*.tfrecord.gz") + ":image=image:label=label:holdout=0.5", []string{"png-1.tfrecord.gz"}
		}, nil},
		{"tfrecord label missing", func(t *testing.T) (string, []string) {
			p := filepath.Join(bad, "no-label.tfrecord")
			return "tfrecord:" + p + ":image=image:label=label:holdout=0.5", []string{p, "record 1 at offset", `no label feature "label"`}
		}, ErrMissing},
		{"tfrecord image feature misnamed", func(t *testing.T) (string, []string) {
			p := filepath.Join(fx, "tfrecord", "floats.tfrecord")
			return "tfrecord:" + p + ":image=pixels:label=label:holdout=0.5", []string{p, "record 0 at offset 0", `no image feature "pixels"`}
		}, ErrMissing},
		{"tfrecord float label", func(t *testing.T) (string, []string) {
			p := filepath.Join(bad, "float-label.tfrecord")
			return "tfrecord:" + p + ":image=image:label=label:holdout=0.5", []string{p, "record 0", "must be one int64"}
		}, ErrFormat},
		{"tfrecord images of two sizes", func(t *testing.T) (string, []string) {
			p := filepath.Join(bad, "mixed-sizes.tfrecord")
			return "tfrecord:" + p + ":image=image:label=label:holdout=0.5", []string{p, "record 1 at offset", "[5 4 3] after examples of [4 4 3]"}
		}, ErrShape},
		{"tfrecord not an Example", func(t *testing.T) (string, []string) {
			p := writeFile(t, t.TempDir(), "junk.tfrecord", append(record([]byte{0x0a, 0x05, 0x0a}), record(nil)...))
			return "tfrecord:" + p + ":image=image:label=label:holdout=0.5", []string{p, "record 0 at offset 0"}
		}, ErrFormat},
		{"tfrecord glob matches nothing", func(t *testing.T) (string, []string) {
			g := filepath.Join(t.TempDir(), "*.tfrecord")
			return "tfrecord:" + g + ":image=image:label=label:holdout=0.5", []string{g, "no file matches"}
		}, ErrMissing},
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
