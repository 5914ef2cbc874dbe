package dataset

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestLoadSplit(t *testing.T) {
	dir := t.TempDir()
	file, pixels := images(4, 2, 3)
	imagesPath := writeFile(t, dir, "images", file)
	labelsPath := writeFile(t, dir, "labels.gz", gz(t, labels(0, 9, 3, 7)))

	s, err := LoadSplit(imagesPath, labelsPath, 10)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 4 || s.Rows != 2 || s.Cols != 3 || s.Features() != 6 {
		t.Errorf("Len, Rows, Cols, Features = %d, %d, %d, %d, want 4, 2, 3, 6", s.Len(), s.Rows, s.Cols, s.Features())
	}
	if !bytes.Equal(s.Pixels, pixels) || !bytes.Equal(s.Labels, []byte{0, 9, 3, 7}) {
		t.Errorf("split holds other pixels or labels than the files")
	}
}

func TestLoadSplitFaults(t *testing.T) {
	dir := t.TempDir()
	file, _ := images(4, 2, 3)
	imagesPath := writeFile(t, dir, "images", file)
	tests := []struct {
		name    string
		labels  []byte
		classes int
		fault   error
		detail  string
	}{
		{"more labels than images", labels(0, 1, 2, 3, 4), 10, ErrCountMismatch, "holds 4 images"},
		{"fewer labels than images", labels(0, 1, 2), 10, ErrCountMismatch, "holds 3 labels"},
		{"label out of range", labels(0, 1, 10, 3), 10, ErrLabelRange, "label 10 of example 2, want 0..9"},
		{"label out of a smaller range", labels(0, 1, 2, 3), 3, ErrLabelRange, "label 3 of example 3, want 0..2"},
		{"label 255", labels(255, 0, 0, 0), 10, ErrLabelRange, "label 255 of example 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			labelsPath := writeFile(t, dir, "labels", tc.labels)
			_, err := LoadSplit(imagesPath, labelsPath, tc.classes)
			checkFault(t, err, tc.fault, labelsPath, tc.detail)
			if errors.Is(tc.fault, ErrCountMismatch) && !strings.Contains(err.Error(), imagesPath) {
				t.Errorf("error %q does not name the images file %s", err, imagesPath)
			}
		})
	}
}

func TestLoadSplitPassesFileFaults(t *testing.T) {
	dir := t.TempDir()
	file, _ := images(2, 2, 2)
	good := writeFile(t, dir, "images", file)
	badLabels := writeFile(t, dir, "labels", labels(1, 2)[:6])
	_, err := LoadSplit(good, badLabels, 10)
	checkFault(t, err, ErrTruncated, badLabels, "")
	badImages := writeFile(t, dir, "images-bad", file[:9])
	goodLabels := writeFile(t, dir, "labels-good", labels(1, 2))
	_, err = LoadSplit(badImages, goodLabels, 10)
	checkFault(t, err, ErrTruncated, badImages, "")
}

// writeSet writes the four canonical files into dir, gzipping those named in gzipped.
func writeSet(t *testing.T, dir string, gzipped map[string]bool) {
	t.Helper()
	trainImages, _ := images(6, 4, 5)
	testImages, _ := images(3, 4, 5)
	files := map[string][]byte{
		TrainImagesFile: trainImages,
		TrainLabelsFile: labels(0, 1, 2, 3, 4, 9),
		TestImagesFile:  testImages,
		TestLabelsFile:  labels(5, 6, 7),
	}
	for name, b := range files {
		if gzipped[name] {
			writeFile(t, dir, name+".gz", gz(t, b))
		} else {
			writeFile(t, dir, name, b)
		}
	}
}

func TestLoad(t *testing.T) {
	for _, tc := range []struct {
		name    string
		gzipped map[string]bool
	}{
		{"raw", nil},
		{"gzip", map[string]bool{TrainImagesFile: true, TrainLabelsFile: true, TestImagesFile: true, TestLabelsFile: true}},
		{"mixed", map[string]bool{TrainImagesFile: true, TestLabelsFile: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeSet(t, dir, tc.gzipped)
			train, test, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if train.Len() != 6 || test.Len() != 3 || train.Rows != 4 || train.Cols != 5 {
				t.Errorf("train %d, test %d examples of %d×%d, want 6, 3 of 4×5", train.Len(), test.Len(), train.Rows, train.Cols)
			}
			if !bytes.Equal(test.Labels, []byte{5, 6, 7}) {
				t.Errorf("test labels %v, want [5 6 7]", test.Labels)
			}
		})
	}
}

func TestLoadNamesMissingFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, TrainImagesFile+".gz", gz(t, labels(1)))
	writeFile(t, dir, TestLabelsFile, labels(1))
	_, _, err := Load(dir)
	if err == nil {
		t.Fatal("no error for a directory missing two files")
	}
	for _, want := range []string{dir, TrainLabelsFile, TestImagesFile, "setup-data.sh"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	for _, present := range []string{TrainImagesFile, TestLabelsFile} {
		if strings.Contains(err.Error(), present) {
			t.Errorf("error %q names %s, which is there", err, present)
		}
	}
}

func TestLoadChecksLabelsAgainstClasses(t *testing.T) {
	dir := t.TempDir()
	writeSet(t, dir, nil)
	writeFile(t, dir, TestLabelsFile, labels(5, 10, 7))
	_, _, err := Load(dir)
	checkFault(t, err, ErrLabelRange, filepath.Join(dir, TestLabelsFile), "label 10 of example 1")
}

func TestHead(t *testing.T) {
	file, _ := images(5, 2, 2)
	dir := t.TempDir()
	s, err := LoadSplit(writeFile(t, dir, "i", file), writeFile(t, dir, "l", labels(0, 1, 2, 3, 4)), 10)
	if err != nil {
		t.Fatal(err)
	}
	h := s.Head(3)
	if h.Len() != 3 || len(h.Pixels) != 12 || h.Rows != 2 || h.Cols != 2 {
		t.Fatalf("Head(3): %d examples, %d pixels, %d×%d; want 3, 12, 2×2", h.Len(), len(h.Pixels), h.Rows, h.Cols)
	}
	if &h.Pixels[0] != &s.Pixels[0] || &h.Labels[0] != &s.Labels[0] {
		t.Errorf("Head copied; it should share memory")
	}
	// Appending to the head must not overwrite the fourth example of the whole split.
	_ = append(h.Labels, 99)
	if s.Labels[3] != 3 {
		t.Errorf("append to Head's labels overwrote the split: label 3 is now %d", s.Labels[3])
	}
	if s.Head(0).Len() != 0 || s.Head(5).Len() != 5 {
		t.Errorf("Head(0) or Head(Len()) has the wrong length")
	}
	defer func() {
		if recover() == nil {
			t.Errorf("Head(6) of 5 examples did not panic")
		}
	}()
	s.Head(6)
}

// A FIFO in place of a data file used to block Load forever in open(2).
func TestLoadRefusesFIFO(t *testing.T) {
	dir := t.TempDir()
	writeSet(t, dir, nil)
	fifo := filepath.Join(dir, TestImagesFile)
	if err := os.Remove(fifo); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, _, err := Load(dir); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), fifo) || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("Load with a FIFO: %v, want an error naming %s as not a regular file", err, fifo)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Load blocked on a FIFO")
	}
}
