package summary

import (
	"encoding/binary"
	"errors"
	"math"
	"time"
	"unicode/utf8"

	summarypb "github.com/wamuir/graft/tensorflow/core/framework/summary_go_proto"
	tensorpb "github.com/wamuir/graft/tensorflow/core/framework/tensor_go_proto"
	shapepb "github.com/wamuir/graft/tensorflow/core/framework/tensor_shape_go_proto"
	typespb "github.com/wamuir/graft/tensorflow/core/framework/types_go_proto"
	eventpb "github.com/wamuir/graft/tensorflow/core/util/event_go_proto"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Plugin names, as TensorBoard's plugins register them.
const (
	PluginScalars    = "scalars"
	PluginHistograms = "histograms"
	PluginText       = "text"
	PluginImages     = "images"
	PluginKerasModel = "graph_keras_model"
	PluginHParams    = "hparams"
)

// HistogramBuckets is the bucket count of Keras' (tf.summary.histogram's)
// default scheme.
const HistogramBuckets = 30

// KerasModelTag is the tag Keras writes its model JSON under.
const KerasModelTag = "keras"

// The hparams plugin's fixed tags.
const (
	HParamsExperimentTag   = "_hparams_/experiment"
	HParamsSessionStartTag = "_hparams_/session_start_info"
	HParamsSessionEndTag   = "_hparams_/session_end_info"
)

// scalarSummaryBytes returns the marshalled Event.summary field (with its
// field tag) of a scalar event for tag, whose float32 value is its last 4
// bytes. protobuf marshals it once per tag; each scalar then costs only its
// wall_time and step (Event fields 1 and 2, which protobuf writes before
// field 5) and the value patched in. TestScalarFastPathMatchesProto checks
// the bytes against proto.Marshal of the whole event.
func scalarSummaryBytes(tag string) ([]byte, error) {
	const sentinel = 0x3f7d70a4 // 0.99 as float32
	t := &tensorpb.TensorProto{
		Dtype:         typespb.DataType_DT_FLOAT,
		TensorShape:   &shapepb.TensorShapeProto{},
		TensorContent: binary.LittleEndian.AppendUint32(nil, sentinel),
	}
	b, err := proto.Marshal(scalarEvent(0, 0, tag, t))
	if err != nil {
		return nil, err
	}
	if len(b) < 4 || binary.LittleEndian.Uint32(b[len(b)-4:]) != sentinel {
		return nil, errors.New("scalar value is not the last field of the marshalled event")
	}
	return b, nil
}

// scalarEvent is the Event of a Keras scalar: a rank-0 DT_FLOAT tensor with
// plugin "scalars" metadata.
func scalarEvent(wallTime float64, step int64, tag string, t *tensorpb.TensorProto) *eventpb.Event {
	v := &summarypb.Summary_Value{
		Tag:      tag,
		Metadata: pluginMetadata(PluginScalars, nil),
		Value:    &summarypb.Summary_Value_Tensor{Tensor: t},
	}
	return &eventpb.Event{
		WallTime: wallTime,
		Step:     step,
		What:     &eventpb.Event_Summary{Summary: &summarypb.Summary{Value: []*summarypb.Summary_Value{v}}},
	}
}

// pluginMetadata is attached to every value, as TF2 does: TensorBoard's data
// server decides a tag's plugin from its first event only.
func pluginMetadata(plugin string, content []byte) *summarypb.SummaryMetadata {
	return &summarypb.SummaryMetadata{PluginData: &summarypb.SummaryMetadata_PluginData{PluginName: plugin, Content: content}}
}

func shape(dims ...int64) *shapepb.TensorShapeProto {
	s := &shapepb.TensorShapeProto{}
	for _, d := range dims {
		s.Dim = append(s.Dim, &shapepb.TensorShapeProto_Dim{Size: d})
	}
	return s
}

// Scalar writes value under tag at step the way Keras does: a rank-0
// DT_FLOAT tensor (TensorBoard's data server drops double scalars), plugin
// "scalars" metadata on every event. The value is rounded to float32.
func (w *EventWriter) Scalar(tag string, step int64, value float64, opts ...ValueOption) error {
	if err := checkTag(tag); err != nil {
		return w.errorf("%w", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usableLocked(); err != nil {
		return err
	}
	s, err := w.seriesLocked(tag, PluginScalars, step, false)
	if err != nil {
		return err
	}
	if s == nil || s.scalarTail == nil { // new, or first written by WriteSummary
		tail, err := scalarSummaryBytes(tag)
		if err != nil {
			return w.errorf("tag %q: %w", tag, err)
		}
		if s == nil {
			s = &series{plugin: PluginScalars}
			w.series[tag] = s
		}
		s.scalarTail = tail
	}
	start := len(w.buf)
	w.buf = append(w.buf, make([]byte, recordHeaderLen)...)
	// proto3 leaves zero fields out; so does this, to give proto's bytes.
	if wt := w.wallTime(opts); wt != 0 {
		w.buf = protowire.AppendTag(w.buf, 1, protowire.Fixed64Type)
		w.buf = protowire.AppendFixed64(w.buf, math.Float64bits(wt))
	}
	if step != 0 {
		w.buf = protowire.AppendTag(w.buf, 2, protowire.VarintType)
		w.buf = protowire.AppendVarint(w.buf, uint64(step))
	}
	w.buf = append(w.buf, s.scalarTail...)
	binary.LittleEndian.PutUint32(w.buf[len(w.buf)-4:], math.Float32bits(float32(value)))
	w.buf = finishRecord(w.buf, start)
	s.lastStep = step
	return w.recordAppendedLocked()
}

// writeValue writes one summary value as its own event.
func (w *EventWriter) writeValue(tag, plugin string, step int64, once bool, t *tensorpb.TensorProto, content []byte, opts []ValueOption) error {
	if err := checkTag(tag); err != nil {
		return w.errorf("%w", err)
	}
	v := &summarypb.Summary_Value{
		Tag:      tag,
		Metadata: pluginMetadata(plugin, content),
		Value:    &summarypb.Summary_Value_Tensor{Tensor: t},
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usableLocked(); err != nil {
		return err
	}
	s, err := w.seriesLocked(tag, plugin, step, once)
	if err != nil {
		return err
	}
	ev := &eventpb.Event{
		WallTime: w.wallTime(opts),
		Step:     step,
		What:     &eventpb.Event_Summary{Summary: &summarypb.Summary{Value: []*summarypb.Summary_Value{v}}},
	}
	if err := w.appendEventLocked(ev); err != nil {
		return err
	}
	w.remember(s, tag, plugin, step)
	return nil
}

// Histogram writes the distribution of values as Keras does
// (tf.summary.histogram): 30 buckets (or HistogramBucketCount's) of equal
// width between the minimum and the maximum, as a DT_DOUBLE [30, 3] tensor
// of [left, right, count] rows. NaN and infinite values are left out
// (TensorFlow would turn every edge into NaN).
func (w *EventWriter) Histogram(tag string, step int64, values []float64, opts ...ValueOption) error {
	return w.writeHistogram(tag, step, histogramBuckets(values, w.opts.buckets), opts)
}

// HistogramFloat32 is Histogram for float32 values, such as weights, without
// a float64 copy of them.
func (w *EventWriter) HistogramFloat32(tag string, step int64, values []float32, opts ...ValueOption) error {
	return w.writeHistogram(tag, step, histogramBuckets(values, w.opts.buckets), opts)
}

func (w *EventWriter) writeHistogram(tag string, step int64, rows []float64, opts []ValueOption) error {
	content := make([]byte, 8*len(rows))
	for i, x := range rows {
		binary.LittleEndian.PutUint64(content[8*i:], math.Float64bits(x))
	}
	t := &tensorpb.TensorProto{
		Dtype:         typespb.DataType_DT_DOUBLE,
		TensorShape:   shape(int64(len(rows)/3), 3),
		TensorContent: content,
	}
	return w.writeValue(tag, PluginHistograms, step, false, t, nil, opts)
}

// histogramBuckets returns k rows of [left, right, count], flattened, by the
// rule of TensorBoard's histogram summary_v2 (which Keras uses):
//   - edges are linspace(min, max, k+1) with the last edge exactly max;
//   - x falls in bucket floor((x-min)/((max-min)/k)), clamped to k-1;
//   - if every value is equal, all rows are [v, v, 0] but the last,
//     [v, v, n];
//   - no values give k rows of zeros.
func histogramBuckets[T float32 | float64](values []T, k int) []float64 {
	rows := make([]float64, 3*k)
	if k == 0 {
		return rows
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	n := 0
	for _, v := range values {
		x := float64(v)
		if math.IsNaN(x) || math.IsInf(x, 0) {
			continue
		}
		n++
		if x < lo {
			lo = x
		}
		if x > hi {
			hi = x
		}
	}
	if n == 0 {
		return rows
	}
	if lo == hi {
		for i := 0; i < k; i++ {
			rows[3*i], rows[3*i+1] = lo, lo
		}
		rows[3*k-1] = float64(n)
		return rows
	}
	// TensorFlow's arithmetic, except when max-min overflows to infinity:
	// then the halves of the values are bucketed, which keeps every index
	// and edge finite.
	scale := 1.0
	if math.IsInf(hi-lo, 0) {
		scale = 0.5
	}
	l, h := lo*scale, hi*scale
	width := (h - l) / float64(k)
	for _, v := range values {
		x := float64(v)
		if math.IsNaN(x) || math.IsInf(x, 0) {
			continue
		}
		// q >= 0, so int(q) is floor(q); NaN (a zero width) and q >= k
		// go to the last bucket.
		q := (x*scale - l) / width
		i := k - 1
		if q < float64(k) {
			i = int(q)
		}
		rows[3*i+2]++
	}
	// tf.linspace(min, max, k+1): min + i*(max-min)/k, the last edge max.
	for i := 0; i < k; i++ {
		rows[3*i] = (l + float64(i)*width) / scale
		rows[3*i+1] = (l + float64(i+1)*width) / scale
	}
	rows[3*k-2] = hi
	return rows
}

// stringTensor is how TF2 stores strings: string_val, never tensor_content
// (TensorBoard's Python side cannot decode strings from tensor_content).
func stringTensor(shape *shapepb.TensorShapeProto, values ...[]byte) *tensorpb.TensorProto {
	return &tensorpb.TensorProto{Dtype: typespb.DataType_DT_STRING, TensorShape: shape, StringVal: values}
}

// Text writes markdown under tag at step (plugin "text", a rank-0 string
// tensor). TensorBoard renders it as sanitized Markdown.
func (w *EventWriter) Text(tag string, step int64, markdown string, opts ...ValueOption) error {
	if !utf8.ValidString(markdown) {
		return w.errorf("text for tag %q is not valid UTF-8", tag)
	}
	return w.writeValue(tag, PluginText, step, false, stringTensor(shape(), []byte(markdown)), nil, opts)
}

// Graph writes a serialized GraphDef as Event.graph_def at step 0, which
// TensorBoard shows as the run's op graph. It can be written once.
func (w *EventWriter) Graph(graphDef []byte, opts ...ValueOption) error {
	if len(graphDef) == 0 {
		return w.errorf("empty graph")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usableLocked(); err != nil {
		return err
	}
	if w.graph {
		return w.errorf("graph was already written; it is written once")
	}
	ev := &eventpb.Event{WallTime: w.wallTime(opts), What: &eventpb.Event_GraphDef{GraphDef: graphDef}}
	if err := w.appendEventLocked(ev); err != nil {
		return err
	}
	w.graph = true
	return nil
}

// KerasModel writes a Keras model's JSON (model.to_json()) under tag
// "keras" at step 0 with plugin "graph_keras_model" and content "1", which
// the Graphs dashboard shows as a conceptual graph. It can be written once.
func (w *EventWriter) KerasModel(modelJSON []byte, opts ...ValueOption) error {
	if !utf8.Valid(modelJSON) || len(modelJSON) == 0 {
		return w.errorf("keras model JSON is empty or not UTF-8")
	}
	return w.writeValue(KerasModelTag, PluginKerasModel, 0, true, stringTensor(shape(), modelJSON), []byte("1"), opts)
}

// nullTensor is what TensorBoard's hparams summaries carry: the data is in
// the metadata content.
func nullTensor() *tensorpb.TensorProto {
	return &tensorpb.TensorProto{Dtype: typespb.DataType_DT_FLOAT, TensorShape: shape(0)}
}

// HParamsExperiment writes the hparams experiment (what the hparams and
// metrics are) at step 0. Write it once, in the writer of the sweep's root
// directory; the sessions go in its sub-directories.
func (w *EventWriter) HParamsExperiment(e Experiment, opts ...ValueOption) error {
	// A replayed experiment (WallTime) was created at its own time.
	content, err := encodeExperiment(e, func() time.Time { return w.valueTime(opts) })
	if err != nil {
		return w.errorf("%w", err)
	}
	return w.writeValue(HParamsExperimentTag, PluginHParams, 0, true, nullTensor(), content, opts)
}

// HParamsSessionStart writes a session's hparam values at step 0. Write it
// in the writer of the session's own run directory (the one above its
// train/ and validation/), never at the sweep root: TensorBoard finds the
// session's metrics in that directory and below it.
func (w *EventWriter) HParamsSessionStart(s SessionStart, opts ...ValueOption) error {
	content, err := encodeSessionStart(s, func() time.Time { return w.valueTime(opts) })
	if err != nil {
		return w.errorf("%w", err)
	}
	return w.writeValue(HParamsSessionStartTag, PluginHParams, 0, true, nullTensor(), content, opts)
}

// HParamsSessionEnd writes how a session ended, at step 0, in the same
// writer as HParamsSessionStart. A zero end time means the value's time
// (now, or its WallTime).
func (w *EventWriter) HParamsSessionEnd(status Status, end time.Time, opts ...ValueOption) error {
	if end.IsZero() {
		end = w.valueTime(opts)
	}
	content := encodeSessionEnd(SessionEnd{Status: status, EndTime: end})
	return w.writeValue(HParamsSessionEndTag, PluginHParams, 0, true, nullTensor(), content, opts)
}

// SessionLogStart writes a SessionLog START event at step: the marker of a
// resumed run. TensorBoard's Python loader drops, on every START after the
// first in a run, all points at steps >= step, so a run resumed from a
// checkpoint at step shows no stale points past it.
func (w *EventWriter) SessionLogStart(step int64, opts ...ValueOption) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usableLocked(); err != nil {
		return err
	}
	ev := &eventpb.Event{
		WallTime: w.wallTime(opts),
		Step:     step,
		What:     &eventpb.Event_SessionLog{SessionLog: &eventpb.SessionLog{Status: eventpb.SessionLog_START}},
	}
	return w.appendEventLocked(ev)
}
