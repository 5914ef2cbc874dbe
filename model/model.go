// Package model builds a network described in Keras' terms (spec.Network: the lab report's MLP, a
// convnet, a functional graph with Add and Concatenate) as a TensorFlow graph and trains it through
// the TensorFlow C API (github.com/wamuir/graft), reproducing Keras 3: Dense, Conv2D, MaxPooling2D,
// AveragePooling2D, GlobalAveragePooling2D, Flatten, Reshape, Dropout, BatchNormalization,
// Activation, Rescaling, Add and Concatenate layers (layers.go), a softmax output, sparse
// categorical cross-entropy with optional L2 kernel penalties, and Keras 3's Adam, SGD, RMSprop,
// AdamW, Adagrad or Nadam with a constant or scheduled learning rate. testdata/keras_fixture.py
// records the Keras trajectories the tests replay.
//
// A Model trains on data it holds: Bind copies a training and a validation set (Examples) into graph
// variables once, TrainSteps is fed only the example indices of each batch and gathers the batch in
// the graph, Config.StepsPerCall steps per session call, and Validate evaluates the held validation
// set. TrainStep and Evaluate take fed arrays instead, with the same results to the bit.
//
// A Model's whole training state goes to and comes from TensorFlow checkpoints under Keras 3 variable
// paths (SaveCheckpoint, RestoreCheckpoint; checkpoint.go), and its inference pass exports as a
// SavedModel that TensorFlow, TF Serving and LoadSavedModel load (ExportSavedModel, Predictor;
// savedmodel.go).
//
// Every derivative comes from TensorFlow's C++ gradient registry (op.Gradients); the package
// writes no backward pass of its own, and only points a few gradient inputs at equal values so that
// Grappler can fuse each layer's contraction, bias and activation (gradfeatures.go). TensorFlow
// types stay inside: the API takes and returns plain slices.
//
// Environment: TensorFlow prints INFO lines to stderr when the library loads, before any Go code
// runs, so only TF_CPP_MIN_LOG_LEVEL=1 (or 2) in the process environment hides them.
// TF_ENABLE_ONEDNN_OPTS=0 turns oneDNN off; runs are repeatable bit for bit either way, but the two
// settings round differently. TF_OVERRIDE_GLOBAL_THREADPOOL=1 gives every session its own intra-op
// pool (see Config.IntraOpThreads).
package model

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"unsafe"

	"github.com/tfsweep/tfsweep/spec"
	tf "github.com/wamuir/graft/tensorflow"
)

// Model is a network with its TensorFlow session. Its methods must not be called concurrently.
type Model struct {
	cfg        Config
	graph      *graph
	sess       *tf.Session
	iterations int64
	device     string // see Device

	// Reused across steps: a step refills the cached input tensors and allocates nothing on the
	// TensorFlow side that outlives it (the fetched tensors are released once read).
	feeds       map[tf.Output]*tf.Tensor
	pixelInputs inputCache
	labelInputs inputCache
	indexInputs inputCache
	// TrainStep's indices into its own fed batch, 0…n-1 (the training pass gathers its rows by index).
	fedIndices   inputCache
	identity     []int32
	chunkIndices []int32 // a chunk's batches, concatenated
	trainFetches []tf.Output
	trainTargets []*tf.Operation

	trainExamples, valExamples int // the bound sets' sizes (Bind), 0 before
	// The last Validate's probabilities, [valExamples, classes], with KeepValidationProbabilities.
	valProbabilities []float32
}

// New validates cfg, builds the graph, opens a session and initialises every variable.
func New(cfg Config) (*Model, error) { return openModel(cfg, sessionConfig) }

