package dataset

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/tfsweep/tfsweep/spec"
)

// Options are what Open needs beside the source.
type Options struct {
	// CacheDir is where image folders, IDX, CSV and TFRecord sources keep their decoded form (never inside
	// the data folder), its 16 most recently used entries of at most 4 GiB in all; empty means decode every
	// time.
	CacheDir string
	// Budget is the most bytes the data may take as float32 (Data.Float32Bytes); 0 means no limit.
	Budget int64
	// Snapshot is the entries of CacheDir an Open of the same source read the splits from (its
	// Data.Snapshot): a split is read from its entry, unchecked against its files, while the entry holds
	// the fingerprint given; a split whose entry is gone is read again and must be what it was.
	Snapshot spec.DataSnapshot
}

// format reads one kind of source: a split from a path, and whether the format has its own test split
// beside its training split. classes are the training split's class names when reading a test split; a
// format whose reader does not need them (independent) has its test split read beside its training split.
// files, when set, lists the files a split is read from, so that its decoded form can be cached
// (filecache.go). classes, when set, tells a training split's class names before it is read, so that a
// format that is not independent has its test split read beside its training split all the same.
type format struct {
	read        readFunc
	files       func(path string, test bool) ([]string, error)
	classes     func(path string) ([]string, error)
	ownTest     bool
	independent bool
}

type readFunc func(path string, src Source, test bool, classes []string) (*Set, []string, error)

var formats = map[Kind]format{
	KindIDX:      {read: noNames(readIDXSplit), files: idxFiles, ownTest: true, independent: true},
	KindNPZ:      {read: noNames(readNPZSplit), ownTest: true, independent: true},
	KindNPY:      {read: noNames(readNPYSplit), ownTest: true, independent: true},
	KindCIFAR10:  {read: readCIFARSplit, ownTest: true},
	KindCIFAR100: {read: readCIFARSplit, ownTest: true},
	KindTFRecord: {read: noNames(readTFRecordSplit), files: tfrecordFiles, independent: true},
}

func noNames(read func(string, Source, bool) (*Set, error)) readFunc {
	return func(path string, src Source, test bool, _ []string) (*Set, []string, error) {
		s, err := read(path, src, test)
		return s, nil, err
	}
}

// Open reads the source's training and test splits, checks them against each other (one shape, every
// label a class) and against the budget: first what the files declare (Estimate), then what was read.
// The test split is test=PATH's, the last holdout=FRACTION of the training split, or the format's own.
func Open(src Source, opts Options) (*Data, error) {
	return open(src, opts, false)
}

// open is Open, or with describe the Data Describe describes: a split served from its decoded-cache
// entry is read without its examples' values.
func open(src Source, opts Options, describe bool) (*Data, error) {
	var cache *decodedCache
	if opts.CacheDir != "" {
		cache = &decodedCache{dir: opts.CacheDir, given: opts.Snapshot, describe: describe}
	}
	var f format
	switch src.Kind {
	case KindImages:
		f = format{read: imageReader(cache), classes: classFolders}
	case KindCSV:
		f = format{read: readCSVSplit, files: func(path string, _ bool) ([]string, error) { return []string{path}, nil }}
	default:
		var ok bool
		if f, ok = formats[src.Kind]; !ok {
			return nil, fmt.Errorf("%w: unknown kind %q", ErrSpec, src.Kind)
		}
	}
	// Open checks what the files declare before it reads a byte. Describe, which holds nothing of a split
	// its entry serves, checks it before it decodes a split from its files (decodedCache.decode).
	if describe && cache != nil && (src.Kind == KindImages || f.files != nil) {
		cache.estimate = sync.OnceValue(func() error { return CheckEstimate(src, opts.Budget) })
	} else if err := CheckEstimate(src, opts.Budget); err != nil {
		return nil, err
	}
	if cache != nil && f.files != nil {
		f.read = cachedReader(cache, f.files, f.read)
	}
	d, err := f.readSplits(src)
	if err != nil {
		return nil, err
	}
	if cache != nil {
		d.Snapshot = cache.used
	}
	if err := d.finish(src.Classes); err != nil {
		return nil, fmt.Errorf("dataset: %s: %w", src, err)
	}
	if opts.Budget > 0 {
		if err := d.CheckBudget(opts.Budget); err != nil {
			return nil, fmt.Errorf("dataset: %s: %w", src, err)
		}
	}
	return d, nil
}

