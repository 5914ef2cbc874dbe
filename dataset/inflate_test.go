package dataset

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/adler32"
	"io"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// inflateCorpus is data compressed by compress/zlib at every level: zeros, noise, sparse images like
// MNIST's rows, repeated text and bytes of skewed frequencies (byte k about twice as common as byte k+1,
// for codes longer than a table holds), of sizes from empty to past a PNG's 64 KiB bound.
func inflateCorpus(t testing.TB) (streams, plain [][]byte) {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 1, 2, 3, 100, 812, 4000, 70000} {
		for kind := range 5 {
			b := make([]byte, size)
			for i := range b {
				switch kind {
				case 1:
					b[i] = byte(r.Uint32())
				case 2:
					if r.IntN(5) == 0 {
						b[i] = byte(r.IntN(256))
					}
				case 3:
					b[i] = "the quick brown fox "[i%20] + byte(i/1000)
				case 4:
					b[i] = byte(bits.TrailingZeros32(r.Uint32() | 1<<24))
				}
			}
			for _, level := range []int{zlib.NoCompression, zlib.BestSpeed, zlib.DefaultCompression, zlib.BestCompression, zlib.HuffmanOnly} {
				var z bytes.Buffer
				w, err := zlib.NewWriterLevel(&z, level)
				if err != nil {
					t.Fatal(err)
				}
				w.Write(b)
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				streams, plain = append(streams, z.Bytes()), append(plain, b)
			}
		}
	}
	return streams, plain
}

// TestInflaterReadsWhatZlibWrites shows that the inflater decompresses what compress/zlib writes, in
// stored, fixed and dynamic blocks, with literal codes longer than its table, and only into a buffer of
// exactly the stream's size.
func TestInflaterReadsWhatZlibWrites(t *testing.T) {
	streams, plain := inflateCorpus(t)
	var f inflater
	blockTypes := map[byte]bool{}
	longCodes := 0
	for i, z := range streams {
		blockTypes[z[2]>>1&3] = true
		out := make([]byte, len(plain[i]))
		if !f.inflate(z, out) || !bytes.Equal(out, plain[i]) {
			t.Errorf("stream %d (%d bytes): not inflated to what was written", i, len(plain[i]))
		}
		if z[2]>>1&3 == 2 && slices.ContainsFunc(f.lit.count[f.lit.tableBits+1:], func(c uint16) bool { return c > 0 }) {
			longCodes++ // its last block's literal code has codes longer than the table's
		}
		if f.inflate(z, make([]byte, len(plain[i])+1)) || len(plain[i]) > 0 && f.inflate(z, make([]byte, len(plain[i])-1)) {
			t.Errorf("stream %d (%d bytes): inflated into a buffer of another size", i, len(plain[i]))
		}
	}
	if len(blockTypes) != 3 || longCodes == 0 {
		t.Errorf("the corpus starts with block types %v, %d streams with literal codes longer than the table: want stored, fixed and dynamic, and some", blockTypes, longCodes)
	}
	t.Logf("%d streams with literal codes longer than the table", longCodes)
}

// TestInflaterDeclinesWhatZlibRefuses shows, on streams damaged at random (a byte changed, or cut short),
// that what the inflater accepts compress/zlib reads the same, and what compress/zlib refuses the inflater
// declines: image/png then names the fault.
func TestInflaterDeclinesWhatZlibRefuses(t *testing.T) {
	streams, plain := inflateCorpus(t)
	r := rand.New(rand.NewPCG(3, 4))
	var f inflater
	accepted, refused := 0, 0
	for range 20000 {
		i := r.IntN(len(streams))
		z := damaged(r, streams[i])
		out, want := make([]byte, len(plain[i])), make([]byte, len(plain[i]))
		ok, zlibOK := f.inflate(z, out), zlibInflate(z, want)
		switch {
		case ok && (!zlibOK || !bytes.Equal(out, want)):
			t.Fatalf("stream %d damaged to % x: the inflater accepts what compress/zlib reads otherwise (%t)", i, z, zlibOK)
		case zlibOK && !ok:
			t.Fatalf("stream %d damaged to % x: compress/zlib reads it, the inflater declines", i, z)
		case ok:
			accepted++
		default:
			refused++
		}
	}
	t.Logf("%d damaged streams read, %d refused", accepted, refused)
	if accepted == 0 || refused == 0 {
		t.Errorf("%d damaged streams read and %d refused: want some of each", accepted, refused)
	}
}

