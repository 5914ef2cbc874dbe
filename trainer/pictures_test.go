package trainer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tfsweep/tfsweep/internal/tbcheck"
	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/summary"
)

var pictureClasses = []string{"cat", "dog", "bird"}

// fakePictures is a model side whose validation answers change at every call: 30 examples of
// 6x5 RGB images with raw 0–255 pixels, probabilities drawn at random (some rows certain), and the
// answers it gave, kept for the expectations.
type fakePictures struct {
	rng      *rand.Rand
	val      LabeledImages
	answered [][]float32
	drawn    [][]int // the validation examples asked for, per call
}

func newFakePictures() *fakePictures {
	f := &fakePictures{rng: rand.New(rand.NewPCG(7, 24))}
	f.val = f.examples(30)
	return f
}

func (f *fakePictures) examples(n int) LabeledImages {
	ex := LabeledImages{Height: 6, Width: 5, Channels: 3, Lo: 0, Hi: 255}
	for j := 0; j < n; j++ {
		for k := 0; k < 6*5*3; k++ {
			ex.Pixels = append(ex.Pixels, float32((j*31+k*7)%256))
		}
		ex.Labels = append(ex.Labels, j%len(pictureClasses))
	}
	return ex
}

func (f *fakePictures) ValidationPredictions() ([]float32, []int, error) {
	probs := make([]float32, 0, len(f.val.Labels)*len(pictureClasses))
	for j := range f.val.Labels {
		row := []float32{f.rng.Float32(), f.rng.Float32(), f.rng.Float32()}
		if j%4 == 0 {
			row = []float32{0, 0, 0}
			row[f.rng.IntN(3)] = 1
		}
		sum := row[0] + row[1] + row[2]
		for k := range row {
			row[k] = min(1, row[k]/sum)
		}
		probs = append(probs, row...)
	}
	f.answered = append(f.answered, probs)
	return probs, f.val.Labels, nil
}

func (f *fakePictures) ValidationExamples(indices []int) (LabeledImages, error) {
	f.drawn = append(f.drawn, slices.Clone(indices))
	return pick(f.val, indices), nil
}

// pick is the examples of ex at indices, in that order.
func pick(ex LabeledImages, indices []int) LabeledImages {
	out := ex
	out.Pixels, out.Labels = nil, nil
	size := ex.Height * ex.Width * ex.Channels
	for _, j := range indices {
		out.Pixels = append(out.Pixels, ex.Pixels[j*size:(j+1)*size]...)
		out.Labels = append(out.Labels, ex.Labels[j])
	}
	return out
}

func (f *fakePictures) TrainingSamples(n int) (LabeledImages, error) {
	return f.examples(min(n, 4)), nil
}

