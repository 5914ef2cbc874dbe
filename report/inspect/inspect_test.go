package inspect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tfsweep/tfsweep/summary"
)

// writeKnownRun writes one event file of every kind into dir/run and returns its path.
func writeKnownRun(t *testing.T, dir, run string) string {
	t.Helper()
	w, err := summary.NewWriter(filepath.Join(dir, filepath.FromSlash(run)))
	if err != nil {
		t.Fatal(err)
	}
	steps := []error{
		w.HParamsSessionStart(summary.SessionStart{HParams: map[string]any{"init": "xavier", "batch_size": 64.0, "batchnorm": true}}),
		w.Graph([]byte("0123456789")),
		w.KerasModel([]byte(`{"class_name": "Sequential"}`)),
		w.Scalar("epoch_loss", 0, 0.5),
		w.Scalar("epoch_loss", 1, 0.25),
		w.Scalar("epoch_accuracy", 0, 0.75),
		w.Histogram("dense/kernel/histogram", 0, []float64{-1, 0, 1, 2}),
		w.Text("notes", 0, "first line\nsecond line of a note that is much longer than the excerpt shown in the table"),
		w.HParamsSessionEnd(summary.StatusSuccess, time.Time{}),
		w.Close(),
	}
	for _, err := range steps {
		if err != nil {
			t.Fatal(err)
		}
	}
	return w.Path()
}

func dump(t *testing.T, root string, opts Options) (Result, string, string, error) {
	t.Helper()
	var out, notes bytes.Buffer
	opts.Notes = &notes
	res, err := Dump(context.Background(), root, &out, opts)
	return res, out.String(), notes.String(), err
}

func TestDumpText(t *testing.T) {
	dir := t.TempDir()
	file := writeKnownRun(t, dir, "xavier-bn-b64/train")
	res, out, notes, err := dump(t, dir, Options{})
	if err != nil || notes != "" {
		t.Fatalf("Dump: %v, notes %q", err, notes)
	}
	if res.Files != 1 || res.Rows != 10 {
		t.Errorf("Result %+v, want 1 file and 10 rows (file_version + 9 values)", res)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if lines[0] != "== "+file {
		t.Errorf("first line %q, want the file", lines[0])
	}
	header := lines[1]
	for _, col := range []string{"RUN", "STEP", "WALL TIME", "KIND", "TAG", "VALUE"} {
		if !strings.Contains(header, col) {
			t.Errorf("header %q lacks %s", header, col)
		}
	}
	// Columns are aligned: every row's kind starts where the header's KIND does.
	kindCol := strings.Index(header, "KIND")
	want := []struct{ kind, tag, value string }{
		{"file_version", "", "brain.Event:2"},
		{"hparams_session_start", "_hparams_/session_start_info", `batch_size=64 batchnorm=true init="xavier"`},
		{"graph", "", "GraphDef of 10 bytes"},
		{"keras_model", "keras", "Keras model JSON of 28 bytes"},
		{"scalar", "epoch_loss", "0.5"},
		{"scalar", "epoch_loss", "0.25"},
		{"scalar", "epoch_accuracy", "0.75"},
		{"histogram", "dense/kernel/histogram", "count 4, min -1, max 2, 30 buckets"},
		{"text", "notes", `"first line second line of a note that is much longer than th"…`},
		{"hparams_session_end", "_hparams_/session_end_info", "STATUS_SUCCESS"},
	}
	if len(lines) != 2+len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), 2+len(want), out)
	}
	for i, w := range want {
		line := lines[2+i]
		if !strings.HasPrefix(line, "xavier-bn-b64/train ") || !strings.HasPrefix(line[kindCol:], w.kind+" ") ||
			!strings.Contains(line, " "+w.tag+" ") || !strings.HasSuffix(line, w.value) {
			t.Errorf("row %d = %q, want run xavier-bn-b64/train, kind %s, tag %q, value %s", i, line, w.kind, w.tag, w.value)
		}
	}
	if !strings.Contains(lines[7], " 1 ") {
		t.Errorf("second epoch_loss row %q lacks step 1", lines[6])
	}
}

