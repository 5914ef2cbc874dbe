package summary

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	summarypb "github.com/wamuir/graft/tensorflow/core/framework/summary_go_proto"
	tensorpb "github.com/wamuir/graft/tensorflow/core/framework/tensor_go_proto"
	typespb "github.com/wamuir/graft/tensorflow/core/framework/types_go_proto"
	eventpb "github.com/wamuir/graft/tensorflow/core/util/event_go_proto"
	"google.golang.org/protobuf/proto"
)

// Event is one decoded event. Exactly one of FileVersion, GraphDef,
// SessionLog and Values is set, except for events of kinds this package
// does not decode (tagged run metadata, meta graphs), which have only times.
type Event struct {
	WallTime    float64
	Step        int64
	FileVersion string      // the first event of a file: "brain.Event:2"
	GraphDef    []byte      // a serialized GraphDef (Event.graph_def)
	SessionLog  *SessionLog // START, STOP or CHECKPOINT markers
	Values      []Value     // summary values
}

// SessionLog is a session marker. Status is "START", "STOP", "CHECKPOINT"
// or "STATUS_UNSPECIFIED".
type SessionLog struct {
	Status         string
	CheckpointPath string
	Msg            string
}

// Value is one decoded summary value. Plugin says which fields are set:
//
//	"scalars"           Scalar
//	"histograms"        Histogram
//	"text"              Text
//	"images"            Images, ImageWidth, ImageHeight
//	"graph_keras_model" KerasModel
//	"hparams"           HParams
//
// Values of other plugins carry only Tag, Plugin and PluginContent.
// Legacy (TF1, tensorboardX) values without plugin metadata get the plugin
// TensorBoard converts them to ("scalars" for simple_value, "histograms"
// for HistogramProto, "images" for Summary.Image) and Legacy set.
type Value struct {
	Tag, Plugin   string
	Legacy        bool
	PluginContent []byte

	Scalar                  float64
	Histogram               []Bucket
	Text                    string
	Images                  [][]byte // PNG (or other encoded) images
	ImageWidth, ImageHeight int
	KerasModel              []byte // the model's JSON
	HParams                 *HParams
}

// Bucket is one histogram bucket: Count values in [Left, Right) (the last
// bucket includes Right).
type Bucket struct{ Left, Right, Count float64 }

// CorruptError reports a record whose framing, CRCs or contents are bad, at
// the byte Offset where the record starts in File.
type CorruptError struct {
	File   string
	Offset int64
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("summary: %s: corrupt record at offset %d: %s", e.File, e.Offset, e.Reason)
}

// A Reader reads the events of one event file in order.
type Reader struct {
	name      string
	rr        recordReader
	truncated bool
	err       error
}

// NewReader reads events from r; name (usually the file's path) appears in
// errors. r is buffered by the Reader.
func NewReader(r io.Reader, name string) *Reader {
	if _, ok := r.(*bufio.Reader); !ok {
		r = bufio.NewReaderSize(r, 64<<10)
	}
	return &Reader{name: name, rr: recordReader{r: r}}
}

// Next returns the next event. At the end of the input it returns io.EOF,
// also when the input ends inside a record: that is a file still being
// written, or whose writer died, and TensorBoard reads it the same way
// (Truncated then reports it). A bad CRC, an impossible length or an
// undecodable event is a *CorruptError; TensorBoard reads nothing after
// such a record either. Errors are sticky.
func (r *Reader) Next() (Event, error) {
	if r.err != nil {
		return Event{}, r.err
	}
	start := r.rr.offset
	payload, err := r.rr.next()
	if err != nil {
		var c *corruptRecord
		switch {
		case err == io.EOF:
		case errors.Is(err, errTruncated):
			r.truncated = true
			err = io.EOF
		case errors.As(err, &c):
			err = &CorruptError{File: r.name, Offset: c.offset, Reason: c.reason}
		default:
			err = fmt.Errorf("summary: read %s: %w", r.name, err)
		}
		r.err = err
		return Event{}, err
	}
	var pb eventpb.Event
	if err := proto.Unmarshal(payload, &pb); err != nil {
		r.err = &CorruptError{File: r.name, Offset: start, Reason: "bad event proto: " + err.Error()}
		return Event{}, r.err
	}
	ev, err := decodeEvent(&pb)
	if err != nil {
		r.err = &CorruptError{File: r.name, Offset: start, Reason: err.Error()}
		return Event{}, r.err
	}
	return ev, nil
}

