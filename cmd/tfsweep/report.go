package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/tfsweep/tfsweep/report"
	"github.com/tfsweep/tfsweep/spec"
)

const reportUsage = `usage: tfsweep report DIR

Reads the TensorBoard event files of the sweep directory DIR (written by tfsweep run, or any
directory of Keras-style runs with hparams sessions) and writes into it report.md (the lab report's
Tables 1–14 beside this sweep's final losses, with the figures), report.csv, report.json and PNG
loss curves under figures/. Prints the table of runs.

Exit status: 0 written, 1 an event file could not be read or a file not written, 2 DIR does not
exist or holds no runs.
`

// runReport is `tfsweep report`: flags and exit codes only; report does the work.
func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	pos, code, ok := newCLI("report", reportUsage).parse(args, stdout, stderr)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "tfsweep report: want exactly one sweep directory (see tfsweep report -h)")
		return spec.ExitBadInput
	}
	written, err := report.Generate(ctx, pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "tfsweep report: %v\n", err)
		var dirErr *report.DirError
		if errors.As(err, &dirErr) {
			return spec.ExitBadInput
		}
		return spec.ExitRunFailed
	}
	fmt.Fprint(stdout, written.Table)
	fmt.Fprintf(stdout, "\nwrote %s (with %s and %s) and %d figures under %s\n",
		filepath.Join(written.Dir, report.MarkdownFile), report.CSVFile, report.JSONFile, len(written.Figures),
		filepath.Join(written.Dir, report.FiguresDir))
	return spec.ExitOK
}
