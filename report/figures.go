package report

import (
	"bytes"
	"cmp"
	"fmt"
	"image/png"
	"math"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// FiguresDir is the sub-directory of the sweep directory that holds the PNG figures. TensorBoard
// ignores it: it holds no event files.
const FiguresDir = "figures"

// Figure size: wide enough for a legend of twelve runs beside readable curves.
const (
	figureWidth  = 8 * vg.Inch
	figureHeight = 5 * vg.Inch
)

// Figure is one loss-curve plot: a line per run.
type Figure struct {
	Number int    // the lab report's figure number, 0 for the plots of all runs
	File   string // path relative to the sweep directory, with forward slashes
	Title  string
	Split  Split
	Lines  []Line
	// XLabel and YLabel name the axes; "" names them as a loss curve's (epoch, the split's loss).
	XLabel, YLabel string
	search         bool // the search's best loss against epochs spent (searchFigure)
}

// Line is one run's curve in a figure.
type Line struct {
	Label  string
	Points Series
}

// figures lists the plots report.md shows: Figures 1–14 when the sweep has any lab-report variant,
// and always one train-loss and one validation-loss plot of every run.
func (s *Sweep) figures(comparisons []Comparison, withReport bool) []Figure {
	var out []Figure
	if withReport {
		for _, c := range comparisons {
			f := Figure{Number: c.Table.Figure, Split: c.Table.Split}
			f.Title, f.File = figureTitle(c.Table)
			for _, cell := range c.Cells {
				for _, r := range s.matches(cell.Row.Variant) {
					f.Lines = append(f.Lines, Line{Label: lineLabel(r), Points: r.Loss(c.Table.Split)})
				}
			}
			out = append(out, f)
		}
	}
	for _, split := range []Split{Train, Validation} {
		f := Figure{
			File:  FiguresDir + "/all-runs-" + string(split) + "-loss.png",
			Title: "All runs: " + splitWord(split) + " loss",
			Split: split,
		}
		for _, r := range s.Runs {
			f.Lines = append(f.Lines, Line{Label: lineLabel(r), Points: r.Loss(split)})
		}
		out = append(out, f)
	}
	if s.Scheduled() {
		out = append(out, s.searchFigure())
	}
	return out
}

// lineLabel names a run's curve, with how it ended when it did not train to its end.
func lineLabel(r Run) string {
	if r.Status.Failed() || r.Status.Stopped() {
		return r.Name + " (" + string(r.Status) + ")"
	}
	return r.Name
}

func splitWord(s Split) string {
	if s == Train {
		return "train"
	}
	return "val"
}

// figureTitle names a figure after the report's caption, with the initialiser spelled out (the
// report's own captions of Figures 11–12 say "Batch size 64", a slip for the batch-size comparison).
func figureTitle(t ReferenceTable) (title, file string) {
	first := t.Rows[0].Variant
	var what, slug string
	if t.Rows[0].Variant.BatchSize != t.Rows[len(t.Rows)-1].Variant.BatchSize {
		what = fmt.Sprintf("Batch size comparison %s loss (%s, without batch norm)", splitWord(t.Split), initTitle(first.Init))
		slug = first.Init + "-batch-sizes"
	} else {
		what = fmt.Sprintf("Batch size %d %s loss (%s)", first.BatchSize, splitWord(t.Split), initTitle(first.Init))
		slug = first.Init + "-b" + strconv.Itoa(first.BatchSize)
	}
	title = fmt.Sprintf("Figure %d: %s", t.Figure, what)
	file = fmt.Sprintf("%s/figure-%02d-%s-%s-loss.png", FiguresDir, t.Figure, slug, t.Split)
	return title, file
}

func initTitle(init string) string {
	switch init {
	case "xavier":
		return "Xavier"
	case "uniform":
		return "uniform"
	}
	return init
}

// hasData reports whether any line has a point: figures without are not drawn.
func (f Figure) hasData() bool {
	for _, l := range f.Lines {
		if len(l.Points) > 0 {
			return true
		}
	}
	return false
}

// PNG draws the figure: x = epoch (the TensorBoard step), y = loss, and a legend entry per run in a
// column right of the plot, where it cannot hide the curves of a twelve-run sweep.
func (f Figure) PNG() ([]byte, error) {
	p := plot.New()
	p.Title.Text = f.Title
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text = cmp.Or(f.XLabel, "epoch (TensorBoard step)")
	p.Y.Label.Text = cmp.Or(f.YLabel, splitWord(f.Split)+" loss (epoch_loss)")
	p.X.Tick.Marker = integerTicks{}
	p.Y.Tick.Marker = denseTicks{}
	p.Add(plotter.NewGrid())
	legend := plot.NewLegend()
	legend.Top, legend.Left = true, true
	n := 0
	for _, l := range f.Lines {
		xys := make(plotter.XYs, 0, len(l.Points))
		for _, pt := range l.Points {
			// gonum refuses NaN and ±Inf; a diverged epoch is simply left out of the curve.
			if math.IsNaN(pt.Value) || math.IsInf(pt.Value, 0) {
				continue
			}
			xys = append(xys, plotter.XY{X: float64(pt.Step), Y: pt.Value})
		}
		if len(xys) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, fmt.Errorf("figure %q, line %s: %w", f.Title, l.Label, err)
		}
		line.Color = plotutil.Color(n)
		line.Width = vg.Points(1.5)
		// Colours repeat after seven lines; dashes keep the eighth apart from the first.
		line.Dashes = plotutil.Dashes(n / len(plotutil.SoftColors))
		points.Color = plotutil.Color(n)
		points.Shape = plotutil.Shape(n)
		p.Add(line, points)
		legend.Add(l.Label, line, points)
		n++
	}

	img := vgimg.New(figureWidth, figureHeight)
	dc := draw.New(img)
	legendWidth := legend.Rectangle(dc).Size().X + vg.Points(12)
	p.Draw(draw.Crop(dc, 0, -legendWidth, 0, 0))
	legendArea := draw.Crop(dc, figureWidth-legendWidth+vg.Points(6), 0, 0, -vg.Points(30))
	legend.Draw(legendArea)

	var buf bytes.Buffer
	// Line plots on a white background compress well at the fastest level, at about half the time
	// of the default.
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, img.Image()); err != nil {
		return nil, fmt.Errorf("figure %q: %w", f.Title, err)
	}
	return buf.Bytes(), nil
}

