package dataset

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// csvRows writes a table of n rows, "a,b,label", whose row i is fill(i) (empty for a blank line); the
// header is line 1.
func csvRows(n int, fill func(i int) string) []byte {
	var b strings.Builder
	b.WriteString("a,b,label\n")
	for i := range n {
		b.WriteString(fill(i))
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// TestCSVErrorPositions shows that the rows parsed side by side, in pieces and blocks, still name the line
// of the first bad row in the file, wherever it falls.
func TestCSVErrorPositions(t *testing.T) {
	plain := func(i int) string { return fmt.Sprintf("%d,%d.5,%d", i%251, i%7, i%3) }
	big := (csvBlockBytes/len(plain(99999)))*5/4 + 1000 // rows past the first block
	for _, tc := range []struct {
		name string
		rows int
		bad  map[int]string // row index → its text
		want []string
		err  error
	}{
		{"a text value in the third piece", 4000, map[int]string{1100: "1,x,2"}, []string{`line 1102, column "b": "x"`}, ErrNotNumber},
		{"a short row in the sixth piece", 4000, map[int]string{2600: "1,2"}, []string{"line 2602: want 3"}, ErrFields},
		{"a long row in the last piece", 4000, map[int]string{3999: "1,2,3,4"}, []string{"line 4001: want 3"}, ErrFields},
		{"the earlier of two bad rows", 4000, map[int]string{3000: "y,1,1", 1500: "1,2,3,4"}, []string{"line 1502: want 3"}, ErrFields},
		{"after blank and CRLF lines", 4000, map[int]string{10: "", 11: "\r", 500: "1,2,3\r", 1900: "", 2500: "1,-,1"}, []string{`line 2502, column "b": "-"`}, ErrNotNumber},
		{"in the second block", big, map[int]string{big - 5: "1,2,nan,4"}, []string{fmt.Sprintf("line %d: want 3", big-3)}, ErrFields},
		{"a quoted row after the first block", big, map[int]string{20: "1,2e,1", big - 5: `"1",2,1`}, []string{`line 22, column "b": "2e"`}, ErrNotNumber},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), "t.csv", csvRows(tc.rows, func(i int) string {
				if s, ok := tc.bad[i]; ok {
					return s
				}
				return plain(i)
			}))
			src, err := ParseSource("csv:" + p + ":holdout=0.5")
			if err != nil {
				t.Fatal(err)
			}
			_, err = Open(src, Options{})
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			for _, w := range append(tc.want, p) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestCSVLabelErrorLines shows that a bad label names its row and the line it is on, blank lines and a
// header of two lines counted, whether the block reader or encoding/csv (for quoted rows) read the rows.
func TestCSVLabelErrorLines(t *testing.T) {
	dir := t.TempDir()
	train := writeFile(t, dir, "train.csv", csvRows(100, func(i int) string { return fmt.Sprintf("%d,%d,%d", i, i, i%3) }))
	for _, tc := range []struct{ name, text, want string }{
		{"plain", "a,b,label\n\n1,2,1\r\n\n1,2,x\n", "row 2 (line 5)"},
		{"header of two lines", "a,\"b\nc\",label\n1,2,1\n\n1,2,x\n", "row 2 (line 5)"},
		{"quoted rows", "a,b,label\n\n1,2,1\n\n\"1\",2,x\n", "row 2 (line 5)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			test := writeFile(t, dir, tc.name+".csv", []byte(tc.text))
			src, err := ParseSource("csv:" + train + ":test=" + test)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Open(src, Options{})
			if !errors.Is(err, ErrLabelRange) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), test) {
				t.Errorf("error %v, want %v naming %s and %q", err, ErrLabelRange, test, tc.want)
			}
		})
	}
}

