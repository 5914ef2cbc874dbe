package summary

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"strconv"

	summarypb "github.com/wamuir/graft/tensorflow/core/framework/summary_go_proto"
	tensorpb "github.com/wamuir/graft/tensorflow/core/framework/tensor_go_proto"
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
//	"scalars"           Scalar, or Text for a string scalar; DType
//	"histograms"        Histogram
//	"text"              Text
//	"images"            Images, ImageWidth, ImageHeight
//	"graph_keras_model" KerasModel
//	"hparams"           HParams
//	"custom_scalars"    Layout
//	"pr_curves"         PRCurve
//
// Values of other plugins, and values of these plugins whose data does not
// decode as the plugin's (Undecoded says why), carry Tag, Plugin,
// PluginContent and Raw, the value as stored, so that nothing TensorBoard
// reads is lost: such a value is never a corrupt record.
//
// Legacy values (TF1's and tensorboardX's simple_value, HistogramProto,
// Summary.Image and Summary.Audio) get Legacy set and the plugin TensorBoard
// converts them to, whatever their metadata says: "scalars", "histograms",
// "images" and "audio".
type Value struct {
	Tag, Plugin   string
	Legacy        bool
	PluginContent []byte

	Scalar float64
	// DType is a tensor scalar's dtype, by its Python name: "float32" as
	// Keras writes, "float16", "bfloat16", "float64", "int8" to "uint64",
	// "bool" (Scalar 0 or 1) or "string" (the value in Text). It is empty
	// for legacy simple_value scalars, which are float32.
	DType                   string
	Histogram               []Bucket
	Text                    string
	Images                  [][]byte // PNG (or other encoded) images
	ImageWidth, ImageHeight int
	KerasModel              []byte // the model's JSON
	HParams                 *HParams
	Layout                  *Layout
	PRCurve                 *PRCurve

	// Raw is set for values not decoded into the fields above.
	Raw *summarypb.Summary_Value
	// Undecoded says why a value of a plugin this package knows was not
	// decoded, e.g. "no tensor" for a scalars value that carries none.
	Undecoded string
}

// Bucket is one histogram bucket: Count values in [Left, Right) (the last
// bucket includes Right).
type Bucket struct{ Left, Right, Count float64 }

// CorruptError reports a record whose framing or CRCs are bad, or whose
// payload is not an Event proto, at the byte Offset where the record starts
// in File. A value inside a good event is never corrupt: see Value.Raw.
type CorruptError struct {
	File   string
	Offset int64
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("summary: %s: corrupt record at offset %d: %s", e.File, e.Offset, e.Reason)
}

// A Reader reads the events of one event file in order. A value without
// plugin metadata takes that of its tag's first value in the file, as
// TensorBoard's loader does for TF1's FileWriter, which writes metadata on
// a tag's first value only.
type Reader struct {
	name      string
	rr        recordReader
	truncated bool
	err       error
	// metadata holds each tag's first plugin metadata: TF1's FileWriter
	// writes it on a tag's first value only, and TensorBoard's loader
	// gives later values without metadata the first one's plugin.
	metadata map[string]*summarypb.SummaryMetadata
}

// NewReader reads events from r; name (usually the file's path) appears in
// errors. r is buffered by the Reader.
func NewReader(r io.Reader, name string) *Reader {
	if _, ok := r.(*bufio.Reader); !ok {
		r = bufio.NewReaderSize(r, 64<<10)
	}
	return &Reader{name: name, rr: recordReader{r: r}, metadata: make(map[string]*summarypb.SummaryMetadata)}
}

// Next returns the next event. At the end of the input it returns io.EOF,
// also when the input ends inside a record: that is a file still being
// written, or whose writer died, and TensorBoard reads it the same way
// (Truncated then reports it); an empty input is no events, like an event
// file created but not yet written. A bad CRC, an impossible length or a
// payload that is not an Event proto is a *CorruptError; TensorBoard reads
// nothing after such a record either. Errors are sticky.
func (r *Reader) Next() (Event, error) {
	pb, err := r.NextProto()
	if err != nil {
		return Event{}, err
	}
	return decodeEvent(pb, r.metadata), nil
}

// NextProto is Next without the decoding: the Event proto as the file holds it, for tools that
// copy or filter events (such as rewriting a log up to a checkpoint).
func (r *Reader) NextProto() (*eventpb.Event, error) {
	if r.err != nil {
		return nil, r.err
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
		return nil, err
	}
	var pb eventpb.Event
	if err := proto.Unmarshal(payload, &pb); err != nil {
		r.err = &CorruptError{File: r.name, Offset: start, Reason: "bad event proto: " + err.Error()}
		return nil, r.err
	}
	return &pb, nil
}

// Truncated reports whether the input ended inside a record.
func (r *Reader) Truncated() bool { return r.truncated }

// ReadFile reads every event of the event file at path. A truncated last
// record is not an error (see Reader.Next).
func ReadFile(path string) ([]Event, error) {
	var events []Event
	for ev, err := range ReadEvents(path) {
		if err != nil {
			return events, err
		}
		events = append(events, ev)
	}
	return events, nil
}

// Events returns an iterator over r's events, in order. It ends at the end
// of the input (a truncated last record included, see Next), or after
// yielding the error that stopped the reading:
//
//	for ev, err := range r.Events() {
//		if err != nil {
//			return err
//		}
//		...
//	}
func (r *Reader) Events() iter.Seq2[Event, error] { return events(r.Next) }

