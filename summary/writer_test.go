package summary

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	tensorpb "github.com/wamuir/graft/tensorflow/core/framework/tensor_go_proto"
	shapepb "github.com/wamuir/graft/tensorflow/core/framework/tensor_shape_go_proto"
	typespb "github.com/wamuir/graft/tensorflow/core/framework/types_go_proto"
	"google.golang.org/protobuf/proto"
)

// readOne returns the events of the only event file in dir.
func readOne(t *testing.T, dir string) []Event {
	t.Helper()
	files, err := EventFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 {
		t.Fatalf("%s holds %d event files, want 1: %v", dir, len(files), files)
	}
	events, err := ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	return events
}

func newTestWriter(t *testing.T, dir string, opts ...Option) *Writer {
	t.Helper()
	w, err := NewWriter(dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func TestFileNameAndFirstEvent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "train")
	before := time.Now().Unix()
	w := newTestWriter(t, dir)
	host, _ := os.Hostname()
	name := filepath.Base(w.Path())
	re := regexp.MustCompile(`^events\.out\.tfevents\.(\d{10})\.` + regexp.QuoteMeta(host) + `\.` + regexp.QuoteMeta(strconv.Itoa(os.Getpid())) + `\.\d+\.v2$`)
	if !re.MatchString(name) {
		t.Fatalf("file name %q does not match %v", name, re)
	}
	if filepath.Dir(w.Path()) != dir {
		t.Errorf("file in %s, want %s", filepath.Dir(w.Path()), dir)
	}
	// The first event is on disk before any Flush or Close.
	events := readOne(t, dir)
	if len(events) != 1 {
		t.Fatalf("%d events before close, want the file_version event only", len(events))
	}
	first := events[0]
	if first.FileVersion != "brain.Event:2" || first.Step != 0 {
		t.Errorf("first event %+v", first)
	}
	secs := re.FindStringSubmatch(name)[1]
	if first.WallTime != math.Trunc(first.WallTime) || fmt.Sprintf("%010d", int64(first.WallTime)) != secs || int64(first.WallTime) < before {
		t.Errorf("first wall_time %v, want whole seconds %s", first.WallTime, secs)
	}
}

func TestEveryWriterGetsANewFile(t *testing.T) {
	dir := t.TempDir()
	seen := map[string]bool{}
	for i := 0; i < 5; i++ {
		w, err := NewWriter(dir)
		if err != nil {
			t.Fatal(err)
		}
		if seen[w.Path()] {
			t.Fatalf("path %s reused", w.Path())
		}
		seen[w.Path()] = true
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := EventFiles(dir)
	if len(files) != 5 {
		t.Fatalf("%d files, want 5", len(files))
	}
}

// O_EXCL: a name that exists is never opened; the next counter is used and
// the existing file stays untouched.
func TestNewWriterNeverAppends(t *testing.T) {
	dir := t.TempDir()
	host, _ := os.Hostname()
	secs := time.Now().Unix()
	next := fileCounter.Load()
	// Occupy the next few names this process would pick, for this second
	// and the next (the clock may tick meanwhile).
	var occupied []string
	for s := secs; s <= secs+1; s++ {
		for c := next; c < next+3; c++ {
			p := filepath.Join(dir, fmt.Sprintf("events.out.tfevents.%010d.%s.%d.%d.v2", s, host, os.Getpid(), c))
			if err := os.WriteFile(p, []byte("occupied"), 0o644); err != nil {
				t.Fatal(err)
			}
			occupied = append(occupied, p)
		}
	}
	w := newTestWriter(t, dir)
	// The first free counter, in either second.
	if !strings.HasSuffix(w.Path(), fmt.Sprintf(".%d.%d.v2", os.Getpid(), next+3)) {
		t.Errorf("writer named %s, want counter %d, the first free one", w.Path(), next+3)
	}
	for _, p := range occupied {
		if p == w.Path() {
			t.Fatalf("writer opened existing file %s", p)
		}
		if b, _ := os.ReadFile(p); string(b) != "occupied" {
			t.Fatalf("existing file %s changed to %q", p, b)
		}
	}
}

func testImage() *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, 5, 3))
	for x := 0; x < 5; x++ {
		for y := 0; y < 3; y++ {
			img.Set(x, y, color.NRGBA{uint8(50 * x), uint8(80 * y), 7, 255})
		}
	}
	return img
}

