package dataset

import (
	"encoding/binary"
	"math/bits"
)

// inflater decompresses a whole DEFLATE stream (RFC 1951) held in memory into one buffer of the size its
// container declares: the zlib stream of a small PNG (inflate, RFC 1950) or a gzip member (gunzip, RFC
// 1952). A 28×28 PNG holds one block with Huffman codes of its own and inflates to 812 bytes: building the
// decoding tables is much of the work, and a general inflater builds them for long streams (klauspost's
// clears and fills two tables of 512 entries per block). This one sizes each table to its code's longest
// length, up to fastBits for a PNG and longFastBits for a long stream, and decodes longer codes bit by
// bit. Knowing the output's size, it copies every match within the output, where a streaming inflater
// keeps a window and copies out of it. It accepts what compress/flate accepts (complete codes, or a lone
// code of one bit); on anything else it declines, for image/png or klauspost's reader to name the fault.
// One inflater serves one goroutine.
type inflater struct {
	in    []byte
	pos   int    // the next byte of in to enter acc
	acc   uint64 // bits read from in and not yet used, the next in the lowest bit
	nbits uint
	out   []byte
	n     int // bytes of out written
	size  int // bytes the output must come to; out grows up to it
	// maxTable is the most bits a table look-up decodes: tables this large pay off on long streams only.
	maxTable uint
	lit      huffman
	dist     huffman
	clen     huffman // a dynamic block's code-length code

	fixedLit, fixedDist *huffman // the fixed codes, built when first met
}

const (
	fastBits     = 9  // the most bits a table decodes at once in a small stream (a PNG's)
	longFastBits = 10 // and in a long one (a gzipped IDX file)
	maxCodeBits  = 15
	maxLitCodes  = 288
	maxDistCodes = 32
	endOfBlock   = 256
)

// The base lengths and distances of length symbols 257… and distance symbols 0…, and their extra bits.
var (
	lengthBase  = [...]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [...]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase    = [...]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra   = [...]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	// codeLengthOrder is the order a dynamic block gives its code-length code's lengths in.
	codeLengthOrder = [...]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
)

// huffman decodes one canonical Huffman code: fast[the next tableBits bits] is a symbol<<4 | its length,
// or 0 for a longer code, which count and symbols decode bit by bit.
type huffman struct {
	fast      [1 << longFastBits]uint16
	tableBits uint
	count     [maxCodeBits + 1]uint16
	symbols   [maxCodeBits + 1][maxLitCodes]uint16 // symbols[n][:count[n]]: the symbols of n bits, in order
	empty     bool                                 // no symbol at all: any use of the code is an error
}

// build makes h decode the code whose lengths are given (0: the symbol is unused); false for a code
// compress/flate refuses: over- or under-subscribed, but for a lone code of one bit.
func (h *huffman) build(lengths []uint8, maxTable uint) bool {
	h.count = [maxCodeBits + 1]uint16{}
	for sym, n := range lengths {
		// The unused symbols are listed too, as of 0 bits, so that no symbol costs a branch.
		h.symbols[n][h.count[n]] = uint16(sym)
		h.count[n]++
	}
	h.count[0] = 0
	return h.finish(maxTable)
}

// finish makes h decode the code its lists of symbols by length (count, symbols) describe; false for a code
// compress/flate refuses: over- or under-subscribed, but for a lone code of one bit.
func (h *huffman) finish(maxTable uint) bool {
	maxLen := uint(maxCodeBits)
	for maxLen > 0 && h.count[maxLen] == 0 {
		maxLen--
	}
	if h.empty = maxLen == 0; h.empty {
		return true
	}
	// The codes fill the 2^maxLen sequences of maxLen bits exactly, or the code is one symbol of one bit.
	next := 0 // the first code of each length; an over-subscribed code's run past 2^15
	for n := range maxLen {
		next = (next + int(h.count[n])) << 1
	}
	if used := next + int(h.count[maxLen]); used != 1<<maxLen && !(used == 1 && maxLen == 1) {
		return false
	}
	h.tableBits = min(maxLen, maxTable)
	h.fill()
	return true
}

