package dataset

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"path/filepath"
	"runtime"
	"slices"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/klauspost/compress/gzip"
)

// A TFRecord file is a sequence of records, each a little-endian uint64 length, the masked CRC-32C of
// those 8 bytes, the data, and the masked CRC-32C of the data (tensorflow/core/lib/io/record_writer.h).
// The whole file may be gzipped. Each record here is a serialised tf.train.Example.
const (
	tfrecordHeader = 12
	crcMaskDelta   = 0xa282ead8
	// maxRecord bounds one record's declared length: far above any one example, far below memory.
	maxRecord = 256 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maskedCRC is TFRecord's masked CRC-32C: the CRC rotated right by 15 bits plus a constant.
func maskedCRC(b []byte) uint32 {
	c := crc32.Checksum(b, castagnoli)
	return (c>>15 | c<<17) + crcMaskDelta
}

// readTFRecordSplit reads every file the glob matches, in sorted order: one goroutine reads the records
// and checks their CRCs while the others parse and decode the batches it read before (recordPipeline).
func readTFRecordSplit(glob string, src Source, _ bool) (*Set, error) {
	paths, err := tfrecordFiles(glob, false)
	if err != nil {
		return nil, err
	}
	return newRecordPipeline(src).run(paths)
}

// tfrecordFiles are the files a glob matches, in sorted order; test does not matter.
func tfrecordFiles(glob string, _ bool) ([]string, error) {
	paths, err := filepath.Glob(glob)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrSpec, glob, err)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("dataset: %s: %w: no file matches", glob, ErrMissing)
	}
	slices.Sort(paths)
	return paths, nil
}

// openTFRecord opens a TFRecord file to read its records in order, through gzip when the file is
// gzipped; size is the file's, closeFile closes it.
func openTFRecord(path string) (r io.Reader, size int64, closeFile func() error, err error) {
	f, size, err := openRegular(path)
	if err != nil {
		return nil, 0, nil, err
	}
	br := bufio.NewReaderSize(f, chunkBytes)
	if head, _ := br.Peek(2); isGzip(head) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, 0, nil, fileError(path, gzipFault(err), "")
		}
		return zr, size, f.Close, nil
	}
	return br, size, f.Close, nil
}

// recordPipeline reads the records of a split's files on one goroutine and parses and decodes them in
// batches on all cores, without waiting for a batch to be decoded before reading the next: a batch goes
// to the decoders and, in file order, to the gatherer, which adds each to the split once it is decoded. The
// batches come from a pool (free), so that reading runs at most a few batches ahead. A fault stops the
// reading; the first one in file order is the split's error.
type recordPipeline struct {
	src     Source
	free    chan *recordBatch // batches to read into
	work    chan *recordBatch // read, to decode
	ordered chan *recordBatch // read, in file order, to gather
	stop    chan struct{}     // closed when the gatherer meets a fault
	workers sync.WaitGroup
}

func newRecordPipeline(src Source) *recordPipeline {
	workers := runtime.GOMAXPROCS(0)
	batches := 2*workers + 1
	p := &recordPipeline{src: src, free: make(chan *recordBatch, batches), work: make(chan *recordBatch, batches),
		ordered: make(chan *recordBatch, batches), stop: make(chan struct{})}
	for range batches {
		p.free <- new(recordBatch)
	}
	for range workers {
		p.workers.Go(func() {
			var pd pngDecoder
			for b := range p.work {
				b.decode(&pd, src)
				close(b.done)
			}
		})
	}
	return p
}

// run reads the files' records into a split: the records are read and decoded side by side and gathered
// here in order.
func (p *recordPipeline) run(paths []string) (*Set, error) {
	p.workers.Go(func() {
		defer close(p.work)
		defer close(p.ordered)
		for _, path := range paths {
			if !p.readFile(path) {
				return
			}
		}
	})
	var ex examples
	var err error
	for b := range p.ordered {
		<-b.done
		if err == nil {
			if err = b.addTo(&ex); err != nil {
				close(p.stop)
			}
		}
		p.free <- b // never blocks: the pool's channel holds every batch
	}
	p.workers.Wait()
	if err != nil {
		return nil, err
	}
	return ex.set()
}

// batch returns a batch to read records of path into from offset on; false when reading must stop.
func (p *recordPipeline) batch(path string, size, offset int64) (*recordBatch, bool) {
	select {
	case b := <-p.free:
		*b = recordBatch{path: path, size: size, offset: offset, records: b.records[:0], index: b.index[:0],
			offsets: b.offsets[:0], arena: b.arena[:0], out: b.out[:0], labels: b.labels[:0], errs: b.errs[:0]}
		return b, true
	case <-p.stop:
		return nil, false
	}
}

