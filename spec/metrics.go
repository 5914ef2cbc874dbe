package spec

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
