package dataset

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Faults of a data source's spec or of files in the formats beside IDX. Like the IDX faults, every error
// wraps one and names the file and the record, row or offset.
var (
	ErrSpec         = errors.New("bad data source")
	ErrShape        = errors.New("examples of different shapes")
	ErrFormat       = errors.New("malformed file")
	ErrUnsupported  = errors.New("unsupported layout")
	ErrChecksum     = errors.New("checksum mismatch")
	ErrDecode       = errors.New("undecodable image")
	ErrFields       = errors.New("wrong number of fields")
	ErrNotNumber    = errors.New("not a number")
	ErrMissing      = errors.New("missing")
	ErrNotRegular   = errors.New("not a regular file")
	ErrUnknownLabel = errors.New("label not in the training split")
	ErrChanged      = errors.New("changed since it was first read")
)

// Kind is a data source's format.
type Kind string

// The formats a Source reads.
const (
	KindIDX      Kind = "idx"      // DIR with train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-… (gzipped or not)
	KindNPZ      Kind = "npz"      // FILE.npz with x_train, y_train, x_test, y_test (keras.datasets' layout)
	KindNPY      Kind = "npy"      // DIR with x_train.npy, y_train.npy, x_test.npy, y_test.npy
	KindCIFAR10  Kind = "cifar10"  // DIR with data_batch_1.bin … data_batch_5.bin, test_batch.bin
	KindCIFAR100 Kind = "cifar100" // DIR with train.bin, test.bin
	KindImages   Kind = "images"   // DIR/class_name/*.png|jpg
	KindCSV      Kind = "csv"      // FILE with a header row
	KindTFRecord Kind = "tfrecord" // GLOB of TFRecord files of tf.train.Example
)

var kinds = []Kind{KindIDX, KindNPZ, KindNPY, KindCIFAR10, KindCIFAR100, KindImages, KindCSV, KindTFRecord}

// Color is the channels images are decoded to.
type Color string

// Colors an image source decodes to; RGB is Keras's default.
const (
	ColorRGB       Color = "rgb"
	ColorGrayscale Color = "grayscale"
)

// Source is a parsed data-source spec, KIND:PATH[:key=value…]. The zero values of the options are their
// defaults.
type Source struct {
	Kind Kind
	Path string // a directory, a file or (tfrecord) a glob

	Test    string  // test=PATH: the test split from a second source of the same kind
	Holdout float64 // holdout=FRACTION: the last fraction of the training split is the test split
	Classes int     // classes=N: the class count (else the format's, the names', or the largest label + 1)

	Label  string   // csv: label=COLUMN (else the last); tfrecord: label=FEATURE; cifar100: label=coarse|fine
	Image  string   // tfrecord: image=FEATURE
	Size   [2]int   // images, tfrecord: size=HxW to resize to (else every image must have one size)
	Color  Color    // images, tfrecord: color=grayscale|rgb
	Arrays []string // npz, npy: arrays=XTRAIN,YTRAIN,XTEST,YTEST (else x_train,y_train,x_test,y_test)
}

// optionKinds says which kinds take each option; nil means every kind.
var optionKinds = map[string][]Kind{
	"test": nil, "holdout": nil, "classes": nil,
	"label":  {KindCSV, KindTFRecord, KindCIFAR100},
	"image":  {KindTFRecord},
	"size":   {KindImages, KindTFRecord},
	"color":  {KindImages, KindTFRecord},
	"arrays": {KindNPZ, KindNPY},
}

