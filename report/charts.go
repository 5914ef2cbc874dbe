package report

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/summary"
	"github.com/tfsweep/tfsweep/sweep"
)

// maxAxisCharts bounds the charts of one axis: an axis drawn at random takes a value per run, and
// a chart per run compares nothing.
const maxAxisCharts = 12

// ChartLayout is the Custom Scalars layout of a sweep, over the tags spec.ChartTag gives each
// run's epoch losses in the sweep's charts run: the lab report's figures (train or validation loss
// of its variants, with and without batch norm on one chart, the batch-size comparison, uniform
// initialisation) drawn from the runs trained as the report trained, then for every axis that
// varies, one chart per value comparing the runs that take it. So the report's figures are live in
// TensorBoard's Custom Scalars tab while the sweep trains.
func ChartLayout(runs []sweep.Run) summary.Layout {
	var layout summary.Layout
	lab := summary.Category{Title: "Lab report figures"}
	for _, t := range LabReport() {
		var names []string
		for _, row := range t.Rows {
			for _, r := range runs {
				if labVariant(r) == row.Variant && labComparable(r) {
					names = append(names, r.Name)
				}
			}
		}
		if len(names) == 0 {
			continue
		}
		title, _ := figureTitle(t)
		lab.Charts = append(lab.Charts, summary.Chart{Title: fmt.Sprintf("Figure %d: %s", t.Figure, title), Tags: []string{tagRegex(names, string(t.Split))}})
	}
	if len(lab.Charts) > 0 {
		layout.Categories = append(layout.Categories, lab)
	}
	byAxis := summary.Category{Title: "Validation loss by axis value"}
	for _, a := range spec.Axes() {
		var values []string
		members := map[string][]string{}
		for _, r := range runs {
			v := a.Text(r.Variant)
			if _, seen := members[v]; !seen {
				values = append(values, v)
			}
			members[v] = append(members[v], r.Name)
		}
		if len(values) < 2 || len(values) > maxAxisCharts {
			continue
		}
		for _, v := range values {
			byAxis.Charts = append(byAxis.Charts, summary.Chart{
				Title: a.Key + "=" + v, Tags: []string{tagRegex(members[v], string(Validation))},
			})
		}
	}
	if len(byAxis.Charts) > 0 {
		layout.Categories = append(layout.Categories, byAxis)
	}
	return layout
}

// tagRegex matches the chart tags of the named runs' split.
func tagRegex(runs []string, split string) string {
	quoted := make([]string, len(runs))
	for i, r := range runs {
		quoted[i] = regexp.QuoteMeta(spec.ChartTag(r, split))
	}
	return "^(?:" + strings.Join(quoted, "|") + ")$"
}

func labVariant(r sweep.Run) Variant {
	return Variant{Init: r.Init, BatchNorm: r.BatchNorm, BatchSize: r.BatchSize}
}

// labComparable is Run.LabMismatch for a planned run: every axis that is not LabFree at its default.
func labComparable(r sweep.Run) bool {
	for _, a := range spec.Axes() {
		if !a.LabFree && !a.IsDefault(r.Variant) {
			return false
		}
	}
	return true
}
