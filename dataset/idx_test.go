package dataset

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	imagesMagic = 0x00000803
	labelsMagic = 0x00000801
)

// idx encodes an IDX file: magic, dimensions, data.
func idx(magic uint32, dims []uint32, data []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, magic)
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	return append(b, data...)
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// pattern returns n bytes that differ from position to position, so misplaced data shows.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/256)
	}
	return b
}

// images builds an IDX3 file of n rows×cols images and returns it with its pixels.
func images(n, rows, cols int) (file, pixels []byte) {
	pixels = pattern(n * rows * cols)
	return idx(imagesMagic, []uint32{uint32(n), uint32(rows), uint32(cols)}, pixels), pixels
}

// noise returns n bytes that do not compress.
func noise(n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{1}).Read(b)
	return b
}

func labels(ls ...byte) []byte {
	return idx(labelsMagic, []uint32{uint32(len(ls))}, ls)
}

func TestReadImagesRoundTrip(t *testing.T) {
	file, pixels := images(5, 3, 4)
	dir := t.TempDir()
	for _, tc := range []struct{ name, file string }{
		{"raw", writeFile(t, dir, "raw-idx3-ubyte", file)},
		{"gzip", writeFile(t, dir, "gz-idx3-ubyte.gz", gz(t, file))},
		// gzip is told by its magic bytes, not the name.
		{"gzip named raw", writeFile(t, dir, "gz-without-suffix", gz(t, file))},
		{"raw named gzip", writeFile(t, dir, "raw-with-suffix.gz", file)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, n, rows, cols, err := ReadImages(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if n != 5 || rows != 3 || cols != 4 {
				t.Errorf("n, rows, cols = %d, %d, %d, want 5, 3, 4", n, rows, cols)
			}
			if !bytes.Equal(got, pixels) {
				t.Errorf("pixels differ from what was written")
			}
		})
	}
}

func TestReadLabelsRoundTrip(t *testing.T) {
	want := []byte{3, 1, 4, 1, 5, 9, 2, 6}
	dir := t.TempDir()
	for _, tc := range []struct{ name, file string }{
		{"raw", writeFile(t, dir, "labels", labels(want...))},
		{"gzip", writeFile(t, dir, "labels.gz", gz(t, labels(want...)))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadLabels(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("labels = %v, want %v", got, want)
			}
		})
	}
}

