package worker

import (
	"errors"
	"strconv"

	"github.com/tfsweep/tfsweep/dataset"
	"github.com/tfsweep/tfsweep/model"
	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/trainer"
)

// pictureSource is a run's model and data as trainer.Pictures asks for them: the examples as the
// network sees them (scaled as the run scales them). The predictions are the validation pass' own
// (model.Config.KeepValidationProbabilities), so pictures cost no second pass; only the examples
// drawn are converted.
type pictureSource struct {
	m          *model.Model
	train, val *dataset.Set
	scale      spec.Scaling
	labels     []int // the validation set's, converted at the first call
}

var _ trainer.PictureSource = (*pictureSource)(nil)

func newPictureSource(m *model.Model, p runPlan, d *dataset.Data) *pictureSource {
	return &pictureSource{m: m, train: part(d, p.train), val: part(d, p.val), scale: p.train.scale}
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
	ex := s.labeled(s.val, indices)
	if s.val.Floats != nil {
		// Drawn on the whole set's range, so that the same value looks the same in every picture.
		ex.Lo, ex.Hi = valueRange(s.val.Floats)
		ex.Lo, ex.Hi = ex.Lo/s.scale.Divisor(), ex.Hi/s.scale.Divisor()
	}
	return ex, nil
}

func (s *pictureSource) TrainingSamples(n int) (trainer.LabeledImages, error) {
	first := make([]int, min(n, s.train.Len()))
	for j := range first {
		first[j] = j
	}
	ex := s.labeled(s.train, first)
	if s.train.Floats != nil {
		ex.Lo, ex.Hi = valueRange(ex.Pixels)
	}
	return ex, nil
}

// labeled converts the examples of set at indices as the run feeds them to the network. An
// example of one dimension (a table's row) is drawn as a one-row image.
func (s *pictureSource) labeled(set *dataset.Set, indices []int) trainer.LabeledImages {
	f := set.Features()
	pixels := make([]float32, len(indices)*f)
	labels32 := make([]int32, len(indices))
	norm := dataset.Normalizer{Divisor: s.scale.Divisor()}
	for i, j := range indices {
		norm.Into(pixels[i*f:(i+1)*f], labels32[i:i+1], set, j, j+1)
	}
	labels := make([]int, len(labels32))
	for i, l := range labels32 {
		labels[i] = int(l)
	}
	lo, hi := float32(0), float32(1)
	if s.scale == spec.ScaleNone {
		hi = 255
	}
	h, w, c := 1, f, 1
	if len(set.Shape) >= 2 {
		h, w, c = set.Shape[0], set.Shape[1], set.Channels()
	}
	return trainer.LabeledImages{Pixels: pixels, Labels: labels, Height: h, Width: w, Channels: c, Lo: lo, Hi: hi}
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
