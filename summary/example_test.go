package summary_test

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"time"

	summarypb "github.com/wamuir/graft/tensorflow/core/framework/summary_go_proto"
	tensorpb "github.com/wamuir/graft/tensorflow/core/framework/tensor_go_proto"
	shapepb "github.com/wamuir/graft/tensorflow/core/framework/tensor_shape_go_proto"
	typespb "github.com/wamuir/graft/tensorflow/core/framework/types_go_proto"

	"github.com/tfsweep/tfsweep/summary"
)

// The package doc's program, in a temporary logdir, read back.
func Example() {
	logdir, err := os.MkdirTemp("", "logs")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(logdir)

	w, err := summary.NewWriter(filepath.Join(logdir, "run-1", "train"))
	if err != nil {
		log.Fatal(err)
	}
	for step := int64(0); step < 100; step++ {
		w.Scalar("epoch_loss", step, 1/float64(step+1))
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	runs, _ := summary.Runs(logdir)
	events, _ := summary.ReadFile(w.Path())
	last := events[len(events)-1]
	fmt.Println(runs, len(events), "events; last:", last.Step, last.Values[0].Tag, last.Values[0].Scalar)
	// Output: [run-1/train] 101 events; last: 99 epoch_loss 0.009999999776482582
}

// An EventWriter writes to any io.Writer; here a buffer, with an event
// replayed at its own wall time.
func ExampleNewEventWriter() {
	var buf bytes.Buffer
	w := summary.NewEventWriter(&buf)
	w.Scalar("loss", 1, 0.5, summary.WallTime(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)))
	if err := w.Close(); err != nil { // flushes; a bytes.Buffer needs no closing
		log.Fatal(err)
	}

	r := summary.NewReader(&buf, "buffer")
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		if ev.FileVersion != "" {
			fmt.Println("file version", ev.FileVersion)
			continue
		}
		v := ev.Values[0]
		fmt.Println(time.Unix(int64(ev.WallTime), 0).UTC().Format(time.DateTime), ev.Step, v.Plugin, v.Tag, v.Scalar)
	}
	// Output:
	// file version brain.Event:2
	// 2024-05-01 12:00:00 1 scalars loss 0.5
}

// TensorBoard accepts repeated steps; Steps(TensorBoardSteps) writes them
// instead of refusing them.
func ExampleSteps() {
	strict := summary.NewEventWriter(io.Discard)
	strict.Scalar("loss", 5, 1)
	fmt.Println(strict.Scalar("loss", 5, 2))

	lenient := summary.NewEventWriter(io.Discard, summary.Steps(summary.TensorBoardSteps))
	lenient.Scalar("loss", 5, 1)
	fmt.Println(lenient.Scalar("loss", 5, 2))
	// Output:
	// summary: tag "loss": step 5 is not after step 5 (steps must increase strictly per tag; see summary.Steps)
	// <nil>
}

// A layout for TensorBoard's Custom Scalars dashboard: train and
// validation loss on one chart.
func ExampleEventWriter_CustomScalars() {
	var buf bytes.Buffer
	w := summary.NewEventWriter(&buf)
	err := w.CustomScalars(summary.Layout{Categories: []summary.Category{{
		Title:  "batch size 64",
		Charts: []summary.Chart{{Title: "loss, with and without batch norm", Tags: []string{`^epoch_loss$`}}},
	}}})
	if err != nil {
		log.Fatal(err)
	}
	w.Close()

	r := summary.NewReader(&buf, "buffer")
	r.Next() // file version
	ev, _ := r.Next()
	v := ev.Values[0]
	fmt.Println(v.Tag, v.Plugin, ev.Step, v.Layout.Categories[0].Charts[0].Tags)
	// Output: custom_scalars__config__ custom_scalars 0 [^epoch_loss$]
}

// A value of a plugin this package has no method for goes through
// WriteSummary, and reads back raw, with its metadata.
func ExampleEventWriter_WriteSummary() {
	var buf bytes.Buffer
	w := summary.NewEventWriter(&buf)
	err := w.WriteSummary(3, &summarypb.Summary{Value: []*summarypb.Summary_Value{{
		Tag: "my/value",
		Metadata: &summarypb.SummaryMetadata{PluginData: &summarypb.SummaryMetadata_PluginData{
			PluginName: "my_plugin", Content: []byte("v1")}},
		Value: &summarypb.Summary_Value_Tensor{Tensor: &tensorpb.TensorProto{
			Dtype: typespb.DataType_DT_INT64, TensorShape: &shapepb.TensorShapeProto{}, Int64Val: []int64{2}}},
	}}})
	if err != nil {
		log.Fatal(err)
	}
	w.Close()

	events, _ := readAllEvents(&buf)
	v := events[1].Values[0]
	fmt.Println(v.Tag, v.Plugin, string(v.PluginContent), v.Raw.GetTensor().GetInt64Val())
	// Output: my/value my_plugin v1 [2]
}

// HistogramBucketCount changes Keras' 30 buckets.
func ExampleHistogramBucketCount() {
	var buf bytes.Buffer
	w := summary.NewEventWriter(&buf, summary.HistogramBucketCount(2))
	w.Histogram("weights", 0, []float64{0, 1, 1, 2})
	w.Close()

	events, _ := readAllEvents(&buf)
	for _, b := range events[1].Values[0].Histogram {
		fmt.Printf("[%g, %g): %g\n", b.Left, b.Right, b.Count)
	}
	// Output:
	// [0, 1): 1
	// [1, 2): 3
}

func readAllEvents(r io.Reader) ([]summary.Event, error) {
	rd := summary.NewReader(r, "buffer")
	var events []summary.Event
	for {
		ev, err := rd.Next()
		if err == io.EOF {
			return events, nil
		}
		if err != nil {
			return events, err
		}
		events = append(events, ev)
	}
}