// FuzzInflater checks what TestInflaterDeclinesWhatZlibRefuses checks, on streams the fuzzer makes from
// the corpus's: what the inflater accepts compress/zlib reads the same, and what compress/zlib reads into a
// buffer of the size given the inflater reads.
func FuzzInflater(f *testing.F) {
	streams, plain := inflateCorpus(f)
	for i, z := range streams {
		if len(plain[i]) <= 4000 {
			f.Add(z, uint16(len(plain[i])))
		}
	}
	var inf inflater
	f.Fuzz(func(t *testing.T, z []byte, size uint16) {
		out, want := make([]byte, size), make([]byte, size)
		ok, zlibOK := inf.inflate(z, out), zlibInflate(z, want)
		if ok != zlibOK || ok && !bytes.Equal(out, want) {
			t.Fatalf("% x into %d bytes: the inflater %t, compress/zlib %t", z, size, ok, zlibOK)
		}
	})
}

// damaged returns a copy of z cut short at random (one time in four) or with one byte changed at random.
func damaged(r *rand.Rand, z []byte) []byte {
	z = bytes.Clone(z)
	if r.IntN(4) == 0 {
		return z[:r.IntN(len(z))]
	}
	z[r.IntN(len(z))] ^= byte(1 + r.IntN(255))
	return z
}

// zlibInflate reads z with compress/zlib into out, which it must fill, as pngDecoder needs.
func zlibInflate(z, out []byte) bool {
	zr, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		return false
	}
	if _, err := io.ReadFull(zr, out); err != nil {
		return false
	}
	n, err := zr.Read(make([]byte, 1))
	return n == 0 && err == io.EOF
}

// TestInflaterReadsPILsPNGs shows that the inflater itself, not image/png after it declines, reads the
// PNGs PIL wrote for the tests.
func TestInflaterReadsPILsPNGs(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join(fixtures(t), "*", "*", "*.png"))
	deeper, _ := filepath.Glob(filepath.Join(fixtures(t), "*", "*", "*", "*.png"))
	var d pngDecoder
	read := 0
	for _, p := range append(paths, deeper...) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		h, ok := d.readChunks(b)
		if !ok {
			continue // a layout pngDecoder leaves to image/png (a palette, 16 bits)
		}
		raw := make([]byte, h.rows*(h.cols*h.channels+1))
		want := make([]byte, len(raw))
		if !zlibInflate(d.idat, want) {
			t.Fatalf("%s: compress/zlib cannot read its IDAT", p)
		}
		if !d.inf.inflate(d.idat, raw) || !bytes.Equal(raw, want) {
			t.Errorf("%s: the inflater does not read its IDAT as compress/zlib does", p)
		}
		read++
	}
	if read < 10 {
		t.Errorf("%d PNG fixtures read, want at least 10", read)
	}
	t.Logf("%d PNGs of PIL's read", read)
}