// TestCSVBlocksReadAsEncodingCSV shows that the block reader reads every kind of number, line ending and
// blank line as encoding/csv and strconv do, across pieces and blocks; and that a table with quotes,
// which it leaves to encoding/csv, reads the same.
func TestCSVBlocksReadAsEncodingCSV(t *testing.T) {
	values := []string{"0", "7", "-3", "255", "0.1", "-0.25", "3.", ".5", "-.5", "007", "16777216", "16777217",
		"123456789", "1.5e3", "-2E-2", "+4", " 6 ", "0.1234567891", "3.4028234e38", "1e-50", "1_0", "Inf", "-0", "0x1p-2", "0.30000001", "9.99999999999", "99999999.5",
		"1", "42", "200", "999", "1000", "12.", "00", "0001"}
	rows := 3 * csvBlockBytes / 40
	fill := func(i int) string {
		switch {
		case i%997 == 5:
			return ""
		case i%13 == 1:
			return fmt.Sprintf("%s,%s,cls%d\r", values[i%len(values)], values[(i/3)%len(values)], i%4)
		}
		return fmt.Sprintf("%s,%s,cls%d", values[i%len(values)], values[(i/7)%len(values)], i%4)
	}
	dir := t.TempDir()
	for _, quoted := range []bool{false, true} {
		text := csvRows(rows, fill)
		if quoted {
			text = append(text, `"1","2","cls0"`+"\n"...)
		}
		p := writeFile(t, dir, fmt.Sprintf("q%v.csv", quoted), text)
		want, wantLabels := readCSVAsEncodingCSV(t, text)
		s, _, err := readCSVSplit(p, Source{Kind: KindCSV, Path: p}, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Labels) != len(wantLabels) || len(s.Floats) != len(want) {
			t.Fatalf("quoted %v: %d rows of %d values, want %d of %d", quoted, len(s.Labels), len(s.Floats), len(wantLabels), len(want))
		}
		for i, v := range s.Floats {
			if math.Float32bits(v) != math.Float32bits(want[i]) {
				t.Fatalf("quoted %v: value %d (row %d) is %g, encoding/csv and strconv read %g", quoted, i, i/2, v, want[i])
			}
		}
		for i, l := range s.Labels {
			if l != wantLabels[i] {
				t.Fatalf("quoted %v: label %d is %d, want %d", quoted, i, l, wantLabels[i])
			}
		}
	}
}

// readCSVAsEncodingCSV reads a table "a,b,label" (labels clsN) with encoding/csv and strconv alone.
func readCSVAsEncodingCSV(t *testing.T, text []byte) ([]float32, []int32) {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(text)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var values []float32
	var labels []int32
	for _, row := range rows[1:] {
		for _, field := range row[:2] {
			v, err := strconv.ParseFloat(strings.TrimSpace(field), 32)
			if err != nil {
				t.Fatal(err)
			}
			values = append(values, float32(v))
		}
		labels = append(labels, int32(row[2][3]-'0'))
	}
	return values, labels
}

// TestSmallIntRowsReadAsParseRow shows that the fast path for rows of small whole numbers reads what
// parseRow reads, with the label in every column, and takes no row parseRow would read otherwise or
// refuse: longer or signed or fractional numbers, empty fields, and too many or too few fields.
func TestSmallIntRowsReadAsParseRow(t *testing.T) {
	rows := []string{"1,2,x", "0,255,x", "007,99,x", "1000,2,x", "1,x,2", "x,1,2", "1,2,", "1,,x", ",1,x", "1,2,x,",
		"1,2", "1,2,x,3", "1.5,2,x", "-1,2,x", "1 ,2,x", "12a,2,x", "x,y,z", "999,0,0"}
	fast := []string{"1,2,x", "0,255,x", "007,99,x", "1,2,", "999,0,0"}
	for labelCol := range 3 {
		tbl := csvTable{path: "t.csv", header: []string{"a", "b", "c"}, labelCol: labelCol}
		for _, row := range rows {
			got := make([]float32, 2)
			label, ok := tbl.parseSmallIntRow([]byte(row), got)
			if !ok {
				if labelCol == 2 && slices.Contains(fast, row) {
					t.Errorf("label column 2, row %q: not taken by the fast path", row)
				}
				continue
			}
			want := make([]float32, 2)
			wantLabel, err := tbl.parseRow([]byte(row), 1, want)
			if err != nil || string(label) != string(wantLabel) || !slices.Equal(got, want) {
				t.Errorf("label column %d, row %q: fast path %v %q, parseRow %v %q %v", labelCol, row, got, label, want, wantLabel, err)
			}
			if strings.ContainsAny(row, ".- ") || strings.Contains(row, "1000") {
				t.Errorf("label column %d, row %q: taken by the fast path", labelCol, row)
			}
		}
	}
}

