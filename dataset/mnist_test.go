package dataset

import (
	"os"
	"slices"
	"testing"
)

// TestMNIST reads the real MNIST set from $TFSWEEP_DATA_DIR. It fails rather than skips without it: a green run
// must mean the real files were read.
func TestMNIST(t *testing.T) {
	dir := os.Getenv("TFSWEEP_DATA_DIR")
	if dir == "" {
		t.Fatal("TFSWEEP_DATA_DIR is not set: run `make test`, or scripts/setup-data.sh and set TFSWEEP_DATA_DIR to the directory it prints")
	}
	train, test, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Examples per digit 0..9, as published with MNIST.
	for _, tc := range []struct {
		name  string
		split *Split
		n     int
		hist  []int
	}{
		{"train", train, 60000, []int{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}},
		{"test", test, 10000, []int{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}},
	} {
		s := tc.split
		if s.Len() != tc.n || s.Rows != 28 || s.Cols != 28 || len(s.Pixels) != tc.n*28*28 {
			t.Errorf("%s: %d examples of %d×%d (%d pixels), want %d of 28×28", tc.name, s.Len(), s.Rows, s.Cols, len(s.Pixels), tc.n)
		}
		hist := make([]int, Classes)
		for _, l := range s.Labels {
			hist[l]++
		}
		sum := 0
		for _, c := range hist {
			sum += c
		}
		if sum != tc.n || !slices.Equal(hist, tc.hist) {
			t.Errorf("%s: label histogram %v (sum %d), want %v (sum %d)", tc.name, hist, sum, tc.hist, tc.n)
		}
		if maxPixel := slices.Max(s.Pixels); maxPixel != 255 {
			t.Errorf("%s: brightest pixel %d, want 255", tc.name, maxPixel)
		}
	}
}
