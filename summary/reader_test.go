package summary

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	summarypb "github.com/wamuir/graft/tensorflow/core/framework/summary_go_proto"
	eventpb "github.com/wamuir/graft/tensorflow/core/util/event_go_proto"
	hpb "github.com/wamuir/graft/tensorflow/tsl/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"
)

// writeEvents writes a small event file and returns its bytes.
func writeEvents(t *testing.T, n int) (path string, data []byte) {
	t.Helper()
	dir := t.TempDir()
	w := newTestWriter(t, dir)
	for i := 0; i < n; i++ {
		if err := w.Scalar("loss", int64(i), float64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	return w.Path(), data
}

// recordOffsets returns the offset of every record in data.
func recordOffsets(data []byte) []int {
	var offs []int
	for off := 0; off < len(data); {
		offs = append(offs, off)
		off += recordHeaderLen + int(binary.LittleEndian.Uint64(data[off:])) + recordFooterLen
	}
	return offs
}

func readAll(data []byte, name string) (events []Event, r *Reader, err error) {
	r = NewReader(bytes.NewReader(data), name)
	for {
		ev, err := r.Next()
		if err != nil {
			return events, r, err
		}
		events = append(events, ev)
	}
}

func TestReaderTruncatedTail(t *testing.T) {
	_, data := writeEvents(t, 3)
	offs := recordOffsets(data)
	last := offs[len(offs)-1]
	for cut := last; cut < len(data); cut++ {
		events, r, err := readAll(data[:cut], "f")
		if err != io.EOF {
			t.Fatalf("cut at %d: %v, want io.EOF", cut, err)
		}
		if len(events) != len(offs)-1 {
			t.Fatalf("cut at %d: %d events, want %d", cut, len(events), len(offs)-1)
		}
		if got, want := r.Truncated(), cut > last; got != want {
			t.Fatalf("cut at %d: Truncated() = %v, want %v", cut, got, want)
		}
	}
}

func TestReaderCorruptRecords(t *testing.T) {
	_, data := writeEvents(t, 3)
	offs := recordOffsets(data)
	second := offs[2] // the second scalar's record
	payloadLen := int(binary.LittleEndian.Uint64(data[second:]))
	flip := func(at int) []byte {
		b := bytes.Clone(data)
		b[at] ^= 0x40
		return b
	}
	// A record whose CRCs are right but whose payload is not an Event.
	notProto := bytes.Clone(data[:second])
	notProto = appendRecord(notProto, []byte{0xff, 0xff, 0xff})
	// Invalid UTF-8 in a tag: TensorBoard's data server drops the file.
	badUTF8 := bytes.Clone(data[:second])
	tag := []byte("loss")
	payload := bytes.Clone(data[second+recordHeaderLen : second+recordHeaderLen+payloadLen])
	i := bytes.Index(payload, tag)
	payload[i] = 0xff
	badUTF8 = appendRecord(badUTF8, payload)

	tests := []struct {
		name   string
		data   []byte
		reason string
	}{
		{"length", flip(second + 2), "bad length crc"},
		{"length crc", flip(second + 9), "bad length crc"},
		{"payload", flip(second + recordHeaderLen + 3), "bad data crc"},
		{"data crc", flip(second + recordHeaderLen + payloadLen + 1), "bad data crc"},
		{"not an event", notProto, "bad event proto"},
		{"invalid utf-8", badUTF8, "bad event proto"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events, r, err := readAll(tt.data, "run/f")
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v, want a *CorruptError", err)
			}
			if ce.File != "run/f" || ce.Offset != int64(second) || !strings.Contains(ce.Reason, tt.reason) {
				t.Errorf("got %+v, want offset %d and reason %q", ce, second, tt.reason)
			}
			if !strings.Contains(err.Error(), "run/f") || !strings.Contains(err.Error(), "offset") {
				t.Errorf("message %q names neither file nor offset", err)
			}
			if len(events) != 2 {
				t.Errorf("%d events before the corrupt record, want 2", len(events))
			}
			if _, again := r.Next(); again != err {
				t.Errorf("error not sticky: %v", again)
			}
		})
	}
}

// A length with a valid CRC but far beyond the data is a truncation, found
// without allocating the claimed size.
func TestReaderHugeLength(t *testing.T) {
	var h [12]byte
	binary.LittleEndian.PutUint64(h[:], 1<<40)
	binary.LittleEndian.PutUint32(h[8:], maskedCRC(h[:8]))
	data := append(h[:], "short"...)
	_, r, err := readAll(data, "f")
	if err != io.EOF || !r.Truncated() {
		t.Fatalf("err %v truncated %v", err, r.Truncated())
	}
}

