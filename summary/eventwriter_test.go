package summary

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	summarypb "github.com/wamuir/graft/tensorflow/core/framework/summary_go_proto"
	eventpb "github.com/wamuir/graft/tensorflow/core/util/event_go_proto"
)

// readBack reads every event from b, failing the test on any error.
func readBack(t *testing.T, b []byte) []Event {
	t.Helper()
	r := NewReader(bytes.NewReader(b), "buffer")
	var events []Event
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, ev)
	}
	if r.Truncated() {
		t.Fatal("truncated")
	}
	return events
}

// The io.Writer core: nothing reaches the writer before a flush, then the
// file_version event and every value, whole, readable by the Reader.
func TestEventWriterOverBuffer(t *testing.T) {
	var buf bytes.Buffer
	w := NewEventWriter(&buf)
	if err := w.Scalar("loss", 1, 0.5); err != nil {
		t.Fatal(err)
	}
	if err := w.Text("notes", 1, "hello"); err != nil {
		t.Fatal(err)
	}
	if err := w.Histogram("weights", 1, []float64{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Fatalf("%d bytes written before Flush; records are buffered", buf.Len())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Scalar("loss", 2, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Scalar after Close: %v, want ErrClosed", err)
	}
	events := readBack(t, buf.Bytes())
	if len(events) != 4 || events[0].FileVersion != fileVersion {
		t.Fatalf("events %+v, want file_version then 3 values", events)
	}
	got := []string{}
	for _, ev := range events[1:] {
		v := ev.Values[0]
		got = append(got, fmt.Sprintf("%s %s %d", v.Plugin, v.Tag, ev.Step))
	}
	want := []string{"scalars loss 1", "text notes 1", "histograms weights 1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("values %q, want %q", got, want)
	}
}

type failAfter struct {
	n   int // bytes accepted before failing
	buf bytes.Buffer
}

var errBroken = errors.New("broken pipe")

func (f *failAfter) Write(p []byte) (int, error) {
	if f.buf.Len()+len(p) > f.n {
		return 0, errBroken
	}
	return f.buf.Write(p)
}

// A failed Write is sticky, names no file (there is none), and what was
// written before it stays readable.
func TestEventWriterStickyError(t *testing.T) {
	out := &failAfter{n: 200}
	w := NewEventWriter(out, MaxPending(1))
	var err error
	for step := int64(0); err == nil && step < 100; step++ {
		err = w.Scalar("loss", step, float64(step))
	}
	if !errors.Is(err, errBroken) || !strings.HasPrefix(err.Error(), "summary: write: ") {
		t.Fatalf("error %v, want the io.Writer's wrapped", err)
	}
	for _, call := range []struct {
		name string
		f    func() error
	}{
		{"Scalar", func() error { return w.Scalar("other", 0, 1) }},
		{"Flush", w.Flush},
		{"Close", w.Close}, // last: after Close, calls return ErrClosed
	} {
		if err := call.f(); !errors.Is(err, errBroken) {
			t.Errorf("%s after the failure: %v", call.name, err)
		}
	}
	if n := len(readBack(t, out.buf.Bytes())); n < 2 {
		t.Errorf("read back %d events", n)
	}
}

func TestWallTimeOption(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	at := time.Unix(1_600_000_000, 250_000_000)
	tests := []struct {
		name  string
		write func(w *EventWriter) error
		want  float64
	}{
		{"scalar now", func(w *EventWriter) error { return w.Scalar("a", 0, 1) }, 1_700_000_000},
		{"scalar at", func(w *EventWriter) error { return w.Scalar("a", 0, 1, WallTime(at)) }, 1_600_000_000.25},
		{"scalar zero time is now", func(w *EventWriter) error { return w.Scalar("a", 0, 1, WallTime(time.Time{})) }, 1_700_000_000},
		{"histogram at", func(w *EventWriter) error { return w.Histogram("h", 0, []float64{1}, WallTime(at)) }, 1_600_000_000.25},
		{"text at", func(w *EventWriter) error { return w.Text("t", 0, "x", WallTime(at)) }, 1_600_000_000.25},
		{"graph at", func(w *EventWriter) error { return w.Graph([]byte{1}, WallTime(at)) }, 1_600_000_000.25},
		{"summary at", func(w *EventWriter) error {
			return w.WriteSummary(0, &summarypb.Summary{Value: []*summarypb.Summary_Value{
				{Tag: "s", Value: &summarypb.Summary_Value_SimpleValue{SimpleValue: 1}}}}, WallTime(at))
		}, 1_600_000_000.25},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			o := defaultOptions()
			o.now = func() time.Time { return now }
			w := newEventWriter(&buf, "", now.Unix(), o)
			if err := tt.write(w); err != nil {
				t.Fatal(err)
			}
			w.Close()
			events := readBack(t, buf.Bytes())
			if got := events[len(events)-1].WallTime; got != tt.want {
				t.Errorf("wall time %f, want %f", got, tt.want)
			}
		})
	}
}

