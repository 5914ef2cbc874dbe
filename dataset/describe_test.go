package dataset

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tfsweep/tfsweep/spec"
)

// describeData is what Describe should say of data Open read.
func describeData(t *testing.T, d *Data) Description {
	t.Helper()
	size, err := d.Float32Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return Description{TrainExamples: d.Train.Len(), TestExamples: d.Test.Len(), Shape: d.Train.Shape,
		Classes: d.Classes, ClassNames: d.ClassNames, Snapshot: d.Snapshot, Float32Bytes: size}
}

// TestDescribeAgreesWithOpen describes every data set the writers made as Open reads it: without a cache,
// from the decoded cache (for the formats that have one) and handed the entries an Open read.
func TestDescribeAgreesWithOpen(t *testing.T) {
	dir := fixtures(t)
	time.Sleep(racyMargin) // files written moments ago are not cached
	for _, tc := range readManifest(t, dir) {
		t.Run(tc.Name, func(t *testing.T) {
			src := mustParse(t, tc.Spec)
			cache := t.TempDir()
			first := mustOpen(t, src, Options{CacheDir: cache})
			if first.Train.Len() != len(tc.Train.Labels) || first.Test.Len() != len(tc.Test.Labels) || first.Classes != tc.Classes {
				t.Fatalf("Open read %d+%d examples of %d classes, the writers wrote %d+%d of %d",
					first.Train.Len(), first.Test.Len(), first.Classes, len(tc.Train.Labels), len(tc.Test.Labels), tc.Classes)
			}
			for _, read := range []struct {
				name string
				opts Options
			}{
				{"no cache", Options{}},
				{"from the cache", Options{CacheDir: cache}},
				{"handed", Options{CacheDir: cache, Snapshot: first.Snapshot}},
			} {
				want := describeData(t, mustOpen(t, src, read.opts))
				got, err := Describe(src, read.opts)
				if err != nil {
					t.Fatalf("%s: %v", read.name, err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s: Describe says\n%+v, Open read\n%+v", read.name, got, want)
				}
				if got.Features()*4+4 != int(got.Float32Bytes)/(got.TrainExamples+got.TestExamples) {
					t.Errorf("%s: %d features, %d float32 bytes for %d+%d examples", read.name, got.Features(), got.Float32Bytes, got.TrainExamples, got.TestExamples)
				}
			}
			// The budget: exactly the data's size admits them; a byte less refuses them, by what the files
			// declare when a split is decoded, by what its entry holds when the cache serves it.
			want := describeData(t, first).Float32Bytes
			fromEntry := "its files declare" // a format without a decoded cache is estimated first
			switch src.Kind {
			case KindImages, KindIDX, KindCSV, KindTFRecord:
				fromEntry = "examples of " + fmt.Sprint(first.Train.Shape) + " take"
			}
			for _, read := range []struct {
				name, refusal string
				cache         func() string
			}{
				{"through an empty cache", "its files declare", t.TempDir},
				{"from the cache", fromEntry, func() string { return cache }},
			} {
				if _, err := Describe(src, Options{CacheDir: read.cache(), Budget: want}); err != nil {
					t.Errorf("%s: a budget of %d: %v", read.name, want, err)
				}
				_, err := Describe(src, Options{CacheDir: read.cache(), Budget: want - 1})
				if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), read.refusal) {
					t.Errorf("%s: a budget of %d: %v, want %v saying %q", read.name, want-1, err, ErrTooLarge, read.refusal)
				}
			}
		})
	}
}

// TestDescribeReadsNoValues damages the examples' values in every decoded-cache entry, after their
// header: Describe still describes the data, from the cache and handed, and leaves the entries as they
// were (a read of the values would have failed the CRC and decoded the files again, rewriting them). A
// worker's Open handed the entries finds the damage, reads the files instead and gets the data they hold.
func TestDescribeReadsNoValues(t *testing.T) {
	dir := fixtures(t)
	time.Sleep(racyMargin)
	cached := 0
	for _, tc := range readManifest(t, dir) {
		src := mustParse(t, tc.Spec)
		switch src.Kind {
		case KindImages, KindIDX, KindCSV, KindTFRecord:
		default:
			continue
		}
		cached++
		t.Run(tc.Name, func(t *testing.T) {
			cache := t.TempDir()
			first := mustOpen(t, src, Options{CacheDir: cache})
			snap := first.Snapshot
			if snap.Train.Path == "" {
				t.Fatalf("snapshot %+v: nothing was cached", snap)
			}
			damaged := damageValues(t, snap)
			want := describeData(t, first)
			for _, opts := range []Options{{CacheDir: cache}, {CacheDir: cache, Snapshot: snap}} {
				got, err := Describe(src, opts)
				if err != nil {
					t.Fatalf("handed %t: %v", opts.Snapshot != (spec.DataSnapshot{}), err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("handed %t: Describe says\n%+v, Open read\n%+v", opts.Snapshot != (spec.DataSnapshot{}), got, want)
				}
				for path, b := range damaged {
					if now, err := os.ReadFile(path); err != nil || !bytes.Equal(now, b) {
						t.Fatalf("handed %t: the damaged entry %s was read and rewritten (%v)", opts.Snapshot != (spec.DataSnapshot{}), path, err)
					}
				}
			}
			d, err := Open(src, Options{CacheDir: cache, Snapshot: snap})
			if err != nil {
				t.Fatalf("a worker's Open of damaged entries: %v", err)
			}
			if !reflect.DeepEqual(d.Train, first.Train) || !reflect.DeepEqual(d.Test, first.Test) || d.Classes != first.Classes {
				t.Error("a worker's Open of damaged entries: the data differ from the files'")
			}
		})
	}
	if cached < 4 {
		t.Fatalf("%d data sets with a decoded cache, want every such format's", cached)
	}
}

// damageValues flips a byte in the middle of the examples' values of each of the snapshot's entries and
// returns the entries' damaged bytes.
func damageValues(t *testing.T, snap spec.DataSnapshot) map[string][]byte {
	t.Helper()
	damaged := map[string][]byte{}
	for _, e := range []spec.DataEntry{snap.Train, snap.Test} {
		if e.Path == "" {
			continue
		}
		z, err := openNPZ(e.Path)
		if err != nil {
			t.Fatal(err)
		}
		f, _, err := z.find("x")
		if err != nil {
			t.Fatal(err)
		}
		at, err := f.DataOffset()
		if err != nil {
			t.Fatal(err)
		}
		size := int64(f.UncompressedSize64)
		_, _, header, err := readNPYHeader(io.NewSectionReader(z.file, at, size))
		z.Close()
		if err != nil || size == header {
			t.Fatalf("%s: header of %d bytes, %d in all: %v", e.Path, header, size, err)
		}
		flipByte(t, e.Path, at+header+(size-header)/2)
		if damaged[e.Path], err = os.ReadFile(e.Path); err != nil {
			t.Fatal(err)
		}
	}
	return damaged
}
