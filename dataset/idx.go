// Package dataset reads IDX classification sets (MNIST, Fashion-MNIST, KMNIST share the layout), verifies
// them, and serves them as shuffled float32 mini-batches.
//
// An IDX file is a 4-byte magic (two zero bytes, the element type, the number of dimensions), one big-endian
// uint32 per dimension, then the elements row-major. Files may be gzipped; gzip is recognised by its magic
// bytes, not by the file name. Every fault is reported with the file's path and one of the Err* values below,
// so callers can test for it with errors.Is.
package dataset

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
)

// Faults a file can have. Errors returned by this package wrap one of these and name the file.
var (
	ErrMagic         = errors.New("not an IDX file (bad magic number)")
	ErrElementType   = errors.New("element type is not unsigned byte (0x08)")
	ErrDimensions    = errors.New("wrong number of dimensions")
	ErrZeroSize      = errors.New("zero dimension")
	ErrTooLarge      = errors.New("declared size too large")
	ErrTruncated     = errors.New("truncated")
	ErrTrailing      = errors.New("trailing bytes")
	ErrCorruptGzip   = errors.New("corrupt gzip")
	ErrLabelRange    = errors.New("label out of range")
	ErrCountMismatch = errors.New("image and label counts differ")
)

const (
	idxTypeUnsignedByte = 0x08
	imageDims           = 3 // magic 0x00000803: count, rows, cols
	labelDims           = 1 // magic 0x00000801: count

	// maxPayload bounds what any header may declare, whatever the file size: far above the largest IDX sets
	// (EMNIST's 700 MB), far below what would exhaust the machine.
	maxPayload = 4 << 30
	// maxDeflateRatio is DEFLATE's worst-case expansion (a 258-byte match per ~2 bits, RFC 1951), so a
	// gzip file of size s cannot honestly decompress to more than s*maxDeflateRatio bytes.
	maxDeflateRatio = 1032
	// initialGzipBuffer caps the first allocation for a gzipped payload: beyond it the buffer grows only as
	// bytes actually arrive, so a lying header costs no more memory than the data really in the file.
	initialGzipBuffer = 64 << 20
)

// ReadImages reads an IDX3 image file (magic 0x00000803): n images of rows×cols unsigned bytes.
func ReadImages(path string) (pixels []byte, n, rows, cols int, err error) {
	dims, data, err := readIDX(path, imageDims)
	if err != nil {
		return nil, 0, 0, 0, err
	}
	return data, dims[0], dims[1], dims[2], nil
}

// ReadLabels reads an IDX1 label file (magic 0x00000801): one unsigned byte per example.
func ReadLabels(path string) ([]byte, error) {
	_, data, err := readIDX(path, labelDims)
	return data, err
}

// readIDX reads and validates a whole IDX file of unsigned bytes with wantDims dimensions.
func readIDX(path string, wantDims int) (dims []int, data []byte, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("dataset: %w", err)
	}
	fileSize := info.Size()

	br := bufio.NewReader(f)
	head, _ := br.Peek(2)
	gzipped := isGzip(head)
	var r io.Reader = br
	var zr *gzip.Reader
	if gzipped {
		if zr, err = gzip.NewReader(br); err != nil {
			return nil, nil, fileError(path, gzipFault(err), "")
		}
		r = zr
	}

	dims, headerLen, err := readHeader(r, wantDims)
	if err != nil {
		if gzipped && isGzipFault(err) {
			return nil, nil, fileError(path, gzipFault(err), "in the header")
		}
		return nil, nil, fileError(path, err, "")
	}
	size, err := payloadSize(dims)
	if err != nil {
		return nil, nil, fileError(path, err, "dimensions %v", dims)
	}

	if !gzipped {
		// The file size tells exactly what to expect, before a byte of payload is allocated.
		actual := fileSize - int64(headerLen)
		switch {
		case actual < size:
			return nil, nil, fileError(path, ErrTruncated, "dimensions %v declare %d data bytes, file holds %d", dims, size, actual)
		case actual > size:
			return nil, nil, fileError(path, ErrTrailing, "dimensions %v declare %d data bytes, file holds %d", dims, size, actual)
		}
		data = make([]byte, size)
		if _, err := io.ReadFull(r, data); err != nil {
			return nil, nil, fileError(path, ErrTruncated, "reading data: %v", err)
		}
		return dims, data, nil
	}

	if limit := fileSize * maxDeflateRatio; size > limit {
		return nil, nil, fileError(path, ErrTooLarge, "dimensions %v declare %d data bytes; a %d-byte gzip file cannot hold more than %d", dims, size, fileSize, limit)
	}
	data, err = readUpTo(zr, int(size))
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, nil, fileError(path, ErrTruncated, "dimensions %v declare %d data bytes, file holds %d", dims, size, len(data))
		}
		return nil, nil, fileError(path, gzipFault(err), "")
	}
	// Read on to the end: trailing bytes are a fault, and gzip verifies its CRC and length only at EOF.
	var extra [1]byte
	switch n, err := io.ReadFull(zr, extra[:]); {
	case n > 0:
		more, _ := io.Copy(io.Discard, zr)
		return nil, nil, fileError(path, ErrTrailing, "dimensions %v declare %d data bytes, file holds %d", dims, size, size+1+more)
	case err != io.EOF:
		return nil, nil, fileError(path, gzipFault(err), "after the data")
	}
	return dims, data, nil
}

