package worker

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tfsweep/tfsweep/modelfile"
	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/summary"
)

// serve runs Serve on the jobs and returns every message it wrote.
func serve(t *testing.T, jobs ...spec.Job) []spec.Message {
	t.Helper()
	var in strings.Builder
	for _, j := range jobs {
		line, err := json.Marshal(j)
		if err != nil {
			t.Fatal(err)
		}
		in.Write(append(line, '\n'))
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Serve(context.Background(), strings.NewReader(in.String()), pw, io.Discard)
		pw.Close()
	}()
	var msgs []spec.Message
	scanMessages(t, pr, func(m spec.Message) bool { msgs = append(msgs, m); return true })
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	return msgs
}

// scanMessages reads Serve's messages from r and hands each to each, until r ends or each returns
// false.
func scanMessages(t *testing.T, r io.Reader, each func(spec.Message) bool) {
	t.Helper()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var m spec.Message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not a message: %q", sc.Text())
		}
		if !each(m) {
			return
		}
	}
}

func ends(msgs []spec.Message) map[string]*spec.End {
	out := map[string]*spec.End{}
	for _, m := range msgs {
		if m.Kind == spec.MessageEnd {
			out[m.Run] = m.End
		}
	}
	return out
}

// smallJob is a two-epoch run on 500 MNIST examples, on the CPU, into dir/run.
func smallJob(t *testing.T, dir, run string) spec.Job {
	t.Helper()
	data := os.Getenv("TFSWEEP_DATA_DIR")
	if data == "" {
		t.Fatal("TFSWEEP_DATA_DIR is not set: run `make test`")
	}
	v := spec.Defaults()
	v.Limit, v.Epochs = 500, 2
	return spec.Job{Run: run, Dir: filepath.Join(dir, run), Group: "s/" + run, Variant: spec.EncodeVariant(v), DataDir: data, Device: "cpu"}
}

// A worker trains the jobs it reads one after another and ends each with its outcome: a good run
// succeeds with its epochs, a run whose directory exists and a variant it cannot read fail, and the
// worker goes on after each.
func TestServe(t *testing.T) {
	dir := t.TempDir()
	good := smallJob(t, dir, "good")
	again := good
	again.Run = "again" // the same directory: it exists now
	bad := good
	bad.Run, bad.Dir = "bad", filepath.Join(dir, "bad")
	bad.Variant = map[string]string{"optimiser": "adam"}
	msgs := serve(t, good, again, bad)
	e := ends(msgs)
	if g := e["good"]; g == nil || g.Status != spec.StatusSucceeded || g.EpochsCompleted != 2 || len(g.History.ValLoss) != 2 || g.TrainExamples != 500 {
		t.Errorf("good run: %+v", g)
	}
	if a := e["again"]; a == nil || a.Status != spec.StatusFailed || !strings.Contains(a.Error, "run directory") {
		t.Errorf("a run into an existing directory: %+v", a)
	}
	if b := e["bad"]; b == nil || b.Status != spec.StatusFailed || !strings.Contains(b.Error, `unknown axis "optimiser"`) {
		t.Errorf("an unreadable variant: %+v", b)
	}
	kinds := map[string]int{}
	for _, m := range msgs {
		if m.Run == "good" {
			kinds[m.Kind]++
		}
	}
	if kinds[spec.MessageBegin] != 1 || kinds[spec.MessageEpoch] != 2 || kinds[spec.MessageEnd] != 1 {
		t.Errorf("messages of the good run: %v", kinds)
	}
}

// A run killed after its last epoch's checkpoint (here: its end message and export lost) resumes to
// its end without training again, with its history and model.
func TestResumeAfterTheLastCheckpoint(t *testing.T) {
	dir := t.TempDir()
	job := smallJob(t, dir, "r")
	first := ends(serve(t, job))["r"]
	if first == nil || first.Status != spec.StatusSucceeded {
		t.Fatalf("first attempt: %+v", first)
	}
	if err := os.RemoveAll(filepath.Join(dir, "r", spec.SavedModelDir)); err != nil {
		t.Fatal(err)
	}
	job.Resume = true
	msgs := serve(t, job)
	again := ends(msgs)["r"]
	if again == nil || again.Status != spec.StatusSucceeded || again.EpochsCompleted != 2 || !reflect.DeepEqual(again.History, first.History) {
		t.Fatalf("resumed after the last checkpoint: %+v; first %+v", again, first)
	}
	for _, m := range msgs {
		if m.Kind == spec.MessageEpoch {
			t.Errorf("the resumed run trained epoch %d again", m.Epoch.Epoch)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "r", spec.SavedModelDir, "saved_model.pb")); err != nil {
		t.Errorf("no model exported: %v", err)
	}
}