// dispatch hands a batch read to the decoders and the gatherer; neither channel is ever full, as each
// holds every batch of the pool.
func (p *recordPipeline) dispatch(b *recordBatch) {
	b.done = make(chan struct{})
	p.ordered <- b
	p.work <- b
}

// readFile reads the records of one file into batches and dispatches each full one and the last; a fault
// ends the batch it is met in, after the records before it, and the reading. False when reading stops.
func (p *recordPipeline) readFile(path string) bool {
	b, ok := p.batch(path, 0, 0)
	if !ok {
		return false
	}
	r, size, closeFile, err := openTFRecord(path)
	if err != nil {
		b.readErr = err
		p.dispatch(b)
		return false
	}
	defer closeFile()
	b.size = size
	var head [tfrecordHeader]byte
	for i := 0; ; i++ {
		fault := func(err error, format string, args ...any) bool {
			b.readErr = b.fault(i, b.offset, err, format, args...)
			p.dispatch(b)
			return false
		}
		n, err := io.ReadFull(r, head[:])
		switch {
		case n == 0 && errors.Is(err, io.EOF):
			if len(b.records) == 0 {
				p.free <- b
			} else {
				p.dispatch(b)
			}
			return true
		case err != nil:
			return fault(recordFault(err), ": the header ends after %d of %d bytes", n, tfrecordHeader)
		}
		length := binary.LittleEndian.Uint64(head[:8])
		if maskedCRC(head[:8]) != binary.LittleEndian.Uint32(head[8:]) {
			return fault(ErrChecksum, ": the length's CRC does not match")
		}
		if length > maxRecord {
			return fault(ErrTooLarge, ": declares %d bytes", length)
		}
		data := b.buffer(int(length) + 4)
		if n, err := io.ReadFull(r, data); err != nil {
			return fault(recordFault(err), ": %d of %d data bytes", max(n-4, 0), length)
		}
		if maskedCRC(data[:length]) != binary.LittleEndian.Uint32(data[length:]) {
			return fault(ErrChecksum, ": the data's CRC does not match")
		}
		b.add(i, data[:length])
		if len(b.records) == recordBatchSize {
			p.dispatch(b)
			if b, ok = p.batch(path, size, b.offset); !ok {
				return false
			}
		}
	}
}

// recordBatchSize is how many records a batch holds: a decoder's share of work at a time.
const recordBatchSize = 512

// recordBatch holds records read, with their positions for errors, and what they decoded to.
type recordBatch struct {
	path    string
	size    int64 // of the file, on disk
	offset  int64 // of the next record
	records [][]byte
	index   []int
	offsets []int64
	arena   []byte // the records' bytes, reused from batch to batch
	readErr error  // the fault that ended the reading after the batch's records, if any

	done   chan struct{} // closed when the records are decoded
	out    []decoded
	labels []int32
	errs   []error
}

// recordArenaBytes is the size of the arrays the records of a batch are read into.
const recordArenaBytes = 4 << 20

// buffer returns n bytes for a record, valid until the batch is read into again.
func (b *recordBatch) buffer(n int) []byte {
	if cap(b.arena)-len(b.arena) < n {
		b.arena = make([]byte, 0, max(n, recordArenaBytes))
	}
	start := len(b.arena)
	b.arena = b.arena[:start+n]
	return b.arena[start : start+n : start+n]
}

func (b *recordBatch) add(i int, data []byte) {
	b.records = append(b.records, data)
	b.index = append(b.index, i)
	b.offsets = append(b.offsets, b.offset)
	b.offset += tfrecordHeader + int64(len(data)) + 4
}

func (b *recordBatch) fault(i int, offset int64, err error, format string, args ...any) error {
	return fmt.Errorf("dataset: %s: record %d at offset %d: %w", b.path, i, offset, fmt.Errorf("%w"+format, append([]any{err}, args...)...))
}

// decode parses and decodes the batch's records.
func (b *recordBatch) decode(pd *pngDecoder, src Source) {
	n := len(b.records)
	b.out, b.labels, b.errs = slices.Grow(b.out[:0], n)[:n], slices.Grow(b.labels[:0], n)[:n], slices.Grow(b.errs[:0], n)[:n]
	for k, r := range b.records {
		b.out[k], b.labels[k], b.errs[k] = parseRecord(pd, r, src)
	}
}

