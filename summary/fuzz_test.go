package summary

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"
)

// FuzzReader feeds arbitrary bytes to the Reader: it must never panic or
// allocate without bound, must end with io.EOF or a *CorruptError that
// points inside the input, and must report a truncation only with io.EOF.
// The seed corpus in testdata/fuzz/FuzzReader holds real files: every value
// kind, cut, and corrupted.
func FuzzReader(f *testing.F) {
	f.Add([]byte{})
	f.Add(appendRecord(nil, []byte{0x1a, 0x0d, 'b', 'r', 'a', 'i', 'n', '.', 'E', 'v', 'e', 'n', 't', ':', '2'}))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), "fuzz")
		for n := 0; ; n++ {
			_, err := r.Next()
			if err == nil {
				if n > len(data)/recordHeaderLen {
					t.Fatalf("%d events from %d bytes", n, len(data))
				}
				continue
			}
			var ce *CorruptError
			switch {
			case err == io.EOF:
			case errors.As(err, &ce):
				if ce.Offset < 0 || ce.Offset >= int64(len(data)) || ce.File != "fuzz" {
					t.Fatalf("corrupt error %+v for %d bytes", ce, len(data))
				}
				if r.Truncated() {
					t.Fatal("truncated and corrupt")
				}
			default:
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
	})
}

// FuzzHParams checks that the hand-written hparams decoder never panics,
// and that what it decodes from our own encoding survives a round trip.
func FuzzHParams(f *testing.F) {
	for _, c := range [][]byte{
		encodeSessionEnd(SessionEnd{Status: StatusSuccess}),
		{0x1a, 0x07, 0x0a, 0x05, 0x0a, 0x01, 'x', 0x12, 0x00},
		{0x12, 0x04, 0x22, 0x02, 0x2a, 0x00},
	} {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := decodeHParams(data)
		if err != nil || h.SessionStart == nil {
			return
		}
		for k, v := range h.SessionStart.HParams {
			if _, err := hparamValue(v); err != nil || k == "" {
				return // lists, nulls and empty names are not ours to write
			}
		}
		enc, err := encodeSessionStart(*h.SessionStart, time.Now)
		if err != nil {
			t.Fatal(err)
		}
		h2, err := decodeHParams(enc)
		if err != nil {
			t.Fatal(err)
		}
		if len(h2.SessionStart.HParams) != len(h.SessionStart.HParams) {
			t.Fatalf("round trip lost hparams: %v vs %v", h2.SessionStart.HParams, h.SessionStart.HParams)
		}
	})
}
