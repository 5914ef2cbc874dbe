package sweep

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/tfsweep/tfsweep/spec"
)

// Grid is a cartesian product of axis values; an axis it does not set takes its default.
type Grid struct {
	axes map[string]axisValues // by spec.Axis.Key
}

// axisValues are one axis' values in a grid and where they were written, for error messages:
// "--batch-size" or "sweep.yaml:7: batch_size".
type axisValues struct {
	values []any
	dist   *Distribution // instead of values, for random search
	origin string
}

// Set gives the axis key the values, written at origin. It panics on an unknown key: keys come
// from spec.Axes.
func (g *Grid) Set(key string, values []any, origin string) {
	if _, ok := spec.AxisByKey(key); !ok {
		panic("sweep: unknown axis " + key)
	}
	if g.axes == nil {
		g.axes = map[string]axisValues{}
	}
	g.axes[key] = axisValues{values: values, origin: origin}
}

// SetDistribution makes the axis key a distribution drawn per trial, written at origin.
func (g *Grid) SetDistribution(key string, d *Distribution, origin string) {
	g.Set(key, nil, origin)
	g.axes[key] = axisValues{dist: d, origin: origin}
}

// Values returns the values the grid sets for an axis (nil when it leaves it to the default or
// draws it).
func (g Grid) Values(key string) []any { return g.axes[key].values }

// Keys lists the axes the grid sets, in the order of spec.Axes.
func (g Grid) Keys() []string {
	var keys []string
	for _, a := range spec.Axes() {
		if g.sets(a.Key) {
			keys = append(keys, a.Key)
		}
	}
	return keys
}

// Distribution returns the axis' distribution, nil unless the grid draws it.
func (g Grid) Distribution(key string) *Distribution { return g.axes[key].dist }

// sets tells whether the grid sets the axis, by values or a distribution.
func (g Grid) sets(key string) bool {
	a, ok := g.axes[key]
	return ok && (a.values != nil || a.dist != nil)
}

// distributions lists the axes the grid draws, in the order of spec.Axes.
func (g Grid) distributions() []spec.Axis {
	var out []spec.Axis
	for _, a := range spec.Axes() {
		if g.axes[a.Key].dist != nil {
			out = append(out, a)
		}
	}
	return out
}

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
		n = mulSat(n, max(1, len(a.values)))
	}
	return n
}

// maxPlanSize is where plan sizes saturate: far above any --max-runs a machine could train, far
// below where int arithmetic overflows.
const maxPlanSize = 1 << 40

// mulSat is a·b for non-negative counts, saturated at maxPlanSize.
func mulSat(a, b int) int {
	if a <= 0 || b <= 0 {
		return 0
	}
	if a > maxPlanSize/b {
		return maxPlanSize
	}
	return min(maxPlanSize, a*b)
}

