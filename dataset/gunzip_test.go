package dataset

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pythonGzipScript writes, with Python's own gzip module, the plain files NAME.bin and their gzip files
// NAME-L.gz at every level L (0 writes stored blocks) twice: by gzip.open, whose header names the file,
// and by gzip.compress, whose does not. The payloads are zeros, noise, MNIST-like sparse bytes and text,
// and an IDX image file (idx.bin), also written as two members (idx-members.gz) and as a member appended
// by gzip.open's "ab" mode (idx-appended.gz).
const pythonGzipScript = `
import gzip, os, random, struct, sys
out = sys.argv[1]
rng = random.Random(7)
def sparse(n):
    return bytes(rng.randrange(256) if rng.random() < 0.2 else 0 for _ in range(n))
payloads = {}
for size in (0, 1, 1000, 200000):
    payloads[f"zeros{size}"] = bytes(size)
    payloads[f"noise{size}"] = bytes(rng.randrange(256) for _ in range(size))
    payloads[f"sparse{size}"] = sparse(size)
    payloads[f"text{size}"] = (b"the quick brown fox jumps " * (size // 26 + 1))[:size]
n = 300
payloads["idx"] = struct.pack(">IIII", 0x803, n, 28, 28) + sparse(n * 28 * 28)
for name, data in payloads.items():
    with open(os.path.join(out, name + ".bin"), "wb") as f:
        f.write(data)
    for level in range(10):
        with gzip.open(os.path.join(out, f"{name}-{level}.gz"), "wb", compresslevel=level) as f:
            f.write(data)
        with open(os.path.join(out, f"{name}-{level}-bare.gz"), "wb") as f:
            f.write(gzip.compress(data, compresslevel=level, mtime=0))
idx = payloads["idx"]
with open(os.path.join(out, "idx-members.gz"), "wb") as f:
    f.write(gzip.compress(idx[:5000]) + gzip.compress(idx[5000:]))
with gzip.open(os.path.join(out, "idx-appended.gz"), "wb") as f:
    f.write(idx[:100000])
with gzip.open(os.path.join(out, "idx-appended.gz"), "ab") as f:
    f.write(idx[100000:])
`

// pythonGzipFiles runs pythonGzipScript into a new directory and returns it. The Python is the one the
// data fixtures use; without it the test fails, never skips.
func pythonGzipFiles(t *testing.T) string {
	t.Helper()
	python := os.Getenv("TFSWEEP_DATA_PYTHON")
	if python == "" {
		t.Fatal("TFSWEEP_DATA_PYTHON is not set: run `make test`, or `export TFSWEEP_DATA_PYTHON=$(scripts/setup-python.sh data | tail -1)`")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, python, "-c", pythonGzipScript, dir).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", python, err, out)
	}
	return dir
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGunzipReadsWhatPythonWrites shows that gunzip itself (not the streaming reader after it declines)
// inflates every file Python's gzip module writes, at every level, with and without a file name in the
// header, to the bytes written (level 0 in stored blocks); and that ReadImages reads the IDX file's pixels
// from each, and from the files of several members, which gunzip declines.
func TestGunzipReadsWhatPythonWrites(t *testing.T) {
	dir := pythonGzipFiles(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.gz"))
	if err != nil || len(files) != 17*20+2 {
		t.Fatalf("%d gzip files written (%v), want %d", len(files), err, 17*20+2)
	}
	idxPlain := readFile(t, filepath.Join(dir, "idx.bin"))
	var f inflater
	for _, p := range files {
		name := strings.TrimSuffix(filepath.Base(p), ".gz")
		in := readFile(t, p)
		out, ok := f.gunzip(in, maxPayload)
		if multi := strings.HasPrefix(name, "idx-a") || strings.HasPrefix(name, "idx-m"); multi {
			if ok {
				t.Errorf("%s: gunzip read a file of two members", name)
			}
		} else if want := readFile(t, filepath.Join(dir, name[:strings.IndexByte(name, '-')]+".bin")); !ok || !bytes.Equal(out, want) {
			t.Errorf("%s: gunzip (ok %t) did not inflate %d bytes to the %d written", name, ok, len(in), len(want))
		}
		if start, _ := gzipDataStart(in); strings.HasSuffix(name, "-0") && in[start]>>1&3 != 0 {
			t.Errorf("%s: level 0 begins with a block of type %d, want stored (0)", name, in[start]>>1&3)
		}
		if !strings.HasPrefix(name, "idx") {
			continue
		}
		pixels, n, rows, cols, err := ReadImages(p)
		if err != nil || n != 300 || rows != 28 || cols != 28 || !bytes.Equal(pixels, idxPlain[16:]) {
			t.Errorf("%s: ReadImages gave %d×%d×%d (%v), not the pixels written", name, n, rows, cols, err)
		}
	}
}

// TestGunzipHeaders shows that gunzip reads members whose headers carry any of a name, a comment and
// extra fields, as compress/gzip writes them.
func TestGunzipHeaders(t *testing.T) {
	want := pattern(3000)
	var f inflater
	for fields := range 8 {
		var z bytes.Buffer
		w := gzip.NewWriter(&z)
		if fields&1 != 0 {
			w.Name = "train-images-idx3-ubyte"
		}
		if fields&2 != 0 {
			w.Comment = "a comment"
		}
		if fields&4 != 0 {
			w.Extra = []byte("AB\x03\x00xyz")
		}
		w.Write(want)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if out, ok := f.gunzip(z.Bytes(), maxPayload); !ok || !bytes.Equal(out, want) {
			t.Errorf("header fields %03b: not inflated (ok %t)", fields, ok)
		}
	}
}

// gzipCorpus is inflateCorpus's data written by compress/gzip, with a file name in some headers.
func gzipCorpus(t *testing.T) (streams [][]byte) {
	t.Helper()
	_, data := inflateCorpus(t)
	for i, b := range data {
		var z bytes.Buffer
		w, err := gzip.NewWriterLevel(&z, []int{gzip.NoCompression, gzip.BestSpeed, gzip.DefaultCompression, gzip.BestCompression, gzip.HuffmanOnly}[i%5])
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			w.Name = "x.idx"
		}
		w.Write(b)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		streams = append(streams, z.Bytes())
	}
	return streams
}

