package model

import (
	"errors"
	"fmt"
	"slices"

	tf "github.com/wamuir/graft/tensorflow"

	"github.com/tfsweep/tfsweep/spec"
)

// Fused trains T trials of one network shape as one graph, so that the cost of launching a kernel is
// paid once per step for all of them instead of once per trial. An MLP (fusedMLP) is batched over the
// trials: every matmul is one BatchMatMulV2 over them, and batch norm, the activations and the loss
// run once over the trials' stacked tensors. Any other network (a convnet, dropout, L2, ...) is every
// trial's forward pass built by the Model's own layer code side by side in the one graph
// (buildFusedModels), the same kernels a Model of the trial runs.
// Each trial still trains as the Model its Config describes would: its own initialiser and seed,
// learning rate, batches (a [T, B] index tensor gathers each trial's batch from the one bound training
// set; TrainSharedStep takes one batch for all), Adam state and step count, and batch-norm statistics.
// The loss differentiated is the sum of the trials' batch-mean losses, so each trial's gradient is its
// own.
//
// Each trial's weights and Adam slots are variables of their own, named as a Model names them, under
// trial_<t>/. The training pass stacks the trials' reads into [T, …] tensors, and every variable is
// updated by ResourceApplyAdam with its trial's learning rate, the kernel a Model's Adam runs: that
// kernel takes a scalar learning rate, and it makes one pass over the variable and its slots where
// Adam written as elementwise ops over stacked [T, …] slots would make a dozen.
//
// Its methods must not be called concurrently.
type Fused struct {
	trials        []Config // validated
	features      int      // values per example, as bound
	classes       int
	evalChunk     int // examples per evaluation call, as a Model of the network takes them
	graph         *fusedGraph
	sess          *tf.Session
	iterations    int64
	indexInputs   inputCache
	stepIndices   []int32 // a step's [T, B] indices, row-major
	trainExamples int
	valExamples   int
	// Each trial's last Validate's probabilities, [valExamples, classes], when a trial's Config sets
	// KeepValidationProbabilities; nil otherwise.
	valProbabilities [][]float32
}

// fusedVar is one trial's variable, with a read of its own for fetching its value.
type fusedVar struct {
	name   string // the Model's Keras path: "dense/kernel", "batch_normalization/moving_mean", ...
	shape  []int64
	handle tf.Output
	read   tf.Output
	assign assignment
}

// stackedVar is a [T] variable of one value per trial, the step counts or the learning rates.
type stackedVar struct {
	handle, read tf.Output
	assign       assignment
}

// fusedDense is one Dense layer of every trial (index t of each slice is trial t's variable) with,
// when the network has one after it, its batch normalisation.
type fusedDense struct {
	mlpLayer     // trial 0's
	kernel, bias []*fusedVar
	bn           *fusedBatchNorm
}

type fusedBatchNorm struct {
	name                                    string
	gamma, beta, movingMean, movingVariance []*fusedVar
}

// fusedGraph is the built graph with the handles Fused runs.
type fusedGraph struct {
	g                        *tf.Graph
	layers                   []fusedDense // the hidden layers, then the output layer
	weights                  [][]*fusedVar
	data                     dataVars
	perTrial                 fusedStep // indices [T, B]: each trial's own batch
	shared                   fusedStep // indices [B]: one batch for every trial
	evalStart, evalCount     tf.Output // int32 scalars
	evalLossSum, evalCorrect tf.Output // [T] float32 sums over the evaluated examples
	evalPenalty              tf.Output // [T] float32 L2 penalties at the current weights; no op without L2
	evalProbabilities        tf.Output // [T, N, K] softmax of the evaluated examples
	// trialVars are each trial's variables by their Model name: weights, moving statistics, Adam slots.
	trialVars    []map[string]*fusedVar
	steps, rates stackedVar // [T] int64 step counts, [T] float32 learning rates
	initAll      *tf.Operation
}

// fusedStep is one training step's feed and fetches.
type fusedStep struct {
	indices            tf.Output // int32 indices into the bound training set
	losses, accuracies tf.Output // [T] float32: each trial's batch means, before the update
	step               *tf.Operation
}

