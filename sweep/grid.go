package sweep

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tfsweep/tfsweep/model/catalog"
)

// Grid is a cartesian product of axis values; an axis it does not set takes its default.
type Grid struct {
	axes map[string]axisValues // by Axis.Key
}

// axisValues are one axis' values in a grid and where they were written, for error messages:
// "--batch-size" or "sweep.yaml:7: batch_size".
type axisValues struct {
	values []any
	origin string
}

// Set gives the axis key the values, written at origin. It panics on an unknown key: keys come
// from Axes.
func (g *Grid) Set(key string, values []any, origin string) {
	if _, ok := AxisByKey(key); !ok {
		panic("sweep: unknown axis " + key)
	}
	if g.axes == nil {
		g.axes = map[string]axisValues{}
	}
	g.axes[key] = axisValues{values: values, origin: origin}
}

// Values returns the values the grid sets for an axis (nil when it leaves it to the default).
func (g Grid) Values(key string) []any { return g.axes[key].values }

// Override returns g with every axis that o sets replaced by o's values.
func (g Grid) Override(o Grid) Grid {
	out := Grid{axes: make(map[string]axisValues, len(g.axes)+len(o.axes))}
	for k, v := range g.axes {
		out.axes[k] = v
	}
	for k, v := range o.axes {
		out.axes[k] = v
	}
	return out
}

// size is the number of variants the grid expands to, saturating instead of overflowing.
func (g Grid) size() int {
	n := 1
	for _, a := range g.axes {
		if len(a.values) > 0 && n > maxPlanSize/len(a.values) {
			return maxPlanSize
		}
		n *= max(1, len(a.values))
	}
	return n
}

const maxPlanSize = 1 << 40

// variants expands the grid in the order of Axes (the first axis varies slowest), so that run order
// and names are deterministic.
func (g Grid) variants() []Variant {
	out := []Variant{Defaults()}
	for _, a := range Axes {
		values := g.axes[a.Key].values
		if len(values) == 0 {
			continue
		}
		next := make([]Variant, 0, len(out)*len(values))
		for _, v := range out {
			for _, value := range values {
				w := v
				w.Hidden = slices.Clone(v.Hidden)
				a.impl.set(&w, value)
				next = append(next, w)
			}
		}
		out = next
	}
	return out
}

// Run is one variant with its place in the plan and the name of its run directory.
type Run struct {
	Index int    // 0-based position in the plan: the same plan gives the same indexes everywhere
	Name  string // the run directory's name, unique in the plan
	Variant
}

// Plan is what one sweep trains: the union of its grids.
type Plan struct {
	Grids []Grid
}

// DefaultMaxRuns is the largest plan `tfsweep run` expands unless --max-runs allows more.
const DefaultMaxRuns = 10_000

// Size is the number of runs the plan expands to, counted without expanding it.
func (p Plan) Size() int {
	n := 0
	for _, g := range p.Grids {
		n = min(maxPlanSize, n+g.size())
	}
	return n
}

// Runs expands the plan's grids into named runs, in grid order. A plan larger than maxRuns is refused
// before it is expanded. Two grids that produce the same run are an error, since the runs would be
// identical.
func (p Plan) Runs(maxRuns int) ([]Run, error) {
	if len(p.Grids) == 0 {
		return nil, errors.New("the sweep has no grids")
	}
	if n := p.Size(); n > maxRuns {
		return nil, fmt.Errorf("the sweep has %s runs, more than --max-runs %d: split it or raise --max-runs", countText(n), maxRuns)
	}
	var variants []Variant
	for _, g := range p.Grids {
		variants = append(variants, g.variants()...)
	}
	runs := nameRuns(variants)
	seen := make(map[string]bool, len(runs))
	for _, r := range runs {
		if err := r.check(); err != nil {
			return nil, fmt.Errorf("run %s: %w", r.Name, err)
		}
		if seen[r.Name] {
			return nil, fmt.Errorf("run %s appears twice in the sweep: remove the duplicate from one of the grids", r.Name)
		}
		seen[r.Name] = true
	}
	return runs, nil
}

func countText(n int) string {
	if n >= maxPlanSize {
		return "over " + fmt.Sprint(maxPlanSize)
	}
	return fmt.Sprint(n)
}

// CheckData validates the runs against the training set (before each run's limit): a limit above
// the data, or a batch larger than the run's examples, could never train. Errors name where the
// offending value was written.
func (p Plan) CheckData(runs []Run, trainExamples int) error {
	if trainExamples <= 0 {
		return errors.New("the training set is empty")
	}
	for _, r := range runs {
		if r.Limit > trainExamples {
			return fmt.Errorf("%s: %d is more than the %d training examples (run %s)", p.origin("limit"), r.Limit, trainExamples, r.Name)
		}
		if train, val := r.Examples(trainExamples); r.ValidationSplit > 0 && (train == 0 || val == 0) {
			return fmt.Errorf("%s: %v leaves %d training and %d validation examples (run %s)", p.origin("validation_split"), r.ValidationSplit, train, val, r.Name)
		}
		if n := r.TrainExamples(trainExamples); r.BatchSize > n {
			return fmt.Errorf("%s: %d is larger than the %d training examples (run %s)", p.origin("batch_size"), r.BatchSize, n, r.Name)
		}
	}
	return nil
}

// origin names where an axis was set: the flag or file:line of its first setting in the plan.
func (p Plan) origin(key string) string {
	for _, g := range p.Grids {
		if o := g.axes[key].origin; o != "" {
			return o
		}
	}
	a, _ := AxisByKey(key)
	return a.Key + " (default " + a.DefaultText() + ")"
}

// check validates what one axis alone cannot: settings that must go together.
func (v Variant) check() error {
	return errors.Join(catalog.CheckMomentum(v.Optimizer, v.Momentum, v.Nesterov)...)
}

// Examples splits the data's n training images as the run uses them: the first Limit (all when 0),
// of which the last ValidationSplit fraction validates when set, as Keras' validation_split takes
// int(n·(1−split)) for training. val is 0 when the test set validates.
func (v Variant) Examples(n int) (train, val int) {
	if v.Limit > 0 && v.Limit < n {
		n = v.Limit
	}
	if v.ValidationSplit == 0 {
		return n, 0
	}
	train = int(float64(n) * (1 - v.ValidationSplit))
	return train, n - train
}

// TrainExamples is the number of images the run trains on, of the data's n.
func (v Variant) TrainExamples(n int) int {
	train, _ := v.Examples(n)
	return train
}

// nameRuns names each variant by the parts of its axes that are always named (init-bn-b128), then
// those that take more than one value across the sweep, in the order of Axes.
func nameRuns(variants []Variant) []Run {
	var named []*Axis
	for _, a := range Axes {
		if a.AlwaysInName || varies(a, variants) {
			named = append(named, a)
		}
	}
	runs := make([]Run, len(variants))
	for i, v := range variants {
		parts := make([]string, len(named))
		for j, a := range named {
			parts[j] = a.impl.namePart(a.Get(v))
		}
		runs[i] = Run{Index: i, Name: strings.Join(parts, "-"), Variant: v}
	}
	return runs
}

func varies(a *Axis, variants []Variant) bool {
	for _, v := range variants[1:] {
		if !a.Equal(v, variants[0]) {
			return true
		}
	}
	return false
}