func TestRoundTripEveryKind(t *testing.T) {
	dir := t.TempDir()
	w := newTestWriter(t, dir)
	created := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	exp := Experiment{
		Name: "sweep", Description: "lr and bn", User: "me", TimeCreated: created,
		HParams: []HParamInfo{
			{Name: "lr", DisplayName: "learning rate", Description: "Adam", Type: DataTypeFloat64, Interval: &Interval{Min: 1e-4, Max: 0.1}, Differs: true},
			{Name: "optimizer", Type: DataTypeString, Discrete: []any{"adam", "sgd"}},
			{Name: "use_bn", Type: DataTypeBool, Discrete: []any{false, true}},
			{Name: "units", Type: DataTypeFloat64, Discrete: []any{32.0, 64.0}},
		},
		Metrics: []MetricInfo{
			{Group: "validation", Tag: "epoch_loss", DisplayName: "val loss", Description: "d", Dataset: DatasetValidation},
			{Group: "train", Tag: "epoch_accuracy", Dataset: DatasetTraining},
		},
	}
	start := SessionStart{HParams: map[string]any{"lr": 0.01, "optimizer": "adam", "use_bn": true}, GroupName: "g", StartTime: created}
	end := created.Add(time.Minute)
	model := []byte(`{"class_name":"Sequential","config":{"name":"mlp","layers":[]}}`)
	graph := []byte{0x0a, 0x03, 0x0a, 0x01, 0x78}
	hist := []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}

	steps := []error{
		w.Scalar("epoch_loss", 0, 0.5),
		w.Scalar("epoch_loss", 1, 0.25),
		w.Histogram("dense/kernel/histogram", 0, hist),
		w.HistogramFloat32("dense/bias/histogram", 0, []float32{1, 1, 1}),
		w.Text("notes", 3, "# hello *world*"),
		w.Image("digits/image", 2, testImage()),
		w.Graph(graph),
		w.KerasModel(model),
		w.HParamsExperiment(exp),
		w.HParamsSessionStart(start),
		w.HParamsSessionEnd(StatusSuccess, end),
		w.SessionLogStart(7),
		w.Close(),
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	events := readOne(t, dir)
	if len(events) != 13 {
		t.Fatalf("%d events, want 13", len(events))
	}
	byTag := map[string][]Event{}
	for _, ev := range events[1:] {
		if ev.WallTime < 1e9 || ev.WallTime != math.Round(ev.WallTime*1e6)/1e6 {
			t.Errorf("wall_time %v is not microseconds since the epoch", ev.WallTime)
		}
		for _, v := range ev.Values {
			byTag[v.Tag] = append(byTag[v.Tag], ev)
		}
	}
	val := func(tag string, i int) Value {
		t.Helper()
		evs := byTag[tag]
		if len(evs) <= i || len(evs[i].Values) != 1 {
			t.Fatalf("tag %s: events %+v", tag, evs)
		}
		return evs[i].Values[0]
	}

	if v := val("epoch_loss", 1); v.Plugin != "scalars" || v.Scalar != 0.25 || byTag["epoch_loss"][1].Step != 1 {
		t.Errorf("scalar %+v", v)
	}
	h := val("dense/kernel/histogram", 0).Histogram
	if len(h) != 30 || h[0] != (Bucket{0, 1.0 / 3, 1}) || h[29] != (Bucket{29.0 / 3, 10, 1}) {
		t.Errorf("histogram %v", h)
	}
	var total float64
	for _, b := range h {
		total += b.Count
	}
	if total != 11 {
		t.Errorf("histogram counts sum to %v", total)
	}
	if b := val("dense/bias/histogram", 0).Histogram; b[29] != (Bucket{1, 1, 3}) || b[0] != (Bucket{1, 1, 0}) {
		t.Errorf("all-equal histogram %v", b)
	}
	if v := val("notes", 0); v.Plugin != "text" || v.Text != "# hello *world*" || byTag["notes"][0].Step != 3 {
		t.Errorf("text %+v", v)
	}
	img := val("digits/image", 0)
	if img.Plugin != "images" || img.ImageWidth != 5 || img.ImageHeight != 3 || len(img.Images) != 1 {
		t.Fatalf("image %+v", img)
	}
	decoded, err := png.Decode(bytes.NewReader(img.Images[0]))
	if err != nil {
		t.Fatal(err)
	}
	if got := decoded.At(4, 2); !sameColor(got, testImage().At(4, 2)) {
		t.Errorf("image pixel %v", got)
	}
	if v := val("keras", 0); v.Plugin != "graph_keras_model" || string(v.PluginContent) != "1" || !bytes.Equal(v.KerasModel, model) {
		t.Errorf("keras model %+v", v)
	}
	var gotGraph, gotStart bool
	for _, ev := range events {
		if ev.GraphDef != nil {
			gotGraph = bytes.Equal(ev.GraphDef, graph) && ev.Step == 0
		}
		if ev.SessionLog != nil {
			gotStart = ev.SessionLog.Status == "START" && ev.Step == 7
		}
	}
	if !gotGraph || !gotStart {
		t.Errorf("graph %v, session log start %v", gotGraph, gotStart)
	}

	gotExp := val(HParamsExperimentTag, 0).HParams.Experiment
	if !reflect.DeepEqual(*gotExp, exp) {
		t.Errorf("experiment\n got %+v\nwant %+v", *gotExp, exp)
	}
	gotStartInfo := val(HParamsSessionStartTag, 0).HParams.SessionStart
	if !reflect.DeepEqual(*gotStartInfo, start) {
		t.Errorf("session start\n got %+v\nwant %+v", *gotStartInfo, start)
	}
	gotEnd := val(HParamsSessionEndTag, 0).HParams.SessionEnd
	if gotEnd.Status != StatusSuccess || !gotEnd.EndTime.Equal(end) {
		t.Errorf("session end %+v", gotEnd)
	}
	for _, tag := range []string{HParamsExperimentTag, HParamsSessionStartTag, HParamsSessionEndTag, "keras"} {
		if byTag[tag][0].Step != 0 {
			t.Errorf("%s at step %d, want 0", tag, byTag[tag][0].Step)
		}
	}
}

