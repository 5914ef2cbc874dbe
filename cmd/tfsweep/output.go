package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/sweep"
)

// printRuns writes the runs of a dry run as an aligned table: a column per axis that is always in
// run names or takes several values, then one line with the values every run shares, and one with
// their count and how many train at once.
func printRuns(w io.Writer, runs []sweep.Run, trainExamples int, par sweep.Parallelism, fuse sweep.Fusion) {
	var columns, shared []spec.Axis
	for _, a := range spec.Axes() {
		same := true
		for _, r := range runs[1:] {
			same = same && a.Equal(r.Variant, runs[0].Variant)
		}
		if a.AlwaysInName || !same {
			columns = append(columns, a)
		} else {
			shared = append(shared, a)
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := []string{"RUN"}
	for _, a := range columns {
		header = append(header, strings.ToUpper(a.Key))
	}
	fmt.Fprintln(tw, strings.Join(append(header, "STEPS/EPOCH"), "\t"))
	for _, r := range runs {
		row := []string{r.Name}
		for _, a := range columns {
			row = append(row, a.Text(r.Variant))
		}
		n := r.TrainExamples(trainExamples)
		row = append(row, fmt.Sprint((n+r.BatchSize-1)/r.BatchSize))
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
	if len(shared) > 0 {
		parts := make([]string, len(shared))
		for i, a := range shared {
			parts[i] = a.Key + "=" + a.Text(runs[0].Variant)
		}
		fmt.Fprintf(w, "every run: %s\n", strings.Join(parts, " "))
	}
	fmt.Fprintf(w, "%d runs on %d training examples, %s, %s\n", len(runs), trainExamples, par, fuse)
	printFusion(w, fuse)
}

// printFusion lists a dry run's fused groups and the runs that train alone while fusion is on.
func printFusion(w io.Writer, fuse sweep.Fusion) {
	for i, g := range fuse.Groups {
		fmt.Fprintf(w, "fused group %d: %s\n", i+1, strings.Join(g, " "))
	}
	for _, a := range fuse.Alone {
		fmt.Fprintf(w, "alone: %s: %s\n", a.Run, a.Reason)
	}
}

// printResult writes the sweep's outcome: the report's table when the report was written, else a
// table of the final metrics.
func printResult(w io.Writer, res *sweep.Result, reportTable string) {
	if reportTable != "" {
		fmt.Fprint(w, reportTable)
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "RUN\tSTATUS\tEPOCHS\tTRAIN LOSS\tTRAIN ACC\tVAL LOSS\tVAL ACC\tFIT S\tSAMPLES/S")
		for _, r := range res.Runs {
			if r.Final == nil {
				fmt.Fprintf(tw, "%s\t%s\t%d\t-\t-\t-\t-\t-\t-\n", r.Name, r.Status, r.EpochsCompleted)
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%.4f\t%.4f\t%.4f\t%.4f\t%.1f\t%.0f\n", r.Name, r.Status, r.EpochsCompleted,
				r.Final.Loss, r.Final.Accuracy, r.Final.ValLoss, r.Final.ValAccuracy, r.FitSeconds, r.SamplesPerSecond)
		}
		tw.Flush()
	}
	for _, r := range res.Runs {
		if r.Error != "" {
			fmt.Fprintf(w, "%s failed: %s\n", r.Name, r.Error)
		}
	}
	if res.ReportError != "" {
		fmt.Fprintf(w, "report: %s\n", res.ReportError)
	}
	fmt.Fprintf(w, "sweep %s in %s (%.1f s)\n", res.Status, res.SweepDir, res.WallSeconds)
	if t := res.Timings; t != nil {
		fmt.Fprintf(w, "time: start-up %.1f s; runs (summed) set-up %.1f s, training %.1f s, validation %.1f s, export %.1f s; report %.1f s\n",
			t.Startup, t.Runs.Setup, t.Runs.Train, t.Runs.Validation, t.Runs.Export, t.Report)
	}
}
