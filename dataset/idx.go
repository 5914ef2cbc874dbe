// Package dataset reads classification sets from the formats people keep them in, verifies them, and
// serves them as shuffled float32 mini-batches.
//
// A data source is a spec, KIND:PATH[:key=value…] (ParseSource): IDX files of any rank and element type
// (MNIST, Fashion-MNIST, KMNIST, EMNIST), NumPy .npz and .npy, CIFAR-10/100's binary batches, a folder tree
// of PNG and JPEG images per class (decoded on all cores and cached decoded), CSV tables and TFRecord files
// of tf.train.Example. Open reads one into a Data: a training and a test split of one shape, as bytes or
// float32, int32 labels, the class count and names. Normalizer prepares them as Keras's preprocessing
// layers do. Every fault wraps one of the Err* values and names the file and the record, row or offset.
// Decoded splits are kept in a cache directory (Options.CacheDir); the entries one Open read are its
// Data.Snapshot, which another Open of the source (a sweep's worker) is handed to read them unchecked.
// Describe checks a source as Open does and returns its Description (sizes, shape, classes, snapshot)
// for a caller that plans rather than trains (the front): a split its cache entry serves gives its
// labels and the shape of its examples, not their values.
//
// An IDX file is a 4-byte magic (two zero bytes, the element type, the number of dimensions), one big-endian
// uint32 per dimension, then the elements row-major. Files may be gzipped; gzip is recognised by its magic
// bytes, not by the file name. ReadImages, ReadLabels and Load read MNIST's own four files as bytes.
package dataset

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
)

// Faults a file can have. Errors returned by this package wrap one of these and name the file.
var (
	ErrMagic         = errors.New("not an IDX file (bad magic number)")
	ErrElementType   = errors.New("unsupported element type")
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
	// maxWholeGzip is the largest gzipped IDX file read whole into memory to be inflated in one buffer;
	// a larger one is streamed.
	maxWholeGzip = 1 << 30
	// maxIDXHeader is the longest IDX header: the magic and 255 dimensions.
	maxIDXHeader = 4 + 4*255
)

// ReadImages reads an IDX3 image file (magic 0x00000803): n images of rows×cols unsigned bytes.
func ReadImages(path string) (pixels []byte, n, rows, cols int, err error) {
	a, err := readIDX(path, requireBytes(imageDims), false)
	if err != nil {
		return nil, 0, 0, 0, err
	}
	return a.bytes, a.dims[0], a.dims[1], a.dims[2], nil
}

// ReadLabels reads an IDX1 label file (magic 0x00000801): one unsigned byte per example.
func ReadLabels(path string) ([]byte, error) {
	a, err := readIDX(path, requireBytes(labelDims), false)
	if err != nil {
		return nil, err
	}
	return a.bytes, nil
}

// idxTypes are the element types an IDX magic's third byte names; all are big-endian.
var idxTypes = map[byte]elemType{
	0x08: uint8Type,
	0x09: {kind: 'i', size: 1, order: binary.BigEndian},
	0x0b: {kind: 'i', size: 2, order: binary.BigEndian},
	0x0c: {kind: 'i', size: 4, order: binary.BigEndian},
	0x0d: {kind: 'f', size: 4, order: binary.BigEndian},
	0x0e: {kind: 'f', size: 8, order: binary.BigEndian},
}

// idxHeader is what an IDX file's header declares.
type idxHeader struct {
	code byte // the element type's code, as in the magic
	elem elemType
	dims []int
}

// requireBytes accepts headers of unsigned bytes with wantDims dimensions, as the MNIST files are.
func requireBytes(wantDims int) func(idxHeader) error {
	return func(h idxHeader) error {
		if h.code != idxTypeUnsignedByte {
			return fmt.Errorf("%w 0x%02x, want unsigned byte (0x08)", ErrElementType, h.code)
		}
		if got := len(h.dims); got != wantDims {
			hint := ""
			switch got {
			case labelDims:
				hint = " (a label file?)"
			case imageDims:
				hint = " (an image file?)"
			}
			return fmt.Errorf("%w: %d, want %d%s", ErrDimensions, got, wantDims, hint)
		}
		return nil
	}
}

// array is a whole stored array (an IDX file, a .npy): bytes when its elements are unsigned bytes or
// bools, else float32; or, read as class labels, int32.
type array struct {
	elem   elemType
	dims   []int
	bytes  []byte
	floats []float32
	labels []int32
}

