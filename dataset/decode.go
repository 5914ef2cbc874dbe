package dataset

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"runtime"
	"slices"
	"sync"
)

// decoded is one example as a decoder produced it: bytes, or float32 once resized.
type decoded struct {
	shape  []int
	bytes  []byte
	floats []float32
}

// decodeImage decodes PNG or JPEG bytes to [rows cols channels], one channel for grayscale and three for
// rgb as tf.io.decode_image(channels=…) gives them (alpha dropped, grey repeated), then, when size is set
// and differs, resizes as tf.image.resize(method="bilinear") does, to float32. pd, when not nil, decodes
// the common PNGs without image/png's allocations.
func decodeImage(pd *pngDecoder, b []byte, c Color, size [2]int) (decoded, error) {
	channels := 3
	if c == ColorGrayscale {
		channels = 1
	}
	pix, rows, cols, ok := []byte(nil), 0, 0, false
	if pd != nil {
		pix, rows, cols, ok = pd.decode(b, channels)
	}
	if !ok {
		var err error
		if pix, rows, cols, err = decodePixels(b, channels); err != nil {
			return decoded{}, err
		}
	}
	d := decoded{shape: []int{rows, cols, channels}, bytes: pix}
	if size == [2]int{} || size == [2]int{rows, cols} {
		return d, nil
	}
	return decoded{shape: []int{size[0], size[1], channels}, floats: resizeBilinear(pix, rows, cols, channels, size[0], size[1])}, nil
}

// decodePixels decodes PNG or JPEG bytes with image/png or image/jpeg to rows×cols×channels bytes.
func decodePixels(b []byte, channels int) (pix []byte, rows, cols int, err error) {
	var img image.Image
	switch {
	case bytes.HasPrefix(b, []byte(pngSignature)):
		img, err = png.Decode(bytes.NewReader(b))
	case bytes.HasPrefix(b, []byte{0xff, 0xd8}):
		img, err = jpeg.Decode(bytes.NewReader(b))
	default:
		return nil, 0, 0, fmt.Errorf("%w: neither PNG nor JPEG (first bytes % x)", ErrDecode, b[:min(len(b), 8)])
	}
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%w: %v", ErrDecode, err)
	}
	bounds := img.Bounds()
	rows, cols = bounds.Dy(), bounds.Dx()
	pix = make([]byte, rows*cols*channels)
	if g, ok := img.(*image.Gray); ok && channels == 1 {
		for y := range rows {
			copy(pix[y*cols:(y+1)*cols], g.Pix[g.PixOffset(bounds.Min.X, bounds.Min.Y+y):])
		}
	} else {
		fillPixels(pix, img, channels)
	}
	return pix, rows, cols, nil
}

// fillPixels writes img's pixels into pix, row after row, one channel (luma) or three (RGB) each.
func fillPixels(pix []byte, img image.Image, channels int) {
	bounds := img.Bounds()
	rows, cols := bounds.Dy(), bounds.Dx()
	for y := range rows {
		for x := range cols {
			r, g, bl := pixelRGB(img, bounds.Min.X+x, bounds.Min.Y+y)
			out := pix[(y*cols+x)*channels:]
			if channels == 1 {
				out[0] = luma(r, g, bl)
			} else {
				out[0], out[1], out[2] = r, g, bl
			}
		}
	}
}

// pixelRGB is the stored (not alpha-premultiplied) colour of one pixel, 8 bits a channel.
func pixelRGB(img image.Image, x, y int) (r, g, b uint8) {
	switch m := img.(type) {
	case *image.Gray:
		v := m.Pix[m.PixOffset(x, y)]
		return v, v, v
	case *image.NRGBA:
		p := m.Pix[m.PixOffset(x, y):]
		return p[0], p[1], p[2]
	case *image.YCbCr:
		c := m.YCbCrAt(x, y)
		return color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
	case *image.Paletted:
		c := color.NRGBAModel.Convert(m.Palette[m.ColorIndexAt(x, y)]).(color.NRGBA)
		return c.R, c.G, c.B
	}
	c := color.NRGBA64Model.Convert(img.At(x, y)).(color.NRGBA64)
	return uint8(c.R >> 8), uint8(c.G >> 8), uint8(c.B >> 8)
}

// luma is ITU-R 601-2 luma in the fixed point PIL's convert("L") uses.
func luma(r, g, b uint8) uint8 {
	return uint8((19595*uint32(r) + 38470*uint32(g) + 7471*uint32(b) + 0x8000) >> 16)
}

// resizeBilinear resizes a [rows cols channels] image of bytes to [outRows outCols channels] float32 as
// TensorFlow's ResizeBilinear does with half-pixel centres (what tf.image.resize uses): a source coordinate
// (out + 0.5)·in/out − 0.5, its floor and ceiling clamped to the image, lerp weights from the unclamped
// floor; every step in float32.
func resizeBilinear(pix []byte, rows, cols, channels, outRows, outCols int) []float32 {
	ys, xs := lerpPoints(rows, outRows), lerpPoints(cols, outCols)
	out := make([]float32, outRows*outCols*channels)
	for oy, py := range ys {
		for ox, px := range xs {
			for c := range channels {
				at := func(y, x int) float32 { return float32(pix[(y*cols+x)*channels+c]) }
				tl, tr := at(py.lower, px.lower), at(py.lower, px.upper)
				bl, br := at(py.upper, px.lower), at(py.upper, px.upper)
				top := tl + float32((tr-tl)*px.lerp)
				bottom := bl + float32((br-bl)*px.lerp)
				out[(oy*outCols+ox)*channels+c] = top + float32((bottom-top)*py.lerp)
			}
		}
	}
	return out
}

