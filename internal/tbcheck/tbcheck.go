// Package tbcheck lets tests ask a real TensorBoard what it serves for a logdir, through
// scripts/tb_check.py and the Python whose TensorBoard judges the project's logs ($TFSWEEP_PYTHON,
// which `make test` sets). A missing or broken Python fails the test: the check is never skipped.
package tbcheck

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// script is scripts/tb_check.py, found from this file's place in the repository.
func script(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("tbcheck: cannot locate scripts/tb_check.py")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "scripts", "tb_check.py")
}

// Python returns the Python that runs TensorBoard, after checking it can (both loaders).
func Python(t testing.TB) string {
	t.Helper()
	python := os.Getenv("TFSWEEP_PYTHON")
	if python == "" {
		t.Fatal("TFSWEEP_PYTHON is not set: run `make test`, or " +
			"`export TFSWEEP_PYTHON=$(scripts/setup-python.sh tensorboard | tail -1)` from the repository root")
	}
	if out, err := exec.Command(python, script(t), "--python-only-check").CombinedOutput(); err != nil {
		t.Fatalf("TFSWEEP_PYTHON=%s cannot run TensorBoard (%v):\n%s\nrun `make test` or `scripts/setup-python.sh tensorboard`", python, err, out)
	}
	return python
}

// Run asks TensorBoard, with both loaders, whether logdir serves what expectation says (see
// scripts/tb_check.py for its format), and fails the test with the mismatches if not.
func Run(t testing.TB, logdir string, expectation map[string]any) {
	t.Helper()
	python := Python(t)
	exp, err := json.MarshalIndent(expectation, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	expFile := filepath.Join(t.TempDir(), "expect.json")
	if err := os.WriteFile(expFile, exp, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, script(t), "--logdir", logdir, "--expect", expFile, "--load-fast", "both", "--timeout", "90")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("TensorBoard does not serve what was expected (%v):\n%s\nexpectation: %s", err, out, exp)
	}
}
