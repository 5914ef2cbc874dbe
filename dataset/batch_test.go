package dataset

import (
	"fmt"
	"slices"
	"testing"

	"github.com/tfsweep/tfsweep/spec"
)

// split builds an in-memory split of n examples of 2×2 pixels; example i has every pixel and its label set to
// i, so a batch shows which examples it holds.
func split(n int) *Split {
	s := &Split{Pixels: make([]byte, 4*n), Labels: make([]byte, n), Rows: 2, Cols: 2}
	for i := range n {
		for j := range 4 {
			s.Pixels[4*i+j] = byte(i)
		}
		s.Labels[i] = byte(i)
	}
	return s
}

func TestPermutation(t *testing.T) {
	const n = 1000
	p := Permutation(n, 42, 0)
	if !slices.Equal(slices.Sorted(slices.Values(p)), identity(n)) {
		t.Fatalf("Permutation(%d, 42, 0) is not a permutation of 0..%d", n, n-1)
	}
	if !slices.Equal(p, Permutation(n, 42, 0)) {
		t.Errorf("same seed and epoch gave different orders")
	}
	if slices.Equal(p, identity(n)) {
		t.Errorf("Permutation did not shuffle")
	}
	for _, other := range []struct {
		seed  int64
		epoch int
	}{{42, 1}, {42, 2}, {43, 0}, {-42, 0}} {
		if slices.Equal(p, Permutation(n, other.seed, other.epoch)) {
			t.Errorf("seed %d epoch %d gave the same order as seed 42 epoch 0", other.seed, other.epoch)
		}
	}
	if got := Permutation(0, 1, 1); len(got) != 0 {
		t.Errorf("Permutation(0, …) = %v, want empty", got)
	}
}

func identity(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	return p
}

func TestBatches(t *testing.T) {
	tests := []struct {
		n, size int
		sizes   []int
	}{
		{10, 4, []int{4, 4, 2}},
		{12, 4, []int{4, 4, 4}},
		{3, 10, []int{3}},
		{5, 1, []int{1, 1, 1, 1, 1}},
		{0, 4, nil},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d by %d", tc.n, tc.size), func(t *testing.T) {
			s := split(tc.n)
			order := Permutation(tc.n, 7, 3)
			var sizes, seen []int
			for b := range s.Batches(order, tc.size, spec.ScaleNone) {
				sizes = append(sizes, len(b.Labels))
				if len(b.Pixels) != len(b.Labels)*s.Features() {
					t.Errorf("batch has %d pixels for %d labels", len(b.Pixels), len(b.Labels))
				}
				for j, l := range b.Labels {
					seen = append(seen, int(l))
					for _, p := range b.Pixels[j*4 : (j+1)*4] {
						if p != float32(l) {
							t.Errorf("example with label %d has pixel %v: pixels and labels out of step", l, p)
						}
					}
				}
			}
			if !slices.Equal(sizes, tc.sizes) {
				t.Errorf("batch sizes %v, want %v", sizes, tc.sizes)
			}
			if !slices.Equal(seen, order) {
				t.Errorf("examples came as %v, want the order %v", seen, order)
			}
			if !slices.Equal(slices.Sorted(slices.Values(seen)), identity(tc.n)) {
				t.Errorf("an epoch did not visit every example exactly once: %v", seen)
			}
		})
	}
}

func TestBatchesStopsEarly(t *testing.T) {
	s := split(10)
	count := 0
	for range s.Batches(identity(10), 3, spec.ScaleUnit) {
		count++
		if count == 2 {
			break
		}
	}
	if count != 2 {
		t.Errorf("loop ran %d times after break at 2", count)
	}
}

func TestBatchesPanicsOnBadSize(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Errorf("Batches with size 0 did not panic")
		}
	}()
	split(3).Batches(identity(3), 0, spec.ScaleUnit)
}

func TestScaling(t *testing.T) {
	s := &Split{Pixels: []byte{0, 1, 51, 128, 255, 7}, Labels: []byte{3, 8}, Rows: 1, Cols: 3}
	tests := []struct {
		scale spec.Scaling
		want  []float32
	}{
		{spec.ScaleUnit, []float32{0, float32(1) / 255, 0.2, float32(128) / 255, 1, float32(7) / 255}},
		{spec.ScaleNone, []float32{0, 1, 51, 128, 255, 7}},
	}
	for _, tc := range tests {
		t.Run(tc.scale.String(), func(t *testing.T) {
			pixels, labels := s.Float32(tc.scale)
			if !slices.Equal(pixels, tc.want) {
				t.Errorf("Float32 pixels %v, want %v", pixels, tc.want)
			}
			if !slices.Equal(labels, []int32{3, 8}) {
				t.Errorf("Float32 labels %v, want [3 8]", labels)
			}
			var batched []float32
			for b := range s.Batches([]int{0, 1}, 1, tc.scale) {
				batched = append(batched, b.Pixels...)
			}
			if !slices.Equal(batched, tc.want) {
				t.Errorf("batched pixels %v, want %v", batched, tc.want)
			}
		})
	}
	for i := range 256 {
		if got := scaleTable(spec.ScaleUnit)[i]; got < 0 || got > 1 || (i > 0 && got <= scaleTable(spec.ScaleUnit)[i-1]) {
			t.Fatalf("ScaleUnit maps %d to %v: not increasing within [0,1]", i, got)
		}
	}
}

// Batching reuses its buffers: an epoch costs the same few allocations however many batches it has.
func TestBatchesAllocations(t *testing.T) {
	s := split(256)
	order := identity(256)
	epochAllocs := func(size int) float64 {
		return testing.AllocsPerRun(10, func() {
			for range s.Batches(order, size, spec.ScaleUnit) {
			}
		})
	}
	one, many := epochAllocs(256), epochAllocs(2)
	if many != one {
		t.Errorf("an epoch of 128 batches allocates %v times, of 1 batch %v times: batches allocate", many, one)
	}
}

func BenchmarkBatches(b *testing.B) {
	s := split(60000)
	s.Rows, s.Cols = 28, 28
	s.Pixels = noise(60000 * 28 * 28)
	order := Permutation(s.Len(), 1, 0)
	const size = 128
	b.SetBytes(int64(len(s.Pixels)))
	b.ReportAllocs()
	for b.Loop() {
		for batch := range s.Batches(order, size, spec.ScaleUnit) {
			_ = batch
		}
	}
	b.ReportMetric(float64(b.N)*float64(s.Len())/b.Elapsed().Seconds(), "examples/s")
}

func BenchmarkPermutation(b *testing.B) {
	b.ReportAllocs()
	epoch := 0
	for b.Loop() {
		Permutation(60000, 1, epoch)
		epoch++
	}
}

func BenchmarkFloat32(b *testing.B) {
	s := &Split{Pixels: noise(10000 * 28 * 28), Labels: make([]byte, 10000), Rows: 28, Cols: 28}
	b.SetBytes(int64(len(s.Pixels)))
	b.ReportAllocs()
	for b.Loop() {
		s.Float32(spec.ScaleUnit)
	}
}
