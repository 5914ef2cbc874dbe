package dataset

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Classes is the number of classes in MNIST, Fashion-MNIST and KMNIST; Load checks labels against it.
const Classes = 10

// Canonical file names of an IDX classification set; Load also accepts each with a ".gz" suffix.
const (
	TrainImagesFile = "train-images-idx3-ubyte"
	TrainLabelsFile = "train-labels-idx1-ubyte"
	TestImagesFile  = "t10k-images-idx3-ubyte"
	TestLabelsFile  = "t10k-labels-idx1-ubyte"
)

// Split is one split of an IDX classification set, kept as raw bytes.
type Split struct {
	Pixels     []byte // Len()*Rows*Cols bytes, row-major, example after example
	Labels     []byte
	Rows, Cols int
}

// Len is the number of examples.
func (s *Split) Len() int { return len(s.Labels) }

// Features is the number of pixels per example, Rows*Cols.
func (s *Split) Features() int { return s.Rows * s.Cols }

// Head returns the first n examples, sharing memory with s. It panics if n > Len(); the capacity of its
// slices is clipped so appending to them cannot overwrite the rest of s.
func (s *Split) Head(n int) *Split {
	if n < 0 || n > s.Len() {
		panic(fmt.Sprintf("dataset: Head(%d) of a split with %d examples", n, s.Len()))
	}
	f := s.Features()
	return &Split{
		Pixels: s.Pixels[: n*f : n*f],
		Labels: s.Labels[:n:n],
		Rows:   s.Rows,
		Cols:   s.Cols,
	}
}

// Slice returns examples [from, to), sharing memory with s, capacity clipped as in Head. It panics
// on a range outside the split.
func (s *Split) Slice(from, to int) *Split {
	if from < 0 || from > to || to > s.Len() {
		panic(fmt.Sprintf("dataset: Slice(%d, %d) of a split with %d examples", from, to, s.Len()))
	}
	f := s.Features()
	return &Split{
		Pixels: s.Pixels[from*f : to*f : to*f],
		Labels: s.Labels[from:to:to],
		Rows:   s.Rows,
		Cols:   s.Cols,
	}
}

// LoadSplit reads an image file and its label file and checks that they agree: the same number of examples,
// and every label below classes.
func LoadSplit(imagesPath, labelsPath string, classes int) (*Split, error) {
	pixels, n, rows, cols, err := ReadImages(imagesPath)
	if err != nil {
		return nil, err
	}
	labels, err := ReadLabels(labelsPath)
	if err != nil {
		return nil, err
	}
	if len(labels) != n {
		return nil, fmt.Errorf("dataset: %w: %s holds %d images, %s holds %d labels",
			ErrCountMismatch, imagesPath, n, labelsPath, len(labels))
	}
	for i, l := range labels {
		if int(l) >= classes {
			return nil, fileError(labelsPath, ErrLabelRange, "label %d of example %d, want 0..%d", l, i, classes-1)
		}
	}
	return &Split{Pixels: pixels, Labels: labels, Rows: rows, Cols: cols}, nil
}

// Load reads the canonical four files from dir: train-images-idx3-ubyte, train-labels-idx1-ubyte,
// t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each with or without ".gz", labels checked against
// Classes. An error names every file that is missing.
func Load(dir string) (train, test *Split, err error) {
	names := []string{TrainImagesFile, TrainLabelsFile, TestImagesFile, TestLabelsFile}
	paths := make([]string, len(names))
	var missing []string
	for i, name := range names {
		p, err := findFile(dir, name)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			missing = append(missing, name+"[.gz]")
		case err != nil:
			return nil, nil, fmt.Errorf("dataset: %w", err)
		}
		paths[i] = p
	}
	if len(missing) > 0 {
		return nil, nil, fmt.Errorf("dataset: %s: missing %s (scripts/setup-data.sh fetches MNIST)",
			dir, strings.Join(missing, ", "))
	}
	if train, err = LoadSplit(paths[0], paths[1], Classes); err != nil {
		return nil, nil, err
	}
	if test, err = LoadSplit(paths[2], paths[3], Classes); err != nil {
		return nil, nil, err
	}
	if train.Rows != test.Rows || train.Cols != test.Cols {
		return nil, nil, fmt.Errorf("dataset: %s: train images are %d×%d, test images %d×%d",
			dir, train.Rows, train.Cols, test.Rows, test.Cols)
	}
	return train, test, nil
}

// findFile returns dir/name, or dir/name.gz when only that exists; either must be a regular file.
func findFile(dir, name string) (string, error) {
	var firstErr error
	for _, candidate := range []string{name, name + ".gz"} {
		p := filepath.Join(dir, candidate)
		info, err := os.Stat(p)
		if err == nil {
			// Opening a FIFO or a device would block or read forever: only regular files are data.
			if !info.Mode().IsRegular() {
				return "", fmt.Errorf("%s is not a regular file (%s)", p, info.Mode().Type())
			}
			return p, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return "", firstErr
}