// The spec's TF2 scalar event (section 1.1) decodes to what Scalar writes.
func TestScalarMatchesTensorFlow(t *testing.T) {
	tfPayload := cat(
		[]byte{0x09}, f64(1599759586.5), []byte{0x10, 0x4d},
		[]byte{0x2a, 0x25, 0x0a, 0x23, 0x0a, 0x08}, []byte("accuracy"),
		[]byte{0x42, 0x0a, 0x08, 0x01, 0x12, 0x00, 0x22, 0x04, 0xa4, 0x70, 0x7d, 0x3f},
		[]byte{0x4a, 0x0b, 0x0a, 0x09, 0x0a, 0x07}, []byte("scalars"),
	)
	if len(tfPayload) != 50 {
		t.Fatalf("spec payload is %d bytes, want 50", len(tfPayload))
	}
	var want eventpb.Event
	if err := proto.Unmarshal(tfPayload, &want); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	w := newTestWriter(t, dir)
	w.Scalar("accuracy", 77, 0.99)
	w.Close()
	data, _ := os.ReadFile(w.Path())
	offs := recordOffsets(data)
	rr := recordReader{r: bytes.NewReader(data[offs[1]:])}
	payload, err := rr.next()
	if err != nil {
		t.Fatal(err)
	}
	if len(payload) != 50 {
		t.Errorf("our scalar payload is %d bytes, want 50", len(payload))
	}
	var got eventpb.Event
	if err := proto.Unmarshal(payload, &got); err != nil {
		t.Fatal(err)
	}
	got.WallTime = want.WallTime
	if !proto.Equal(&got, &want) {
		t.Errorf("scalar event\n got %v\nwant %v", &got, &want)
	}
}

// tensorboardX and TF1 write legacy values; the reader converts them like
// TensorBoard does.
func TestReaderLegacyValues(t *testing.T) {
	ev := &eventpb.Event{WallTime: 1, Step: 3, What: &eventpb.Event_Summary{Summary: &summarypb.Summary{Value: []*summarypb.Summary_Value{
		{Tag: "loss", Value: &summarypb.Summary_Value_SimpleValue{SimpleValue: 0.5}},
		{Tag: "w", Value: &summarypb.Summary_Value_Histo{Histo: &hpb.HistogramProto{Min: -1, Max: 2, BucketLimit: []float64{0, 1, 3}, Bucket: []float64{4, 5, 6}}}},
		{Tag: "img", Value: &summarypb.Summary_Value_Image{Image: &summarypb.Summary_Image{Width: 2, Height: 1, EncodedImageString: []byte("png")}}},
		{Tag: "hp", Metadata: pluginMetadata(PluginHParams, encodeSessionEnd(SessionEnd{Status: StatusRunning}))},
	}}}}
	payload, err := proto.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	events, _, err := readAll(appendRecord(nil, payload), "f")
	if err != io.EOF || len(events) != 1 {
		t.Fatalf("%d events, %v", len(events), err)
	}
	want := []Value{
		{Tag: "loss", Plugin: "scalars", Legacy: true, Scalar: 0.5},
		{Tag: "w", Plugin: "histograms", Legacy: true, Histogram: []Bucket{{-1, 0, 4}, {0, 1, 5}, {1, 2, 6}}},
		{Tag: "img", Plugin: "images", Legacy: true, Images: [][]byte{[]byte("png")}, ImageWidth: 2, ImageHeight: 1},
		{Tag: "hp", Plugin: "hparams", PluginContent: []byte{0x22, 0x02, 0x08, 0x03}, HParams: &HParams{SessionEnd: &SessionEnd{Status: StatusRunning}}},
	}
	if got := events[0].Values; !reflect.DeepEqual(got, want) {
		t.Errorf("values\n got %+v\nwant %+v", got, want)
	}
}

func TestReadFileErrors(t *testing.T) {
	if _, err := ReadFile(filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing file: %v", err)
	}
	// An empty file (a writer that has not written yet) holds no events.
	p := filepath.Join(t.TempDir(), "events.out.tfevents.0.h")
	os.WriteFile(p, nil, 0o644)
	if events, err := ReadFile(p); err != nil || len(events) != 0 {
		t.Errorf("empty file: %v, %v", events, err)
	}
}

