package sweep

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/dustin/go-humanize"

	"github.com/tfsweep/tfsweep/spec"
)

// memoryBytes estimates what one run of v holds at its peak: every weight four times over (the
// variable, its gradient and Adam's two slots) plus a copy the step reads; the outputs of every
// layer (spec.Summary's activations) for a training batch, kept for the backward pass, several
// times over for the gradients and temporaries; for an evaluation chunk, a forward pass alone, the
// largest layer output three times over (its input, itself and a temporary); and the worker's copies
// of the data as float32. It is an estimate to refuse what cannot fit before TensorFlow fails on it
// obscurely, not an accounting: TensorFlow's own overhead comes on top.
func memoryBytes(v spec.Variant, features, classes, trainExamples int) (weights, batch, other float64, err error) {
	const f32 = 4
	net, err := v.Network(features, classes)
	if err != nil {
		return 0, 0, 0, err
	}
	summary, err := net.Summary()
	if err != nil {
		return 0, 0, 0, err
	}
	params := float64(summary.Trainable + summary.NonTrainable)
	width := float64(summary.Activations - int64(net.Input.Shape.Elements())) // the layers' outputs per example
	largest := 0
	for _, l := range summary.Layers {
		largest = max(largest, l.Output.Elements())
	}
	weights = 5 * f32 * params
	batch = 6 * f32 * width * float64(v.BatchSize)
	other = 3*f32*float64(largest)*spec.EvalChunk + f32*float64(features)*float64(v.TrainExamples(trainExamples)+spec.EvalChunk)
	return weights, batch, other, nil
}

// checkMemory refuses runs whose estimate exceeds the memory this machine has available (what the
// kernel could give without swapping, not its total: other programs hold the rest) shared by the
// parallel workers, naming the axis that makes them too large. available is +Inf where it is unknown.
func (s *Sweep) checkMemory(available float64) error {
	if math.IsInf(available, 1) {
		return nil
	}
	budget := available / float64(s.opts.Parallel)
	for _, r := range s.runs {
		weights, batch, other, err := memoryBytes(r.Variant, s.features, s.classes, s.trainExamples)
		if err != nil {
			return fmt.Errorf("run %s: %w", r.Name, err)
		}
		need := weights + batch + other
		if need <= budget {
			continue
		}
		// The batch's activations are the batch size's doing; the rest grows with the layers.
		key := "hidden"
		if r.Model.File != "" {
			key = "model"
		}
		if batch > weights+other {
			key = "batch_size"
		}
		return fmt.Errorf("%s: run %s needs about %s of memory, more than the %s this machine has available shared by %d parallel runs",
			s.plan.origin(key), r.Name, humanBytes(need), humanBytes(available), s.opts.Parallel)
	}
	return nil
}

// largestNeed is the largest of the runs' memory estimates: what --parallel auto fits side by side.
func (s *Sweep) largestNeed() (float64, error) {
	largest := 0.0
	for _, r := range s.runs {
		weights, batch, other, err := memoryBytes(r.Variant, s.features, s.classes, s.trainExamples)
		if err != nil {
			return 0, fmt.Errorf("run %s: %w", r.Name, err)
		}
		largest = max(largest, weights+batch+other)
	}
	return largest, nil
}

// availableMemory is MemAvailable from /proc/meminfo, in bytes.
func availableMemory() (float64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return memAvailable(f)
}

// memAvailable reads MemAvailable from the text of /proc/meminfo. Kernels before 3.14 lack the
// line: then there is no estimate to trust, and the check is left to TensorFlow.
func memAvailable(meminfo io.Reader) (float64, error) {
	sc := bufio.NewScanner(meminfo)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemAvailable:" {
			kb, err := strconv.ParseFloat(fields[1], 64)
			return kb * 1024, err
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("/proc/meminfo has no MemAvailable")
}

// humanBytes prints an estimate in binary units; one past 8 EiB (a plan that could never run)
// prints as 8 EiB rather than wrapping.
func humanBytes(n float64) string { return humanize.IBytes(uint64(min(max(n, 0), 1<<63))) }