// openModel is New with the session's ConfigProto from configure.
func openModel(cfg Config, configure func(Config) ([]byte, error)) (*Model, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	g, err := buildGraph(cfg)
	if err != nil {
		return nil, err
	}
	config, err := configure(cfg)
	if err != nil {
		return nil, err
	}
	sess, err := tf.NewSession(g.g, &tf.SessionOptions{Config: config})
	if err != nil {
		return nil, fmt.Errorf("new session: %w", err)
	}
	m := &Model{
		cfg:          cfg,
		graph:        g,
		sess:         sess,
		feeds:        make(map[tf.Output]*tf.Tensor, 4),
		pixelInputs:  inputCache{dtype: tf.Float},
		labelInputs:  inputCache{dtype: tf.Int32},
		indexInputs:  inputCache{dtype: tf.Int32},
		fedIndices:   inputCache{dtype: tf.Int32},
		trainFetches: []tf.Output{g.single.loss, g.single.accuracy},
		trainTargets: []*tf.Operation{g.single.increment},
	}
	devices, err := sessionDevices(sess)
	if err == nil {
		err = checkDevices(cfg.Device, devices)
	}
	if err == nil {
		if _, err = sess.Run(nil, nil, []*tf.Operation{g.initAll}); err != nil {
			err = fmt.Errorf("initialise variables: %w", err)
		}
	}
	if err != nil {
		sess.Close()
		return nil, err
	}
	m.device = placement(cfg.Device, devices)
	return m, nil
}

// Device is where the network's ops run, as TensorFlow names the device type: "GPU:0" when the
// session has a GPU and the configuration allows it, else "CPU:0".
func (m *Model) Device() string { return m.device }

func placement(device string, devices []spec.Device) string {
	if device != DeviceCPU {
		for _, d := range devices {
			if d.Type == "GPU" {
				return "GPU:0"
			}
		}
	}
	return "CPU:0"
}

// Config returns the validated configuration: defaults filled in (see Validate), names canonical.
func (m *Model) Config() Config { return m.cfg }

// TrainStep runs one optimizer step on one batch: pixels holds len(labels) examples of the network's input
// flattened, labels are class indices. It returns the batch's mean loss (plus the kernels' L2 penalties, as
// Keras' logged loss) and accuracy computed before the update, as Keras reports them. A NaN or infinite loss
// is returned, not treated as an error: stopping a diverged run is the training loop's decision (trainer.Fit,
// as Keras' TerminateOnNaN).
func (m *Model) TrainStep(pixels []float32, labels []int32) (loss, accuracy float32, err error) {
	if err := m.feed(pixels, labels); err != nil {
		return 0, 0, fmt.Errorf("train step: %w", err)
	}
	out, err := m.sess.Run(m.feeds, m.trainFetches, m.trainTargets)
	if err != nil {
		return 0, 0, fmt.Errorf("train step %d: %w", m.iterations+1, err)
	}
	defer release(out...)
	m.iterations++
	return out[0].Value().(float32), out[1].Value().(float32), nil
}

// Evaluate returns the mean loss and accuracy over all examples, batch norm using its moving
// statistics and no dropout. The loss includes the kernels' L2 penalties at the current weights,
// as Keras' val_loss does. It feeds at most spec.EvalChunk examples per run (evalChunk) and
// changes no variable.
func (m *Model) Evaluate(pixels []float32, labels []int32) (loss, accuracy float64, err error) {
	n := len(labels)
	if n == 0 {
		return 0, 0, errors.New("evaluate: no examples")
	}
	if len(pixels) != n*m.graph.features {
		return 0, 0, fmt.Errorf("evaluate: %d pixels for %d labels of %d features", len(pixels), n, m.graph.features)
	}
	return m.evaluate(n, 1, func(start, end int) (map[tf.Output]*tf.Tensor, func(), error) {
		if err := m.feed(pixels[start*m.graph.features:end*m.graph.features], labels[start:end]); err != nil {
			return nil, nil, err
		}
		return m.feeds, func() {}, nil
	}, nil)
}

