package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/tfsweep/tfsweep/internal/atomicfile"
	"github.com/tfsweep/tfsweep/sweep"
)

// Files written into the sweep directory, besides the figures in FiguresDir.
const (
	MarkdownFile = "report.md"
	CSVFile      = "report.csv"
	JSONFile     = "report.json"
)

// Written says what Write produced.
type Written struct {
	Dir      string         // the directory written into: the sweep directory, or WriteTo's
	Files    []string       // every file written, as paths under Dir: report.md, report.csv, report.json, figures
	Figures  []string       // the PNGs alone, relative to Dir with forward slashes
	Table    string         // Sweep.Table: the runs' final losses beside the report's, to print
	Compared bool           // whether the lab report's Tables 1–14 were laid out (the sweep has its variants)
	Best     *sweep.BestRun // the best run's model, which the `best` link points to; nil without one
	// BestLink says, in a sentence, what became of Dir/best: linked, removed, or left as it was
	// (a directory or file, as a copy of the sweep that followed the link leaves it); "" when
	// there was no link and no best run.
	BestLink string
}

// Generate reads the sweep directory's logs and writes the report into it: what `tfsweep report`
// does, and what the trainer calls at the end of a sweep. Errors are those of Load and Write.
func Generate(ctx context.Context, dir string) (*Written, error) {
	s, err := Load(ctx, dir)
	if err != nil {
		return nil, err
	}
	return s.Write(ctx)
}

// Finish writes the report of a sweep that has trained into its directory, after an interruption
// too (it shows what the logs hold), and records in res where the report is and which run is best,
// or, on an error, why there is no report. It is the last step of `tfsweep run` and of every sweep
// `tfsweep serve` trains.
func Finish(ctx context.Context, res *sweep.Result) (*Written, error) {
	written, err := Generate(context.WithoutCancel(ctx), res.SweepDir)
	if err != nil {
		res.ReportError = strings.TrimSpace(strings.Join([]string{res.ReportError, err.Error()}, " "))
		return nil, err
	}
	res.Report = filepath.Join(res.SweepDir, MarkdownFile)
	res.Best = written.Best
	return written, nil
}

// Write writes report.md, report.csv, report.json and the figures into s.Dir (see WriteTo).
func (s *Sweep) Write(ctx context.Context) (*Written, error) { return s.WriteTo(ctx, s.Dir) }

// WriteTo writes report.md, report.csv, report.json, the figures and the best link into dir
// (created if needed), each file through a temporary name so that a reader never sees half a
// report. Figures no run has data for are not drawn (and removed if an earlier report drew them).
// A directory that cannot be written (a read-only copy of a sweep) fails at the first file, with
// nothing written.
func (s *Sweep) WriteTo(ctx context.Context, dir string) (*Written, error) {
	withReport := s.HasReportVariants()
	comparisons := s.Compare()
	figures := s.figures(comparisons, withReport)
	out := &Written{Dir: dir, Table: s.Table(), Compared: withReport, Best: s.Best()}

	if err := prepareDir(dir); err != nil {
		return nil, err
	}
	if err := writeFigures(ctx, out, figures); err != nil {
		return nil, err
	}
	if err := s.writeDocuments(out, comparisons, figures, withReport); err != nil {
		return nil, err
	}
	note, err := linkBest(dir, out.Best)
	if err != nil {
		return nil, fmt.Errorf("report: %s link: %w", BestLink, err)
	}
	out.BestLink = note
	return out, nil
}

// prepareDir creates dir and its figures directory and clears both of stale temporary files.
func prepareDir(dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, FiguresDir), 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	// A report killed mid-write leaves its temporary files behind; they are nobody's now.
	for _, dir := range []string{dir, filepath.Join(dir, FiguresDir)} {
		if err := atomicfile.RemoveStale(dir); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	return nil
}

// writeFigures draws the figures that have data into out.Dir, recording them in out, and removes
// those that have none.
func writeFigures(ctx context.Context, out *Written, figures []Figure) error {
	for _, f := range figures {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !f.hasData() {
			// A figure of an earlier report of this directory would no longer match report.md.
			if err := os.Remove(figurePath(out.Dir, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("report: %w", err)
			}
			continue
		}
		png, err := f.PNG()
		if err != nil {
			return fmt.Errorf("report: %w", err)
		}
		path := figurePath(out.Dir, f)
		if err := writeFile(path, png); err != nil {
			return err
		}
		out.Figures = append(out.Figures, f.File)
		out.Files = append(out.Files, path)
	}
	return nil
}

// writeDocuments renders report.md, report.csv and report.json, then writes them into out.Dir,
// so that a rendering error leaves none of them replaced.
func (s *Sweep) writeDocuments(out *Written, comparisons []Comparison, figures []Figure, withReport bool) error {
	var md, csvBuf, jsonBuf bytes.Buffer
	if err := s.writeMarkdown(&md, comparisons, figures, withReport); err != nil {
		return fmt.Errorf("report: %s: %w", MarkdownFile, err)
	}
	if err := s.writeCSV(&csvBuf); err != nil {
		return fmt.Errorf("report: %s: %w", CSVFile, err)
	}
	doc := s.document(comparisons, nonNil(out.Figures), withReport)
	doc.Best = out.Best
	if err := writeJSON(&jsonBuf, doc); err != nil {
		return fmt.Errorf("report: %s: %w", JSONFile, err)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{MarkdownFile, md.Bytes()}, {CSVFile, csvBuf.Bytes()}, {JSONFile, jsonBuf.Bytes()}} {
		path := filepath.Join(out.Dir, f.name)
		if err := writeFile(path, f.data); err != nil {
			return err
		}
		out.Files = append(out.Files, path)
	}
	return nil
}

// Markdown writes report.md alone to w, for a sweep directory that cannot be written: its figure
// links are those of an earlier report of the directory, if any.
func (s *Sweep) Markdown(w io.Writer) error {
	withReport := s.HasReportVariants()
	comparisons := s.Compare()
	return s.writeMarkdown(w, comparisons, s.figures(comparisons, withReport), withReport)
}

// writeFile replaces path with data atomically and durably (atomicfile): a reader never sees half a
// file, and a crash leaves the old report or the new one.
func writeFile(path string, data []byte) error {
	if err := atomicfile.Write(path, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
