package trainer

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// PrintRuns writes the runs of a dry run as an aligned table.
func PrintRuns(w io.Writer, runs []Run, trainExamples int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tINIT\tBATCHNORM\tBATCH\tEPOCHS\tLR\tHIDDEN\tSEED\tSCALE\tSTEPS/EPOCH")
	for _, r := range runs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%g\t%s\t%d\t%s\t%d\n", r.Name, r.Init, onOff(r.BatchNorm), r.BatchSize,
			r.Epochs, r.LR, r.HiddenString(), r.Seed, r.Scale, (trainExamples+r.BatchSize-1)/r.BatchSize)
	}
	tw.Flush()
	fmt.Fprintf(w, "%d runs on %d training examples\n", len(runs), trainExamples)
}

// PrintResult writes the sweep's outcome: the report's table when the report was written, else a
// table of the final metrics.
func PrintResult(w io.Writer, res *Result) {
	if res.ReportTable != "" {
		fmt.Fprint(w, res.ReportTable)
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "RUN\tSTATUS\tEPOCHS\tTRAIN LOSS\tTRAIN ACC\tVAL LOSS\tVAL ACC\tFIT S\tSAMPLES/S")
		for _, r := range res.Runs {
			if r.Final == nil {
				fmt.Fprintf(tw, "%s\t%s\t%d\t-\t-\t-\t-\t-\t-\n", r.Name, r.Status, r.EpochsCompleted)
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%.4f\t%.4f\t%.4f\t%.4f\t%.1f\t%.0f\n", r.Name, r.Status, r.EpochsCompleted,
				r.Final.TrainLoss, r.Final.TrainAccuracy, r.Final.ValLoss, r.Final.ValAccuracy, r.FitSeconds, r.SamplesPerSecond)
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
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
