package summary

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"strconv"

	"golang.org/x/image/font"
)

// A ConfusionMatrix counts a classifier's answers: Counts[t][p] is the
// number of examples of true class t it predicted as class p. Classes names
// the classes, in index order.
type ConfusionMatrix struct {
	Classes []string
	Counts  [][]int
}

// NewConfusionMatrix counts the pairs (labels[j], predicted[j]), both class
// indices into classes.
func NewConfusionMatrix(labels, predicted []int, classes []string) (ConfusionMatrix, error) {
	if len(labels) != len(predicted) {
		return ConfusionMatrix{}, fmt.Errorf("summary: confusion matrix of %d labels and %d predictions", len(labels), len(predicted))
	}
	m := ConfusionMatrix{Classes: classes, Counts: make([][]int, len(classes))}
	for t := range m.Counts {
		m.Counts[t] = make([]int, len(classes))
	}
	for j, t := range labels {
		p := predicted[j]
		if t < 0 || t >= len(classes) || p < 0 || p >= len(classes) {
			return ConfusionMatrix{}, fmt.Errorf("summary: example %d: label %d or prediction %d is not one of %d classes", j, t, p, len(classes))
		}
		m.Counts[t][p]++
	}
	return m, nil
}

func (m ConfusionMatrix) check() error {
	if len(m.Classes) == 0 {
		return errors.New("summary: confusion matrix has no classes")
	}
	if len(m.Counts) != len(m.Classes) {
		return fmt.Errorf("summary: confusion matrix has %d rows for %d classes", len(m.Counts), len(m.Classes))
	}
	for t, row := range m.Counts {
		if len(row) != len(m.Classes) {
			return fmt.Errorf("summary: confusion matrix row %d has %d counts for %d classes", t, len(row), len(m.Classes))
		}
		for _, n := range row {
			if n < 0 {
				return fmt.Errorf("summary: confusion matrix row %d has a negative count", t)
			}
		}
	}
	return nil
}

// Confusion matrix geometry, in pixels.
const (
	cmTextSize  = 14
	cmTitleSize = 17
	cmMargin    = 16
	cmMinCell   = 46
	cmBarWidth  = 18
)

// cmLayout is where each part of a confusion matrix picture goes.
type cmLayout struct {
	cell, rowLabelW, colLabelH int
	upright                    bool // column labels read upwards (some name is wider than a cell)
	counts                     bool // the counts fit in the cells
	every                      int  // every how many classes a name is written (1: all)
	titleY, captionY, labelsY  int  // tops of the title, the "predicted" caption, the column labels
	captionX, labelsX, gridX   int  // lefts of the "true" caption, the row labels, the grid
	gridY, totalsX, barX, w, h int
}

func (m ConfusionMatrix) layout(text, bold font.Face, title string) cmLayout {
	var l cmLayout
	n := len(m.Classes)
	widest, widestCount := 0, textWidth(text, "0")
	for t, name := range m.Classes {
		widest = max(widest, textWidth(text, name))
		for _, c := range m.Counts[t] {
			widestCount = max(widestCount, textWidth(text, strconv.Itoa(c)))
		}
	}
	l.cell = max(cmMinCell, widestCount+12)
	if n > 30 { // a large matrix shows colours only, and every few classes' names
		l.cell = max(9, 900/n)
	}
	l.counts = widestCount+6 <= l.cell
	l.upright = widest+6 > l.cell
	lh := lineHeight(text)
	l.every = (lh + 2 + l.cell - 1) / l.cell
	l.colLabelH = lh + 6
	if l.upright {
		l.colLabelH = widest + 8
	}
	l.rowLabelW = widest + 10
	l.titleY = cmMargin - 4
	l.captionY = l.titleY + lineHeight(bold) + 10
	l.labelsY = l.captionY + lh + 4
	l.gridY = l.labelsY + l.colLabelH
	l.captionX = cmMargin
	l.labelsX = l.captionX + lh + 6
	l.gridX = l.labelsX + l.rowLabelW
	l.totalsX = l.gridX + n*l.cell + 8
	l.barX = l.totalsX + textWidth(text, "00000") + 24
	l.w = max(l.barX+cmBarWidth+8+textWidth(text, "100%")+8+lh+cmMargin, cmMargin+textWidth(bold, title)+cmMargin)
	l.h = l.gridY + n*l.cell + cmMargin
	return l
}