// fill writes the fast table one length at a time: once the codes of length n are in its first 2^n
// entries (each code of n bits at its bits reversed, as the stream gives them), an entry whose last bit is
// set decodes as the one without it, so the 2^n entries are copied after themselves for the codes of
// length n+1. Each code is written once, not once per entry it fills; the entries of longer codes'
// prefixes stay zero.
func (h *huffman) fill() {
	fast := h.fast[:1<<h.tableBits]
	fast[0], fast[1] = 0, 0
	code := 0
	for n := uint(1); ; n++ {
		for _, sym := range h.symbols[n][:h.count[n]] {
			fast[bits.Reverse16(uint16(code))>>(16-n)] = sym<<4 | uint16(n)
			code++
		}
		if n == h.tableBits {
			return
		}
		copy(fast[1<<n:2<<n], fast[:1<<n])
		code <<= 1
	}
}

// inflate decompresses the zlib stream in into out, which it must fill exactly, and checks its Adler-32.
func (f *inflater) inflate(in, out []byte) bool {
	if len(in) < 2 || in[0]&0x0f != 8 || in[0]>>4 > 7 || in[1]&0x20 != 0 || binary.BigEndian.Uint16(in)%31 != 0 {
		return false
	}
	f.maxTable = fastBits
	at, ok := f.deflate(in, 2, out, len(out))
	return ok && at+4 <= len(in) && binary.BigEndian.Uint32(in[at:]) == adler32Sum(out)
}

// adler32Sum is hash/adler32's Checksum, eight bytes at a time: hash/adler32 adds one byte at a time to
// two running sums, a chain of dependent additions that took a tenth of a small PNG's inflating. Here a
// block of up to 128 words is summed in lanes, with additions only: its even and odd bytes as four 16-bit
// lanes each (even, odd), and, for the sum s1 reaches before each word, the lanes summed so far added up
// in 32-bit lanes (before). The running sums are then advanced once a block from those lanes.
func adler32Sum(b []byte) uint32 {
	const (
		mod   = 65521
		lanes = 0x00ff00ff00ff00ff
		wide  = 0x0000ffff0000ffff
	)
	var s1, s2 uint64 = 1, 0
	for len(b) >= 8 {
		// 128 words keep a lane of even+odd below 2^16 (255·2·128) and one of before below 2^32.
		words := min(len(b)/8, 128)
		block := b[:8*words]
		b = b[len(block):]
		var even, odd, beforeLow, beforeHigh uint64
		for ; len(block) > 0; block = block[8:] {
			pair := even + odd
			beforeLow += pair & wide
			beforeHigh += pair >> 16 & wide
			x := binary.LittleEndian.Uint64(block)
			even += x & lanes // bytes 0, 2, 4, 6
			odd += x >> 8 & lanes
		}
		before := beforeLow&0xffffffff + beforeLow>>32 + beforeHigh&0xffffffff + beforeHigh>>32
		// Each word adds 8·s1 (s1 as it was before the word) and its bytes weighted by their distance from
		// its end: 8, 6, 4, 2 for the even ones, 7, 5, 3, 1 for the odd.
		var sum, weighted uint64
		for lane := range 4 {
			e, o := even>>(16*lane)&0xffff, odd>>(16*lane)&0xffff
			sum += e + o
			weighted += e*uint64(8-2*lane) + o*uint64(7-2*lane)
		}
		s2 = (s2 + 8*uint64(words)*s1 + 8*before + weighted) % mod
		s1 = (s1 + sum) % mod
	}
	for _, c := range b {
		s1 += uint64(c)
		s2 += s1
	}
	return uint32(s2%mod<<16 | s1%mod)
}

// deflate decompresses the DEFLATE stream starting at in[pos] into out, growing it up to size bytes,
// which it must fill exactly. The output is then f.out[:size]; it returns the position in in of the byte
// after the final block.
func (f *inflater) deflate(in []byte, pos int, out []byte, size int) (int, bool) {
	f.in, f.pos, f.acc, f.nbits, f.out, f.n, f.size = in, pos, 0, 0, out, 0, size
	if final, ok := f.blocks(-1); !ok || !final || f.n != size {
		return 0, false
	}
	// What follows the last block starts at the next whole byte.
	return f.pos - int(f.nbits/8), true
}

