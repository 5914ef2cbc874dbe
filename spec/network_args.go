package spec

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// resolveArgs checks that a layer holds exactly the arguments of its class, fills the defaults a
// zero value stands for (linear activation, valid padding, unit strides, pooling strides equal to
// the pool size) and checks every value. Axes are resolved with the shapes.
func resolveArgs(l *Layer) error {
	if !slices.Contains(Classes(), l.Class) {
		return fmt.Errorf("is not a layer class tfsweep builds (want one of %s)", joinNames(Classes()))
	}
	if err := checkArgsClass(l); err != nil {
		return err
	}
	switch l.Class {
	case ClassDense:
		return resolveDense(l.Dense)
	case ClassConv2D:
		return resolveConv2D(l.Conv2D)
	case ClassMaxPooling2D, ClassAveragePooling2D:
		if l.Pooling == nil {
			l.Pooling = &PoolingArgs{PoolSize: [2]int{2, 2}}
		}
		return resolvePooling(l.Pooling)
	case ClassReshape:
		if l.Reshape == nil {
			return errors.New("has no target_shape")
		}
		return checkTarget(l.Reshape.TargetShape)
	case ClassDropout:
		if l.Dropout == nil {
			return errors.New("has no rate")
		}
		if !(l.Dropout.Rate >= 0 && l.Dropout.Rate < 1) {
			return fmt.Errorf("has rate %v: it must be in [0, 1)", l.Dropout.Rate)
		}
	case ClassBatchNormalization:
		if l.BatchNorm == nil {
			l.BatchNorm = &BatchNormArgs{Axis: -1, Momentum: DefaultBatchNormMomentum, Epsilon: DefaultBatchNormEpsilon, Center: true, Scale: true}
		}
		return checkBatchNorm(l.BatchNorm)
	case ClassActivation:
		if l.Activation == nil || l.Activation.Activation == "" {
			return errors.New("has no activation")
		}
		return CheckActivation(l.Activation.Activation)
	case ClassRescaling:
		if l.Rescaling == nil {
			return errors.New("has no scale")
		}
		if !finite(l.Rescaling.Scale) || !finite(l.Rescaling.Offset) {
			return fmt.Errorf("has scale %v and offset %v: both must be finite", l.Rescaling.Scale, l.Rescaling.Offset)
		}
	case ClassConcatenate:
		if l.Concatenate == nil {
			l.Concatenate = &ConcatenateArgs{Axis: -1}
		}
	}
	return nil
}

