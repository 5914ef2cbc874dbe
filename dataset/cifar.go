package dataset

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// CIFAR's binary version (https://www.cs.toronto.edu/~kriz/cifar.html): records of one label byte
// (CIFAR-100: a coarse and a fine label byte) and a 32×32 colour image, 1024 red bytes, 1024 green, 1024 blue,
// each plane row-major. Examples are returned as [32 32 3], channels last, as keras.datasets returns them.
const (
	cifarSide   = 32
	cifarPixels = cifarSide * cifarSide * 3
)

// cifarLayout is one CIFAR variant's files and label byte.
type cifarLayout struct {
	train, test []string
	labelBytes  int // label bytes before each image
	labelAt     int // which of them is the label
	classes     int
	namesFile   string
}

func cifarLayoutOf(src Source) cifarLayout {
	if src.Kind == KindCIFAR10 {
		return cifarLayout{
			train:      []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"},
			test:       []string{"test_batch.bin"},
			labelBytes: 1, classes: 10, namesFile: "batches.meta.txt",
		}
	}
	l := cifarLayout{train: []string{"train.bin"}, test: []string{"test.bin"}, labelBytes: 2}
	if src.Label == "coarse" {
		l.classes, l.namesFile = 20, "coarse_label_names.txt"
	} else {
		l.labelAt, l.classes, l.namesFile = 1, 100, "fine_label_names.txt"
	}
	return l
}

// readCIFARSplit reads a CIFAR-10 or CIFAR-100 split from dir, with the class names when the meta file is
// there.
func readCIFARSplit(dir string, src Source, test bool, _ []string) (*Set, []string, error) {
	l := cifarLayoutOf(src)
	files := l.train
	if test {
		files = l.test
	}
	record := int64(l.labelBytes + cifarPixels)
	// Every file's size first, so the examples are allocated once.
	counts := make([]int, len(files))
	total := 0
	for i, name := range files {
		path := filepath.Join(dir, name)
		info, err := os.Stat(path)
		if err != nil {
			return nil, nil, fmt.Errorf("dataset: %w", err)
		}
		if size := info.Size(); info.Mode().IsRegular() && size%record != 0 {
			return nil, nil, fileError(path, ErrTruncated, "%d bytes is not a whole number of %d-byte records: record %d at offset %d is cut short",
				size, record, size/record, size/record*record)
		}
		counts[i] = int(info.Size() / record)
		total += counts[i]
	}
	if int64(total) > maxPayload/cifarPixels {
		return nil, nil, fmt.Errorf("dataset: %s: %w: %d records of %d bytes", dir, ErrTooLarge, total, record)
	}
	s := &Set{Shape: []int{cifarSide, cifarSide, 3}, Bytes: make([]byte, total*cifarPixels), Labels: make([]int32, total)}
	first := 0
	for i, name := range files {
		if err := readCIFARFile(filepath.Join(dir, name), l, s.Slice(first, first+counts[i])); err != nil {
			return nil, nil, err
		}
		first += counts[i]
	}
	names, err := readClassNames(dir, l.namesFile)
	if err != nil {
		return nil, nil, err
	}
	if names != nil && len(names) != l.classes {
		return nil, nil, fileError(filepath.Join(dir, l.namesFile), ErrCountMismatch, "%d class names, want %d", len(names), l.classes)
	}
	if names == nil {
		names = make([]string, l.classes)
		for i := range names {
			names[i] = fmt.Sprint(i)
		}
	}
	return s, names, nil
}

// readCIFARFile reads one batch file's records into s, which has room for exactly them, a record at a time.
func readCIFARFile(path string, l cifarLayout, s *Set) error {
	f, _, err := openRegular(path)
	if err != nil {
		return err
	}
	defer f.Close()
	record := l.labelBytes + cifarPixels
	r := bufio.NewReaderSize(f, chunkBytes)
	buf := make([]byte, record)
	for i := range s.Len() {
		if _, err := io.ReadFull(r, buf); err != nil {
			return fileError(path, ErrTruncated, "record %d at offset %d: %v", i, i*record, err)
		}
		label := int32(buf[l.labelAt])
		if int(label) >= l.classes {
			return fileError(path, ErrLabelRange, "record %d at offset %d: label %d, want 0..%d", i, i*record, label, l.classes-1)
		}
		s.Labels[i] = label
		planes := buf[l.labelBytes:]
		out := s.Bytes[i*cifarPixels:]
		for p := range cifarSide * cifarSide {
			out[3*p], out[3*p+1], out[3*p+2] = planes[p], planes[1024+p], planes[2048+p]
		}
	}
	return nil
}
