package summary_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tfsweep/tfsweep/summary"
)

// pixelsSHA256 is the digest of img's pixels as RGBA bytes row by row, straight alpha: what
// tb_check computes from the served PNG decoded by PIL.
func pixelsSHA256(img image.Image) string {
	b := img.Bounds()
	h := sha256.New()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			h.Write([]byte{c.R, c.G, c.B, c.A})
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// softmaxRows returns n rows of probabilities over classes and their labels: mostly random rows
// (each row sums to 1 in float32 up to rounding), plus the rows that sit on the edges of the
// buckets: certainty (1 and 0) and probabilities of exactly k/(thresholds-1).
func softmaxRows(rng *rand.Rand, n, classes, thresholds int) ([]float32, []int) {
	probs := make([]float32, 0, n*classes)
	labels := make([]int, 0, n)
	for j := 0; j < n; j++ {
		row := make([]float32, classes)
		switch j % 5 {
		case 0: // certain, right or wrong
			row[rng.IntN(classes)] = 1
		case 1: // on a threshold
			k := rng.IntN(thresholds)
			row[0] = float32(k) / float32(thresholds-1)
			row[classes-1] = 1 - row[0]
		default:
			sum := float32(0)
			for k := range row {
				row[k] = rng.Float32()
				sum += row[k]
			}
			for k := range row {
				row[k] = min(1, row[k]/sum)
			}
		}
		probs = append(probs, row...)
		labels = append(labels, rng.IntN(classes))
	}
	return probs, labels
}

// pictureClasses are long enough names to be drawn upright.
var pictureClasses = []string{"T-shirt/top", "Trouser", "Ankle boot"}

// writePictures writes what the pictures callback writes, into run "pictures" under logdir: three
// sample inputs at step 0, a confusion matrix, a misclassified grid and a PR curve per class at
// steps 0 and 1 (the second with 11 thresholds), and returns what TensorBoard must serve.
func writePictures(t *testing.T, logdir string) expectation {
	const run = "pictures"
	w := newWriter(t, filepath.Join(logdir, run))
	exp := expectation{Runs: []string{run}, PluginsEnabled: []string{"images", "pr_curves"},
		Tags: map[string]runTags{"images": {run: {"inputs", "confusion_matrix", "misclassified"}}, "pr_curves": {run: {}}}}

	var samples []image.Image
	for i := 0; i < 3; i++ {
		px := make([]float32, 5*4*3)
		for k := range px {
			px[k] = float32(k*(i+1)%17) / 16
		}
		img, err := summary.PixelImage(px, 5, 4, 3, 0, 1)
		check(t, err)
		samples = append(samples, img)
		exp.Images = append(exp.Images, imageExpect{Run: run, Tag: "inputs", Step: 0, Sample: i,
			SHA256: hex.EncodeToString(sha(pngOf(t, img))), Width: 4, Height: 5, Samples: 3, PixelsSHA256: pixelsSHA256(img)})
	}
	check(t, w.Images("inputs", 0, samples))

	rng := rand.New(rand.NewPCG(24, 4))
	for step, thresholds := range []int{summary.PRThresholds, 11} {
		probs, labels := softmaxRows(rng, 200, len(pictureClasses), thresholds)
		curves, err := summary.ClassPRCurves(probs, labels, len(pictureClasses), thresholds)
		check(t, err)
		for k, c := range curves {
			tag := "pr_curves/" + pictureClasses[k]
			check(t, w.PRCurve(tag, int64(step), c))
			positive, column := make([]bool, len(labels)), make([]float32, len(labels))
			for j, l := range labels {
				positive[j], column[j] = l == k, probs[j*len(pictureClasses)+k]
			}
			exp.PRCurves = append(exp.PRCurves, prCurveExpect{Run: run, Tag: tag, Step: int64(step),
				Labels: positive, Predictions: column, NumThresholds: thresholds})
			if step == 0 {
				exp.Tags["pr_curves"][run] = append(exp.Tags["pr_curves"][run], tag)
			}
		}
		predicted := make([]int, len(labels))
		var wrong []summary.Misclassified
		for j := range labels {
			predicted[j] = argmax(probs[j*len(pictureClasses) : (j+1)*len(pictureClasses)])
			if predicted[j] != labels[j] && len(wrong) < 7 {
				wrong = append(wrong, summary.Misclassified{Image: samples[j%3], True: pictureClasses[labels[j]],
					Predicted: pictureClasses[predicted[j]], PredictedProbability: float64(probs[j*len(pictureClasses)+predicted[j]])})
			}
		}
		m, err := summary.NewConfusionMatrix(labels, predicted, pictureClasses)
		check(t, err)
		cm, err := m.Image(fmt.Sprintf("step %d", step))
		check(t, err)
		grid, err := summary.MisclassifiedGrid(wrong, 0, fmt.Sprintf("step %d", step))
		check(t, err)
		check(t, w.Image("confusion_matrix", int64(step), cm))
		check(t, w.Image("misclassified", int64(step), grid))
		for tag, img := range map[string]image.Image{"confusion_matrix": cm, "misclassified": grid} {
			exp.Images = append(exp.Images, imageExpect{Run: run, Tag: tag, Step: int64(step),
				SHA256: hex.EncodeToString(sha(pngOf(t, img))), Width: img.Bounds().Dx(), Height: img.Bounds().Dy(),
				Samples: 1, PixelsSHA256: pixelsSHA256(img)})
		}
	}
	closeWriter(t, w)
	return exp
}

func sha(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

// argmax is the first index of the largest value, as np.argmax.
func argmax(xs []float32) int {
	best := 0
	for i, x := range xs {
		if x > xs[best] {
			best = i
		}
	}
	return best
}

func TestTensorBoardShowsPictures(t *testing.T) {
	python := tensorBoardPython(t)
	logdir := t.TempDir()
	exp := writePictures(t, logdir)
	for _, loadFast := range []string{"true", "false"} {
		t.Run("load_fast="+loadFast, func(t *testing.T) {
			t.Parallel()
			out, err := runTBCheck(t, python, logdir, exp, loadFast)
			if err != nil {
				t.Fatalf("TensorBoard --load_fast=%s does not serve the pictures we wrote (%v):\n%s", loadFast, err, out)
			}
			t.Logf("tb_check: %s", strings.TrimSpace(out))
		})
	}
}

// TestTensorBoardPicturesCheckFailsOnMismatch shows the pixel and PR curve checks are not blind:
// one pixel of a sample drawn differently, and one prediction moved by one bucket, must fail.
func TestTensorBoardPicturesCheckFailsOnMismatch(t *testing.T) {
	python := tensorBoardPython(t)
	logdir := t.TempDir()
	exp := writePictures(t, logdir)
	exp.Images[1].PixelsSHA256 = pixelsSHA256(image.NewGray(image.Rect(0, 0, 4, 5)))
	pr := &exp.PRCurves[len(exp.PRCurves)-1] // 11 thresholds
	moved := -1
	for j, p := range pr.Predictions {
		if p >= 0.5 && p < 0.9 {
			pr.Predictions[j] += 0.1
			moved = j
			break
		}
	}
	if moved < 0 {
		t.Fatal("no prediction in [0.5, 0.9) to move")
	}
	out, err := runTBCheck(t, python, logdir, exp, "false")
	if err == nil {
		t.Fatalf("tb_check passed a wrong expectation:\n%s", out)
	}
	for _, want := range []string{
		"images pictures inputs step 0 sample 1: decoded pixels",
		fmt.Sprintf("pr_curves pictures %s step 1:", pr.Tag),
		"differs from numpy's",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("tb_check output does not report %q:\n%s", want, out)
		}
	}
}