// NewFused validates the trials' configurations, builds their fused graph, opens a session and
// initialises every variable. The trials' networks must be one network but for their kernel
// initialisers (MLPs of one shape, see fusedMLP, are batched), and the trials must share the
// optimizer (Adam, at a constant learning rate), the device and the threads; they may differ in
// kernel initialisers, seed and learning rate.
func NewFused(trials []Config) (*Fused, error) {
	trials, mlps, err := checkFusable(trials)
	if err != nil {
		return nil, err
	}
	summary, err := trials[0].Network.Summary()
	if err != nil {
		return nil, fmt.Errorf("fused: %w", err)
	}
	var g *fusedGraph
	if mlps != nil {
		g, err = buildFused(trials, mlps)
	} else {
		g, err = buildFusedModels(trials)
	}
	if err != nil {
		return nil, err
	}
	config, err := sessionConfig(trials[0])
	if err != nil {
		return nil, err
	}
	sess, err := tf.NewSession(g.g, &tf.SessionOptions{Config: config})
	if err != nil {
		return nil, fmt.Errorf("fused: new session: %w", err)
	}
	devices, err := sessionDevices(sess)
	if err == nil {
		err = checkDevices(trials[0].Device, devices)
	}
	if err == nil {
		if _, err = sess.Run(nil, nil, []*tf.Operation{g.initAll}); err != nil {
			err = fmt.Errorf("fused: initialise variables: %w", err)
		}
	}
	if err != nil {
		sess.Close()
		return nil, err
	}
	f := &Fused{trials: trials, features: features(trials[0].Network.Input.Shape), classes: summary.Output[0],
		evalChunk: evalChunkFor(trials[0].Network, summary), graph: g, sess: sess, indexInputs: inputCache{dtype: tf.Int32}}
	if slices.ContainsFunc(trials, func(c Config) bool { return c.KeepValidationProbabilities }) {
		f.valProbabilities = make([][]float32, len(trials))
	}
	return f, nil
}

// checkFusable validates every trial, reads its network as an MLP when every trial's is one (else
// mlps is nil) and checks that the fused graph computes what each asks for; every problem is
// reported, each naming its trial and field or layer.
func checkFusable(trials []Config) ([]Config, []fusedMLP, error) {
	if len(trials) == 0 {
		return nil, nil, errors.New("fused: no trials")
	}
	var errs []error
	out, mlps := make([]Config, len(trials)), make([]fusedMLP, len(trials))
	for t, cfg := range trials {
		c, err := cfg.validate()
		if err == nil && mlps != nil {
			var ok bool
			if mlps[t], ok = mlpOf(c.Network); !ok {
				mlps = nil
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("trial %d: %w", t, err))
			continue
		}
		out[t] = c
		unsupported := []struct {
			field string
			bad   bool
		}{
			{"optimizer (only adam)", c.Optimizer != "adam"},
			{"schedule (only constant)", c.Schedule.Kind != spec.ScheduleConstant},
			{"weight decay", c.WeightDecay != 0},
			{"towers", c.Towers > 1},
			{"steps per call", c.StepsPerCall > 1},
		}
		for _, u := range unsupported {
			if u.bad {
				errs = append(errs, fmt.Errorf("trial %d: %s: not supported in fused training", t, u.field))
			}
		}
	}
	if len(errs) == 0 {
		errs = sameShape(out, mlps)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, fmt.Errorf("fused: %w", err)
	}
	return out, mlps, nil
}

// sameShape reports every way in which a trial differs from trial 0 where fused trials must agree:
// with mlps, the MLPs' shapes, else the networks but for their initialisers.
func sameShape(trials []Config, mlps []fusedMLP) []error {
	first := trials[0]
	var errs []error
	for t, c := range trials[1:] {
		var err error
		if mlps != nil {
			err = sameMLP(mlps[0], mlps[t+1])
		} else {
			err = sameNetwork(first.Network, c.Network)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("trial %d: %w", t+1, err))
		}
		same := []struct {
			field string
			equal bool
		}{
			{"device", c.Device == first.Device && c.VisibleGPUs == first.VisibleGPUs},
			{"threads", c.IntraOpThreads == first.IntraOpThreads && c.InterOpThreads == first.InterOpThreads},
		}
		for _, s := range same {
			if !s.equal {
				errs = append(errs, fmt.Errorf("trial %d: %s differs from trial 0's", t+1, s.field))
			}
		}
	}
	return errs
}

// Trials is the number of fused trials.
func (f *Fused) Trials() int { return len(f.trials) }

// Iterations is the number of fused steps run. A trial's own step count, which its Adam update
// uses, starts at 0 or at what CopyTrialsFrom gave it.
func (f *Fused) Iterations() int64 { return f.iterations }

