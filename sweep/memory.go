package sweep

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/dustin/go-humanize"

	"github.com/tfsweep/tfsweep/spec"
)

// memoryBytes estimates what one run of v holds at its peak: every weight four times over (the
// variable, its gradient and Adam's two slots) plus a copy the step reads, the activations of a
// training batch and of an evaluation chunk, and the worker's copies of the data as float32.
// It is an estimate to refuse what cannot fit before TensorFlow fails on it obscurely, not an
// accounting: TensorFlow's own overhead comes on top.
func memoryBytes(v spec.Variant, features, trainExamples int) (weights, batch, other float64) {
	const classes, f32 = 10, 4
	in, params, width := features, 0.0, 0.0
	for _, h := range append(append([]int(nil), v.Hidden...), classes) {
		params += float64(in)*float64(h) + 5*float64(h) // kernel, bias, batch norm's four vectors
		width += float64(h)
		in = h
	}
	weights = 5 * f32 * params
	batch = 6 * f32 * width * float64(v.BatchSize)
	other = 6*f32*width*spec.EvalChunk + f32*float64(features)*float64(v.TrainExamples(trainExamples)+spec.EvalChunk)
	return weights, batch, other
}

// checkMemory refuses runs whose estimate exceeds this machine's memory shared by the parallel
// workers, naming the axis that makes them too large.
func (s *Sweep) checkMemory() error {
	total, err := machineMemory()
	if err != nil {
		return nil // no /proc/meminfo: nothing to compare against, TensorFlow will say
	}
	budget := total / float64(s.opts.Parallel)
	for _, r := range s.runs {
		weights, batch, other := memoryBytes(r.Variant, s.features, s.trainExamples)
		need := weights + batch + other
		if need <= budget {
			continue
		}
		// The batch's activations are the batch size's doing; the rest grows with the layers.
		key := "hidden"
		if batch > weights+other {
			key = "batch_size"
		}
		return fmt.Errorf("%s: run %s needs about %s of memory, more than this machine's %s shared by %d parallel runs",
			s.plan.origin(key), r.Name, humanBytes(need), humanBytes(total), s.opts.Parallel)
	}
	return nil
}

// machineMemory is MemTotal from /proc/meminfo, in bytes.
func machineMemory() (float64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseFloat(fields[1], 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("/proc/meminfo has no MemTotal")
}

// humanBytes prints an estimate in binary units; one past 8 EiB (a plan that could never run)
// prints as 8 EiB rather than wrapping.
func humanBytes(n float64) string { return humanize.IBytes(uint64(min(max(n, 0), 1<<63))) }
