package spec

import (
	"encoding/json"
	"math"
)

// EpochMetrics are one epoch's metrics after its validation: the trainer measures them, the worker reports
// them, and a run's result holds its last (Final). Loss and Accuracy are the training set's, named
// as Keras' logs name them; their JSON names are those of tfsweep's --json summary.
type EpochMetrics struct {
	Epoch            int     `json:"epoch"` // 0-based
	Loss             float64 `json:"train_loss"`
	Accuracy         float64 `json:"train_accuracy"`
	ValLoss          float64 `json:"val_loss"`
	ValAccuracy      float64 `json:"val_accuracy"`
	LearningRate     float64 `json:"learning_rate,omitempty"` // the rate the epoch trained with
	Seconds          float64 `json:"seconds,omitempty"`       // the epoch's steps and validation
	SamplesPerSecond float64 `json:"samples_per_second,omitempty"`
}

// MarshalJSON writes a metric that is not a finite number as null: a run that logged no
// validation, or a loss that diverged, which encoding/json would refuse to write at all. A struct
// that embeds EpochMetrics inherits this method and would lose its own fields in JSON: one that
// is encoded holds the metrics in a named field.
func (e EpochMetrics) MarshalJSON() ([]byte, error) {
	type plain EpochMetrics
	// The outer fields hide the embedded ones of the same JSON name, in the order they had.
	return json.Marshal(struct {
		Epoch       int      `json:"epoch"`
		Loss        *float64 `json:"train_loss"`
		Accuracy    *float64 `json:"train_accuracy"`
		ValLoss     *float64 `json:"val_loss"`
		ValAccuracy *float64 `json:"val_accuracy"`
		plain
	}{e.Epoch, orNull(e.Loss), orNull(e.Accuracy), orNull(e.ValLoss), orNull(e.ValAccuracy), plain(e)})
}

// UnmarshalJSON reads a null or missing metric as NaN.
func (e *EpochMetrics) UnmarshalJSON(b []byte) error {
	type plain EpochMetrics
	nan := math.NaN()
	p := plain{Loss: nan, Accuracy: nan, ValLoss: nan, ValAccuracy: nan}
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*e = EpochMetrics(p)
	return nil
}

func orNull(v float64) *float64 {
	if !finite(v) {
		return nil
	}
	return &v
}

// History is a run's metrics epoch by epoch, one list per metric (index = epoch), as Keras'
// History.history holds them: the trainer fills it, the checkpoint keeps it, and the run's result
// reports it.
type History struct {
	TrainLoss     []float64 `json:"train_loss"`
	ValLoss       []float64 `json:"val_loss"`
	TrainAccuracy []float64 `json:"train_accuracy"`
	ValAccuracy   []float64 `json:"val_accuracy"`
	LearningRate  []float64 `json:"learning_rate,omitempty"`
}

// EmptyHistory has empty, not null, lists in JSON.
func EmptyHistory() History {
	return History{TrainLoss: []float64{}, ValLoss: []float64{}, TrainAccuracy: []float64{}, ValAccuracy: []float64{}}
}

// Append adds an epoch's metrics. A history that lacks the rates of its earlier epochs (a
// checkpoint written before they were kept) stays without rates.
func (h *History) Append(e EpochMetrics) {
	if len(h.LearningRate) == len(h.TrainLoss) {
		h.LearningRate = append(h.LearningRate, e.LearningRate)
	}
	h.TrainLoss = append(h.TrainLoss, e.Loss)
	h.ValLoss = append(h.ValLoss, e.ValLoss)
	h.TrainAccuracy = append(h.TrainAccuracy, e.Accuracy)
	h.ValAccuracy = append(h.ValAccuracy, e.ValAccuracy)
}

// Objective is what chooses a run's best epoch: a quantity of its epochs, named as Keras' callbacks
// name what they monitor (ResolveMonitor: loss, accuracy, val_loss, val_accuracy), and whether more
// of it is better. The zero value is Keras' default, the lowest val_loss.
type Objective struct {
	Monitor string `json:"monitor,omitempty"` // "" is val_loss
	Greater bool   `json:"greater,omitempty"`
}

// Check refuses a monitor ResolveMonitor does not know.
func (o Objective) Check() error {
	_, _, err := ResolveMonitor(o.Monitor, "")
	return err
}

// Monitored is the epoch's value of a quantity ResolveMonitor names ("" is val_loss); NaN for a
// name it does not know.
func (e EpochMetrics) Monitored(name string) float64 {
	switch name {
	case "loss":
		return e.Loss
	case "accuracy":
		return e.Accuracy
	case "val_loss", "":
		return e.ValLoss
	case "val_accuracy":
		return e.ValAccuracy
	}
	return math.NaN()
}

// BestEpoch is the 0-based epoch of the lowest validation loss (BestEpochBy the zero Objective).
func (h History) BestEpoch() (epoch int, ok bool) { return h.BestEpochBy(Objective{}) }

// BestEpochBy is the 0-based epoch with the objective's best value, the earliest of equals; NaN
// values never count. ok is false when no epoch has a number.
func (h History) BestEpochBy(o Objective) (epoch int, ok bool) {
	epoch = -1
	best := math.NaN()
	for i := range h.Len() {
		v := h.At(i).Monitored(o.Monitor)
		if math.IsNaN(v) {
			continue
		}
		if epoch < 0 || (o.Greater && v > best) || (!o.Greater && v < best) {
			epoch, best = i, v
		}
	}
	return epoch, epoch >= 0
}

// Len is the number of epochs the history holds.
func (h History) Len() int { return len(h.TrainLoss) }

// At is epoch i's metrics (without its timing); its learning rate is 0 in a history without
// rates.
func (h History) At(i int) EpochMetrics {
	e := EpochMetrics{Epoch: i, Loss: h.TrainLoss[i], Accuracy: h.TrainAccuracy[i], ValLoss: h.ValLoss[i], ValAccuracy: h.ValAccuracy[i]}
	if i < len(h.LearningRate) {
		e.LearningRate = h.LearningRate[i]
	}
	return e
}
