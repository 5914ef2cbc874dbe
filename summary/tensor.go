package summary

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"

	tensorpb "github.com/wamuir/graft/tensorflow/core/framework/tensor_go_proto"
	typespb "github.com/wamuir/graft/tensorflow/core/framework/types_go_proto"
)

// dtypeNames are the Python names (tf.float16, ...) of the dtypes whose
// values this package decodes: every one TensorBoard's loaders turn into
// numbers (tensor_util.make_ndarray on the Python side, the data server's
// scalar conversion on the Rust side), and strings.
var dtypeNames = map[typespb.DataType]string{
	typespb.DataType_DT_HALF:     "float16",
	typespb.DataType_DT_BFLOAT16: "bfloat16",
	typespb.DataType_DT_FLOAT:    "float32",
	typespb.DataType_DT_DOUBLE:   "float64",
	typespb.DataType_DT_INT8:     "int8",
	typespb.DataType_DT_INT16:    "int16",
	typespb.DataType_DT_INT32:    "int32",
	typespb.DataType_DT_INT64:    "int64",
	typespb.DataType_DT_UINT8:    "uint8",
	typespb.DataType_DT_UINT16:   "uint16",
	typespb.DataType_DT_UINT32:   "uint32",
	typespb.DataType_DT_UINT64:   "uint64",
	typespb.DataType_DT_BOOL:     "bool",
	typespb.DataType_DT_STRING:   "string",
}

// dtypeName is the Python name of a dtype, or the proto enum's name
// ("DT_COMPLEX64") for one this package does not decode.
func dtypeName(d typespb.DataType) string {
	if n, ok := dtypeNames[d]; ok {
		return n
	}
	return d.String()
}

// float16 converts IEEE 754 half-precision bits to float64.
func float16(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	frac := float64(h & 0x3ff)
	switch exp {
	case 0: // zero and subnormals
		return sign * math.Ldexp(frac, -24)
	case 0x1f:
		if frac != 0 {
			return math.NaN()
		}
		return math.Inf(int(sign))
	}
	return sign * math.Ldexp(1024+frac, exp-25)
}

// bfloat16 is the top half of a float32.
func bfloat16(b uint16) float64 { return float64(math.Float32frombits(uint32(b) << 16)) }

// contentDecoder returns the byte size and decoder of one element of a
// numeric dtype's tensor_content (little-endian, as TensorFlow writes it).
func contentDecoder(d typespb.DataType) (int, func([]byte) float64, bool) {
	le := binary.LittleEndian
	switch d {
	case typespb.DataType_DT_HALF:
		return 2, func(b []byte) float64 { return float16(le.Uint16(b)) }, true
	case typespb.DataType_DT_BFLOAT16:
		return 2, func(b []byte) float64 { return bfloat16(le.Uint16(b)) }, true
	case typespb.DataType_DT_FLOAT:
		return 4, func(b []byte) float64 { return float64(math.Float32frombits(le.Uint32(b))) }, true
	case typespb.DataType_DT_DOUBLE:
		return 8, func(b []byte) float64 { return math.Float64frombits(le.Uint64(b)) }, true
	case typespb.DataType_DT_INT8:
		return 1, func(b []byte) float64 { return float64(int8(b[0])) }, true
	case typespb.DataType_DT_UINT8:
		return 1, func(b []byte) float64 { return float64(b[0]) }, true
	case typespb.DataType_DT_BOOL:
		return 1, func(b []byte) float64 { return boolNumber(b[0] != 0) }, true
	case typespb.DataType_DT_INT16:
		return 2, func(b []byte) float64 { return float64(int16(le.Uint16(b))) }, true
	case typespb.DataType_DT_UINT16:
		return 2, func(b []byte) float64 { return float64(le.Uint16(b)) }, true
	case typespb.DataType_DT_INT32:
		return 4, func(b []byte) float64 { return float64(int32(le.Uint32(b))) }, true
	case typespb.DataType_DT_UINT32:
		return 4, func(b []byte) float64 { return float64(le.Uint32(b)) }, true
	case typespb.DataType_DT_INT64:
		return 8, func(b []byte) float64 { return float64(int64(le.Uint64(b))) }, true
	case typespb.DataType_DT_UINT64:
		return 8, func(b []byte) float64 { return float64(le.Uint64(b)) }, true
	}
	return 0, nil, false
}