// Protos is Events without the decoding (see NextProto).
func (r *Reader) Protos() iter.Seq2[*eventpb.Event, error] { return events(r.NextProto) }

// ReadEvents is Events over the event file at path, which it opens and
// closes; an error opening it is the only value yielded.
func ReadEvents(path string) iter.Seq2[Event, error] { return readEvents(path, (*Reader).Next) }

// ReadProtos is ReadEvents without the decoding (see NextProto).
func ReadProtos(path string) iter.Seq2[*eventpb.Event, error] {
	return readEvents(path, (*Reader).NextProto)
}

func events[E any](next func() (E, error)) iter.Seq2[E, error] {
	return func(yield func(E, error) bool) {
		for {
			ev, err := next()
			if err == io.EOF || !yield(ev, err) || err != nil {
				return
			}
		}
	}
}

func readEvents[E any](path string, next func(*Reader) (E, error)) iter.Seq2[E, error] {
	return func(yield func(E, error) bool) {
		f, err := os.Open(path)
		if err != nil {
			var zero E
			yield(zero, fmt.Errorf("summary: %w", err))
			return
		}
		defer f.Close()
		r := NewReader(f, path)
		events(func() (E, error) { return next(r) })(yield)
	}
}

// decodeEvent decodes pb; metadata is the Reader's memory of each tag's
// first plugin metadata, which decodeEvent updates.
func decodeEvent(pb *eventpb.Event, metadata map[string]*summarypb.SummaryMetadata) Event {
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
			md := v.GetMetadata()
			if md.GetPluginData().GetPluginName() == "" {
				md = metadata[v.GetTag()]
			} else if metadata[v.GetTag()] == nil {
				metadata[v.GetTag()] = md
			}
			ev.Values = append(ev.Values, decodeSummaryValue(v, md))
		}
	}
	return ev
}

// decodeSummaryValue decodes pv, whose plugin metadata is md (its own, or
// its tag's first), into the fields of its plugin, or, when the plugin is
// unknown or its data does not decode, keeps pv as Raw.
func decodeSummaryValue(pv *summarypb.Summary_Value, md *summarypb.SummaryMetadata) Value {
	v := Value{
		Tag:           pv.GetTag(),
		Plugin:        md.GetPluginData().GetPluginName(),
		PluginContent: md.GetPluginData().GetContent(),
	}
	// TensorBoard's data_compat turns every legacy value into its plugin's,
	// whatever plugin its metadata names.
	legacy := func(plugin string) {
		v.Legacy = true
		v.Plugin = plugin
	}
	switch x := pv.GetValue().(type) {
	case *summarypb.Summary_Value_SimpleValue:
		legacy(PluginScalars)
		v.Scalar = float64(x.SimpleValue)
		return v
	case *summarypb.Summary_Value_Histo:
		legacy(PluginHistograms)
		v.Histogram = legacyBuckets(x.Histo.GetMin(), x.Histo.GetMax(), x.Histo.GetBucketLimit(), x.Histo.GetBucket())
		return v
	case *summarypb.Summary_Value_Image:
		legacy(PluginImages)
		v.Images = [][]byte{x.Image.GetEncodedImageString()}
		v.ImageWidth, v.ImageHeight = int(x.Image.GetWidth()), int(x.Image.GetHeight())
		return v
	case *summarypb.Summary_Value_Audio:
		legacy(pluginAudio)
		v.Raw = pv
		return v
	case *summarypb.Summary_Value_Tensor, nil:
	default: // obsolete old-style histograms
		v.Raw = pv
		return v
	}
	if err := decodeTensorValue(&v, pv.GetTensor()); err != nil {
		v.Raw, v.Undecoded = pv, err.Error()
	}
	if !knownPlugins[v.Plugin] {
		v.Raw = pv
	}
	return v
}

// pluginAudio is the plugin TensorBoard gives legacy audio values.
const pluginAudio = "audio"

// knownPlugins are the plugins whose values decodeTensorValue decodes.
var knownPlugins = map[string]bool{
	PluginScalars: true, PluginHistograms: true, PluginText: true, PluginImages: true,
	PluginKerasModel: true, PluginHParams: true, PluginCustomScalars: true, PluginPRCurves: true,
}

// decodeTensorValue decodes a tensor value (t may be nil: hparams values
// carry their data in the metadata) into v's fields by v's plugin.
func decodeTensorValue(v *Value, t *tensorpb.TensorProto) error {
	var err error
	switch v.Plugin {
	case PluginScalars:
		err = decodeScalar(v, t)
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
		if t == nil {
			return errors.New("no tensor")
		}
		v.Text = joinStrings(t.GetStringVal())
	case PluginImages:
		s := t.GetStringVal()
		if len(s) < 2 {
			return fmt.Errorf("image tensor has %d strings, want width, height and images", len(s))
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
	case PluginCustomScalars:
		s := t.GetStringVal()
		if len(s) != 1 {
			return fmt.Errorf("layout tensor has %d strings, want 1", len(s))
		}
		v.Layout, err = decodeLayout(s[0])
	case PluginPRCurves:
		v.PRCurve, err = decodePRCurve(t)
	}
	return err
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