func TestReadFaults(t *testing.T) {
	goodImages, _ := images(4, 2, 3)
	goodGz := gz(t, goodImages)

	badCRC := slices.Clone(goodGz)
	badCRC[len(badCRC)-8] ^= 0xff // the trailer's CRC-32
	badHeader := slices.Clone(goodGz)
	badHeader[2] = 0x07 // compression method other than deflate
	// A valid gzip header followed by a deflate block of the reserved type 3.
	badBlock := append(slices.Clone(goodGz[:10]), 0x07, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	concatenatedGarbage := append(slices.Clone(goodGz), "not gzip"...)

	tests := []struct {
		name   string
		labels bool // read with ReadLabels rather than ReadImages
		file   []byte
		fault  error
		detail string // also in the message
	}{
		{"corrupt gzip checksum", false, badCRC, ErrCorruptGzip, "checksum"},
		{"corrupt gzip header", false, badHeader, ErrCorruptGzip, "header"},
		{"corrupt deflate data", false, badBlock, ErrCorruptGzip, "corrupt input"},
		{"garbage after the gzip stream", false, concatenatedGarbage, ErrCorruptGzip, "after the data"},
		{"gzip magic only", false, []byte{0x1f, 0x8b}, ErrCorruptGzip, ""},
		{"compressed stream cut short", false, goodGz[:len(goodGz)/2+5], ErrTruncated, ""},
		{"truncated images", false, goodImages[:len(goodImages)-1], ErrTruncated, "declare 24 data bytes, file holds 23"},
		{"truncated images gz", false, gz(t, goodImages[:len(goodImages)-5]), ErrTruncated, "declare 24 data bytes, file holds 19"},
		{"truncated header", false, goodImages[:10], ErrTruncated, "dimensions"},
		{"truncated magic", false, goodImages[:3], ErrTruncated, "magic"},
		{"empty file", false, nil, ErrTruncated, "magic"},
		{"truncated labels", true, labels(1, 2, 3)[:10], ErrTruncated, "declare 3 data bytes, file holds 2"},
		{"truncated labels gz", true, gz(t, labels(1, 2, 3)[:9]), ErrTruncated, "declare 3 data bytes, file holds 1"},
		{"trailing bytes images", false, append(slices.Clone(goodImages), 0), ErrTrailing, "declare 24 data bytes, file holds 25"},
		{"trailing bytes images gz", false, gz(t, append(slices.Clone(goodImages), 0, 0, 0)), ErrTrailing, "file holds 27"},
		{"trailing bytes labels", true, append(labels(1, 2), 7), ErrTrailing, "declare 2 data bytes, file holds 3"},
		{"wrong magic", false, idx(0x12345678, []uint32{1, 1, 1}, []byte{0}), ErrMagic, "0x12345678, want 0x0000TTDD"},
		{"wrong magic labels", true, idx(0x0a0b0801, []uint32{1}, []byte{0}), ErrMagic, "0x0a0b0801, want 0x0000TTDD"},
		{"float elements", false, idx(0x00000d03, []uint32{1, 1, 1}, []byte{0, 0, 0, 0}), ErrElementType, "0x0d"},
		{"labels read as images", false, labels(1, 2), ErrDimensions, "1, want 3 (a label file?)"},
		{"images read as labels", true, goodImages, ErrDimensions, "3, want 1 (an image file?)"},
		{"two dimensions", false, idx(0x00000802, []uint32{2, 2}, []byte{1, 2, 3, 4}), ErrDimensions, "2, want 3"},
		{"zero images", false, idx(imagesMagic, []uint32{0, 28, 28}, nil), ErrZeroSize, "dimension 0 of 3"},
		{"zero columns", false, idx(imagesMagic, []uint32{1, 28, 0}, nil), ErrZeroSize, "dimension 2 of 3"},
		{"zero labels", true, idx(labelsMagic, []uint32{0}, nil), ErrZeroSize, ""},
		{"huge header raw", false, idx(imagesMagic, []uint32{0xffffffff, 0xffffffff, 0xffffffff}, nil), ErrTooLarge, ""},
		{"huge header gz", false, gz(t, idx(imagesMagic, []uint32{0xffffffff, 0xffffffff, 0xffffffff}, nil)), ErrTooLarge, ""},
		// Under the absolute limit, but more than the file could decompress to: refused before allocating.
		{"header lies about a gz file", false, gz(t, idx(imagesMagic, []uint32{1000000, 28, 28}, []byte{1})), ErrTooLarge, "cannot hold more than"},
		// Under both limits: the buffer grows only with the data that really arrives.
		{"header lies within the gzip ratio", false, gz(t, idx(imagesMagic, []uint32{100, 100, 100}, noise(5000))), ErrTruncated, "declare 1000000 data bytes, file holds 5000"},
		{"header lies about a raw file", false, idx(imagesMagic, []uint32{60000, 28, 28}, []byte{1, 2, 3}), ErrTruncated, "declare 47040000 data bytes, file holds 3"},
	}
	dir := t.TempDir()
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, dir, "case"+string(rune('a'+i)), tc.file)
			var err error
			if tc.labels {
				_, err = ReadLabels(path)
			} else {
				_, _, _, _, err = ReadImages(path)
			}
			checkFault(t, err, tc.fault, path, tc.detail)
		})
	}
}

func checkFault(t *testing.T, err, fault error, path, detail string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", fault)
	}
	if !errors.Is(err, fault) {
		t.Errorf("error %q is not %q", err, fault)
	}
	for _, want := range []string{path, fault.Error(), detail} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestReadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent")
	_, _, _, _, err := ReadImages(path)
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("error %q, want one that is os.ErrNotExist and names %s", err, path)
	}
}

// FuzzReadImages feeds arbitrary bytes, raw and gzipped: the reader must never panic, and what it accepts must be
// consistent with the dimensions it reports.
func FuzzReadImages(f *testing.F) {
	good, _ := images(3, 2, 2)
	f.Add(good)
	f.Add(labels(1, 2, 3))
	f.Add(good[:7])
	f.Add(idx(imagesMagic, []uint32{0xffffffff, 2, 2}, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		for _, file := range [][]byte{b, gz(t, b)} {
			path := writeFile(t, dir, "f", file)
			pixels, n, rows, cols, err := ReadImages(path)
			if err != nil {
				if !strings.Contains(err.Error(), path) {
					t.Errorf("error %q does not name %s", err, path)
				}
				continue
			}
			if len(pixels) != n*rows*cols || n == 0 || rows == 0 || cols == 0 {
				t.Errorf("accepted %d pixels for %d×%d×%d", len(pixels), n, rows, cols)
			}
		}
	})
}
