package model

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/tfsweep/tfsweep/dataset"
	"github.com/tfsweep/tfsweep/internal/atomicfile"
	"github.com/tfsweep/tfsweep/spec"
	tf "github.com/wamuir/graft/tensorflow"
	graphpb "github.com/wamuir/graft/tensorflow/core/framework/graph_go_proto"
	shapepb "github.com/wamuir/graft/tensorflow/core/framework/tensor_shape_go_proto"
	typespb "github.com/wamuir/graft/tensorflow/core/framework/types_go_proto"
	corepb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"
	"github.com/wamuir/graft/tensorflow/op"
	"google.golang.org/protobuf/proto"
)

// A SavedModel as tf.saved_model.save writes it for a TensorFlow 1 style graph: saved_model.pb holds
// a SavedModel proto with one MetaGraphDef tagged "serve", whose graph is the inference pass alone
// (its own tf.Graph, with the training graph's variable names), and variables/variables.{index,
// data-00000-of-00001} hold the weights and moving statistics, restored by the MetaGraph's SaverDef.
// TensorFlow's C++ loader (TF_LoadSessionFromSavedModel, TF Serving) and Python's
// tf.saved_model.load both run that restore.

// Names in an exported SavedModel.
const (
	// ServeTag is the MetaGraph's tag (tf.saved_model.SERVING).
	ServeTag = "serve"
	// SignatureDefault takes float32 pixels [N, Inputs], unscaled (0..255 for MNIST).
	SignatureDefault = "serving_default"
	// SignatureUint8 takes the same pixels as uint8 [N, Inputs].
	SignatureUint8 = "serving_uint8"
	// InputPixels is both signatures' input key.
	InputPixels = "pixels"
	// OutputProbabilities is the softmax output [N, Classes] float32; OutputClasses the arg-max
	// class [N] int64.
	OutputProbabilities = "probabilities"
	OutputClasses       = "classes"
	// The method name TF Serving's Predict API expects.
	predictMethod = "tensorflow/serving/predict"

	savedModelFile = "saved_model.pb"
	variablesDir   = "variables"
	variablesName  = "variables"
)

// servingTensors names one signature's tensors in the serving graph.
type servingTensors struct {
	input, probabilities, classes string // node names; the tensors are output 0
	dtype                         tf.DataType
}

// buildServingGraph builds the inference graph of the model: per signature a pixels placeholder,
// the input's normalisation, the evaluation pass (batch norm from the moving statistics, no dropout) and the
// softmax and arg-max outputs, over variables named as in the training graph, with a saver of them.
func buildServingGraph(src *graph, cfg Config, in dataset.Normalizer) (*tf.Graph, saver, map[string]servingTensors, error) {
	root := op.NewScope()
	vars := make(map[*variable]*variable, len(src.weights))
	layerScopes := make(map[string]*op.Scope)
	var ordered []*variable
	for _, v := range src.weights {
		layer := v.name[:strings.LastIndex(v.name, "/")]
		ls, ok := layerScopes[layer]
		if !ok {
			ls = root.SubScope(layer)
			layerScopes[layer] = ls
		}
		nv := &variable{name: v.name, shape: v.shape, dtype: v.dtype, trainable: v.trainable}
		// The node is named by the variable's path, as TensorFlow 1 and Keras name a variable's op.
		nv.handle = ls.AddOperation(tf.OpSpec{Type: "VarHandleOp", Name: baseName(v.name), Attrs: map[string]any{
			"dtype": v.dtype, "shape": tf.MakeShape(v.shape...), "shared_name": v.name,
		}}).Output(0)
		vars[v] = nv
		ordered = append(ordered, nv)
	}
	sg := &graph{net: src.net, serving: true}
	for _, l := range src.layers {
		sg.layers = append(sg.layers, l.rebind(vars))
	}
	inference := cfg
	inference.Towers = 0 // a server sizes its own threads; one pass keeps the exported graph plain

	signatures := make(map[string]servingTensors)
	for _, sig := range []struct {
		key, suffix string
		dtype       tf.DataType
	}{{SignatureDefault, "", tf.Float}, {SignatureUint8, "_uint8", tf.Uint8}} {
		pixels := root.AddOperation(tf.OpSpec{Type: "Placeholder", Name: InputPixels + sig.suffix, Attrs: map[string]any{
			"dtype": sig.dtype, "shape": tf.MakeShape(inputDims(src.net.Input.Shape)...),
		}}).Output(0)
		ss := root.SubScope("inference" + sig.suffix)
		x := pixels
		if sig.dtype != tf.Float {
			x = op.Cast(ss.SubScope("to_float"), x, tf.Float)
		}
		f := sg.buildForward(ss, splitBatch(ss, normalizeInput(ss.SubScope("scale"), x, in, inputDims(src.net.Input.Shape)), tf.Output{}, 1), false, inference, tf.Output{})
		probabilities, classes := predictions(ss, f.logits)
		identity := func(name string, x tf.Output) string {
			return root.AddOperation(tf.OpSpec{Type: "Identity", Name: name, Input: []tf.Input{x}}).Name()
		}
		signatures[sig.key] = servingTensors{
			input:         pixels.Op.Name(),
			probabilities: identity(OutputProbabilities+sig.suffix, probabilities),
			classes:       identity(OutputClasses+sig.suffix, classes),
			dtype:         sig.dtype,
		}
	}
	sv := buildSaver(root.SubScope("save"), ordered)
	g, err := root.Finalize()
	if err != nil {
		return nil, saver{}, nil, fmt.Errorf("build serving graph: %w", err)
	}
	return g, sv, signatures, nil
}

