package report

import (
	"math"
)

// Cell is one row of a lab-report table filled from the sweep: the report's number beside the
// sweep's value for the same variant.
type Cell struct {
	Row ReferenceRow
	// Runs are the sweep's runs of the variant (several when another axis such as the seed varies).
	Runs []string
	// Loss is the mean final loss over the runs that ran to their end and logged the split (see
	// meanLast); NaN if none.
	Loss float64
	// Averaged counts the runs in Loss.
	Averaged int
	// Failed are the runs of the variant that failed or were interrupted, Stopped those a scheduler
	// pruned or paused; both are left out of Loss.
	Failed, Stopped []string
	// Configurations counts the distinct configurations (all hyper-parameters but the seed) among
	// Runs. Only runs of one configuration are averaged: with more, Loss is NaN.
	Configurations int
}

// Difference is the sweep's loss minus the report's (NaN without a sweep value).
func (c Cell) Difference() float64 { return c.Loss - c.Row.Loss }

// leftOutGroup is runs of a cell left out of its mean for one reason.
type leftOutGroup struct {
	why  string
	runs []string
}

// leftOut groups the cell's runs that are not in its mean by why: failed, or pruned or paused.
func (c Cell) leftOut() []leftOutGroup {
	var out []leftOutGroup
	if len(c.Failed) > 0 {
		out = append(out, leftOutGroup{"failed", c.Failed})
	}
	if len(c.Stopped) > 0 {
		out = append(out, leftOutGroup{"pruned or paused", c.Stopped})
	}
	return out
}

// Comparison is one lab-report table filled from the sweep.
type Comparison struct {
	Table ReferenceTable
	Cells []Cell
}

// Compare fills every lab-report table from the sweep, in table order. Variants the sweep lacks
// have cells with no runs and a NaN loss.
func (s *Sweep) Compare() []Comparison {
	tables := LabReport()
	out := make([]Comparison, len(tables))
	for i, t := range tables {
		out[i] = Comparison{Table: t, Cells: make([]Cell, len(t.Rows))}
		for j, row := range t.Rows {
			out[i].Cells[j] = s.cell(row, t.Split)
		}
	}
	return out
}

func (s *Sweep) cell(row ReferenceRow, split Split) Cell {
	c := Cell{Row: row, Loss: math.NaN()}
	runs := s.matches(row.Variant)
	configs := map[string]bool{}
	for _, r := range runs {
		configs[r.ConfigKey()] = true
		c.Runs = append(c.Runs, r.Name)
		switch {
		case r.Status.Failed():
			c.Failed = append(c.Failed, r.Name)
		case r.Status.Stopped():
			c.Stopped = append(c.Stopped, r.Name)
		}
	}
	c.Configurations = len(configs)
	mean, n := meanLast(runs, func(r Run) Series { return r.Loss(split) })
	c.Averaged = n
	if n > 0 && c.Configurations == 1 {
		c.Loss = mean
	}
	return c
}

// HasReportVariants reports whether any run is one of the lab report's variants trained as the
// report trained them, which decides whether report.md lays out Tables 1–14 or only the table of all
// runs.
func (s *Sweep) HasReportVariants() bool { return anyComparable(s.Runs) }

// anyComparable reports whether any of runs has the lab report's numbers beside it; the tables of
// runs carry the "Report train" and "Report val" columns only then.
func anyComparable(runs []Run) bool {
	for _, r := range runs {
		if v, ok := r.Variant(); ok && r.LabMismatch() == "" {
			if _, ok := ReferenceLoss(v, Train); ok {
				return true
			}
		}
	}
	return false
}

// reference returns the report's train and validation loss for the run and the numbers of the
// tables that print them (0 when the report has no such variant).
func reference(r Run) (train, val float64, trainTable, valTable int) {
	train, val = math.NaN(), math.NaN()
	v, ok := r.Variant()
	if !ok || r.LabMismatch() != "" {
		return
	}
	for _, t := range LabReport() {
		for _, row := range t.Rows {
			if row.Variant != v {
				continue
			}
			// The first table wins: Tables 11–12 repeat numbers of Tables 1–10.
			if t.Split == Train && trainTable == 0 {
				train, trainTable = row.Loss, t.Number
			}
			if t.Split == Validation && valTable == 0 {
				val, valTable = row.Loss, t.Number
			}
		}
	}
	return
}

// referenceCells are the "Report train" and "Report val" cells of a run: the report's numbers, or
// why they do not stand beside this run when the report has its variant but trained it otherwise.
func referenceCells(r Run) (train, val string) {
	refTrain, refVal, _, _ := reference(r)
	if v, ok := r.Variant(); ok && math.IsNaN(refTrain) {
		if _, inReport := ReferenceLoss(v, Train); inReport {
			return "not comparable: " + r.LabMismatch(), missing
		}
	}
	return formatLoss(refTrain), formatLoss(refVal)
}
