package dataset

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// readCSVSplit reads a CSV table with a header row: every column but the label column is a numeric
// feature; the label column is the one label= names, else the last. Labels that are all whole numbers
// ≥ 0 in the training split are class indices; otherwise the training split's distinct labels, sorted,
// are the classes, and a test label outside them is an error.
func readCSVSplit(path string, src Source, test bool, classes []string) (*Set, []string, error) {
	f, size, err := openRegular(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	t, bodyStart, err := readCSVHeader(f, path, src)
	if err != nil {
		return nil, nil, err
	}
	s := &Set{Shape: []int{len(t.header) - 1}}
	var labels []csvLabel
	s.Floats, labels, err = t.readBlocks(io.NewSectionReader(f, bodyStart, size-bodyStart), size-bodyStart)
	if errors.Is(err, errQuoted) {
		s.Floats, labels, err = t.readQuoted(f)
	}
	if err != nil {
		return nil, nil, err
	}
	names, err := labelIndices(path, labels, test, classes, s)
	return s, names, err
}

// readCSVHeader reads the header row; it returns the table's layout and where its first row starts.
func readCSVHeader(f io.ReaderAt, path string, src Source) (csvTable, int64, error) {
	r := csv.NewReader(io.NewSectionReader(f, 0, 1<<62))
	header, err := r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return csvTable{}, 0, fileError(path, ErrMissing, "no header row")
		}
		return csvTable{}, 0, csvError(path, err, 0)
	}
	labelCol := len(header) - 1
	if src.Label != "" {
		if labelCol = slices.Index(header, src.Label); labelCol < 0 {
			return csvTable{}, 0, fileError(path, ErrMissing, "line 1: no column %q in the header %q", src.Label, header)
		}
	}
	if len(header) < 2 {
		return csvTable{}, 0, fileError(path, ErrFields, "line 1: %d column, want features and a label", len(header))
	}
	end := r.InputOffset()
	raw := make([]byte, end)
	if _, err := f.ReadAt(raw, 0); err != nil {
		return csvTable{}, 0, fileError(path, ErrFormat, "%v", err)
	}
	return csvTable{path: path, header: header, labelCol: labelCol, firstLine: 1 + bytes.Count(raw, []byte{'\n'})}, end, nil
}

// csvTable is a CSV file's layout: its header, which column is the label, and the line its rows start on.
type csvTable struct {
	path      string
	header    []string
	labelCol  int
	firstLine int
}

// errQuoted stops the block reader at a quote: quoted fields, which may hold commas and line breaks, are
// encoding/csv's to read.
var errQuoted = errors.New("quoted field")

// csvBlockBytes is how much of a table is read and parsed on all cores at a time.
const csvBlockBytes = 8 << 20

// readBlocks reads the rows of r (size bytes) a block at a time, each block cut after its last full line and
// parsed on all cores while the next block is read. It returns errQuoted at the first double quote, having
// read nothing for good.
func (t csvTable) readBlocks(r io.Reader, size int64) ([]float32, []csvLabel, error) {
	var floats []float32
	var labels []csvLabel
	// Two buffers: a block is parsed in one while the next is read into the other, after the carried
	// part line.
	bufs := [2][]byte{make([]byte, min(size, csvBlockBytes)), nil}
	if size > csvBlockBytes {
		bufs[1] = make([]byte, csvBlockBytes)
	}
	read := blockRead{buf: bufs[0]}
	read.start(r, 0)
	line, done := t.firstLine, int64(0)
	for k := 0; ; k++ {
		block, eof, err := read.wait()
		if err != nil {
			return nil, nil, fileError(t.path, ErrFormat, "%v", err)
		}
		cut := len(block)
		if !eof {
			cut = bytes.LastIndexByte(block, '\n') + 1
		}
		if !eof {
			next := bufs[(k+1)%2]
			if carry := len(block) - cut; carry >= len(next) { // a line longer than the buffer, or no buffer
				next = make([]byte, 2*carry)
				bufs[(k+1)%2] = next
			}
			read = blockRead{buf: next}
			read.start(r, copy(next, block[cut:]))
		}
		if bytes.IndexByte(block[:cut], '"') >= 0 {
			read.wait()
			return nil, nil, errQuoted
		}
		var err2 error
		if floats, labels, err2 = t.parseBlock(block[:cut], line, floats, labels); err2 != nil {
			read.wait()
			return nil, nil, err2
		}
		if eof {
			return floats, labels, nil
		}
		line += bytes.Count(block[:cut], []byte{'\n'})
		done += int64(cut)
		floats = growFor(floats, done, size)
	}
}