// normalizeInput is Normalizer.Into in the graph: x divided by the divisor, then, when the normalizer
// standardises, (x - mean) / std with one constant per feature (a channel's value repeated), so that it
// fits any input shape. Every step is the same float32 operation as Into's, so that the served network
// sees bit-identical inputs. The divisions are DivNoNan (x/k for k ≠ 0, and k never is 0): Grappler's
// constant folding rewrites RealDiv by a constant into a multiplication by the rounded reciprocal, which
// differs from x/255 in the last bit for some pixel values.
func normalizeInput(s *op.Scope, x tf.Output, in dataset.Normalizer, dims []int64) tf.Output {
	if in.Divisor != 1 {
		x = op.DivNoNan(s, x, op.Const(s.SubScope("divisor"), in.Divisor))
	}
	if in.Mean == nil {
		return op.Identity(s, x)
	}
	features := 1
	for _, d := range dims[1:] {
		features *= int(d)
	}
	mean, std := make([]float32, features), make([]float32, features)
	for i := range features {
		mean[i], std[i] = in.Mean[i%len(in.Mean)], in.Std[i%len(in.Std)]
	}
	constant := func(name string, values []float32) tf.Output {
		t, err := tf.ReadTensor(tf.Float, dims[1:], bytes.NewReader(sliceBytes(values)))
		if err != nil {
			s.UpdateErr("normalizeInput", err)
			return tf.Output{}
		}
		return op.Const(s.SubScope(name), t)
	}
	centred := op.Sub(s.SubScope("centre"), x, constant("mean", mean))
	return op.DivNoNan(s, centred, constant("std", std))
}

// ExportSavedModel writes the model for serving as a SavedModel directory (the format of
// tf.saved_model.save): dir/saved_model.pb with one MetaGraph tagged "serve" and
// dir/variables/variables.{index,data-00000-of-00001} with the weights and batch-norm moving
// statistics under their Keras paths. Its signatures take raw pixels [N, Inputs] under the input key
// "pixels" — serving_default as float32, serving_uint8 as uint8 — normalise them as in does for the
// run's training (in.Divisor 255 for pixels in [0, 1], 1 for none; in.Mean and in.Std, per channel,
// baked in as constants for standardised inputs) and run the inference pass (batch norm with the
// moving statistics, no dropout), returning "probabilities" [N, Classes] float32 and "classes" [N]
// int64.
//
// The directory is written next to dir under a temporary name and renamed into place once complete,
// replacing an existing dir.
func (m *Model) ExportSavedModel(dir string, in dataset.Normalizer) error {
	if err := m.exportSavedModel(dir, in); err != nil {
		return fmt.Errorf("export saved model %s: %w", dir, err)
	}
	return nil
}

