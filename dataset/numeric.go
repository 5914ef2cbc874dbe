package dataset

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// elemType is how one stored number is encoded: its kind ('u' unsigned, 'i' signed, 'f' IEEE float,
// 'b' bool), its size in bytes and its byte order. IDX and NumPy files describe their elements this way.
type elemType struct {
	kind  byte
	size  int
	order binary.ByteOrder
}

var uint8Type = elemType{kind: 'u', size: 1, order: binary.BigEndian}

func (t elemType) String() string {
	names := map[byte]string{'u': "uint", 'i': "int", 'f': "float", 'b': "bool"}
	return fmt.Sprintf("%s%d", names[t.kind], 8*t.size)
}

// isBytes reports whether elements are held as they are, one byte each, rather than as float32.
func (t elemType) isBytes() bool { return t.size == 1 && (t.kind == 'u' || t.kind == 'b') }

// value decodes the element at the start of b.
func (t elemType) value(b []byte) float64 {
	switch t.size {
	case 1:
		if t.kind == 'i' {
			return float64(int8(b[0]))
		}
		return float64(b[0])
	case 2:
		v := t.order.Uint16(b)
		if t.kind == 'i' {
			return float64(int16(v))
		}
		return float64(v)
	case 4:
		v := t.order.Uint32(b)
		switch t.kind {
		case 'i':
			return float64(int32(v))
		case 'f':
			return float64(math.Float32frombits(v))
		}
		return float64(v)
	default:
		v := t.order.Uint64(b)
		switch t.kind {
		case 'i':
			return float64(int64(v))
		case 'f':
			return math.Float64frombits(v)
		}
		return float64(v)
	}
}

// chunkBytes is how much of a file the decoders hold at once beside the decoded values.
const chunkBytes = 1 << 16

// readValues decodes len(dst) elements of type t from r into dst, converting each to float32, a chunk at a
// time so the file's bytes are never held whole beside the values.
func readValues(r io.Reader, t elemType, dst []float32) error {
	per := chunkBytes / t.size
	buf := make([]byte, per*t.size)
	for done := 0; done < len(dst); {
		n := min(per, len(dst)-done)
		if _, err := io.ReadFull(r, buf[:n*t.size]); err != nil {
			return fmt.Errorf("element %d of %d: %w", done, len(dst), err)
		}
		out := dst[done : done+n]
		if t.kind == 'f' && t.size == 4 {
			decodeFloat32s(out, buf, t.order)
		} else {
			for i := range out {
				out[i] = float32(t.value(buf[i*t.size:]))
			}
		}
		done += n
	}
	return nil
}

// decodeFloat32s decodes len(out) float32s from buf through the concrete byte order where it is one of
// the two: a call through the interface per element took longer than reading the bytes.
func decodeFloat32s(out []float32, buf []byte, order binary.ByteOrder) {
	switch order {
	case binary.LittleEndian:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
		}
	case binary.BigEndian:
		for i := range out {
			out[i] = math.Float32frombits(binary.BigEndian.Uint32(buf[4*i:]))
		}
	default:
		for i := range out {
			out[i] = math.Float32frombits(order.Uint32(buf[4*i:]))
		}
	}
}

// readLabelValues decodes len(dst) class labels of type t from r: each must be a whole number in
// [0, 2^31); what is not is reported with its index.
func readLabelValues(r io.Reader, t elemType, dst []int32) error {
	per := chunkBytes / t.size
	buf := make([]byte, per*t.size)
	for done := 0; done < len(dst); {
		n := min(per, len(dst)-done)
		if _, err := io.ReadFull(r, buf[:n*t.size]); err != nil {
			return fmt.Errorf("label %d of %d: %w", done, len(dst), err)
		}
		for i := range n {
			v := t.value(buf[i*t.size:])
			if v < 0 || v > math.MaxInt32 || v != math.Trunc(v) {
				return fmt.Errorf("%w: label %v of example %d is not a class index", ErrLabelRange, v, done+i)
			}
			dst[done+i] = int32(v)
		}
		done += n
	}
	return nil
}

// checkedProduct multiplies dims without overflow; ok is false when the product exceeds limit.
func checkedProduct(dims []int, limit int64) (n int64, ok bool) {
	n = 1
	for _, d := range dims {
		if d < 0 || (d > 0 && n > limit/int64(d)) {
			return 0, false
		}
		n *= int64(d)
	}
	return n, n <= limit
}