func pixelsDigest(img image.Image) string {
	h := sha256.New()
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			h.Write([]byte{c.R, c.G, c.B, c.A})
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// runPictures trains 3 epochs with the Pictures callback writing every 2 epochs, so after epochs
// 1 and 2 (the last), into logdir/pictures.
func runPictures(t *testing.T, logdir string) *fakePictures {
	t.Helper()
	src := newFakePictures()
	p, err := NewPictures(filepath.Join(logdir, "pictures"), PicturesOptions{Source: src, Classes: pictureClasses, Every: 2, Thresholds: 11})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Fit(context.Background(), &fakeModel{}, tenExamples(), FitOptions{Epochs: 3, BatchSize: 4}, p); err != nil {
		t.Fatal(err)
	}
	if len(src.answered) != 2 {
		t.Fatalf("the source was asked for predictions %d times, want 2 (epochs 1 and 2)", len(src.answered))
	}
	return src
}

func TestPicturesWritesWhatTheModelAnswered(t *testing.T) {
	logdir := t.TempDir()
	src := runPictures(t, logdir)
	files, err := summary.EventFiles(filepath.Join(logdir, "pictures"))
	if err != nil || len(files) != 1 {
		t.Fatalf("event files %v, %v", files, err)
	}
	events, err := summary.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	steps := map[string][]int64{}
	for _, ev := range events {
		for _, v := range ev.Values {
			steps[v.Tag] = append(steps[v.Tag], ev.Step)
			switch {
			case v.Tag == TagTrainInputs:
				checkInputs(t, v, src.examples(4))
			case strings.HasPrefix(v.Tag, TagPRCurvePrefix):
				k := slices.Index(pictureClasses, strings.TrimPrefix(v.Tag, TagPRCurvePrefix))
				want, err := summary.ClassPRCurves(src.answered[ev.Step-1], src.val.Labels, len(pictureClasses), 11)
				if err != nil || k < 0 {
					t.Fatal(k, err)
				}
				if fmt.Sprint(v.PRCurve.TruePositives, v.PRCurve.FalsePositives) != fmt.Sprint(want[k].TruePositives, want[k].FalsePositives) {
					t.Errorf("%s step %d: %v, want %v", v.Tag, ev.Step, *v.PRCurve, want[k])
				}
			}
		}
	}
	wantSteps := map[string][]int64{TagTrainInputs: {0}, TagConfusionMatrix: {1, 2}, TagMisclassified: {1, 2}}
	for _, c := range pictureClasses {
		wantSteps[TagPRCurvePrefix+c] = []int64{1, 2}
	}
	if fmt.Sprint(steps) != fmt.Sprint(wantSteps) {
		t.Errorf("tags and steps %v, want %v", steps, wantSteps)
	}
}

// TestPicturesDrawsTheMostConfidentMistakes checks the grid asks for the wrong answers only, the
// most confident first and the earlier example first among equals, at most Misclassified of them.
func TestPicturesDrawsTheMostConfidentMistakes(t *testing.T) {
	src := runPictures(t, t.TempDir())
	if len(src.drawn) != len(src.answered) {
		t.Fatalf("examples drawn %d times for %d answers", len(src.drawn), len(src.answered))
	}
	for call, probs := range src.answered {
		type mistake struct {
			j          int
			confidence float32
		}
		var wrong []mistake
		for j, l := range src.val.Labels {
			if k := argmax(probs[3*j : 3*j+3]); k != l {
				wrong = append(wrong, mistake{j, probs[3*j+k]})
			}
		}
		// Insertion order kept among equals: a stable sort by falling confidence, written out.
		for i := 1; i < len(wrong); i++ {
			for k := i; k > 0 && wrong[k].confidence > wrong[k-1].confidence; k-- {
				wrong[k], wrong[k-1] = wrong[k-1], wrong[k]
			}
		}
		var want []int
		for _, w := range wrong[:min(len(wrong), 25)] {
			want = append(want, w.j)
		}
		if len(want) == 0 {
			t.Fatalf("call %d: the fake answered everything right; the test needs mistakes", call)
		}
		if !slices.Equal(src.drawn[call], want) {
			t.Errorf("call %d: drew examples %v, want %v", call, src.drawn[call], want)
		}
	}
}

// checkInputs checks the training inputs are the samples as tf.summary.image shows them, 0–255
// pixels drawn as they are.
func checkInputs(t *testing.T, v summary.Value, ex LabeledImages) {
	t.Helper()
	if len(v.Images) != 4 || v.ImageWidth != 5 || v.ImageHeight != 6 {
		t.Fatalf("train inputs: %d images of %dx%d, want 4 of 5x6", len(v.Images), v.ImageWidth, v.ImageHeight)
	}
	for j, b := range v.Images {
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		c := color.NRGBAModel.Convert(img.At(2, 3)).(color.NRGBA)
		at := 3*(3*5+2) + j*6*5*3
		if want := [3]uint8{uint8(ex.Pixels[at]), uint8(ex.Pixels[at+1]), uint8(ex.Pixels[at+2])}; [3]uint8{c.R, c.G, c.B} != want {
			t.Errorf("input %d at (2, 3): %v, want %v", j, c, want)
		}
	}
}

// TestPicturesTensorBoard has TensorBoard judge the callback's run: the images plugin lists the
// inputs, the confusion matrices and the grids with the pixels drawn, and the pr_curves plugin's
// curves equal numpy's from the answers the model gave.
func TestPicturesTensorBoard(t *testing.T) {
	tbcheck.Python(t)
	logdir := t.TempDir()
	src := runPictures(t, logdir)
	const run = "pictures"
	var images, curves []map[string]any
	inputs, err := src.examples(4).images(len(pictureClasses))
	if err != nil {
		t.Fatal(err)
	}
	for i, img := range inputs {
		images = append(images, map[string]any{"run": run, "tag": TagTrainInputs, "step": 0, "sample": i,
			"width": 5, "height": 6, "samples": 4, "pixels_sha256": pixelsDigest(img)})
	}
	var prTags []string
	for epoch, probs := range src.answered {
		step := epoch + 1
		labels := src.val.Labels
		predicted := make([]int, len(labels))
		for j := range labels {
			predicted[j] = argmax(probs[3*j : 3*j+3])
		}
		m, err := summary.NewConfusionMatrix(labels, predicted, pictureClasses)
		if err != nil {
			t.Fatal(err)
		}
		right := 0
		for j := range labels {
			if labels[j] == predicted[j] {
				right++
			}
		}
		cm, err := m.Image(fmt.Sprintf("validation after epoch %d: %d of %d right (%.2f%%)", step+1, right, len(labels), percent(right, len(labels))))
		if err != nil {
			t.Fatal(err)
		}
		images = append(images, map[string]any{"run": run, "tag": TagConfusionMatrix, "step": step, "samples": 1,
			"width": cm.Bounds().Dx(), "height": cm.Bounds().Dy(), "pixels_sha256": pixelsDigest(cm)},
			map[string]any{"run": run, "tag": TagMisclassified, "step": step, "samples": 1})
		for k, c := range pictureClasses {
			positive, column := make([]bool, len(labels)), make([]float32, len(labels))
			for j, l := range labels {
				positive[j], column[j] = l == k, probs[3*j+k]
			}
			curves = append(curves, map[string]any{"run": run, "tag": TagPRCurvePrefix + c, "step": step,
				"labels": positive, "predictions": column, "num_thresholds": 11})
			if epoch == 0 {
				prTags = append(prTags, TagPRCurvePrefix+c)
			}
		}
	}
	tbcheck.Run(t, logdir, map[string]any{
		"runs":            []string{run},
		"plugins_enabled": []string{"images", "pr_curves"},
		"tags": map[string]any{
			"images":    map[string][]string{run: {TagTrainInputs, TagConfusionMatrix, TagMisclassified}},
			"pr_curves": map[string][]string{run: prTags},
		},
		"images":    images,
		"pr_curves": curves,
	})
}

func TestPicturesRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	if _, err := NewPictures(dir, PicturesOptions{Classes: pictureClasses}); err == nil {
		t.Error("no source accepted")
	}
	if _, err := NewPictures(dir, PicturesOptions{Source: newFakePictures(), Classes: pictureClasses, Thresholds: 1}); err == nil {
		t.Error("one threshold accepted")
	}
	for _, tc := range []struct {
		name string
		ex   LabeledImages
		want string
	}{
		{"short", LabeledImages{Pixels: make([]float32, 5), Labels: []int{0}, Height: 2, Width: 3, Channels: 1}, "5 pixel values are not 1 images of 2x3x1"},
		{"label", LabeledImages{Pixels: make([]float32, 2), Labels: []int{0, 3}, Height: 1, Width: 1, Channels: 1}, "label 3 of example 1"},
		{"channels", LabeledImages{Pixels: make([]float32, 2), Labels: []int{0}, Height: 1, Width: 1, Channels: 2}, "example 0: summary: image shape 1x1x2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.ex.images(3); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// mnistSizedPictures answers with an MNIST-sized validation set: 10,000 28x28 gray images of 10
// classes, about 3% wrong.
type mnistSizedPictures struct {
	probs []float32
	val   LabeledImages
}

func (m mnistSizedPictures) ValidationPredictions() ([]float32, []int, error) {
	return m.probs, m.val.Labels, nil
}
func (m mnistSizedPictures) ValidationExamples(indices []int) (LabeledImages, error) {
	return pick(m.val, indices), nil
}
func (m mnistSizedPictures) TrainingSamples(int) (LabeledImages, error) { return m.val, nil }

// BenchmarkPicturesEpoch is the cost of one epoch's pictures on MNIST's validation set, given
// the predictions: PR curves, the confusion matrix, the grid, their encoding and writing.
func BenchmarkPicturesEpoch(b *testing.B) {
	const n, classes = 10000, 10
	src := mnistSizedPictures{probs: make([]float32, n*classes),
		val: LabeledImages{Pixels: make([]float32, n*28*28), Labels: make([]int, n), Height: 28, Width: 28, Channels: 1}}
	for j := 0; j < n; j++ {
		src.val.Labels[j] = j % classes
		guess := j % classes
		if j%33 == 0 {
			guess = (j + 1) % classes
		}
		src.probs[j*classes+guess] = 0.9
		src.probs[j*classes+(guess+1)%classes] = 0.1
		for k := 0; k < 28*28; k++ {
			src.val.Pixels[j*28*28+k] = float32((j+k)%256) / 255
		}
	}
	names := []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
	p, err := NewPictures(b.TempDir(), PicturesOptions{Source: src, Classes: names})
	if err != nil {
		b.Fatal(err)
	}
	defer p.OnTrainEnd(TrainEnd{})
	p.epochs = 1 << 30
	epoch := 0
	for b.Loop() {
		if err := p.OnEpochEnd(EpochEnd{EpochMetrics: spec.EpochMetrics{Epoch: epoch}}); err != nil {
			b.Fatal(err)
		}
		epoch++
	}
}
