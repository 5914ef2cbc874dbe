// Package inspect dumps TensorBoard event files for people (aligned text) and scripts (JSON): every
// event's run, step, wall time, tag and a summary of its value. It reads through summary's reader, so
// corrupt records are reported with their file and offset and a truncated last record is only noted.
package inspect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Options select and shape the output of Dump.
type Options struct {
	// Tag keeps only values whose tag matches this path.Match pattern ("epoch_*"); "" keeps every
	// event, including those without a tag (file_version, graph_def).
	Tag    string
	Format Format
	// Notes receives notes (truncated tails) in the Text and JSONLines formats, so that they do not
	// mix with the rows; JSON puts them in the document. Nil discards them. Errors are returned.
	Notes io.Writer
}

// Result counts what Dump read.
type Result struct {
	Files int    // event files read
	Rows  int    // rows printed (after the tag filter)
	Notes []Note // truncated tails: not errors
}

// InputError is a path that cannot be inspected: it does not exist, or a directory holds no event
// files. `tfsweep inspect` exits 2 for it and 1 for corrupt records or read failures.
type InputError struct {
	Path string
	Err  error
}

func (e *InputError) Error() string { return fmt.Sprintf("%s: %v", e.Path, e.Err) }
func (e *InputError) Unwrap() error { return e.Err }

// ErrNoEventFiles is wrapped by the InputError for a directory without event files.
var ErrNoEventFiles = errors.New("no event files (*tfevents*) under this directory")

// Dump prints the events of the event file at root, or of every event file under the directory
// root (in path order), to w. A corrupt record ends the reading of its file (the records after it
// cannot be framed) but not of the others; Dump then returns an error naming each corrupt file and
// offset after printing everything it could read.
func Dump(ctx context.Context, root string, w io.Writer, opts Options) (Result, error) {
	var res Result
	if opts.Tag != "" {
		if _, err := path.Match(opts.Tag, ""); err != nil {
			return res, &InputError{Path: "--tag " + opts.Tag, Err: err}
		}
	}
	notes := opts.Notes
	if notes == nil {
		notes = io.Discard
	}
	files, base, err := eventFiles(root)
	if err != nil {
		return res, err
	}
	p := newPrinter(w, opts.Format)
	var errs []error
	for _, file := range files {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if err := p.file(file); err != nil {
			return res, fmt.Errorf("write output: %w", err)
		}
		res.Files++
		run := runName(base, file)
		fileErr := readFile(file, func(r Row) error {
			if opts.Tag != "" {
				if ok, _ := path.Match(opts.Tag, r.Tag); !ok {
					return nil
				}
			}
			r.File, r.Run = file, run
			res.Rows++
			if err := p.row(r); err != nil {
				return &writeError{err}
			}
			return nil
		}, func(n Note) {
			res.Notes = append(res.Notes, n)
			p.note(n, notes)
		})
		var we *writeError
		if errors.As(fileErr, &we) {
			return res, fmt.Errorf("write output: %w", we.err)
		}
		if fileErr != nil {
			errs = append(errs, fileErr)
			p.error(fileErr)
		}
	}
	if err := p.close(); err != nil {
		return res, fmt.Errorf("write output: %w", err)
	}
	return res, errors.Join(errs...)
}

// writeError marks a failure of the output, which stops Dump, from a failure of an input file,
// which does not.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }

// eventFiles returns the files to read and the directory run names are relative to.
func eventFiles(root string) (files []string, base string, err error) {
	info, err := os.Stat(root)
	if err != nil {
		return nil, "", &InputError{Path: root, Err: err}
	}
	if !info.IsDir() {
		// A file named explicitly is read whatever its name; its run is named after its directory.
		return []string{root}, filepath.Dir(filepath.Dir(root)), nil
	}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.Contains(d.Name(), "tfevents") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("list %s: %w", root, err)
	}
	if len(files) == 0 {
		return nil, "", &InputError{Path: root, Err: ErrNoEventFiles}
	}
	slices.Sort(files)
	return files, root, nil
}

// runName is the file's directory relative to base with forward slashes, as TensorBoard names runs.
func runName(base, file string) string {
	rel, err := filepath.Rel(base, filepath.Dir(file))
	if err != nil {
		return filepath.ToSlash(filepath.Dir(file))
	}
	return filepath.ToSlash(rel)
}
