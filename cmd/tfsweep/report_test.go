package main

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
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
	if code != spec.ExitOK || !strings.Contains(stdout, "usage: tfsweep report [--out DIR|-] SWEEP_DIR") || !strings.Contains(stdout, "--out DIR") {
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

// reportedSweep is a tiny sweep whose run has a model, reported once: its best link is in place.
func reportedSweep(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "sweep")
	writeTinySweep(t, dir)
	model := filepath.Join(dir, "xavier-nobn-b64", "saved_model")
	if err := os.MkdirAll(model, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(model, "saved_model.pb"), []byte("model"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := reportCmd(t, dir); code != spec.ExitOK {
		t.Fatalf("first report: exit %d, stderr:\n%s", code, stderr)
	}
	if target, err := os.Readlink(filepath.Join(dir, "best")); err != nil || target != filepath.Join("xavier-nobn-b64", "saved_model") {
		t.Fatalf("best links to %q (%v)", target, err)
	}
	return dir
}

// copySweep copies dir as `cp -rL` does (links followed: best becomes a copy of the model).
func copySweep(t *testing.T, dir string) string {
	t.Helper()
	to := filepath.Join(t.TempDir(), "copy")
	if out, err := exec.Command("cp", "-rL", dir, to).CombinedOutput(); err != nil {
		t.Fatalf("cp -rL: %v\n%s", err, out)
	}
	return to
}

// A copied sweep reports again: a best that became a directory is left as it is (it may be the
// only copy of a model) and the report says so; a missing best is linked again.
func TestReportOnCopiedSweep(t *testing.T) {
	for _, tt := range []struct {
		name    string
		prepare func(t *testing.T, copy string)
		want    string
		isLink  bool
	}{
		{"best became a directory", func(*testing.T, string) {}, "as it is: a directory, not a link", false},
		{"best missing", func(t *testing.T, copy string) {
			if err := os.RemoveAll(filepath.Join(copy, "best")); err != nil {
				t.Fatal(err)
			}
		}, "linked " + "%s/best to xavier-nobn-b64/saved_model", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			copy := copySweep(t, reportedSweep(t))
			tt.prepare(t, copy)
			code, stdout, stderr := reportCmd(t, copy)
			if code != spec.ExitOK {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
			want := tt.want
			if strings.Contains(want, "%s") {
				want = fmt.Sprintf(want, copy)
			}
			if !strings.Contains(stdout, want) {
				t.Errorf("stdout lacks %q:\n%s", want, stdout)
			}
			info, err := os.Lstat(filepath.Join(copy, "best"))
			if err != nil {
				t.Fatal(err)
			}
			if isLink := info.Mode()&os.ModeSymlink != 0; isLink != tt.isLink {
				t.Errorf("best is a link: %v, want %v", isLink, tt.isLink)
			}
			if got, err := os.ReadFile(filepath.Join(copy, "best", "saved_model.pb")); err != nil || string(got) != "model" {
				t.Errorf("best/saved_model.pb holds %q (%v)", got, err)
			}
		})
	}
}

// A read-only copy of a sweep (here one another user may not write, as a read-only mount or a
// download would be) is left exactly as it was: report.md goes to stdout with a note on stderr;
// --out writes the whole report, with a best link to the copy's model, elsewhere.
func TestReportOnReadOnlySweep(t *testing.T) {
	copy := copySweep(t, reportedSweep(t))
	for _, d := range []string{filepath.Dir(copy), filepath.Dir(filepath.Dir(copy)), binDir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	before := listTree(t, copy)
	cmd := exec.Command(filepath.Join(binDir, "tfsweep"), "report", copy)
	if os.Getuid() == 0 {
		// root writes anywhere: the report runs as nobody, for whom the copy is read-only.
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	} else {
		chmodTree(t, copy, 0o555, 0o444)
		t.Cleanup(func() { chmodTree(t, copy, 0o755, 0o644) })
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("tfsweep report on a read-only copy: %v, stderr:\n%s", err, stderr.String())
	}
	if !strings.HasPrefix(stdout.String(), "# tfsweep report: "+copy) || !strings.Contains(stdout.String(), "xavier-nobn-b64") {
		t.Errorf("stdout is not report.md:\n%s", stdout.String())
	}
	if !strings.Contains(stderr.String(), copy+" cannot be written") || !strings.Contains(stderr.String(), "--out DIR") {
		t.Errorf("stderr does not say why and what to do:\n%s", stderr.String())
	}
	if after := listTree(t, copy); !slices.Equal(after, before) {
		t.Errorf("the read-only copy changed:\n%v\nwas\n%v", after, before)
	}

	out := filepath.Join(t.TempDir(), "elsewhere")
	code, stdoutOut, stderrOut := reportCmd(t, "--out", out, copy)
	if code != spec.ExitOK {
		t.Fatalf("--out: exit %d, stderr:\n%s", code, stderrOut)
	}
	for _, name := range []string{"report.md", "report.csv", "report.json", "figures/figure-01-xavier-b64-train-loss.png", "best/saved_model.pb"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("--out: %s: %v", name, err)
		}
	}
	if !strings.Contains(stdoutOut, "wrote "+filepath.Join(out, "report.md")) {
		t.Errorf("--out: stdout does not name %s:\n%s", out, stdoutOut)
	}
}

// listTree lists every path under dir with its mode and size.
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var list []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		list = append(list, fmt.Sprintf("%s %v %d", path, info.Mode(), info.Size()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func chmodTree(t *testing.T, dir string, dirMode, fileMode fs.FileMode) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.Chmod(path, dirMode)
		}
		return os.Chmod(path, fileMode)
	})
	if err != nil {
		t.Fatal(err)
	}
}
