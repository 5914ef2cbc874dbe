package dataset

import (
	"slices"
	"sync"
)

// A DEFLATE stream is one chain of blocks, each of which may copy from the 32 KiB decoded before it, so a
// long stream (a gzipped IDX file) inflates on one core. splitInflate inflates one on several: it finds,
// in each later part of the stream, a place where a dynamic block seems to start (its header reads as
// complete codes and the block decodes to its end), and decodes each part from there at once without the
// bytes before it, as 16-bit symbols in which the values from 256 stand for the bytes of the unknown
// window, then as bytes once the last 32 KiB it wrote hold none of those marks. Each part's guess is proven when the part before ends on a block boundary exactly there: then
// that part decoded what the whole stream holds, and its window's bytes are put in. A guess not proven
// sends the stream to the plain inflater, so a wrong one costs time, never data.
const (
	windowSize = 32 << 10
	// splitInflateBytes is the fewest compressed bytes a part of a split stream has: below it, finding the
	// parts and putting their windows in costs more than the second core saves.
	splitInflateBytes = 2 << 20
	// blockSearchBytes is how far past a part's nominal start a block start is looked for: a compressor's
	// blocks are tens of kilobytes.
	blockSearchBytes = 256 << 10
)

// splitInflate inflates the DEFLATE stream in[start:] into exactly size bytes in up to cores parts side by
// side. It returns the output and where in in the byte after the final block is; ok is false when the
// stream is too short to split, a part's start cannot be found or proven, or the stream is damaged, for
// deflate to inflate it or decline it. The parts after the first hold two bytes a symbol until their
// windows are put in: at most twice the output for a moment, less than the float32 form of the data
// (four bytes a value) the reader makes.
func splitInflate(in []byte, start, size, cores int) (out []byte, end int, ok bool) {
	starts, ok := partStarts(in, start, min(cores, (len(in)-start)/splitInflateBytes))
	if !ok || size <= 0 {
		return nil, 0, false
	}
	parts := len(starts)
	wides := make([]*wideInflater, parts)
	var wg sync.WaitGroup
	for k := 1; k < parts; k++ {
		stop := int64(-1)
		if k+1 < parts {
			stop = starts[k+1]
		}
		wg.Go(func() { wides[k] = decodePart(in, start, starts[k], stop, size) })
	}
	var f inflater
	f.maxTable = longFastBits
	f.in, f.out, f.size = in, make([]byte, min(size, initialGzipBuffer, 8*(len(in)-start)+4096)), size
	f.seekBit(starts[0])
	final, first := f.blocks(starts[1])
	wg.Wait()
	if !first || final || f.bitPos() != starts[1] {
		return nil, 0, false
	}
	total := f.n
	for k := 1; k < parts; k++ {
		w := wides[k]
		if !w.ok || w.final != (k == parts-1) || k+1 < parts && w.bitPos() != starts[k+1] || w.count() > size-total {
			return nil, 0, false
		}
		total += w.count()
	}
	if total != size {
		return nil, 0, false
	}
	out = f.out[:f.n]
	if len(f.out) < size {
		out = make([]byte, f.n, size)
		copy(out, f.out[:f.n])
	}
	out = out[:size]
	if !resolveWindows(out, f.n, wides[1:]) {
		return nil, 0, false
	}
	last := wides[parts-1]
	return out, last.pos - int(last.nbits/8), true
}

// partStarts returns the bit where each of parts parts of the stream in[start:] starts: the first at start,
// each other at the first block start found from its share of the stream on. False for fewer than two
// parts, or a part whose start is not found. A stream that does not start with a dynamic block holds
// stored blocks (data that does not compress) or fixed ones: its later parts would be looked for in vain,
// at a cost as large as inflating it.
func partStarts(in []byte, start, parts int) ([]int64, bool) {
	if parts < 2 || in[start]&7 != 4 && in[start]&7 != 5 {
		return nil, false
	}
	starts := []int64{int64(start) * 8}
	for k := 1; k < parts; k++ {
		from := int64(start) + int64(len(in)-start)*int64(k)/int64(parts)
		p, found := findBlock(in, from*8, min(from+blockSearchBytes, int64(len(in)))*8)
		if !found || p <= starts[k-1] {
			return nil, false
		}
		starts = append(starts, p)
	}
	return starts, true
}

// decodePart decodes the part of the stream in[start:] from bit from up to bit stop (or its end), at most
// size bytes, without its window. It makes room first for the part's share of the output, as its share
// of the stream tells, and some; no more than a few times its compressed bytes, so that a lying trailer's
// size costs no more memory than the stream holds (the room grows as symbols arrive).
func decodePart(in []byte, start int, from, stop int64, size int) *wideInflater {
	w := &wideInflater{limit: size}
	end := int64(len(in)) * 8
	if stop >= 0 {
		end = stop
	}
	share := float64(end-from) / float64(int64(len(in)-start)*8)
	w.reserve(int(min(float64(size)*share*1.2, float64(end-from), initialGzipBuffer)))
	w.ok = w.run(in, from, stop)
	return w
}

