package dataset

import (
	"bufio"
	"encoding/csv"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
)

// readCSVSplit reads a CSV table with a header row: every column but the label column is a numeric
// feature; the label column is the one label= names, else the last. Labels that are all whole numbers
// ≥ 0 in the training split are class indices; otherwise the training split's distinct labels, sorted,
// are the classes, and a test label outside them is an error.
func readCSVSplit(path string, src Source, test bool, classes []string) (*Set, []string, error) {
	f, _, err := openRegular(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReaderSize(f, chunkBytes))
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, fileError(path, ErrMissing, "no header row")
		}
		return nil, nil, csvError(path, err, 0)
	}
	header = slices.Clone(header)
	labelCol := len(header) - 1
	if src.Label != "" {
		if labelCol = slices.Index(header, src.Label); labelCol < 0 {
			return nil, nil, fileError(path, ErrMissing, "line 1: no column %q in the header %q", src.Label, header)
		}
	}
	if len(header) < 2 {
		return nil, nil, fileError(path, ErrFields, "line 1: %d column, want features and a label", len(header))
	}
	t := csvTable{path: path, header: header, labelCol: labelCol}
	s := &Set{Shape: []int{len(header) - 1}, Floats: []float32{}}
	var labels []string
	var b csvBatch
	for done := false; !done; {
		rows, lines, err := b.read(r, len(header))
		if err != nil {
			return nil, nil, csvError(path, err, len(header))
		}
		done = len(rows) < csvBatchRows
		first := len(s.Floats)
		s.Floats = append(s.Floats, make([]float32, len(rows)*(len(header)-1))...)
		if err := t.parse(rows, lines, s.Floats[first:]); err != nil {
			return nil, nil, err
		}
		for _, row := range rows {
			labels = append(labels, strings.Clone(strings.TrimSpace(row[labelCol]))) // not a view that keeps the whole row alive
		}
	}
	names, err := labelIndices(path, labels, test, classes, s)
	return s, names, err
}

// csvBatchRows is how many rows are parsed side by side at a time.
const csvBatchRows = 512

// csvBatch holds up to csvBatchRows rows read but not yet parsed. The csv reader reuses its record slice;
// the fields, views of a string it allocates per row, stay valid and are copied into one arena.
type csvBatch struct {
	arena []string
	rows  [][]string
	lines []int
}

// read reads up to csvBatchRows rows of width fields and the lines they start on; fewer only at the end
// of the file. What it returns is valid until the next call.
func (b *csvBatch) read(r *csv.Reader, width int) (rows [][]string, lines []int, err error) {
	b.arena, b.rows, b.lines = slices.Grow(b.arena[:0], csvBatchRows*width), b.rows[:0], b.lines[:0]
	for range csvBatchRows {
		row, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		line, _ := r.FieldPos(0)
		first := len(b.arena)
		b.arena = append(b.arena, row...)
		b.rows, b.lines = append(b.rows, b.arena[first:len(b.arena):len(b.arena)]), append(b.lines, line)
	}
	return b.rows, b.lines, nil
}

// csvTable is a CSV file's layout: its header and which column is the label.
type csvTable struct {
	path     string
	header   []string
	labelCol int
}

// parse converts the feature columns of rows into dst, row after row, on all cores; the first bad value
// (in file order) is the error.
func (t csvTable) parse(rows [][]string, lines []int, dst []float32) error {
	features := len(t.header) - 1
	errs := make([]error, len(rows))
	parallel(len(rows), func(i int) {
		out := dst[i*features : (i+1)*features]
		k := 0
		for j, field := range rows[i] {
			if j == t.labelCol {
				continue
			}
			v, ok := parseSmallInt(field)
			if !ok {
				f, err := strconv.ParseFloat(strings.TrimSpace(field), 32)
				if err != nil {
					errs[i] = fileError(t.path, ErrNotNumber, "line %d, column %q: %q", lines[i], t.header[j], field)
					return
				}
				v = float32(f)
			}
			out[k] = v
			k++
		}
	})
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// csvError names the line of a row the csv package refused (a wrong number of fields, a stray quote);
// the header has fields fields.
func csvError(path string, err error, fields int) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			return fileError(path, ErrFields, "line %d: want %d, as in the header", pe.StartLine, fields)
		}
		return fileError(path, ErrFormat, "line %d: %v", pe.StartLine, pe.Err)
	}
	return fileError(path, ErrFormat, "%v", err)
}

// labelIndices turns a split's label strings into s.Labels (see readCSVSplit) and returns the class names
// when the labels are categorical. classes are the training split's names when reading the test split.
func labelIndices(path string, labels []string, test bool, classes []string, s *Set) ([]string, error) {
	s.Labels = make([]int32, len(labels))
	if !test {
		numeric := true
		for i, l := range labels {
			v, err := strconv.ParseInt(l, 10, 32)
			if err != nil || v < 0 {
				numeric = false
				break
			}
			s.Labels[i] = int32(v)
		}
		if numeric {
			return nil, nil
		}
		classes = slices.Clone(labels)
		slices.Sort(classes)
		classes = slices.Compact(classes)
	}
	for i, l := range labels {
		if classes == nil {
			v, err := strconv.ParseInt(l, 10, 32)
			if err != nil || v < 0 {
				return nil, fileError(path, ErrLabelRange, "row %d (line %d): label %q, the training labels are class indices", i+1, i+2, l)
			}
			s.Labels[i] = int32(v)
			continue
		}
		k, found := slices.BinarySearch(classes, l)
		if !found {
			return nil, fileError(path, ErrUnknownLabel, "row %d (line %d): label %q", i+1, i+2, l)
		}
		s.Labels[i] = int32(k)
	}
	return classes, nil
}

// parseSmallInt reads a whole number of at most 7 digits (which float32 holds exactly), the common case of
// pixel and count columns, faster than strconv; ok is false for anything else.
func parseSmallInt(s string) (float32, bool) {
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	if len(s) == 0 || len(s) > 7 {
		return 0, false
	}
	n := 0
	for i := range len(s) {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = 10*n + int(c-'0')
	}
	if neg {
		return -float32(n), true
	}
	return float32(n), true
}