// blockRead reads one block of a table into buf, after the carry bytes already there, on a goroutine of
// its own; wait returns the block and whether the table ended in it.
type blockRead struct {
	buf  []byte
	n    int
	err  error
	done chan struct{}
}

func (b *blockRead) start(r io.Reader, carry int) {
	b.done = make(chan struct{})
	go func() {
		defer close(b.done)
		n, err := io.ReadFull(r, b.buf[carry:])
		b.n, b.err = carry+n, err
	}()
}

func (b *blockRead) wait() (block []byte, eof bool, err error) {
	<-b.done
	eof = errors.Is(b.err, io.EOF) || errors.Is(b.err, io.ErrUnexpectedEOF) || len(b.buf) == 0
	if b.err != nil && !eof {
		return nil, false, b.err
	}
	return b.buf[:b.n], eof, nil
}

// growFor makes room in floats for the rest of a table, projected from the share of its bytes read (done
// of size), so that the values are not copied to a larger array again and again.
func growFor(floats []float32, done, size int64) []float32 {
	if len(floats) == 0 || done >= size {
		return floats
	}
	projected := float64(len(floats)) * float64(size) / float64(done) * 1.02
	if projected > float64(cap(floats)) && projected < maxPayload/4 {
		floats = slices.Grow(floats, int(projected)-len(floats))
	}
	return floats
}

// parseBlock parses the whole lines of block, whose first is line, into floats and labels, on all cores:
// the block is cut at line breaks into pieces parsed side by side, each into its part of floats. The first
// bad row in file order is the error.
func (t csvTable) parseBlock(block []byte, line int, floats []float32, labels []csvLabel) ([]float32, []csvLabel, error) {
	pieces := splitLines(block, 4*runtime.GOMAXPROCS(0))
	features := len(t.header) - 1
	type part struct {
		line, at, rows int
		labels         []csvLabel
		err            error
	}
	parts := make([]part, len(pieces))
	at := len(floats)
	if len(pieces) == 0 {
		return floats, labels, nil
	}
	for k, piece := range pieces {
		parts[k].line, parts[k].at = line, at
		lines := bytes.Count(piece, []byte{'\n'})
		line += lines
		if len(piece) > 0 && piece[len(piece)-1] != '\n' {
			lines++
		}
		at += min(lines, csvRowsAtMost(len(piece), features)) * features
	}
	floats = slices.Grow(floats, at-len(floats))[:at]
	parallel(len(pieces), func(k int) {
		p := &parts[k]
		end := len(floats)
		if k+1 < len(parts) {
			end = parts[k+1].at
		}
		p.rows, p.labels, p.err = t.parsePiece(pieces[k], p.line, floats[p.at:end])
	})
	end := parts[0].at
	for _, p := range parts {
		if p.err != nil {
			return nil, nil, p.err
		}
		end += copy(floats[end:], floats[p.at:p.at+p.rows*features]) // moves only after blank lines
		labels = append(labels, p.labels...)
	}
	return floats[:end], labels, nil
}

// csvRowsAtMost is the most rows of features values and a label that n bytes can hold: each row has a
// comma per feature, and a line break before the next. Room is made for no more, so that a wide header over
// blank or short lines cannot have a row of floats allocated for each line.
func csvRowsAtMost(n, features int) int { return (n + 1) / (features + 1) }

// splitLines cuts b into at most n pieces of about equal size, each ending with a line break but the last.
func splitLines(b []byte, n int) [][]byte {
	var pieces [][]byte
	for len(b) > 0 {
		cut := len(b)
		if n > 1 {
			if nl := bytes.IndexByte(b[min(len(b)/n, len(b)-1):], '\n'); nl >= 0 {
				cut = min(len(b)/n, len(b)-1) + nl + 1
			}
		}
		pieces, b, n = append(pieces, b[:cut]), b[cut:], n-1
	}
	return pieces
}

// parsePiece parses the rows of piece, whose first line is line, into dst, row after row (dst holds as many
// as piece can: csvRowsAtMost), as encoding/csv reads unquoted rows: a CR before a line break is dropped,
// blank lines are skipped. It returns the rows parsed and their labels, or the first bad row's error.
func (t csvTable) parsePiece(piece []byte, line int, dst []float32) (int, []csvLabel, error) {
	width := len(t.header)
	var labels []csvLabel
	rows := 0
	for ; len(piece) > 0; line++ {
		rec := piece
		if nl := bytes.IndexByte(piece, '\n'); nl >= 0 {
			rec, piece = piece[:nl], piece[nl+1:]
		} else {
			piece = nil
		}
		if rec = bytes.TrimSuffix(rec, []byte{'\r'}); len(rec) == 0 {
			continue
		}
		if (rows+1)*(width-1) > len(dst) {
			// The bytes before it hold all the rows there is room for (csvRowsAtMost): this line has too
			// few commas to be a row, which parseRow says before it writes a value.
			_, err := t.parseRow(rec, line, nil)
			return 0, nil, err
		}
		out := dst[rows*(width-1) : (rows+1)*(width-1)]
		label, ok := t.parseSmallIntRow(rec, out)
		if !ok {
			label, ok = t.parsePlainRow(rec, out)
		}
		if !ok {
			var err error
			if label, err = t.parseRow(rec, line, out); err != nil {
				return 0, nil, err
			}
		}
		labels = append(labels, csvLabel{string(bytes.TrimSpace(label)), line})
		rows++
	}
	return rows, labels, nil
}

