package dataset

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// splitGzip inflates a gzip member with splitInflate in parts parts, as gunzip would: ok is false when
// it did not split (gunzip then inflates it on one core).
func splitGzip(z []byte, parts int) ([]byte, bool) {
	start, ok := gzipDataStart(z)
	if !ok {
		return nil, false
	}
	out, end, ok := splitInflate(z, start, int(binary.LittleEndian.Uint32(z[len(z)-4:])), parts)
	return out, ok && end == len(z)-gzipTrailerLen
}

// TestSplitInflateReadsMNIST shows that MNIST's training images, the one long stream the package reads,
// are inflated in two, three and four parts side by side to what compress/gzip reads.
func TestSplitInflateReadsMNIST(t *testing.T) {
	dir := os.Getenv("TFSWEEP_DATA_DIR")
	if dir == "" {
		t.Fatal("TFSWEEP_DATA_DIR is not set: run `make test`, or scripts/setup-data.sh")
	}
	in := readFile(t, filepath.Join(dir, TrainImagesFile+".gz"))
	want, gzipOK := gunzipStream(in)
	if !gzipOK {
		t.Fatal("compress/gzip does not read it")
	}
	for _, parts := range []int{2, 3, 4} {
		out, ok := splitGzip(in, parts)
		if !ok || !bytes.Equal(out, want) {
			t.Errorf("%d parts: not split (ok %t) or not what compress/gzip reads", parts, ok)
		}
	}
}

// sparseBytes is n bytes like an image set's: mostly zeros, runs of noise.
func sparseBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := 0; i < n; i += 1 + r.IntN(40) {
		run := min(n-i, r.IntN(24))
		for k := range run {
			b[i+k] = byte(r.Uint32())
		}
		i += run
	}
	return b
}

// TestSplitInflateStreams shows, on long streams compress/gzip writes at every level, that gunzip reads
// what compress/gzip reads, splitting the streams of dynamic blocks (parts that go on as bytes once their
// window is no longer copied from, and parts that copy from it to their end); streams of stored blocks
// (noise) are not split, and one whose later part is stored blocks is split only if it can be proven.
func TestSplitInflateStreams(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	sparse := sparseBytes(r, 24<<20)
	noise := make([]byte, 6<<20)
	for i := range noise {
		noise[i] = byte(r.Uint32())
	}
	// After sparse bytes (a first block of dynamic codes), a 30,000-byte pattern repeated with every tenth
	// byte new: nine bytes in ten are copies of the copy before, back to before any part's start, so a
	// part's window is needed to its end.
	const lead, period = 64 << 10, 30000
	repeated := make([]byte, 32<<20)
	copy(repeated, sparse[:lead])
	copy(repeated[lead:], noise[:period])
	for i := lead + period; i < len(repeated); i++ {
		repeated[i] = repeated[i-period]
		if i%10 == 0 {
			repeated[i] = byte(r.Uint32())
		}
	}
	for _, tc := range []struct {
		name  string
		data  []byte
		level int
		split bool // whether it must split in two
	}{
		{"sparse, level 1", sparse, gzip.BestSpeed, true},
		{"sparse, level 6", sparse, gzip.DefaultCompression, true},
		{"sparse, Huffman only", sparse, gzip.HuffmanOnly, true},
		{"a pattern repeated, level 6", repeated, gzip.DefaultCompression, true},
		{"noise, stored", noise, gzip.NoCompression, false},
		{"sparse then noise, stored", append(sparse[:4<<20:4<<20], noise...), gzip.NoCompression, false},
		// Dynamic blocks, then stored blocks of noise where the second part is looked for: a block start
		// guessed in the noise is no block's, and must not be taken for one.
		{"sparse then noise, level 6", append(sparse[:4<<20:4<<20], noise...), gzip.DefaultCompression, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var z bytes.Buffer
			w, err := gzip.NewWriterLevel(&z, tc.level)
			if err != nil {
				t.Fatal(err)
			}
			w.Write(tc.data)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			out, split := splitGzip(z.Bytes(), 2)
			if split && !bytes.Equal(out, tc.data) {
				t.Fatalf("split in two, not the data written")
			}
			if tc.split && !split {
				t.Errorf("a %d-byte stream of dynamic blocks not split in two", z.Len())
			}
			var f inflater
			if out, ok := f.gunzip(z.Bytes(), maxPayload); !ok || !bytes.Equal(out, tc.data) {
				t.Errorf("gunzip (ok %t) does not read what was written", ok)
			}
		})
	}
}

// TestSplitInflateDamaged shows, on a long stream damaged at random in its second half (a byte changed),
// that what gunzip accepts compress/gzip reads the same, and that what compress/gzip refuses gunzip
// declines, split or not.
func TestSplitInflateDamaged(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	data := sparseBytes(r, 12<<20)
	var z bytes.Buffer
	w, _ := gzip.NewWriterLevel(&z, gzip.DefaultCompression)
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, split := splitGzip(z.Bytes(), 2); !split {
		t.Fatalf("the undamaged %d-byte stream is not split", z.Len())
	}
	var f inflater
	accepted, refused := 0, 0
	for range 16 {
		d := bytes.Clone(z.Bytes())
		at := len(d)/2 + r.IntN(len(d)/2-gzipTrailerLen)
		d[at] ^= byte(1 + r.IntN(255))
		out, ok := f.gunzip(d, maxPayload)
		want, gzipOK := gunzipStream(d)
		switch {
		case ok && (!gzipOK || !bytes.Equal(out, want)):
			t.Fatalf("byte %d changed: gunzip accepts what compress/gzip reads otherwise (%t)", at, gzipOK)
		case ok:
			accepted++
		case gzipOK:
			t.Fatalf("byte %d changed: compress/gzip reads it, gunzip declines", at)
		default:
			refused++
		}
	}
	if refused == 0 {
		t.Errorf("%d damaged streams read, none refused", accepted)
	}
}

// TestSplitInflateSizes shows that a stream long enough to split whose trailer declares another size
// than it holds is declined, split or not; a size of 4 GiB less one allocates no more than the stream holds.
func TestSplitInflateSizes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	data := sparseBytes(r, 12<<20)
	var z bytes.Buffer
	w, _ := gzip.NewWriterLevel(&z, gzip.BestSpeed)
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, split := splitGzip(z.Bytes(), 2); !split {
		t.Fatalf("the %d-byte stream is not split", z.Len())
	}
	var f inflater
	for _, size := range []uint32{uint32(len(data)) - 1, uint32(len(data)) + 1, 1<<32 - 1} {
		d := bytes.Clone(z.Bytes())
		binary.LittleEndian.PutUint32(d[len(d)-4:], size)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if _, ok := f.gunzip(d, maxPayload); ok {
			t.Errorf("a trailer of %d bytes for %d: read", size, len(data))
		}
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 16*uint64(len(data)) {
			t.Errorf("a trailer of %d bytes for %d: %d bytes allocated", size, len(data), grew)
		}
	}
}
