package dataset

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"

	"github.com/klauspost/compress/zlib"
)

const pngSignature = "\x89PNG\r\n\x1a\n"

// PNG colour types (the IHDR's byte 9) that pngDecoder reads, at 8 bits a channel.
const (
	pngGray      = 0
	pngRGB       = 2
	pngGrayAlpha = 4
	pngRGBA      = 6
)

// maxPNGSide bounds each side of an image pngDecoder reads itself; larger ones are image/png's.
const maxPNGSide = 1 << 14

// pngDecoder decodes the PNGs datasets hold (8 bits a channel; grey, grey and alpha, RGB or RGBA; not
// interlaced) reusing its inflater and buffers from image to image: image/png allocates a new inflater per
// image, which costs more than decoding a small image. Any other PNG, and any it finds fault with, it
// declines, for image/png to decode or to name the fault. One pngDecoder serves one goroutine.
type pngDecoder struct {
	inf   inflater      // for small images
	zr    io.ReadCloser // for larger ones
	src   bytes.Reader
	idat  []byte
	raw   []byte // the filtered rows, each with its filter byte
	plain []byte // the unfiltered rows of an image whose pixels are converted
	zero  []byte // the row above the first
	slab  []byte // what is left of the block images' pixels are carved from
	one   [1]byte
}

// pngHeader is what a PNG's IHDR declares, reduced to what pngDecoder reads.
type pngHeader struct {
	rows, cols, channels int
	colorType            byte
}

// decode returns the image's pixels as rows×cols×channels bytes (channels 1: luma, or 3: RGB), as
// decodeImage gets them from image/png; ok is false when the image is image/png's to decode. The rows are
// unfiltered straight into the pixels when they need no conversion (grey as grey, RGB as RGB).
func (d *pngDecoder) decode(b []byte, channels int) (pix []byte, rows, cols int, ok bool) {
	h, ok := d.readChunks(b)
	if !ok {
		return nil, 0, 0, false
	}
	stride := h.cols * h.channels
	need := h.rows * (stride + 1)
	if cap(d.raw) < need {
		d.raw = make([]byte, need)
	}
	raw := d.raw[:need]
	if cap(d.zero) < stride {
		d.zero = make([]byte, stride)
	}
	if !d.inflate(raw) {
		return nil, 0, 0, false
	}
	pix = d.pixels(h.rows * h.cols * channels)
	direct := h.channels == channels && (h.colorType == pngGray || h.colorType == pngRGB)
	unfiltered := pix
	if !direct {
		if cap(d.plain) < h.rows*stride {
			d.plain = make([]byte, h.rows*stride)
		}
		unfiltered = d.plain[:h.rows*stride]
	}
	if !unfilter(unfiltered, raw, d.zero[:stride], h.rows, stride, h.channels) {
		return nil, 0, 0, false
	}
	if !direct {
		convertRows(pix, unfiltered, h, channels)
	}
	if len(pix) <= pixelSlab/4 {
		d.slab = d.slab[len(pix):]
	}
	return pix, h.rows, h.cols, true
}

// pixelSlab is the size of the blocks pngDecoder carves small images' pixels from: an allocation per
// block, not per image. The images are copied into their split and let go, and the blocks with them.
const pixelSlab = 32 << 10

// pixels returns n bytes for an image's pixels at the start of d.slab, which the caller moves past once it
// keeps them; an image larger than a quarter of a block has its own.
func (d *pngDecoder) pixels(n int) []byte {
	if n > pixelSlab/4 {
		return make([]byte, n)
	}
	if len(d.slab) < n {
		d.slab = make([]byte, pixelSlab)
	}
	return d.slab[:n:n]
}

// readChunks checks the signature and every chunk's CRC, reads the IHDR and gathers the IDAT chunks'
// data into d.idat. Critical chunks other than IHDR, IDAT and IEND, and IDATs not in one run, are declined.
func (d *pngDecoder) readChunks(b []byte) (h pngHeader, ok bool) {
	if !bytes.HasPrefix(b, []byte(pngSignature)) {
		return h, false
	}
	b = b[len(pngSignature):]
	d.idat = d.idat[:0]
	idatEnded := false
	for len(b) >= 12 {
		n := binary.BigEndian.Uint32(b)
		if uint64(n) > uint64(len(b)-12) || crc32.ChecksumIEEE(b[4:8+n]) != binary.BigEndian.Uint32(b[8+n:]) {
			return h, false
		}
		kind, data := string(b[4:8]), b[8:8+n]
		b = b[12+n:]
		switch {
		case kind == "IHDR" && h.rows == 0:
			if h, ok = readPNGHeader(data); !ok {
				return h, false
			}
		case kind == "IDAT" && h.rows > 0 && !idatEnded:
			d.idat = append(d.idat, data...)
		case kind == "IEND":
			return h, h.rows > 0 && len(d.idat) > 0
		case kind[0]&0x20 == 0: // a critical chunk: PLTE, a second IHDR, an IDAT out of place
			return h, false
		default:
			idatEnded = len(d.idat) > 0
		}
	}
	return h, false
}