// denseTicks labels about eight values on the loss axis, where gonum's default labels three or
// four, too few to read a final loss off the plot.
type denseTicks struct{}

func (denseTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) {
		return plot.DefaultTicks{}.Ticks(lo, hi)
	}
	raw := (hi - lo) / 8
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	decimals := max(0, int(-math.Floor(math.Log10(step)+1e-9)))
	if step/mag == 2.5 {
		decimals++
	}
	var ticks []plot.Tick
	for k := math.Ceil(lo / step); k*step <= hi+step*1e-9; k++ {
		v := k * step
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', decimals, 64)})
	}
	return ticks
}

// integerTicks puts ticks on whole epochs only: TensorBoard steps are integers, and gonum's default
// ticker would label 0.5-epoch positions on a five-epoch run.
type integerTicks struct{}

func (integerTicks) Ticks(lo, hi float64) []plot.Tick {
	first, last := math.Ceil(lo), math.Floor(hi)
	if last < first {
		return plot.DefaultTicks{}.Ticks(lo, hi)
	}
	step := math.Max(1, math.Ceil((last-first)/10))
	var ticks []plot.Tick
	for v := first; v <= last; v += step {
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', 0, 64)})
	}
	return ticks
}

// figurePath is where a figure's file goes in the report directory dir.
func figurePath(dir string, f Figure) string { return filepath.Join(dir, filepath.FromSlash(f.File)) }