// Image draws the matrix for a person to read: rows are the true classes,
// columns the predicted ones, each cell holds its count and is shaded by
// its share of the row (how often that true class got that answer) on a
// logarithmic scale, drawn beside it, the class names along both axes, each row's
// total on its right and title above.
func (m ConfusionMatrix) Image(title string) (*image.NRGBA, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	text, err := measureFace(false, cmTextSize)
	if err != nil {
		return nil, err
	}
	bold, err := measureFace(true, cmTitleSize)
	if err != nil {
		return nil, err
	}
	l := m.layout(text, bold, title)
	c, err := newCanvas(l.w, l.h, cmTextSize, cmTitleSize)
	if err != nil {
		return nil, err
	}
	c.write(c.title, title, cmMargin, l.titleY, alignLeft, ink)
	m.drawAxes(c, l)
	m.drawCells(c, l)
	drawScale(c, l)
	return c.img, nil
}

func (m ConfusionMatrix) drawAxes(c *canvas, l cmLayout) {
	n := len(m.Classes)
	gridW := n * l.cell
	c.write(c.text, "predicted class →", l.gridX+gridW/2, l.captionY, alignCenter, grey)
	c.writeUp(c.text, "← true class", l.captionX, l.gridY+(n*l.cell+textWidth(c.text, "← true class"))/2, grey)
	lh := lineHeight(c.text)
	for i, name := range m.Classes {
		if i%l.every != 0 {
			continue
		}
		mid := i*l.cell + l.cell/2
		c.write(c.text, name, l.gridX-8, l.gridY+mid-lh/2, alignRight, ink)
		if l.upright {
			c.writeUp(c.text, name, l.gridX+mid-lh/2, l.gridY-6, ink)
		} else {
			c.write(c.text, name, l.gridX+mid, l.labelsY, alignCenter, ink)
		}
	}
	c.write(c.text, "total", l.totalsX, l.labelsY+l.colLabelH-lh-4, alignLeft, grey)
}

func (m ConfusionMatrix) drawCells(c *canvas, l cmLayout) {
	lh := lineHeight(c.text)
	for t, row := range m.Counts {
		total := 0
		for _, n := range row {
			total += n
		}
		y := l.gridY + t*l.cell
		for p, n := range row {
			share := 0.0
			if total > 0 {
				share = shade(float64(n) / float64(total))
			}
			r := image.Rect(l.gridX+p*l.cell, y, l.gridX+(p+1)*l.cell, y+l.cell)
			c.fill(r, blue(share))
			if l.counts && n > 0 {
				c.write(c.text, strconv.Itoa(n), r.Min.X+l.cell/2, y+(l.cell-lh)/2, alignCenter, onBlue(share))
			}
		}
		if t%l.every == 0 {
			c.write(c.text, strconv.Itoa(total), l.totalsX, y+(l.cell-lh)/2, alignLeft, grey)
		}
	}
	n := len(m.Classes)
	grid := image.Rect(l.gridX, l.gridY, l.gridX+n*l.cell, l.gridY+n*l.cell)
	c.frame(grid.Inset(-1), rule)
	for i := 0; i < n && l.counts; i++ { // the diagonal, where the right answers are
		x, y := l.gridX+i*l.cell, l.gridY+i*l.cell
		c.frame(image.Rect(x, y, x+l.cell, y+l.cell), ink)
	}
}

// scaleDecades is how many powers of ten the colour scale spans, up to
// 100%: a logarithmic scale, so that a class confused 1 time in 200 stands
// out from one never confused, as much as 50% does from 5%.
const scaleDecades = 3

// shade is where share s (in [0, 1]) sits on the colour scale: 0 for none,
// 1 for all, shares down to 0.1% logarithmically between, and the faintest
// tint for any share smaller but not none.
func shade(s float64) float64 {
	if s <= 0 {
		return 0
	}
	return max(0.04, 1+math.Log10(s)/scaleDecades)
}

// drawScale draws the colour scale beside the grid, from 0 at the bottom
// to 100% at the top, with a tick at each power of ten.
func drawScale(c *canvas, l cmLayout) {
	top, h := l.gridY, l.h-cmMargin-l.gridY
	for y := 0; y < h; y++ {
		c.fill(image.Rect(l.barX, top+y, l.barX+cmBarWidth, top+y+1), blue(1-float64(y)/float64(max(1, h-1))))
	}
	c.frame(image.Rect(l.barX-1, top-1, l.barX+cmBarWidth+1, top+h+1), rule)
	lh := lineHeight(c.text)
	for i, tick := range []string{"0.1%", "1%", "10%", "100%"} {
		y := top + h - 1 - int(float64(h-1)*shade(math.Pow(10, float64(i-scaleDecades))))
		c.fill(image.Rect(l.barX+cmBarWidth, y, l.barX+cmBarWidth+4, y+1), ink)
		c.write(c.text, tick, l.barX+cmBarWidth+7, y-lh/2, alignLeft, ink)
	}
	label := "share of the true class"
	c.writeUp(c.text, label, l.barX+cmBarWidth+8+textWidth(c.text, "100%")+8, top+(h+textWidth(c.text, label))/2, grey)
}