// blocks decodes blocks up to the final one, or, when stop ≥ 0, up to the first that would start at or
// past bit stop of f.in; final tells which it reached.
func (f *inflater) blocks(stop int64) (final, ok bool) {
	for !final {
		if stop >= 0 && f.bitPos() >= stop {
			return false, true
		}
		header, ok := f.bits(3)
		if !ok {
			return false, false
		}
		final = header&1 == 1
		switch header >> 1 {
		case 0:
			ok = f.stored()
		case 1:
			ok = f.fixedBlock()
		case 2:
			ok = f.dynamicBlock()
		default:
			return false, false
		}
		if !ok {
			return false, false
		}
	}
	return true, true
}

// bitPos is the position in f.in, in bits, of the next bit to decode.
func (f *inflater) bitPos() int64 { return int64(f.pos)*8 - int64(f.nbits) }

// seekBit makes the next bit to decode bit p of f.in (within it).
func (f *inflater) seekBit(p int64) {
	f.pos, f.acc, f.nbits = int(p/8), 0, 0
	if skip := uint(p % 8); skip > 0 {
		f.refill()
		f.acc >>= skip
		f.nbits -= skip
	}
}

// room makes out hold at least need more bytes, growing it (at least doubling) up to f.size; false if
// the stream would write past f.size. Growing as the output arrives keeps a lying declared size from
// allocating more than the stream really holds, give or take a factor of two.
func (f *inflater) room(need int) bool {
	if need <= len(f.out)-f.n {
		return true
	}
	if need > f.size-f.n {
		return false
	}
	grown := make([]byte, min(f.size, max(2*len(f.out), f.n+need)))
	copy(grown, f.out[:f.n])
	f.out = grown
	return true
}

// bits returns the next n (≤ 32) bits of the stream, false past its end.
func (f *inflater) bits(n uint) (uint32, bool) {
	if f.nbits < n {
		f.refill()
		if f.nbits < n {
			return 0, false
		}
	}
	v := uint32(f.acc & (1<<n - 1))
	f.acc >>= n
	f.nbits -= n
	return v, true
}

func (f *inflater) refill() { f.pos, f.acc, f.nbits = refillWord(f.in, f.pos, f.acc, f.nbits) }

// refillWord loads whole bytes of in from pos into acc, above its nbits bits, to 56 bits or more, or to
// the end of in.
func refillWord(in []byte, pos int, acc uint64, nbits uint) (int, uint64, uint) {
	if pos+8 <= len(in) {
		acc |= binary.LittleEndian.Uint64(in[pos:]) << nbits
		took := (63 - nbits) / 8
		return pos + int(took), acc, nbits + took*8
	}
	for nbits <= 56 && pos < len(in) {
		acc |= uint64(in[pos]) << nbits
		pos++
		nbits += 8
	}
	return pos, acc, nbits
}

// stored copies a stored block: from the next whole byte, its length, the length's complement, the bytes.
func (f *inflater) stored() bool {
	b, ok := f.storedBytes()
	if !ok || !f.room(len(b)) {
		return false
	}
	f.n += copy(f.out[f.n:], b)
	return true
}

// storedBytes reads a stored block's header and returns its bytes, which it skips; false past the end.
func (f *inflater) storedBytes() ([]byte, bool) {
	f.acc >>= f.nbits % 8
	f.nbits -= f.nbits % 8
	header, ok := f.bits(32)
	if !ok || uint16(header) != ^uint16(header>>16) {
		return nil, false
	}
	n := int(uint16(header))
	at := f.pos - int(f.nbits/8)
	if at+n > len(f.in) {
		return nil, false
	}
	f.pos, f.acc, f.nbits = at+n, 0, 0
	return f.in[at : at+n], true
}

// fixedBlock decodes a block of the fixed codes.
func (f *inflater) fixedBlock() bool {
	f.fixedCodes()
	return f.codes(f.fixedLit, f.fixedDist)
}

// fixedCodes builds the fixed codes, once.
func (f *inflater) fixedCodes() {
	if f.fixedLit == nil {
		var lens [maxLitCodes + maxDistCodes]uint8
		for i := range lens {
			switch {
			case i < 144:
				lens[i] = 8
			case i < 256:
				lens[i] = 9
			case i < 280:
				lens[i] = 7
			case i < maxLitCodes:
				lens[i] = 8
			default:
				lens[i] = 5
			}
		}
		f.fixedLit, f.fixedDist = new(huffman), new(huffman)
		f.fixedLit.build(lens[:maxLitCodes], f.maxTable)
		f.fixedDist.build(lens[maxLitCodes:], f.maxTable)
	}
}