// parseSmallIntRow parses a row whose features are all whole numbers of one to three digits (an image's
// pixels, 0 to 255: each its own float32) and its label; ok is false for any other row, which
// parsePlainRow then parses.
func (t csvTable) parseSmallIntRow(rec []byte, out []float32) (label []byte, ok bool) {
	before, after := out[:t.labelCol], out[t.labelCol:]
	p, ok := smallInts(rec, 0, before)
	if !ok {
		return nil, false
	}
	if len(before) > 0 {
		if p >= len(rec) || rec[p] != ',' {
			return nil, false
		}
		p++
	}
	comma := bytes.IndexByte(rec[p:], ',')
	if len(after) == 0 {
		return rec[p:], comma < 0
	}
	if comma < 0 {
		return nil, false
	}
	label = rec[p : p+comma]
	p, ok = smallInts(rec, p+comma+1, after)
	return label, ok && p == len(rec)
}

// smallInts reads len(out) comma-separated whole numbers of one to three digits from rec[p:] and
// returns where the last ends; ok is false when rec holds anything else there. Four zeros and their
// commas (an image's background) are matched as one 8-byte word.
func smallInts(rec []byte, p int, out []float32) (end int, ok bool) {
	const fourZeros = 0x2c302c302c302c30 // "0,0,0,0," read little-endian
	last := len(out) - 1
	for k := 0; k <= last; {
		if k+4 <= last && p+8 <= len(rec) && binary.LittleEndian.Uint64(rec[p:]) == fourZeros {
			out[k], out[k+1], out[k+2], out[k+3] = 0, 0, 0, 0
			k, p = k+4, p+8
			continue
		}
		if p >= len(rec) || rec[p]-'0' > 9 {
			return p, false
		}
		n := int(rec[p] - '0')
		p++
		for m := 0; m < 2 && p < len(rec) && rec[p]-'0' <= 9; m++ {
			n = 10*n + int(rec[p]-'0')
			p++
		}
		out[k] = float32(n)
		if k < last {
			if p >= len(rec) || rec[p] != ',' {
				return p, false
			}
			p++
		}
		k++
	}
	return p, true
}

// parsePlainRow parses a row of plain decimals (see parseNumber) and a label in one pass; ok is false
// for any other row, which parseRow then parses or refuses.
func (t csvTable) parsePlainRow(rec []byte, out []float32) (label []byte, ok bool) {
	width, k := len(t.header), 0
	for j := range width {
		i := 0
		if j == t.labelCol {
			if i = bytes.IndexByte(rec, ','); i < 0 {
				i = len(rec)
			}
			label = rec[:i]
		} else {
			if out[k], i = plainField(rec); i < 0 {
				return nil, false
			}
			k++
		}
		last := j == width-1
		switch {
		case i == len(rec) && last:
		case i < len(rec) && rec[i] == ',' && !last:
			rec = rec[i+1:]
		default:
			return nil, false
		}
	}
	return label, true
}

// plainField reads the plain decimal rec starts with and returns it and its length, or -1 when rec starts
// with anything else.
func plainField(rec []byte) (float32, int) {
	neg := len(rec) > 0 && rec[0] == '-'
	i := btoi(neg)
	mantissa, digits, decimals, point := 0, 0, 0, false
	for ; i < len(rec); i++ {
		if d := rec[i] - '0'; d < 10 {
			mantissa, digits, decimals = 10*mantissa+int(d), digits+1, decimals+btoi(point)
		} else if rec[i] == '.' && !point {
			point = true
		} else {
			break
		}
	}
	if digits == 0 || digits > 8 || mantissa > 1<<24 || decimals >= len(float32Pow10) {
		return 0, -1
	}
	v := float32(mantissa) / float32Pow10[decimals]
	if neg {
		v = -v
	}
	return v, i
}

