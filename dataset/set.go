package dataset

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/tfsweep/tfsweep/spec"
)

// Set is one split of a classification set held in memory: Len() examples of one shape, as bytes when the
// source stores bytes (images, uint8 arrays) and as float32 otherwise, and one class label each.
type Set struct {
	Shape  []int     // one example's shape: [rows cols] for grey images, [rows cols channels], [features]
	Bytes  []uint8   // Len()·Features() values, example after example; nil when Floats holds them
	Floats []float32 // Len()·Features() values when the source's numbers are not bytes; nil otherwise
	Labels []int32
	// described marks a split Describe served from its decoded-cache entry without its values (Bytes and
	// Floats nil): its shape and labels are whole. Such a Set never leaves the package.
	described bool
}

// Data is a classification set as a source holds it: a training and a test split of the same shape.
type Data struct {
	Train, Test *Set
	Classes     int      // labels are 0..Classes-1
	ClassNames  []string // one per class when the format names them (CIFAR's meta files, folders, CSV labels)
	// Snapshot is the entries of the decoded cache the splits were read from or written to, for another
	// Open of the source (Options.Snapshot); a split read without the cache has none.
	Snapshot spec.DataSnapshot
}

// Len is the number of examples.
func (s *Set) Len() int { return len(s.Labels) }

// Features is the number of values in one example, the product of Shape.
func (s *Set) Features() int {
	n := 1
	for _, d := range s.Shape {
		n *= d
	}
	return n
}

// Channels is the number of values standardisation keeps apart: the last axis of a [rows cols channels]
// image or of a [features] row, as Keras's Normalization(axis=-1) does; a grey [rows cols] image is one.
func (s *Set) Channels() int {
	if len(s.Shape) == 3 || len(s.Shape) == 1 {
		return s.Shape[len(s.Shape)-1]
	}
	return 1
}

// Slice returns examples [from, to), sharing memory with s.
func (s *Set) Slice(from, to int) *Set {
	if from < 0 || from > to || to > s.Len() {
		panic(fmt.Sprintf("dataset: Slice(%d, %d) of a set of %d examples", from, to, s.Len()))
	}
	f := s.Features()
	out := &Set{Shape: s.Shape, Labels: s.Labels[from:to:to], described: s.described}
	switch {
	case s.described:
	case s.Bytes != nil:
		out.Bytes = s.Bytes[from*f : to*f : to*f]
	default:
		out.Floats = s.Floats[from*f : to*f : to*f]
	}
	return out
}

// check verifies that the set is whole: as many values as its shape says for every label, every label a
// class. what names the split in errors.
func (s *Set) check(what string, classes int) error {
	values := len(s.Floats)
	if s.Bytes != nil {
		values = len(s.Bytes)
	}
	if f := s.Features(); !s.described && values != s.Len()*f {
		return fmt.Errorf("%w: %s: %d values for %d labels of %d features", ErrCountMismatch, what, values, s.Len(), f)
	}
	for i, l := range s.Labels {
		if l < 0 || int(l) >= classes {
			return fmt.Errorf("%w: %s: label %d of example %d, want 0..%d", ErrLabelRange, what, l, i, classes-1)
		}
	}
	return nil
}

// finish checks the splits against each other and sets Classes: classes when the source says it
// (classes=N or the format's own count), else one more than the largest label.
func (d *Data) finish(classes int) error {
	if !slices.Equal(d.Train.Shape, d.Test.Shape) {
		return fmt.Errorf("%w: training examples are %v, test examples %v", ErrShape, d.Train.Shape, d.Test.Shape)
	}
	if d.Train.Len() == 0 {
		return fmt.Errorf("%w: the training split is empty", ErrZeroSize)
	}
	if classes == 0 && d.ClassNames != nil {
		classes = len(d.ClassNames)
	}
	if classes == 0 {
		top := int32(0)
		for _, s := range []*Set{d.Train, d.Test} {
			if len(s.Labels) > 0 {
				top = max(top, slices.Max(s.Labels))
			}
		}
		classes = int(top) + 1
	}
	d.Classes = classes
	for _, s := range []struct {
		name string
		set  *Set
	}{{"training split", d.Train}, {"test split", d.Test}} {
		if err := s.set.check(s.name, classes); err != nil {
			return err
		}
	}
	return nil
}

// holdout splits the last fraction of train off as the test split, as Keras's validation_split does.
func holdout(train *Set, fraction float64) (*Set, *Set, error) {
	n := train.Len()
	keep := int(math.Floor(float64(n) * (1 - fraction)))
	if keep == 0 || keep == n {
		return nil, nil, fmt.Errorf("%w: holdout=%v of %d examples leaves %d to train on and %d to test", ErrSpec, fraction, n, keep, n-keep)
	}
	return train.Slice(0, keep), train.Slice(keep, n), nil
}