// dynamicBlock reads a block's own codes, then decodes it.
func (f *inflater) dynamicBlock() bool {
	return f.dynamicCodes() && f.codes(&f.lit, &f.dist)
}

// dynamicCodes reads a dynamic block's codes into f.lit and f.dist.
func (f *inflater) dynamicCodes() bool {
	header, ok := f.bits(14)
	if !ok {
		return false
	}
	nlit, ndist, nclen := int(header&31)+257, int(header>>5&31)+1, int(header>>10)+4
	if nlit > 286 || ndist > 30 {
		return false
	}
	var clens [19]uint8
	for i := range nclen {
		v, ok := f.bits(3)
		if !ok {
			return false
		}
		clens[codeLengthOrder[i]] = uint8(v)
	}
	if !f.clen.build(clens[:], f.maxTable) || f.clen.empty {
		return false
	}
	return f.readLengths(nlit, ndist) && f.lit.finish(f.maxTable) && f.dist.finish(f.maxTable)
}

// readLengths reads the lengths of a dynamic block's nlit literal and length codes and ndist distance
// codes with the code-length code, and lists each symbol under its length in f.lit or f.dist as it comes:
// no pass over the lengths after. False for a fault, or for a block without an end. The stream's state
// is in locals; the code-length code's lengths take 3 bits, so its table holds all its codes, and a
// symbol and its extra bits take at most 14 bits.
func (f *inflater) readLengths(nlit, ndist int) bool {
	f.lit.count, f.dist.count = [maxCodeBits + 1]uint16{}, [maxCodeBits + 1]uint16{}
	in, pos, acc, nbits := f.in, f.pos, f.acc, f.nbits
	fast, mask := &f.clen.fast, uint64(1)<<f.clen.tableBits-1
	ended := false
	last := uint8(0) // the length read last
	for i := 0; i < nlit+ndist; {
		if nbits < 14 {
			pos, acc, nbits = refillWord(in, pos, acc, nbits)
		}
		e := fast[acc&mask&(1<<longFastBits-1)]
		used := uint(e & 15)
		if used-1 >= nbits { // no code (e is 0: the lone one-bit code's other half), or past the end
			return false
		}
		acc >>= used
		nbits -= used
		if e>>4 < 16 { // one length
			last = uint8(e >> 4)
			f.listLength(i, nlit, last)
			if i == endOfBlock {
				ended = last != 0
			}
			i++
			continue
		}
		// A run: of the last length (16) or of zeros (17, 18), which are not listed.
		run := e>>4 - 16
		extra := uint(repeatExtra[run])
		repeat := int(repeatBase[run]) + int(acc&(1<<extra-1))
		if nbits < extra || repeat > nlit+ndist-i || run == 0 && i == 0 {
			return false
		}
		acc >>= extra
		nbits -= extra
		if run != 0 {
			last = 0
		}
		if i <= endOfBlock && endOfBlock < i+repeat {
			ended = last != 0
		}
		for ; repeat > 0 && last != 0; repeat-- {
			f.listLength(i, nlit, last)
			i++
		}
		i += repeat
	}
	f.lit.count[0], f.dist.count[0] = 0, 0
	f.pos, f.acc, f.nbits = pos, acc, nbits
	return ended
}

// The shortest runs of code-length symbols 16, 17 and 18, and the extra bits that lengthen them.
var (
	repeatBase  = [3]uint8{3, 3, 11}
	repeatExtra = [3]uint8{2, 3, 7}
)

// listLength lists symbol i of a dynamic block's lengths (a literal or length code below nlit, a distance
// code from it) under its length n; those of length 0 too, to be ignored, so that listing does not branch.
func (f *inflater) listLength(i, nlit int, n uint8) {
	h, sym := &f.lit, i
	if i >= nlit {
		h, sym = &f.dist, i-nlit
	}
	h.symbols[n][h.count[n]] = uint16(sym)
	h.count[n]++
}