// parseRow parses a row of width fields, each feature a number, into out; it returns the label.
func (t csvTable) parseRow(rec []byte, line int, out []float32) ([]byte, error) {
	width := len(t.header)
	if n := bytes.Count(rec, []byte{','}) + 1; n != width {
		return nil, fileError(t.path, ErrFields, "line %d: want %d, as in the header", line, width)
	}
	var label []byte
	k := 0
	for j := range width {
		field := rec
		if comma := bytes.IndexByte(rec, ','); comma >= 0 {
			field, rec = rec[:comma], rec[comma+1:]
		}
		if j == t.labelCol {
			label = field
			continue
		}
		v, ok := parseNumber(field)
		if !ok {
			return nil, fileError(t.path, ErrNotNumber, "line %d, column %q: %q", line, t.header[j], field)
		}
		out[k] = v
		k++
	}
	return label, nil
}

// readQuoted reads the rows of a table with quoted fields through encoding/csv, from the start.
func (t csvTable) readQuoted(f io.ReaderAt) ([]float32, []csvLabel, error) {
	r := csv.NewReader(bufio.NewReaderSize(io.NewSectionReader(f, 0, 1<<62), chunkBytes))
	r.ReuseRecord = true
	if _, err := r.Read(); err != nil {
		return nil, nil, csvError(t.path, err, 0)
	}
	floats := []float32{}
	var labels []csvLabel
	for {
		row, err := r.Read()
		if errors.Is(err, io.EOF) {
			return floats, labels, nil
		}
		if err != nil {
			return nil, nil, csvError(t.path, err, len(t.header))
		}
		line, _ := r.FieldPos(0)
		for j, field := range row {
			if j == t.labelCol {
				labels = append(labels, csvLabel{strings.TrimSpace(field), line})
				continue
			}
			v, ok := parseNumber(field)
			if !ok {
				return nil, nil, fileError(t.path, ErrNotNumber, "line %d, column %q: %q", line, t.header[j], field)
			}
			floats = append(floats, v)
		}
	}
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

// csvLabel is a row's label and the line the row is on.
type csvLabel struct {
	text string
	line int
}

// labelIndices turns a split's labels into s.Labels (see readCSVSplit) and returns the class names when
// the labels are categorical. classes are the training split's names when reading the test split.
func labelIndices(path string, labels []csvLabel, test bool, classes []string, s *Set) ([]string, error) {
	s.Labels = make([]int32, len(labels))
	if !test {
		numeric := true
		for i, l := range labels {
			v, err := strconv.ParseInt(l.text, 10, 32)
			if err != nil || v < 0 {
				numeric = false
				break
			}
			s.Labels[i] = int32(v)
		}
		if numeric {
			return nil, nil
		}
		classes = make([]string, len(labels))
		for i, l := range labels {
			classes[i] = l.text
		}
		slices.Sort(classes)
		classes = slices.Compact(classes)
	}
	for i, l := range labels {
		if classes == nil {
			v, err := strconv.ParseInt(l.text, 10, 32)
			if err != nil || v < 0 {
				return nil, fileError(path, ErrLabelRange, "row %d (line %d): label %q, the training labels are class indices", i+1, l.line, l.text)
			}
			s.Labels[i] = int32(v)
			continue
		}
		k, found := slices.BinarySearch(classes, l.text)
		if !found {
			return nil, fileError(path, ErrUnknownLabel, "row %d (line %d): label %q", i+1, l.line, l.text)
		}
		s.Labels[i] = int32(k)
	}
	return classes, nil
}

// float32Pow10 are the powers of ten float32 holds exactly.
var float32Pow10 = [...]float32{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10}

// parseNumber reads a decimal number as float32, as strconv.ParseFloat(…, 32) reads it after trimming
// spaces. Plain decimals ([-]digits[.digits]) whose digits make at most 2^24 with at most 10 after the
// point are read here: the digits and the power of ten are exact float32s, so their quotient is rounded
// once, correctly, as strconv's own exact path does. Everything else goes to strconv.
func parseNumber[T string | []byte](s T) (float32, bool) {
	neg := len(s) > 0 && s[0] == '-'
	i := 0
	if neg {
		i = 1
	}
	mantissa, decimals, point := 0, 0, false
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9' && mantissa <= 1<<24:
			mantissa = 10*mantissa + int(c-'0')
			if point {
				decimals++
			}
		case c == '.' && !point:
			point = true
		default:
			return parseNumberSlowly(s)
		}
	}
	digits := len(s) - btoi(neg) - btoi(point)
	if digits == 0 || mantissa > 1<<24 || decimals >= len(float32Pow10) {
		return parseNumberSlowly(s)
	}
	v := float32(mantissa) / float32Pow10[decimals]
	if neg {
		v = -v
	}
	return v, true
}

func parseNumberSlowly[T string | []byte](s T) (float32, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(string(s)), 32)
	return float32(f), err == nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
