package dataset

import (
	"archive/zip"
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The .npy format (numpy.lib.format): the magic "\x93NUMPY", a major and a minor version byte, the header's
// length (2 bytes little-endian in version 1, 4 in versions 2 and 3), then the header, a Python dict literal
// with 'descr', 'fortran_order' and 'shape', padded with spaces and a newline; then the data.
const npyMagic = "\x93NUMPY"

// defaultArrays are keras.datasets' names: x_train, y_train, x_test, y_test.
var defaultArrays = []string{"x_train", "y_train", "x_test", "y_test"}

// readNPYHeader reads a .npy header from r and returns the array's element type and shape and the
// header's length in bytes.
func readNPYHeader(r io.Reader) (elem elemType, shape []int, headerLen int64, err error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return elem, nil, 0, headerReadError(err, "magic")
	}
	if string(pre[:6]) != npyMagic {
		return elem, nil, 0, fmt.Errorf("%w: not a .npy array (magic %q)", ErrFormat, pre[:6])
	}
	var size int64
	switch pre[6] {
	case 1:
		var b [2]byte
		_, err = io.ReadFull(r, b[:])
		size, headerLen = int64(binary.LittleEndian.Uint16(b[:])), 10
	case 2, 3:
		var b [4]byte
		_, err = io.ReadFull(r, b[:])
		size, headerLen = int64(binary.LittleEndian.Uint32(b[:])), 12
	default:
		return elem, nil, 0, fmt.Errorf("%w: .npy format version %d.%d", ErrUnsupported, pre[6], pre[7])
	}
	if err != nil {
		return elem, nil, 0, headerReadError(err, "header length")
	}
	if size > 1<<20 {
		return elem, nil, 0, fmt.Errorf("%w: a %d-byte .npy header", ErrFormat, size)
	}
	text := make([]byte, size)
	if _, err := io.ReadFull(r, text); err != nil {
		return elem, nil, 0, headerReadError(err, "header")
	}
	elem, shape, err = parseNPYDict(string(text))
	return elem, shape, headerLen + size, err
}

// parseNPYDict reads the header dict numpy writes: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }.
func parseNPYDict(text string) (elemType, []int, error) {
	var elem elemType
	descr, ok := dictValue(text, "descr")
	if !ok {
		return elem, nil, fmt.Errorf("%w: .npy header %q has no 'descr'", ErrFormat, text)
	}
	if !strings.HasPrefix(descr, "'") {
		return elem, nil, fmt.Errorf("%w: structured dtype %s", ErrUnsupported, descr)
	}
	elem, err := parseDescr(strings.Trim(descr, "'"))
	if err != nil {
		return elem, nil, err
	}
	switch fortran, _ := dictValue(text, "fortran_order"); fortran {
	case "False":
	case "True":
		return elem, nil, fmt.Errorf("%w: Fortran-order array; save it in C order (numpy.ascontiguousarray)", ErrUnsupported)
	default:
		return elem, nil, fmt.Errorf("%w: .npy header %q has no fortran_order", ErrFormat, text)
	}
	shapeText, ok := dictValue(text, "shape")
	if !ok || !strings.HasPrefix(shapeText, "(") {
		return elem, nil, fmt.Errorf("%w: .npy header %q has no shape", ErrFormat, text)
	}
	var shape []int
	for _, f := range strings.Split(strings.Trim(shapeText, "()"), ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		d, err := strconv.Atoi(strings.TrimSuffix(f, "L"))
		if err != nil || d < 0 {
			return elem, nil, fmt.Errorf("%w: .npy shape %s", ErrFormat, shapeText)
		}
		shape = append(shape, d)
	}
	return elem, shape, nil
}

// dictValue returns the text of key's value in a Python dict literal: a quoted string, a tuple, a list
// or a bare word.
func dictValue(text, key string) (string, bool) {
	_, rest, ok := strings.Cut(text, "'"+key+"':")
	if !ok {
		return "", false
	}
	rest = strings.TrimSpace(rest)
	if rest == "" {
		return "", false
	}
	closer := map[byte]byte{'\'': '\'', '(': ')', '[': ']'}[rest[0]]
	if closer == 0 {
		end := strings.IndexAny(rest, ",}")
		if end < 0 {
			return "", false
		}
		return strings.TrimSpace(rest[:end]), true
	}
	end := strings.IndexByte(rest[1:], closer)
	if end < 0 {
		return "", false
	}
	return rest[:end+2], true
}