// TestGunzipDeclinesWhatGzipRefuses shows, on gzip files damaged at random (a byte changed, or cut
// short), that what gunzip accepts compress/gzip reads the same, and what compress/gzip refuses gunzip
// declines: the streaming reader then names the fault. gunzip declines only headers with flags it does
// not read (reserved ones, which compress/gzip ignores, or a header CRC), which the streaming reader reads.
func TestGunzipDeclinesWhatGzipRefuses(t *testing.T) {
	streams := gzipCorpus(t)
	r := rand.New(rand.NewPCG(5, 6))
	var f inflater
	accepted, refused, declined := 0, 0, 0
	for range 20000 {
		i := r.IntN(len(streams))
		z := damaged(r, streams[i])
		out, ok := f.gunzip(z, maxPayload)
		want, gzipOK := gunzipStream(z)
		switch {
		case ok && (!gzipOK || !bytes.Equal(out, want)):
			t.Fatalf("stream %d damaged to % x: gunzip accepts what compress/gzip reads otherwise (%t)", i, z, gzipOK)
		case ok:
			accepted++
		case gzipOK && z[3]&(gzipFlagReserved|gzipFlagHeaderCRC) == 0:
			t.Fatalf("stream %d damaged to % x: compress/gzip reads it, gunzip declines", i, z)
		case gzipOK:
			declined++
		default:
			refused++
		}
	}
	t.Logf("%d damaged streams read, %d refused, %d with flags gunzip declines", accepted, refused, declined)
	if accepted == 0 || refused == 0 {
		t.Errorf("%d damaged streams read and %d refused: want some of each", accepted, refused)
	}
}

// gunzipStream reads z whole with compress/gzip.
func gunzipStream(z []byte) ([]byte, bool) {
	zr, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, false
	}
	out, err := io.ReadAll(zr)
	return out, err == nil
}

