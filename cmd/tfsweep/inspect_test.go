package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tfsweep/tfsweep/spec"
)

func inspectCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runInspect(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestInspectExitCodes(t *testing.T) {
	sweep := t.TempDir()
	writeTinySweep(t, sweep)
	corrupt := t.TempDir()
	writeTinySweep(t, corrupt)
	files, _ := filepath.Glob(filepath.Join(corrupt, "xavier-nobn-b64", "validation", "*tfevents*"))
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-6] ^= 0xff
	if err := os.WriteFile(files[0], data, 0o644); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	missing := filepath.Join(empty, "nope")
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     string // a substring; "" checks nothing
		stderr     string
		stdoutNone bool
	}{
		{"sweep", []string{sweep}, spec.ExitOK, "xavier-nobn-b64/validation", "", false},
		{"tag filter", []string{"--tag", "epoch_loss", sweep}, spec.ExitOK, "epoch_loss", "", false},
		{"missing path", []string{missing}, spec.ExitBadInput, "", missing, true},
		{"no event files", []string{empty}, spec.ExitBadInput, "", empty + ": no event files", true},
		{"no argument", nil, spec.ExitBadInput, "", "exactly one file or directory", true},
		{"bad format", []string{"--format", "xml", sweep}, spec.ExitBadInput, "", `"xml"`, true},
		{"bad tag pattern", []string{"--tag", "[", sweep}, spec.ExitBadInput, "", "--tag [", true},
		{"corrupt", []string{corrupt}, spec.ExitRunFailed, "xavier-nobn-b64/train", files[0] + ": corrupt record at offset", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := inspectCmd(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.code, stderr)
			}
			if !strings.Contains(stdout, tt.stdout) || (tt.stdoutNone && stdout != "") {
				t.Errorf("stdout %q, want %q", stdout, tt.stdout)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr %q lacks %q", stderr, tt.stderr)
			}
		})
	}
}

func TestInspectJSON(t *testing.T) {
	sweep := t.TempDir()
	writeTinySweep(t, sweep)
	code, stdout, stderr := inspectCmd(t, "--json", "--tag", "epoch_loss", sweep)
	if code != spec.ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d JSON lines, want 4 (two epochs × train, validation):\n%s", len(lines), stdout)
	}
	var row struct {
		Run   string
		Tag   string
		Step  int64
		Value float64
	}
	if err := json.Unmarshal([]byte(lines[1]), &row); err != nil {
		t.Fatal(err)
	}
	if row.Run != "xavier-nobn-b64/train" || row.Tag != "epoch_loss" || row.Step != 1 || row.Value != 0.375 {
		t.Errorf("second line %+v", row)
	}
	// Flags after the path, as the README writes it, give the same lines.
	code, after, stderr := inspectCmd(t, sweep, "--tag", "epoch_loss", "--json")
	if code != spec.ExitOK || after != stdout {
		t.Errorf("flags after the path: exit %d, stderr %s, output differs:\n%s", code, stderr, after)
	}
	code, stdout, _ = inspectCmd(t, "--format", "json", sweep)
	var doc map[string]any
	if code != spec.ExitOK || json.Unmarshal([]byte(stdout), &doc) != nil || len(doc["files"].([]any)) != 3 {
		t.Errorf("--format json: exit %d, document %v", code, doc)
	}
}