// ParseSource parses KIND:PATH[:key=value…]. PATH may itself hold colons: the options start at the first
// part that is a known key=value. Errors name the part of the spec at fault.
func ParseSource(spec string) (Source, error) {
	kind, rest, ok := strings.Cut(spec, ":")
	if !ok || rest == "" {
		return Source{}, fmt.Errorf("%w %q: want KIND:PATH[:key=value…], KIND one of %s", ErrSpec, spec, kindList())
	}
	s := Source{Kind: Kind(strings.ToLower(kind))}
	if !slices.Contains(kinds, s.Kind) {
		return Source{}, fmt.Errorf("%w %q: unknown kind %q, want one of %s", ErrSpec, spec, kind, kindList())
	}
	parts := strings.Split(rest, ":")
	first := len(parts)
	for i, p := range parts {
		if key, _, ok := strings.Cut(p, "="); ok && i > 0 && optionKnown(key) {
			first = i
			break
		}
	}
	s.Path = strings.Join(parts[:first], ":")
	if s.Path == "" {
		return Source{}, fmt.Errorf("%w %q: no path after %q", ErrSpec, spec, kind+":")
	}
	seen := map[string]bool{}
	for _, p := range parts[first:] {
		key, value, _ := strings.Cut(p, "=")
		if seen[key] {
			return Source{}, fmt.Errorf("%w %q: %s given twice", ErrSpec, spec, key)
		}
		seen[key] = true
		if err := s.setOption(key, value); err != nil {
			return Source{}, fmt.Errorf("%w %q: %s: %v", ErrSpec, spec, p, err)
		}
	}
	if err := s.checkRequired(); err != nil {
		return Source{}, fmt.Errorf("%w %q: %v", ErrSpec, spec, err)
	}
	return s, nil
}

func optionKnown(key string) bool {
	_, ok := optionKinds[key]
	return ok
}

func kindList() string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

func (s *Source) setOption(key, value string) error {
	if !optionKnown(key) {
		return fmt.Errorf("unknown option %q", key)
	}
	if k := optionKinds[key]; k != nil && !slices.Contains(k, s.Kind) {
		return fmt.Errorf("%s takes no %s option", s.Kind, key)
	}
	if value == "" {
		return errors.New("empty value")
	}
	var err error
	switch key {
	case "test":
		s.Test = value
	case "holdout":
		s.Holdout, err = strconv.ParseFloat(value, 64)
		if err == nil && !(s.Holdout > 0 && s.Holdout < 1) {
			err = errors.New("want a fraction between 0 and 1")
		}
	case "classes":
		s.Classes, err = strconv.Atoi(value)
		if err == nil && s.Classes < 1 {
			err = errors.New("want at least 1 class")
		}
	case "label":
		s.Label = value
		if s.Kind == KindCIFAR100 && value != "coarse" && value != "fine" {
			err = errors.New("want coarse or fine")
		}
	case "image":
		s.Image = value
	case "size":
		s.Size, err = parseSize(value)
	case "color":
		s.Color = Color(value)
		if s.Color != ColorRGB && s.Color != ColorGrayscale {
			err = errors.New("want grayscale or rgb")
		}
	case "arrays":
		s.Arrays = strings.Split(value, ",")
		if len(s.Arrays) != 4 || slices.Contains(s.Arrays, "") {
			err = errors.New("want four names, XTRAIN,YTRAIN,XTEST,YTEST")
		}
	}
	return err
}

func parseSize(value string) ([2]int, error) {
	h, w, ok := strings.Cut(value, "x")
	rows, err1 := strconv.Atoi(h)
	cols, err2 := strconv.Atoi(w)
	if !ok || err1 != nil || err2 != nil || rows < 1 || cols < 1 || rows > 1<<14 || cols > 1<<14 {
		return [2]int{}, errors.New("want HxW, two whole numbers from 1 to 16384")
	}
	return [2]int{rows, cols}, nil
}

func (s *Source) checkRequired() error {
	if s.Test != "" && s.Holdout != 0 {
		return errors.New("test= and holdout= both given: choose one")
	}
	if s.Kind == KindTFRecord && (s.Image == "" || s.Label == "") {
		return errors.New("tfrecord needs image=FEATURE and label=FEATURE")
	}
	return nil
}

// String is the spec ParseSource reads back to s.
func (s Source) String() string {
	parts := []string{string(s.Kind), s.Path}
	add := func(key, value string) {
		if value != "" {
			parts = append(parts, key+"="+value)
		}
	}
	add("test", s.Test)
	if s.Holdout != 0 {
		add("holdout", strconv.FormatFloat(s.Holdout, 'g', -1, 64))
	}
	if s.Classes != 0 {
		add("classes", strconv.Itoa(s.Classes))
	}
	add("label", s.Label)
	add("image", s.Image)
	if s.Size != [2]int{} {
		add("size", fmt.Sprintf("%dx%d", s.Size[0], s.Size[1]))
	}
	add("color", string(s.Color))
	add("arrays", strings.Join(s.Arrays, ","))
	return strings.Join(parts, ":")
}
