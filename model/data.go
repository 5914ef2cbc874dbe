package model

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"unsafe"

	tf "github.com/wamuir/graft/tensorflow"
)

// Examples is a labelled set in TensorFlow's memory: float32 features, already scaled, and int32
// class labels. One Examples may be bound to many Models in turn (Bind): a worker converts its
// data once and every run it trains copies it into its graph, where each step gathers its batch.
type Examples struct {
	pixels, labels *tf.Tensor
	n, features    int
}

// NewExamples allocates a set of n examples of the given features and lets fill write them, row
// after row, straight into TensorFlow's buffers: pixels holds n·features values, labels n.
func NewExamples(n, features int, fill func(pixels []float32, labels []int32)) (*Examples, error) {
	if n <= 0 || features <= 0 {
		return nil, fmt.Errorf("examples: %d examples of %d features", n, features)
	}
	pixels, err := zeroTensor(tf.Float, []int64{int64(n), int64(features)})
	if err != nil {
		return nil, fmt.Errorf("examples: pixels: %w", err)
	}
	labels, err := zeroTensor(tf.Int32, []int64{int64(n)})
	if err != nil {
		release(pixels)
		return nil, fmt.Errorf("examples: labels: %w", err)
	}
	e := &Examples{pixels: pixels, labels: labels, n: n, features: features}
	if canRelease() {
		fill(tensorValues[float32](pixels), tensorValues[int32](labels))
		return e, nil
	}
	// graft's tensors without a reachable buffer: fill Go slices and copy them in.
	p, l := make([]float32, n*features), make([]int32, n)
	fill(p, l)
	if e.pixels, err = tf.ReadTensor(tf.Float, []int64{int64(n), int64(features)}, bytes.NewReader(sliceBytes(p))); err != nil {
		return nil, fmt.Errorf("examples: pixels: %w", err)
	}
	if e.labels, err = tf.ReadTensor(tf.Int32, []int64{int64(n)}, bytes.NewReader(sliceBytes(l))); err != nil {
		return nil, fmt.Errorf("examples: labels: %w", err)
	}
	return e, nil
}

// Len is the number of examples.
func (e *Examples) Len() int { return e.n }

// Close releases the TensorFlow buffers. Models the set was bound to keep their own copies.
func (e *Examples) Close() {
	release(e.pixels, e.labels)
}

// zeroTensor allocates a tensor of the shape, filled with zeros.
func zeroTensor(dtype tf.DataType, shape []int64) (*tf.Tensor, error) {
	n := int64(4) // float32 and int32
	for _, d := range shape {
		n *= d
	}
	return tf.ReadTensor(dtype, shape, io.LimitReader(zeros{}, n))
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// tensorValues views a float32 or int32 tensor's TensorFlow buffer as a slice (canRelease only).
func tensorValues[T float32 | int32](t *tf.Tensor) []T {
	b := tensorBytes(t)
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&b[0])), len(b)/4)
}

// Bind copies the training and validation sets into the model's graph: TrainSteps trains on the
// training set's examples by index, and Validate evaluates the whole validation set. Binding again
// replaces both. Every label must be a class of the model.
func (m *Model) Bind(train, validation *Examples) error {
	if err := m.graph.data.bind(m.sess, train, validation, m.graph.features, m.graph.numClasses, "the model takes"); err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	m.trainExamples, m.valExamples = train.n, validation.n
	return nil
}

// bind checks the sets against a network of the given features and classes and assigns them to
// the variables in sess. takes says who takes the features, in the message of a mismatch.
func (d dataVars) bind(sess *tf.Session, train, validation *Examples, features, classes int, takes string) error {
	if train == nil || validation == nil {
		return errors.New("a training and a validation set are needed")
	}
	for _, set := range []struct {
		name string
		e    *Examples
	}{{"training set", train}, {"validation set", validation}} {
		if set.e.features != features {
			return fmt.Errorf("the %s has %d features per example, %s %d", set.name, set.e.features, takes, features)
		}
		if canRelease() {
			for i, label := range tensorValues[int32](set.e.labels) {
				if label < 0 || int(label) >= classes {
					return fmt.Errorf("%s: label %d of example %d is outside [0, %d)", set.name, label, i, classes)
				}
			}
		}
	}
	feeds := map[tf.Output]*tf.Tensor{
		d.trainPixels.value: train.pixels, d.trainLabels.value: train.labels,
		d.valPixels.value: validation.pixels, d.valLabels.value: validation.labels,
	}
	_, err := sess.Run(feeds, nil, []*tf.Operation{d.trainPixels.op, d.trainLabels.op, d.valPixels.op, d.valLabels.op})
	return err
}

