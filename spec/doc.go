// Package spec is the vocabulary tfsweep's two processes share: the variant a run trains and the
// axes table that parses, names and prints it; the catalog of what the model can build; which runs
// can train fused (FuseKey); the wire protocol between the front and its workers; the run and sweep
// status; per-epoch metrics; and the layout of what a run leaves on disk. It is pure Go and imports nothing of tfsweep's, so that the
// front (no TensorFlow) and the worker (no YAML, no process runner) each link only what they use.
package spec
