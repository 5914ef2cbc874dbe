package dataset

import (
	"encoding/binary"
	"hash/crc32"
	"runtime"
)

// gzip member header flags (RFC 1952).
const (
	gzipFlagHeaderCRC = 1 << 1
	gzipFlagExtra     = 1 << 2
	gzipFlagName      = 1 << 3
	gzipFlagComment   = 1 << 4
	gzipFlagReserved  = 0xe0
	gzipHeaderLen     = 10
	gzipTrailerLen    = 8 // CRC-32 and ISIZE, the size mod 2^32
)

// gunzip decompresses in, which must be exactly one gzip member, into one buffer of the size its trailer
// declares (at most maxSize) and checks its CRC-32. The buffer grows as output arrives, so a lying trailer
// costs little more memory than the stream holds. It declines (ok false) what it does not read, for a
// streaming reader to read or to name the fault: several members or bytes after the first, a header CRC
// or reserved flags, an output of 4 GiB or more (ISIZE is its size mod 2^32), and any damage.
func (f *inflater) gunzip(in []byte, maxSize int64) (out []byte, ok bool) {
	start, ok := gzipDataStart(in)
	if !ok || len(in)-start < gzipTrailerLen {
		return nil, false
	}
	trailer := in[len(in)-gzipTrailerLen:]
	size := int64(binary.LittleEndian.Uint32(trailer[4:]))
	if size > maxSize {
		return nil, false
	}
	if out, end, ok := splitInflate(in, start, int(size), runtime.GOMAXPROCS(0)); ok && end == len(in)-gzipTrailerLen && crc32.ChecksumIEEE(out) == binary.LittleEndian.Uint32(trailer) {
		return out, true
	}
	f.maxTable = longFastBits
	// The first buffer is at most a few times the stream: a lying trailer costs no more than that.
	first := min(size, initialGzipBuffer, 8*int64(len(in))+4096)
	end, ok := f.deflate(in, start, make([]byte, first), int(size))
	out, f.out, f.in = f.out[:f.n], nil, nil
	if !ok || end != len(in)-gzipTrailerLen || crc32.ChecksumIEEE(out) != binary.LittleEndian.Uint32(trailer) {
		return nil, false
	}
	return out, true
}

// gzipDataStart returns where a gzip member's compressed data starts, after its header; false for a header
// gunzip declines.
func gzipDataStart(in []byte) (int, bool) {
	if len(in) < gzipHeaderLen || !isGzip(in) || in[2] != 8 {
		return 0, false
	}
	flags := in[3]
	if flags&(gzipFlagReserved|gzipFlagHeaderCRC) != 0 {
		return 0, false
	}
	at := gzipHeaderLen
	if flags&gzipFlagExtra != 0 {
		if at+2 > len(in) {
			return 0, false
		}
		at += 2 + int(binary.LittleEndian.Uint16(in[at:]))
	}
	for _, flag := range []byte{gzipFlagName, gzipFlagComment} {
		if flags&flag == 0 {
			continue
		}
		for at < len(in) && in[at] != 0 {
			at++
		}
		at++ // the terminating zero
	}
	return at, at <= len(in)
}
