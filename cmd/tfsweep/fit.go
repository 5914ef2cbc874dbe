package main

import (
	"bytes"
	"io"
	"unicode/utf8"
)

// fitWriter cuts every line written through it to the terminal's width, less one column (a line
// that fills the last column leaves some terminals' cursor in a pending wrap), ending a cut line in
// "…". ANSI escape sequences pass through and take no column. A Write is expected to hold whole
// lines, as zerolog and the console write them.
type fitWriter struct {
	out   io.Writer
	width func() int // 0 when unknown: lines pass whole
}

func (f *fitWriter) Write(b []byte) (int, error) {
	width := 0
	if f.width != nil {
		width = f.width() - 1
	}
	if width < 1 {
		return f.out.Write(b)
	}
	var fitted bytes.Buffer
	for line := range bytes.Lines(b) {
		fitted.Write(fitLine(line, width))
	}
	if _, err := f.out.Write(fitted.Bytes()); err != nil {
		return 0, err
	}
	return len(b), nil
}

// fitLine returns line (ending in its newline, if it has one) with at most width visible columns,
// each rune counted as one.
func fitLine(line []byte, width int) []byte {
	body := bytes.TrimSuffix(line, []byte("\n"))
	newline := len(body) < len(line)
	var out []byte
	visible := 0
	for i := 0; i < len(body); {
		if n := escapeLen(body[i:]); n > 0 {
			out = append(out, body[i:i+n]...)
			i += n
			continue
		}
		_, size := utf8.DecodeRune(body[i:])
		if visible == width-1 && hasVisible(body[i+size:]) {
			out = append(out, "…\x1b[0m"...) // the reset closes a colour the cut left open
			break
		}
		out = append(out, body[i:i+size]...)
		visible++
		i += size
	}
	if newline {
		out = append(out, '\n')
	}
	return out
}

// hasVisible tells whether b holds a rune that is not part of an escape sequence.
func hasVisible(b []byte) bool {
	for i := 0; i < len(b); {
		if n := escapeLen(b[i:]); n > 0 {
			i += n
			continue
		}
		return true
	}
	return false
}

// escapeLen is the length of the CSI escape sequence (ESC [ parameters final-byte) b starts with,
// or 0.
func escapeLen(b []byte) int {
	if len(b) < 2 || b[0] != 0x1b || b[1] != '[' {
		return 0
	}
	for i := 2; i < len(b); i++ {
		if b[i] >= 0x40 && b[i] <= 0x7e {
			return i + 1
		}
	}
	return len(b)
}
