package model

import (
	"fmt"
	"math/rand/v2"
	"testing"

	tf "github.com/wamuir/graft/tensorflow"
	configpb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"
	"github.com/wamuir/graft/tensorflow/op"
	"google.golang.org/protobuf/proto"
)

// BenchmarkMatMul measures the ceiling issue 14's "60% of the matmul rate" is judged against, in
// TensorFlow itself (the kernels tfsweep's step runs): an N×N float32 matmul (square, as
// scripts/bench_peers_matmul.py times it in numpy and XLA), and the eight matmuls of one training step
// of the default network at batch sizes 64, 128 and 1024 (the three forward ones, the three weight
// gradients and the input gradients of layers 2 and 3, as the step's gradient graph has them, with
// transposed operands), all in one Session.Run, in GFLOP/s. threads 0 is TensorFlow's default pools,
// 1 one intra- and one inter-op thread, as the worker picks for small batches. Time one setting per
// process (-bench 'BenchmarkMatMul/.*/threads=1' and 'BenchmarkMatMul/network/.*/threads=1'): oneDNN
// keeps process-wide state through which a one-thread session after a default-pools one runs some
// products on both cores (docs/benchmarks.md).
func BenchmarkMatMul(b *testing.B) {
	for _, threads := range []int{0, 1} {
		b.Run(fmt.Sprintf("square=2048/threads=%d", threads), func(b *testing.B) {
			benchMatMuls(b, threads, func(s *op.Scope, in func(rows, cols int) tf.Output) ([]tf.Output, float64) {
				a := in(2048, 2048)
				return []tf.Output{op.MatMul(s, a, a)}, 2 * 2048 * 2048 * 2048
			})
		})
		for _, batch := range []int{64, 128, 1024} {
			b.Run(fmt.Sprintf("network/batch=%d/threads=%d", batch, threads), func(b *testing.B) {
				benchMatMuls(b, threads, func(s *op.Scope, in func(rows, cols int) tf.Output) ([]tf.Output, float64) {
					return networkMatMuls(s, in, batch, []int{784, 128, 64, 10})
				})
			})
		}
	}
}

// networkMatMuls returns the matmuls of one training step of a dense network with the given layer
// widths at the batch size, and their FLOPs: per layer the forward product and the weight gradient,
// and for every layer but the first the gradient of its input.
func networkMatMuls(s *op.Scope, in func(rows, cols int) tf.Output, batch int, widths []int) ([]tf.Output, float64) {
	var outs []tf.Output
	flops := 0.0
	x := in(batch, widths[0])
	for l := 1; l < len(widths); l++ {
		w := in(widths[l-1], widths[l])
		grad := in(batch, widths[l]) // the gradient arriving at the layer's output
		outs = append(outs,
			op.MatMul(s.SubScope("forward"), x, w),
			op.MatMul(s.SubScope("weight_grad"), x, grad, op.MatMulTransposeA(true)))
		flops += 2 * 2 * float64(batch*widths[l-1]*widths[l])
		if l > 1 {
			outs = append(outs, op.MatMul(s.SubScope("input_grad"), grad, w, op.MatMulTransposeB(true)))
			flops += 2 * float64(batch*widths[l-1]*widths[l])
		}
		x = in(batch, widths[l]) // the layer's activation, the next layer's input
	}
	return outs, flops
}

// benchMatMuls builds the products build returns over random placeholders, fed the same tensors at
// every run, and times a Session.Run that computes all of them (outputs not fetched, so no copies
// out), on TensorFlow's default executor.
func benchMatMuls(b *testing.B, threads int, build func(*op.Scope, func(rows, cols int) tf.Output) ([]tf.Output, float64)) {
	s := op.NewScope()
	r := rand.New(rand.NewPCG(1, 2))
	feeds := map[tf.Output]*tf.Tensor{}
	in := func(rows, cols int) tf.Output {
		p := op.Placeholder(s.SubScope("in"), tf.Float, op.PlaceholderShape(tf.MakeShape(int64(rows), int64(cols))))
		values := make([][]float32, rows)
		for i := range values {
			values[i] = make([]float32, cols)
			for j := range values[i] {
				values[i][j] = r.Float32()
			}
		}
		t, err := tf.NewTensor(values)
		if err != nil {
			b.Fatal(err)
		}
		feeds[p] = t
		return p
	}
	outs, flops := build(s, in)
	g, err := s.Finalize()
	if err != nil {
		b.Fatal(err)
	}
	pb := &configpb.ConfigProto{
		DeviceCount:               map[string]int32{"GPU": 0},
		IntraOpParallelismThreads: int32(threads),
		InterOpParallelismThreads: int32(threads),
	}
	config, err := proto.Marshal(pb)
	if err != nil {
		b.Fatal(err)
	}
	sess, err := tf.NewSession(g, &tf.SessionOptions{Config: config})
	if err != nil {
		b.Fatal(err)
	}
	defer sess.Close()
	targets := make([]*tf.Operation, len(outs))
	for i, o := range outs {
		targets[i] = o.Op
	}
	for range 3 { // warm-up: Grappler, oneDNN's kernel generation, the pools
		if _, err := sess.Run(feeds, nil, targets); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := sess.Run(feeds, nil, targets); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