// readPNGHeader reads an IHDR chunk's data; ok is false for what pngDecoder leaves to image/png.
func readPNGHeader(data []byte) (pngHeader, bool) {
	if len(data) != 13 {
		return pngHeader{}, false
	}
	cols, rows := binary.BigEndian.Uint32(data), binary.BigEndian.Uint32(data[4:])
	depth, colorType, compression, filter, interlace := data[8], data[9], data[10], data[11], data[12]
	channels := pngChannels(colorType)
	if channels == 0 || depth != 8 || compression != 0 || filter != 0 || interlace != 0 ||
		rows == 0 || cols == 0 || rows > maxPNGSide || cols > maxPNGSide {
		return pngHeader{}, false
	}
	return pngHeader{rows: int(rows), cols: int(cols), channels: channels, colorType: colorType}, true
}

// pngChannels is the channels a pixel of a colour type pngDecoder reads has, or 0 for any other type.
func pngChannels(colorType byte) int {
	switch colorType {
	case pngGray:
		return 1
	case pngGrayAlpha:
		return 2
	case pngRGB:
		return 3
	case pngRGBA:
		return 4
	}
	return 0
}

// smallPNGBytes is the most bytes of filtered rows the inflater for small images inflates; larger images
// go to klauspost's, which decodes long streams faster.
const smallPNGBytes = 64 << 10

// inflate decompresses d.idat, a zlib stream, into raw, which it must fill exactly: the stream's end,
// where zlib checks its checksum, must follow.
func (d *pngDecoder) inflate(raw []byte) bool {
	if len(raw) <= smallPNGBytes {
		return d.inf.inflate(d.idat, raw)
	}
	d.src.Reset(d.idat)
	if d.zr == nil {
		zr, err := zlib.NewReader(&d.src)
		if err != nil {
			return false
		}
		d.zr = zr
	} else if err := d.zr.(zlib.Resetter).Reset(&d.src, nil); err != nil {
		return false
	}
	if _, err := io.ReadFull(d.zr, raw); err != nil {
		return false
	}
	n, err := d.zr.Read(d.one[:])
	return n == 0 && err == io.EOF
}

// unfilter undoes the PNG filters of rows rows of stride bytes, each after its filter byte in raw, into
// dst, rows×stride bytes; zero is a row of zeros, the one above the first; bpp is the bytes per pixel. It
// is false for an unknown filter.
func unfilter(dst, raw, zero []byte, rows, stride, bpp int) bool {
	prev := zero
	for y := range rows {
		filter, in := raw[y*(stride+1)], raw[y*(stride+1)+1:(y+1)*(stride+1)]
		cur := dst[y*stride : (y+1)*stride]
		switch filter {
		case 0:
			copy(cur, in)
		case 1:
			copy(cur[:bpp], in)
			for i := bpp; i < stride; i++ {
				cur[i] = in[i] + cur[i-bpp]
			}
		case 2:
			for i := range cur {
				cur[i] = in[i] + prev[i]
			}
		case 3:
			for i := range bpp {
				cur[i] = in[i] + prev[i]/2
			}
			for i := bpp; i < stride; i++ {
				cur[i] = in[i] + byte((int(cur[i-bpp])+int(prev[i]))/2)
			}
		case 4:
			for i := range bpp {
				cur[i] = in[i] + prev[i]
			}
			for i := bpp; i < stride; i++ {
				cur[i] = in[i] + paeth(cur[i-bpp], prev[i], prev[i-bpp])
			}
		default:
			return false
		}
		prev = cur
	}
	return true
}

// paeth is the PNG Paeth predictor of a pixel from its left (a), upper (b) and upper-left (c) neighbours:
// the one nearest a+b-c, a before b before c on a tie. Each choice is one assignment under one comparison,
// which the compiler makes a conditional move: the branch predictor cannot guess a predictor.
func paeth(a, b, c byte) byte {
	x, y, z := int(a), int(b), int(c) // ints: the compiler moves no byte conditionally
	pa, pb, pc := abs(y-z), abs(x-z), abs(x+y-2*z)
	if pb < pa {
		x = y
	}
	if pc < min(pa, pb) {
		x = z
	}
	return byte(x)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// convertRows turns unfiltered rows into pix, channels (1 or 3) a pixel, alpha dropped, grey repeated, and
// colour to luma as fillPixels does.
func convertRows(pix, rows []byte, h pngHeader, channels int) {
	for i := range h.rows * h.cols {
		p := rows[i*h.channels:]
		r, g, b := p[0], p[0], p[0]
		if h.colorType == pngRGB || h.colorType == pngRGBA {
			g, b = p[1], p[2]
		}
		if channels == 1 {
			pix[i] = luma(r, g, b)
		} else {
			pix[3*i], pix[3*i+1], pix[3*i+2] = r, g, b
		}
	}
}
