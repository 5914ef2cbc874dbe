package inspect

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"text/tabwriter"
	"time"
)

// Format is how Dump prints rows.
type Format int

// The output formats.
const (
	Text      Format = iota // aligned columns for people
	JSONLines               // one JSON object per row, as rows are read
	JSON                    // one JSON document: {"files": [...], "rows": [...], "notes": [...], "errors": [...]}
)

// ParseFormat reads a --format value.
func ParseFormat(s string) (Format, error) {
	switch s {
	case "text":
		return Text, nil
	case "jsonl":
		return JSONLines, nil
	case "json":
		return JSON, nil
	}
	return 0, fmt.Errorf("--format: %q is not one of text, jsonl, json", s)
}

// Row is one value of one event: an event holds one summary value in TF2 files, but legacy writers
// put several in one Summary, and events such as file_version or graph_def have none.
type Row struct {
	File     string  `json:"file"` // the event file, as found under the inspected path
	Run      string  `json:"run"`  // the file's directory relative to the inspected directory ("." for itself)
	Step     int64   `json:"step"`
	WallTime float64 `json:"wall_time"`
	Tag      string  `json:"tag,omitempty"`
	Kind     string  `json:"kind"` // scalar, histogram, text, hparams, graph, file_version, …
	// Summary is the value in a few words, as the text output prints it.
	Summary string `json:"summary"`
	// Value is the value for scripts: a number for a scalar, an object for histograms and hparams.
	Value any `json:"value,omitempty"`
}

// Note is a condition worth telling the reader that is not an error, such as a truncated last record
// (a writer still writing, or one that died mid-record: TensorBoard ignores it too).
type Note struct {
	File    string `json:"file"`
	Offset  int64  `json:"offset"`
	Message string `json:"message"`
}

func (n Note) String() string { return fmt.Sprintf("%s: offset %d: %s", n.File, n.Offset, n.Message) }

// printer writes rows in one Format. Text rows are aligned per file.
type printer struct {
	format  Format
	w       io.Writer
	tw      *tabwriter.Writer
	enc     *json.Encoder
	doc     document
	header  bool
	pending int // text rows since the last flush
}

// textBlock is how many text rows are aligned together.
const textBlock = 4096

type document struct {
	Files  []string `json:"files"`
	Rows   []Row    `json:"rows"`
	Notes  []Note   `json:"notes"`
	Errors []string `json:"errors"`
}

func newPrinter(w io.Writer, format Format) *printer {
	p := &printer{format: format, w: w}
	switch format {
	case Text:
		p.tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	case JSONLines:
		p.enc = json.NewEncoder(w)
	}
	p.doc = document{Files: []string{}, Rows: []Row{}, Notes: []Note{}, Errors: []string{}}
	return p
}

func (p *printer) file(path string) error {
	switch p.format {
	case Text:
		p.pending = 0
		if err := p.tw.Flush(); err != nil {
			return err
		}
		if p.header {
			if _, err := fmt.Fprintln(p.w); err != nil {
				return err
			}
		}
		p.header = true
		if _, err := fmt.Fprintf(p.w, "== %s\n", path); err != nil {
			return err
		}
		_, err := fmt.Fprintln(p.tw, "RUN\tSTEP\tWALL TIME\tKIND\tTAG\tVALUE")
		return err
	case JSON:
		p.doc.Files = append(p.doc.Files, path)
	}
	return nil
}

func (p *printer) row(r Row) error {
	switch p.format {
	case Text:
		if _, err := fmt.Fprintf(p.tw, "%s\t%d\t%s\t%s\t%s\t%s\n", r.Run, r.Step, formatWallTime(r.WallTime), r.Kind, r.Tag, r.Summary); err != nil {
			return err
		}
		// tabwriter holds rows until a flush to align them; a flush every textBlock rows bounds the
		// memory of a file with millions of batch scalars, at the price of columns that may shift
		// between blocks.
		p.pending++
		if p.pending == textBlock {
			p.pending = 0
			return p.tw.Flush()
		}
		return nil
	case JSONLines:
		return p.enc.Encode(jsonSafe(r))
	default:
		p.doc.Rows = append(p.doc.Rows, jsonSafe(r))
		return nil
	}
}

// note records a note: in the JSON document, or on the notes writer for the streaming formats (so
// that a script reading JSON lines on stdout is not confused).
func (p *printer) note(n Note, notes io.Writer) {
	if p.format == JSON {
		p.doc.Notes = append(p.doc.Notes, n)
		return
	}
	fmt.Fprintf(notes, "note: %s\n", n)
}

// error records a file's read error in the JSON document; the streaming formats leave errors to
// Dump's caller, which gets them all joined.
func (p *printer) error(err error) {
	if p.format == JSON {
		p.doc.Errors = append(p.doc.Errors, err.Error())
	}
}

func (p *printer) close() error {
	switch p.format {
	case Text:
		return p.tw.Flush()
	case JSON:
		enc := json.NewEncoder(p.w)
		enc.SetIndent("", "  ")
		return enc.Encode(p.doc)
	}
	return nil
}

// formatWallTime prints seconds since the epoch as UTC with milliseconds, the resolution that
// tells neighbouring events apart.
func formatWallTime(s float64) string {
	if math.IsNaN(s) || math.IsInf(s, 0) {
		return strconv.FormatFloat(s, 'g', -1, 64)
	}
	sec, frac := math.Modf(s)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC().Format("2006-01-02T15:04:05.000Z")
}

// jsonSafe keeps encoding/json from refusing a row: values are made safe by number() when built,
// and a wall time that is not finite (a broken writer) is printed as 0.
func jsonSafe(r Row) Row {
	if math.IsNaN(r.WallTime) || math.IsInf(r.WallTime, 0) {
		r.WallTime = 0
	}
	return r
}