// A session end written with a WallTime and no end time ended then.
func TestSessionEndAtWallTime(t *testing.T) {
	var buf bytes.Buffer
	w := NewEventWriter(&buf)
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	if err := w.HParamsSessionEnd(StatusSuccess, time.Time{}, WallTime(at)); err != nil {
		t.Fatal(err)
	}
	w.Close()
	ev := readBack(t, buf.Bytes())[1]
	if end := ev.Values[0].HParams.SessionEnd; !end.EndTime.Equal(at) || ev.WallTime != float64(at.Unix()) {
		t.Errorf("session end %v at wall time %f, want both %v", end.EndTime, ev.WallTime, at)
	}
}

func TestStepPolicy(t *testing.T) {
	steps := []int64{0, 1, 1, 0, 5}
	tests := []struct {
		policy  StepPolicy
		opts    []Option
		written []int64
	}{
		{StrictSteps, nil, []int64{0, 1, 5}},
		{StrictSteps, []Option{Steps(StrictSteps)}, []int64{0, 1, 5}},
		{TensorBoardSteps, []Option{Steps(TensorBoardSteps)}, steps},
	}
	for _, tt := range tests {
		for _, kind := range []string{"scalar", "text", "summary"} {
			t.Run(fmt.Sprintf("%d/%s", tt.policy, kind), func(t *testing.T) {
				var buf bytes.Buffer
				w := NewEventWriter(&buf, tt.opts...)
				for _, step := range steps {
					var err error
					switch kind {
					case "scalar":
						err = w.Scalar("x", step, 1)
					case "text":
						err = w.Text("x", step, "t")
					case "summary":
						err = w.WriteSummary(step, &summarypb.Summary{Value: []*summarypb.Summary_Value{
							{Tag: "x", Metadata: pluginMetadata("mine", nil), Value: &summarypb.Summary_Value_SimpleValue{SimpleValue: 1}}}})
					}
					if err != nil && (tt.policy == TensorBoardSteps || !strings.Contains(err.Error(), "steps must increase")) {
						t.Fatalf("step %d: %v", step, err)
					}
				}
				w.Close()
				var got []int64
				for _, ev := range readBack(t, buf.Bytes())[1:] {
					got = append(got, ev.Step)
				}
				if !reflect.DeepEqual(got, tt.written) {
					t.Errorf("steps written %v, want %v", got, tt.written)
				}
			})
		}
	}
}

func TestHistogramBucketCount(t *testing.T) {
	for _, tt := range []struct {
		opts []Option
		want int
	}{{nil, 30}, {[]Option{HistogramBucketCount(5)}, 5}, {[]Option{HistogramBucketCount(0)}, 30}} {
		var buf bytes.Buffer
		w := NewEventWriter(&buf, tt.opts...)
		if err := w.HistogramFloat32("h", 0, []float32{0, 1, 2, 3}); err != nil {
			t.Fatal(err)
		}
		w.Close()
		if got := len(readBack(t, buf.Bytes())[1].Values[0].Histogram); got != tt.want {
			t.Errorf("%d buckets, want %d", got, tt.want)
		}
	}
}