func sameColor(a, b color.Color) bool {
	r1, g1, b1, a1 := a.RGBA()
	r2, g2, b2, a2 := b.RGBA()
	return r1 == r2 && g1 == g2 && b1 == b2 && a1 == a2
}

func TestStepsIncreaseStrictlyPerTag(t *testing.T) {
	w := newTestWriter(t, t.TempDir())
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.Scalar("loss", 5, 1))
	must(w.Scalar("acc", 0, 1)) // steps are per tag
	for _, step := range []int64{5, 4, -1} {
		if err := w.Scalar("loss", step, 1); err == nil {
			t.Errorf("step %d after 5 accepted", step)
		}
	}
	must(w.Scalar("loss", 6, 1)) // a refused step does not poison the writer
	if err := w.Text("loss", 7, "x"); err == nil {
		t.Error("tag reused for another plugin")
	}
	must(w.KerasModel([]byte("{}")))
	if err := w.KerasModel([]byte("{}")); err == nil {
		t.Error("second keras model accepted")
	}
	must(w.Graph([]byte{1}))
	if err := w.Graph([]byte{1}); err == nil {
		t.Error("second graph accepted")
	}
	must(w.HParamsSessionEnd(StatusFailure, time.Time{}))
	if err := w.HParamsSessionEnd(StatusSuccess, time.Time{}); err == nil {
		t.Error("second session end accepted")
	}
	for _, tag := range []string{"", "bad\xff"} {
		if err := w.Scalar(tag, 100, 1); err == nil {
			t.Errorf("tag %q accepted", tag)
		}
	}
	must(w.Close())
	var loss []int64
	for _, ev := range readOne(t, filepath.Dir(w.Path())) {
		for _, v := range ev.Values {
			if v.Tag == "loss" {
				loss = append(loss, ev.Step)
			}
		}
	}
	if !reflect.DeepEqual(loss, []int64{5, 6}) {
		t.Errorf("loss steps %v, want [5 6]", loss)
	}
}

