package trainer

import (
	"cmp"
	"errors"
	"fmt"
	"image"
	"slices"

	"github.com/tfsweep/tfsweep/summary"
)

// LabeledImages are images as the network sees them, after preprocessing: Pixels holds len(Labels)
// images of Height×Width×Channels float32 values each, row-major and channels last (Keras'
// layout; MNIST's flat 784 features are 28×28×1), Labels their classes. Lo and Hi are the pixel
// values drawn black and white, as summary.PixelImage maps them: 0 and 1 for pixels scaled to
// [0, 1] (both left 0 means that), 0 and 255 for raw ones, the set's minimum and maximum for
// standardised ones.
type LabeledImages struct {
	Pixels                  []float32
	Labels                  []int
	Height, Width, Channels int
	Lo, Hi                  float32
}

// PictureSource is what the Pictures callback asks the model side for.
type PictureSource interface {
	// ValidationPredictions returns the model's softmax probabilities for every validation
	// example, row-major [examples, classes], and the examples' labels.
	ValidationPredictions() (probabilities []float32, labels []int, err error)
	// ValidationExamples returns the validation examples at indices, in that order: only the
	// pictures' few are drawn, so the whole set need not be converted.
	ValidationExamples(indices []int) (LabeledImages, error)
	// TrainingSamples returns the first n training examples (all, if there are fewer).
	TrainingSamples(n int) (LabeledImages, error)
}

// PicturesOptions configure the Pictures callback. Source and Classes are required.
type PicturesOptions struct {
	Source  PictureSource
	Classes []string // the class names, in label order
	// Every writes the validation pictures after every Every-th epoch and the last; 0 means 1.
	Every int
	// Samples is how many training inputs are written at the start; 0 means 10.
	Samples int
	// Misclassified is how many wrong answers the grid shows at most, the most confident first;
	// 0 means 25.
	Misclassified int
	// Thresholds is the PR curves' threshold count; 0 means TensorBoard's default, 201.
	Thresholds int
}

// The tags Pictures writes.
const (
	TagTrainInputs     = "train_inputs"
	TagConfusionMatrix = "confusion_matrix"
	TagMisclassified   = "misclassified"
	TagPRCurvePrefix   = "pr_curves/" // + the class name
)

// Pictures is the callback an image classifier's user looks at, in a run directory of its own as
// the TensorFlow guide's confusion-matrix callback writes it (one writer per directory keeps
// TensorBoard's Python loader, which follows only a directory's newest event file, up to date):
//   - at the start, step 0: train_inputs, the first Samples training images as the network sees
//     them, as tf.summary.image shows a batch (a resumed fit, whose InitialEpoch is above 0, has
//     them from its earlier attempt);
//   - after every Every-th epoch and the last, at the 0-based epoch: confusion_matrix and
//     misclassified (images of the validation set) and pr_curves/<class>, each class against the
//     rest.
//
// The writer is flushed after each epoch's pictures and closed in OnTrainEnd.
type Pictures struct {
	w      *summary.Writer
	opts   PicturesOptions
	epochs int
}

var (
	_ TrainBeginner = (*Pictures)(nil)
	_ EpochEnder    = (*Pictures)(nil)
	_ TrainEnder    = (*Pictures)(nil)
)

// NewPictures checks opts and opens the writer in dir (created if needed), e.g. <run>/pictures.
func NewPictures(dir string, opts PicturesOptions) (*Pictures, error) {
	if opts.Source == nil || len(opts.Classes) == 0 {
		return nil, errors.New("pictures: a source and the class names are required")
	}
	if opts.Every < 0 || opts.Samples < 0 || opts.Misclassified < 0 || opts.Thresholds < 0 || opts.Thresholds == 1 {
		return nil, fmt.Errorf("pictures: every %d, samples %d, misclassified %d, thresholds %d: want 0 (the default) or more (thresholds 2 or more)",
			opts.Every, opts.Samples, opts.Misclassified, opts.Thresholds)
	}
	opts.Every = cmp.Or(opts.Every, 1)
	opts.Samples = cmp.Or(opts.Samples, 10)
	opts.Misclassified = cmp.Or(opts.Misclassified, 25)
	opts.Thresholds = cmp.Or(opts.Thresholds, summary.PRThresholds)
	w, err := summary.NewWriter(dir)
	if err != nil {
		return nil, err
	}
	return &Pictures{w: w, opts: opts}, nil
}

