package dataset

import (
	"fmt"
	"iter"
	"math/rand/v2"

	"github.com/tfsweep/tfsweep/spec"
)

// table maps every byte value to its float32 feature. ScaleUnit divides in float32, as Keras's
// x.astype("float32") / 255 does, so both feed the network bit-identical inputs.
func scaleTable(s spec.Scaling) *[256]float32 {
	var t [256]float32
	switch s {
	case spec.ScaleUnit:
		for i := range t {
			t[i] = float32(i) / 255
		}
	case spec.ScaleNone:
		for i := range t {
			t[i] = float32(i)
		}
	default:
		panic(fmt.Sprintf("dataset: unknown %v", s))
	}
	return &t
}

// Permutation returns the example order for one epoch: deterministic from (seed, epoch), a fresh shuffle each
// epoch. Each (seed, epoch) pair seeds its own PCG, so an epoch's order does not depend on the epochs before it
// and a resumed run sees the same orders as an uninterrupted one.
func Permutation(n int, seed int64, epoch int) []int {
	return rand.New(rand.NewPCG(uint64(seed), uint64(epoch))).Perm(n)
}

// Batch is one mini-batch; its slices are reused by the iterator: copy them to keep them.
type Batch struct {
	Pixels []float32 // len(Labels)*Features()
	Labels []int32
}

// Batches yields consecutive batches of size examples taken from s in the given order; the last partial
// batch is kept (as Keras does). The iterator allocates its two buffers once and refills them for every
// batch. It panics if size < 1 or an index in order is out of range.
func (s *Split) Batches(order []int, size int, scale spec.Scaling) iter.Seq[Batch] {
	if size < 1 {
		panic(fmt.Sprintf("dataset: batch size %d, want ≥ 1", size))
	}
	table := scaleTable(scale)
	return func(yield func(Batch) bool) {
		f := s.Features()
		capacity := min(size, len(order))
		pixels := make([]float32, capacity*f)
		labels := make([]int32, capacity)
		for start := 0; start < len(order); start += size {
			idx := order[start:min(start+size, len(order))]
			b := Batch{Pixels: pixels[:len(idx)*f], Labels: labels[:len(idx)]}
			for j, i := range idx {
				convert(b.Pixels[j*f:(j+1)*f], s.Pixels[i*f:(i+1)*f], table)
				b.Labels[j] = int32(s.Labels[i])
			}
			if !yield(b) {
				return
			}
		}
	}
}

// Float32 converts the whole split once.
func (s *Split) Float32(scale spec.Scaling) (pixels []float32, labels []int32) {
	pixels = make([]float32, len(s.Pixels))
	labels = make([]int32, len(s.Labels))
	s.Float32Into(pixels, labels, scale)
	return pixels, labels
}

// Float32Into converts the whole split into pixels and labels, which must hold Len()·Features() and
// Len() values; it panics otherwise.
func (s *Split) Float32Into(pixels []float32, labels []int32, scale spec.Scaling) {
	if len(pixels) != len(s.Pixels) || len(labels) != len(s.Labels) {
		panic(fmt.Sprintf("dataset: Float32Into %d pixels and %d labels of a split of %d and %d", len(pixels), len(labels), len(s.Pixels), len(s.Labels)))
	}
	convert(pixels, s.Pixels, scaleTable(scale))
	for i, l := range s.Labels {
		labels[i] = int32(l)
	}
}

func convert(dst []float32, src []byte, table *[256]float32) {
	dst = dst[:len(src)]
	for i, p := range src {
		dst[i] = table[p]
	}
}