// parseDescr reads a NumPy type string such as '<f4', '>i2' or '|u1'.
func parseDescr(d string) (elemType, error) {
	var t elemType
	if strings.Contains(d, "O") {
		return t, fmt.Errorf("%w: object array (pickled Python objects), dtype %q: save numbers", ErrUnsupported, d)
	}
	if len(d) < 3 {
		return t, fmt.Errorf("%w: dtype %q", ErrUnsupported, d)
	}
	switch d[0] {
	case '<', '|', '=':
		t.order = binary.LittleEndian
	case '>':
		t.order = binary.BigEndian
	default:
		return t, fmt.Errorf("%w: dtype %q", ErrUnsupported, d)
	}
	t.kind = d[1]
	size, err := strconv.Atoi(d[2:])
	t.size = size
	if err != nil || !validElem(t) {
		return t, fmt.Errorf("%w: dtype %q, want bool, (u)int8-64 or float32/64", ErrUnsupported, d)
	}
	return t, nil
}

func validElem(t elemType) bool {
	switch t.kind {
	case 'u', 'i':
		return slices.Contains([]int{1, 2, 4, 8}, t.size)
	case 'f':
		return t.size == 4 || t.size == 8
	case 'b':
		return t.size == 1
	}
	return false
}

// readNPY reads a .npy array from r, which holds exactly size bytes (the file's or the zip entry's):
// as class labels when asLabels, else as values.
func readNPY(r io.Reader, size int64, asLabels bool) (*array, error) {
	elem, shape, headerLen, err := readNPYHeader(r)
	if err != nil {
		return nil, err
	}
	if err := checkNPYSize(elem, shape, size-headerLen); err != nil {
		return nil, err
	}
	count, _ := checkedProduct(shape, maxPayload/int64(elem.size))
	a := &array{elem: elem, dims: shape}
	if err := a.readPayload(r, count, asLabels); err != nil {
		if errors.Is(err, ErrLabelRange) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrTruncated, err)
	}
	return a, nil
}

// checkNPYSize checks that an array of shape and elem fits in maxPayload and takes exactly have bytes.
func checkNPYSize(elem elemType, shape []int, have int64) error {
	count, ok := checkedProduct(shape, maxPayload/int64(elem.size))
	if !ok {
		return fmt.Errorf("%w: shape %v of %s", ErrTooLarge, shape, elem)
	}
	switch need := count * int64(elem.size); {
	case have < need:
		return fmt.Errorf("%w: shape %v of %s needs %d data bytes, the array holds %d", ErrTruncated, shape, elem, need, have)
	case have > need:
		return fmt.Errorf("%w: shape %v of %s needs %d data bytes, the array holds %d", ErrTrailing, shape, elem, need, have)
	}
	return nil
}

// readNPYFile reads the .npy file at path.
func readNPYFile(path string, asLabels bool) (*array, error) {
	f, size, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	a, err := readNPY(bufio.NewReaderSize(f, chunkBytes), size, asLabels)
	if err != nil {
		return nil, fileError(path, err, "")
	}
	return a, nil
}

// npzArchive is an open .npz (a zip of .npy files, stored or deflated).
type npzArchive struct {
	path string
	file *os.File
	zip  *zip.Reader
}

func openNPZ(path string) (*npzArchive, error) {
	f, size, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	z, err := zip.NewReader(f, size)
	if err != nil {
		f.Close()
		return nil, fileError(path, ErrFormat, "not a zip archive (.npz): %v", err)
	}
	return &npzArchive{path: path, file: f, zip: z}, nil
}

func (n *npzArchive) Close() error { return n.file.Close() }

// read reads the array name (stored as name.npy), checking the entry's CRC once its end is reached.
func (n *npzArchive) read(name string, asLabels bool) (*array, error) {
	f, rc, where, err := n.open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	a, err := readNPY(bufio.NewReaderSize(rc, chunkBytes), int64(f.UncompressedSize64), asLabels)
	if err != nil {
		return nil, fileError(where, err, "")
	}
	// zip checks the CRC when the entry's end is read.
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return nil, fileError(where, ErrChecksum, "%v", err)
	}
	return a, nil
}