// readIDX reads and validates a whole IDX file whose header accept approves, streaming its payload into
// the values it returns.
func readIDX(path string, accept func(idxHeader) error, asLabels bool) (*array, error) {
	f, fileSize, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()

	var head [2]byte
	if n, _ := f.ReadAt(head[:], 0); isGzip(head[:n]) {
		return readGzippedIDX(f, path, fileSize, accept, asLabels)
	}
	r := bufio.NewReaderSize(f, chunkBytes)
	h, headerLen, err := readHeader(r)
	if err == nil {
		err = accept(h)
	}
	if err != nil {
		return nil, fileError(path, err, "")
	}
	count, size, err := payloadSize(h)
	if err != nil {
		return nil, fileError(path, err, "dimensions %v", h.dims)
	}
	// The file size tells exactly what to expect, before a byte of payload is allocated.
	switch actual := fileSize - int64(headerLen); {
	case actual < size:
		return nil, fileError(path, ErrTruncated, "dimensions %v declare %d data bytes, file holds %d", h.dims, size, actual)
	case actual > size:
		return nil, fileError(path, ErrTrailing, "dimensions %v declare %d data bytes, file holds %d", h.dims, size, actual)
	}
	a := &array{elem: h.elem, dims: h.dims}
	if err := a.readPayload(r, count, asLabels); err != nil {
		if errors.Is(err, ErrLabelRange) {
			return nil, fileError(path, err, "")
		}
		return nil, fileError(path, ErrTruncated, "reading data: %v", err)
	}
	return a, nil
}

// readGzippedIDX reads a gzipped IDX file. A file of one gzip member, up to maxWholeGzip bytes, is read
// whole and inflated into one buffer (gunzip), without a streaming reader's window and io.Reader layers;
// what gunzip declines, or an IDX file it holds that readIDXBytes does not take, is read again by
// klauspost's streaming reader, which reads it or names its fault.
func readGzippedIDX(f *os.File, path string, fileSize int64, accept func(idxHeader) error, asLabels bool) (*array, error) {
	if fileSize > maxWholeGzip {
		return readGzipStream(bufio.NewReaderSize(f, chunkBytes), path, fileSize, accept, asLabels)
	}
	compressed := make([]byte, fileSize)
	if _, err := io.ReadFull(f, compressed); err != nil {
		return nil, fileError(path, ErrTruncated, "reading %d bytes: %v", fileSize, err)
	}
	var inf inflater
	if plain, ok := inf.gunzip(compressed, maxPayload+maxIDXHeader); ok {
		if a, ok := readIDXBytes(plain, accept, asLabels); ok {
			return a, nil
		}
	}
	return readGzipStream(bytes.NewReader(compressed), path, fileSize, accept, asLabels)
}

// readIDXBytes takes a whole IDX file from memory; false for any fault, which readGzipStream then names.
// Byte images are the payload's own bytes.
func readIDXBytes(b []byte, accept func(idxHeader) error, asLabels bool) (*array, bool) {
	h, headerLen, err := readHeader(bytes.NewReader(b))
	if err != nil || accept(h) != nil {
		return nil, false
	}
	count, size, err := payloadSize(h)
	if err != nil || int64(len(b)-headerLen) != size {
		return nil, false
	}
	a := &array{elem: h.elem, dims: h.dims}
	if a.elem.isBytes() && !asLabels {
		a.bytes = b[headerLen:]
		return a, true
	}
	return a, a.readPayload(bytes.NewReader(b[headerLen:]), count, asLabels) == nil
}

// readGzipStream reads a gzipped IDX file from r through klauspost's streaming reader.
func readGzipStream(r io.Reader, path string, fileSize int64, accept func(idxHeader) error, asLabels bool) (*array, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fileError(path, gzipFault(err), "")
	}
	h, _, err := readHeader(zr)
	if err == nil {
		err = accept(h)
	}
	if err != nil {
		if isGzipFault(err) {
			return nil, fileError(path, gzipFault(err), "in the header")
		}
		return nil, fileError(path, err, "")
	}
	count, size, err := payloadSize(h)
	if err != nil {
		return nil, fileError(path, err, "dimensions %v", h.dims)
	}
	a := &array{elem: h.elem, dims: h.dims}
	if err := a.readGzip(zr, count, size, fileSize, asLabels); err != nil {
		return nil, fileError(path, err, "")
	}
	return a, nil
}