// codes decodes a block's literals and copies up to its end: runs of those its tables hold in tableCodes,
// any other symbol here, bit by bit.
func (f *inflater) codes(lit, dist *huffman) bool {
	if lit.empty { // an empty table holds stale entries; such a block cannot even end
		return false
	}
	for {
		f.tableCodes(lit, dist)
		sym, ok := f.symbol(lit)
		switch {
		case !ok:
			return false
		case sym < endOfBlock:
			if !f.room(1) {
				return false
			}
			f.out[f.n] = byte(sym)
			f.n++
		case sym == endOfBlock:
			return true
		case !f.match(sym, dist):
			return false
		}
	}
}

// tableCodes decodes literals and copies whose codes the tables hold, into out as far as it reaches, and
// stops before any other symbol (the block's end, a longer code, a fault), for codes. Most of a stream's
// symbols are decoded here, with its state in locals and no call, for registers.
func (f *inflater) tableCodes(lit, dist *huffman) {
	in, out := f.in, f.out
	pos, acc, nbits, n := f.pos, f.acc, f.nbits, f.n
	litMask, distMask := uint64(1)<<lit.tableBits-1, uint64(1)<<dist.tableBits-1
	for {
		if nbits < maxCodeBits {
			pos, acc, nbits = refillWord(in, pos, acc, nbits)
		}
		e := lit.fast[acc&litMask]
		used, sym := uint(e&15), int(e>>4)
		if used-1 >= nbits || sym == endOfBlock || sym > 285 { // no code of the table's, or past the end
			break
		}
		if sym < endOfBlock {
			if n >= len(out) {
				break
			}
			out[n] = byte(sym)
			n++
			acc >>= used
			nbits -= used
			continue
		}
		if nbits < 48 { // the length's extra bits, the distance code and its extra bits too
			pos, acc, nbits = refillWord(in, pos, acc, nbits)
		}
		d := dist.fast[(acc>>used>>lengthExtra[sym-257])&distMask]
		if dist.empty || d&15 == 0 || d>>4 >= 30 { // no distance code of the table's (an empty one's are stale)
			break
		}
		length, distance, matched := tableMatchBits(sym, acc>>used, d)
		if used+matched > nbits || distance > n || length > len(out)-n {
			break
		}
		acc >>= used + matched
		nbits -= used + matched
		if end := n + length; distance >= 8 && end+8 <= len(out) { // copyMatch's usual case, without a call
			for from := n - distance; n < end; n, from = n+8, from+8 {
				binary.LittleEndian.PutUint64(out[n:], binary.LittleEndian.Uint64(out[from:]))
			}
			n = end
		} else {
			n = copyMatch(out, n, distance, length)
		}
	}
	f.pos, f.acc, f.nbits, f.n = pos, acc, nbits, n
}

// tableMatchBits decodes from acc the rest of a match whose length symbol is sym (257…285) and whose
// distance code's table entry is e (a distance symbol, below 30): it returns the length, the distance and
// the bits they took.
func tableMatchBits(sym int, acc uint64, e uint16) (length, distance int, used uint) {
	extra, dbits := uint(lengthExtra[sym-257]), uint(e&15)
	dextra := uint(distExtra[e>>4])
	length = int(lengthBase[sym-257]) + int(acc&(1<<extra-1))
	distance = int(distBase[e>>4]) + int(acc>>(extra+dbits)&(1<<dextra-1))
	return length, distance, extra + dbits + dextra
}

// tableMatch decodes from acc, which holds nbits bits, the rest of a match whose length symbol is sym
// (257…285): the length's extra bits, the distance code and its extra bits. It returns the length, the
// distance and the bits left; false if dist's table does not hold the distance code, or for any fault, for
// match to decode it again.
func tableMatch(sym int, acc uint64, nbits uint, dist *huffman) (length, distance int, rest uint64, left uint, ok bool) {
	sym -= 257
	extra := uint(lengthExtra[sym])
	e := dist.fast[acc>>extra&(1<<dist.tableBits-1)]
	used := extra + uint(e&15)
	if dist.empty || e == 0 || e>>4 >= 30 || nbits < used {
		return 0, 0, 0, 0, false
	}
	length = int(lengthBase[sym]) + int(acc&(1<<extra-1))
	acc >>= used
	nbits -= used
	dextra := uint(distExtra[e>>4])
	if nbits < dextra {
		return 0, 0, 0, 0, false
	}
	distance = int(distBase[e>>4]) + int(acc&(1<<dextra-1))
	return length, distance, acc >> dextra, nbits - dextra, true
}