// readSplits reads the training split and the test split: test=PATH's, the last holdout=FRACTION of the
// training split, or the format's own. A fault of the training split is reported before one of the test's.
func (f format) readSplits(src Source) (*Data, error) {
	testPath := src.Test
	switch {
	case src.Holdout > 0:
		testPath = ""
	case testPath == "" && f.ownTest:
		testPath = src.Path
	case testPath == "":
		return nil, fmt.Errorf("%w %q: %s has no test split of its own: give test=PATH or holdout=FRACTION", ErrSpec, src, src.Kind)
	}
	// The test split is read beside the training split when its reader needs nothing of the training
	// split's, or only the class names its folders tell.
	var test *Set
	var testErr error
	var testClasses []string
	beside := testPath != "" && f.independent
	if testPath != "" && f.classes != nil {
		if names, err := f.classes(src.Path); err == nil {
			testClasses, beside = names, true
		}
	}
	testRead := make(chan struct{})
	if beside {
		go func() {
			defer close(testRead)
			test, _, testErr = f.read(testPath, src, true, testClasses)
		}()
	} else {
		close(testRead)
	}
	train, names, err := f.read(src.Path, src, false, nil)
	<-testRead
	if err != nil {
		return nil, err
	}
	d := &Data{Train: train, ClassNames: names}
	switch {
	case src.Holdout > 0:
		d.Train, d.Test, err = holdout(train, src.Holdout)
	case beside && (f.independent || slices.Equal(names, testClasses)):
		d.Test, err = test, testErr
	default: // the training split's classes are not those its folders told before it was read
		d.Test, _, err = f.read(testPath, src, true, names)
	}
	if err != nil {
		return nil, err
	}
	return d, nil
}

// idxNames are the patterns of an IDX set's files, the canonical MNIST names first: EMNIST and others
// prefix them (emnist-letters-train-images-idx3-ubyte).
var idxNames = [2][2][]string{
	{{TrainImagesFile, "*train-images-idx*"}, {TrainLabelsFile, "*train-labels-idx*"}},
	{{TestImagesFile, "*t10k-images-idx*", "*test-images-idx*"}, {TestLabelsFile, "*t10k-labels-idx*", "*test-labels-idx*"}},
}

// readIDXSplit reads the images and labels of one split from an IDX directory: images of any rank and
// element type, labels of any integer type.
func readIDXSplit(dir string, _ Source, test bool) (*Set, error) {
	paths, err := idxFiles(dir, test)
	if err != nil {
		return nil, err
	}
	anyRank := func(h idxHeader) error { return nil }
	x, err := readIDX(paths[0], anyRank, false)
	if err != nil {
		return nil, err
	}
	y, err := readIDX(paths[1], anyRank, true)
	if err != nil {
		return nil, err
	}
	return pairSet(x, y, paths[0], paths[1])
}

// idxFiles are the images and labels files of one split of an IDX directory.
func idxFiles(dir string, test bool) ([]string, error) {
	part := idxNames[0]
	if test {
		part = idxNames[1]
	}
	paths := make([]string, len(part))
	for i, patterns := range part {
		p, err := findIDX(dir, patterns)
		if err != nil {
			return nil, err
		}
		paths[i] = p
	}
	return paths, nil
}

// findIDX returns the one file in dir that the first matching pattern names, gzipped or not.
func findIDX(dir string, patterns []string) (string, error) {
	if p, err := findFile(dir, patterns[0]); err == nil || !errors.Is(err, fs.ErrNotExist) {
		if err != nil {
			return "", fmt.Errorf("dataset: %w", err)
		}
		return p, nil
	}
	for _, pattern := range patterns[1:] {
		matches, _ := filepath.Glob(filepath.Join(dir, pattern))
		switch len(matches) {
		case 0:
			continue
		case 1:
			if _, err := findFile(dir, filepath.Base(matches[0])); err != nil {
				return "", fmt.Errorf("dataset: %w", err)
			}
			return matches[0], nil
		default:
			return "", fmt.Errorf("dataset: %s: %w: %d files match %s: %s", dir, ErrSpec, len(matches), pattern, strings.Join(matches, ", "))
		}
	}
	return "", fmt.Errorf("dataset: %s: %w %s[.gz] (scripts/setup-data.sh fetches MNIST)", dir, ErrMissing, patterns[0])
}

// readClassNames reads one class name per line from dir/name, or returns nil when there is no such file.
func readClassNames(dir, name string) ([]string, error) {
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	f, size, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if size > 1<<20 {
		return nil, fileError(path, ErrTooLarge, "%d bytes of class names", size)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fileError(path, ErrTruncated, "%v", err)
	}
	var names []string
	for line := range strings.Lines(string(b)) {
		if line = strings.TrimSpace(line); line != "" {
			names = append(names, line)
		}
	}
	return slices.Clip(names), nil
}