func TestHistogramBuckets(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	tests := []struct {
		name   string
		values []float64
		k      int
		want   []float64 // rows of left, right, count
	}{
		{"empty", nil, 3, []float64{0, 0, 0, 0, 0, 0, 0, 0, 0}},
		{"no buckets", []float64{1, 2}, 0, []float64{}},
		{"all equal", []float64{2, 2, 2}, 3, []float64{2, 2, 0, 2, 2, 0, 2, 2, 3}},
		{"one value", []float64{-7}, 2, []float64{-7, -7, 0, -7, -7, 1}},
		{"max goes to the last bucket", []float64{0, 1, 2, 3}, 3, []float64{0, 1, 1, 1, 2, 1, 2, 3, 2}},
		{"left edges are inclusive", []float64{0, 0.5, 1, 1.5, 2}, 2, []float64{0, 1, 2, 1, 2, 3}},
		{"negative", []float64{-2, -1, -1, 4}, 2, []float64{-2, 1, 3, 1, 4, 1}},
		{"non-finite values are left out", []float64{nan, 0, inf, 4, -inf}, 2, []float64{0, 2, 1, 2, 4, 1}},
		{"only non-finite", []float64{nan}, 1, []float64{0, 0, 0}},
		{"range overflows float64", []float64{-math.MaxFloat64, 0, math.MaxFloat64}, 2, []float64{-math.MaxFloat64, 0, 1, 0, math.MaxFloat64, 2}},
		{"range underflows the width", []float64{0, 5e-324}, 2, []float64{0, 0, 0, 0, 5e-324, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := histogramBuckets(tt.values, tt.k)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	// The last edge is exactly max even when the linspace step rounds.
	vals := []float64{0.1, 0.7, 0.3}
	rows := histogramBuckets(vals, 30)
	if rows[len(rows)-2] != 0.7 || rows[0] != 0.1 {
		t.Errorf("edges %v .. %v, want 0.1 .. 0.7", rows[0], rows[len(rows)-2])
	}
	for i := 1; i < 30; i++ {
		if rows[3*i] != rows[3*i-2] {
			t.Fatalf("bucket %d starts at %v, previous ends at %v", i, rows[3*i], rows[3*i-2])
		}
	}
	if f32 := histogramBuckets([]float32{0.1, 0.7, 0.3}, 30); f32[0] != float64(float32(0.1)) {
		t.Errorf("float32 buckets start at %v", f32[0])
	}
}

// The iterators yield every event in order, end at the end of the file (a truncated tail
// included), yield a corrupt record's error once and stop there, and stop when the loop breaks.
func TestEventIterators(t *testing.T) {
	path, data := writeEvents(t, 3) // the file version and three scalars
	offs := recordOffsets(data)
	corrupt := slices.Clone(data)
	corrupt[offs[2]+recordHeaderLen] ^= 0xff // the second scalar's payload: its CRC no longer matches
	dir := t.TempDir()
	files := map[string][]byte{"whole": data, "truncated": data[:len(data)-3], "corrupt": corrupt}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		file    string
		steps   []int64 // of the events yielded without an error
		corrupt bool    // whether the last value is a *CorruptError
	}{
		{"whole", []int64{0, 0, 1, 2}, false},
		{"truncated", []int64{0, 0, 1}, false},
		{"corrupt", []int64{0, 0}, true},
	} {
		t.Run(tt.file, func(t *testing.T) {
			p := filepath.Join(dir, tt.file)
			var steps, protoSteps []int64
			var errs, protoErrs []error
			for ev, err := range ReadEvents(p) {
				if err != nil {
					errs = append(errs, err)
					continue
				}
				steps = append(steps, ev.Step)
			}
			for pb, err := range ReadProtos(p) {
				if err != nil {
					protoErrs = append(protoErrs, err)
					continue
				}
				protoSteps = append(protoSteps, pb.GetStep())
			}
			var ce *CorruptError
			if want := map[bool]int{false: 0, true: 1}[tt.corrupt]; len(errs) != want || len(protoErrs) != want ||
				(tt.corrupt && (!errors.As(errs[0], &ce) || !errors.As(protoErrs[0], &ce))) {
				t.Errorf("errors %v and %v, want %d *CorruptError", errs, protoErrs, want)
			}
			if !slices.Equal(steps, tt.steps) || !slices.Equal(protoSteps, tt.steps) {
				t.Errorf("steps %v and %v, want %v", steps, protoSteps, tt.steps)
			}
		})
	}
	n := 0
	for range ReadEvents(path) {
		n++
		break
	}
	if n != 1 {
		t.Errorf("the loop ran %d times after a break", n)
	}
	var errs []error
	for _, err := range ReadEvents(filepath.Join(dir, "missing")) {
		errs = append(errs, err)
	}
	if len(errs) != 1 || !errors.Is(errs[0], fs.ErrNotExist) {
		t.Errorf("a missing file yields %v, want one fs.ErrNotExist", errs)
	}
}