// readHeader reads the magic and the dimensions; it returns them and the header's length in bytes.
func readHeader(r io.Reader, wantDims int) (dims []int, headerLen int, err error) {
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return nil, 0, headerReadError(err, "magic number")
	}
	if magic[0] != 0 || magic[1] != 0 {
		return nil, 0, fmt.Errorf("%w 0x%08x, want 0x%08x", ErrMagic, binary.BigEndian.Uint32(magic[:]), idxTypeUnsignedByte<<8|wantDims)
	}
	if magic[2] != idxTypeUnsignedByte {
		return nil, 0, fmt.Errorf("%w: magic 0x%08x has type 0x%02x", ErrElementType, binary.BigEndian.Uint32(magic[:]), magic[2])
	}
	if got := int(magic[3]); got != wantDims {
		hint := ""
		switch got {
		case labelDims:
			hint = " (a label file?)"
		case imageDims:
			hint = " (an image file?)"
		}
		return nil, 0, fmt.Errorf("%w: %d, want %d%s", ErrDimensions, got, wantDims, hint)
	}
	raw := make([]byte, 4*wantDims)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, 0, headerReadError(err, "dimensions")
	}
	dims = make([]int, wantDims)
	for i := range dims {
		d := binary.BigEndian.Uint32(raw[4*i:])
		if d == 0 {
			return nil, 0, fmt.Errorf("%w: dimension %d of %d is 0", ErrZeroSize, i, wantDims)
		}
		dims[i] = int(d)
	}
	return dims, len(magic) + len(raw), nil
}

func headerReadError(err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: file ends inside the %s", ErrTruncated, what)
	}
	return fmt.Errorf("reading the %s: %w", what, err)
}

// payloadSize multiplies the dimensions without overflow and bounds the product.
func payloadSize(dims []int) (int64, error) {
	size := int64(1)
	for _, d := range dims {
		if int64(d) > math.MaxInt64/size {
			return 0, ErrTooLarge
		}
		size *= int64(d)
	}
	if size > maxPayload {
		return 0, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, size, int64(maxPayload))
	}
	return size, nil
}

// readUpTo reads exactly size bytes, growing its buffer only as data arrives; on a short read it returns
// what it got with io.ErrUnexpectedEOF (or io.EOF if nothing came). r must repeat an error on the next Read,
// as gzip.Reader does.
func readUpTo(r io.Reader, size int) ([]byte, error) {
	buf := make([]byte, 0, min(size, initialGzipBuffer))
	for len(buf) < size {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(cap(buf), size-len(buf)))
		}
		n, err := r.Read(buf[len(buf):min(cap(buf), size)])
		buf = buf[:len(buf)+n]
		switch {
		case len(buf) == size:
			// An error that came with the last bytes is the caller's to meet on its next read.
			return buf, nil
		case err == io.EOF && len(buf) == 0:
			return buf, io.EOF
		case err == io.EOF:
			return buf, io.ErrUnexpectedEOF
		case err != nil:
			return buf, err
		}
	}
	return buf, nil
}

// isGzipFault reports whether err came from the decompressor rather than from the IDX layout.
func isGzipFault(err error) bool {
	var corrupt flate.CorruptInputError
	return errors.Is(err, gzip.ErrHeader) || errors.Is(err, gzip.ErrChecksum) || errors.As(err, &corrupt)
}

// gzipFault classifies a decompressor error as ErrCorruptGzip, keeping the decompressor's own words.
func gzipFault(err error) error {
	if errors.Is(err, ErrTruncated) {
		return err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: compressed stream ends early", ErrCorruptGzip)
	}
	return fmt.Errorf("%w: %v", ErrCorruptGzip, err)
}

// fileError prefixes err with the package and the file, and appends detail when there is any.
func fileError(path string, err error, format string, args ...any) error {
	if format == "" {
		return fmt.Errorf("dataset: %s: %w", path, err)
	}
	return fmt.Errorf("dataset: %s: %w: %s", path, err, fmt.Sprintf(format, args...))
}

// isGzip reports whether b starts with the gzip magic bytes.
func isGzip(b []byte) bool { return bytes.HasPrefix(b, []byte{0x1f, 0x8b}) }
