package report

import (
	"path"
	"slices"
	"strconv"
	"strings"
)

// sweeps groups the runs by the sweep directory they sit in (the parent of the run's directory,
// "." for runs directly under the reported directory), in run order.
func (s *Sweep) sweeps() map[string][]Run {
	out := map[string][]Run{}
	for _, r := range s.Runs {
		dir := path.Dir(r.Name)
		out[dir] = append(out[dir], r)
	}
	return out
}

// Group is runs whose whole configuration but the seed is equal: the only runs a report averages.
type Group struct {
	Config string // Run.ConfigKey
	Runs   []Run
}

// Groups lists the runs by configuration, in the order of their first run.
func (s *Sweep) Groups() []Group {
	var out []Group
	index := map[string]int{}
	for _, r := range s.Runs {
		key := r.ConfigKey()
		i, ok := index[key]
		if !ok {
			i = len(out)
			index[key] = i
			out = append(out, Group{Config: key})
		}
		out[i].Runs = append(out[i].Runs, r)
	}
	return out
}

// writeSweeps adds report.md's sections for a directory of several sweeps: each sweep's runs, then
// a comparison that puts together only runs of equal configuration.
func (s *Sweep) writeSweeps(ew *errWriter, sweeps map[string][]Run) {
	names := make([]string, 0, len(sweeps))
	for name := range sweeps {
		names = append(names, name)
	}
	slices.SortFunc(names, naturalCompare)
	ew.printf("## Sweeps\n\nThis directory holds %d sweeps; each one's runs:\n\n", len(names))
	for _, name := range names {
		sub := &Sweep{Dir: name, Runs: sweeps[name]}
		_, varying := sub.commonHParams()
		ew.printf("### %s\n\n%s\n", name, runsTable(sub.Runs, varying))
	}
	_, varying := s.commonHParams()
	ew.printf("## Across sweeps\n\nRuns are put together only when every hyper-parameter but the seed is " +
		"equal; a row's losses are the mean over its runs (their seeds), leaving out the runs that failed or " +
		"that the scheduler pruned or paused (marked so: they trained fewer epochs). Runs that differ in " +
		"anything else are never averaged.\n\n")
	header := []string{"Configuration", "Runs", "Train loss", "Val loss", "Val acc"}
	t := &table{header: header, right: []bool{false, false, true, true, true}}
	for _, g := range s.Groups() {
		var parts []string
		for _, k := range varying {
			if k == "seed" {
				continue
			}
			if v, ok := g.Runs[0].HParams[k]; ok {
				parts = append(parts, k+"="+formatHParam(v))
			}
		}
		config := strings.Join(parts, ", ")
		if config == "" {
			config = "(all equal)"
		}
		names := make([]string, len(g.Runs))
		for i, r := range g.Runs {
			names[i] = lineLabel(r)
		}
		train, _ := meanLast(g.Runs, func(r Run) Series { return r.Curves.TrainLoss })
		val, n := meanLast(g.Runs, func(r Run) Series { return r.Curves.ValLoss })
		acc, _ := meanLast(g.Runs, func(r Run) Series { return r.Curves.ValAccuracy })
		runs := strings.Join(names, ", ")
		if n > 1 {
			runs += " (mean of " + strconv.Itoa(n) + ")"
		}
		t.add(config, runs, formatLoss(train), formatLoss(val), formatLoss(acc))
	}
	ew.printf("%s\n", t.String())
}
