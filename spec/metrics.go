package spec

import (
	"math"
	"slices"
)

// Metrics are one epoch's values.
type Metrics struct {
	TrainLoss     float64 `json:"train_loss"`
	TrainAccuracy float64 `json:"train_accuracy"`
	ValLoss       float64 `json:"val_loss"`
	ValAccuracy   float64 `json:"val_accuracy"`
}

// Curves are the per-epoch values, index = epoch.
type Curves struct {
	TrainLoss     []float64 `json:"train_loss"`
	ValLoss       []float64 `json:"val_loss"`
	TrainAccuracy []float64 `json:"train_accuracy"`
	ValAccuracy   []float64 `json:"val_accuracy"`
}

// BestEpoch is the 0-based epoch of the lowest validation loss, the earliest of equals; NaN losses
// never count. ok is false when no epoch has a number.
func (c Curves) BestEpoch() (epoch int, ok bool) {
	epoch = -1
	for i, v := range c.ValLoss {
		if !math.IsNaN(v) && (epoch < 0 || v < c.ValLoss[epoch]) {
			epoch = i
		}
	}
	return epoch, epoch >= 0
}

// Clone copies every curve.
func (c Curves) Clone() Curves {
	return Curves{TrainLoss: slices.Clone(c.TrainLoss), ValLoss: slices.Clone(c.ValLoss), TrainAccuracy: slices.Clone(c.TrainAccuracy), ValAccuracy: slices.Clone(c.ValAccuracy)}
}

// EmptyCurves has empty, not null, lists in JSON.
func EmptyCurves() Curves {
	return Curves{TrainLoss: []float64{}, ValLoss: []float64{}, TrainAccuracy: []float64{}, ValAccuracy: []float64{}}
}

// Append adds an epoch's metrics.
func (c *Curves) Append(e Epoch) {
	c.TrainLoss = append(c.TrainLoss, e.Loss)
	c.ValLoss = append(c.ValLoss, e.ValLoss)
	c.TrainAccuracy = append(c.TrainAccuracy, e.Accuracy)
	c.ValAccuracy = append(c.ValAccuracy, e.ValAccuracy)
}

// At returns epoch e's metrics (0-based) as an Epoch without its timings.
func (c Curves) At(e int) Epoch {
	return Epoch{Epoch: e, Loss: c.TrainLoss[e], Accuracy: c.TrainAccuracy[e], ValLoss: c.ValLoss[e], ValAccuracy: c.ValAccuracy[e]}
}