// TestGunzipSizes shows that gunzip grows its buffer past its first allocation to the size the trailer
// declares, and declines a trailer whose size or CRC the stream does not match, or bytes after the member.
func TestGunzipSizes(t *testing.T) {
	big := make([]byte, 4<<20)
	for i := 0; i < len(big); i += 4093 {
		big[i] = byte(i)
	}
	z := gz(t, big)
	if first := 8*len(z) + 4096; first*4 > len(big) {
		t.Fatalf("a %d-byte stream: gunzip's first buffer (%d bytes) would not grow twice to %d", len(z), first, len(big))
	}
	var f inflater
	if out, ok := f.gunzip(z, maxPayload); !ok || !bytes.Equal(out, big) {
		t.Errorf("%d bytes, inflated by growing the first buffer: not inflated (ok %t)", len(big), ok)
	}
	if _, ok := f.gunzip(z, int64(len(big)-1)); ok {
		t.Errorf("inflated %d bytes where at most %d may be", len(big), len(big)-1)
	}

	small := gz(t, pattern(5000))
	for _, tc := range []struct {
		name   string
		damage func(z []byte) []byte
	}{
		{"size one more", func(z []byte) []byte {
			binary.LittleEndian.PutUint32(z[len(z)-4:], 5001)
			return z
		}},
		{"size one less", func(z []byte) []byte {
			binary.LittleEndian.PutUint32(z[len(z)-4:], 4999)
			return z
		}},
		{"size of 4 GiB less one", func(z []byte) []byte {
			binary.LittleEndian.PutUint32(z[len(z)-4:], 1<<32-1)
			return z
		}},
		{"CRC", func(z []byte) []byte {
			z[len(z)-8] ^= 1
			return z
		}},
		{"a byte after the member", func(z []byte) []byte { return append(z, 0) }},
		{"a second member", func(z []byte) []byte { return append(z, gz(t, []byte("more"))...) }},
		{"a header CRC", func(z []byte) []byte {
			z[3] |= gzipFlagHeaderCRC
			return z
		}},
	} {
		z := tc.damage(bytes.Clone(small))
		if _, ok := f.gunzip(z, maxPayload); ok {
			t.Errorf("%s: gunzip read it", tc.name)
		}
	}
	if out, ok := f.gunzip(small, maxPayload); !ok || !bytes.Equal(out, pattern(5000)) {
		t.Errorf("the undamaged stream: not inflated (ok %t)", ok)
	}
}

// TestReadGzippedIDXFaults shows that a gzipped IDX file gunzip inflates but whose header disagrees with
// its size, or whose trailer disagrees with its stream, is refused as the streaming reader refuses it,
// naming the file.
func TestReadGzippedIDXFaults(t *testing.T) {
	withSize := func(z []byte, size uint32) []byte {
		binary.LittleEndian.PutUint32(z[len(z)-4:], size)
		return z
	}
	for _, tc := range []struct {
		name   string
		file   []byte
		want   error
		detail string
	}{
		{"fewer images than declared", gz(t, idx(imagesMagic, []uint32{3, 2, 2}, make([]byte, 8))), ErrTruncated, "declare 12 data bytes, file holds 8"},
		{"more images than declared", gz(t, idx(imagesMagic, []uint32{2, 2, 2}, make([]byte, 12))), ErrTrailing, "declare 8 data bytes, file holds 12"},
		{"a size in the trailer one more", withSize(gz(t, idx(imagesMagic, []uint32{2, 2, 2}, make([]byte, 8))), 25), ErrCorruptGzip, ""},
		{"a size in the trailer one less", withSize(gz(t, idx(imagesMagic, []uint32{2, 2, 2}, make([]byte, 8))), 23), ErrCorruptGzip, ""},
		{"two members, fewer images than declared", append(gz(t, idx(imagesMagic, []uint32{3, 2, 2}, nil)), gz(t, make([]byte, 8))...), ErrTruncated, "declare 12 data bytes, file holds 8"},
	} {
		p := writeFile(t, t.TempDir(), "images.gz", tc.file)
		_, _, _, _, err := ReadImages(p)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), tc.detail) {
			t.Errorf("%s: %v, want %v naming %s and %q", tc.name, err, tc.want, p, tc.detail)
		}
	}
}

// TestGunzipReadsMNIST shows that gunzip inflates MNIST's own four files to what compress/gzip reads.
func TestGunzipReadsMNIST(t *testing.T) {
	dir := os.Getenv("TFSWEEP_DATA_DIR")
	if dir == "" {
		t.Fatal("TFSWEEP_DATA_DIR is not set: run `make test`, or scripts/setup-data.sh")
	}
	var f inflater
	for _, name := range []string{TrainImagesFile, TrainLabelsFile, TestImagesFile, TestLabelsFile} {
		in := readFile(t, filepath.Join(dir, name+".gz"))
		want, gzipOK := gunzipStream(in)
		if out, ok := f.gunzip(in, maxPayload); !ok || !gzipOK || !bytes.Equal(out, want) {
			t.Errorf("%s: gunzip (ok %t) does not read what compress/gzip (ok %t) reads", name, ok, gzipOK)
		}
	}
}