// Bind copies the training and validation sets into the graph, as Model.Bind does: every trial
// trains on the one training set, each through its own batches' indices.
func (f *Fused) Bind(train, validation *Examples) error {
	if err := f.graph.data.bind(f.sess, train, validation, f.features, f.classes, "the trials take"); err != nil {
		return fmt.Errorf("fused: bind: %w", err)
	}
	f.trainExamples, f.valExamples = train.n, validation.n
	return nil
}

// TrainStep runs one optimizer step of every trial: batches[t] are the indices, into the bound
// training set, of trial t's examples, all batches of one size. It writes each trial's batch-mean
// loss and accuracy, computed before the update, to losses[t] and accuracies[t]. A NaN loss is
// returned, not treated as an error, as Model.TrainStep does.
func (f *Fused) TrainStep(batches [][]int32, losses, accuracies []float32) error {
	if err := f.checkStep(batches, len(f.trials), losses, accuracies); err != nil {
		return fmt.Errorf("fused: train step %d: %w", f.iterations+1, err)
	}
	f.stepIndices = f.stepIndices[:0]
	for _, b := range batches {
		f.stepIndices = append(f.stepIndices, b...)
	}
	return f.run(f.graph.perTrial, []int64{int64(len(batches)), int64(len(batches[0]))}, losses, accuracies)
}

// TrainSharedStep runs one optimizer step of every trial on the same batch, the indices of its
// examples in the bound training set, as TrainStep does when every row of batches is batch: the
// trials of a sweep that share their seed (and so their shuffling) and batch size see the same
// batches. Then the batch is gathered once, and every trial's first layer reads it as it is.
func (f *Fused) TrainSharedStep(batch []int32, losses, accuracies []float32) error {
	if err := f.checkStep([][]int32{batch}, 1, losses, accuracies); err != nil {
		return fmt.Errorf("fused: shared train step %d: %w", f.iterations+1, err)
	}
	f.stepIndices = append(f.stepIndices[:0], batch...)
	return f.run(f.graph.shared, []int64{int64(len(batch))}, losses, accuracies)
}

// run feeds f.stepIndices, of the shape, to step st and writes each trial's loss and accuracy.
func (f *Fused) run(st fusedStep, shape []int64, losses, accuracies []float32) error {
	x, err := f.indexInputs.tensor(shape, sliceBytes(f.stepIndices))
	if err != nil {
		return fmt.Errorf("fused: train step %d: indices tensor: %w", f.iterations+1, err)
	}
	out, err := f.sess.Run(map[tf.Output]*tf.Tensor{st.indices: x}, []tf.Output{st.losses, st.accuracies}, []*tf.Operation{st.step})
	if err != nil {
		return fmt.Errorf("fused: train step %d: %w", f.iterations+1, err)
	}
	defer release(out...)
	f.iterations++
	for i, dst := range [][]float32{losses, accuracies} {
		values, err := float32s(out[i])
		if err != nil {
			return fmt.Errorf("fused: train step %d: %w", f.iterations, err)
		}
		copy(dst, values)
	}
	return nil
}

// checkStep checks a step's batches, of which there must be want (one per trial, or one for all),
// and its outputs' lengths.
func (f *Fused) checkStep(batches [][]int32, want int, losses, accuracies []float32) error {
	if f.trainExamples == 0 {
		return errors.New("no training set bound (Bind)")
	}
	if len(batches) != want || len(losses) != len(f.trials) || len(accuracies) != len(f.trials) {
		return fmt.Errorf("%d batches (want %d), %d losses and %d accuracies for %d trials", len(batches), want, len(losses), len(accuracies), len(f.trials))
	}
	size := len(batches[0])
	for t, batch := range batches {
		if len(batch) == 0 || len(batch) != size {
			return fmt.Errorf("trial %d: batch of %d examples, want %d (> 0, one size for every trial)", t, len(batch), size)
		}
		for _, index := range batch {
			if index < 0 || int(index) >= f.trainExamples {
				return fmt.Errorf("trial %d: example %d is outside the training set of %d", t, index, f.trainExamples)
			}
		}
	}
	return nil
}

