package trainer

import "time"

// History collects the per-epoch metrics of one run, like Keras' History callback.
type History struct {
	TrainLoss     []float64
	TrainAccuracy []float64
	ValLoss       []float64
	ValAccuracy   []float64
	// LearningRate is EpochEnd.LearningRate: the rate when History's OnEpochEnd runs.
	LearningRate []float64
	// Filled in by OnTrainEnd.
	EpochsCompleted int
	Iterations      int64
	FitTime         time.Duration
	Err             error
	StoppedEarly    bool
	StoppedEpoch    int
}

var (
	_ EpochEnder = (*History)(nil)
	_ TrainEnder = (*History)(nil)
)

func (h *History) OnEpochEnd(e EpochEnd) error {
	h.TrainLoss = append(h.TrainLoss, e.Loss)
	h.TrainAccuracy = append(h.TrainAccuracy, e.Accuracy)
	h.ValLoss = append(h.ValLoss, e.ValLoss)
	h.ValAccuracy = append(h.ValAccuracy, e.ValAccuracy)
	h.LearningRate = append(h.LearningRate, e.LearningRate)
	return nil
}

func (h *History) OnTrainEnd(e TrainEnd) error {
	h.EpochsCompleted = e.EpochsCompleted
	h.Iterations = e.Iterations
	h.FitTime = e.FitTime
	h.Err = e.Err
	h.StoppedEarly = e.StoppedEarly
	h.StoppedEpoch = e.StoppedEpoch
	return nil
}
