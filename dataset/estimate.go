package dataset

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // DecodeConfig of the JPEG files an image folder holds
	_ "image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/klauspost/compress/gzip"
)

// extent is how much a split holds, known before it is read: examples of features values each.
type extent struct{ examples, features int64 }

// Estimate is what the source's data would take as float32, the measure of Data.Float32Bytes (every value
// and label four bytes), worked out from what each format declares before its examples are read: IDX and
// .npy headers, CIFAR file sizes, an image folder's file count times one image's size (size=, else the
// first image's header), a CSV's rows times its header's columns, a TFRecord glob's records times the first
// record's image. Errors are those of reading what it looks at; Open reports the faults of the rest.
func Estimate(src Source) (int64, error) {
	type split struct {
		path string
		test bool
	}
	splits := []split{{src.Path, false}}
	switch {
	case src.Holdout > 0:
	case src.Test != "":
		splits = append(splits, split{src.Test, true})
	case formats[src.Kind].ownTest:
		splits = append(splits, split{src.Path, true})
	}
	var total int64
	for _, s := range splits {
		e, err := splitExtent(src, s.path, s.test)
		if err != nil {
			return 0, err
		}
		n, err := e.float32Bytes(total)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// CheckEstimate refuses a source whose Estimate exceeds the budget (0: no limit), before a byte of its
// examples is read. A source it cannot estimate is left to the readers, which name its fault better.
func CheckEstimate(src Source, budget int64) error {
	if budget <= 0 {
		return nil
	}
	need, err := Estimate(src)
	switch {
	case errors.Is(err, ErrTooLarge):
		return fmt.Errorf("dataset: %s: %w", src, err)
	case err != nil:
		return nil
	case need > budget:
		return fmt.Errorf("dataset: %s: %w: its files declare %s as float32, more than the budget of %s",
			src, ErrTooLarge, formatBytes(need), formatBytes(budget))
	}
	return nil
}

// float32Bytes is the extent's size as float32, values and labels, if it fits beside used bytes.
func (e extent) float32Bytes(used int64) (int64, error) {
	n, ok := checkedProduct([]int{int(e.examples), int(e.features) + 1, 4}, math.MaxInt64-used)
	if !ok || e.examples < 0 || e.features < 0 {
		return 0, fmt.Errorf("%w: %d examples of %d values", ErrTooLarge, e.examples, e.features)
	}
	return n, nil
}

// splitExtent is one split's extent; test says which of a format's own two splits.
func splitExtent(src Source, path string, test bool) (extent, error) {
	switch src.Kind {
	case KindIDX:
		return idxExtent(path, test)
	case KindNPZ, KindNPY:
		return npyExtent(src, path, test)
	case KindCIFAR10, KindCIFAR100:
		return cifarExtent(src, path, test)
	case KindImages:
		return imagesExtent(src, path)
	case KindCSV:
		return csvExtent(path)
	case KindTFRecord:
		return tfrecordExtent(src, path)
	}
	return extent{}, fmt.Errorf("%w: unknown kind %q", ErrSpec, src.Kind)
}

// shapeExtent is the extent of an array of that shape, its first dimension the examples.
func shapeExtent(path string, dims []int) (extent, error) {
	if len(dims) == 0 {
		return extent{}, fileError(path, ErrDimensions, "a scalar, want examples")
	}
	f, ok := checkedProduct(dims[1:], 1<<62)
	if !ok {
		return extent{}, fileError(path, ErrTooLarge, "dimensions %v", dims)
	}
	return extent{int64(dims[0]), f}, nil
}

func idxExtent(dir string, test bool) (extent, error) {
	part := idxNames[0][0]
	if test {
		part = idxNames[1][0]
	}
	path, err := findIDX(dir, part)
	if err != nil {
		return extent{}, err
	}
	f, _, err := openRegular(path)
	if err != nil {
		return extent{}, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var r io.Reader = br
	if head, _ := br.Peek(2); isGzip(head) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return extent{}, fileError(path, gzipFault(err), "")
		}
		r = zr
	}
	h, _, err := readHeader(r)
	if err != nil {
		return extent{}, fileError(path, err, "")
	}
	return shapeExtent(path, h.dims)
}

func npyExtent(src Source, path string, test bool) (extent, error) {
	name := arrayNames(src)[0]
	if test {
		name = arrayNames(src)[2]
	}
	if src.Kind == KindNPY {
		file := filepath.Join(path, name+".npy")
		f, _, err := openRegular(file)
		if err != nil {
			return extent{}, err
		}
		defer f.Close()
		_, shape, _, err := readNPYHeader(bufio.NewReader(f))
		if err != nil {
			return extent{}, fileError(file, err, "")
		}
		return shapeExtent(file, shape)
	}
	z, err := openNPZ(path)
	if err != nil {
		return extent{}, err
	}
	defer z.Close()
	for _, f := range z.zip.File {
		if f.Name != name+".npy" {
			continue
		}
		where := fmt.Sprintf("%s[%s]", path, f.Name)
		rc, err := f.Open()
		if err != nil {
			return extent{}, fileError(where, ErrFormat, "%v", err)
		}
		defer rc.Close()
		_, shape, _, err := readNPYHeader(rc)
		if err != nil {
			return extent{}, fileError(where, err, "")
		}
		return shapeExtent(where, shape)
	}
	return extent{}, fileError(path, ErrMissing, "no array %q", name)
}

func cifarExtent(src Source, dir string, test bool) (extent, error) {
	l := cifarLayoutOf(src)
	files := l.train
	if test {
		files = l.test
	}
	var n int64
	for _, name := range files {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return extent{}, fmt.Errorf("dataset: %w", err)
		}
		n += info.Size() / int64(l.labelBytes+cifarPixels)
	}
	return extent{n, cifarPixels}, nil
}