// Validate evaluates every trial over the bound validation set, as Model.Validate does: losses[t]
// and accuracies[t] are trial t's means, batch norm using its moving statistics. The trials'
// Config.ValidateConcurrency (trial 0's) parts of the set are evaluated at once, as a Model's are;
// the parts' sums add up in order.
func (f *Fused) Validate() (losses, accuracies []float64, err error) {
	if f.valExamples == 0 {
		return nil, nil, errors.New("fused: validate: no validation set bound (Bind)")
	}
	size := f.valExamples * f.classes
	for t, p := range f.valProbabilities {
		f.valProbabilities[t] = slices.Grow(p[:0], size)[:size]
	}
	concurrent := max(1, min(f.trials[0].ValidateConcurrency, f.valExamples))
	chunk := min(f.evalChunk, (f.valExamples+concurrent-1)/concurrent)
	type sums struct {
		loss, correct, penalty []float32
		err                    error
	}
	parts := make([]sums, (f.valExamples+chunk-1)/chunk)
	inTurn(len(parts), concurrent, func(i int) {
		start, end := i*chunk, min((i+1)*chunk, f.valExamples)
		p := &parts[i]
		if p.loss, p.correct, p.penalty, p.err = f.validateChunk(start, end); p.err != nil {
			p.err = fmt.Errorf("fused: validate examples %d-%d: %w", start, end, p.err)
		}
	})
	losses, accuracies = make([]float64, len(f.trials)), make([]float64, len(f.trials))
	for _, p := range parts {
		if p.err != nil {
			return nil, nil, p.err
		}
		for t := range losses {
			losses[t] += float64(p.loss[t])
			accuracies[t] += float64(p.correct[t])
		}
	}
	for t := range losses {
		// As Model.Validate: the mean, then the L2 penalty, which every chunk computed alike.
		losses[t] /= float64(f.valExamples)
		if parts[0].penalty != nil {
			losses[t] += float64(parts[0].penalty[t])
		}
		accuracies[t] /= float64(f.valExamples)
	}
	return losses, accuracies, nil
}

// validateChunk evaluates the validation examples [start, end): every trial's loss and correct
// sums, its L2 penalty (nil without L2), and with kept probabilities their rows of each trial's.
// Chunks may be evaluated at once.
func (f *Fused) validateChunk(start, end int) (lossSums, correct, penalty []float32, err error) {
	bounds, err := newTensors(int32(start), int32(end-start))
	if err != nil {
		return nil, nil, nil, err
	}
	defer release(bounds...)
	g := f.graph
	fetches := []tf.Output{g.evalLossSum, g.evalCorrect}
	// Every chunk computes the penalty, as a Model's does: one set of fetches for the session.
	if g.evalPenalty.Op != nil {
		fetches = append(fetches, g.evalPenalty)
	}
	probabilitiesAt := len(fetches)
	if f.valProbabilities != nil {
		fetches = append(fetches, g.evalProbabilities)
	}
	out, err := f.sess.Run(map[tf.Output]*tf.Tensor{g.evalStart: bounds[0], g.evalCount: bounds[1]}, fetches, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	defer release(out...)
	sums := make([][]float32, probabilitiesAt)
	for i := range sums {
		if sums[i], err = float32s(out[i]); err != nil {
			return nil, nil, nil, err
		}
	}
	if f.valProbabilities != nil {
		probabilities, err := float32s(out[probabilitiesAt])
		if err != nil {
			return nil, nil, nil, err
		}
		k, rows := f.classes, end-start
		for t, p := range f.valProbabilities {
			copy(p[start*k:end*k], probabilities[t*rows*k:(t+1)*rows*k])
		}
	}
	if len(sums) > 2 {
		penalty = sums[2]
	}
	return sums[0], sums[1], penalty, nil
}

// Weights returns trial t's trainable weights and batch-norm moving statistics with the names,
// shapes and order Model.Weights gives.
func (f *Fused) Weights(trial int) ([]Weight, error) {
	if trial < 0 || trial >= len(f.trials) {
		return nil, fmt.Errorf("fused: weights: no trial %d of %d", trial, len(f.trials))
	}
	vars := f.graph.weights[trial]
	fetches := make([]tf.Output, len(vars))
	for i, v := range vars {
		fetches[i] = v.read
	}
	out, err := f.sess.Run(nil, fetches, nil)
	if err != nil {
		return nil, fmt.Errorf("fused: read weights of trial %d: %w", trial, err)
	}
	defer release(out...)
	weights := make([]Weight, len(vars))
	for i, v := range vars {
		values, err := float32s(out[i])
		if err != nil {
			return nil, fmt.Errorf("fused: read weight %s of trial %d: %w", v.name, trial, err)
		}
		shape := make([]int, len(v.shape))
		for j, d := range v.shape {
			shape[j] = int(d)
		}
		weights[i] = Weight{Name: v.name, Shape: shape, Values: values}
	}
	return weights, nil
}

// Close releases the session and the cached input tensors. Fused is unusable afterwards.
func (f *Fused) Close() error {
	f.indexInputs.close()
	if err := f.sess.Close(); err != nil {
		return fmt.Errorf("fused: close session: %w", err)
	}
	return nil
}
