package summary

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// castagnoli is built once: crc32.MakeTable is cheap but not free, and the
// table is read-only afterwards.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maskDelta is TensorFlow's CRC mask constant (tsl/lib/hash/crc32c.h). The
// mask exists because CRCs of data that itself contains CRCs are weak.
const maskDelta = 0xa282ead8

func maskCRC(c uint32) uint32 { return (c>>15 | c<<17) + maskDelta }

func unmaskCRC(m uint32) uint32 {
	r := m - maskDelta
	return r>>17 | r<<15
}

func maskedCRC(b []byte) uint32 { return maskCRC(crc32.Checksum(b, castagnoli)) }

// recordHeaderLen and recordFooterLen frame every record: u64 length and its
// masked CRC before the payload, the payload's masked CRC after it.
const (
	recordHeaderLen = 12
	recordFooterLen = 4
)

// appendRecord appends payload framed as one TFRecord to dst.
func appendRecord(dst, payload []byte) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, recordHeaderLen)...)
	dst = append(dst, payload...)
	return finishRecord(dst, start)
}

// finishRecord frames the payload that was appended to dst after
// recordHeaderLen reserved bytes at start. It lets the writer marshal an
// event straight into its output buffer without copying it.
func finishRecord(dst []byte, start int) []byte {
	h := dst[start : start+recordHeaderLen]
	payload := dst[start+recordHeaderLen:]
	binary.LittleEndian.PutUint64(h[0:8], uint64(len(payload)))
	binary.LittleEndian.PutUint32(h[8:12], maskedCRC(h[0:8]))
	return binary.LittleEndian.AppendUint32(dst, maskedCRC(payload))
}

// errTruncated marks a record cut short by the end of the input: a file that
// is still being written, or whose writer died mid-record.
var errTruncated = errors.New("truncated record")

// recordReader reads TFRecords one at a time and verifies both CRCs.
type recordReader struct {
	r      io.Reader
	offset int64 // of the next record
	header [recordHeaderLen]byte
	footer [recordFooterLen]byte
	buf    []byte
}

// corruptRecord describes a record whose framing is bad.
type corruptRecord struct {
	offset int64
	reason string
}

func (e *corruptRecord) Error() string {
	return fmt.Sprintf("corrupt record at offset %d: %s", e.offset, e.reason)
}

// directReadLimit bounds the payload size read into a preallocated buffer. A
// larger length may be corrupt (its CRC is only 32 bits), so its payload is
// read progressively and a lying length fails at EOF instead of allocating
// gigabytes first.
const directReadLimit = 16 << 20

// next returns the next record's payload, valid until the following call.
// It returns io.EOF at a clean end, errTruncated when the input ends inside
// a record, or a *corruptRecord.
func (rr *recordReader) next() ([]byte, error) {
	start := rr.offset
	_, err := io.ReadFull(rr.r, rr.header[:])
	if err == io.EOF {
		return nil, io.EOF
	}
	if err == io.ErrUnexpectedEOF {
		return nil, errTruncated
	}
	if err != nil {
		return nil, err
	}
	length := binary.LittleEndian.Uint64(rr.header[0:8])
	if got, want := maskedCRC(rr.header[0:8]), binary.LittleEndian.Uint32(rr.header[8:12]); got != want {
		return nil, &corruptRecord{start, fmt.Sprintf("bad length crc (stored %#08x, computed %#08x)", want, got)}
	}
	if length > 1<<62 {
		return nil, &corruptRecord{start, fmt.Sprintf("impossible length %d", length)}
	}
	var payload []byte
	if length <= directReadLimit {
		if uint64(cap(rr.buf)) < length {
			rr.buf = make([]byte, length)
		}
		payload = rr.buf[:length]
		if _, err := io.ReadFull(rr.r, payload); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return nil, errTruncated
			}
			return nil, err
		}
	} else {
		var b bytes.Buffer
		n, err := io.CopyN(&b, rr.r, int64(length))
		if err == io.EOF || (err == nil && uint64(n) < length) {
			return nil, errTruncated
		}
		if err != nil {
			return nil, err
		}
		payload = b.Bytes()
	}
	if _, err := io.ReadFull(rr.r, rr.footer[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, errTruncated
		}
		return nil, err
	}
	if got, want := maskedCRC(payload), binary.LittleEndian.Uint32(rr.footer[:]); got != want {
		return nil, &corruptRecord{start, fmt.Sprintf("bad data crc (stored %#08x, computed %#08x)", want, got)}
	}
	rr.offset = start + recordHeaderLen + int64(length) + recordFooterLen
	return payload, nil
}