// Float32Bytes is the memory the data takes as a worker holds it, every value and label as four bytes,
// or an error when that does not fit in an int64.
func (d *Data) Float32Bytes() (int64, error) {
	var total int64
	for _, s := range []*Set{d.Train, d.Test} {
		n, ok := checkedProduct([]int{s.Len(), s.Features() + 1, 4}, math.MaxInt64-total)
		if !ok {
			return 0, fmt.Errorf("%w: %d examples of %v", ErrTooLarge, s.Len(), s.Shape)
		}
		total += n
	}
	return total, nil
}

// CheckBudget refuses data that would take more than budget bytes as float32, naming both sizes.
func (d *Data) CheckBudget(budget int64) error {
	need, err := d.Float32Bytes()
	if err != nil {
		return err
	}
	if need > budget {
		return fmt.Errorf("%w: %d+%d examples of %v take %s as float32, more than the budget of %s",
			ErrTooLarge, d.Train.Len(), d.Test.Len(), d.Train.Shape, formatBytes(need), formatBytes(budget))
	}
	return nil
}

func formatBytes(n int64) string {
	const unit = 1 << 20
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	return strconv.FormatFloat(float64(n)/unit, 'f', 1, 64) + " MiB"
}

// Normalizer turns a set's values into the network's float32 inputs as Keras's preprocessing layers do:
// x / Divisor in float32 (what x.astype("float32") / 255 gives for Divisor 255), then, when Mean is set,
// Normalization's (x - mean) / max(std, 1e-7) per channel.
type Normalizer struct {
	Divisor   float32
	Mean, Std []float32 // one per channel, or nil
}

// errNoTraining says standardisation has nothing to learn from.
var errNoTraining = errors.New("dataset: standardisation needs a non-empty training split")

// Standardize returns a Normalizer that divides by divisor and then standardises each channel with the
// mean and standard deviation of the rescaled training split, as Normalization.adapt computes them.
func Standardize(train *Set, divisor float32) (Normalizer, error) {
	if train.Len() == 0 {
		return Normalizer{}, errNoTraining
	}
	c := train.Channels()
	sum, sumSq := make([]float64, c), make([]float64, c)
	// Features is a multiple of the channels, which come last: a value's channel is its flat index mod c.
	add := func(k int, v float32) {
		x := float64(v / divisor)
		sum[k%c] += x
		sumSq[k%c] += x * x
	}
	if train.Bytes != nil {
		for k, b := range train.Bytes {
			add(k, float32(b))
		}
	} else {
		for k, v := range train.Floats {
			add(k, v)
		}
	}
	f := train.Features()
	count := float64(train.Len() * f / c)
	n := Normalizer{Divisor: divisor, Mean: make([]float32, c), Std: make([]float32, c)}
	for k := range c {
		mean := sum[k] / count
		variance := max(sumSq[k]/count-mean*mean, 0)
		n.Mean[k] = float32(mean)
		n.Std[k] = float32(max(math.Sqrt(variance), 1e-7))
	}
	return n, nil
}

// Into writes examples [from, to) of s, normalised, into dst (len (to-from)·Features()) and their labels
// into labels (len to-from); it panics on other lengths.
func (n Normalizer) Into(dst []float32, labels []int32, s *Set, from, to int) {
	part := s.Slice(from, to)
	f := s.Features()
	if len(dst) != part.Len()*f || len(labels) != part.Len() {
		panic(fmt.Sprintf("dataset: Normalizer.Into %d values and %d labels for %d examples of %d", len(dst), len(labels), part.Len(), f))
	}
	copy(labels, part.Labels)
	var table [256]float32
	if part.Bytes != nil {
		for i := range table {
			table[i] = float32(i) / n.Divisor
		}
	}
	c := len(n.Mean)
	normalize := func(lo, hi int) {
		if part.Bytes != nil {
			for i, b := range part.Bytes[lo:hi] {
				dst[lo+i] = table[b]
			}
		} else {
			for i, v := range part.Floats[lo:hi] {
				dst[lo+i] = v / n.Divisor
			}
		}
		for i := lo; i < hi && c > 0; i++ {
			dst[i] = (dst[i] - n.Mean[i%c]) / n.Std[i%c]
		}
	}
	if len(dst) < parallelValues {
		normalize(0, len(dst))
		return
	}
	parallelRanges(len(dst), normalize)
}

// parallelValues is the fewest values Normalizer.Into converts on all cores: a whole split's are written
// in a fraction of the time, a mini-batch's or one picture's are not worth the goroutines.
const parallelValues = 1 << 20