// TestInflaterRefusesIncompleteCodes shows that a block whose literal code leaves sequences unused is
// refused, as compress/zlib refuses it, and the same block with a complete code read; its distance code,
// one code of one bit, is the one incomplete code both accept.
func TestInflaterRefusesIncompleteCodes(t *testing.T) {
	for _, complete := range []bool{true, false} {
		// Literals 0…253 take 8 bits, 255 and the end of the block 9; 254 takes 8 bits in the complete
		// code, 9 in the incomplete one (one 9-bit sequence left unused).
		lens := make([]int, 257)
		for i := range lens {
			lens[i] = 8
		}
		lens[255], lens[256] = 9, 9
		if !complete {
			lens[254] = 9
		}
		var w bitWriter
		w.bits(0x0178, 16) // the zlib header, 78 01, low byte first
		w.bits(1, 1)       // the last block
		w.bits(2, 2)       // dynamic codes
		w.bits(0, 5)       // 257 literal and length codes
		w.bits(0, 5)       // one distance code
		w.bits(15, 4)      // 19 code-length codes
		clen := map[uint8]int{8: 1, 1: 2, 9: 2}
		for _, sym := range codeLengthOrder {
			w.bits(uint32(clen[sym]), 3)
		}
		codeOf := map[int]string{8: "0", 1: "10", 9: "11"}
		for _, n := range append(lens, 1) { // the distance code's length: 1
			w.code(codeOf[n])
		}
		// The canonical codes: 8-bit literals s are s; the 9-bit codes follow from (8-bit count) << 1.
		eight := 255
		if !complete {
			eight = 254
		}
		w.code(fmt.Sprintf("%08b", 'a'))
		w.code(fmt.Sprintf("%08b", 'b'))
		w.code(fmt.Sprintf("%09b", eight<<1+(256-eight))) // the end of the block
		z := append(w.flush(), 0, 0, 0, 0)
		binary.BigEndian.PutUint32(z[len(z)-4:], adler32.Checksum([]byte("ab")))

		var f inflater
		out, want := make([]byte, 2), make([]byte, 2)
		ok, zlibOK := f.inflate(z, out), zlibInflate(z, want)
		if ok != complete || zlibOK != complete || ok && string(out) != "ab" {
			t.Errorf("complete %t: the inflater %t (%q), compress/zlib %t (%q); want both %t", complete, ok, out, zlibOK, want, complete)
		}
	}
}

// bitWriter writes a deflate stream: fields from their lowest bit, Huffman codes from their first.
type bitWriter struct {
	out  []byte
	acc  uint64
	used uint
}

func (w *bitWriter) bits(v uint32, n uint) {
	w.acc |= uint64(v) << w.used
	for w.used += n; w.used >= 8; w.used -= 8 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
	}
}

func (w *bitWriter) code(c string) {
	for _, b := range c {
		w.bits(uint32(b-'0'), 1)
	}
}

func (w *bitWriter) flush() []byte {
	if w.used > 0 {
		w.out = append(w.out, byte(w.acc))
	}
	return w.out
}

// TestHuffmanBuildCountsPastSixteenBits shows that a code is checked for completeness in full: lengths 1
// to 15 with a second 15 are complete, and four more one-bit codes over-subscribe it by exactly 2^16
// sequences of 15 bits, which a count kept in 16 bits would wrap back to complete.
func TestHuffmanBuildCountsPastSixteenBits(t *testing.T) {
	complete := []uint8{15}
	for n := uint8(1); n <= 15; n++ {
		complete = append(complete, n)
	}
	over := append([]uint8{1, 1, 1, 1}, complete...)
	var h huffman
	if !h.build(complete, fastBits) {
		t.Error("the complete code is refused")
	}
	if h.build(over, fastBits) {
		t.Error("the over-subscribed code is accepted")
	}
}

// TestHuffmanDecodesEveryCode builds random complete codes of 2 to 288 symbols and up to 15 bits, and the
// lone code of one bit, with tables of every size from 1 to longFastBits bits (codes shorter, as long as and
// longer than the table's), reused from code to code, and decodes a stream of each code's symbols in
// random order, written from the canonical codes RFC 1951 assigns, as the inflater's table and its bit-by-bit
// path read them.
func TestHuffmanDecodesEveryCode(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	var f inflater
	for trial := range 400 {
		lengths := randomCode(r, 2+r.IntN(maxLitCodes-1), maxLitCodes)
		if trial == 0 {
			lengths = []uint8{0, 0, 1}
		}
		for table := uint(1); table <= longFastBits; table++ {
			if !f.lit.build(lengths, table) {
				t.Fatalf("lengths %v: refused", lengths)
			}
			codes := canonicalCodes(lengths)
			var w bitWriter
			var want []int
			for range 300 {
				sym := r.IntN(len(lengths))
				if lengths[sym] > 0 {
					w.code(codes[sym])
					want = append(want, sym)
				}
			}
			f.in, f.pos, f.acc, f.nbits = w.flush(), 0, 0, 0
			for i, sym := range want {
				if got, ok := f.symbol(&f.lit); !ok || got != sym {
					t.Fatalf("lengths %v, a table of %d bits: symbol %d decoded as %d (%t), want %d", lengths, table, i, got, ok, sym)
				}
			}
		}
	}
	// The lone code of one bit: its other half is no code.
	if !f.lit.build([]uint8{0, 1}, fastBits) {
		t.Fatal("the lone code of one bit is refused")
	}
	f.in, f.pos, f.acc, f.nbits = []byte{0b10}, 0, 0, 0
	if sym, ok := f.symbol(&f.lit); !ok || sym != 1 {
		t.Errorf("the lone code of one bit decoded as %d (%t), want 1", sym, ok)
	}
	if sym, ok := f.symbol(&f.lit); ok {
		t.Errorf("its other half decoded as %d", sym)
	}
}