// resolveWindows writes the parts' output into out after the first part's n bytes: a part's marked
// symbols with their marks replaced by their window's bytes, then its bytes. First, in order, what the next
// part's window is of each part (its last windowSize bytes), then the rest of every part on all cores.
// False for a mark that stands for a byte before the stream's start.
func resolveWindows(out []byte, n int, parts []*wideInflater) bool {
	var rest []func() bool
	next := n
	for _, w := range parts {
		at := next
		marked, plain := w.wide[windowSize:w.marked()], []byte(nil)
		if w.switched {
			plain = w.out[windowSize:w.inflater.n]
		}
		m, b, base := len(marked), len(plain), at-windowSize
		tailB := min(b, windowSize)
		tailM := min(m, windowSize-tailB)
		copy(out[at+m+b-tailB:], plain[b-tailB:])
		if !resolve(out, at+m-tailM, marked[m-tailM:], base) {
			return false
		}
		rest = append(rest,
			func() bool { return resolve(out, at, marked[:m-tailM], base) },
			func() bool { copy(out[at+m:], plain[:b-tailB]); return true })
		next += m + b
	}
	failed := make([]bool, len(rest))
	parallel(len(rest), func(k int) { failed[k] = !rest[k]() })
	return !slices.Contains(failed, true)
}

// resolve writes symbols to out[at:]: a byte as it is, a window mark m (256 + its index in the window) as
// out[base+m-256], where base is where the part's window starts in out. False for a mark before out[0].
func resolve(out []byte, at int, symbols []uint16, base int) bool {
	dst := out[at : at+len(symbols)]
	for i, v := range symbols {
		if v < 256 {
			dst[i] = byte(v)
			continue
		}
		from := base + int(v) - 256
		if from < 0 {
			return false
		}
		dst[i] = out[from]
	}
	return true
}

// findBlock returns the first bit position in [from, to) where a dynamic block that is not the final one
// decodes to its end, as far as the bytes without their window tell.
func findBlock(in []byte, from, to int64) (int64, bool) {
	w := &wideInflater{limit: 4 * blockSearchBytes}
	for p := from; p < to; p++ {
		// Three bits of header (not final, dynamic) and counts of codes within bounds, before anything costly.
		b := in[p/8:]
		if len(b) < 3 {
			break
		}
		v := (uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16) >> (p % 8)
		if v&7 != 4 || (v>>3)&31 > 29 || (v>>8)&31 > 29 {
			continue
		}
		if w.run(in, p, p+1) && !w.final {
			return p, true
		}
	}
	return 0, false
}

// wideInflater decodes DEFLATE blocks from any block start, without the window before it: into wide,
// whose first windowSize symbols are marks (256 + i stands for byte i of the window), a byte a symbol.
// Once the last window's worth of symbols holds no mark, no later one can: the part goes on as bytes,
// in the inflater's out after that window (switched).
type wideInflater struct {
	inflater
	wide     []uint16
	n        int // symbols of wide written, the marks included
	markEnd  int // no symbol of wide from markEnd on is a mark (a bound: copies of what may be marks move it)
	limit    int // the most symbols after the marks
	switched bool
	final    bool
	ok       bool
}

// marked is the end of the symbols in wide: all of them, or those up to the switch to bytes.
func (w *wideInflater) marked() int { return w.n }

// lastMark is the index after the last mark of symbols, 0 when there is none.
func lastMark(symbols []uint16) int {
	for i := len(symbols) - 1; i >= 0; i-- {
		if symbols[i] >= 256 {
			return i + 1
		}
	}
	return 0
}

// count is how many bytes the part decoded to.
func (w *wideInflater) count() int {
	if w.switched {
		return w.n - windowSize + w.inflater.n - windowSize
	}
	return w.n - windowSize
}

// toBytes goes on in bytes: the last window's symbols, which hold no mark, become the window of the
// inflater's out, with room for what wide had room for.
func (w *wideInflater) toBytes() {
	room := min(len(w.wide)-w.n, w.limit-(w.n-windowSize))
	w.inflater.out = make([]byte, windowSize+room)
	for i, v := range w.wide[w.n-windowSize : w.n] {
		w.inflater.out[i] = byte(v)
	}
	w.inflater.n, w.inflater.size = windowSize, windowSize+w.limit-(w.n-windowSize)
	w.switched = true
}

