package worker

import (
	"errors"
	"fmt"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/tfsweep/tfsweep/dataset"
	"github.com/tfsweep/tfsweep/model"
	"github.com/tfsweep/tfsweep/spec"
)

// BadInputError is a model directory, image or data file that cannot be used: the commands exit 2.
type BadInputError struct{ Err error }

func (e *BadInputError) Error() string { return e.Err.Error() }
func (e *BadInputError) Unwrap() error { return e.Err }

// Predict classifies the images of IDX image files (every image) and PNG files (one image each,
// as grayscale) with the SavedModel in modelDir, through TensorFlow's own loader. The pixels go
// in raw, 0–255: the model scales them as its run did.
func Predict(modelDir string, files []string) ([]spec.Prediction, error) {
	p, err := loadModel(modelDir)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	var out []spec.Prediction
	for _, file := range files {
		pixels, n, err := readImages(file, p.Features())
		if err != nil {
			return nil, err
		}
		probs, classes, err := p.PredictUint8(pixels, n)
		if err != nil {
			return nil, fmt.Errorf("predict %s: %w", file, err)
		}
		k := len(probs) / n
		for i := range n {
			row := probs[i*k : (i+1)*k]
			out = append(out, spec.Prediction{File: file, Index: i, Class: classes[i], Probability: row[classes[i]], Probabilities: row})
		}
	}
	return out, nil
}

// DataSplit is the examples predict and evaluate read: one split of a data source.
type DataSplit struct {
	Source   string // a data source spec, dataset.ParseSource's KIND:PATH[:key=value…]
	Train    bool   // the training split; else the test split
	CacheDir string // where decoded sources are kept (dataset.Options); "" decodes again
}

// Split names the split as the commands' --split flag does.
func (d DataSplit) Split() string {
	if d.Train {
		return "train"
	}
	return "test"
}

// read reads the split, checked against a model of `features` inputs. Its faults are the user's.
func (d DataSplit) read(features int) (*dataset.Set, error) {
	src, err := dataset.ParseSource(d.Source)
	if err != nil {
		return nil, &BadInputError{fmt.Errorf("--data: %w", err)}
	}
	data, err := dataset.Open(src, dataset.Options{CacheDir: d.CacheDir})
	if err != nil {
		return nil, &BadInputError{fmt.Errorf("--data: %w", err)}
	}
	set := data.Test
	if d.Train {
		set = data.Train
	}
	if set.Len() == 0 {
		return nil, &BadInputError{fmt.Errorf("--data %s: the %s split is empty", d.Source, d.Split())}
	}
	if set.Features() != features {
		return nil, &BadInputError{fmt.Errorf("--data %s: examples of %v (%d values), the model takes %d", d.Source, set.Shape, set.Features(), features)}
	}
	return set, nil
}

// predictSet runs the model on every example of set, spec.EvalChunk at a time, as the values are
// stored: bytes through serving_uint8, numbers through serving_default. Either way the model
// normalises them as its run did.
func predictSet(p *model.Predictor, set *dataset.Set) (probabilities []float32, classes []int64, err error) {
	for from := 0; from < set.Len(); from += spec.EvalChunk {
		part := set.Slice(from, min(from+spec.EvalChunk, set.Len()))
		var probs []float32
		var c []int64
		if part.Bytes != nil {
			probs, c, err = p.PredictUint8(part.Bytes, part.Len())
		} else {
			probs, c, err = p.Predict(part.Floats, part.Len())
		}
		if err != nil {
			return nil, nil, fmt.Errorf("examples %d-%d: %w", from, from+part.Len(), err)
		}
		probabilities, classes = append(probabilities, probs...), append(classes, c...)
	}
	return probabilities, classes, nil
}

// PredictData classifies every example of a data source's split with the SavedModel in modelDir.
// Each prediction names the source and the example's place in the split.
func PredictData(modelDir string, data DataSplit) ([]spec.Prediction, error) {
	p, err := loadModel(modelDir)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	set, err := data.read(p.Features())
	if err != nil {
		return nil, err
	}
	probs, classes, err := predictSet(p, set)
	if err != nil {
		return nil, err
	}
	k := len(probs) / set.Len()
	out := make([]spec.Prediction, set.Len())
	for i := range out {
		row := probs[i*k : (i+1)*k]
		out[i] = spec.Prediction{File: data.Source, Index: i, Class: classes[i], Probability: row[classes[i]], Probabilities: row}
	}
	return out, nil
}

// Evaluate computes the SavedModel's loss and accuracy on a data source's split.
func Evaluate(modelDir string, data DataSplit) (spec.Evaluation, error) {
	p, err := loadModel(modelDir)
	if err != nil {
		return spec.Evaluation{}, err
	}
	defer p.Close()
	set, err := data.read(p.Features())
	if err != nil {
		return spec.Evaluation{}, err
	}
	probs, classes, err := predictSet(p, set)
	if err != nil {
		return spec.Evaluation{}, err
	}
	k := len(probs) / set.Len()
	var loss float64
	correct := 0
	for i, label := range set.Labels {
		if int(label) >= k {
			return spec.Evaluation{}, &BadInputError{fmt.Errorf("--data %s: example %d of the %s split has label %d, the model has %d classes", data.Source, i, data.Split(), label, k)}
		}
		// Keras clips probabilities to [ε, 1−ε] before the logarithm (ε = 1e-7).
		p := math.Min(math.Max(float64(probs[i*k+int(label)]), 1e-7), 1-1e-7)
		loss -= math.Log(p)
		if classes[i] == int64(label) {
			correct++
		}
	}
	n := float64(set.Len())
	return spec.Evaluation{Model: modelDir, Examples: set.Len(), Loss: loss / n, Accuracy: float64(correct) / n}, nil
}

func loadModel(dir string) (*model.Predictor, error) {
	if _, err := os.Stat(filepath.Join(dir, "saved_model.pb")); err != nil {
		return nil, &BadInputError{fmt.Errorf("--model %s is not a SavedModel (no saved_model.pb)", dir)}
	}
	p, err := model.LoadSavedModel(dir)
	if err != nil {
		return nil, &BadInputError{fmt.Errorf("--model %s: %w", dir, err)}
	}
	return p, nil
}

// readImages reads an IDX image file or a PNG as raw pixels of `features` each.
func readImages(file string, features int) ([]uint8, int, error) {
	if strings.EqualFold(filepath.Ext(file), ".png") {
		return readPNG(file, features)
	}
	pixels, n, rows, cols, err := dataset.ReadImages(file)
	if err != nil {
		return nil, 0, &BadInputError{err}
	}
	if rows*cols != features {
		return nil, 0, &BadInputError{fmt.Errorf("%s: images of %d×%d pixels, the model takes %d", file, rows, cols, features)}
	}
	return pixels, n, nil
}

func readPNG(file string, features int) ([]uint8, int, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, 0, &BadInputError{err}
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return nil, 0, &BadInputError{fmt.Errorf("%s: %w", file, err)}
	}
	b := img.Bounds()
	if b.Dx()*b.Dy() != features {
		return nil, 0, &BadInputError{fmt.Errorf("%s: a %d×%d image, the model takes %d pixels", file, b.Dx(), b.Dy(), features)}
	}
	pixels := make([]uint8, 0, features)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			pixels = append(pixels, color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y)
		}
	}
	return pixels, 1, nil
}

// IsBadInput tells whether err is the caller's fault (exit 2).
func IsBadInput(err error) bool {
	var b *BadInputError
	return errors.As(err, &b)
}
