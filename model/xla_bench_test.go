package model

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	tf "github.com/wamuir/graft/tensorflow"
	attrpb "github.com/wamuir/graft/tensorflow/core/framework/attr_value_go_proto"
	graphpb "github.com/wamuir/graft/tensorflow/core/framework/graph_go_proto"
	configpb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"
)

// BenchmarkTrainStepXLA measures the alternative issue 14 asked about and tfsweep does not take: the
// training step compiled by XLA. The step's graph is rewritten with every op of the step (forward,
// gradients, Adam, the increment; not the variable handles or the placeholders) marked _XlaCompile in
// one _XlaScope, and the session asks for global_jit_level ON_1. Run it with
// TF_XLA_FLAGS=--tf_xla_cpu_global_jit in the environment: without it XLA's CPU JIT compiles nothing
// and both modes run the same kernels. It reports samples/s of a fed batch (as BenchmarkTrainStep) and
// whether the loss of the 10th step, before the timed ones, differs in its bits from the default
// session's (bits-differ 1: XLA computed the step; reported when the default session's run ran first).
func BenchmarkTrainStepXLA(b *testing.B) {
	for _, bn := range []bool{false, true} {
		for _, batch := range []int{64, 128, 1024} {
			var reference float32
			haveReference := false
			for _, xla := range []bool{false, true} {
				b.Run(fmt.Sprintf("bn=%v/batch=%d/xla=%v", bn, batch, xla), func(b *testing.B) {
					cfg := DefaultConfig()
					cfg.Network, cfg.Device = withBatchNorm(cfg.Network, bn), DeviceCPU
					cfg, err := cfg.validate()
					if err != nil {
						b.Fatal(err)
					}
					sess, run := xlaStepSession(b, cfg, batch, xla)
					defer sess.Close()
					var loss float32
					for range 10 { // compiles, with XLA
						loss = run()
					}
					b.ResetTimer()
					for b.Loop() {
						run()
					}
					b.ReportMetric(float64(batch)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
					if !xla {
						reference, haveReference = loss, true
						return
					}
					if !haveReference { // the default session's run was filtered out
						return
					}
					differs := 0.0
					if loss != reference {
						differs = 1
					}
					b.ReportMetric(differs, "bits-differ")
				})
			}
		}
	}
}

// xlaStepSession builds cfg's graph, optionally marks the training step for XLA, and returns a
// session on it and a function that runs one step on a fixed random batch and returns its loss.
func xlaStepSession(b *testing.B, cfg Config, batch int, xla bool) (*tf.Session, func() float32) {
	g, err := buildGraph(cfg)
	if err != nil {
		b.Fatal(err)
	}
	var roots []string
	if xla {
		roots = []string{g.single.increment.Name(), g.single.loss.Op.Name(), g.single.accuracy.Op.Name()}
	}
	ng, sess, output := importForXLA(b, g, &configpb.ConfigProto{DeviceCount: map[string]int32{"GPU": 0}}, nil, roots...)
	pixels, labels := randomBatch(1, batch, inputs(cfg), classes(cfg))
	x, err := tf.ReadTensor(tf.Float, []int64{int64(batch), int64(inputs(cfg))}, bytes.NewReader(sliceBytes(pixels)))
	if err != nil {
		b.Fatal(err)
	}
	y, err := tf.ReadTensor(tf.Int32, []int64{int64(batch)}, bytes.NewReader(sliceBytes(labels)))
	if err != nil {
		b.Fatal(err)
	}
	identity := make([]int32, batch)
	for i := range identity {
		identity[i] = int32(i)
	}
	ix, err := tf.ReadTensor(tf.Int32, []int64{int64(batch)}, bytes.NewReader(sliceBytes(identity)))
	if err != nil {
		b.Fatal(err)
	}
	feeds := map[tf.Output]*tf.Tensor{output(g.trainSource): x, output(g.trainLabelSource): y, output(g.indices): ix}
	fetches := []tf.Output{output(g.single.loss)}
	targets := []*tf.Operation{ng.Operation(g.single.increment.Name())}
	return sess, func() float32 {
		out, err := sess.Run(feeds, fetches, targets)
		if err != nil {
			b.Fatal(err)
		}
		defer release(out...)
		return out[0].Value().(float32)
	}
}

// importForXLA copies g into a new graph, with the ancestors of roots marked for one XLA cluster
// (markForXLA, outside left out) and global_jit_level ON_1 added to pb when there are roots, and
// returns the graph, a session on it with pb, initialised, and the function that finds an output
// of g in the copy.
func importForXLA(b *testing.B, g *graph, pb *configpb.ConfigProto, outside func(string) bool, roots ...string) (*tf.Graph, *tf.Session, func(tf.Output) tf.Output) {
	var buf bytes.Buffer
	if _, err := g.g.WriteTo(&buf); err != nil {
		b.Fatal(err)
	}
	def := &graphpb.GraphDef{}
	if err := proto.Unmarshal(buf.Bytes(), def); err != nil {
		b.Fatal(err)
	}
	if len(roots) > 0 {
		markForXLA(def, outside, roots...)
		pb.GraphOptions = &configpb.GraphOptions{OptimizerOptions: &configpb.OptimizerOptions{GlobalJitLevel: configpb.OptimizerOptions_ON_1}}
	}
	marked, err := proto.Marshal(def)
	if err != nil {
		b.Fatal(err)
	}
	ng := tf.NewGraph()
	if err := ng.Import(marked, ""); err != nil {
		b.Fatal(err)
	}
	config, err := proto.Marshal(pb)
	if err != nil {
		b.Fatal(err)
	}
	sess, err := tf.NewSession(ng, &tf.SessionOptions{Config: config})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := sess.Run(nil, nil, []*tf.Operation{ng.Operation(g.initAll.Name())}); err != nil {
		b.Fatal(err)
	}
	return ng, sess, func(o tf.Output) tf.Output { return ng.Operation(o.Op.Name()).Output(o.Index) }
}

// markForXLA sets _XlaCompile and one _XlaScope on every ancestor of the named nodes except the
// variable handles and placeholders, which stay outside the cluster as its inputs, and the nodes
// outside reports (when not nil), which stay outside with their own ancestors.
func markForXLA(def *graphpb.GraphDef, outside func(name string) bool, roots ...string) {
	byName := make(map[string]int, len(def.Node))
	for i, n := range def.Node {
		byName[n.Name] = i
	}
	seen := make(map[string]bool)
	var visit func(string)
	visit = func(name string) {
		name = strings.TrimPrefix(name, "^")
		if i := strings.IndexByte(name, ':'); i >= 0 {
			name = name[:i]
		}
		if seen[name] || (outside != nil && outside(name)) {
			return
		}
		seen[name] = true
		n := def.Node[byName[name]]
		for _, in := range n.Input {
			visit(in)
		}
		switch n.Op {
		case "VarHandleOp", "Placeholder", "PlaceholderWithDefault":
			return
		}
		if n.Attr == nil {
			n.Attr = make(map[string]*attrpb.AttrValue)
		}
		n.Attr["_XlaCompile"] = &attrpb.AttrValue{Value: &attrpb.AttrValue_B{B: true}}
		n.Attr["_XlaScope"] = &attrpb.AttrValue{Value: &attrpb.AttrValue_S{S: []byte("train_step")}}
	}
	for _, r := range roots {
		visit(r)
	}
}

// BenchmarkTrainChunkXLA measures XLA over a whole chunk of StepsPerCall unrolled steps, the shape
// issue 14 points to (JAX's lax.scan: the loop inside one compiled program), against the same chunk
// on TensorFlow's executor: the steps' ops, the batches' gathers from the bound data included, are
// marked _XlaCompile in one _XlaScope, with global_jit_level ON_1. Run it with
// TF_XLA_FLAGS=--tf_xla_cpu_global_jit. It reports samples/s over epochs of 12,800 random examples
// (full chunks only), the session's set-up (graph, session, bound data) and its first call (which
// compiles), and the largest difference of a step's loss in the first chunk from the executor's
// (max-loss-diff, when the executor's run ran first).
func BenchmarkTrainChunkXLA(b *testing.B) {
	const n, k = 12800, 8
	cfg := DefaultConfig()
	pixels, labels := randomBatch(1, n, inputs(cfg), classes(cfg))
	for _, bn := range []bool{false, true} {
		for _, batch := range []int{64, 128, 1024} {
			var reference []float32
			for _, xla := range []bool{false, true} {
				b.Run(fmt.Sprintf("bn=%v/batch=%d/xla=%v", bn, batch, xla), func(b *testing.B) {
					threads := 0
					if batch <= 256 {
						threads = 1 // as the worker trains small batches
					}
					cfg := DefaultConfig()
					cfg.Network, cfg.Device, cfg.StepsPerCall = withBatchNorm(cfg.Network, bn), DeviceCPU, k
					cfg.IntraOpThreads, cfg.InterOpThreads = threads, threads
					cfg, err := cfg.validate()
					if err != nil {
						b.Fatal(err)
					}
					run, setup := xlaChunkSession(b, cfg, pixels, labels, xla)
					batches := epochBatches(n, batch, 1)
					batches = batches[:len(batches)/k*k]
					indices := make([][]int32, 0, len(batches)/k)
					for i := 0; i < len(batches); i += k {
						flat := make([]int32, 0, k*batch)
						for _, bt := range batches[i : i+k] {
							flat = append(flat, bt...)
						}
						indices = append(indices, flat)
					}
					start := time.Now()
					losses := run(indices[0], batch)
					firstCall := float64(time.Since(start).Microseconds()) / 1000
					for _, ix := range indices[1:] { // warm up
						run(ix, batch)
					}
					b.ResetTimer()
					for b.Loop() {
						for _, ix := range indices {
							run(ix, batch)
						}
					}
					b.ReportMetric(float64(len(batches)*batch)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
					b.ReportMetric(setup, "setup-ms")
					b.ReportMetric(firstCall, "first-call-ms")
					if !xla {
						reference = losses
						return
					}
					if reference == nil { // the executor's run was filtered out
						return
					}
					worst := 0.0
					for i := range losses {
						worst = max(worst, math.Abs(float64(losses[i]-reference[i])))
					}
					b.ReportMetric(worst, "max-loss-diff")
				})
			}
		}
	}
}

// xlaChunkSession builds cfg's graph (with its chunk), optionally marks the chunk for XLA, binds
// the examples in a session on it, and returns a function that runs one chunk on flat indices
// (StepsPerCall batches of the given size) and returns the steps' losses, and the milliseconds the
// session's set-up took.
func xlaChunkSession(b *testing.B, cfg Config, pixels []float32, labels []int32, xla bool) (func([]int32, int) []float32, float64) {
	start := time.Now()
	g, err := buildGraph(cfg)
	if err != nil {
		b.Fatal(err)
	}
	c := g.chunk
	pb := &configpb.ConfigProto{
		DeviceCount:               map[string]int32{"GPU": 0},
		IntraOpParallelismThreads: int32(cfg.IntraOpThreads),
		InterOpParallelismThreads: int32(cfg.InterOpThreads),
		UsePerSessionThreads:      cfg.IntraOpThreads > 0,
	}
	// The batches are gathered outside the cluster: inside it, XLA would take the whole bound
	// training set as an input of every call.
	gathers := func(name string) bool {
		return strings.Contains(name, "gather_pixels") || strings.Contains(name, "gather_labels")
	}
	var roots []string
	if xla {
		roots = []string{c.losses.Op.Name(), c.accuracies.Op.Name(), c.last.Name()}
	}
	ng, sess, output := importForXLA(b, g, pb, gathers, roots...)
	b.Cleanup(func() { sess.Close() })
	set := newExamples(b, pixels, labels, inputs(cfg))
	d := g.data
	feeds := map[tf.Output]*tf.Tensor{output(d.trainPixels.value): set.pixels, output(d.trainLabels.value): set.labels,
		output(d.valPixels.value): set.pixels, output(d.valLabels.value): set.labels}
	if _, err := sess.Run(feeds, nil, []*tf.Operation{ng.Operation(d.trainPixels.op.Name()), ng.Operation(d.trainLabels.op.Name()),
		ng.Operation(d.valPixels.op.Name()), ng.Operation(d.valLabels.op.Name())}); err != nil {
		b.Fatal(err)
	}
	setup := float64(time.Since(start).Microseconds()) / 1000
	fetches := []tf.Output{output(c.losses)}
	targets := []*tf.Operation{ng.Operation(c.last.Name())}
	return func(flat []int32, batch int) []float32 {
		x, err := tf.ReadTensor(tf.Int32, []int64{int64(c.size), int64(batch)}, bytes.NewReader(sliceBytes(flat)))
		if err != nil {
			b.Fatal(err)
		}
		out, err := sess.Run(map[tf.Output]*tf.Tensor{output(c.indices): x}, fetches, targets)
		release(x)
		if err != nil {
			b.Fatal(err)
		}
		defer release(out...)
		return append([]float32(nil), out[0].Value().([]float32)...)
	}, setup
}
