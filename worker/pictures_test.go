package worker

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/tfsweep/tfsweep/dataset"
	"github.com/tfsweep/tfsweep/internal/tbcheck"
	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/trainer"
)

// A run with pictures leaves them in <run>/pictures as TensorBoard's loaders read them: the
// training inputs at step 0, a confusion matrix, a misclassified grid and a PR curve per digit
// after every epoch, the last epoch's curves equal to those numpy computes from the exported
// model's predictions. Resumed from an earlier checkpoint, after its killed attempt logged later
// epochs' pictures, the run has each picture step once.
func TestPictures(t *testing.T) {
	tbcheck.Python(t)
	const epochs = 3
	dir := t.TempDir()
	job := smallJob(t, dir, "r")
	v := spec.Defaults()
	v.Limit, v.Epochs = 500, epochs
	job.Variant, job.PicturesEvery, job.KeepCheckpoints = spec.EncodeVariant(v), 1, epochs
	first := ends(serve(t, job))["r"]
	if first == nil || first.Status != spec.StatusSucceeded {
		t.Fatalf("first attempt: %+v", first)
	}
	checkPictures(t, dir, job, epochs)

	// The attempt "was killed" after its last epoch's pictures, before that epoch's checkpoint.
	last := prefix(filepath.Join(job.Dir, spec.CheckpointsDir), epochs-1)
	for _, suffix := range []string{spec.CheckpointIndexSuffix, spec.CheckpointDataSuffix, spec.CheckpointStateSuffix} {
		if err := os.Remove(last + suffix); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.RemoveAll(filepath.Join(job.Dir, spec.SavedModelDir)); err != nil {
		t.Fatal(err)
	}
	job.Resume = true
	msgs := serve(t, job)
	if again := ends(msgs)["r"]; again == nil || again.Status != spec.StatusSucceeded || again.EpochsCompleted != epochs {
		t.Fatalf("resumed: %+v", again)
	}
	trained := 0
	for _, m := range msgs {
		if m.Kind == spec.MessageEpoch {
			trained++
		}
	}
	if trained != 1 {
		t.Fatalf("the resumed run trained %d epochs, want the last one again", trained)
	}
	checkPictures(t, dir, job, epochs)
}

// checkPictures asks TensorBoard for the run's pictures: each tag at the steps it must have, once
// each, and the last step's PR curves as numpy computes them from the exported model's answers.
func checkPictures(t *testing.T, logdir string, job spec.Job, epochs int) {
	t.Helper()
	run := filepath.Join(filepath.Base(job.Dir), spec.PicturesDir)
	_, test, err := dataset.Load(job.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	predictions, err := Predict(filepath.Join(job.Dir, spec.SavedModelDir), []string{filepath.Join(job.DataDir, "t10k-images-idx3-ubyte.gz")})
	if err != nil {
		t.Fatal(err)
	}
	if len(predictions) != test.Len() {
		t.Fatalf("%d predictions of %d test images", len(predictions), test.Len())
	}
	var steps []int
	for e := range epochs {
		steps = append(steps, e)
	}
	images := []map[string]any{
		{"run": run, "tag": trainer.TagTrainInputs, "step": 0, "steps": []int{0}, "samples": 10, "width": 28, "height": 28},
		{"run": run, "tag": trainer.TagTrainInputs, "step": 0, "sample": 9, "steps": []int{0}, "width": 28, "height": 28},
		{"run": run, "tag": trainer.TagConfusionMatrix, "step": epochs - 1, "steps": steps, "samples": 1},
		{"run": run, "tag": trainer.TagMisclassified, "step": epochs - 1, "steps": steps, "samples": 1},
	}
	var curves []map[string]any
	var prTags []string
	for k, name := range classNames(&dataset.Data{Classes: 10}) {
		positive, column := make([]bool, test.Len()), make([]float32, test.Len())
		for j, l := range test.Labels {
			positive[j], column[j] = int(l) == k, predictions[j].Probabilities[k]
		}
		tag := trainer.TagPRCurvePrefix + name
		prTags = append(prTags, tag)
		curves = append(curves, map[string]any{"run": run, "tag": tag, "step": epochs - 1, "steps": steps,
			"labels": positive, "predictions": column})
	}
	if name := classNames(&dataset.Data{Classes: 10})[7]; name != strconv.Itoa(7) {
		t.Fatalf("class 7 is named %q", name)
	}
	tbcheck.Run(t, logdir, map[string]any{
		"runs_subset":     true,
		"runs":            []string{run},
		"plugins_enabled": []string{"images", "pr_curves"},
		"tags": map[string]any{
			"images":    map[string][]string{run: {trainer.TagTrainInputs, trainer.TagConfusionMatrix, trainer.TagMisclassified}},
			"pr_curves": map[string][]string{run: prTags},
		},
		"images":    images,
		"pr_curves": curves,
	})
}

// Pictures span the range of values a set can hold, normalised as the run normalises them: a pixel's
// 0 to 255, or the set's own numbers; standardised, the widest of its channels'.
func TestDrawRange(t *testing.T) {
	bytes := &dataset.Set{Shape: []int{1, 1, 2}, Bytes: []byte{10, 20}, Labels: []int32{0}}
	floats := &dataset.Set{Shape: []int{2}, Floats: []float32{-3, 5}, Labels: []int32{0}}
	standard := dataset.Normalizer{Divisor: 1, Mean: []float32{100, 200}, Std: []float32{50, 10}}
	for _, tc := range []struct {
		name   string
		set    *dataset.Set
		norm   dataset.Normalizer
		lo, hi float32
	}{
		{"unit pixels", bytes, dataset.Normalizer{Divisor: 255}, 0, 1},
		{"raw pixels", bytes, dataset.Normalizer{Divisor: 1}, 0, 255},
		{"numbers", floats, dataset.Normalizer{Divisor: 2}, -1.5, 2.5},
		{"standardised pixels", bytes, standard, (0 - 200) / 10.0, (255 - 200) / 10.0},
		{"standardised numbers", floats, standard, (-3 - 200) / 10.0, (5 - 100) / 50.0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &pictureSource{norm: tc.norm}
			if lo, hi := s.drawRange(tc.set); lo != tc.lo || hi != tc.hi {
				t.Errorf("[%v, %v], want [%v, %v]", lo, hi, tc.lo, tc.hi)
			}
		})
	}
}