// Truncated reports whether the input ended inside a record.
func (r *Reader) Truncated() bool { return r.truncated }

// ReadFile reads every event of the event file at path. A truncated last
// record is not an error (see Reader.Next).
func ReadFile(path string) ([]Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("summary: %w", err)
	}
	defer f.Close()
	r := NewReader(f, path)
	var events []Event
	for {
		ev, err := r.Next()
		if err == io.EOF {
			return events, nil
		}
		if err != nil {
			return events, err
		}
		events = append(events, ev)
	}
}

func decodeEvent(pb *eventpb.Event) (Event, error) {
	ev := Event{WallTime: pb.GetWallTime(), Step: pb.GetStep()}
	switch what := pb.GetWhat().(type) {
	case *eventpb.Event_FileVersion:
		ev.FileVersion = what.FileVersion
	case *eventpb.Event_GraphDef:
		ev.GraphDef = what.GraphDef
	case *eventpb.Event_SessionLog:
		s := what.SessionLog
		ev.SessionLog = &SessionLog{Status: s.GetStatus().String(), CheckpointPath: s.GetCheckpointPath(), Msg: s.GetMsg()}
	case *eventpb.Event_Summary:
		for _, v := range what.Summary.GetValue() {
			val, err := decodeSummaryValue(v)
			if err != nil {
				return Event{}, fmt.Errorf("value %q: %w", v.GetTag(), err)
			}
			ev.Values = append(ev.Values, val)
		}
	}
	return ev, nil
}

func decodeSummaryValue(pv *summarypb.Summary_Value) (Value, error) {
	v := Value{
		Tag:           pv.GetTag(),
		Plugin:        pv.GetMetadata().GetPluginData().GetPluginName(),
		PluginContent: pv.GetMetadata().GetPluginData().GetContent(),
	}
	switch x := pv.GetValue().(type) {
	case *summarypb.Summary_Value_SimpleValue:
		v.Legacy = v.Plugin == ""
		if v.Legacy {
			v.Plugin = PluginScalars
		}
		v.Scalar = float64(x.SimpleValue)
		return v, nil
	case *summarypb.Summary_Value_Histo:
		v.Legacy = v.Plugin == ""
		if v.Legacy {
			v.Plugin = PluginHistograms
		}
		v.Histogram = legacyBuckets(x.Histo.GetMin(), x.Histo.GetMax(), x.Histo.GetBucketLimit(), x.Histo.GetBucket())
		return v, nil
	case *summarypb.Summary_Value_Image:
		v.Legacy = v.Plugin == ""
		if v.Legacy {
			v.Plugin = PluginImages
		}
		v.Images = [][]byte{x.Image.GetEncodedImageString()}
		v.ImageWidth, v.ImageHeight = int(x.Image.GetWidth()), int(x.Image.GetHeight())
		return v, nil
	}
	t := pv.GetTensor() // nil for a value without one, e.g. tensorboardX hparams
	var err error
	switch v.Plugin {
	case PluginScalars:
		var xs []float64
		if xs, err = numbers(t); err == nil {
			if len(xs) != 1 {
				err = fmt.Errorf("scalar tensor has %d values", len(xs))
			} else {
				v.Scalar = xs[0]
			}
		}
	case PluginHistograms:
		var xs []float64
		if xs, err = numbers(t); err == nil {
			if len(xs)%3 != 0 {
				err = fmt.Errorf("histogram tensor has %d values, not rows of 3", len(xs))
			} else {
				v.Histogram = make([]Bucket, len(xs)/3)
				for i := range v.Histogram {
					v.Histogram[i] = Bucket{xs[3*i], xs[3*i+1], xs[3*i+2]}
				}
			}
		}
	case PluginText:
		s := t.GetStringVal()
		parts := make([]string, len(s))
		for i, b := range s {
			parts[i] = string(b)
		}
		v.Text = strings.Join(parts, "\n")
	case PluginImages:
		s := t.GetStringVal()
		if len(s) < 2 {
			err = fmt.Errorf("image tensor has %d strings, want width, height and images", len(s))
			break
		}
		if v.ImageWidth, err = strconv.Atoi(string(s[0])); err != nil {
			break
		}
		if v.ImageHeight, err = strconv.Atoi(string(s[1])); err != nil {
			break
		}
		v.Images = s[2:]
	case PluginKerasModel:
		if s := t.GetStringVal(); len(s) > 0 {
			v.KerasModel = s[0]
		}
	case PluginHParams:
		v.HParams, err = decodeHParams(v.PluginContent)
	}
	return v, err
}

