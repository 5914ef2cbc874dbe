package dataset

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tfRecords splits a TFRecord file (gunzipped if need be) into its records, each with its header and CRCs.
func tfRecords(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if isGzip(b) {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	var records [][]byte
	for len(b) > 0 {
		n := tfrecordHeader + int(binary.LittleEndian.Uint64(b)) + 4
		records, b = append(records, b[:n]), b[n:]
	}
	return records
}

// TestTFRecordErrorPositions shows that records decoded side by side, in batches and in ranges within a
// batch, still name the first bad record in the file and its offset. The files are TensorFlow's records,
// repeated: a good PNG example, and examples TensorFlow wrote without a label or of another size.
func TestTFRecordErrorPositions(t *testing.T) {
	fx := fixtures(t)
	good := tfRecords(t, filepath.Join(fx, "tfrecord", "png-0.tfrecord.gz"))[0]
	noLabel := tfRecords(t, filepath.Join(fx, "bad", "no-label.tfrecord"))[1]
	otherSize := tfRecords(t, filepath.Join(fx, "bad", "mixed-sizes.tfrecord"))[1]
	badData := bytes.Clone(good)
	badData[len(badData)-10] ^= 0x55
	badLength := bytes.Clone(good)
	badLength[3] ^= 0x55
	// 2000 records: four batches of 512, each decoded in ranges of 64 on two cores.
	third := 2*recordBatchSize + 2*64 + 5
	for _, tc := range []struct {
		name  string
		bad   map[int][]byte
		first int
		want  string
		err   error
	}{
		{"no label, in the third range of the third batch", map[int][]byte{third: noLabel}, third, `no label feature "label"`, ErrMissing},
		{"another size there", map[int][]byte{third: otherSize}, third, "after examples of", ErrShape},
		{"a bad CRC there", map[int][]byte{third: badData}, third, "data's CRC", ErrChecksum},
		{"a bad length there", map[int][]byte{third: badLength}, third, "length's CRC", ErrChecksum},
		{"no label before a bad CRC in one batch", map[int][]byte{third: noLabel, third + 20: badData}, third, "no label", ErrMissing},
		{"a bad CRC before no label in the next batch", map[int][]byte{third: badData, third + recordBatchSize: noLabel}, third, "data's CRC", ErrChecksum},
		{"in the last record", map[int][]byte{1999: otherSize}, 1999, "after examples of", ErrShape},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var file []byte
			offset := 0
			for i := range 2000 {
				r := good
				if b, ok := tc.bad[i]; ok {
					r = b
				}
				if i == tc.first {
					offset = len(file)
				}
				file = append(file, r...)
			}
			p := writeFile(t, t.TempDir(), "many.tfrecord", file)
			src, err := ParseSource("tfrecord:" + p + ":image=image:label=label:holdout=0.5")
			if err != nil {
				t.Fatal(err)
			}
			_, err = Open(src, Options{})
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			for _, w := range []string{p, fmt.Sprintf("record %d at offset %d", tc.first, offset), tc.want} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	t.Run("a whole number of batches", func(t *testing.T) {
		p := writeFile(t, t.TempDir(), "even.tfrecord", bytes.Repeat(good, 2*recordBatchSize))
		src, err := ParseSource("tfrecord:" + p + ":image=image:label=label:holdout=0.5")
		if err != nil {
			t.Fatal(err)
		}
		d, err := Open(src, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if n := d.Train.Len() + d.Test.Len(); n != 2*recordBatchSize {
			t.Errorf("%d examples, want %d", n, 2*recordBatchSize)
		}
	})
}
