package dataset

import (
	"fmt"
	"slices"

	"github.com/tfsweep/tfsweep/spec"
)

// Description is what a source holds, for a caller that plans training rather than trains: the sizes of
// its splits, one example's shape, its classes and the decoded-cache entries a worker is handed.
type Description struct {
	TrainExamples, TestExamples int
	Shape                       []int // one example's shape, as Set.Shape
	Classes                     int
	ClassNames                  []string // one per class when the format names them
	Snapshot                    spec.DataSnapshot
	Float32Bytes                int64 // what the data take as a worker holds them (Data.Float32Bytes)
}

// Features is the number of values in one example, the product of Shape.
func (d Description) Features() int {
	return (&Set{Shape: d.Shape}).Features()
}

// Describe checks a source as Open does (budget, one shape, every label a class, the holdout's sizes) and
// describes it. A split its decoded-cache entry serves (its files unchanged since, or the entry handed in
// Options.Snapshot) is read without its examples' values: their shape from the entry's header, its labels
// and class names whole. Every other split is read and checked whole, so bad data is refused here as Open
// refuses it. An entry whose values are damaged still describes; the worker's Open of it reads the files.
func Describe(src Source, opts Options) (Description, error) {
	d, err := open(src, opts, true)
	if err != nil {
		return Description{}, err
	}
	size, err := d.Float32Bytes()
	if err != nil {
		return Description{}, fmt.Errorf("dataset: %s: %w", src, err)
	}
	return Description{
		TrainExamples: d.Train.Len(),
		TestExamples:  d.Test.Len(),
		Shape:         slices.Clone(d.Train.Shape),
		Classes:       d.Classes,
		ClassNames:    d.ClassNames,
		Snapshot:      d.Snapshot,
		Float32Bytes:  size,
	}, nil
}