// evaluate sums the evaluation pass over n examples in chunks of at most the graph's evalChunk, concurrent
// calls at once (the chunks then n/concurrent examples each); chunk gives the feeds of examples
// [start, end) and a function that releases them, and must be safe to call concurrently when
// concurrent > 1. The chunks' sums add up in chunk order. A non-nil probabilities, n rows of the
// classes, receives every example's softmax probabilities from the same pass.
func (m *Model) evaluate(n, concurrent int, chunk func(start, end int) (map[tf.Output]*tf.Tensor, func(), error), probabilities []float32) (loss, accuracy float64, err error) {
	fetches := []tf.Output{m.graph.evalLossSum, m.graph.evalCorrect}
	// Every chunk's call also computes the L2 penalty, a function of the weights alone, rather than
	// one call of its own: a session optimises each new signature of feeds and fetches on its first
	// call, and a short run's validations are few.
	withPenalty := m.graph.evalPenalty.Op != nil
	if withPenalty {
		fetches = append(fetches, m.graph.evalPenalty)
	}
	probabilitiesAt := len(fetches)
	if probabilities != nil {
		fetches = append(fetches, m.graph.probabilities)
	}
	concurrent = max(1, min(concurrent, n))
	size := min(m.graph.evalChunk, (n+concurrent-1)/concurrent)
	type sums struct {
		loss, correct, penalty float64
		err                    error
	}
	parts := make([]sums, (n+size-1)/size)
	run := func(i int) {
		start, end := i*size, min((i+1)*size, n)
		feeds, done, err := chunk(start, end)
		if err != nil {
			parts[i].err = fmt.Errorf("evaluate: %w", err)
			return
		}
		out, err := m.sess.Run(feeds, fetches, nil)
		done()
		if err != nil {
			parts[i].err = fmt.Errorf("evaluate examples %d-%d: %w", start, end, err)
			return
		}
		parts[i] = sums{loss: float64(out[0].Value().(float32)), correct: float64(out[1].Value().(float32))}
		if withPenalty {
			parts[i].penalty = float64(out[2].Value().(float32))
		}
		if probabilities != nil {
			parts[i].err = copyProbabilities(probabilities[start*m.graph.numClasses:end*m.graph.numClasses], out[probabilitiesAt])
		}
		release(out...)
	}
	// A failed chunk leaves the others to finish, and the first failure in chunk order is returned.
	inTurn(len(parts), concurrent, run)
	var lossSum, correct float64
	for _, p := range parts {
		if p.err != nil {
			return 0, 0, p.err
		}
		lossSum += p.loss
		correct += p.correct
	}
	return lossSum/float64(n) + parts[0].penalty, correct / float64(n), nil
}

// inTurn calls run(i) for every i in [0, n) from concurrent goroutines that take the indices in turn
// (with one, in order), and returns when all calls have returned.
func inTurn(n, concurrent int, run func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	for range concurrent {
		wg.Go(func() {
			for i := range next {
				run(i)
			}
		})
	}
	wg.Wait()
}

// LearningRate returns the learning rate the next step uses: the schedule at Iterations(), what
// Keras' optimizer.learning_rate gives and its TensorBoard callback logs as epoch_learning_rate.
func (m *Model) LearningRate() (float64, error) {
	out, err := m.sess.Run(nil, []tf.Output{m.graph.single.learningRate}, nil)
	if err != nil {
		return 0, fmt.Errorf("read learning rate: %w", err)
	}
	defer release(out...)
	return float64(out[0].Value().(float32)), nil
}

// SetLearningRate sets the learning rate of the following steps, as a ReduceLROnPlateau callback
// assigns optimizer.learning_rate. It is allowed only with the constant schedule: as in Keras 3,
// a schedule's learning rate cannot be assigned. The value is stored in float32, as Keras stores it.
func (m *Model) SetLearningRate(lr float64) error {
	if m.graph.lrVar == nil {
		return fmt.Errorf("set learning rate: the %s schedule decides the learning rate; only the constant schedule can be set", m.cfg.Schedule.Kind)
	}
	if !(lr > 0) || math.IsInf(lr, 0) {
		return fmt.Errorf("set learning rate: must be positive and finite, got %v", lr)
	}
	a := m.graph.assign[m.graph.lrVar]
	t, err := tf.NewTensor(float32(lr))
	if err != nil {
		return fmt.Errorf("set learning rate: %w", err)
	}
	defer release(t)
	if _, err := m.sess.Run(map[tf.Output]*tf.Tensor{a.value: t}, nil, []*tf.Operation{a.op}); err != nil {
		return fmt.Errorf("set learning rate: %w", err)
	}
	return nil
}

