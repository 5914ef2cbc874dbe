// Package summary writes and reads TensorBoard event files ("tfevents") in
// pure Go, value for value as TensorFlow 2 and Keras write them, so that
// TensorBoard shows the runs of a Go program exactly like Keras runs.
//
// A complete program:
//
//	package main
//
//	import (
//		"log"
//
//		"github.com/tfsweep/tfsweep/summary"
//	)
//
//	func main() {
//		w, err := summary.NewWriter("logs/run-1/train") // then: tensorboard --logdir logs
//		if err != nil {
//			log.Fatal(err)
//		}
//		for step := int64(0); step < 100; step++ {
//			w.Scalar("epoch_loss", step, 1/float64(step+1)) // a failed write is sticky: Close returns it
//		}
//		if err := w.Close(); err != nil {
//			log.Fatal(err)
//		}
//	}
//
// The package has layers, each small, in the manner of archive/tar and
// bufio:
//
//   - TFRecord framing (record.go): length, masked CRC32C, payload, masked
//     CRC32C;
//   - EventWriter, over any io.Writer: whole buffered records, sticky
//     errors, the step policy (Steps), the summary API (Scalar, Histogram,
//     Text, Image and Images, PRCurve, Graph, KerasModel, CustomScalars,
//     the hparams plugin's summaries) and raw protos (WriteEvent,
//     WriteSummary); each value takes the wall time of now or of a
//     WallTime option;
//   - pictures to write as images (render.go): PixelImage (an example as
//     tf.summary.image shows it), ConfusionMatrix.Image and
//     MisclassifiedGrid, drawn with the Go fonts;
//   - Writer, the event file: one new file per writer, named as TensorFlow
//     names them, born under a temporary name and synced before it gets its
//     tfevents name (no crash leaves an empty event file), a flush timer,
//     fsync on Close;
//   - Reader, ReadFile, Runs and EventFiles read event files back into
//     plain Go values as TensorBoard's loaders read them: every scalar
//     dtype, string scalars, legacy TF1 and tensorboardX values, and values
//     of plugins this package does not know, kept raw. Only bad framing or
//     an unparseable Event is a CorruptError.
//
// The protos are graft's generated Go packages, which are plain
// google.golang.org/protobuf code: importing them does not need cgo or the
// TensorFlow C library. The hparams, Custom Scalars and PR curve plugin
// messages are not part of graft and are encoded by hand with protowire.
package summary