func boolNumber(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// numbers returns a numeric tensor's values as float64, from
// tensor_content or the dtype's typed repeated field (half_val holds the
// bits of float16 and bfloat16; int_val every integer type up to 32 bits).
func numbers(t *tensorpb.TensorProto) ([]float64, error) {
	if t == nil {
		return nil, errors.New("no tensor")
	}
	d := t.GetDtype()
	if c := t.GetTensorContent(); len(c) > 0 {
		size, get, ok := contentDecoder(d)
		if !ok {
			return nil, fmt.Errorf("dtype %s is not numeric", dtypeName(d))
		}
		if len(c)%size != 0 {
			return nil, fmt.Errorf("tensor_content of %d bytes is not a whole number of %s", len(c), dtypeName(d))
		}
		xs := make([]float64, len(c)/size)
		for i := range xs {
			xs[i] = get(c[i*size:])
		}
		return xs, nil
	}
	switch d {
	case typespb.DataType_DT_HALF:
		return convert(t.GetHalfVal(), func(x int32) float64 { return float16(uint16(x)) }), nil
	case typespb.DataType_DT_BFLOAT16:
		return convert(t.GetHalfVal(), func(x int32) float64 { return bfloat16(uint16(x)) }), nil
	case typespb.DataType_DT_FLOAT:
		return convert(t.GetFloatVal(), func(x float32) float64 { return float64(x) }), nil
	case typespb.DataType_DT_DOUBLE:
		return append([]float64(nil), t.GetDoubleVal()...), nil
	case typespb.DataType_DT_INT8, typespb.DataType_DT_INT16, typespb.DataType_DT_INT32:
		return convert(t.GetIntVal(), func(x int32) float64 { return float64(x) }), nil
	case typespb.DataType_DT_UINT8, typespb.DataType_DT_UINT16:
		// Stored in int_val as their unsigned value.
		return convert(t.GetIntVal(), func(x int32) float64 { return float64(uint32(x)) }), nil
	case typespb.DataType_DT_UINT32:
		return convert(t.GetUint32Val(), func(x uint32) float64 { return float64(x) }), nil
	case typespb.DataType_DT_INT64:
		return convert(t.GetInt64Val(), func(x int64) float64 { return float64(x) }), nil
	case typespb.DataType_DT_UINT64:
		return convert(t.GetUint64Val(), func(x uint64) float64 { return float64(x) }), nil
	case typespb.DataType_DT_BOOL:
		return convert(t.GetBoolVal(), boolNumber), nil
	}
	return nil, fmt.Errorf("dtype %s is not numeric", dtypeName(d))
}

func convert[T any](xs []T, f func(T) float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

// elements is the number of elements a tensor's shape holds (1 for a
// scalar), or -1 for an unknown dimension.
func elements(t *tensorpb.TensorProto) int64 {
	n := int64(1)
	for _, d := range t.GetTensorShape().GetDim() {
		if d.GetSize() < 0 {
			return -1
		}
		n *= d.GetSize()
	}
	return n
}

// decodeScalar sets v's scalar from t as TensorBoard reads a scalar: any
// numeric dtype (bool as 0 or 1) to Scalar, a string to Text, DType naming
// which. A tensor of one element whose typed field is empty is zero, as
// TensorFlow's make_ndarray reads it.
func decodeScalar(v *Value, t *tensorpb.TensorProto) error {
	if t == nil {
		return errors.New("no tensor")
	}
	v.DType = dtypeName(t.GetDtype())
	if t.GetDtype() == typespb.DataType_DT_STRING {
		s := t.GetStringVal()
		if len(s) != 1 {
			return fmt.Errorf("string scalar tensor has %d strings", len(s))
		}
		v.Text = string(s[0])
		return nil
	}
	xs, err := numbers(t)
	if err != nil {
		return err
	}
	switch {
	case len(xs) == 1:
		v.Scalar = xs[0]
	case len(xs) == 0 && elements(t) == 1:
		v.Scalar = 0
	default:
		return fmt.Errorf("scalar tensor has %d values", len(xs))
	}
	return nil
}

// joinStrings is a string tensor's cells joined by newlines, as the text
// plugin shows a non-scalar text tensor's cells one per line.
func joinStrings(s [][]byte) string {
	parts := make([]string, len(s))
	for i, b := range s {
		parts[i] = string(b)
	}
	return strings.Join(parts, "\n")
}