// Iterations is the number of optimizer steps taken, Keras' optimizer.iterations.
func (m *Model) Iterations() int64 { return m.iterations }

// Weight is one variable's current value, row-major.
type Weight struct {
	Name   string // Keras 3 path: "dense/kernel", "batch_normalization/moving_mean", ...
	Shape  []int
	Values []float32
}

// Weights returns the trainable weights and the batch-norm moving statistics in Keras'
// model.weights order: per layer kernel, bias, then gamma, beta, moving_mean, moving_variance.
func (m *Model) Weights() ([]Weight, error) {
	vars := m.graph.weights
	fetches := make([]tf.Output, len(vars))
	for i, v := range vars {
		fetches[i] = m.graph.eval.reads[v]
	}
	out, err := m.sess.Run(nil, fetches, nil)
	if err != nil {
		return nil, fmt.Errorf("read weights: %w", err)
	}
	defer release(out...)
	weights := make([]Weight, len(vars))
	for i, v := range vars {
		shape := make([]int, len(v.shape))
		for j, d := range v.shape {
			shape[j] = int(d)
		}
		values, err := float32s(out[i])
		if err != nil {
			return nil, fmt.Errorf("read weight %s: %w", v.name, err)
		}
		weights[i] = Weight{Name: v.name, Shape: shape, Values: values}
	}
	return weights, nil
}

// SetWeights assigns weights by name, the inverse of Weights (EarlyStopping's
// restore_best_weights): every element must name one of Weights()' variables with its shape; any
// subset may be given, in any order. Optimizer slots and the iteration count are left alone, as Keras'
// model.set_weights leaves them. Nothing is assigned when any element is wrong.
func (m *Model) SetWeights(weights []Weight) error {
	byName := make(map[string]*variable, len(m.graph.weights))
	for _, v := range m.graph.weights {
		byName[v.name] = v
	}
	feeds := make(map[tf.Output]*tf.Tensor, len(weights))
	defer func() {
		for _, t := range feeds {
			release(t)
		}
	}()
	targets := make([]*tf.Operation, 0, len(weights))
	seen := make(map[string]bool, len(weights))
	for _, w := range weights {
		v, ok := byName[w.Name]
		if !ok {
			return fmt.Errorf("set weights: the model has no weight %q", w.Name)
		}
		if seen[w.Name] {
			return fmt.Errorf("set weights: %s given twice", w.Name)
		}
		seen[w.Name] = true
		if !slices.Equal(toInt64s(w.Shape), v.shape) {
			return fmt.Errorf("set weights: %s has shape %v, want %v", w.Name, w.Shape, v.shape)
		}
		if n := numValues(v.shape); len(w.Values) != n {
			return fmt.Errorf("set weights: %s has %d values, want %d", w.Name, len(w.Values), n)
		}
		t, err := tf.ReadTensor(tf.Float, v.shape, bytes.NewReader(sliceBytes(w.Values)))
		if err != nil {
			return fmt.Errorf("set weights: %s: %w", w.Name, err)
		}
		a := m.graph.assign[v]
		feeds[a.value] = t
		targets = append(targets, a.op)
	}
	if len(targets) == 0 {
		return nil
	}
	if _, err := m.sess.Run(feeds, nil, targets); err != nil {
		return fmt.Errorf("set weights: %w", err)
	}
	return nil
}

func toInt64s(shape []int) []int64 {
	out := make([]int64, len(shape))
	for i, d := range shape {
		out[i] = int64(d)
	}
	return out
}

