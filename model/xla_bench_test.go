package model

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

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
// session's (bits-differ 1: XLA computed the step).
func BenchmarkTrainStepXLA(b *testing.B) {
	for _, bn := range []bool{false, true} {
		for _, batch := range []int{64, 128, 1024} {
			var reference float32
			for _, xla := range []bool{false, true} {
				b.Run(fmt.Sprintf("bn=%v/batch=%d/xla=%v", bn, batch, xla), func(b *testing.B) {
					cfg := DefaultConfig()
					cfg.BatchNorm, cfg.Device = bn, DeviceCPU
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
						reference = loss
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
	var buf bytes.Buffer
	if _, err := g.g.WriteTo(&buf); err != nil {
		b.Fatal(err)
	}
	def := &graphpb.GraphDef{}
	if err := proto.Unmarshal(buf.Bytes(), def); err != nil {
		b.Fatal(err)
	}
	pb := &configpb.ConfigProto{DeviceCount: map[string]int32{"GPU": 0}}
	if xla {
		markStepForXLA(def, g.trainStep.Name(), g.trainLoss.Op.Name(), g.trainAccuracy.Op.Name())
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
	pixels, labels := randomBatch(1, batch, cfg.Inputs, cfg.Classes)
	x, err := tf.ReadTensor(tf.Float, []int64{int64(batch), int64(cfg.Inputs)}, bytes.NewReader(sliceBytes(pixels)))
	if err != nil {
		b.Fatal(err)
	}
	y, err := tf.ReadTensor(tf.Int32, []int64{int64(batch)}, bytes.NewReader(sliceBytes(labels)))
	if err != nil {
		b.Fatal(err)
	}
	output := func(o tf.Output) tf.Output { return ng.Operation(o.Op.Name()).Output(o.Index) }
	feeds := map[tf.Output]*tf.Tensor{output(g.trainPixels): x, output(g.trainLabels): y}
	fetches := []tf.Output{output(g.trainLoss)}
	targets := []*tf.Operation{ng.Operation(g.trainStep.Name())}
	return sess, func() float32 {
		out, err := sess.Run(feeds, fetches, targets)
		if err != nil {
			b.Fatal(err)
		}
		defer release(out...)
		return out[0].Value().(float32)
	}
}

// markStepForXLA sets _XlaCompile and one _XlaScope on every ancestor of the named nodes except the
// variable handles and placeholders, which stay outside the cluster as its inputs.
func markStepForXLA(def *graphpb.GraphDef, roots ...string) {
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
		if seen[name] {
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