// checkNormalizer refuses a normalisation the serving graph cannot apply to the model's inputs.
func checkNormalizer(in dataset.Normalizer, features int) error {
	finite := func(x float32) bool { return !math.IsNaN(float64(x)) && !math.IsInf(float64(x), 0) }
	if !(in.Divisor > 0) || !finite(in.Divisor) {
		return fmt.Errorf("divisor must be positive and finite, got %v", in.Divisor)
	}
	if len(in.Mean) != len(in.Std) || (in.Mean != nil && (len(in.Mean) == 0 || features%len(in.Mean) != 0)) {
		return fmt.Errorf("%d means and %d deviations for inputs of %d features", len(in.Mean), len(in.Std), features)
	}
	for c := range in.Mean {
		if !finite(in.Mean[c]) || !(in.Std[c] > 0) || !finite(in.Std[c]) {
			return fmt.Errorf("channel %d has mean %v and deviation %v", c, in.Mean[c], in.Std[c])
		}
	}
	return nil
}

func (m *Model) exportSavedModel(dir string, in dataset.Normalizer) (err error) {
	if err := checkNormalizer(in, m.graph.features); err != nil {
		return err
	}
	saved, err := m.savedModelProto(in)
	if err != nil {
		return err
	}
	dir = filepath.Clean(dir)
	parent, base := filepath.Split(dir)
	if parent == "" {
		parent = "."
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+base+".exporting-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := m.writeSavedModel(tmp, saved); err != nil {
		return err
	}
	return replaceDir(tmp, dir)
}

// writeSavedModel fills the empty directory tmp with a SavedModel, saved (the serialized proto) and
// the variables, and syncs it all.
func (m *Model) writeSavedModel(tmp string, saved []byte) error {
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	vdir := filepath.Join(tmp, variablesDir)
	if err := os.Mkdir(vdir, 0o755); err != nil {
		return err
	}
	prefix := filepath.Join(vdir, variablesName)
	if _, err := m.graph.weightsSaver.run(m.sess, prefix, false); err != nil {
		return fmt.Errorf("save variables: %w", err)
	}
	for _, suffix := range []string{dataSuffix, indexSuffix} {
		if err := atomicfile.SyncFile(prefix + suffix); err != nil {
			return err
		}
	}
	if err := atomicfile.Write(filepath.Join(tmp, savedModelFile), saved, 0o644); err != nil {
		return err
	}
	for _, d := range []string{vdir, tmp} {
		if err := atomicfile.SyncDir(d); err != nil {
			return err
		}
	}
	return nil
}