// lerpPoint is where one output coordinate samples its input: two neighbours and the weight of the upper.
type lerpPoint struct {
	lower, upper int
	lerp         float32
}

func lerpPoints(in, out int) []lerpPoint {
	scale := float32(in) / float32(out)
	points := make([]lerpPoint, out)
	for i := range points {
		src := float32(float32(i)+0.5)*scale - 0.5
		floor := float32(math.Floor(float64(src)))
		points[i] = lerpPoint{
			lower: max(int(floor), 0),
			upper: min(int(math.Ceil(float64(src))), in-1),
			lerp:  src - floor,
		}
	}
	return points
}

// examples gathers decoded examples of one shape: bytes until one arrives as float32, then float32.
type examples struct {
	shape  []int
	bytes  []byte
	floats []float32
	labels []int32
}

// add appends one example with its label; its shape must be the first example's.
func (e *examples) add(d decoded, label int32) error {
	if len(e.labels) == 0 {
		e.shape = d.shape
	} else if !slices.Equal(d.shape, e.shape) {
		return fmt.Errorf("%w: an example of %v after examples of %v (give size=HxW to resize images)", ErrShape, d.shape, e.shape)
	}
	if d.floats != nil && e.floats == nil {
		e.floats = make([]float32, len(e.bytes), len(e.bytes)+len(d.floats))
		for i, v := range e.bytes {
			e.floats[i] = float32(v)
		}
		e.bytes = nil
	}
	switch {
	case e.floats != nil && d.floats != nil:
		e.floats = append(e.floats, d.floats...)
	case e.floats != nil:
		for _, v := range d.bytes {
			e.floats = append(e.floats, float32(v))
		}
	default:
		e.bytes = append(e.bytes, d.bytes...)
	}
	e.labels = append(e.labels, label)
	return nil
}

// reserve makes room for n more examples like d, so that adding them copies each once; a room larger than
// any data this package reads is not made.
func (e *examples) reserve(n int, d decoded) {
	per := len(d.bytes) + len(d.floats)
	if n <= 0 || per == 0 || int64(n) > maxPayload/int64(per) {
		return
	}
	if d.floats != nil || e.floats != nil {
		e.floats = slices.Grow(e.floats, n*per)
	} else {
		e.bytes = slices.Grow(e.bytes, n*per)
	}
	e.labels = slices.Grow(e.labels, n)
}

// set is what was gathered, as a Set; no examples at all is an error.
func (e *examples) set() (*Set, error) {
	if len(e.labels) == 0 {
		return nil, fmt.Errorf("%w: no examples", ErrZeroSize)
	}
	s := &Set{Shape: e.shape, Labels: e.labels, Floats: e.floats}
	if e.floats == nil {
		s.Bytes = e.bytes
	}
	return s, nil
}

// parseRecord parses a serialised tf.train.Example and decodes its image and label features.
func parseRecord(pd *pngDecoder, b []byte, src Source) (decoded, int32, error) {
	img, lab, err := parseExample(b, src.Image, src.Label)
	if err != nil {
		return decoded{}, 0, err
	}
	if lab.kind == 0 {
		return decoded{}, 0, fmt.Errorf("%w: no label feature %q", ErrMissing, src.Label)
	}
	if lab.kind != 3 || len(lab.ints) != 1 {
		return decoded{}, 0, fmt.Errorf("%w: label feature %q must be one int64, it holds %d ints, %d floats, %d byte strings", ErrFormat, src.Label, len(lab.ints), len(lab.floats), len(lab.bytes))
	}
	if l := lab.ints[0]; l < 0 || l > math.MaxInt32 {
		return decoded{}, 0, fmt.Errorf("%w: label %d", ErrLabelRange, l)
	}
	var d decoded
	switch {
	case img.kind == 0:
		return decoded{}, 0, fmt.Errorf("%w: no image feature %q", ErrMissing, src.Image)
	case img.kind == 2:
		d = decoded{shape: []int{len(img.floats)}, floats: slices.Clone(img.floats)}
	case img.kind == 1 && len(img.bytes) == 1:
		if d, err = decodeFeatureBytes(pd, img.bytes[0], src); err != nil {
			return decoded{}, 0, err
		}
	default:
		return decoded{}, 0, fmt.Errorf("%w: image feature %q must be one byte string or a float list", ErrFormat, src.Image)
	}
	if len(d.bytes)+len(d.floats) == 0 {
		return decoded{}, 0, fmt.Errorf("%w: image feature %q is empty", ErrMissing, src.Image)
	}
	return d, int32(lab.ints[0]), nil
}

// parallel calls fn(i) for every i in [0, n) on all cores and returns when all have returned.
func parallel(n int, fn func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// parallelRanges calls fn(lo, hi) for consecutive ranges that cover [0, n), on all cores, and returns when
// all have returned. There are a few ranges per core, so that a slow one does not hold the others back, and
// each call can set up what its range reuses (a decoder, a buffer) once.
func parallelRanges(n int, fn func(lo, hi int)) {
	workers := runtime.GOMAXPROCS(0)
	size := max(n/(4*workers), 1)
	parallel((n+size-1)/size, func(i int) { fn(i*size, min((i+1)*size, n)) })
}

// decodeFeatureBytes decodes an encoded image, or takes other bytes as raw pixels.
func decodeFeatureBytes(pd *pngDecoder, b []byte, src Source) (decoded, error) {
	if bytes.HasPrefix(b, []byte("\x89PNG")) || bytes.HasPrefix(b, []byte{0xff, 0xd8, 0xff}) {
		c := src.Color
		if c == "" {
			c = ColorRGB
		}
		return decodeImage(pd, b, c, src.Size)
	}
	return decoded{shape: []int{len(b)}, bytes: slices.Clone(b)}, nil
}
