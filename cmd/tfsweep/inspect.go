package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/tfsweep/tfsweep/report/inspect"
	"github.com/tfsweep/tfsweep/spec"
)

const inspectUsage = `usage: tfsweep inspect PATH [flags]

Dumps the events of the TensorBoard event file PATH, or of every event file under the directory PATH:
run, step, wall time, kind, tag and value (scalar value, histogram min/max/count, text excerpt,
hparams, graph size). Corrupt records are reported with their file and byte offset; a truncated last
record (a writer still writing) is only noted.

Exit status: 0 read cleanly, 1 a corrupt record or read failure, 2 PATH does not exist or holds no
event files, or bad flags.
`

// runInspect is `tfsweep inspect`: flags and exit codes only; report/inspect does the work.
func runInspect(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCLI("inspect", inspectUsage)
	fs := c.fs
	var (
		opts    inspect.Options
		jsonOut bool
		format  string
	)
	fs.StringVar(&opts.Tag, "tag", "", "only values whose tag matches this `pattern` (path.Match: epoch_*, */histogram)")
	fs.BoolVar(&jsonOut, "json", false, "JSON lines, one object per value (the same as --format jsonl)")
	fs.StringVar(&format, "format", "text", "output: text (aligned columns), jsonl (a JSON object per line), json (one document)")
	pos, code, ok := c.parse(args, stdout, stderr)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "tfsweep inspect: want exactly one file or directory (see tfsweep inspect -h)")
		return spec.ExitBadInput
	}
	var err error
	if opts.Format, err = inspect.ParseFormat(format); err != nil {
		fmt.Fprintf(stderr, "tfsweep inspect: %v\n", err)
		return spec.ExitBadInput
	}
	if jsonOut {
		if format != "text" && opts.Format != inspect.JSONLines {
			fmt.Fprintln(stderr, "tfsweep inspect: --json and --format disagree: use one")
			return spec.ExitBadInput
		}
		opts.Format = inspect.JSONLines
	}
	opts.Notes = stderr
	if _, err := inspect.Dump(ctx, pos[0], stdout, opts); err != nil {
		fmt.Fprintf(stderr, "tfsweep inspect: %v\n", err)
		var inErr *inspect.InputError
		if errors.As(err, &inErr) {
			return spec.ExitBadInput
		}
		return spec.ExitRunFailed
	}
	return spec.ExitOK
}