// A run with --scale standardize trains on inputs standardised with its training split's mean and
// deviation, and its export applies them itself: on the raw test images (as uint8 through the
// serving_uint8 signature) the exported model scores what the run's last validation on the
// standardised test set scored. An export that left the standardisation out scores otherwise.
func TestStandardizedRunExportsItsStandardisation(t *testing.T) {
	dir := t.TempDir()
	job := smallJob(t, dir, "r")
	v := spec.Defaults()
	v.Limit, v.Epochs, v.Scale = 500, 2, spec.ScaleStandardize
	job.Variant = spec.EncodeVariant(v)
	end := ends(serve(t, job))["r"]
	if end == nil || end.Status != spec.StatusSucceeded {
		t.Fatalf("run: %+v", end)
	}
	e, err := Evaluate(filepath.Join(job.Dir, spec.SavedModelDir), DataSplit{Source: "idx:" + job.DataDir})
	if err != nil {
		t.Fatal(err)
	}
	valLoss, valAccuracy := end.History.ValLoss[1], end.History.ValAccuracy[1]
	t.Logf("validation: loss %.6f, accuracy %.4f; the export on the raw test images: loss %.6f, accuracy %.4f", valLoss, valAccuracy, e.Loss, e.Accuracy)
	if e.Accuracy != valAccuracy || math.Abs(e.Loss-valLoss) > 1e-4 {
		t.Errorf("the export scores loss %v, accuracy %v; the run validated at loss %v, accuracy %v", e.Loss, e.Accuracy, valLoss, valAccuracy)
	}
}

// A model file's weight histograms are tagged as Keras' TensorBoard callback tags the model's, by
// each weight's path: under a Sequential model's own name, with no prefix for a Functional model;
// the built-in MLP's under "sequential", as the lab report's Keras model.
func TestHistogramTagsFollowTheModel(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		file, wantTag string // "" file: the built-in MLP
	}{
		{"", "sequential/dense/kernel/histogram"},
		{"convnet.yaml", "convnet/conv2d/kernel/histogram"},
		{"residual.yaml", "stem/kernel/histogram"},
	}
	for _, tt := range tests {
		name := strings.TrimSuffix(tt.file, ".yaml")
		if name == "" {
			name = "mlp"
		}
		job := smallJob(t, dir, name)
		v := spec.Defaults()
		v.Limit, v.Epochs = 500, 1
		if tt.file != "" {
			net, err := modelfile.Read(filepath.Join("..", "modelfile", "testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			v.Model = spec.Model{Name: net.Name, File: tt.file, Network: &net}
			job.Network = &net
		}
		job.Variant = spec.EncodeVariant(v)
		if end := ends(serve(t, job))[name]; end == nil || end.Status != spec.StatusSucceeded {
			t.Fatalf("%s: %+v", name, end)
		}
		tags := histogramTags(t, filepath.Join(job.Dir, spec.TrainDir))
		if !slices.Contains(tags, tt.wantTag) {
			t.Errorf("%s: histograms %q, want %q among them", name, tags, tt.wantTag)
		}
	}
}

// histogramTags are the tags of the histograms in the event files of dir.
func histogramTags(t *testing.T, dir string) []string {
	t.Helper()
	files, err := summary.EventFiles(dir)
	if err != nil || len(files) == 0 {
		t.Fatalf("no event file in %s (%v)", dir, err)
	}
	var tags []string
	for _, f := range files {
		events, err := summary.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			for _, v := range e.Values {
				if v.Plugin == "histograms" && !slices.Contains(tags, v.Tag) {
					tags = append(tags, v.Tag)
				}
			}
		}
	}
	return tags
}
