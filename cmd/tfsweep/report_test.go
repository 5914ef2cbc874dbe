package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/summary"
)

func reportCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runReport(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestReportBadInput(t *testing.T) {
	tmp := t.TempDir()
	aFile := filepath.Join(tmp, "file")
	if err := os.WriteFile(aFile, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(tmp, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	missingDir := filepath.Join(tmp, "no-such-sweep")
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no argument", nil, "exactly one sweep directory"},
		{"two arguments", []string{empty, empty}, "exactly one sweep directory"},
		{"missing directory", []string{missingDir}, missingDir},
		{"a file", []string{aFile}, aFile + ": is not a directory"},
		{"no runs", []string{empty}, empty + ": holds no runs"},
		{"unknown flag", []string{"--nope", empty}, "unknown flag --nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := reportCmd(t, tt.args...)
			if code != spec.ExitBadInput {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, spec.ExitBadInput, stderr)
			}
			if !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("stderr %q lacks %q", stderr, tt.wantErr)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
		})
	}
}

func TestReportHelp(t *testing.T) {
	code, stdout, _ := reportCmd(t, "-h")
	if code != spec.ExitOK || !strings.Contains(stdout, "usage: tfsweep report DIR") {
		t.Errorf("exit %d, stdout %q", code, stdout)
	}
}

// writeTinySweep writes a sweep of one lab-report variant the way tfsweep run logs it.
func writeTinySweep(t *testing.T, dir string) {
	t.Helper()
	run := filepath.Join(dir, "xavier-nobn-b64")
	session, err := summary.NewWriter(run)
	if err != nil {
		t.Fatal(err)
	}
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	v := spec.Defaults()
	v.BatchSize = 64
	check(session.HParamsSessionStart(summary.SessionStart{HParams: v.HParams()}))
	check(session.HParamsSessionEnd(summary.StatusSuccess, time.Time{}))
	check(session.Close())
	for sub, loss := range map[string]float64{"train": 0.375, "validation": 0.25} {
		w, err := summary.NewWriter(filepath.Join(run, sub))
		check(err)
		check(w.Scalar("epoch_loss", 0, 2*loss))
		check(w.Scalar("epoch_loss", 1, loss))
		check(w.Close())
	}
}

func TestReportWritesFiles(t *testing.T) {
	dir := t.TempDir()
	writeTinySweep(t, dir)
	code, stdout, stderr := reportCmd(t, dir)
	if code != spec.ExitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	for _, want := range []string{"xavier-nobn-b64", "0.3750", "0.2500", "0.3706", "0.3415", "report.md (with report.csv and report.json) and 6 figures under " + filepath.Join(dir, "figures")} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	for _, name := range []string{"report.md", "report.csv", "report.json", "figures/figure-01-xavier-b64-train-loss.png"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestReportReadFailure(t *testing.T) {
	dir := t.TempDir()
	writeTinySweep(t, dir)
	files, _ := filepath.Glob(filepath.Join(dir, "xavier-nobn-b64", "train", "*tfevents*"))
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-6] ^= 0xff
	if err := os.WriteFile(files[0], data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := reportCmd(t, dir)
	if code != spec.ExitRunFailed || !strings.Contains(stderr, files[0]) || !strings.Contains(stderr, "offset") {
		t.Errorf("exit %d, stderr %q; want 1 naming %s and the offset", code, stderr, files[0])
	}
}

// A report that cannot be written (here report.md is a directory, as a full disk would fail the
// write) exits 1 and names the file: it used to be reported and exit 0.
func TestReportWriteFailure(t *testing.T) {
	dir := t.TempDir()
	writeTinySweep(t, dir)
	if err := os.Mkdir(filepath.Join(dir, "report.md"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.md", "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := reportCmd(t, dir)
	if code != spec.ExitRunFailed || !strings.Contains(stderr, filepath.Join(dir, "report.md")) {
		t.Errorf("exit %d, stderr %q; want 1 naming report.md", code, stderr)
	}
}
