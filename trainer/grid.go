package trainer

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Scale names accepted for the pixel scaling axis.
const (
	ScaleUnit = "unit" // pixels divided by 255, into [0,1] (what Keras users normally do)
	ScaleNone = "none" // raw 0–255 pixels: the lab report does not say it scaled them
)

// Variant is the full setting of one training run. Every field is parsed and validated; names of run
// directories are derived from these values only.
type Variant struct {
	Init      string  // canonical initialiser name (model.ParseInit)
	BatchNorm bool    // batch normalisation after every hidden layer
	BatchSize int     // examples per optimizer step; the last partial batch of an epoch is kept
	Epochs    int     // passes over the training set
	LR        float64 // Adam learning rate
	Hidden    []int   // hidden layer widths
	Seed      int64   // weight initialisation and per-epoch shuffling
	Scale     string  // ScaleUnit or ScaleNone
}

// HiddenString is the hidden layer widths joined by "x", e.g. "128x64", as in --hidden and run names.
func (v Variant) HiddenString() string {
	parts := make([]string, len(v.Hidden))
	for i, h := range v.Hidden {
		parts[i] = strconv.Itoa(h)
	}
	return strings.Join(parts, "x")
}

// Grid is a cartesian product of axis values. An empty axis takes the default value (Defaults).
type Grid struct {
	Init      []string
	BatchNorm []bool
	BatchSize []int
	Epochs    []int
	LR        []float64
	Hidden    [][]int
	Seed      []int64
	Scale     []string
}

// Defaults are the values an axis takes when neither a flag nor a config file sets it. The seed is
// fixed so that two invocations with the same flags train identical runs.
func Defaults() Variant {
	return Variant{
		Init:      "xavier",
		BatchNorm: false,
		BatchSize: 128,
		Epochs:    5,
		LR:        0.001,
		Hidden:    []int{128, 64},
		Seed:      1,
		Scale:     ScaleUnit,
	}
}

// LabReport is the preset `tfsweep run` trains when no grid is given: the twelve runs of the lab report
// (xavier × batch norm off/on × batch 64…1024, and uniform × batch norm off/on × batch 128), 5 epochs,
// learning rate 0.001.
func LabReport() []Grid {
	return []Grid{
		{Init: []string{"xavier"}, BatchNorm: []bool{false, true}, BatchSize: []int{64, 128, 256, 512, 1024}},
		{Init: []string{"uniform"}, BatchNorm: []bool{false, true}, BatchSize: []int{128}},
	}
}

// override returns g with every axis that o sets replaced by o's values.
func (g Grid) override(o Grid) Grid {
	if len(o.Init) > 0 {
		g.Init = o.Init
	}
	if len(o.BatchNorm) > 0 {
		g.BatchNorm = o.BatchNorm
	}
	if len(o.BatchSize) > 0 {
		g.BatchSize = o.BatchSize
	}
	if len(o.Epochs) > 0 {
		g.Epochs = o.Epochs
	}
	if len(o.LR) > 0 {
		g.LR = o.LR
	}
	if len(o.Hidden) > 0 {
		g.Hidden = o.Hidden
	}
	if len(o.Seed) > 0 {
		g.Seed = o.Seed
	}
	if len(o.Scale) > 0 {
		g.Scale = o.Scale
	}
	return g
}

// setsPresetAxes tells whether g sets an axis that the lab-report preset sweeps, so that g describes
// other runs rather than a variation of the preset's.
func (g Grid) setsPresetAxes() bool {
	return len(g.Init) > 0 || len(g.BatchNorm) > 0 || len(g.BatchSize) > 0
}

// variants expands the grid in a fixed order (init, batch norm, batch size, lr, hidden, seed, epochs,
// scale), so run order and names are deterministic.
func (g Grid) variants() []Variant {
	d := Defaults()
	g = Grid{
		Init: []string{d.Init}, BatchNorm: []bool{d.BatchNorm}, BatchSize: []int{d.BatchSize},
		Epochs: []int{d.Epochs}, LR: []float64{d.LR}, Hidden: [][]int{d.Hidden}, Seed: []int64{d.Seed},
		Scale: []string{d.Scale},
	}.override(g)
	var out []Variant
	for _, init := range g.Init {
		for _, bn := range g.BatchNorm {
			for _, bs := range g.BatchSize {
				for _, lr := range g.LR {
					for _, hidden := range g.Hidden {
						for _, seed := range g.Seed {
							for _, epochs := range g.Epochs {
								for _, scale := range g.Scale {
									out = append(out, Variant{
										Init: init, BatchNorm: bn, BatchSize: bs, Epochs: epochs, LR: lr,
										Hidden: slices.Clone(hidden), Seed: seed, Scale: scale,
									})
								}
							}
						}
					}
				}
			}
		}
	}
	return out
}

// Run is one variant with the name of its run directory.
type Run struct {
	Name string
	Variant
}

