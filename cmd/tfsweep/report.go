package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"syscall"

	"github.com/tfsweep/tfsweep/report"
	"github.com/tfsweep/tfsweep/spec"
)

const reportUsage = `usage: tfsweep report [--out DIR|-] SWEEP_DIR

Reads the TensorBoard event files of the sweep directory SWEEP_DIR (written by tfsweep run, or any
directory of Keras-style runs with hparams sessions) and writes into it report.md (the lab report's
Tables 1–14 beside this sweep's final losses, with the figures), report.csv, report.json, PNG loss
curves under figures/ and the link best to the best run's model. Prints the table of runs, and what
became of best: a best that is not a link (a copy made with links followed) is left as it is.

A sweep directory that cannot be written (a read-only copy) gets report.md printed to stdout
instead, with a note on stderr; --out writes every file into another directory.

Exit status: 0 written, 1 an event file could not be read or a file not written, 2 SWEEP_DIR does
not exist or holds no runs.
`

// runReport is `tfsweep report`: flags and exit codes only; report does the work.
func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCLI("report", reportUsage)
	out := c.fs.String("out", "", "write the report into `DIR` (created if needed) instead of SWEEP_DIR; - prints report.md to stdout")
	pos, code, ok := c.parse(args, stdout, stderr)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "tfsweep report: want exactly one sweep directory (see tfsweep report -h)")
		return spec.ExitBadInput
	}
	s, err := report.Load(ctx, pos[0])
	if err != nil {
		return reportFailed(err, stderr)
	}
	if *out == "-" {
		return printMarkdown(s, stdout, stderr)
	}
	dir := s.Dir
	if *out != "" {
		dir = *out
	}
	written, err := s.WriteTo(ctx, dir)
	if *out == "" && (errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS)) {
		fmt.Fprintf(stderr, "tfsweep report: %s cannot be written (%v): report.md follows on stdout; "+
			"--out DIR writes the whole report, figures too, elsewhere\n", s.Dir, err)
		return printMarkdown(s, stdout, stderr)
	}
	if err != nil {
		return reportFailed(err, stderr)
	}
	fmt.Fprint(stdout, written.Table)
	fmt.Fprintf(stdout, "\nwrote %s (with %s and %s) and %d figures under %s\n",
		filepath.Join(written.Dir, report.MarkdownFile), report.CSVFile, report.JSONFile, len(written.Figures),
		filepath.Join(written.Dir, report.FiguresDir))
	if written.BestLink != "" {
		fmt.Fprintln(stdout, written.BestLink)
	}
	return spec.ExitOK
}

func printMarkdown(s *report.Sweep, stdout, stderr io.Writer) int {
	if err := s.Markdown(stdout); err != nil {
		return reportFailed(err, stderr)
	}
	return spec.ExitOK
}

func reportFailed(err error, stderr io.Writer) int {
	fmt.Fprintf(stderr, "tfsweep report: %v\n", err)
	var dirErr *report.DirError
	if errors.As(err, &dirErr) {
		return spec.ExitBadInput
	}
	return spec.ExitRunFailed
}
