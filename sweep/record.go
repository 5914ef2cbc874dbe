package sweep

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tfsweep/tfsweep/internal/atomicfile"
	"github.com/tfsweep/tfsweep/spec"
)

// PlanFile is where a sweep directory records its plan when the sweep starts: a sweep file that
// trains the same runs under the same names (`tfsweep run --config DIR/sweep.yaml`), and what later
// processes joining the sweep, `--resume` and `tfsweep status` read.
const PlanFile = "sweep.yaml"

// YAML writes the plan as a sweep file: every grid with every axis it sets, the random search's
// trials and seed.
func (p Plan) YAML() []byte {
	var b bytes.Buffer
	b.WriteString("# The plan of this sweep, recorded when it started. `tfsweep run --config` of this file trains\n" +
		"# the same runs under the same names; processes joining the sweep (--name) must bring the same plan.\n")
	if p.Data != "" {
		fmt.Fprintf(&b, "data: %s\n", strconv.Quote(p.Data))
	}
	if p.Trials > 0 {
		fmt.Fprintf(&b, "trials: %d\nsearch_seed: %d\n", p.Trials, p.SearchSeed)
		if p.Search != "" && p.Search != SearchRandom {
			fmt.Fprintf(&b, "search: %s\n", p.Search)
		}
	}
	if p.Scheduler.Kind != "" {
		s, err := yaml.Marshal(map[string]SchedulerOptions{"scheduler": p.Scheduler})
		if err == nil { // a struct of strings and ints always marshals
			b.Write(s)
		}
	}
	b.WriteString("grids:\n")
	for _, g := range p.Grids {
		first := true
		for _, a := range spec.Axes() {
			av, ok := g.axes[a.Key]
			if !ok || (av.values == nil && av.dist == nil) {
				continue
			}
			prefix := "    "
			if first {
				prefix, first = "  - ", false
			}
			fmt.Fprintf(&b, "%s%s: %s\n", prefix, a.Key, yamlValues(a, av))
		}
		if first {
			b.WriteString("  - {}\n")
		}
	}
	return b.Bytes()
}

// yamlValues is an axis' values as a YAML flow list, or its distribution as a flow mapping.
func yamlValues(a spec.Axis, av axisValues) string {
	item := func(v any) string {
		text := a.ValueText(v)
		if a.ListIsOneValue() {
			return "[" + strings.ReplaceAll(text, "x", ", ") + "]"
		}
		return strconv.Quote(text)
	}
	if d := av.dist; d != nil {
		var args []string
		if d.Kind == DistChoice {
			for _, v := range d.Values {
				args = append(args, item(v))
			}
		} else {
			args = []string{strconv.FormatFloat(d.Lo, 'g', -1, 64), strconv.FormatFloat(d.Hi, 'g', -1, 64)}
		}
		return "{" + d.Kind + ": [" + strings.Join(args, ", ") + "]}"
	}
	items := make([]string, len(av.values))
	for i, v := range av.values {
		items[i] = item(v)
	}
	return "[" + strings.Join(items, ", ") + "]"
}

// recordPlan writes the plan into dir/PlanFile unless one is there (created reports whether this
// call wrote it); with one there, the recorded plan must expand to the same runs, or the error
// names the first difference.
func recordPlan(dir string, plan Plan, runs []Run, maxRuns int) (created bool, err error) {
	path := filepath.Join(dir, PlanFile)
	// Written to a temporary name and linked into place, so that of two processes starting one
	// sweep exactly one records it and the other reads a whole file.
	tmp := filepath.Join(dir, fmt.Sprintf(".%s.%d", PlanFile, os.Getpid()))
	if err := atomicfile.Write(tmp, plan.YAML(), 0o644); err != nil {
		return false, err
	}
	defer os.Remove(tmp)
	if err := atomicfile.Link(tmp, path); err == nil {
		return true, nil
	} else if !errors.Is(err, fs.ErrExist) {
		return false, err
	}
	recorded, err := ReadConfig(path)
	if err != nil {
		return false, fmt.Errorf("the sweep's recorded plan: %w", err)
	}
	theirs, err := recorded.Runs(max(maxRuns, recorded.Size()))
	if err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	if diff := diffRuns(theirs, runs); diff != "" {
		return false, fmt.Errorf("%s records another plan: %s", path, diff)
	}
	return false, nil
}

// diffRuns names the first difference between the recorded runs and these.
func diffRuns(recorded, runs []Run) string {
	if len(recorded) != len(runs) {
		return fmt.Sprintf("%d runs there, %d here", len(recorded), len(runs))
	}
	for i := range runs {
		if recorded[i].Name != runs[i].Name {
			return fmt.Sprintf("run %d is %s there, %s here", i+1, recorded[i].Name, runs[i].Name)
		}
		for _, a := range spec.Axes() {
			if !a.Equal(recorded[i].Variant, runs[i].Variant) {
				return fmt.Sprintf("run %s has %s %s there, %s here", runs[i].Name, a.Key, a.Text(recorded[i].Variant), a.Text(runs[i].Variant))
			}
		}
	}
	return ""
}

// ReadPlan reads a sweep directory's recorded plan and its runs.
func ReadPlan(dir string) (Plan, []Run, error) {
	path := filepath.Join(dir, PlanFile)
	if _, err := os.Stat(path); err != nil {
		return Plan{}, nil, fmt.Errorf("%s is not a sweep directory: %w", dir, err)
	}
	plan, err := ReadConfig(path)
	if err != nil {
		return Plan{}, nil, err
	}
	runs, err := plan.Runs(max(DefaultMaxRuns, plan.Size()))
	if err != nil {
		return Plan{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	return plan, runs, nil
}