// TestSmallIntRowsAtRandom compares the fast path with parseRow on random rows of 1 to 20 columns, the
// label in any of them, of fields MNIST's tables hold (runs of zeros, pixels) and others that must fall to
// the general parser (four digits, signs, fractions, spaces, empty fields).
func TestSmallIntRowsAtRandom(t *testing.T) {
	fields := []string{"0", "0", "0", "0", "0", "0", "7", "25", "255", "999", "00", "1000", "-0", "0.5", "", " 0", "0 ", "x"}
	r := rand.New(rand.NewPCG(5, 6))
	taken := 0
	for range 20000 {
		width := 1 + r.IntN(20)
		tbl := csvTable{path: "t.csv", header: make([]string, width), labelCol: r.IntN(width)}
		row := make([]string, width)
		plain := true
		for j := range row {
			row[j] = fields[r.IntN(len(fields))]
			if r.IntN(3) > 0 {
				row[j] = "0" // long runs of zeros, as an image's background
			}
			if j != tbl.labelCol && (len(row[j]) == 0 || len(row[j]) > 3 || strings.Trim(row[j], "0123456789") != "") {
				plain = false
			}
		}
		text := strings.Join(row, ",")
		got := make([]float32, width-1)
		label, ok := tbl.parseSmallIntRow([]byte(text), got)
		if ok != plain {
			t.Fatalf("row %q, label column %d: fast path %t, want %t", text, tbl.labelCol, ok, plain)
		}
		if !ok {
			continue
		}
		taken++
		want := make([]float32, width-1)
		wantLabel, err := tbl.parseRow([]byte(text), 1, want)
		if err != nil || string(label) != string(wantLabel) || !slices.Equal(got, want) {
			t.Fatalf("row %q, label column %d: fast path %v %q, parseRow %v %q %v", text, tbl.labelCol, got, label, want, wantLabel, err)
		}
	}
	if taken < 1000 {
		t.Errorf("the fast path took %d of 20,000 rows, want at least 1,000", taken)
	}
}

// TestCSVSpaceFollowsBytes shows that the block reader makes room for no more rows than a piece's bytes can
// hold: a wide header followed by many blank or short lines, a few kilobytes of file, would otherwise have
// it allocate a row of floats for every line (here 5,000 × 5,000 floats) before finding one row or fault.
func TestCSVSpaceFollowsBytes(t *testing.T) {
	const columns, lines = 5000, 5000
	header := strings.Repeat("f,", columns-1) + "label\n"
	row := strings.Repeat("7,", columns-1) + "3\n"
	for _, tc := range []struct {
		name, body string
		err        error
		want       string
	}{
		{"blank lines, then a row", strings.Repeat("\n", lines) + row, nil, ""},
		{"short lines", strings.Repeat("1\n", lines) + row, ErrFields, "line 2: want 5000"},
		{"a row, then short lines", row + strings.Repeat("1\n", lines), ErrFields, "line 3: want 5000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), "t.csv", []byte(header+tc.body))
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			s, _, err := readCSVSplit(p, Source{}, false, nil)
			runtime.ReadMemStats(&after)
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
				t.Errorf("reading a %d-byte table allocated %d bytes", len(header)+len(tc.body), grew)
			}
			if tc.err != nil {
				if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
					t.Errorf("error %v, want %v naming %s and %q", err, tc.err, p, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Len() != 1 || len(s.Floats) != columns-1 || s.Floats[0] != 7 || s.Labels[0] != 3 {
				t.Errorf("read %d rows of %d values, want the one row of 7s labelled 3", s.Len(), len(s.Floats))
			}
		})
	}
}

// TestCSVLineLongerThanABlock shows that a row longer than the block the reader reads at a time (a field
// padded with spaces, which strconv's reading after trimming takes) is read whole, with the rows around it.
func TestCSVLineLongerThanABlock(t *testing.T) {
	text := "a,label\n1,0\n" + strings.Repeat(" ", csvBlockBytes+csvBlockBytes/2) + "5,1\n2,0\n"
	p := writeFile(t, t.TempDir(), "long.csv", []byte(text))
	s, _, err := readCSVSplit(p, Source{Kind: KindCSV, Path: p}, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Floats, []float32{1, 5, 2}) || !slices.Equal(s.Labels, []int32{0, 1, 0}) {
		t.Errorf("values %v and labels %v, want [1 5 2] and [0 1 0]", s.Floats, s.Labels)
	}
}
