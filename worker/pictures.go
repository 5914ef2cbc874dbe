package worker

import (
	"strconv"

	"github.com/tfsweep/tfsweep/dataset"
	"github.com/tfsweep/tfsweep/model"
	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/trainer"
)

// pictureSource is a run's model and data as trainer.Pictures asks for them: the examples as the
// network sees them (scaled as the run scales them, one channel of Rows×Cols), the validation set's
// converted once per run.
type pictureSource struct {
	m          *model.Model
	train, val *dataset.Split
	scale      spec.Scaling
	validation *trainer.LabeledImages // converted at the first call
}

var _ trainer.PictureSource = (*pictureSource)(nil)

func newPictureSource(m *model.Model, p runPlan, d *data) *pictureSource {
	return &pictureSource{m: m, train: d.part(p.train), val: d.part(p.val), scale: p.train.scale}
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
	return s.labeled(s.train.Head(min(n, s.train.Len()))), nil
}

// labeled converts a split as the run feeds it to the network, with the pixel values drawn black
// and white.
func (s *pictureSource) labeled(split *dataset.Split) trainer.LabeledImages {
	pixels, labels32 := split.Float32(s.scale)
	labels := make([]int, len(labels32))
	for i, l := range labels32 {
		labels[i] = int(l)
	}
	hi := float32(1)
	if s.scale == spec.ScaleNone {
		hi = 255
	}
	return trainer.LabeledImages{Pixels: pixels, Labels: labels, Height: split.Rows, Width: split.Cols, Channels: 1, Hi: hi}
}

// classNames are the names of the data's classes, in label order: IDX files name none, so
// MNIST's digits name themselves.
func classNames() []string {
	names := make([]string, dataset.Classes)
	for i := range names {
		names[i] = strconv.Itoa(i)
	}
	return names
}
