// Command compare_convnet trains a network in Keras' terms end to end with the model package, as
// scripts/compare_convnet_keras.py trains it with Keras' model.fit, and prints one JSON line per
// seed: the final training loss, validation loss and accuracy on the test set, and samples/s.
//
//	go run ./scripts/compare_convnet --model modelfile/testdata/keras/convnet.json --data-dir data/mnist --seeds 1,2,3
//	go run ./scripts/compare_convnet --model scripts/compare_convnet/resnet.yaml --keras-json /tmp/resnet.json
//
// The defaults are issue 23's end-to-end parity check: Keras' simple MNIST convnet, all 60,000
// training images (pixels/255, or raw with --scale none) shuffled every epoch, 5 epochs of batch 128, Adam at 0.001, the
// 10,000 test images as validation data.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tfsweep/tfsweep/dataset"
	"github.com/tfsweep/tfsweep/model"
	"github.com/tfsweep/tfsweep/modelfile"
	"github.com/tfsweep/tfsweep/spec"
)

type result struct {
	System          string  `json:"system"`
	Model           string  `json:"model"`
	Seed            int64   `json:"seed"`
	Loss            float64 `json:"loss"`
	ValLoss         float64 `json:"val_loss"`
	ValAccuracy     float64 `json:"val_accuracy"`
	SamplesPerSec   float64 `json:"samples_per_second"` // over the epochs after the first
	TrainingSeconds float64 `json:"training_seconds"`
}

func main() {
	path := flag.String("model", "modelfile/testdata/keras/convnet.json", "model file or Keras model JSON")
	dataDir := flag.String("data-dir", "data/mnist", "directory with the MNIST IDX files")
	seeds := flag.String("seeds", "1", "comma-separated seeds, one run each")
	epochs := flag.Int("epochs", 5, "epochs")
	batch := flag.Int("batch-size", 128, "examples per step")
	lr := flag.Float64("lr", 0.001, "Adam's learning rate")
	scale := flag.String("scale", "unit", "pixel scaling: unit (x/255) or none (a model that rescales its input itself)")
	kerasJSON := flag.String("keras-json", "", "write the network's Keras model JSON (model.to_json()) to this file and train nothing")
	flag.Parse()
	if *kerasJSON != "" {
		if err := writeKerasJSON(*path, *kerasJSON); err != nil {
			fmt.Fprintln(os.Stderr, "compare_convnet:", err)
			os.Exit(1)
		}
		return
	}
	scaling := spec.ScaleUnit
	if *scale == "none" {
		scaling = spec.ScaleNone
	}
	if err := run(*path, *dataDir, *seeds, *epochs, *batch, *lr, scaling); err != nil {
		fmt.Fprintln(os.Stderr, "compare_convnet:", err)
		os.Exit(1)
	}
}

func run(path, dataDir, seedList string, epochs, batch int, lr float64, scale spec.Scaling) error {
	net, err := modelfile.Read(path)
	if err != nil {
		return err
	}
	train, test, err := dataset.Load(dataDir)
	if err != nil {
		return err
	}
	examples := func(s *dataset.Split) (*model.Examples, error) {
		return model.NewExamples(s.Len(), s.Features(), func(pixels []float32, labels []int32) {
			s.Float32Into(pixels, labels, scale)
		})
	}
	trainSet, err := examples(train)
	if err != nil {
		return err
	}
	defer trainSet.Close()
	testSet, err := examples(test)
	if err != nil {
		return err
	}
	defer testSet.Close()
	for _, field := range strings.Split(seedList, ",") {
		seed, err := strconv.ParseInt(strings.TrimSpace(field), 10, 64)
		if err != nil {
			return fmt.Errorf("seed %q: %w", field, err)
		}
		r, err := fit(net, trainSet, testSet, seed, epochs, batch, lr)
		if err != nil {
			return fmt.Errorf("seed %d: %w", seed, err)
		}
		r.Model = path
		if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
			return err
		}
	}
	return nil
}

// writeKerasJSON writes the Keras JSON of the network in path, for Keras to build the same model
// from a tfsweep model file (keras.models.model_from_json).
func writeKerasJSON(path, out string) error {
	net, err := modelfile.Read(path)
	if err != nil {
		return err
	}
	m, err := model.New(model.Config{Network: net, Device: model.DeviceCPU})
	if err != nil {
		return err
	}
	defer m.Close()
	doc, err := m.KerasJSON()
	if err != nil {
		return err
	}
	return os.WriteFile(out, doc, 0o644)
}

// fit trains a fresh model as Keras' model.fit does: a new permutation of the training set every
// epoch, the last batch smaller, the epoch's loss the mean of its steps' weighted by their rows.
func fit(net spec.Network, trainSet, testSet *model.Examples, seed int64, epochs, batch int, lr float64) (result, error) {
	m, err := model.New(model.Config{Network: net, Seed: seed, LearningRate: lr, Device: model.DeviceCPU})
	if err != nil {
		return result{}, err
	}
	defer m.Close()
	if err := m.Bind(trainSet, testSet); err != nil {
		return result{}, err
	}
	r := result{System: "tfsweep", Seed: seed}
	n := trainSet.Len()
	var later time.Duration
	start := time.Now()
	for epoch := range epochs {
		order := dataset.Permutation(n, seed, epoch)
		var batches [][]int32
		for from := 0; from < n; from += batch {
			b := make([]int32, 0, batch)
			for _, i := range order[from:min(from+batch, n)] {
				b = append(b, int32(i))
			}
			batches = append(batches, b)
		}
		losses, accs := make([]float32, len(batches)), make([]float32, len(batches))
		t0 := time.Now()
		if err := m.TrainSteps(batches, losses, accs); err != nil {
			return r, err
		}
		if epoch > 0 {
			later += time.Since(t0)
		}
		var sum float64
		for i, l := range losses {
			sum += float64(l) * float64(len(batches[i]))
		}
		r.Loss = sum / float64(n)
	}
	r.TrainingSeconds = time.Since(start).Seconds()
	if epochs > 1 {
		r.SamplesPerSec = float64(n*(epochs-1)) / later.Seconds()
	}
	r.ValLoss, r.ValAccuracy, err = m.Validate()
	return r, err
}