// checkArgsClass refuses arguments of another class than the layer's.
func checkArgsClass(l *Layer) error {
	fields := []struct {
		key     string
		set     bool
		classes []Class
	}{
		{"dense", l.Dense != nil, []Class{ClassDense}},
		{"conv2d", l.Conv2D != nil, []Class{ClassConv2D}},
		{"pooling", l.Pooling != nil, []Class{ClassMaxPooling2D, ClassAveragePooling2D}},
		{"reshape", l.Reshape != nil, []Class{ClassReshape}},
		{"dropout", l.Dropout != nil, []Class{ClassDropout}},
		{"batch_normalization", l.BatchNorm != nil, []Class{ClassBatchNormalization}},
		{"activation", l.Activation != nil, []Class{ClassActivation}},
		{"rescaling", l.Rescaling != nil, []Class{ClassRescaling}},
		{"concatenate", l.Concatenate != nil, []Class{ClassConcatenate}},
	}
	for _, f := range fields {
		if f.set && !slices.Contains(f.classes, l.Class) {
			return fmt.Errorf("has %s arguments, which do not apply to %s", f.key, l.Class)
		}
	}
	return nil
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

func resolveDense(d *DenseArgs) error {
	if d == nil {
		return errors.New("has no units")
	}
	if d.Units < 1 || d.Units > MaxCount {
		return fmt.Errorf("has units %d: it must be in [1, %d]", d.Units, MaxCount)
	}
	if d.Activation == "" {
		d.Activation = ActivationLinear
	}
	if err := CheckActivation(d.Activation); err != nil {
		return fmt.Errorf("has an %w", err)
	}
	return checkKernel(d.Kernel)
}

func resolveConv2D(c *Conv2DArgs) error {
	if c == nil {
		return errors.New("has no filters and kernel_size")
	}
	if c.Filters < 1 || c.Filters > MaxCount {
		return fmt.Errorf("has filters %d: it must be in [1, %d]", c.Filters, MaxCount)
	}
	if err := checkWindow("kernel_size", &c.KernelSize, [2]int{}, &c.Strides, &c.Padding); err != nil {
		return err
	}
	if c.Activation == "" {
		c.Activation = ActivationLinear
	}
	if err := CheckActivation(c.Activation); err != nil {
		return fmt.Errorf("has an %w", err)
	}
	return checkKernel(c.Kernel)
}

func resolvePooling(p *PoolingArgs) error {
	return checkWindow("pool_size", &p.PoolSize, [2]int{2, 2}, &p.Strides, &p.Padding)
}

// checkWindow checks a convolution's or pooling's window: a zero size takes def (none when def is
// zero), zero strides take 1 for a convolution and the window for a pooling, no padding is valid.
func checkWindow(key string, size *[2]int, def [2]int, strides *[2]int, padding *Padding) error {
	if *size == [2]int{} {
		*size = def
	}
	if *strides == [2]int{} {
		*strides = [2]int{1, 1}
		if def != [2]int{} {
			*strides = *size
		}
	}
	for _, d := range size {
		if d < 1 || d > MaxCount {
			return fmt.Errorf("has %s %v: each must be in [1, %d]", key, *size, MaxCount)
		}
	}
	for _, d := range strides {
		if d < 1 || d > MaxCount {
			return fmt.Errorf("has strides %v: each must be in [1, %d]", *strides, MaxCount)
		}
	}
	switch *padding {
	case "":
		*padding = PaddingValid
	case PaddingValid, PaddingSame:
	default:
		return fmt.Errorf("has padding %q: it must be valid or same", *padding)
	}
	return nil
}

func checkKernel(k Kernel) error {
	if k.Initializer != "" {
		if err := CheckInitializer(k.Initializer); err != nil {
			return fmt.Errorf("has an %w", err)
		}
	}
	if k.L2 != nil && !(*k.L2 >= 0 && finite(*k.L2)) {
		return fmt.Errorf("has kernel_regularizer L2(%v): the factor must be non-negative and finite", *k.L2)
	}
	return nil
}

func checkBatchNorm(b *BatchNormArgs) error {
	if !(b.Momentum >= 0 && b.Momentum <= 1) {
		return fmt.Errorf("has momentum %v: it must be in [0, 1]", b.Momentum)
	}
	if !(b.Epsilon > 0 && finite(b.Epsilon)) {
		return fmt.Errorf("has epsilon %v: it must be positive and finite", b.Epsilon)
	}
	return nil
}

// checkTarget checks a Reshape target: positive dimensions, at most one -1.
func checkTarget(target Shape) error {
	if len(target) < 1 || len(target) > MaxRank {
		return fmt.Errorf("has target_shape %v: it must have 1 to %d dimensions", []int(target), MaxRank)
	}
	inferred := 0
	for _, d := range target {
		switch {
		case d == -1:
			inferred++
		case d < 1 || d > MaxCount:
			return fmt.Errorf("has target_shape %v: each dimension must be in [1, %d] or -1", []int(target), MaxCount)
		}
	}
	if inferred > 1 {
		return fmt.Errorf("has target_shape %v: at most one dimension may be -1", []int(target))
	}
	return nil
}

// checkShape checks a tensor shape: 1 to MaxRank dimensions, each positive, MaxCount elements at
// most.
func checkShape(s Shape) error {
	if len(s) < 1 || len(s) > MaxRank {
		return fmt.Errorf("has %d dimensions besides the batch: tfsweep takes 1 to %d", len(s), MaxRank)
	}
	for _, d := range s {
		if d < 1 {
			return fmt.Errorf("has a dimension %d: each must be positive", d)
		}
	}
	if _, ok := elements(s); !ok {
		return fmt.Errorf("has more than %d elements per example", int64(MaxCount))
	}
	return nil
}

// elements is the number of elements of a shape, false beyond MaxCount.
func elements(s Shape) (int64, bool) {
	n := int64(1)
	for _, d := range s {
		var ok bool
		if n, ok = mulCount(n, int64(d)); !ok {
			return 0, false
		}
	}
	return n, true
}

// mulCount and addCount are a·b and a+b for non-negative counts, false beyond MaxCount.
func mulCount(a, b int64) (int64, bool) {
	if a < 0 || b < 0 || a > MaxCount || b > MaxCount {
		return 0, false
	}
	if a != 0 && b > MaxCount/a {
		return 0, false
	}
	return a * b, true
}

func addCount(a, b int64) (int64, bool) {
	if a < 0 || b < 0 || a > MaxCount || b > MaxCount || a+b > MaxCount {
		return 0, false
	}
	return a + b, true
}