// numbers returns a numeric tensor's values as float64, from
// tensor_content or the typed repeated fields.
func numbers(t *tensorpb.TensorProto) ([]float64, error) {
	if t == nil {
		return nil, errors.New("no tensor")
	}
	if c := t.GetTensorContent(); len(c) > 0 {
		var size int
		var get func([]byte) float64
		switch t.GetDtype() {
		case typespb.DataType_DT_FLOAT:
			size, get = 4, func(b []byte) float64 { return float64(math.Float32frombits(binary.LittleEndian.Uint32(b))) }
		case typespb.DataType_DT_DOUBLE:
			size, get = 8, func(b []byte) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b)) }
		case typespb.DataType_DT_INT32:
			size, get = 4, func(b []byte) float64 { return float64(int32(binary.LittleEndian.Uint32(b))) }
		case typespb.DataType_DT_INT64:
			size, get = 8, func(b []byte) float64 { return float64(int64(binary.LittleEndian.Uint64(b))) }
		default:
			return nil, fmt.Errorf("tensor_content of dtype %v is not supported", t.GetDtype())
		}
		if len(c)%size != 0 {
			return nil, fmt.Errorf("tensor_content of %d bytes is not a whole number of %v", len(c), t.GetDtype())
		}
		xs := make([]float64, len(c)/size)
		for i := range xs {
			xs[i] = get(c[i*size:])
		}
		return xs, nil
	}
	var xs []float64
	switch t.GetDtype() {
	case typespb.DataType_DT_FLOAT:
		for _, x := range t.GetFloatVal() {
			xs = append(xs, float64(x))
		}
	case typespb.DataType_DT_DOUBLE:
		xs = append(xs, t.GetDoubleVal()...)
	case typespb.DataType_DT_INT32:
		for _, x := range t.GetIntVal() {
			xs = append(xs, float64(x))
		}
	case typespb.DataType_DT_INT64:
		for _, x := range t.GetInt64Val() {
			xs = append(xs, float64(x))
		}
	default:
		return nil, fmt.Errorf("dtype %v is not numeric", t.GetDtype())
	}
	return xs, nil
}

// legacyBuckets converts a HistogramProto to buckets as TensorBoard does:
// bucket_limit holds right edges, min is the first left edge, max the last
// right edge.
func legacyBuckets(lo, hi float64, limits, counts []float64) []Bucket {
	n := min(len(limits), len(counts))
	out := make([]Bucket, n)
	left := lo
	for i := 0; i < n; i++ {
		right := limits[i]
		if i == n-1 {
			right = hi
		}
		out[i] = Bucket{Left: left, Right: right, Count: counts[i]}
		left = limits[i]
	}
	return out
}