// Plan is what one `tfsweep run` trains: the union of its grids, on the first Limit training images
// (0 = all).
type Plan struct {
	Grids []Grid
	Limit int
}

// Runs expands the plan's grids into named runs, in grid order. It checks every value that can be
// checked without the data (see CheckData for the rest): parseInit canonicalises initialiser names
// (model.ParseInit). Two grids that produce the same variant are an error, since the runs would be
// identical.
func (p Plan) Runs(parseInit func(string) (string, error)) ([]Run, error) {
	if p.Limit < 0 {
		return nil, fmt.Errorf("--limit: %d is negative", p.Limit)
	}
	if len(p.Grids) == 0 {
		return nil, errors.New("the sweep has no grids")
	}
	var variants []Variant
	for gi, g := range p.Grids {
		for _, v := range g.variants() {
			canonical, err := parseInit(v.Init)
			if err != nil {
				return nil, fmt.Errorf("%s--init: %w", gridLabel(p, gi), err)
			}
			v.Init = canonical
			if err := v.check(); err != nil {
				return nil, fmt.Errorf("%s%w", gridLabel(p, gi), err)
			}
			variants = append(variants, v)
		}
	}
	runs := nameRuns(variants)
	seen := make(map[string]bool, len(runs))
	for _, r := range runs {
		if seen[r.Name] {
			return nil, fmt.Errorf("run %s appears twice in the sweep: remove the duplicate from one of the grids", r.Name)
		}
		seen[r.Name] = true
	}
	return runs, nil
}

func gridLabel(p Plan, i int) string {
	if len(p.Grids) == 1 {
		return ""
	}
	return fmt.Sprintf("grid %d: ", i+1)
}

// check validates the values that the command line and config file parsers cannot: ranges.
func (v Variant) check() error {
	switch {
	case v.BatchSize <= 0:
		return fmt.Errorf("--batch-size: %d must be positive", v.BatchSize)
	case v.Epochs <= 0:
		return fmt.Errorf("--epochs: %d must be positive", v.Epochs)
	case !(v.LR > 0) || math.IsInf(v.LR, 0):
		return fmt.Errorf("--lr: %v must be a positive finite number", v.LR)
	case len(v.Hidden) == 0:
		return errors.New("--hidden: at least one hidden layer is needed")
	case v.Scale != ScaleUnit && v.Scale != ScaleNone:
		return fmt.Errorf("--scale: %q is neither %q nor %q", v.Scale, ScaleUnit, ScaleNone)
	}
	for _, h := range v.Hidden {
		if h <= 0 {
			return fmt.Errorf("--hidden: layer width %d must be positive", h)
		}
	}
	return nil
}

// CheckData validates the runs against the training set size (after --limit): a batch larger than the
// data could never be filled.
func CheckData(runs []Run, trainExamples int) error {
	if trainExamples <= 0 {
		return errors.New("the training set is empty")
	}
	for _, r := range runs {
		if r.BatchSize > trainExamples {
			return fmt.Errorf("--batch-size: %d is larger than the %d training examples (run %s)",
				r.BatchSize, trainExamples, r.Name)
		}
	}
	return nil
}

// nameRuns names each variant <init>-<bn|nobn>-b<batch>, adding -lr<lr>, -h<hidden>, -s<seed>,
// -e<epochs> and -<scale> only for the axes that take more than one value across the sweep.
func nameRuns(variants []Variant) []Run {
	varies := func(key func(Variant) string) bool {
		for _, v := range variants[1:] {
			if key(v) != key(variants[0]) {
				return true
			}
		}
		return false
	}
	lr := func(v Variant) string { return strconv.FormatFloat(v.LR, 'g', -1, 64) }
	hidden := Variant.HiddenString
	seed := func(v Variant) string { return strconv.FormatInt(v.Seed, 10) }
	epochs := func(v Variant) string { return strconv.Itoa(v.Epochs) }
	scale := func(v Variant) string { return v.Scale }
	var (
		lrVaries     = varies(lr)
		hiddenVaries = varies(hidden)
		seedVaries   = varies(seed)
		epochsVaries = varies(epochs)
		scaleVaries  = varies(scale)
	)
	runs := make([]Run, len(variants))
	for i, v := range variants {
		bn := "nobn"
		if v.BatchNorm {
			bn = "bn"
		}
		name := fmt.Sprintf("%s-%s-b%d", v.Init, bn, v.BatchSize)
		if lrVaries {
			name += "-lr" + lr(v)
		}
		if hiddenVaries {
			name += "-h" + hidden(v)
		}
		if seedVaries {
			name += "-s" + seed(v)
		}
		if epochsVaries {
			name += "-e" + epochs(v)
		}
		if scaleVaries {
			name += "-" + scale(v)
		}
		runs[i] = Run{Name: name, Variant: v}
	}
	return runs
}
