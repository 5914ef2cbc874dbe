package summary

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// goFonts parses the Go fonts (regular, bold) once; a parsed font is
// read-only and safe to share, its faces are not, so each picture makes its
// own.
var goFonts = sync.OnceValues(func() ([2]*opentype.Font, error) {
	var fonts [2]*opentype.Font
	for i, ttf := range [][]byte{goregular.TTF, gobold.TTF} {
		f, err := opentype.Parse(ttf)
		if err != nil {
			return fonts, fmt.Errorf("summary: parse Go font: %w", err)
		}
		fonts[i] = f
	}
	return fonts, nil
})

// canvas is a white picture with the faces to write on it.
type canvas struct {
	img         *image.NRGBA
	text, title font.Face
}

// newCanvas makes a white w×h canvas with a regular face of size text and a
// bold one of size title, in pixels.
func newCanvas(w, h int, text, title float64) (*canvas, error) {
	fonts, err := goFonts()
	if err != nil {
		return nil, err
	}
	c := &canvas{img: image.NewNRGBA(image.Rect(0, 0, w, h))}
	c.fill(c.img.Bounds(), color.White)
	if c.text, err = face(fonts[0], text); err != nil {
		return nil, err
	}
	if c.title, err = face(fonts[1], title); err != nil {
		return nil, err
	}
	return c, nil
}

func face(f *opentype.Font, size float64) (font.Face, error) {
	fc, err := opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		return nil, fmt.Errorf("summary: font face: %w", err)
	}
	return fc, nil
}

// measureFace is a face for measuring text before the canvas exists.
func measureFace(bold bool, size float64) (font.Face, error) {
	fonts, err := goFonts()
	if err != nil {
		return nil, err
	}
	if bold {
		return face(fonts[1], size)
	}
	return face(fonts[0], size)
}

// textWidth is the advance of s in pixels, rounded up.
func textWidth(f font.Face, s string) int { return font.MeasureString(f, s).Ceil() }

// lineHeight is the height of one line of f: ascent plus descent.
func lineHeight(f font.Face) int {
	m := f.Metrics()
	return (m.Ascent + m.Descent).Ceil()
}

// Where a text is placed relative to its x: starting there, centred on it
// or ending there.
type align int

const (
	alignLeft align = iota
	alignCenter
	alignRight
)

// write draws s in colour col with its line box's top at y and x placed by
// a.
func (c *canvas) write(f font.Face, s string, x, y int, a align, col color.Color) {
	switch a {
	case alignCenter:
		x -= textWidth(f, s) / 2
	case alignRight:
		x -= textWidth(f, s)
	}
	d := font.Drawer{Dst: c.img, Src: image.NewUniform(col), Face: f,
		Dot: fixed.P(x, y+f.Metrics().Ascent.Ceil())}
	d.DrawString(s)
}

// writeUp draws s turned a quarter anticlockwise, reading upwards, with the
// bottom of the text at y and its line box's left edge at x.
func (c *canvas) writeUp(f font.Face, s string, x, y int, col color.Color) {
	w, h := textWidth(f, s), lineHeight(f)
	if w == 0 {
		return
	}
	flat := image.NewAlpha(image.Rect(0, 0, w, h))
	d := font.Drawer{Dst: flat, Src: image.Opaque, Face: f, Dot: fixed.P(0, f.Metrics().Ascent.Ceil())}
	d.DrawString(s)
	turned := image.NewAlpha(image.Rect(0, 0, h, w))
	for fy := 0; fy < h; fy++ {
		for fx := 0; fx < w; fx++ {
			turned.SetAlpha(fy, w-1-fx, flat.AlphaAt(fx, fy))
		}
	}
	r := image.Rect(x, y-w, x+h, y)
	draw.DrawMask(c.img, r, image.NewUniform(col), image.Point{}, turned, image.Point{}, draw.Over)
}

// fill paints r with col.
func (c *canvas) fill(r image.Rectangle, col color.Color) {
	// What draw.Draw with draw.Src does, written into the pixels at once: its generic path
	// converts the colour again for every pixel.
	n := color.NRGBAModel.Convert(col).(color.NRGBA)
	r = r.Intersect(c.img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := c.img.Pix[c.img.PixOffset(r.Min.X, y):c.img.PixOffset(r.Max.X, y)]
		for i := 0; i < len(row); i += 4 {
			row[i], row[i+1], row[i+2], row[i+3] = n.R, n.G, n.B, n.A
		}
	}
}

// frame draws a one-pixel border just inside r.
func (c *canvas) frame(r image.Rectangle, col color.Color) {
	c.fill(image.Rect(r.Min.X, r.Min.Y, r.Max.X, r.Min.Y+1), col)
	c.fill(image.Rect(r.Min.X, r.Max.Y-1, r.Max.X, r.Max.Y), col)
	c.fill(image.Rect(r.Min.X, r.Min.Y, r.Min.X+1, r.Max.Y), col)
	c.fill(image.Rect(r.Max.X-1, r.Min.Y, r.Max.X, r.Max.Y), col)
}

// Colours of the pictures.
var (
	ink      = color.NRGBA{0x20, 0x20, 0x20, 0xff}
	grey     = color.NRGBA{0x70, 0x70, 0x70, 0xff}
	rule     = color.NRGBA{0xc8, 0xc8, 0xc8, 0xff}
	rightInk = color.NRGBA{0x1a, 0x7f, 0x37, 0xff} // a true label
	wrongInk = color.NRGBA{0xc0, 0x1c, 0x28, 0xff} // a wrong prediction
)

// blues are the stops of the colour scale, from 0 (white) to 1 (deep
// blue), evenly spaced; shares between stops are interpolated.
var blues = []color.NRGBA{
	{0xff, 0xff, 0xff, 0xff},
	{0xd6, 0xe6, 0xf4, 0xff},
	{0x8f, 0xbf, 0xe0, 0xff},
	{0x3d, 0x8d, 0xc8, 0xff},
	{0x12, 0x5c, 0xa5, 0xff},
	{0x08, 0x2c, 0x6a, 0xff},
}

// blue is the colour of share s in [0, 1] on the scale.
func blue(s float64) color.NRGBA {
	s = max(0, min(1, s))
	pos := s * float64(len(blues)-1)
	i := min(int(pos), len(blues)-2)
	t := pos - float64(i)
	mix := func(a, b uint8) uint8 { return uint8(float64(a) + t*(float64(b)-float64(a)) + 0.5) }
	a, b := blues[i], blues[i+1]
	return color.NRGBA{mix(a.R, b.R), mix(a.G, b.G), mix(a.B, b.B), 0xff}
}

// onBlue is the ink readable on scale colour s: white on the dark half.
func onBlue(s float64) color.NRGBA {
	if s > 0.45 {
		return color.NRGBA{0xff, 0xff, 0xff, 0xff}
	}
	return ink
}