// variants expands the grid in the order of spec.Axes (the first axis varies slowest), so that run order
// and names are deterministic.
func (g Grid) variants() []spec.Variant {
	out := []spec.Variant{spec.Defaults()}
	for _, a := range spec.Axes() {
		values := g.axes[a.Key].values
		if len(values) == 0 {
			continue
		}
		next := make([]spec.Variant, 0, len(out)*len(values))
		for _, v := range out {
			for _, value := range values {
				w := v
				w.Hidden = slices.Clone(v.Hidden)
				a.Set(&w, value)
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
	Trial int    // 1-based trial number in a random search; 0 otherwise
	spec.Variant
	// space is the distributions of the trial's grid point, from which TPE proposes its values
	// when it starts (Plan.Search); nil for a grid run.
	space *searchSpace
}

// Plan is what one sweep trains: the union of its grids.
type Plan struct {
	Grids []Grid
	// Data is the sweep file's data source (data:, a dataset spec), empty when it names none.
	Data       string
	dataOrigin string // where Data was given, for errors
	// Trials is the number of trials drawn per point of each grid that has distributions; it must be
	// set exactly when some grid has one. SearchSeed seeds the draws.
	Trials     int
	SearchSeed int64
	// Search is how trials draw their distributions: SearchRandom (each draw on its own, at plan
	// time) or SearchTPE (each trial proposed when it starts, from the trials that have ended).
	Search string
	// Scheduler stops runs early, or pauses them at rungs and promotes the best (pruning.go); the
	// zero value trains every run to its last epoch.
	Scheduler SchedulerOptions
}

// DataOrigin is where Data was given, "FILE:LINE: data", for errors about it.
func (p Plan) DataOrigin() string { return p.dataOrigin }

// DefaultMaxRuns is the largest plan `tfsweep run` expands unless --max-runs allows more.
const DefaultMaxRuns = 10_000

// Size is the number of runs the plan expands to, counted without expanding it.
func (p Plan) Size() int {
	n := 0
	for _, g := range p.Grids {
		size := g.size()
		if len(g.distributions()) > 0 {
			size = mulSat(size, max(1, p.Trials))
		}
		n = min(maxPlanSize, n+size)
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
	if err := p.checkSearch(); err != nil {
		return nil, err
	}
	var planned []plannedRun
	drawn := map[string]bool{}
	trial := 0
	for gi, g := range p.Grids {
		dists := g.distributions()
		for _, v := range g.variants() {
			if len(dists) == 0 {
				planned = append(planned, plannedRun{variant: v, grid: gi})
				continue
			}
			var space *searchSpace
			if p.Search == SearchTPE {
				space = newSearchSpace(g, dists)
			}
			for range p.Trials {
				w := v
				rng := trialRNG(p.SearchSeed, trial)
				for _, a := range dists {
					a.Set(&w, g.axes[a.Key].dist.draw(a, rng))
					drawn[a.Key] = true
				}
				trial++
				planned = append(planned, plannedRun{variant: w, trial: trial, space: space, grid: gi})
			}
		}
	}
	if err := p.readModels(planned); err != nil {
		return nil, err
	}
	runs := nameRuns(planned, drawn, trial)
	seen := make(map[string]bool, len(runs))
	for _, r := range runs {
		if err := r.Check(); err != nil {
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

// CheckData validates the runs against the training set (before each run's limit) of examples of
// features values in classes classes: a limit above the data, a batch larger than the run's
// examples, or a model that does not read the examples or classify them into the classes could never
// train. Errors name where the offending value was written.
func (p Plan) CheckData(runs []Run, trainExamples, features, classes int) error {
	if trainExamples <= 0 {
		return errors.New("the training set is empty")
	}
	for _, r := range runs {
		if err := p.checkModel(r, features, classes); err != nil {
			return err
		}
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
	a, _ := spec.AxisByKey(key)
	return a.Key + " (default " + a.DefaultText() + ")"
}

// plannedRun is a variant before it is named; trial is its 1-based trial number in a random search,
// grid the index of the grid it comes from.
type plannedRun struct {
	variant spec.Variant
	trial   int
	space   *searchSpace
	grid    int
}

// nameRuns names each variant by the parts of its axes that are always named (init-bn-b128), then
// those that take more than one value across the sweep, in the order of spec.Axes. Drawn axes are left
// out (their values are in the hparams and the config text): a trial is named by its number,
// -t007, so that names stay short and unique.
func nameRuns(planned []plannedRun, drawn map[string]bool, trials int) []Run {
	var named []spec.Axis
	for _, a := range spec.Axes() {
		if !drawn[a.Key] && (a.AlwaysInName || varies(a, planned)) {
			named = append(named, a)
		}
	}
	digits := len(strconv.Itoa(trials))
	runs := make([]Run, len(planned))
	for i, p := range planned {
		parts := make([]string, 0, len(named)+1)
		for _, a := range named {
			parts = append(parts, a.NamePart(p.variant))
		}
		if p.trial > 0 {
			parts = append(parts, fmt.Sprintf("t%0*d", max(3, digits), p.trial))
		}
		runs[i] = Run{Index: i, Name: strings.Join(parts, "-"), Trial: p.trial, Variant: p.variant, space: p.space}
	}
	return runs
}

func varies(a spec.Axis, planned []plannedRun) bool {
	for _, p := range planned[1:] {
		if !a.Equal(p.variant, planned[0].variant) {
			return true
		}
	}
	return false
}

// checkSearch refuses trials without a distribution and distributions without trials.
func (p Plan) checkSearch() error {
	for _, g := range p.Grids {
		if dists := g.distributions(); len(dists) > 0 {
			if p.Trials <= 0 {
				return fmt.Errorf("%s: a distribution needs --trials N (trials: N in a sweep file)", g.axes[dists[0].Key].origin)
			}
			return nil
		}
	}
	if p.Trials > 0 {
		return errors.New("--trials: no axis is a distribution (e.g. --lr log_uniform:1e-4:1e-2)")
	}
	if p.Search == SearchTPE {
		return errors.New("--search tpe: no axis is a distribution (e.g. --lr log_uniform:1e-4:1e-2) for it to search")
	}
	return nil
}