// A Misclassified is one wrong answer for MisclassifiedGrid: the example as
// the network saw it, its true class, the class predicted and the
// probability the network gave that class.
type Misclassified struct {
	Image                image.Image
	True, Predicted      string
	PredictedProbability float64
}

// Misclassified grid geometry, in pixels.
const (
	gridTextSize  = 13
	gridTitleSize = 15
	gridTile      = 84 // the least size an example is scaled up to
	gridGap       = 12
)

// MisclassifiedGrid draws examples in a grid of columns (0: as square as
// it gets), each scaled up by a whole factor to at least 84 pixels without
// blurring, framed, with its true class in green and the prediction and
// its probability in red underneath, under a title.
func MisclassifiedGrid(examples []Misclassified, columns int, title string) (*image.NRGBA, error) {
	if len(examples) == 0 {
		return nil, errors.New("summary: no examples for the grid")
	}
	if columns <= 0 {
		for columns = 1; columns*columns < len(examples); columns++ {
		}
	}
	text, err := measureFace(false, gridTextSize)
	if err != nil {
		return nil, err
	}
	bold, err := measureFace(true, gridTitleSize)
	if err != nil {
		return nil, err
	}
	imgSize, captionW := image.Point{}, 0
	for i, e := range examples {
		if e.Image == nil {
			return nil, fmt.Errorf("summary: grid example %d has no image", i)
		}
		s := e.Image.Bounds().Size()
		imgSize = image.Pt(max(imgSize.X, s.X), max(imgSize.Y, s.Y))
		captionW = max(captionW, textWidth(text, trueCaption(e)), textWidth(text, predictedCaption(e)))
	}
	scale := max(1, (gridTile+max(imgSize.X, imgSize.Y)-1)/max(imgSize.X, imgSize.Y))
	lh := lineHeight(text)
	tileW := max(imgSize.X*scale, captionW) + gridGap
	tileH := imgSize.Y*scale + 4 + 2*lh + gridGap
	rows := (len(examples) + columns - 1) / columns
	top := gridGap + lineHeight(bold) + gridGap
	w := max(gridGap+columns*tileW, gridGap+textWidth(bold, title)+gridGap)
	c, err := newCanvas(w, top+rows*tileH, gridTextSize, gridTitleSize)
	if err != nil {
		return nil, err
	}
	c.write(c.title, title, gridGap, gridGap, alignLeft, ink)
	for i, e := range examples {
		x, y := gridGap+(i%columns)*tileW, top+(i/columns)*tileH
		cx := x + (tileW-gridGap)/2
		size := e.Image.Bounds().Size().Mul(scale)
		r := image.Rectangle{Min: image.Pt(cx-size.X/2, y), Max: image.Pt(cx-size.X/2+size.X, y+size.Y)}
		scaleUp(c.img, r.Min, e.Image, scale)
		c.frame(r.Inset(-1), rule)
		c.write(c.text, trueCaption(e), cx, y+imgSize.Y*scale+4, alignCenter, rightInk)
		c.write(c.text, predictedCaption(e), cx, y+imgSize.Y*scale+4+lh, alignCenter, wrongInk)
	}
	return c.img, nil
}

// scaleUp draws src into dst at at, each pixel a scale×scale block: what nearest-neighbour scaling
// by a whole factor gives, each source pixel converted once rather than once per drawn pixel.
func scaleUp(dst *image.NRGBA, at image.Point, src image.Image, scale int) {
	b := src.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(src.At(x, y)).(color.NRGBA)
			block := image.Rect(0, 0, scale, scale).Add(at.Add(image.Pt(x-b.Min.X, y-b.Min.Y).Mul(scale))).Intersect(dst.Bounds())
			for by := block.Min.Y; by < block.Max.Y; by++ {
				row := dst.Pix[dst.PixOffset(block.Min.X, by):dst.PixOffset(block.Max.X, by)]
				for i := 0; i < len(row); i += 4 {
					row[i], row[i+1], row[i+2], row[i+3] = c.R, c.G, c.B, c.A
				}
			}
		}
	}
}

func trueCaption(e Misclassified) string { return "true " + e.True }

func predictedCaption(e Misclassified) string {
	return fmt.Sprintf("pred %s (%.0f%%)", e.Predicted, 100*e.PredictedProbability)
}
