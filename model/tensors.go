package model

// graft frees a tensor's TensorFlow buffer only in a Go finalizer, and Go's garbage collector sees
// none of that memory: a training loop allocates a new pixel tensor per step, an evaluation a 31 MB
// one per chunk, and the collector, seeing a small Go heap, rarely runs, so resident memory grows by
// hundreds of megabytes per epoch. This file releases tensors deterministically: input tensors are
// reused from step to step (the next batch is copied into the same TensorFlow buffer), and fetched
// tensors are deleted as soon as their values are copied out. graft v0.10.0 has no exported release,
// so the TF_Tensor is reached through the first field of tf.Tensor (checked at start-up; when the
// layout is not the expected one, the package falls back to graft's finalizers).

/*
#cgo LDFLAGS: -ltensorflow
#include <stdlib.h>
#include "tensorflow/c/c_api.h"
*/
import "C"

import (
	"bytes"
	"reflect"
	"runtime"
	"slices"
	"sync"
	"unsafe"

	tf "github.com/wamuir/graft/tensorflow"
)

// canRelease reports whether tf.Tensor starts with the *C.TF_Tensor it owns, as in graft v0.10.0.
var canRelease = sync.OnceValue(func() bool { return startsWithC(reflect.TypeOf(tf.Tensor{}), "TF_Tensor") })

// cTensor is the TF_Tensor a graft tensor owns.
func cTensor(t *tf.Tensor) **C.TF_Tensor { return (**C.TF_Tensor)(unsafe.Pointer(t)) }

// newTensors makes a tensor of each value, or none: on an error the ones made are released.
func newTensors(values ...any) ([]*tf.Tensor, error) {
	out := make([]*tf.Tensor, 0, len(values))
	for _, v := range values {
		t, err := tf.NewTensor(v)
		if err != nil {
			release(out...)
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// release deletes the tensors' TensorFlow buffers now instead of at some later garbage collection.
// The tensors must not be used afterwards. Nil tensors are skipped.
func release(tensors ...*tf.Tensor) {
	if !canRelease() {
		return
	}
	for _, t := range tensors {
		if t == nil {
			continue
		}
		c := cTensor(t)
		if *c == nil {
			continue
		}
		runtime.SetFinalizer(t, nil)
		C.TF_DeleteTensor(*c)
		*c = nil
	}
}

// tensorBytes is the writable TensorFlow buffer of a tensor.
func tensorBytes(t *tf.Tensor) []byte {
	c := *cTensor(t)
	n := int(C.TF_TensorByteSize(c))
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(C.TF_TensorData(c)), n)
}

// inputCache holds the input tensors of one placeholder, one per shape seen recently (a training
// loop feeds the batch size and the epoch's last, shorter batch; an evaluation its chunks), and
// refills them in place.
type inputCache struct {
	dtype   tf.DataType
	entries []cachedInput
}

type cachedInput struct {
	shape []int64
	t     *tf.Tensor
}

// inputCacheSize bounds the shapes kept per placeholder.
const inputCacheSize = 4

// tensor returns a tensor of the shape holding data (the raw bytes of its elements), reusing the
// cached tensor of that shape. The tensor stays owned by the cache: it is valid until the next call.
// TensorFlow holds no reference to a fed tensor once Session.Run returns (TF_SessionRun shares the
// buffer for the run only, and no op here keeps its input), so overwriting it for the next run is
// safe.
func (c *inputCache) tensor(shape []int64, data []byte) (*tf.Tensor, error) {
	if !canRelease() {
		return tf.ReadTensor(c.dtype, shape, bytes.NewReader(data))
	}
	for i, e := range c.entries {
		if slices.Equal(e.shape, shape) {
			if buf := tensorBytes(e.t); len(buf) == len(data) {
				copy(buf, data)
				// Most recently used first, so that eviction drops the stalest shape.
				copy(c.entries[1:i+1], c.entries[:i])
				c.entries[0] = e
				return e.t, nil
			}
		}
	}
	t, err := tf.ReadTensor(c.dtype, shape, bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	if len(c.entries) == inputCacheSize {
		release(c.entries[len(c.entries)-1].t)
		c.entries = c.entries[:len(c.entries)-1]
	}
	c.entries = append([]cachedInput{{shape: slices.Clone(shape), t: t}}, c.entries...)
	return t, nil
}

// close releases every cached tensor.
func (c *inputCache) close() {
	for _, e := range c.entries {
		release(e.t)
	}
	c.entries = nil
}