// TrainSteps runs one optimizer step per batch, in order: batches[i] are the indices, into the
// bound training set, of step i's examples. It writes each step's loss and accuracy (as TrainStep
// returns them) to losses[i] and accuracies[i], which must be as long as batches. With
// Config.StepsPerCall K > 1 every K consecutive batches of equal size run in one session call,
// the rest one per call; the results are the same either way. When a call fails, the steps of
// the calls before it have been taken and their results written.
func (m *Model) TrainSteps(batches [][]int32, losses, accuracies []float32) error {
	if m.trainExamples == 0 {
		return errors.New("train steps: no training set bound (Bind)")
	}
	if len(losses) != len(batches) || len(accuracies) != len(batches) {
		return fmt.Errorf("train steps: %d batches but %d losses and %d accuracies", len(batches), len(losses), len(accuracies))
	}
	for i, batch := range batches {
		if len(batch) == 0 {
			return fmt.Errorf("train steps: batch %d is empty", i)
		}
		for _, index := range batch {
			if index < 0 || int(index) >= m.trainExamples {
				return fmt.Errorf("train steps: batch %d: example %d is outside the training set of %d", i, index, m.trainExamples)
			}
		}
	}
	for i := 0; i < len(batches); {
		if k := m.chunkable(batches[i:]); k > 0 {
			if err := m.trainChunk(batches[i:i+k], losses[i:i+k], accuracies[i:i+k]); err != nil {
				return fmt.Errorf("train steps %d-%d: %w", m.iterations+1, m.iterations+int64(k), err)
			}
			i += k
			continue
		}
		x, err := m.indexInputs.tensor([]int64{int64(len(batches[i]))}, sliceBytes(batches[i]))
		if err != nil {
			return fmt.Errorf("train step: indices tensor: %w", err)
		}
		out, err := m.sess.Run(map[tf.Output]*tf.Tensor{m.graph.indices: x}, m.trainFetches, m.trainTargets)
		if err != nil {
			return fmt.Errorf("train step %d: %w", m.iterations+1, err)
		}
		losses[i], accuracies[i] = out[0].Value().(float32), out[1].Value().(float32)
		release(out...)
		m.iterations++
		i++
	}
	return nil
}

// chunkable is the number of leading batches one chunk call trains: the chunk's size when the
// graph has a chunk and that many batches of equal size lead, else 0.
func (m *Model) chunkable(batches [][]int32) int {
	c := m.graph.chunk
	if c == nil || len(batches) < c.size {
		return 0
	}
	for _, b := range batches[1:c.size] {
		if len(b) != len(batches[0]) {
			return 0
		}
	}
	return c.size
}

func (m *Model) trainChunk(batches [][]int32, losses, accuracies []float32) error {
	c := m.graph.chunk
	size := len(batches[0])
	m.chunkIndices = m.chunkIndices[:0]
	for _, b := range batches {
		m.chunkIndices = append(m.chunkIndices, b...)
	}
	x, err := m.indexInputs.tensor([]int64{int64(c.size), int64(size)}, sliceBytes(m.chunkIndices))
	if err != nil {
		return fmt.Errorf("indices tensor: %w", err)
	}
	out, err := m.sess.Run(map[tf.Output]*tf.Tensor{c.indices: x}, []tf.Output{c.losses, c.accuracies}, []*tf.Operation{c.last})
	if err != nil {
		return err
	}
	defer release(out...)
	l, err := float32s(out[0])
	if err != nil {
		return fmt.Errorf("losses: %w", err)
	}
	a, err := float32s(out[1])
	if err != nil {
		return fmt.Errorf("accuracies: %w", err)
	}
	if len(l) != c.size || len(a) != c.size {
		return fmt.Errorf("chunk returned %d losses and %d accuracies for %d steps", len(l), len(a), c.size)
	}
	copy(losses, l)
	copy(accuracies, a)
	m.iterations += int64(c.size)
	return nil
}

// Validate is Evaluate over the bound validation set, Config.ValidateConcurrency parts at once.
func (m *Model) Validate() (loss, accuracy float64, err error) {
	if m.valExamples == 0 {
		return 0, 0, errors.New("validate: no validation set bound (Bind)")
	}
	var probabilities []float32
	if m.cfg.KeepValidationProbabilities {
		// Reused: ValidationProbabilities' result is documented as valid until the next Validate.
		m.valProbabilities = slices.Grow(m.valProbabilities[:0], m.valExamples*m.graph.numClasses)[:m.valExamples*m.graph.numClasses]
		probabilities = m.valProbabilities
	}
	loss, accuracy, err = m.evaluate(m.valExamples, m.cfg.ValidateConcurrency, func(start, end int) (map[tf.Output]*tf.Tensor, func(), error) {
		t, err := newTensors(int32(start), int32(end-start))
		if err != nil {
			return nil, nil, err
		}
		return map[tf.Output]*tf.Tensor{m.graph.evalStart: t[0], m.graph.evalCount: t[1]}, func() { release(t...) }, nil
	}, probabilities)
	if err != nil {
		m.valProbabilities = m.valProbabilities[:0]
	}
	return loss, accuracy, err
}

// ValidationProbabilities returns the softmax probabilities of every bound validation example,
// row-major [examples, classes], from the last Validate, when Config.KeepValidationProbabilities is
// set; nil before the first Validate, after a failed one, or without the setting. The slice is
// overwritten by the next Validate.
func (m *Model) ValidationProbabilities() []float32 {
	if len(m.valProbabilities) == 0 {
		return nil
	}
	return m.valProbabilities
}
