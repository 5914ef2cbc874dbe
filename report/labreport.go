package report

import (
	"strconv"

	"github.com/tfsweep/tfsweep/spec"
)

// The lab report being reproduced ("Deep Learning Lab 3 Report", Shusrith S, 2 February 2025): an MNIST
// MLP (784 → 128 → 64 → 10, tanh, Adam at 0.001, 5 epochs) trained with Xavier (glorot_normal) and
// uniform initialisation, with and without batch norm, at several batch sizes. Its Tables 1–14 give
// the final train and validation loss of each variant; Figures 1–14 plot the matching loss curves.
// The numbers below are copied from the report as printed (four decimals).

// Split says which half of a run a table or figure shows.
type Split string

// The two splits, named like Keras' TensorBoard sub-runs.
const (
	Train      Split = spec.TrainDir
	Validation Split = spec.ValidationDir
)

// Variant is the part of a run's hyper-parameters that the lab report varies.
type Variant struct {
	Init      string // canonical initialiser name: "xavier" or "uniform"
	BatchNorm bool
	BatchSize int
}

// ReferenceRow is one line of a lab-report table: a variant and the loss the report printed for it.
type ReferenceRow struct {
	Label   string // the row label as in the report, e.g. "Without batch norm" or "64"
	Variant Variant
	Loss    float64
}

// ReferenceTable is one of the report's Tables 1–14. Figure is the report's figure of the same curves
// (the report numbers them alike: Table n sits beside Figure n).
type ReferenceTable struct {
	Number  int
	Figure  int
	Split   Split
	Section string // the report's section heading, e.g. "3.1 Batch Size 64"
	Caption string // the report's caption, e.g. "Train Loss"
	RowHead string // the report's first column heading: "Loss" or "Batch size"
	Rows    []ReferenceRow
}

// ReportEpochs and ReportLR are the lab report's training settings; runs trained otherwise are still
// compared, with a note.
const (
	ReportEpochs = 5
	ReportLR     = 0.001
)

func bnPair(init string, batch int, withoutBN, withBN float64) []ReferenceRow {
	return []ReferenceRow{
		{Label: "Without batch norm", Variant: Variant{Init: init, BatchSize: batch}, Loss: withoutBN},
		{Label: "With batch norm", Variant: Variant{Init: init, BatchNorm: true, BatchSize: batch}, Loss: withBN},
	}
}

func batchSizes(values ...float64) []ReferenceRow {
	sizes := []int{64, 128, 256, 512, 1024}
	rows := make([]ReferenceRow, len(sizes))
	for i, bs := range sizes {
		rows[i] = ReferenceRow{Label: strconv.Itoa(bs), Variant: Variant{Init: "xavier", BatchSize: bs}, Loss: values[i]}
	}
	return rows
}

// LabReport returns the report's Tables 1–14 in order. It builds a fresh slice on every call so that
// callers cannot change the reference for others.
func LabReport() []ReferenceTable {
	const (
		trainCap = "Train Loss"
		valCap   = "Val loss"
		loss     = "Loss"
	)
	return []ReferenceTable{
		{1, 1, Train, "3.1 Batch Size 64", trainCap, loss, bnPair("xavier", 64, 0.3706, 0.3599)},
		{2, 2, Validation, "3.1 Batch Size 64", valCap, loss, bnPair("xavier", 64, 0.3415, 0.3409)},
		{3, 3, Train, "3.2 Batch Size 128", trainCap, loss, bnPair("xavier", 128, 0.2750, 0.2695)},
		{4, 4, Validation, "3.2 Batch Size 128", valCap, loss, bnPair("xavier", 128, 0.2444, 0.2582)},
		{5, 5, Train, "3.3 Batch Size 256", trainCap, loss, bnPair("xavier", 256, 0.2230, 0.2189)},
		{6, 6, Validation, "3.3 Batch Size 256", valCap, loss, bnPair("xavier", 256, 0.2114, 0.1843)},
		{7, 7, Train, "3.4 Batch Size 512", trainCap, loss, bnPair("xavier", 512, 0.1753, 0.1802)},
		{8, 8, Validation, "3.4 Batch Size 512", valCap, loss, bnPair("xavier", 512, 0.1683, 0.1836)},
		{9, 9, Train, "3.5 Batch Size 1024", trainCap, loss, bnPair("xavier", 1024, 0.1428, 0.1385)},
		{10, 10, Validation, "3.5 Batch Size 1024", valCap, loss, bnPair("xavier", 1024, 0.1476, 0.1498)},
		{11, 11, Train, "3.6 Batch Size Comparison", trainCap, "Batch size", batchSizes(0.3706, 0.2750, 0.2230, 0.1753, 0.1428)},
		{12, 12, Validation, "3.6 Batch Size Comparison", valCap, "Batch size", batchSizes(0.3415, 0.2444, 0.2114, 0.1683, 0.1476)},
		{13, 13, Train, "4 Uniform initialization", trainCap, loss, bnPair("uniform", 128, 0.3223, 0.3047)},
		{14, 14, Validation, "4 Uniform initialization", valCap, loss, bnPair("uniform", 128, 0.3002, 0.3130)},
	}
}

// ReferenceLoss returns the report's final loss for a variant and split, and whether the report has
// one. Tables 11–12 repeat the no-batch-norm values of Tables 1–10, so any table that has the variant
// gives the same number.
func ReferenceLoss(v Variant, split Split) (float64, bool) {
	for _, t := range LabReport() {
		if t.Split != split {
			continue
		}
		for _, r := range t.Rows {
			if r.Variant == v {
				return r.Loss, true
			}
		}
	}
	return 0, false
}