// WriteEvent and WriteSummary write raw protos; a value of an unknown
// plugin reads back as Raw with its metadata.
func TestWriteEventAndSummary(t *testing.T) {
	var buf bytes.Buffer
	w := NewEventWriter(&buf)
	meta := &eventpb.Event{WallTime: 5, Step: 3, What: &eventpb.Event_MetaGraphDef{MetaGraphDef: []byte{1, 2}}}
	if err := w.WriteEvent(meta); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []*eventpb.Event{nil, {WallTime: math.NaN()}, {WallTime: math.Inf(1)}} {
		if err := w.WriteEvent(bad); err == nil {
			t.Errorf("WriteEvent(%v) accepted", bad)
		}
	}
	value := &summarypb.Summary_Value{Tag: "pr/curve", Metadata: pluginMetadata("pr_curves", []byte("cfg")),
		Value: &summarypb.Summary_Value_Tensor{Tensor: stringTensor(shape(), []byte("data"))}}
	if err := w.WriteSummary(7, &summarypb.Summary{Value: []*summarypb.Summary_Value{value}}); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*summarypb.Summary{
		"nil":           nil,
		"empty":         {},
		"empty tag":     {Value: []*summarypb.Summary_Value{{}}},
		"duplicate tag": {Value: []*summarypb.Summary_Value{value, value}},
		"same step":     {Value: []*summarypb.Summary_Value{value}},
		"other plugin": {Value: []*summarypb.Summary_Value{{Tag: "pr/curve", Metadata: pluginMetadata("text", nil),
			Value: &summarypb.Summary_Value_Tensor{Tensor: stringTensor(shape(), []byte("x"))}}}},
	} {
		step := int64(8)
		if name == "same step" {
			step = 7
		}
		if err := w.WriteSummary(step, s); err == nil {
			t.Errorf("WriteSummary of %s accepted", name)
		}
	}
	w.Close()
	events := readBack(t, buf.Bytes())
	if len(events) != 3 {
		t.Fatalf("%d events, want file_version, meta graph and summary", len(events))
	}
	if events[1].WallTime != 5 || events[1].Step != 3 {
		t.Errorf("raw event read back as %+v", events[1])
	}
	v := events[2].Values[0]
	if v.Plugin != "pr_curves" || string(v.PluginContent) != "cfg" || v.Raw == nil ||
		string(v.Raw.GetTensor().GetStringVal()[0]) != "data" || events[2].Step != 7 {
		t.Errorf("unknown plugin's value read back as %+v", v)
	}
}

func TestCustomScalarsRoundTrip(t *testing.T) {
	layout := Layout{Categories: []Category{
		{Title: "batch size 64", Charts: []Chart{
			{Title: "loss, with and without batch norm", Tags: []string{"^epoch_loss$"}},
			{Title: "accuracy", Tags: []string{"accuracy", "^val"}},
		}},
		{Title: "bounds", Closed: true, Charts: []Chart{
			{Title: "loss band", Margin: []MarginSeries{{Value: "loss", Lower: "loss/lo", Upper: "loss/hi"}}},
		}},
	}}
	var buf bytes.Buffer
	w := NewEventWriter(&buf)
	if err := w.CustomScalars(layout); err != nil {
		t.Fatal(err)
	}
	if err := w.CustomScalars(layout); err == nil {
		t.Error("a second layout in one writer accepted")
	}
	w.Close()
	events := readBack(t, buf.Bytes())
	v := events[1].Values[0]
	if v.Tag != CustomScalarsTag || v.Plugin != PluginCustomScalars || events[1].Step != 0 || v.Raw != nil {
		t.Fatalf("layout value %+v at step %d", v, events[1].Step)
	}
	if !reflect.DeepEqual(*v.Layout, layout) {
		t.Errorf("layout read back as %+v, want %+v", *v.Layout, layout)
	}

	for name, bad := range map[string]Layout{
		"no categories": {},
		"no charts":     {Categories: []Category{{Title: "c"}}},
		"no tags":       {Categories: []Category{{Charts: []Chart{{Title: "x"}}}}},
		"bad regexp":    {Categories: []Category{{Charts: []Chart{{Tags: []string{"("}}}}}},
		"both kinds":    {Categories: []Category{{Charts: []Chart{{Tags: []string{"a"}, Margin: []MarginSeries{{"a", "b", "c"}}}}}}},
		"margin part":   {Categories: []Category{{Charts: []Chart{{Margin: []MarginSeries{{Value: "a"}}}}}}},
	} {
		if err := NewEventWriter(io.Discard).CustomScalars(bad); err == nil {
			t.Errorf("layout with %s accepted", name)
		}
	}
}

