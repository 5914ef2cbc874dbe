package main

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// screen renders what a program wrote to a terminal as a VT100-style terminal shows it: rows of a
// fixed width that wrap and scroll, the scrolled-off rows kept, and the escape sequences the console
// and its progress bars use (cursor up, erase below, erase line, colours). A sequence it does not
// know fails the test rather than being rendered wrongly.
type screen struct {
	t             *testing.T
	width, height int
	rows          []screenRow // on screen
	scrolled      []screenRow // above the screen, oldest first
	x, y          int
	pendingWrap   bool // the last column was written: the next character goes to a new row
	// frames are the screen's rows each time the cursor moved up, that is, just before the bars
	// redraw: each is what a person saw between two redraws.
	frames [][]screenRow
}

type screenRow struct {
	text []rune
	// continued marks a row that a long line wrapped into from the row above.
	continued bool
}

func newScreen(t *testing.T, width, height int) *screen {
	return &screen{t: t, width: width, height: height, rows: make([]screenRow, height)}
}

func (s *screen) render(out []byte) {
	for i := 0; i < len(out); {
		if out[i] == 0x1b {
			i += s.escape(out[i:])
			continue
		}
		r, size := utf8.DecodeRune(out[i:])
		i += size
		switch r {
		case '\r':
			s.x, s.pendingWrap = 0, false
		case '\n':
			s.lineFeed()
			s.pendingWrap = false
		default:
			s.put(r)
		}
	}
}

func (s *screen) put(r rune) {
	if s.pendingWrap {
		s.x, s.pendingWrap = 0, false
		s.lineFeed()
		s.rows[s.y].continued = true
	}
	row := &s.rows[s.y]
	for len(row.text) <= s.x {
		row.text = append(row.text, ' ')
	}
	row.text[s.x] = r
	if s.x == s.width-1 {
		s.pendingWrap = true
	} else {
		s.x++
	}
}

func (s *screen) lineFeed() {
	if s.y < s.height-1 {
		s.y++
		return
	}
	s.scrolled = append(s.scrolled, s.rows[0])
	s.rows = append(s.rows[1:], screenRow{})
}

// escape applies the CSI sequence b starts with and returns its length.
func (s *screen) escape(b []byte) int {
	if len(b) < 2 || b[1] != '[' {
		s.t.Fatalf("terminal output has an escape sequence the test does not know: %q", b[:min(len(b), 8)])
	}
	end := 2
	for end < len(b) && (b[end] < 0x40 || b[end] > 0x7e) {
		end++
	}
	if end == len(b) {
		s.t.Fatalf("terminal output ends in an unfinished escape sequence %q", b)
	}
	params, final := string(b[2:end]), b[end]
	n := 1
	if p, err := strconv.Atoi(params); err == nil && p > 0 {
		n = p
	}
	switch {
	case final == 'A':
		s.frames = append(s.frames, s.visible())
		s.y, s.pendingWrap = max(0, s.y-n), false
	case final == 'J' && (params == "" || params == "0"):
		s.rows[s.y].text = s.rows[s.y].text[:min(s.x, len(s.rows[s.y].text))]
		for i := s.y + 1; i < s.height; i++ {
			s.rows[i] = screenRow{}
		}
	case final == 'K' && (params == "" || params == "0"):
		s.rows[s.y].text = s.rows[s.y].text[:min(s.x, len(s.rows[s.y].text))]
	case final == 'm', final == 'h' && strings.HasPrefix(params, "?"), final == 'l' && strings.HasPrefix(params, "?"):
		// colours and the cursor's visibility change no text
	default:
		s.t.Fatalf("terminal output has an escape sequence the test does not know: %q", b[:end+1])
	}
	return end + 1
}

// visible is a copy of the rows on screen.
func (s *screen) visible() []screenRow {
	out := make([]screenRow, len(s.rows))
	for i, r := range s.rows {
		out[i] = screenRow{text: append([]rune(nil), r.text...), continued: r.continued}
	}
	return out
}

// transcript is every row the terminal showed that is still there, scrolled off or on screen.
func (s *screen) transcript() []screenRow {
	return append(append([]screenRow(nil), s.scrolled...), s.rows...)
}

func (r screenRow) String() string { return strings.TrimRight(string(r.text), " ") }

func dump(rows []screenRow) string {
	var b strings.Builder
	for i, r := range rows {
		mark := ' '
		if r.continued {
			mark = '+'
		}
		fmt.Fprintf(&b, "%3d%c|%s\n", i, mark, r)
	}
	return b.String()
}

// The emulator itself: wrapping, scrolling and the bars' redraw.
func TestScreen(t *testing.T) {
	s := newScreen(t, 10, 3)
	s.render([]byte("0123456789abc\r\nline\r\nbar1\r\nbar2\r\n\x1b[2A\x1b[Jnew\r\nbar1\r\nbar2\r\n"))
	want := []string{"0123456789", "abc", "line", "new", "bar1", "bar2", ""}
	var got []string
	for _, r := range s.transcript() {
		got = append(got, r.String())
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("transcript %q, want %q", got, want)
	}
	if !s.transcript()[1].continued || s.transcript()[2].continued {
		t.Errorf("wrap marks wrong:\n%s", dump(s.transcript()))
	}
	if len(s.frames) != 1 {
		t.Errorf("%d frames, want 1", len(s.frames))
	}
}
