package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tfsweep/tfsweep/dataset"
	"github.com/tfsweep/tfsweep/spec"
)

func cmdOutput(t *testing.T, run func([]string, *bytes.Buffer, *bytes.Buffer) int, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// A finished sweep names its best run and links its model; `tfsweep evaluate` of that model gives
// the run's logged validation metrics, and `tfsweep predict` of the first 100 test images agrees
// with its accuracy.
func TestBestModelPredictAndEvaluate(t *testing.T) {
	t.Parallel()
	data := realData(t)
	logdir := t.TempDir()
	code, stdout, stderr := runCmd(t, "--data-dir", data, "--logdir", logdir, "--limit", "2000", "--epochs", "2",
		"--batchnorm", "off,on", "--log-every", "0", "--json")
	if code != spec.ExitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	res := decodeResult(t, stdout)
	if res.Best == nil {
		t.Fatalf("no best run in %s", stdout)
	}
	var best *struct{ ValLoss, ValAcc float64 }
	for _, r := range res.Runs {
		if r.Final.ValLoss < res.Best.ValLoss-1e-6 {
			t.Errorf("%s has val loss %v, below the best's %v", r.Name, r.Final.ValLoss, res.Best.ValLoss)
		}
		if r.Name == res.Best.Run {
			best = &struct{ ValLoss, ValAcc float64 }{r.Final.ValLoss, r.Final.ValAccuracy}
		}
	}
	if best == nil {
		t.Fatalf("best run %s is none of the runs", res.Best.Run)
	}
	link := filepath.Join(res.SweepDir, "best")
	if target, err := os.Readlink(link); err != nil || target != filepath.Join(res.Best.Run, "saved_model") {
		t.Errorf("%s -> %q, %v", link, target, err)
	}
	run := func(f func(ctxArgs []string, stdout, stderr *bytes.Buffer) int) func([]string, *bytes.Buffer, *bytes.Buffer) int {
		return f
	}
	evaluate := run(func(args []string, o, e *bytes.Buffer) int { return runEvaluate(t.Context(), args, o, e) })
	predict := run(func(args []string, o, e *bytes.Buffer) int { return runPredict(t.Context(), args, o, e) })

	code, out, errOut := cmdOutput(t, evaluate, "--model", link, "--data-dir", data, "--json")
	var ev struct {
		Examples       int
		Loss, Accuracy float64
	}
	if code != spec.ExitOK || json.Unmarshal([]byte(out), &ev) != nil {
		t.Fatalf("evaluate: exit %d %s\n%s", code, out, errOut)
	}
	if ev.Examples != 10000 || ev.Accuracy != best.ValAcc || math.Abs(ev.Loss-best.ValLoss) > 1e-4 {
		t.Errorf("evaluate: %+v; the run logged loss %v, accuracy %v", ev, best.ValLoss, best.ValAcc)
	}

	// The first 100 test images as an IDX file of their own.
	_, test, err := dataset.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	idx := filepath.Join(t.TempDir(), "first100-idx3-ubyte")
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, []uint32{0x803, 100, 28, 28})
	b.Write(test.Pixels[:100*784])
	if err := os.WriteFile(idx, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = cmdOutput(t, predict, "--model", link, idx, "--json")
	if code != spec.ExitOK {
		t.Fatalf("predict: exit %d\n%s", code, errOut)
	}
	correct, n := 0, 0
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		var p struct {
			Index int
			Class int64
		}
		if err := json.Unmarshal([]byte(line), &p); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if p.Class == int64(test.Labels[p.Index]) {
			correct++
		}
		n++
	}
	// 100 images: the binomial spread around the accuracy is about 0.03; 0.1 is over 3 of them.
	if n != 100 || math.Abs(float64(correct)/100-best.ValAcc) > 0.1 {
		t.Errorf("predict: %d of %d right, the run's accuracy %v", correct, n, best.ValAcc)
	}

	// Bad input exits 2 naming the path.
	dir := t.TempDir()
	wide := filepath.Join(dir, "wide.png")
	f, _ := os.Create(wide)
	png.Encode(f, image.NewGray(image.Rect(0, 0, 30, 28)))
	f.Close()
	labels, _ := filepath.Glob(filepath.Join(data, "t10k-labels*"))
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"not a SavedModel", []string{"--model", dir, idx}, dir + " is not a SavedModel"},
		{"an image of the wrong size", []string{"--model", link, wide}, wide + ": a 30×28 image"},
		{"an IDX file of labels", []string{"--model", link, labels[0]}, labels[0]},
		{"a missing file", []string{"--model", link, filepath.Join(dir, "none.png")}, "none.png is not a readable file"},
	} {
		if code, _, errOut := cmdOutput(t, predict, tc.args...); code != spec.ExitBadInput || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, %q; want 2 naming %q", tc.name, code, errOut, tc.want)
		}
	}
}