func numValues(shape []int64) int {
	n := 1
	for _, d := range shape {
		n *= int(d)
	}
	return n
}

// GraphDef returns the serialized GraphDef of the whole graph (training step, evaluation pass and
// initialisers), for TensorBoard's graph dashboard.
func (m *Model) GraphDef() ([]byte, error) {
	var buf bytes.Buffer
	if _, err := m.graph.g.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("serialize graph: %w", err)
	}
	return buf.Bytes(), nil
}

// Close releases the session and the cached input tensors. The Model is unusable afterwards.
func (m *Model) Close() error {
	m.pixelInputs.close()
	m.labelInputs.close()
	m.indexInputs.close()
	m.fedIndices.close()
	clear(m.feeds)
	if err := m.sess.Close(); err != nil {
		return fmt.Errorf("close session: %w", err)
	}
	return nil
}

// feed puts a batch into m.feeds. The pixels are copied once into a TensorFlow-owned buffer, the
// cached input tensor of that batch shape (see inputCache), straight from the slice's bytes, where
// tf.NewTensor would walk the slice through reflection.
func (m *Model) feed(pixels []float32, labels []int32) error {
	n := len(labels)
	if n == 0 {
		return errors.New("empty batch")
	}
	if len(pixels) != n*m.graph.features {
		return fmt.Errorf("%d pixels for %d labels of %d features", len(pixels), n, m.graph.features)
	}
	for i, label := range labels {
		if label < 0 || int(label) >= m.graph.numClasses {
			return fmt.Errorf("label %d of example %d is outside [0, %d)", label, i, m.graph.numClasses)
		}
	}
	x, err := m.pixelInputs.tensor([]int64{int64(n), int64(m.graph.features)}, sliceBytes(pixels))
	if err != nil {
		return fmt.Errorf("pixels tensor: %w", err)
	}
	y, err := m.labelInputs.tensor([]int64{int64(n)}, sliceBytes(labels))
	if err != nil {
		return fmt.Errorf("labels tensor: %w", err)
	}
	for i := len(m.identity); i < n; i++ {
		m.identity = append(m.identity, int32(i))
	}
	ix, err := m.fedIndices.tensor([]int64{int64(n)}, sliceBytes(m.identity[:n]))
	if err != nil {
		return fmt.Errorf("indices tensor: %w", err)
	}
	// Both passes' inputs: a train step's fetches read the training pass, which gathers every row of
	// the batch in order, an evaluation's the other.
	m.feeds[m.graph.trainSource], m.feeds[m.graph.pixels] = x, x
	m.feeds[m.graph.trainLabelSource], m.feeds[m.graph.labels] = y, y
	m.feeds[m.graph.indices] = ix
	return nil
}

// sliceBytes views a slice of 4-byte numbers as its bytes, in the host's byte order, which is the
// order TensorFlow's tensor buffers use.
func sliceBytes[T float32 | int32](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*4)
}

// float32s flattens a float32 tensor of any rank.
// copyProbabilities copies a chunk's fetched probabilities into dst, which must be their size.
func copyProbabilities(dst []float32, t *tf.Tensor) error {
	p, err := float32s(t)
	if err != nil {
		return fmt.Errorf("evaluate: probabilities: %w", err)
	}
	if len(p) != len(dst) {
		return fmt.Errorf("evaluate: %d probabilities for %d", len(p), len(dst))
	}
	copy(dst, p)
	return nil
}

func float32s(t *tf.Tensor) ([]float32, error) {
	n := 1
	for _, d := range t.Shape() {
		n *= int(d)
	}
	out := make([]float32, n)
	if n == 0 {
		return out, nil
	}
	if t.DataType() != tf.Float {
		return nil, fmt.Errorf("tensor type %v, want float32", t.DataType())
	}
	var buf bytes.Buffer
	if _, err := t.WriteContentsTo(&buf); err != nil {
		return nil, err
	}
	copy(sliceBytes(out), buf.Bytes())
	return out, nil
}