// A 0-byte event file (created, never written: what a writer killed in
// between left before files were born under a temporary name) is empty,
// not corrupt, and makes no run.
func TestZeroByteEventFile(t *testing.T) {
	root := t.TempDir()
	empty := filepath.Join(root, "killed", "events.out.tfevents.1.host.1.0.v2")
	os.MkdirAll(filepath.Dir(empty), 0o755)
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	events, err := ReadFile(empty)
	if err != nil || len(events) != 0 {
		t.Errorf("ReadFile of a 0-byte file: %d events, %v", len(events), err)
	}
	w := newTestWriter(t, filepath.Join(root, "live"))
	w.Close()
	// A run with an empty file beside a written one is still a run.
	os.WriteFile(filepath.Join(root, "live", "events.out.tfevents.2.host.1.0.v2"), nil, 0o644)
	runs, err := Runs(root)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"live"}; !reflect.DeepEqual(runs, want) {
		t.Errorf("Runs = %q, want %q", runs, want)
	}
}

// recordingFS is the real file system with every operation recorded, and
// optionally one failing.
type recordingFS struct {
	osFS
	ops    []string
	failOn string // an op name, e.g. "link"
}

var errInjected = errors.New("injected failure")

func (r *recordingFS) record(op, path string) error {
	r.ops = append(r.ops, op+" "+filepath.Base(path))
	if op == r.failOn {
		return errInjected
	}
	return nil
}

func (r *recordingFS) CreateExcl(path string) (eventFile, error) {
	if err := r.record("create", path); err != nil {
		return nil, err
	}
	f, err := r.osFS.CreateExcl(path)
	if err != nil {
		return nil, err
	}
	return &recordingFile{eventFile: f, fs: r, name: path}, nil
}

func (r *recordingFS) Link(oldPath, newPath string) error {
	if err := r.record("link", oldPath+" "+newPath); err != nil {
		return err
	}
	r.ops[len(r.ops)-1] = "link " + filepath.Base(oldPath) + " " + filepath.Base(newPath)
	return r.osFS.Link(oldPath, newPath)
}

func (r *recordingFS) Remove(path string) error {
	if err := r.record("remove", path); err != nil {
		return err
	}
	return r.osFS.Remove(path)
}

func (r *recordingFS) SyncDir(dir string) error {
	if err := r.record("syncdir", dir); err != nil {
		return err
	}
	return r.osFS.SyncDir(dir)
}

type recordingFile struct {
	eventFile
	fs   *recordingFS
	name string
}

func (f *recordingFile) Write(p []byte) (int, error) {
	if err := f.fs.record("write", f.name); err != nil {
		return 0, err
	}
	return f.eventFile.Write(p)
}

func (f *recordingFile) Sync() error {
	if err := f.fs.record("sync", f.name); err != nil {
		return err
	}
	return f.eventFile.Sync()
}

func (f *recordingFile) Close() error {
	f.fs.record("close", f.name)
	return f.eventFile.Close()
}