// OnTrainBegin writes the training inputs, unless a resumed fit's earlier attempt wrote them.
func (p *Pictures) OnTrainBegin(b TrainBegin) error {
	p.epochs = b.Epochs
	if b.InitialEpoch > 0 {
		return nil
	}
	ex, err := p.opts.Source.TrainingSamples(p.opts.Samples)
	if err != nil {
		return fmt.Errorf("pictures: training samples: %w", err)
	}
	imgs, err := ex.images(len(p.opts.Classes))
	if err != nil {
		return fmt.Errorf("pictures: training samples: %w", err)
	}
	if len(imgs) == 0 {
		return nil
	}
	return errors.Join(p.w.Images(TagTrainInputs, 0, imgs), p.w.Flush())
}

// OnEpochEnd writes the validation pictures after every Every-th epoch and the last.
func (p *Pictures) OnEpochEnd(e EpochEnd) error {
	if (e.Epoch+1)%p.opts.Every != 0 && e.Epoch != p.epochs-1 {
		return nil
	}
	probs, labels, err := p.opts.Source.ValidationPredictions()
	if err != nil {
		return fmt.Errorf("pictures: validation predictions: %w", err)
	}
	classes := len(p.opts.Classes)
	if err := checkLabels(labels, classes); err != nil {
		return fmt.Errorf("pictures: validation set: %w", err)
	}
	if len(probs)%classes != 0 || len(probs)/classes != len(labels) {
		return fmt.Errorf("pictures: %d probabilities are not %d examples of %d classes", len(probs), len(labels), classes)
	}
	step := int64(e.Epoch)
	errs := []error{p.writePRCurves(step, probs, labels)}
	predicted := make([]int, len(labels))
	for j := range predicted {
		predicted[j] = argmax(probs[j*classes : (j+1)*classes])
	}
	errs = append(errs, p.writeConfusionMatrix(step, labels, predicted))
	errs = append(errs, p.writeMisclassified(step, labels, probs, predicted), p.w.Flush())
	return errors.Join(errs...)
}

// OnTrainEnd closes the writer.
func (p *Pictures) OnTrainEnd(TrainEnd) error { return p.w.Close() }

func (p *Pictures) writePRCurves(step int64, probs []float32, labels []int) error {
	curves, err := summary.ClassPRCurves(probs, labels, len(p.opts.Classes), p.opts.Thresholds)
	if err != nil {
		return fmt.Errorf("pictures: %w", err)
	}
	var errs []error
	for k, c := range curves {
		errs = append(errs, p.w.PRCurve(TagPRCurvePrefix+p.opts.Classes[k], step, c))
	}
	return errors.Join(errs...)
}

func (p *Pictures) writeConfusionMatrix(step int64, labels, predicted []int) error {
	m, err := summary.NewConfusionMatrix(labels, predicted, p.opts.Classes)
	if err != nil {
		return fmt.Errorf("pictures: %w", err)
	}
	right := 0
	for j, l := range labels {
		if predicted[j] == l {
			right++
		}
	}
	title := fmt.Sprintf("validation after epoch %d: %d of %d right (%.2f%%)", step+1, right, len(labels), percent(right, len(labels)))
	img, err := m.Image(title)
	if err != nil {
		return fmt.Errorf("pictures: %w", err)
	}
	return p.w.Image(TagConfusionMatrix, step, img)
}

