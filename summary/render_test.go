package summary

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"strings"
	"testing"

	xdraw "golang.org/x/image/draw"
)

func TestPixelImage(t *testing.T) {
	nan := float32(math.NaN())
	for _, tc := range []struct {
		name     string
		pixels   []float32
		channels int
		lo, hi   float32
		want     []uint8 // gray levels, or RGBA bytes
	}{
		// tf.image.convert_image_dtype(saturate=True): x*255.5, clamped, truncated.
		{"unit", []float32{0, 1, 0.5, 0.25, -0.2, 1.2, nan}, 1, 0, 1, []uint8{0, 255, 127, 63, 0, 255, 0}},
		{"0-255", []float32{0, 255, 128, 1}, 1, 0, 255, []uint8{0, 255, 128, 1}},
		{"standardised", []float32{-2, 2, 0}, 1, -2, 2, []uint8{0, 255, 127}},
		{"rgb", []float32{1, 0, 0.5}, 3, 0, 1, []uint8{255, 0, 127, 255}},
		{"rgba", []float32{0, 1, 0, 0.5}, 4, 0, 1, []uint8{0, 255, 0, 127}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, err := PixelImage(tc.pixels, 1, len(tc.pixels)/tc.channels, tc.channels, tc.lo, tc.hi)
			if err != nil {
				t.Fatal(err)
			}
			var got []uint8
			switch img := img.(type) {
			case *image.Gray:
				got = img.Pix
			case *image.NRGBA:
				got = img.Pix
			}
			if !bytes.Equal(got, tc.want) {
				t.Errorf("pixels %v, want %v", got, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name       string
		n, h, w, c int
		lo, hi     float32
		want       string
	}{
		{"short", 5, 2, 3, 1, 0, 1, "5 pixel values are not a 2x3x1 image"},
		{"two channels", 4, 1, 2, 2, 0, 1, "1, 3 or 4 channels"},
		{"empty range", 4, 2, 2, 1, 1, 1, "pixel range [1, 1]"},
		{"zero height", 0, 0, 2, 1, 0, 1, "positive height"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := PixelImage(make([]float32, tc.n), tc.h, tc.w, tc.c, tc.lo, tc.hi); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// TestImagesRoundTrip writes a step of three images and reads back three PNGs of the same
// pixels, and refuses a step of mixed sizes.
func TestImagesRoundTrip(t *testing.T) {
	var imgs []image.Image
	for i := 0; i < 3; i++ {
		img := image.NewGray(image.Rect(0, 0, 3, 2))
		for k := range img.Pix {
			img.Pix[k] = uint8(40*i + k)
		}
		imgs = append(imgs, img)
	}
	var buf bytes.Buffer
	w := NewEventWriter(&buf)
	if err := w.Images("inputs", 0, imgs); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]image.Image{nil, {imgs[0], nil}, {imgs[0], image.NewGray(image.Rect(0, 0, 2, 3))}} {
		if err := w.Images("inputs", 1, bad); err == nil {
			t.Errorf("images %v were written", bad)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r := NewReader(&buf, "mem")
	var got []Value
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev.Values...)
	}
	if len(got) != 1 || got[0].Plugin != PluginImages || got[0].ImageWidth != 3 || got[0].ImageHeight != 2 || len(got[0].Images) != 3 {
		t.Fatalf("read back %+v", got)
	}
	for i, b := range got[0].Images {
		dec, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if g, ok := dec.(*image.Gray); !ok || !bytes.Equal(g.Pix, imgs[i].(*image.Gray).Pix) {
			t.Errorf("image %d decodes to %v, want %v", i, dec, imgs[i])
		}
	}
}

func TestNewConfusionMatrix(t *testing.T) {
	m, err := NewConfusionMatrix([]int{0, 0, 1, 2, 2, 2}, []int{0, 1, 1, 2, 0, 2}, []string{"a", "b", "c"})
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]int{{1, 1, 0}, {0, 1, 0}, {1, 0, 2}}; fmt.Sprint(m.Counts) != fmt.Sprint(want) {
		t.Errorf("counts %v, want %v", m.Counts, want)
	}
	if _, err := NewConfusionMatrix([]int{0, 3}, []int{0, 0}, []string{"a", "b"}); err == nil || !strings.Contains(err.Error(), "example 1") {
		t.Errorf("a label out of range: error %v", err)
	}
	for _, bad := range []ConfusionMatrix{{}, {Classes: []string{"a"}, Counts: [][]int{{1, 2}}}, {Classes: []string{"a"}, Counts: [][]int{{-1}}}} {
		if _, err := bad.Image(""); err == nil {
			t.Errorf("matrix %+v was drawn", bad)
		}
	}
}

// TestConfusionMatrixImage checks the cells are where the layout puts them, each shaded by its
// share of the row (in a corner, away from the count written in its middle), and that the
// diagonal is framed.
func TestConfusionMatrixImage(t *testing.T) {
	classes := []string{"zero", "one", "a long class name"}
	m := ConfusionMatrix{Classes: classes, Counts: [][]int{{90, 9, 1}, {0, 1000, 0}, {50, 0, 50}}}
	img, err := m.Image("validation, epoch 1")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := measureFace(false, cmTextSize)
	bold, _ := measureFace(true, cmTitleSize)
	l := m.layout(text, bold, "validation, epoch 1")
	if !l.upright || !l.counts {
		t.Errorf("layout %+v: want upright column labels (a long name) and counts in the cells", l)
	}
	if img.Bounds().Dx() < l.w || img.Bounds().Dy() != l.h {
		t.Errorf("picture %v, layout %dx%d", img.Bounds(), l.w, l.h)
	}
	for tr, row := range m.Counts {
		total := 0
		for _, n := range row {
			total += n
		}
		for p, n := range row {
			got := img.NRGBAAt(l.gridX+p*l.cell+3, l.gridY+tr*l.cell+3)
			if want := blue(shade(float64(n) / float64(total))); got != want {
				t.Errorf("cell (%d, %d) of %d/%d: colour %v, want %v", tr, p, n, total, got, want)
			}
		}
		if got := img.NRGBAAt(l.gridX+tr*l.cell, l.gridY+tr*l.cell+l.cell/2); got != ink {
			t.Errorf("diagonal cell %d: left edge %v, want the frame %v", tr, got, ink)
		}
	}
	if shade(0) != 0 || shade(1) != 1 || shade(0.001) != 0.04 || shade(1e-6) != 0.04 || math.Abs(shade(0.01)-1.0/3) > 1e-12 {
		t.Errorf("shade(0, 1, 0.001, 1e-6, 0.01) = %v %v %v %v %v", shade(0), shade(1), shade(0.001), shade(1e-6), shade(0.01))
	}
}

// TestConfusionMatrixImageLarge draws 100 classes (CIFAR-100) as colours only, in a picture a
// screen can show.
func TestConfusionMatrixImageLarge(t *testing.T) {
	n := 100
	m := ConfusionMatrix{Classes: make([]string, n), Counts: make([][]int, n)}
	for i := range m.Counts {
		m.Classes[i] = fmt.Sprintf("class_%d", i)
		m.Counts[i] = make([]int, n)
		m.Counts[i][i] = 100
	}
	img, err := m.Image("cifar100")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := measureFace(false, cmTextSize)
	bold, _ := measureFace(true, cmTitleSize)
	if l := m.layout(text, bold, "cifar100"); l.counts || img.Bounds().Dx() > 1400 || img.Bounds().Dy() > 1400 {
		t.Errorf("100 classes: %v picture, counts drawn %v", img.Bounds(), l.counts)
	}
}

// TestMisclassifiedGrid finds each example's pixels in the grid, scaled up by a whole factor
// (3 for 28x28) without blurring.
func TestMisclassifiedGrid(t *testing.T) {
	var examples []Misclassified
	for i := 0; i < 5; i++ {
		img := image.NewNRGBA(image.Rect(0, 0, 28, 28))
		for k := 0; k < 28*28; k++ {
			img.SetNRGBA(k%28, k/28, color.NRGBA{uint8(k), uint8(k >> 8), uint8(200 + i), 255})
		}
		examples = append(examples, Misclassified{Image: img, True: "7", Predicted: "1", PredictedProbability: 0.93})
	}
	grid, err := MisclassifiedGrid(examples, 0, "misclassified")
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range examples {
		origin := find(grid, color.NRGBA{0, 0, uint8(200 + i), 255})
		if origin == nil {
			t.Fatalf("example %d is not in the grid", i)
		}
		src := e.Image.(*image.NRGBA)
		for y := 0; y < 28*3; y++ {
			for x := 0; x < 28*3; x++ {
				if got, want := grid.NRGBAAt(origin.X+x, origin.Y+y), src.NRGBAAt(x/3, y/3); got != want {
					t.Fatalf("example %d at (%d, %d) of its tile: %v, want %v", i, x, y, got, want)
				}
			}
		}
	}
	if _, err := MisclassifiedGrid(nil, 0, ""); err == nil {
		t.Error("an empty grid was drawn")
	}
	if got := predictedCaption(examples[0]); got != "pred 1 (93%)" {
		t.Errorf("caption %q", got)
	}
}

// find returns the first pixel of colour c, scanning rows.
func find(img *image.NRGBA, c color.NRGBA) *image.Point {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if img.NRGBAAt(x, y) == c {
				return &image.Point{X: x, Y: y}
			}
		}
	}
	return nil
}

// The cost of one epoch's pictures for MNIST's validation set: 10 classes, 10,000 examples.
func BenchmarkClassPRCurves(b *testing.B) {
	const n, classes = 10000, 10
	probs, labels := make([]float32, n*classes), make([]int, n)
	for j := range labels {
		labels[j] = j % classes
		for k := 0; k < classes; k++ {
			probs[j*classes+k] = float32((j*7+k*13)%100) / 100
		}
	}
	for b.Loop() {
		if _, err := ClassPRCurves(probs, labels, classes, PRThresholds); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkConfusionMatrixImage(b *testing.B) {
	m := ConfusionMatrix{Classes: []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}, Counts: make([][]int, 10)}
	for t := range m.Counts {
		m.Counts[t] = make([]int, 10)
		for p := range m.Counts[t] {
			m.Counts[t][p] = (t*10 + p) % 17
		}
		m.Counts[t][t] = 980
	}
	for b.Loop() {
		if _, err := m.Image("validation after epoch 5: 9,712 of 10,000 right (97.12%)"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMisclassifiedGrid(b *testing.B) {
	examples := make([]Misclassified, 25)
	for i := range examples {
		examples[i] = Misclassified{Image: image.NewGray(image.Rect(0, 0, 28, 28)), True: "7", Predicted: "1", PredictedProbability: 0.9}
	}
	for b.Loop() {
		if _, err := MisclassifiedGrid(examples, 0, "validation after epoch 5: 288 of 10,000 wrong, the 25 most confident shown"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestScaleUpIsNearestNeighbour checks the grid's scaling against x/image's nearest-neighbour
// scaler, for grey and colour sources, at whole factors, clipped at the canvas' edge.
func TestScaleUpIsNearestNeighbour(t *testing.T) {
	gray := image.NewGray(image.Rect(0, 0, 5, 3))
	rgb := image.NewNRGBA(image.Rect(2, 1, 6, 4)) // bounds not at the origin
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i * 17)
	}
	for i := range rgb.Pix {
		rgb.Pix[i] = uint8(i*29 + 3)
		if i%4 == 3 {
			rgb.Pix[i] = 255
		}
	}
	for _, tc := range []struct {
		name  string
		src   image.Image
		scale int
		at    image.Point
	}{
		{"gray x1", gray, 1, image.Pt(2, 3)},
		{"gray x3", gray, 3, image.Pt(1, 0)},
		{"rgb x4", rgb, 4, image.Pt(0, 2)},
		{"rgb x3 clipped", rgb, 3, image.Pt(25, 20)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, want := image.NewNRGBA(image.Rect(0, 0, 30, 24)), image.NewNRGBA(image.Rect(0, 0, 30, 24))
			scaleUp(got, tc.at, tc.src, tc.scale)
			size := tc.src.Bounds().Size().Mul(tc.scale)
			xdraw.NearestNeighbor.Scale(want, image.Rectangle{Min: tc.at, Max: tc.at.Add(size)}, tc.src, tc.src.Bounds(), xdraw.Src, nil)
			if !bytes.Equal(got.Pix, want.Pix) {
				t.Errorf("pixels differ from nearest-neighbour scaling")
			}
		})
	}
}

// TestFillIsDrawSrc checks the canvas' fill against image/draw's Src operator, for opaque and
// translucent colours, clipped at the canvas' edge.
func TestFillIsDrawSrc(t *testing.T) {
	for _, col := range []color.Color{color.White, color.NRGBA{R: 200, G: 30, B: 7, A: 255},
		color.NRGBA{R: 200, G: 30, B: 7, A: 128}, color.RGBA{R: 50, G: 20, B: 10, A: 100}, color.Gray{Y: 77}} {
		got := &canvas{img: image.NewNRGBA(image.Rect(0, 0, 9, 7))}
		want := image.NewNRGBA(got.img.Bounds())
		r := image.Rect(3, -2, 12, 5)
		got.fill(r, col)
		draw.Draw(want, r, image.NewUniform(col), image.Point{}, draw.Src)
		if !bytes.Equal(got.img.Pix, want.Pix) {
			t.Errorf("%#v: pixels differ from draw.Src's", col)
		}
	}
}