func TestDumpJSONLinesAndDocument(t *testing.T) {
	dir := t.TempDir()
	file := writeKnownRun(t, dir, "run/validation")

	_, out, _, err := dump(t, file, Options{Format: JSONLines, Tag: "epoch_*"})
	if err != nil {
		t.Fatal(err)
	}
	var rows []Row
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r Row
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		rows = append(rows, r)
	}
	if len(rows) != 3 {
		t.Fatalf("--tag epoch_* kept %d rows, want 3:\n%s", len(rows), out)
	}
	if r := rows[1]; r.Tag != "epoch_loss" || r.Step != 1 || r.Value != 0.25 || r.Kind != "scalar" ||
		r.Run != "validation" || r.File != file || r.WallTime < 1e9 {
		t.Errorf("row %+v", r)
	}

	_, out, _, err = dump(t, dir, Options{Format: JSON, Tag: "_hparams_/*"})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Files  []string
		Rows   []Row
		Notes  []Note
		Errors []string
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("JSON document: %v\n%s", err, out)
	}
	if len(doc.Files) != 1 || len(doc.Rows) != 2 || len(doc.Notes) != 0 || len(doc.Errors) != 0 {
		t.Fatalf("document %+v", doc)
	}
	start, _ := doc.Rows[0].Value.(map[string]any)
	hp, _ := start["hparams"].(map[string]any)
	if doc.Rows[0].Kind != "hparams_session_start" || hp["batch_size"] != 64.0 || hp["init"] != "xavier" || hp["batchnorm"] != true {
		t.Errorf("session start row %+v", doc.Rows[0])
	}
	if doc.Rows[1].Summary != "STATUS_SUCCESS" {
		t.Errorf("session end row %+v", doc.Rows[1])
	}
}

func TestDumpCorruptAndTruncated(t *testing.T) {
	dir := t.TempDir()
	good := writeKnownRun(t, dir, "a")
	corrupt := writeKnownRun(t, dir, "b")
	truncated := writeKnownRun(t, dir, "c")

	data, err := os.ReadFile(corrupt)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-20] ^= 0xff // inside the last record's payload
	if err := os.WriteFile(corrupt, data, 0o644); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(truncated)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(truncated, info.Size()-3); err != nil {
		t.Fatal(err)
	}

	for _, format := range []Format{Text, JSONLines, JSON} {
		res, out, notes, err := dump(t, dir, Options{Format: format})
		var corruptErr *summary.CorruptError
		if !errors.As(err, &corruptErr) || corruptErr.File != corrupt || corruptErr.Offset <= 0 {
			t.Fatalf("format %d: Dump error %v, want a corrupt record in %s with its offset", format, err, corrupt)
		}
		if !strings.Contains(err.Error(), corrupt) || !strings.Contains(err.Error(), "offset") {
			t.Errorf("error %q does not name the file and offset", err)
		}
		// Everything readable was still printed: all of a, b up to the bad record, c up to the cut.
		if res.Files != 3 || res.Rows != 10+9+9 {
			t.Errorf("format %d: Result %+v, want 3 files and 28 rows", format, res)
		}
		if len(res.Notes) != 1 || res.Notes[0].File != truncated {
			t.Errorf("format %d: notes %+v, want one for %s", format, res.Notes, truncated)
		}
		switch format {
		case JSON:
			if !strings.Contains(out, `"errors": [`) || !strings.Contains(out, "ends inside a record") || notes != "" {
				t.Errorf("JSON document lacks the error or note, or notes went to the notes writer: %q", notes)
			}
		default:
			if !strings.Contains(notes, "note: "+truncated) {
				t.Errorf("format %d: notes %q lack the truncated file", format, notes)
			}
		}
		if !strings.Contains(out, good) {
			t.Errorf("format %d: output does not mention %s", format, good)
		}
	}
}

func TestDumpBadInput(t *testing.T) {
	empty := t.TempDir()
	tests := []struct {
		name string
		path string
		tag  string
		want error
	}{
		{"missing path", filepath.Join(empty, "nope"), "", fs.ErrNotExist},
		{"no event files", empty, "", ErrNoEventFiles},
		{"bad pattern", empty, "[", path.ErrBadPattern},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, out, _, err := dump(t, tt.path, Options{Tag: tt.tag})
			var inErr *InputError
			if !errors.As(err, &inErr) || !errors.Is(err, tt.want) || out != "" {
				t.Errorf("Dump = %v (output %q), want an InputError wrapping %v", err, out, tt.want)
			}
		})
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"text": Text, "jsonl": JSONLines, "json": JSON} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseFormat("yaml"); err == nil || !strings.Contains(err.Error(), "yaml") {
		t.Errorf("ParseFormat(yaml) error %v", err)
	}
}