// readShape reads only the header of the array name: its element type and shape, checked against the
// entry's size, and no values. Its CRC, which covers the values, is left to a read of the whole array.
func (n *npzArchive) readShape(name string) (*array, error) {
	f, rc, where, err := n.open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	elem, shape, headerLen, err := readNPYHeader(bufio.NewReaderSize(rc, npyHeaderBuffer))
	if err == nil {
		err = checkNPYSize(elem, shape, int64(f.UncompressedSize64)-headerLen)
	}
	if err != nil {
		return nil, fileError(where, err, "")
	}
	return &array{elem: elem, dims: shape}, nil
}

// npyHeaderBuffer is what readShape reads at a time: numpy's headers are a multiple of 64 bytes, most 128.
const npyHeaderBuffer = 4096

// open opens the array name (stored as name.npy) for reading; where names it in errors.
func (n *npzArchive) open(name string) (f *zip.File, rc io.ReadCloser, where string, err error) {
	f, where, err = n.find(name)
	if err != nil {
		return nil, nil, "", err
	}
	if rc, err = f.Open(); err != nil {
		return nil, nil, "", fileError(where, ErrFormat, "%v", err)
	}
	return f, rc, where, nil
}

// find looks up the array name (stored as name.npy) and names it for errors.
func (n *npzArchive) find(name string) (*zip.File, string, error) {
	for _, f := range n.zip.File {
		if f.Name != name+".npy" {
			continue
		}
		where := fmt.Sprintf("%s[%s]", n.path, f.Name)
		if f.UncompressedSize64 > maxPayload {
			return nil, "", fileError(where, ErrTooLarge, "%d bytes", f.UncompressedSize64)
		}
		return f, where, nil
	}
	var names []string
	for _, f := range n.zip.File {
		names = append(names, strings.TrimSuffix(f.Name, ".npy"))
	}
	return nil, "", fileError(n.path, ErrMissing, "no array %q (it holds %s)", name, strings.Join(names, ", "))
}

// arrayNames is the source's four array names, keras.datasets' unless arrays= gave others.
func arrayNames(src Source) []string {
	if src.Arrays != nil {
		return src.Arrays
	}
	return defaultArrays
}

// readNPZSplit reads one split from an .npz: the training arrays, or the test arrays.
func readNPZSplit(path string, src Source, test bool) (*Set, error) {
	z, err := openNPZ(path)
	if err != nil {
		return nil, err
	}
	defer z.Close()
	names := arrayNames(src)
	if test {
		names = names[2:]
	}
	x, err := z.read(names[0], false)
	if err != nil {
		return nil, err
	}
	y, err := z.read(names[1], true)
	if err != nil {
		return nil, err
	}
	return pairSet(x, y, fmt.Sprintf("%s[%s]", path, names[0]), fmt.Sprintf("%s[%s]", path, names[1]))
}

// readNPYSplit reads one split from a directory of .npy files named as the arrays.
func readNPYSplit(dir string, src Source, test bool) (*Set, error) {
	names := arrayNames(src)
	if test {
		names = names[2:]
	}
	xPath, yPath := filepath.Join(dir, names[0]+".npy"), filepath.Join(dir, names[1]+".npy")
	x, err := readNPYFile(xPath, false)
	if err != nil {
		return nil, err
	}
	y, err := readNPYFile(yPath, true)
	if err != nil {
		return nil, err
	}
	return pairSet(x, y, xPath, yPath)
}

// pairSet joins an array of examples and an array of labels, checking that they agree: labels of shape
// [n] or [n 1] for n examples.
func pairSet(x, y *array, xName, yName string) (*Set, error) {
	if len(x.dims) < 1 {
		return nil, fileError(xName, ErrDimensions, "a scalar, want one example per row")
	}
	if len(y.dims) != 1 && !(len(y.dims) == 2 && y.dims[1] == 1) {
		return nil, fileError(yName, ErrDimensions, "labels of shape %v, want [n] or [n 1]", y.dims)
	}
	if x.dims[0] != y.dims[0] {
		return nil, fmt.Errorf("dataset: %w: %s holds %d examples, %s holds %d labels", ErrCountMismatch, xName, x.dims[0], yName, y.dims[0])
	}
	shape := x.dims[1:]
	if len(shape) == 0 {
		shape = []int{1}
	}
	return &Set{Shape: shape, Bytes: x.bytes, Floats: x.floats, Labels: y.labels}, nil
}