// match decodes the rest of a match whose length symbol is sym, then copies it.
func (f *inflater) match(sym int, dist *huffman) bool {
	length, distance, ok := f.matchCode(sym, dist)
	if !ok || distance > f.n || !f.room(length) {
		return false
	}
	f.n = copyMatch(f.out, f.n, distance, length)
	return true
}

// matchCode decodes the rest of a match whose length symbol is sym (257…285) bit by bit: the length's
// extra bits, the distance code and its extra bits.
func (f *inflater) matchCode(sym int, dist *huffman) (length, distance int, ok bool) {
	if sym > 285 {
		return 0, 0, false
	}
	sym -= 257
	extra, ok := f.bits(uint(lengthExtra[sym]))
	if !ok {
		return 0, 0, false
	}
	length = int(lengthBase[sym]) + int(extra)
	dsym, ok := f.symbol(dist)
	if !ok || dsym >= 30 {
		return 0, 0, false
	}
	if extra, ok = f.bits(uint(distExtra[dsym])); !ok {
		return 0, 0, false
	}
	return length, int(distBase[dsym]) + int(extra), true
}

// copyMatch copies length bytes from distance back to out[n:], which holds them, and returns the new end.
// It copies eight bytes at a time wherever out has room for the word (the bytes past the copy's end are
// written over later), the last few bytes of out one at a time.
func copyMatch(out []byte, n, distance, length int) int {
	end := n + length
	words := min(end, len(out)-7) // a word written at n below words fits in out
	switch {
	case distance >= 8:
		// Each word's source was written before it is read, even where the copy overlaps itself.
		for ; n < words; n += 8 {
			binary.LittleEndian.PutUint64(out[n:], binary.LittleEndian.Uint64(out[n-distance:]))
		}
	case distance&(distance-1) == 0 && n < words: // 1, 2 or 4 bytes back: those bytes over and over
		w := binary.LittleEndian.Uint64(out[n-distance:]) & patternMask[distance] * patternRepeat[distance]
		for ; n < words; n += 8 {
			binary.LittleEndian.PutUint64(out[n:], w)
		}
	case distance&(distance-1) != 0:
		// A copy from 3, 5, 6 or 7 bytes back repeats its first distance bytes: once the first multiple of
		// distance from eight on is written, a byte at a time, words copy from that far back.
		step := int(wordStep[distance])
		for stop := min(n+step, end); n < stop; n++ {
			out[n] = out[n-distance]
		}
		for ; n < words; n += 8 {
			binary.LittleEndian.PutUint64(out[n:], binary.LittleEndian.Uint64(out[n-step:]))
		}
	}
	for ; n < end; n++ {
		out[n] = out[n-distance]
	}
	return end
}

// wordStep[d] is the least multiple of d of eight or more; a word of the d bytes at the low end of a word
// (patternMask[d]) repeated is that word times patternRepeat[d], for d 1, 2 and 4.
var (
	wordStep      = [8]uint8{1: 8, 2: 8, 3: 9, 4: 8, 5: 10, 6: 12, 7: 14}
	patternMask   = [5]uint64{1: 0xff, 2: 0xffff, 4: 0xffffffff}
	patternRepeat = [5]uint64{1: 0x0101010101010101, 2: 0x0001000100010001, 4: 0x0000000100000001}
)

// symbol decodes the next symbol of h's code.
func (f *inflater) symbol(h *huffman) (int, bool) {
	if h.empty {
		return 0, false
	}
	if f.nbits < maxCodeBits {
		f.refill()
	}
	if e := h.fast[f.acc&(1<<h.tableBits-1)]; uint(e&15)-1 < f.nbits { // a code the table holds, whole in acc
		f.acc >>= e & 15
		f.nbits -= uint(e & 15)
		return int(e >> 4), true
	}
	// Bit by bit: the code's first len bits, most significant first, against the first code of each length.
	code, first := 0, 0
	for n := 1; n <= maxCodeBits; n++ {
		if f.nbits == 0 {
			return 0, false
		}
		code |= int(f.acc & 1)
		f.acc >>= 1
		f.nbits--
		count := int(h.count[n])
		if code-first < count {
			return int(h.symbols[n][code-first]), true
		}
		first = (first + count) << 1
		code <<= 1
	}
	return 0, false
}
