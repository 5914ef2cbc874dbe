package summary

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	tensorpb "github.com/wamuir/graft/tensorflow/core/framework/tensor_go_proto"
	typespb "github.com/wamuir/graft/tensorflow/core/framework/types_go_proto"
	"google.golang.org/protobuf/encoding/protowire"
)

// PluginPRCurves is the PR Curves plugin's name.
const PluginPRCurves = "pr_curves"

// PRThresholds is the threshold count of TensorBoard's pr_curve summaries
// when none is given.
const PRThresholds = 201

// prMinimumCount is the floor of the divisors of precision and recall in
// TensorBoard's pr_curve summary, which makes 0/0 a 0.
const prMinimumCount = 1e-7

// A PRCurve is a precision–recall curve at len(Precision) thresholds
// evenly spaced over [0, 1], as TensorBoard's pr_curve summary computes it:
// example j falls in bucket floor(p_j × (thresholds−1)), computed in
// float32, and at threshold i it counts as predicted positive when its
// bucket is i or above. All six slices have one entry per threshold.
type PRCurve struct {
	TruePositives, FalsePositives, TrueNegatives, FalseNegatives []float64
	Precision, Recall                                            []float64
}

// Thresholds is the curve's threshold count.
func (c PRCurve) Thresholds() int { return len(c.Precision) }

// NewPRCurve computes the curve of a binary classifier: positive[j] says
// whether example j belongs to the class, probability[j] is the score the
// model gave it, in [0, 1]. thresholds must be at least 2.
func NewPRCurve(positive []bool, probability []float32, thresholds int) (PRCurve, error) {
	if len(positive) != len(probability) {
		return PRCurve{}, fmt.Errorf("summary: pr curve of %d labels and %d probabilities", len(positive), len(probability))
	}
	if thresholds < 2 || thresholds > 1<<24 {
		return PRCurve{}, fmt.Errorf("summary: pr curve of %d thresholds: want 2 to 2^24", thresholds)
	}
	tp, fp := make([]float64, thresholds), make([]float64, thresholds)
	for j, p := range probability {
		if !(p >= 0 && p <= 1) {
			return PRCurve{}, fmt.Errorf("summary: pr curve: probability %v of example %d is not in [0, 1]", p, j)
		}
		b := int(float32(p * float32(thresholds-1))) // floor: the product is >= 0
		if positive[j] {
			tp[b]++
		} else {
			fp[b]++
		}
	}
	return prCurveFromBuckets(tp, fp), nil
}

// prCurveFromBuckets turns per-bucket counts into the counts at or above
// each bucket, and precision and recall from them.
func prCurveFromBuckets(tp, fp []float64) PRCurve {
	n := len(tp)
	for i := n - 2; i >= 0; i-- {
		tp[i] += tp[i+1]
		fp[i] += fp[i+1]
	}
	c := PRCurve{
		TruePositives: tp, FalsePositives: fp,
		TrueNegatives: make([]float64, n), FalseNegatives: make([]float64, n),
		Precision: make([]float64, n), Recall: make([]float64, n),
	}
	for i := range n {
		c.TrueNegatives[i] = fp[0] - fp[i]
		c.FalseNegatives[i] = tp[0] - tp[i]
		c.Precision[i] = tp[i] / math.Max(prMinimumCount, tp[i]+fp[i])
		c.Recall[i] = tp[i] / math.Max(prMinimumCount, tp[i]+c.FalseNegatives[i])
	}
	return c
}

// ClassPRCurves computes one curve per class of a softmax classifier, each
// class against the rest: probabilities holds len(labels) rows of classes
// scores (row-major), labels the true class of each row. Curve k takes
// column k as the score and the rows labelled k as the positives.
func ClassPRCurves(probabilities []float32, labels []int, classes, thresholds int) ([]PRCurve, error) {
	if classes <= 0 || len(probabilities)%classes != 0 || len(probabilities)/classes != len(labels) {
		return nil, fmt.Errorf("summary: %d probabilities are not %d rows of %d classes", len(probabilities), len(labels), classes)
	}
	for j, l := range labels {
		if l < 0 || l >= classes {
			return nil, fmt.Errorf("summary: label %d of example %d is not one of %d classes", l, j, classes)
		}
	}
	curves := make([]PRCurve, classes)
	positive := make([]bool, len(labels))
	column := make([]float32, len(labels))
	for k := range curves {
		for j, l := range labels {
			positive[j], column[j] = l == k, probabilities[j*classes+k]
		}
		c, err := NewPRCurve(positive, column, thresholds)
		if err != nil {
			return nil, fmt.Errorf("class %d: %w", k, err)
		}
		curves[k] = c
	}
	return curves, nil
}

// PRCurve writes c under tag at step as TensorBoard's pr_curve summary
// does: a DT_FLOAT [6, thresholds] tensor whose rows are true positives,
// false positives, true negatives, false negatives, precision and recall,
// with plugin "pr_curves" and the threshold count in its metadata.
func (w *EventWriter) PRCurve(tag string, step int64, c PRCurve, opts ...ValueOption) error {
	n := c.Thresholds()
	rows := [][]float64{c.TruePositives, c.FalsePositives, c.TrueNegatives, c.FalseNegatives, c.Precision, c.Recall}
	if n < 2 {
		return w.errorf("pr curve for tag %q has %d thresholds, want 2 or more", tag, n)
	}
	content := make([]byte, 0, 4*6*n)
	for _, row := range rows {
		if len(row) != n {
			return w.errorf("pr curve for tag %q: rows of %d and %d thresholds", tag, len(row), n)
		}
		for _, x := range row {
			content = binary.LittleEndian.AppendUint32(content, math.Float32bits(float32(x)))
		}
	}
	t := &tensorpb.TensorProto{Dtype: typespb.DataType_DT_FLOAT, TensorShape: shape(6, int64(n)), TensorContent: content}
	return w.writeValue(tag, PluginPRCurves, step, false, t, encodePRCurveData(n), opts)
}

// PrCurvePluginData (tensorboard/plugins/pr_curve/plugin_data.proto):
// version = 1 (0, left out), num_thresholds = 2.
const prDataNumThresholds = 2

func encodePRCurveData(thresholds int) []byte {
	b := protowire.AppendTag(nil, prDataNumThresholds, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(thresholds))
}

// decodePRCurve reads a pr_curves tensor back into a curve.
func decodePRCurve(t *tensorpb.TensorProto) (*PRCurve, error) {
	xs, err := numbers(t)
	if err != nil {
		return nil, err
	}
	dims := t.GetTensorShape().GetDim()
	if len(dims) != 2 || dims[0].GetSize() != 6 || int64(len(xs)) != 6*dims[1].GetSize() {
		return nil, errors.New("pr curve tensor is not [6, thresholds]")
	}
	n := len(xs) / 6
	row := func(i int) []float64 { return xs[i*n : (i+1)*n : (i+1)*n] }
	return &PRCurve{
		TruePositives: row(0), FalsePositives: row(1), TrueNegatives: row(2), FalseNegatives: row(3),
		Precision: row(4), Recall: row(5),
	}, nil
}