// addTo adds the decoded records to ex in order; the first fault, of a record or of the reading after
// them, is the error.
func (b *recordBatch) addTo(ex *examples) error {
	if len(ex.labels) == 0 && len(b.records) > 0 && b.errs[0] == nil && b.offset > 0 {
		// The first examples tell how many the file holds (fewer if gzipped): room for them all at once.
		ex.reserve(int(float64(len(b.records))*float64(b.size)/float64(b.offset)*1.02), b.out[0])
	}
	for k := range b.records {
		err := b.errs[k]
		if err == nil {
			err = ex.add(b.out[k], b.labels[k])
		}
		b.out[k] = decoded{}
		if err != nil {
			return b.fault(b.index[k], b.offsets[k], err, "")
		}
	}
	return b.readErr
}

func recordFault(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return ErrTruncated
	}
	return gzipFault(err)
}

// feature is one tf.train.Feature's value: bytes_list, float_list or int64_list.
type feature struct {
	bytes  [][]byte
	floats []float32
	ints   []int64
	kind   int // the oneof's field number: 1 bytes, 2 floats, 3 ints; 0 absent
}

// parseExample reads the features named image and label from a serialised tf.train.Example
// (Example.features = 1; Features.feature = 1, a map<string, Feature>).
func parseExample(b []byte, image, label string) (img, lab feature, err error) {
	err = eachField(b, func(num protowire.Number, v []byte) error {
		if num != 1 {
			return nil
		}
		return eachField(v, func(num protowire.Number, entry []byte) error {
			if num != 1 {
				return nil
			}
			var key, value []byte
			err := eachField(entry, func(num protowire.Number, v []byte) error {
				switch num {
				case 1:
					key = v
				case 2:
					value = v
				}
				return nil
			})
			switch {
			case err != nil:
				return err
			case string(key) == image:
				img, err = parseFeature(value)
			case string(key) == label:
				lab, err = parseFeature(value)
			}
			return err
		})
	})
	return img, lab, err
}

// parseFeature reads a tf.train.Feature: its one list (BytesList, FloatList or Int64List), whose
// repeated field 1 holds the values, numbers packed or not.
func parseFeature(b []byte) (feature, error) {
	var f feature
	err := eachField(b, func(kind protowire.Number, list []byte) error {
		if kind < 1 || kind > 3 {
			return nil
		}
		f.kind = int(kind)
		return parseList(list, &f)
	})
	return f, err
}

// parseList appends the values of one list message to f, as f.kind says they are.
func parseList(b []byte, f *feature) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return listError(n)
		}
		b = b[n:]
		var v []byte
		switch {
		case num != 1 || typ == protowire.VarintType && f.kind == 3 || typ == protowire.Fixed32Type && f.kind == 2:
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n >= 0 && num == 1 {
				v = b[:n]
			}
		case typ == protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		default:
			return fmt.Errorf("%w: tf.train.Feature: wire type %d in a list of kind %d", ErrFormat, typ, f.kind)
		}
		if n < 0 {
			return listError(n)
		}
		b = b[n:]
		if v == nil {
			continue
		}
		if err := f.add(typ, v); err != nil {
			return err
		}
	}
	return nil
}

// add appends one encoded element (typ not BytesType) or a packed run of them, or a BytesList entry.
func (f *feature) add(typ protowire.Type, v []byte) error {
	switch {
	case f.kind == 1:
		f.bytes = append(f.bytes, v)
	case f.kind == 2 && (typ == protowire.Fixed32Type || len(v)%4 == 0):
		for ; len(v) > 0; v = v[4:] {
			f.floats = append(f.floats, math.Float32frombits(binary.LittleEndian.Uint32(v)))
		}
	case f.kind == 2:
		return fmt.Errorf("%w: tf.train.FloatList of %d bytes", ErrFormat, len(v))
	default:
		for len(v) > 0 {
			x, n := protowire.ConsumeVarint(v)
			if n < 0 {
				return listError(n)
			}
			f.ints = append(f.ints, int64(x))
			v = v[n:]
		}
	}
	return nil
}

func listError(n int) error {
	return fmt.Errorf("%w: tf.train.Feature: %v", ErrFormat, protowire.ParseError(n))
}

// eachField calls fn with every length-delimited field of a message, skipping the others.
func eachField(b []byte, fn func(protowire.Number, []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: tf.train.Example: %v", ErrFormat, protowire.ParseError(n))
		}
		b = b[n:]
		if typ != protowire.BytesType {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return fmt.Errorf("%w: tf.train.Example: %v", ErrFormat, protowire.ParseError(n))
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return fmt.Errorf("%w: tf.train.Example: %v", ErrFormat, protowire.ParseError(n))
		}
		if err := fn(num, v); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}