// channels is how many values a decoded pixel has.
func channels(c Color) int64 {
	if c == ColorGrayscale {
		return 1
	}
	return 3
}

func imagesExtent(src Source, dir string) (extent, error) {
	_, files, err := findImages(dir, nil) // counted, not stat'ed: Open stats them when it reads
	if err != nil {
		return extent{}, err
	}
	if len(files) == 0 {
		return extent{}, nil
	}
	if src.Size != [2]int{} {
		return extent{int64(len(files)), int64(src.Size[0]) * int64(src.Size[1]) * channels(src.Color)}, nil
	}
	f, _, err := openRegular(files[0].path)
	if err != nil {
		return extent{}, err
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(bufio.NewReader(f))
	if err != nil {
		return extent{}, fileError(files[0].path, ErrDecode, "%v", err)
	}
	return extent{int64(len(files)), int64(cfg.Width) * int64(cfg.Height) * channels(src.Color)}, nil
}

// csvExtent counts the rows after the header and the header's columns, one of which is the label. A
// quoted comma or line break counts as a column or a row more: an estimate, never below the truth.
func csvExtent(path string) (extent, error) {
	f, _, err := openRegular(path)
	if err != nil {
		return extent{}, err
	}
	defer f.Close()
	var rows, commas int64
	inHeader, last := true, byte('\n')
	buf := make([]byte, chunkBytes)
	for {
		n, err := f.Read(buf)
		chunk := buf[:n]
		if inHeader {
			end := bytes.IndexByte(chunk, '\n')
			if end < 0 {
				end = len(chunk)
			}
			commas += int64(bytes.Count(chunk[:end], []byte(",")))
			if end < len(chunk) {
				inHeader, chunk = false, chunk[end+1:]
			} else {
				chunk = nil
			}
		}
		rows += int64(bytes.Count(chunk, []byte("\n")))
		if len(chunk) > 0 {
			last = chunk[len(chunk)-1]
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return extent{}, fileError(path, err, "")
		}
	}
	if last != '\n' {
		rows++ // a last row without its line break
	}
	return extent{rows, commas}, nil
}

// tfrecordExtent counts the records of the glob's files, skipping their data, and takes one example's
// values from size= or the first record's image.
func tfrecordExtent(src Source, glob string) (extent, error) {
	paths, err := filepath.Glob(glob)
	if err != nil || len(paths) == 0 {
		return extent{}, fmt.Errorf("dataset: %s: %w: no file matches", glob, ErrMissing)
	}
	slices.Sort(paths)
	var e extent
	for _, p := range paths {
		n, first, err := countRecords(p, e.features == 0 && src.Size == [2]int{})
		if err != nil {
			return extent{}, err
		}
		e.examples += n
		if first != nil {
			d, _, err := parseRecord(nil, first, src)
			if err != nil {
				return extent{}, fileError(p, err, "record 0")
			}
			e.features = int64(len(d.bytes) + len(d.floats))
		}
	}
	if src.Size != [2]int{} {
		e.features = int64(src.Size[0]) * int64(src.Size[1]) * channels(src.Color)
	}
	return e, nil
}

// countRecords counts a TFRecord file's records by their length headers; keepFirst returns the first
// record's data too.
func countRecords(path string, keepFirst bool) (n int64, first []byte, err error) {
	r, _, closeFile, err := openTFRecord(path)
	if err != nil {
		return 0, nil, err
	}
	defer closeFile()
	var head [tfrecordHeader]byte
	for ; ; n++ {
		if _, err := io.ReadFull(r, head[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return n, first, nil
			}
			return 0, nil, fileError(path, recordFault(err), "record %d", n)
		}
		length := binary.LittleEndian.Uint64(head[:8])
		if maskedCRC(head[:8]) != binary.LittleEndian.Uint32(head[8:]) || length > maxRecord {
			return 0, nil, fileError(path, ErrFormat, "record %d: a bad length header", n)
		}
		if n == 0 && keepFirst {
			first = make([]byte, length)
			if _, err := io.ReadFull(r, first); err != nil {
				return 0, nil, fileError(path, recordFault(err), "record 0")
			}
			length = 0
		}
		if _, err := io.CopyN(io.Discard, r, int64(length)+4); err != nil {
			return 0, nil, fileError(path, recordFault(err), "record %d", n)
		}
	}
}
