package sweep

import (
	_ "embed"
	"flag"
	"fmt"
	"strings"

	"github.com/tfsweep/tfsweep/spec"
)

// Flags are the grid axes as command-line flags: one list flag per axis of spec.Axes.
type Flags struct {
	lists map[string]*listFlag // by spec.Axis.Key
}

// listFlag is an axis flag's raw comma-separated list.
type listFlag struct {
	value string
	set   bool
}

func (l *listFlag) String() string { return l.value }
func (l *listFlag) Set(s string) error {
	l.value, l.set = s, true
	return nil
}

// IsList marks the flag as a list of values for the front's help.
func (l *listFlag) IsList() bool { return true }

// AddFlags defines a flag per axis on fs, with the axis' usage and default.
func AddFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{lists: map[string]*listFlag{}}
	for _, a := range spec.Axes() {
		l := &listFlag{}
		f.lists[a.Key] = l
		fs.Var(l, a.Flag, fmt.Sprintf("%s (default %s)", a.Usage, a.DefaultText()))
	}
	return f
}

// Grid parses the flags that were given; errors name the flag.
func (f *Flags) Grid() (Grid, error) {
	var g Grid
	for _, a := range spec.Axes() {
		l := f.lists[a.Key]
		if !l.set {
			continue
		}
		if d, ok, err := parseFlagDistribution(a, l.value); ok {
			if err != nil {
				return Grid{}, fmt.Errorf("--%s: %w", a.Flag, err)
			}
			g.SetDistribution(a.Key, d, "--"+a.Flag)
			continue
		}
		values, err := a.ParseFlag(l.value)
		if err != nil {
			return Grid{}, err
		}
		if values == nil {
			return Grid{}, fmt.Errorf("--%s: empty list", a.Flag)
		}
		for i, v := range values {
			if m, ok := v.(spec.Model); ok { // relative to the working directory
				values[i] = absoluteModel(m, "")
			}
		}
		g.Set(a.Key, values, "--"+a.Flag)
	}
	return g, nil
}

//go:embed presets/lab-report.yaml
var labReportYAML string

// LabReport is the preset `tfsweep run` trains when no grid is given: the twelve runs of the lab
// report (xavier × batch norm off/on × batch 64…1024, and uniform × batch norm off/on × batch 128),
// 5 epochs, learning rate 0.001, as presets/lab-report.yaml declares them.
func LabReport() Plan {
	plan, err := ParseConfig(strings.NewReader(labReportYAML), "presets/lab-report.yaml")
	if err != nil {
		panic("sweep: the embedded lab-report preset does not parse: " + err.Error())
	}
	// Its values were not written by the user: errors name the preset, not an embedded file's line.
	for _, g := range plan.Grids {
		for key, a := range g.axes {
			a.origin = "the lab-report preset's " + key
			g.axes[key] = a
		}
	}
	return plan
}

// NewPlan builds what `tfsweep run` trains. With a sweep file (configPath): its grids, every axis set
// in flags overriding that axis in each grid. Without one: the lab-report preset with the flags'
// axes applied to its twelve runs, unless a flag sets an axis the preset itself sweeps (init,
// batchnorm, batch size): then one grid of the flags. So `tfsweep run --scale none` is the lab
// report on raw pixels.
//
// search sets the random search's trials and seed when the flags gave them (nil leaves the sweep
// file's).
func NewPlan(configPath string, fromFlags Grid, search *Search) (Plan, error) {
	var plan Plan
	switch {
	case configPath != "":
		var err error
		if plan, err = ReadConfig(configPath); err != nil {
			return Plan{}, fmt.Errorf("--config: %w", err)
		}
	case !setsPresetAxes(fromFlags):
		plan = LabReport()
	default:
		plan = Plan{Grids: []Grid{{}}}
	}
	for i, g := range plan.Grids {
		plan.Grids[i] = g.Override(fromFlags)
	}
	if search != nil {
		if search.Trials != nil {
			plan.Trials = *search.Trials
		}
		if search.Seed != nil {
			plan.SearchSeed = *search.Seed
		}
		if search.Method != nil {
			plan.Search = *search.Method
		}
		if search.Scheduler != nil {
			plan.Scheduler = *search.Scheduler
		}
	}
	switch plan.Search {
	case "", SearchRandom, SearchTPE:
	default:
		return Plan{}, fmt.Errorf("--search: %q is not random or tpe", plan.Search)
	}
	if plan.Trials < 0 {
		return Plan{}, fmt.Errorf("--trials: %d must not be negative", plan.Trials)
	}
	return plan, nil
}

// Search is the random search's settings from flags; a nil field was not given.
type Search struct {
	Trials *int
	Seed   *int64
	Method *string // random or tpe
	// Scheduler replaces the sweep file's scheduler when any --scheduler flag is given.
	Scheduler *SchedulerOptions
}

// setsPresetAxes tells whether g sets an axis that the lab-report preset sweeps, so that g describes
// other runs rather than a variation of the preset's.
func setsPresetAxes(g Grid) bool {
	for _, pg := range LabReport().Grids {
		for key := range pg.axes {
			if g.sets(key) {
				return true
			}
		}
	}
	return false
}