// writeMisclassified draws the most confident wrong answers, the most confident first (the
// earlier example first among equals); with none wrong it writes nothing.
func (p *Pictures) writeMisclassified(step int64, labels []int, probs []float32, predicted []int) error {
	classes := len(p.opts.Classes)
	var wrong []int
	for j, l := range labels {
		if predicted[j] != l {
			wrong = append(wrong, j)
		}
	}
	if len(wrong) == 0 {
		return nil
	}
	confidence := func(j int) float32 { return probs[j*classes+predicted[j]] }
	slices.SortStableFunc(wrong, func(a, b int) int { return cmp.Compare(confidence(b), confidence(a)) })
	shown := wrong[:min(len(wrong), p.opts.Misclassified)]
	ex, err := p.opts.Source.ValidationExamples(shown)
	if err != nil {
		return fmt.Errorf("pictures: validation examples: %w", err)
	}
	if len(ex.Labels) != len(shown) {
		return fmt.Errorf("pictures: %d validation examples for %d asked", len(ex.Labels), len(shown))
	}
	imgs, err := ex.images(classes)
	if err != nil {
		return fmt.Errorf("pictures: validation examples: %w", err)
	}
	examples := make([]summary.Misclassified, len(shown))
	for i, j := range shown {
		examples[i] = summary.Misclassified{Image: imgs[i], True: p.opts.Classes[labels[j]],
			Predicted: p.opts.Classes[predicted[j]], PredictedProbability: float64(confidence(j))}
	}
	title := fmt.Sprintf("validation after epoch %d: %d of %d wrong, the %d most confident shown", step+1, len(wrong), len(labels), len(shown))
	grid, err := summary.MisclassifiedGrid(examples, 0, title)
	if err != nil {
		return fmt.Errorf("pictures: %w", err)
	}
	return p.w.Image(TagMisclassified, step, grid)
}

// check refuses images that are not len(Labels) images of the shape, or labels outside the classes.
func (ex LabeledImages) check(classes int) error {
	size := ex.Height * ex.Width * ex.Channels
	if ex.Height <= 0 || ex.Width <= 0 || ex.Channels <= 0 || size/ex.Channels/ex.Width != ex.Height ||
		len(ex.Pixels)%size != 0 || len(ex.Pixels)/size != len(ex.Labels) {
		return fmt.Errorf("%d pixel values are not %d images of %dx%dx%d", len(ex.Pixels), len(ex.Labels), ex.Height, ex.Width, ex.Channels)
	}
	return checkLabels(ex.Labels, classes)
}

// checkLabels refuses labels outside the classes.
func checkLabels(labels []int, classes int) error {
	for j, l := range labels {
		if l < 0 || l >= classes {
			return fmt.Errorf("label %d of example %d is not one of %d classes", l, j, classes)
		}
	}
	return nil
}

// image draws example j of images that passed check.
func (ex LabeledImages) image(j int) (image.Image, error) {
	size := ex.Height * ex.Width * ex.Channels
	lo, hi := ex.Lo, ex.Hi
	if lo == 0 && hi == 0 {
		hi = 1
	}
	return summary.PixelImage(ex.Pixels[j*size:(j+1)*size], ex.Height, ex.Width, ex.Channels, lo, hi)
}

// images checks ex and draws every example.
func (ex LabeledImages) images(classes int) ([]image.Image, error) {
	if err := ex.check(classes); err != nil {
		return nil, err
	}
	imgs := make([]image.Image, len(ex.Labels))
	for j := range imgs {
		img, err := ex.image(j)
		if err != nil {
			return nil, fmt.Errorf("example %d: %w", j, err)
		}
		imgs[j] = img
	}
	return imgs, nil
}

// argmax is the first index of the largest probability, as np.argmax and tf.argmax choose.
func argmax(xs []float32) int {
	best := 0
	for i, x := range xs {
		if x > xs[best] {
			best = i
		}
	}
	return best
}

func percent(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}