// readGzip reads count elements (size bytes) from a gzip stream whose length is only declared, then reads
// on to its end: trailing bytes are a fault, and gzip verifies its CRC and length only at EOF.
func (a *array) readGzip(zr io.Reader, count, size, fileSize int64, asLabels bool) error {
	if limit := fileSize * maxDeflateRatio; size > limit {
		return fmt.Errorf("%w: dimensions %v declare %d data bytes; a %d-byte gzip file cannot hold more than %d", ErrTooLarge, a.dims, size, fileSize, limit)
	}
	if err := a.readGzipPayload(zr, count, size, asLabels); err != nil {
		return err
	}
	var extra [1]byte
	switch n, err := io.ReadFull(zr, extra[:]); {
	case n > 0:
		more, _ := io.Copy(io.Discard, zr)
		return fmt.Errorf("%w: dimensions %v declare %d data bytes, file holds %d", ErrTrailing, a.dims, size, size+1+more)
	case err != io.EOF:
		return fmt.Errorf("%w after the data", gzipFault(err))
	}
	return nil
}

// readPayload reads count elements from r, whose length is known to be right.
func (a *array) readPayload(r io.Reader, count int64, asLabels bool) error {
	if asLabels {
		a.labels = make([]int32, count)
		return readLabelValues(r, a.elem, a.labels)
	}
	if a.elem.isBytes() {
		a.bytes = make([]byte, count)
		_, err := io.ReadFull(r, a.bytes)
		return err
	}
	a.floats = make([]float32, count)
	return readValues(r, a.elem, a.floats)
}

// readGzipPayload reads count elements (size bytes) from a gzip stream whose length is only declared.
func (a *array) readGzipPayload(zr io.Reader, count, size int64, asLabels bool) error {
	if a.elem.isBytes() && !asLabels {
		data, err := readUpTo(zr, int(size))
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: dimensions %v declare %d data bytes, file holds %d", ErrTruncated, a.dims, size, len(data))
		}
		if err != nil {
			return gzipFault(err)
		}
		a.bytes = data
		return nil
	}
	if err := a.readPayload(zr, count, asLabels); err != nil {
		if errors.Is(err, ErrLabelRange) {
			return err
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: dimensions %v declare %d data bytes: %v", ErrTruncated, a.dims, size, err)
		}
		return gzipFault(err)
	}
	return nil
}

// readHeader reads the magic and the dimensions; it returns them and the header's length in bytes.
func readHeader(r io.Reader) (h idxHeader, headerLen int, err error) {
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return h, 0, headerReadError(err, "magic number")
	}
	if magic[0] != 0 || magic[1] != 0 || magic[3] == 0 {
		return h, 0, fmt.Errorf("%w 0x%08x, want 0x0000TTDD (TT the element type, DD the dimensions)", ErrMagic, binary.BigEndian.Uint32(magic[:]))
	}
	h.code = magic[2]
	elem, ok := idxTypes[h.code]
	if !ok {
		return h, 0, fmt.Errorf("%w 0x%02x in magic 0x%08x", ErrElementType, h.code, binary.BigEndian.Uint32(magic[:]))
	}
	h.elem = elem
	raw := make([]byte, 4*int(magic[3]))
	if _, err := io.ReadFull(r, raw); err != nil {
		return h, 0, headerReadError(err, "dimensions")
	}
	h.dims = make([]int, magic[3])
	for i := range h.dims {
		d := binary.BigEndian.Uint32(raw[4*i:])
		if d == 0 {
			return h, 0, fmt.Errorf("%w: dimension %d of %d is 0", ErrZeroSize, i, len(h.dims))
		}
		h.dims[i] = int(d)
	}
	return h, len(magic) + len(raw), nil
}

// openRegular opens path for reading after checking that it is a regular file: a FIFO or a device would
// block or read forever. It returns the file's size.
func openRegular(path string) (*os.File, int64, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, 0, fmt.Errorf("dataset: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, 0, fileError(path, ErrNotRegular, "%s", info.Mode().Type())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("dataset: %w", err)
	}
	return f, info.Size(), nil
}

func headerReadError(err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: file ends inside the %s", ErrTruncated, what)
	}
	return fmt.Errorf("reading the %s: %w", what, err)
}

// payloadSize is the number of elements the header declares and their size in bytes, without overflow
// and bounded.
func payloadSize(h idxHeader) (count, size int64, err error) {
	count, ok := checkedProduct(h.dims, maxPayload/int64(h.elem.size))
	if !ok {
		return 0, 0, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, int64(maxPayload))
	}
	return count, count * int64(h.elem.size), nil
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