// writeNPZ writes s as an .npz holding x (the examples, [n shape…], uint8 or float32) and y (int32 labels),
// both stored uncompressed, with comment as the archive's comment, and the class names as names.json when
// there are any (numpy's np.load lists it beside the arrays). floatsAsBytes says that s's bytes are float32
// values that were whole numbers from 0 to 255; an empty npzFloatsAsBytesFile records it.
func writeNPZ(w io.Writer, s *Set, names []string, comment string, floatsAsBytes bool) error {
	z := zip.NewWriter(w)
	if err := z.SetComment(comment); err != nil {
		return err
	}
	if floatsAsBytes {
		if _, err := z.CreateHeader(&zip.FileHeader{Name: npzFloatsAsBytesFile, Method: zip.Store}); err != nil {
			return err
		}
	}
	x, err := z.CreateHeader(&zip.FileHeader{Name: "x.npy", Method: zip.Store})
	if err != nil {
		return err
	}
	shape := append([]int{s.Len()}, s.Shape...)
	if s.Bytes != nil {
		err = writeNPY(x, "|u1", shape, func(w io.Writer) error { _, err := w.Write(s.Bytes); return err })
	} else {
		err = writeNPY(x, "<f4", shape, func(w io.Writer) error {
			return writeFloat32s(w, s.Floats)
		})
	}
	if err != nil {
		return err
	}
	y, err := z.CreateHeader(&zip.FileHeader{Name: "y.npy", Method: zip.Store})
	if err != nil {
		return err
	}
	if err := writeNPY(y, "<i4", []int{s.Len()}, func(w io.Writer) error {
		return writeInt32s(w, s.Labels)
	}); err != nil {
		return err
	}
	if names != nil {
		n, err := z.CreateHeader(&zip.FileHeader{Name: npzNamesFile, Method: zip.Store})
		if err != nil {
			return err
		}
		if err := json.NewEncoder(n).Encode(names); err != nil {
			return err
		}
	}
	return z.Close()
}

// npzNamesFile holds the class names in an .npz the decoded cache writes; npzFloatsAsBytesFile marks one
// whose x holds float32 values as bytes.
const (
	npzNamesFile         = "names.json"
	npzFloatsAsBytesFile = "floats-as-bytes"
)

// has reports whether the archive holds a file of that name.
func (n *npzArchive) has(name string) bool {
	for _, f := range n.zip.File {
		if f.Name == name {
			return true
		}
	}
	return false
}

// readNames reads the class names writeNPZ stored, or nil when it stored none.
func (n *npzArchive) readNames() ([]string, error) {
	for _, f := range n.zip.File {
		if f.Name != npzNamesFile {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fileError(n.path, ErrFormat, "%s: %v", f.Name, err)
		}
		defer rc.Close()
		var names []string
		if err := json.NewDecoder(io.LimitReader(rc, maxPayload)).Decode(&names); err != nil {
			return nil, fileError(n.path, ErrFormat, "%s: %v", f.Name, err)
		}
		return names, nil
	}
	return nil, nil
}

// writeNPY writes a version 1.0 .npy header for a C-order array, padded as numpy pads it, then the data.
func writeNPY(w io.Writer, descr string, shape []int, data func(io.Writer) error) error {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = strconv.Itoa(d)
	}
	tuple := strings.Join(dims, ", ")
	if len(shape) == 1 {
		tuple += ","
	}
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, tuple)
	pad := 64 - (10+len(dict)+1)%64
	dict += strings.Repeat(" ", pad%64) + "\n"
	head := binary.LittleEndian.AppendUint16([]byte(npyMagic+"\x01\x00"), uint16(len(dict)))
	if _, err := w.Write(append(head, dict...)); err != nil {
		return err
	}
	return data(w)
}

// writeFloat32s writes vs little-endian, a chunk at a time, in a loop of its own: a function called per
// element cost as much as the writing.
func writeFloat32s(w io.Writer, vs []float32) error {
	buf := make([]byte, chunkBytes)
	for len(vs) > 0 {
		n := min(len(vs), len(buf)/4)
		for i, v := range vs[:n] {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		if _, err := w.Write(buf[:4*n]); err != nil {
			return err
		}
		vs = vs[n:]
	}
	return nil
}

// writeInt32s writes vs little-endian, a chunk at a time.
func writeInt32s(w io.Writer, vs []int32) error {
	buf := make([]byte, chunkBytes)
	for len(vs) > 0 {
		n := min(len(vs), len(buf)/4)
		for i, v := range vs[:n] {
			binary.LittleEndian.PutUint32(buf[4*i:], uint32(v))
		}
		if _, err := w.Write(buf[:4*n]); err != nil {
			return err
		}
		vs = vs[n:]
	}
	return nil
}
