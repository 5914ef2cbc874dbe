package inspect

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/tfsweep/tfsweep/summary"
)

func TestDumpPRCurve(t *testing.T) {
	dir := t.TempDir()
	w, err := summary.NewWriter(filepath.Join(dir, "pictures"))
	if err != nil {
		t.Fatal(err)
	}
	// Buckets floor(p*2): positives in 0, 1 and 2; negatives in 0 and 1. At threshold 0.5 (bucket
	// 1 and up): 2 true and 1 false positives of 3 positives.
	c, err := summary.NewPRCurve([]bool{true, false, true, false, true}, []float32{0.1, 0.4, 0.5, 0.9, 1}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.PRCurve("pr_curves/cat", 2, c); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, out, _, err := dump(t, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := "PR curve of 3 thresholds over 5 examples (3 positive); at 0.5: precision 0.6666667, recall 0.6666667"
	if !strings.Contains(out, "pr_curve") || !strings.Contains(out, "pr_curves/cat") || !strings.Contains(out, want) {
		t.Errorf("dump:\n%s\nwant a pr_curve row %q", out, want)
	}
}