func TestCloseIsIdempotentAndFinal(t *testing.T) {
	w := newTestWriter(t, t.TempDir())
	if err := w.Scalar("x", 1, 1); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for name, err := range map[string]error{
		"Scalar":    w.Scalar("x", 2, 1),
		"Histogram": w.Histogram("h", 1, nil),
		"Text":      w.Text("t", 1, "x"),
		"Graph":     w.Graph([]byte{1}),
		"Flush":     w.Flush(),
		"Session":   w.SessionLogStart(3),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	if n := len(readOne(t, filepath.Dir(w.Path()))); n != 2 {
		t.Errorf("%d events, want 2", n)
	}
}

// Buffered events reach the file through MaxPending and the flush timer
// without Flush or Close.
func TestFlushPolicy(t *testing.T) {
	t.Run("MaxPending", func(t *testing.T) {
		dir := t.TempDir()
		w := newTestWriter(t, dir, MaxPending(3), FlushInterval(0))
		for i := int64(0); i < 2; i++ {
			if err := w.Scalar("x", i, 1); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(readOne(t, dir)); n != 1 {
			t.Fatalf("%d events on disk with 2 pending, want 1", n)
		}
		if err := w.Scalar("x", 2, 1); err != nil {
			t.Fatal(err)
		}
		if n := len(readOne(t, dir)); n != 4 {
			t.Fatalf("%d events on disk after the third, want 4", n)
		}
	})
	t.Run("Interval", func(t *testing.T) {
		dir := t.TempDir()
		w := newTestWriter(t, dir, FlushInterval(10*time.Millisecond))
		if err := w.Scalar("x", 0, 1); err != nil {
			t.Fatal(err)
		}
		// Wait (without a deadline that could make the test flaky) until the
		// timer has flushed.
		for len(readOne(t, dir)) != 2 {
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// failingFile accepts limit bytes, then fails like a full disk, having
// written what fit.
type failingFile struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	limit  int
	writes int
	synced bool
	closed bool
}

var errDiskFull = errors.New("no space left on device")

func (f *failingFile) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes++
	room := f.limit - f.buf.Len()
	if len(p) <= room {
		return f.buf.Write(p)
	}
	f.buf.Write(p[:room])
	return room, errDiskFull
}

func (f *failingFile) Sync() error  { f.synced = true; return nil }
func (f *failingFile) Close() error { f.closed = true; return nil }

func TestFailingDisk(t *testing.T) {
	f := &failingFile{limit: 2000}
	w, err := newWriter(f, "full/events.out.tfevents.test", time.Now().Unix(), options{maxPending: 10})
	if err != nil {
		t.Fatal(err)
	}
	var step int64
	var werr error
	for step = 0; step < 1000 && werr == nil; step++ {
		werr = w.Scalar("epoch_loss", step, float64(step))
	}
	if !errors.Is(werr, errDiskFull) || !strings.Contains(werr.Error(), "full/events.out.tfevents.test") {
		t.Fatalf("write error %v, want the disk's error naming the file", werr)
	}
	// Sticky: everything after fails with the same error, without writing.
	writes := f.writes
	if err := w.Scalar("other", 0, 1); !errors.Is(err, errDiskFull) {
		t.Errorf("later Scalar: %v", err)
	}
	if err := w.Flush(); !errors.Is(err, errDiskFull) {
		t.Errorf("Flush: %v", err)
	}
	if err := w.Close(); !errors.Is(err, errDiskFull) {
		t.Errorf("Close: %v", err)
	}
	if f.writes != writes || !f.closed {
		t.Errorf("writes after the failure: %d, closed %v", f.writes-writes, f.closed)
	}

	// What was written before the failure reads back; the cut record is a
	// truncated tail, not corruption.
	r := NewReader(bytes.NewReader(f.buf.Bytes()), "full")
	var n int
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 && ev.Values[0].Scalar != float64(n-1) {
			t.Fatalf("event %d holds %v", n, ev.Values[0].Scalar)
		}
		n++
	}
	if !r.Truncated() || n < 10 {
		t.Errorf("read %d events, truncated %v; want the flushed batches and a truncated tail", n, r.Truncated())
	}
}

// /dev/full is a real file that fails every write with ENOSPC.
func TestDevFull(t *testing.T) {
	f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full: %v", err) // the injected failingFile test covers the logic
	}
	_, err = newWriter(f, "/dev/full", 0, options{maxPending: 1})
	if err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("NewWriter on /dev/full: %v, want ENOSPC", err)
	}
}

func TestConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	w := newTestWriter(t, dir, MaxPending(7), FlushInterval(time.Millisecond))
	const goroutines, perG = 16, 300
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tag := "g" + strconv.Itoa(g)
			for i := 0; i < perG; i++ {
				if err := w.Scalar(tag, int64(i), float64(i)); err != nil {
					t.Error(err)
					return
				}
				if i%50 == 0 {
					if err := w.Histogram(tag+"/histogram", int64(i), []float64{float64(i), 1, 2}); err != nil {
						t.Error(err)
					}
					if err := w.Flush(); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	next := map[string]int64{}
	for _, ev := range readOne(t, dir)[1:] {
		v := ev.Values[0]
		if v.Plugin != "scalars" {
			continue
		}
		if ev.Step != next[v.Tag] || v.Scalar != float64(ev.Step) {
			t.Fatalf("%s: step %d value %v, want step %d", v.Tag, ev.Step, v.Scalar, next[v.Tag])
		}
		next[v.Tag]++
	}
	if len(next) != goroutines {
		t.Fatalf("%d tags, want %d", len(next), goroutines)
	}
	for tag, n := range next {
		if n != perG {
			t.Errorf("%s: %d scalars, want %d", tag, n, perG)
		}
	}
}

func TestRuns(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{".", "run-0", "run-0/train", "run-0/validation", "run-1/train"} {
		w := newTestWriter(t, filepath.Join(root, d))
		w.Close()
	}
	if err := os.MkdirAll(filepath.Join(root, "empty", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "empty", "notes.txt"), []byte("x"), 0o644)
	runs, err := Runs(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{".", "run-0", "run-0/train", "run-0/validation", "run-1/train"}
	if !reflect.DeepEqual(runs, want) {
		t.Errorf("Runs = %q, want %q", runs, want)
	}
	for name, want := range map[string]bool{
		"events.out.tfevents.1.host":     true,
		"x/events.out.tfevents.1.h.1.v2": true,
		"tfevents":                       true,
		"tfevents/model.ckpt":            false,
		"events.out":                     false,
	} {
		if got := IsEventFile(name); got != want {
			t.Errorf("IsEventFile(%q) = %v", name, got)
		}
	}
}

func TestScalarFastPathMatchesProto(t *testing.T) {
	tests := []struct {
		tag   string
		step  int64
		value float64
		wall  time.Time
	}{
		{"epoch_loss", 0, 0.5, time.Unix(1_700_000_000, 123456000)},
		{"epoch_loss", 1, math.NaN(), time.Unix(1_700_000_001, 0)},
		{"epoch_loss", 1 << 40, math.Inf(-1), time.Unix(1_700_000_002, 999999000)},
		{"batch/ünïcode", -5, 1e300, time.Unix(0, 0)},
		{"batch/ünïcode", -4, math.Copysign(0, -1), time.Unix(1, 1000)},
		{strings.Repeat("long/", 40), math.MaxInt64, 3.25, time.Unix(4_000_000_000, 0)},
	}
	f := &failingFile{limit: 1 << 30}
	var clock time.Time
	w, err := newWriter(f, "mem", 1, options{maxPending: 1, now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		clock = tt.wall
		before := f.buf.Len()
		if err := w.Scalar(tt.tag, tt.step, tt.value); err != nil {
			t.Fatal(err)
		}
		rr := recordReader{r: bytes.NewReader(f.buf.Bytes()[before:])}
		got, err := rr.next()
		if err != nil {
			t.Fatal(err)
		}
		content := binary.LittleEndian.AppendUint32(nil, math.Float32bits(float32(tt.value)))
		want, err := proto.Marshal(scalarEvent(float64(tt.wall.UnixMicro())/1e6, tt.step, tt.tag, &tensorpb.TensorProto{
			Dtype: typespb.DataType_DT_FLOAT, TensorShape: &shapepb.TensorShapeProto{}, TensorContent: content,
		}))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s step %d:\n got %x\nwant %x", tt.tag, tt.step, got, want)
		}
	}
}

// A write failure in the background flush is returned by the next call, and
// Close stops the flush goroutine.
func TestBackgroundFlushErrorAndStop(t *testing.T) {
	f := &failingFile{limit: 200}
	w, err := newWriter(f, "bg", 1, options{maxPending: 1000, flushInterval: time.Millisecond, now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Text("notes", 0, strings.Repeat("x", 500)); err != nil {
		t.Fatalf("buffered write failed early: %v", err)
	}
	for {
		f.mu.Lock()
		writes := f.writes
		f.mu.Unlock()
		if writes >= 2 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err := w.Scalar("x", 0, 1); !errors.Is(err, errDiskFull) {
		t.Errorf("after a failed background flush: %v", err)
	}
	if err := w.Close(); !errors.Is(err, errDiskFull) {
		t.Errorf("Close: %v", err)
	}
	select {
	case <-w.done:
	default:
		t.Error("flush goroutine still running after Close")
	}
}
