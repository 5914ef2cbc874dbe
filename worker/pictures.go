package worker

import (
	"errors"
	"math"
	"strconv"

	"github.com/tfsweep/tfsweep/dataset"
	"github.com/tfsweep/tfsweep/trainer"
)

// pictureSource is a run's model and data as trainer.Pictures asks for them: the examples as the
// network sees them (scaled as the run scales them). The predictions are the validation pass' own
// (model.Config.KeepValidationProbabilities), so pictures cost no second pass; only the examples
// drawn are converted.
type pictureSource struct {
	m          validated // the run's model, or its member of a fused group
	train, val *dataset.Set
	norm       dataset.Normalizer // the run's
	labels     []int              // the validation set's, converted at the first call
}

var _ trainer.PictureSource = (*pictureSource)(nil)

// validated is a model whose last validation pass kept its probabilities.
type validated interface{ ValidationProbabilities() []float32 }

func newPictureSource(m validated, p runPlan, d *dataset.Data, norm dataset.Normalizer) *pictureSource {
	return &pictureSource{m: m, train: part(d, p.train), val: part(d, p.val), norm: norm}
}

// part is the examples the key names, sharing memory with d.
func part(d *dataset.Data, key setKey) *dataset.Set {
	set := d.Train
	if key.test {
		set = d.Test
	}
	return set.Slice(key.from, key.to)
}

func (s *pictureSource) ValidationPredictions() ([]float32, []int, error) {
	probabilities := s.m.ValidationProbabilities()
	if probabilities == nil {
		return nil, nil, errors.New("no validation pass has kept its probabilities")
	}
	if s.labels == nil {
		s.labels = make([]int, s.val.Len())
		for j, l := range s.val.Labels {
			s.labels[j] = int(l)
		}
	}
	return probabilities, s.labels, nil
}

func (s *pictureSource) ValidationExamples(indices []int) (trainer.LabeledImages, error) {
	return s.labeled(s.val, indices), nil
}

func (s *pictureSource) TrainingSamples(n int) (trainer.LabeledImages, error) {
	first := make([]int, min(n, s.train.Len()))
	for j := range first {
		first[j] = j
	}
	return s.labeled(s.train, first), nil
}

// labeled converts the examples of set at indices as the run feeds them to the network, to be drawn
// on the range of the whole set. An example of one dimension (a table's row) is drawn as a one-row
// image.
func (s *pictureSource) labeled(set *dataset.Set, indices []int) trainer.LabeledImages {
	f := set.Features()
	pixels := make([]float32, len(indices)*f)
	labels32 := make([]int32, len(indices))
	for i, j := range indices {
		s.norm.Into(pixels[i*f:(i+1)*f], labels32[i:i+1], set, j, j+1)
	}
	labels := make([]int, len(labels32))
	for i, l := range labels32 {
		labels[i] = int(l)
	}
	lo, hi := s.drawRange(set)
	h, w, c := 1, f, 1
	if len(set.Shape) >= 2 {
		h, w, c = set.Shape[0], set.Shape[1], set.Channels()
	}
	return trainer.LabeledImages{Pixels: pixels, Labels: labels, Height: h, Width: w, Channels: c, Lo: lo, Hi: hi}
}

// drawRange is the range pictures of the set span, normalised as the run normalises its values: a
// pixel's 0 to 255, or the set's own numbers' range, so that one value looks the same in every
// picture. Standardised, it spans every channel's.
func (s *pictureSource) drawRange(set *dataset.Set) (lo, hi float32) {
	rawLo, rawHi := float32(0), float32(255)
	if set.Floats != nil {
		rawLo, rawHi = valueRange(set.Floats)
	}
	lo, hi = rawLo/s.norm.Divisor, rawHi/s.norm.Divisor
	if s.norm.Mean == nil {
		return lo, hi
	}
	x0, x1 := lo, hi
	lo, hi = float32(math.Inf(1)), float32(math.Inf(-1))
	for c, mean := range s.norm.Mean {
		lo, hi = min(lo, (x0-mean)/s.norm.Std[c]), max(hi, (x1-mean)/s.norm.Std[c])
	}
	return lo, hi
}

func valueRange(x []float32) (lo, hi float32) {
	if len(x) == 0 {
		return 0, 1
	}
	lo, hi = x[0], x[0]
	for _, v := range x {
		lo, hi = min(lo, v), max(hi, v)
	}
	if hi == lo {
		hi = lo + 1
	}
	return lo, hi
}

// classNames are the names of the data's classes, in label order: the format's own, else the
// label numbers (MNIST's digits name themselves).
func classNames(d *dataset.Data) []string {
	if len(d.ClassNames) == d.Classes {
		return d.ClassNames
	}
	names := make([]string, d.Classes)
	for i := range names {
		names[i] = strconv.Itoa(i)
	}
	return names
}