// randomCode returns the lengths of a random complete code of n symbols up to 15 bits among size: a
// tree grown by splitting random leaves, its leaves given to random symbols.
func randomCode(r *rand.Rand, n, size int) []uint8 {
	depths := []uint8{0}
	for len(depths) < n {
		i := r.IntN(len(depths))
		if depths[i] == maxCodeBits {
			continue
		}
		depths[i]++
		depths = append(depths, depths[i])
	}
	lengths := make([]uint8, size)
	for i, sym := range r.Perm(size)[:n] {
		lengths[sym] = depths[i]
	}
	return lengths
}

// canonicalCodes are the codes RFC 1951 section 3.2.2 assigns to lengths, as strings of bits, first bit
// first.
func canonicalCodes(lengths []uint8) []string {
	var count [maxCodeBits + 1]int
	for _, n := range lengths {
		count[n]++
	}
	count[0] = 0
	var next [maxCodeBits + 1]int
	for n := 1; n <= maxCodeBits; n++ {
		next[n] = (next[n-1] + count[n-1]) << 1
	}
	codes := make([]string, len(lengths))
	for sym, n := range lengths {
		if n > 0 {
			codes[sym] = fmt.Sprintf("%0*b", n, next[n])
			next[n]++
		}
	}
	return codes
}

// TestCopyMatch checks copies of every length from every distance up to 20 bytes back, in the middle of
// the output and ending at its end or just before, against copying a byte at a time: the words written
// from fewer than eight bytes back repeat the right pattern, and nothing past the copy's end is kept.
func TestCopyMatch(t *testing.T) {
	for distance := 1; distance <= 20; distance++ {
		for length := 3; length <= 258; length++ {
			for _, after := range []int{0, 1, 7, 8, 300} { // bytes of out after the copy
				out := make([]byte, 30+length+after)
				for i := range 30 {
					out[i] = byte(i*37 + 1)
				}
				want := bytes.Clone(out)
				for i := 30; i < 30+length; i++ {
					want[i] = want[i-distance]
				}
				if end := copyMatch(out, 30, distance, length); end != 30+length || !bytes.Equal(out[:end], want[:end]) {
					t.Fatalf("%d bytes from %d back, %d after: % x, want % x", length, distance, after, out[:30+length], want[:30+length])
				}
			}
		}
	}
}

// TestAdler32Sum checks the word-at-a-time Adler-32 against hash/adler32 on every length up to a few
// words past a PNG row, on lengths around its rounds, and on the bytes that make its sums largest (0xff).
func TestAdler32Sum(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	noise := make([]byte, 3<<20+13)
	for i := range noise {
		noise[i] = byte(r.Uint32())
	}
	full := bytes.Repeat([]byte{0xff}, len(noise))
	for _, data := range [][]byte{noise, full} {
		for n := range 200 {
			if got, want := adler32Sum(data[:n]), adler32.Checksum(data[:n]); got != want {
				t.Fatalf("%d bytes of %#x…: %#x, want %#x", n, data[0], got, want)
			}
		}
		for _, n := range []int{5551, 5552, 5553, 1<<20 - 1, 1 << 20, 1<<20 + 7, 2<<20 + 9, len(data)} {
			if got, want := adler32Sum(data[:n]), adler32.Checksum(data[:n]); got != want {
				t.Errorf("%d bytes of %#x…: %#x, want %#x", n, data[0], got, want)
			}
		}
	}
}