// A new event file gets its first event and an fsync under a temporary
// name TensorBoard ignores, and only then its tfevents name, then the
// directory an fsync: a kill -9 at any point leaves no empty event file.
func TestNewWriterSyncsBeforeNaming(t *testing.T) {
	dir := t.TempDir()
	rfs := &recordingFS{}
	w, err := newFileWriter(rfs, dir, defaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	final := filepath.Base(w.Path())
	if len(rfs.ops) != 6 {
		t.Fatalf("ops %q", rfs.ops)
	}
	tmp := strings.Fields(rfs.ops[0])[1]
	if IsEventFile(tmp) || !strings.HasPrefix(tmp, ".") {
		t.Errorf("temporary name %q: want a hidden name without \"tfevents\"", tmp)
	}
	want := []string{"create " + tmp, "write " + tmp, "sync " + tmp, "link " + tmp + " " + final, "remove " + tmp, "syncdir " + filepath.Base(dir)}
	if !reflect.DeepEqual(rfs.ops, want) {
		t.Errorf("ops\n %q\nwant\n %q", rfs.ops, want)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != final {
		t.Errorf("directory holds %v, want only %s", entries, final)
	}
	if events := readOne(t, dir); len(events) != 1 || events[0].FileVersion != fileVersion {
		t.Errorf("events %+v", events)
	}
	if ops := rfs.ops[len(rfs.ops)-2:]; !reflect.DeepEqual(ops, []string{"sync " + tmp, "close " + tmp}) {
		t.Errorf("Close did %q, want an fsync then close", ops)
	}
}

// Whatever step of the birth fails, NewWriter returns the error and leaves
// neither an event file nor a temporary one.
func TestNewWriterFailureLeavesNothing(t *testing.T) {
	for _, op := range []string{"create", "write", "sync", "link", "syncdir"} {
		t.Run(op, func(t *testing.T) {
			dir := t.TempDir()
			_, err := newFileWriter(&recordingFS{failOn: op}, dir, defaultOptions())
			if !errors.Is(err, errInjected) {
				t.Fatalf("error %v, want the injected one", err)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 0 {
				t.Errorf("left %v", entries)
			}
		})
	}
}

func TestTempPID(t *testing.T) {
	for _, tt := range []struct {
		name string
		pid  int
		ok   bool
	}{
		{tempName(4242, 7), 4242, true},
		{".events-1-0.tmp", 1, true},
		{".events-0-1.tmp", 0, false},
		{".events-x-1.tmp", 0, false},
		{".events-12-.tmp", 0, false},
		{".events-12-3", 0, false},
		{"events-12-3.tmp", 0, false},
		{"events.out.tfevents.1.host.12.3.v2", 0, false},
	} {
		if pid, ok := tempPID(tt.name); pid != tt.pid || ok != tt.ok {
			t.Errorf("tempPID(%q) = %d, %v; want %d, %v", tt.name, pid, ok, tt.pid, tt.ok)
		}
	}
}

// deadFS is the real file system where the listed pids are not running.
type deadFS struct {
	osFS
	dead map[int]bool
}

func (d deadFS) Alive(pid int) bool { return !d.dead[pid] }

// NewWriter removes the temporary files of dead writers' births, and only
// those.
func TestNewWriterRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	files := map[string]bool{ // name: removed
		tempName(1001, 0):       true,
		tempName(1002, 5):       false, // its writer lives
		".events-1001-0.tmp.x":  false,
		"events-1001-0.tmp":     false,
		".figure.png.tmp-1001-": false,
	}
	for name := range files {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w, err := newFileWriter(deadFS{dead: map[int]bool{1001: true}}, dir, defaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for name, removed := range files {
		_, err := os.Stat(filepath.Join(dir, name))
		if gone := os.IsNotExist(err); gone != removed {
			t.Errorf("%s: removed %v, want %v", name, gone, removed)
		}
	}
}
