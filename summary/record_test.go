package summary

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"io"
	"strings"
	"testing"

	eventpb "github.com/wamuir/graft/tensorflow/core/util/event_go_proto"
	"google.golang.org/protobuf/proto"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The vectors of TensorBoard's masked_crc.rs and tf_record.rs (spec 1.1).
func TestFramingVectors(t *testing.T) {
	if got := crc32.Checksum(make([]byte, 32), castagnoli); got != 0x8a9136aa {
		t.Errorf("crc32c(32 zero bytes) = %#08x, want 0x8a9136aa", got)
	}
	if got := maskedCRC([]byte("\x1a\x11CRC test, one two")); got != 0x5794d08a {
		t.Errorf("masked crc = %#08x, want 0x5794d08a", got)
	}
	for _, c := range []uint32{0, 1, 0x8a9136aa, 0xffffffff, 0xa282ead8} {
		if got := unmaskCRC(maskCRC(c)); got != c {
			t.Errorf("unmask(mask(%#x)) = %#x", c, got)
		}
	}

	payload := append(unhex(t, "09 00 00 80 38 99 d6 d7 41 1a 0d"), "brain.Event:2"...)
	want := append(unhex(t, "18 00 00 00 00 00 00 00 a3 7f 4b 22"), payload...)
	want = append(want, unhex(t, "12 4b 36 ab")...)
	if got := appendRecord(nil, payload); !bytes.Equal(got, want) {
		t.Errorf("first record\n got %x\nwant %x", got, want)
	}
	// Our own marshalling of the same event gives the same bytes.
	ev, err := proto.Marshal(&eventpb.Event{WallTime: 1599759586.0, What: &eventpb.Event_FileVersion{FileVersion: "brain.Event:2"}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ev, payload) {
		t.Errorf("marshalled first event %x, want %x", ev, payload)
	}

	// The TF2 scalar event for accuracy=0.99 at step 77: 50 bytes whose
	// length CRC is 24 19 56 ec.
	var h [8]byte
	binary.LittleEndian.PutUint64(h[:], 50)
	if got := binary.LittleEndian.AppendUint32(nil, maskedCRC(h[:])); !bytes.Equal(got, unhex(t, "24 19 56 ec")) {
		t.Errorf("length crc of 50 = %x, want 24 19 56 ec", got)
	}
}

func TestRecordReader(t *testing.T) {
	var file []byte
	for _, p := range []string{"a", "", strings.Repeat("x", 1000)} {
		file = appendRecord(file, []byte(p))
	}
	rr := recordReader{r: bytes.NewReader(file)}
	for _, want := range []string{"a", "", strings.Repeat("x", 1000)} {
		got, err := rr.next()
		if err != nil || string(got) != want {
			t.Fatalf("next() = %q, %v; want %q", got, err, want)
		}
	}
	if _, err := rr.next(); err != io.EOF {
		t.Fatalf("at end: %v, want io.EOF", err)
	}

	// Every cut inside the last record is a truncation, never corruption.
	whole := appendRecord(appendRecord(nil, []byte("first")), []byte("second"))
	firstLen := recordHeaderLen + len("first") + recordFooterLen
	for cut := firstLen + 1; cut < len(whole); cut++ {
		rr := recordReader{r: bytes.NewReader(whole[:cut])}
		if _, err := rr.next(); err != nil {
			t.Fatalf("cut %d: first record: %v", cut, err)
		}
		if _, err := rr.next(); !errors.Is(err, errTruncated) {
			t.Fatalf("cut %d: %v, want truncated", cut, err)
		}
	}
}
