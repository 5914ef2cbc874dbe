package trainer

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// weightsModel is fakeModel with the weights of the lab report's network, so the TensorBoard callback
// writes real-sized histograms.
type weightsModel struct {
	fakeModel
	weights []Weight
}

func (m *weightsModel) Weights() ([]Weight, error) { return m.weights, nil }
func (m *weightsModel) GraphDef() ([]byte, error)  { return []byte{0x0a, 0x00}, nil }
func (m *weightsModel) KerasJSON() ([]byte, error) { return []byte(`{"class_name":"Sequential"}`), nil }

// BenchmarkFitLoggingOverhead measures what Fit and its callbacks (TensorBoard with batch_loss every
// 10 steps and 6 weight histograms per epoch, history) add to an epoch of MNIST at batch 128, with a
// model that costs nothing: the part of a run's time that is not TensorFlow's.
func BenchmarkFitLoggingOverhead(b *testing.B) {
	const examples, batch = 60000, 128
	data := FitData{TrainExamples: examples, Order: identityOrder(examples)}
	m := &weightsModel{}
	for _, w := range []struct {
		name  string
		shape []int
	}{{"dense/kernel", []int{784, 128}}, {"dense/bias", []int{128}}, {"dense_1/kernel", []int{128, 64}},
		{"dense_1/bias", []int{64}}, {"dense_2/kernel", []int{64, 10}}, {"dense_2/bias", []int{10}}} {
		n := 1
		for _, d := range w.shape {
			n *= d
		}
		values := make([]float32, n)
		for i := range values {
			values[i] = float32(i%97) / 97
		}
		m.weights = append(m.weights, Weight{Name: w.name, Values: values})
	}
	dir := b.TempDir()
	b.ResetTimer()
	for i := range b.N {
		runDir := filepath.Join(dir, strconv.Itoa(i))
		if err := os.Mkdir(runDir, 0o755); err != nil {
			b.Fatal(err)
		}
		tb, err := NewTensorBoard(runDir, TensorBoardOptions{UpdateFreq: 10, Model: m, ModelName: "sequential"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Fit(context.Background(), m, data, FitOptions{Epochs: 1, BatchSize: batch, LearningRate: 0.001}, tb); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64((examples+batch-1)/batch), "ns/step")
}
