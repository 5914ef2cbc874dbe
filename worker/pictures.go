package worker

import (
	"strconv"

	"github.com/tfsweep/tfsweep/dataset"
	"github.com/tfsweep/tfsweep/model"
	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/trainer"
)

// pictureSource is a run's model and data as trainer.Pictures asks for them: the examples as the
// network sees them (scaled as the run scales them), the validation set's converted once per run.
type pictureSource struct {
	m          *model.Model
	train, val *dataset.Set
	scale      spec.Scaling
	norm       dataset.Normalizer
	validation *trainer.LabeledImages // converted at the first call
}

var _ trainer.PictureSource = (*pictureSource)(nil)

func newPictureSource(m *model.Model, p runPlan, d *dataset.Data, norm dataset.Normalizer) *pictureSource {
	return &pictureSource{m: m, train: part(d, p.train), val: part(d, p.val), scale: p.train.scale, norm: norm}
}

// part is the examples the key names, sharing memory with d.
func part(d *dataset.Data, key setKey) *dataset.Set {
	set := d.Train
	if key.test {
		set = d.Test
	}
	return set.Slice(key.from, key.to)
}

func (s *pictureSource) ValidationPredictions() ([]float32, trainer.LabeledImages, error) {
	if s.validation == nil {
		val := s.labeled(s.val)
		s.validation = &val
	}
	probabilities, _, err := s.m.Predict(s.validation.Pixels, len(s.validation.Labels))
	return probabilities, *s.validation, err
}

func (s *pictureSource) TrainingSamples(n int) (trainer.LabeledImages, error) {
	return s.labeled(s.train.Slice(0, min(n, s.train.Len()))), nil
}

// labeled converts a set as the run feeds it to the network. An example of one dimension (a table's
// row) is drawn as a one-row image.
func (s *pictureSource) labeled(set *dataset.Set) trainer.LabeledImages {
	pixels := make([]float32, set.Len()*set.Features())
	labels32 := make([]int32, set.Len())
	s.norm.Into(pixels, labels32, set, 0, set.Len())
	labels := make([]int, len(labels32))
	for i, l := range labels32 {
		labels[i] = int(l)
	}
	lo, hi := float32(0), float32(1)
	if s.scale == spec.ScaleNone {
		hi = 255
	}
	if set.Floats != nil || s.norm.Mean != nil { // numbers of the data's own range, not pixels
		lo, hi = valueRange(pixels)
	}
	h, w, c := 1, set.Features(), 1
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