// replaceDir renames the complete export tmp to dir, replacing an existing dir: it moves the old one
// aside, moves the new one in (or the old one back if that fails), then deletes the old one.
func replaceDir(tmp, dir string) error {
	var old string
	if _, err := os.Lstat(dir); err == nil {
		old = tmp + ".old"
		if err := os.Rename(dir, old); err != nil {
			return err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := atomicfile.Rename(tmp, dir); err != nil {
		if old != "" {
			err = errors.Join(err, os.Rename(old, dir))
		}
		return err
	}
	if old != "" {
		return os.RemoveAll(old)
	}
	return nil
}

// inputDims are the dimensions of a SavedModel's pixels for the network's input shape: the batch
// dimension (-1), then the shape, (28, 28, 1) for an image, (784) for the lab MLP.
func inputDims(shape spec.Shape) []int64 {
	dims := []int64{-1}
	for _, d := range shape {
		dims = append(dims, int64(d))
	}
	return dims
}

// savedModelProto serializes the SavedModel proto of the model's serving graph.
func (m *Model) savedModelProto(in dataset.Normalizer) ([]byte, error) {
	g, sv, signatures, err := buildServingGraph(m.graph, m.cfg, in)
	if err != nil {
		return nil, err
	}
	graphDef, err := servingGraphDef(g)
	if err != nil {
		return nil, err
	}
	saved := &corepb.SavedModel{
		SavedModelSchemaVersion: 1,
		MetaGraphs: []*corepb.MetaGraphDef{{
			MetaInfoDef: &corepb.MetaGraphDef_MetaInfoDef{
				Tags:              []string{ServeTag},
				TensorflowVersion: tf.Version(),
			},
			GraphDef: graphDef,
			SaverDef: &corepb.SaverDef{
				FilenameTensorName:        sv.prefix.Op.Name() + ":0",
				SaveTensorName:            sv.saved.Op.Name() + ":0",
				RestoreOpName:             sv.restore.Name(),
				MaxToKeep:                 5,
				KeepCheckpointEveryNHours: 10000,
				Version:                   corepb.SaverDef_V2,
			},
			SignatureDef: m.signatureDefs(signatures),
		}},
	}
	b, err := proto.Marshal(saved)
	if err != nil {
		return nil, fmt.Errorf("marshal saved model: %w", err)
	}
	return b, nil
}

// servingGraphDef is g as a GraphDef message, to embed in the MetaGraphDef.
func servingGraphDef(g *tf.Graph) (*graphpb.GraphDef, error) {
	var buf bytes.Buffer
	if _, err := g.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("serialize serving graph: %w", err)
	}
	graphDef := new(graphpb.GraphDef)
	if err := proto.Unmarshal(buf.Bytes(), graphDef); err != nil {
		return nil, fmt.Errorf("parse serving graph: %w", err)
	}
	return graphDef, nil
}

// signatureDefs are the SignatureDefs of the serving graph's signatures: pixels in, probabilities
// and classes out, with their dtypes and shapes.
func (m *Model) signatureDefs(signatures map[string]servingTensors) map[string]*corepb.SignatureDef {
	defs := make(map[string]*corepb.SignatureDef, len(signatures))
	for key, t := range signatures {
		input := typespb.DataType_DT_FLOAT
		if t.dtype == tf.Uint8 {
			input = typespb.DataType_DT_UINT8
		}
		defs[key] = &corepb.SignatureDef{
			Inputs: map[string]*corepb.TensorInfo{InputPixels: tensorInfo(t.input, input, inputDims(m.cfg.Network.Input.Shape)...)},
			Outputs: map[string]*corepb.TensorInfo{
				OutputProbabilities: tensorInfo(t.probabilities, typespb.DataType_DT_FLOAT, -1, int64(m.graph.numClasses)),
				OutputClasses:       tensorInfo(t.classes, typespb.DataType_DT_INT64, -1),
			},
			//lint:ignore SA1019 tf.saved_model.save still writes it, and TF Serving before 2.4 checks it.
			MethodName: predictMethod,
		}
	}
	return defs
}

// tensorInfo describes output 0 of the node in a SignatureDef.
func tensorInfo(node string, dtype typespb.DataType, dims ...int64) *corepb.TensorInfo {
	shape := &shapepb.TensorShapeProto{}
	for _, d := range dims {
		shape.Dim = append(shape.Dim, &shapepb.TensorShapeProto_Dim{Size: d})
	}
	return &corepb.TensorInfo{Encoding: &corepb.TensorInfo_Name{Name: node + ":0"}, Dtype: dtype, TensorShape: shape}
}

// Predict returns the network's output for n examples of Inputs features each (scaled as for
// TrainStep): the softmax probabilities, n rows of Classes, and the arg-max class of each example.
// It uses the evaluation pass (batch norm from the moving statistics, no dropout), spec.EvalChunk examples
// per run.
func (m *Model) Predict(pixels []float32, n int) (probabilities []float32, classes []int64, err error) {
	if n <= 0 {
		return nil, nil, fmt.Errorf("predict: %d examples", n)
	}
	if len(pixels) != n*m.graph.features {
		return nil, nil, fmt.Errorf("predict: %d pixels for %d examples of %d features", len(pixels), n, m.graph.features)
	}
	fetches := []tf.Output{m.graph.probabilities, m.graph.classes}
	probabilities = make([]float32, 0, n*m.graph.numClasses)
	classes = make([]int64, 0, n)
	for start := 0; start < n; start += spec.EvalChunk {
		end := min(start+spec.EvalChunk, n)
		x, err := m.pixelInputs.tensor([]int64{int64(end - start), int64(m.graph.features)}, sliceBytes(pixels[start*m.graph.features:end*m.graph.features]))
		if err != nil {
			return nil, nil, fmt.Errorf("predict: pixels tensor: %w", err)
		}
		out, err := m.sess.Run(map[tf.Output]*tf.Tensor{m.graph.pixels: x}, fetches, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("predict examples %d-%d: %w", start, end, err)
		}
		p, c, err := predictionValues(out)
		release(out...)
		if err != nil {
			return nil, nil, fmt.Errorf("predict: %w", err)
		}
		probabilities = append(probabilities, p...)
		classes = append(classes, c...)
	}
	return probabilities, classes, nil
}

// predictionValues copies the fetched probabilities and classes out of their tensors.
func predictionValues(out []*tf.Tensor) ([]float32, []int64, error) {
	p, err := float32s(out[0])
	if err != nil {
		return nil, nil, fmt.Errorf("probabilities: %w", err)
	}
	c, ok := out[1].Value().([]int64)
	if !ok {
		return nil, nil, fmt.Errorf("classes: tensor type %v, want int64 [N]", out[1].DataType())
	}
	return p, c, nil
}

// Predictor serves a SavedModel loaded by TensorFlow's own loader. Its methods must not be called
// concurrently with Close.
type Predictor struct {
	saved    *tf.SavedModel
	features int
	shape    []int64             // the pixels' dimensions: the batch dimension (-1), then one example's
	float    predictorSignature  // serving_default
	uint8    *predictorSignature // serving_uint8, when the model has it
}

type predictorSignature struct {
	input                  tf.Output
	dtype                  tf.DataType
	probabilities, classes tf.Output
}

// LoadSavedModel loads the SavedModel in dir through TensorFlow's C++ loader
// (TF_LoadSessionFromSavedModel), MetaGraph tag "serve", which restores its variables. Its
// serving_default signature must take one input of [N, features] pixels and give "probabilities" and
// "classes", as ExportSavedModel writes it.
func LoadSavedModel(dir string) (*Predictor, error) {
	p, err := loadSavedModel(dir)
	if err != nil {
		return nil, fmt.Errorf("load saved model %s: %w", dir, err)
	}
	return p, nil
}

func loadSavedModel(dir string) (*Predictor, error) {
	if _, err := os.Stat(filepath.Join(dir, savedModelFile)); err != nil {
		if _, perr := os.Stat(filepath.Join(dir, "saved_model.pbtxt")); perr != nil {
			return nil, fmt.Errorf("not a SavedModel directory: %w", err)
		}
	}
	config, err := sessionConfig(Config{Device: DeviceAuto})
	if err != nil {
		return nil, err
	}
	saved, err := tf.LoadSavedModel(dir, []string{ServeTag}, &tf.SessionOptions{Config: config})
	if err != nil {
		return nil, err
	}
	p := &Predictor{saved: saved}
	if err := p.resolve(); err != nil {
		saved.Session.Close()
		return nil, err
	}
	return p, nil
}

// resolve finds the signatures' tensors in the loaded graph.
func (p *Predictor) resolve() error {
	sig, ok := p.saved.Signatures[SignatureDefault]
	if !ok {
		return fmt.Errorf("no %s signature", SignatureDefault)
	}
	float, shape, err := p.signature(SignatureDefault, sig)
	if err != nil {
		return err
	}
	p.float, p.shape, p.features = float, shape, 1
	for _, d := range shape[1:] {
		p.features *= int(d)
	}
	if sig, ok := p.saved.Signatures[SignatureUint8]; ok {
		u, shape, err := p.signature(SignatureUint8, sig)
		if err == nil && u.dtype == tf.Uint8 && slices.Equal(shape, p.shape) {
			p.uint8 = &u
		}
	}
	return nil
}

// signature finds a signature's tensors and its input's dimensions, [-1, d1, d2, ...] with every
// example dimension known and at most spec.MaxCount values per example.
func (p *Predictor) signature(key string, sig tf.Signature) (predictorSignature, []int64, error) {
	var s predictorSignature
	if len(sig.Inputs) != 1 {
		return s, nil, fmt.Errorf("signature %s has %d inputs, want 1 (pixels)", key, len(sig.Inputs))
	}
	var input tf.TensorInfo
	for _, info := range sig.Inputs {
		input = info
	}
	if input.DType != tf.Float && input.DType != tf.Uint8 {
		return s, nil, fmt.Errorf("signature %s: input %s is %v, want float32 or uint8", key, input.Name, input.DType)
	}
	shape, ok := exampleShape(input.Shape)
	if !ok {
		return s, nil, fmt.Errorf("signature %s: input %s has shape %v, want [N, features] or [N, height, width, channels]", key, input.Name, input.Shape)
	}
	var err error
	if s.input, err = p.tensor(input.Name); err != nil {
		return s, nil, fmt.Errorf("signature %s: %w", key, err)
	}
	s.dtype = input.DType
	for name, out := range map[string]*tf.Output{OutputProbabilities: &s.probabilities, OutputClasses: &s.classes} {
		info, ok := sig.Outputs[name]
		if !ok {
			return s, nil, fmt.Errorf("signature %s has no output %q", key, name)
		}
		if *out, err = p.tensor(info.Name); err != nil {
			return s, nil, fmt.Errorf("signature %s: %w", key, err)
		}
	}
	return s, shape, nil
}

// exampleShape is a signature input's dimensions when every one but the batch's is known and one
// example holds at most spec.MaxCount values.
func exampleShape(shape tf.Shape) ([]int64, bool) {
	n := shape.NumDimensions()
	if n < 2 {
		return nil, false
	}
	dims, count := []int64{-1}, int64(1)
	for i := 1; i < n; i++ {
		d := shape.Size(i)
		if d <= 0 || d > spec.MaxCount/count {
			return nil, false
		}
		count *= d
		dims = append(dims, d)
	}
	return dims, true
}

// tensor finds "node:index" in the loaded graph.
func (p *Predictor) tensor(name string) (tf.Output, error) {
	node, index := name, 0
	if i := strings.LastIndexByte(name, ':'); i >= 0 {
		n, err := strconv.Atoi(name[i+1:])
		if err != nil {
			return tf.Output{}, fmt.Errorf("bad tensor name %q", name)
		}
		node, index = name[:i], n
	}
	o := p.saved.Graph.Operation(node)
	if o == nil || index >= o.NumOutputs() {
		return tf.Output{}, fmt.Errorf("the graph has no tensor %q", name)
	}
	return o.Output(index), nil
}

// Features is the number of pixels per example the model takes.
func (p *Predictor) Features() int { return p.features }

// Predict runs serving_default on n examples of float32 pixels, unscaled (the model scales them as
// its run did), and returns the probabilities (n rows) and the arg-max class of each example.
func (p *Predictor) Predict(pixels []float32, n int) (probabilities []float32, classes []int64, err error) {
	if err := p.check(len(pixels), n); err != nil {
		return nil, nil, err
	}
	var t *tf.Tensor
	if p.float.dtype == tf.Float {
		t, err = tf.ReadTensor(tf.Float, p.dims(n), bytes.NewReader(sliceBytes(pixels)))
	} else {
		return nil, nil, fmt.Errorf("predict: %s takes %v pixels; use PredictUint8", SignatureDefault, p.float.dtype)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("predict: pixels tensor: %w", err)
	}
	return p.run(p.float, t)
}

// PredictUint8 is Predict for uint8 pixels, through serving_uint8 when the model has it, else
// through serving_default.
func (p *Predictor) PredictUint8(pixels []uint8, n int) (probabilities []float32, classes []int64, err error) {
	if err := p.check(len(pixels), n); err != nil {
		return nil, nil, err
	}
	sig := p.float
	if p.uint8 != nil {
		sig = *p.uint8
	}
	if sig.dtype == tf.Float {
		floats := make([]float32, len(pixels))
		for i, v := range pixels {
			floats[i] = float32(v)
		}
		return p.Predict(floats, n)
	}
	t, err := tf.ReadTensor(tf.Uint8, p.dims(n), bytes.NewReader(pixels))
	if err != nil {
		return nil, nil, fmt.Errorf("predict: pixels tensor: %w", err)
	}
	return p.run(sig, t)
}

// dims are the dimensions of a batch of n examples.
func (p *Predictor) dims(n int) []int64 {
	return append([]int64{int64(n)}, p.shape[1:]...)
}

func (p *Predictor) check(pixels, n int) error {
	if n <= 0 {
		return fmt.Errorf("predict: %d examples", n)
	}
	if pixels != n*p.features {
		return fmt.Errorf("predict: %d pixels for %d examples of %d features", pixels, n, p.features)
	}
	return nil
}

func (p *Predictor) run(sig predictorSignature, t *tf.Tensor) ([]float32, []int64, error) {
	defer release(t)
	out, err := p.saved.Session.Run(map[tf.Output]*tf.Tensor{sig.input: t}, []tf.Output{sig.probabilities, sig.classes}, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("predict: %w", err)
	}
	defer release(out...)
	probabilities, classes, err := predictionValues(out)
	if err != nil {
		return nil, nil, fmt.Errorf("predict: %w", err)
	}
	return probabilities, classes, nil
}

// Close releases the loaded model's session.
func (p *Predictor) Close() error {
	if err := p.saved.Session.Close(); err != nil {
		return fmt.Errorf("close saved model session: %w", err)
	}
	return nil
}
