package summary

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"strconv"
)

// Image writes img PNG-encoded under tag at step in TF2's form: a rank-1
// string tensor [width, height, png] with plugin "images".
func (w *EventWriter) Image(tag string, step int64, img image.Image, opts ...ValueOption) error {
	return w.Images(tag, step, []image.Image{img}, opts...)
}

// Images writes imgs, all of one size, PNG-encoded under tag at step as
// tf.summary.image writes a batch: a rank-1 string tensor [width, height,
// png_0, png_1, ...] with plugin "images". TensorBoard shows image i as
// sample i of the step (and keeps 10 steps of a tag unless its
// --samples_per_plugin says otherwise).
func (w *EventWriter) Images(tag string, step int64, imgs []image.Image, opts ...ValueOption) error {
	if len(imgs) == 0 {
		return w.errorf("no images for tag %q", tag)
	}
	var size image.Point
	cells := make([][]byte, 2, 2+len(imgs))
	for i, img := range imgs {
		if img == nil {
			return w.errorf("image %d for tag %q is nil", i, tag)
		}
		if i == 0 {
			size = img.Bounds().Size()
		} else if s := img.Bounds().Size(); s != size {
			return w.errorf("image %d for tag %q is %dx%d, image 0 %dx%d: a step's images share one size", i, tag, s.X, s.Y, size.X, size.Y)
		}
		var b bytes.Buffer
		// BestSpeed: a picture of text and flat colours compresses nearly as well for a third of
		// the CPU time, which every epoch's pictures pay.
		enc := png.Encoder{CompressionLevel: png.BestSpeed}
		if err := enc.Encode(&b, img); err != nil {
			return w.errorf("image %d for tag %q: %w", i, tag, err)
		}
		cells = append(cells, b.Bytes())
	}
	cells[0], cells[1] = []byte(strconv.Itoa(size.X)), []byte(strconv.Itoa(size.Y))
	t := stringTensor(shape(int64(len(cells))), cells...)
	return w.writeValue(tag, PluginImages, step, false, t, nil, opts)
}

// PixelImage makes an image of one example as a network sees it: pixels
// holds height×width×channels float32 values in row-major HWC order (Keras'
// channels_last), with 1 (gray), 3 (RGB) or 4 (RGBA) channels. Values are
// mapped from [lo, hi] to [0, 1] and then converted as tf.summary.image
// converts float images (tf.image.convert_image_dtype with saturation):
// ×255.5 in float32, clamped to [0, 255], truncated. lo = 0, hi = 1 is
// tf.summary.image's own view; pixels kept at 0–255 want hi = 255, and
// standardised ones their minimum and maximum.
func PixelImage(pixels []float32, height, width, channels int, lo, hi float32) (image.Image, error) {
	if height <= 0 || width <= 0 || (channels != 1 && channels != 3 && channels != 4) {
		return nil, fmt.Errorf("summary: image shape %dx%dx%d: want positive height and width and 1, 3 or 4 channels", height, width, channels)
	}
	if len(pixels)%channels != 0 || len(pixels)/channels%width != 0 || len(pixels)/channels/width != height {
		return nil, fmt.Errorf("summary: %d pixel values are not a %dx%dx%d image", len(pixels), height, width, channels)
	}
	if !(hi > lo) || math.IsInf(float64(hi-lo), 0) {
		return nil, fmt.Errorf("summary: pixel range [%v, %v] is empty or not finite", lo, hi)
	}
	span := hi - lo
	level := func(x float32) uint8 {
		v := float32((x-lo)/span) * 255.5
		switch {
		case v >= 255:
			return 255
		case v > 0:
			return uint8(v)
		}
		return 0 // and NaN
	}
	r := image.Rect(0, 0, width, height)
	if channels == 1 {
		img := image.NewGray(r)
		for i, x := range pixels {
			img.Pix[i] = level(x)
		}
		return img, nil
	}
	img := image.NewNRGBA(r)
	for i := 0; i < width*height; i++ {
		px := pixels[i*channels : (i+1)*channels]
		c := color.NRGBA{level(px[0]), level(px[1]), level(px[2]), 255}
		if channels == 4 {
			c.A = level(px[3])
		}
		img.SetNRGBA(i%width, i/width, c)
	}
	return img, nil
}