// run decodes the blocks from bit start of in up to the final one, or to the first that would start at or
// past bit stop (stop ≥ 0).
func (w *wideInflater) run(in []byte, start, stop int64) bool {
	w.maxTable = longFastBits
	w.in = in
	w.seekBit(start)
	w.reserve(windowSize)
	w.n, w.markEnd, w.final, w.switched = windowSize, windowSize, false, false
	for !w.final {
		if stop >= 0 && w.bitPos() >= stop {
			return true
		}
		if w.n-w.markEnd < windowSize && w.n >= 2*windowSize {
			// The bound says the last window's worth may hold marks: where the last one is, if any.
			w.markEnd = w.n - windowSize + lastMark(w.wide[w.n-windowSize:w.n])
		}
		if w.n-w.markEnd >= windowSize {
			w.toBytes()
			final, ok := w.inflater.blocks(stop)
			w.final = final
			return ok
		}
		header, ok := w.bits(3)
		if !ok {
			return false
		}
		w.final = header&1 == 1
		switch header >> 1 {
		case 0:
			ok = w.stored()
		case 1:
			w.fixedCodes()
			ok = w.codes(w.fixedLit, w.fixedDist)
		case 2:
			ok = w.dynamicCodes() && w.codes(&w.lit, &w.dist)
		default:
			return false
		}
		if !ok {
			return false
		}
	}
	return true
}

// reserve makes wide hold the window's marks and room for n symbols after them (up to the limit).
func (w *wideInflater) reserve(n int) {
	if len(w.wide) >= windowSize+min(n, w.limit) {
		return
	}
	w.wide = make([]uint16, windowSize+min(n, w.limit))
	for i := range windowSize {
		w.wide[i] = uint16(256 + i)
	}
}

// room makes wide hold need more symbols, growing it up to the limit; false past it.
func (w *wideInflater) room(need int) bool {
	if need <= len(w.wide)-w.n {
		return true
	}
	if need > w.limit+windowSize-w.n {
		return false
	}
	grown := make([]uint16, min(w.limit+windowSize, max(2*len(w.wide), w.n+need)))
	copy(grown, w.wide[:w.n])
	w.wide = grown
	return true
}

func (w *wideInflater) stored() bool {
	b, ok := w.storedBytes()
	if !ok || !w.room(len(b)) {
		return false
	}
	for i, c := range b {
		w.wide[w.n+i] = uint16(c)
	}
	w.n += len(b)
	return true
}

// codes decodes a block's literals and copies up to its end, as inflater.codes does bytes: the stream's
// state in locals for the common symbols, in w for the rest.
func (w *wideInflater) codes(lit, dist *huffman) bool {
	if lit.empty {
		return false
	}
	in, out := w.in, w.wide
	pos, acc, nbits, n, markEnd := w.pos, w.acc, w.nbits, w.n, w.markEnd
	litMask := uint64(1)<<lit.tableBits - 1
	for {
		if nbits < maxCodeBits {
			pos, acc, nbits = refillWord(in, pos, acc, nbits)
		}
		sym := 0
		if e := lit.fast[acc&litMask]; e != 0 && uint(e&15) <= nbits {
			acc >>= e & 15
			nbits -= uint(e & 15)
			sym = int(e >> 4)
		} else {
			w.pos, w.acc, w.nbits = pos, acc, nbits
			var ok bool
			if sym, ok = w.symbol(lit); !ok {
				return false
			}
			pos, acc, nbits = w.pos, w.acc, w.nbits
		}
		if sym < endOfBlock && n < len(out) {
			out[n] = uint16(sym)
			n++
			continue
		}
		if sym > endOfBlock && sym <= 285 {
			if nbits < 33 {
				pos, acc, nbits = refillWord(in, pos, acc, nbits)
			}
			length, distance, rest, left, ok := tableMatch(sym, acc, nbits, dist)
			if ok && distance <= n && length <= len(out)-n {
				acc, nbits = rest, left
				if n-distance < markEnd { // a copy of what may hold marks
					markEnd = n + length
				}
				n = copyWide(out, n, distance, length)
				continue
			}
		}
		w.pos, w.acc, w.nbits, w.n, w.markEnd = pos, acc, nbits, n, markEnd
		switch {
		case sym < endOfBlock:
			if !w.room(1) {
				return false
			}
			w.wide[w.n] = uint16(sym)
			w.n++
		case sym == endOfBlock:
			return true
		default:
			length, distance, ok := w.matchCode(sym, dist)
			if !ok || distance > w.n || !w.room(length) {
				return false
			}
			if w.n-distance < w.markEnd {
				w.markEnd = w.n + length
			}
			w.n = copyWide(w.wide, w.n, distance, length)
		}
		pos, acc, nbits, n, markEnd, out = w.pos, w.acc, w.nbits, w.n, w.markEnd, w.wide
	}
}

// copyWide copies length symbols from distance back to out[n:], which holds them, and returns the new end.
func copyWide(out []uint16, n, distance, length int) int {
	from, end := n-distance, n+length
	if distance >= 4 && end+4 <= len(out) {
		// Four at a time: each source was written before it is read; those past end are written over later.
		for ; n < end; n, from = n+4, from+4 {
			o, s := out[n:n+4:n+4], out[from:from+4:from+4]
			o[0], o[1], o[2], o[3] = s[0], s[1], s[2], s[3]
		}
		return end
	}
	for n < end {
		n += copy(out[n:end], out[from:n])
	}
	return end
}
