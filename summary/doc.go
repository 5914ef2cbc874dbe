// Package summary writes and reads TensorBoard event files ("tfevents") in
// pure Go, value for value as TensorFlow 2 and Keras write them, so that
// TensorBoard shows tfsweep runs exactly like Keras runs.
//
// The package has three layers, each small:
//
//   - a TFRecord layer (record.go): length, masked CRC32C, payload, masked
//     CRC32C;
//   - an event file writer (writer.go): one new file per writer, created with
//     O_EXCL, buffered whole records, a flush policy, fsync on Close;
//   - the summary API (values.go, hparams.go): Scalar, Histogram, Text,
//     Image, Graph, KerasModel and the hparams plugin summaries.
//
// Reader, ReadFile and Runs read event files back into plain Go values so
// that callers never touch TensorFlow protos.
//
// The protos are graft's generated Go packages, which are plain
// google.golang.org/protobuf code: importing them does not need cgo or the
// TensorFlow C library. The hparams plugin messages are not part of graft and
// are encoded by hand with protowire (hparams.go).
package summary
