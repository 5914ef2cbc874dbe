package dataset

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// testPNGs are the PNGs PIL and TensorFlow wrote for the fixtures, and Go's encoder's of every colour
// model it writes (its filter choice gives smooth images all five filters).
func testPNGs(t *testing.T) map[string][]byte {
	t.Helper()
	pngs := map[string][]byte{}
	err := filepath.WalkDir(fixtures(t), func(path string, e fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, ".png") {
			pngs[path], err = os.ReadFile(path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	r := image.Rect(0, 0, 37, 23)
	smooth := func(x, y, c int) uint8 { return uint8(x*7 + y*y + 40*c + x*y/5) }
	images := map[string]image.Image{
		"gray": image.NewGray(r), "rgb": image.NewRGBA(r), "nrgba": image.NewNRGBA(r),
		"gray16": image.NewGray16(r), "paletted": image.NewPaletted(r, color.Palette{color.Black, color.White, color.Gray{90}}),
	}
	for y := range r.Dy() {
		for x := range r.Dx() {
			images["gray"].(*image.Gray).SetGray(x, y, color.Gray{smooth(x, y, 0)})
			images["rgb"].(*image.RGBA).SetRGBA(x, y, color.RGBA{smooth(x, y, 0), smooth(x, y, 1), smooth(x, y, 2), 255})
			images["nrgba"].(*image.NRGBA).SetNRGBA(x, y, color.NRGBA{smooth(x, y, 0), smooth(x, y, 1), smooth(x, y, 2), smooth(x, y, 3)})
			images["gray16"].(*image.Gray16).SetGray16(x, y, color.Gray16{uint16(smooth(x, y, 0)) * 257})
			images["paletted"].(*image.Paletted).SetColorIndex(x, y, uint8((x+y)%3))
		}
	}
	for name, img := range images {
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		pngs["go-"+name] = b.Bytes()
	}
	for _, colorType := range []byte{pngGray, pngRGB, pngGrayAlpha, pngRGBA} {
		pngs[fmt.Sprintf("every filter, colour type %d", colorType)] = everyFilterPNG(t, colorType)
	}
	return pngs
}

// everyFilterPNG is a 9x10 PNG whose rows take the five filters in turn over noise, its compressed data
// split over two IDAT chunks.
func everyFilterPNG(t *testing.T, colorType byte) []byte {
	const rows, cols = 10, 9
	channels := map[byte]int{pngGray: 1, pngRGB: 3, pngGrayAlpha: 2, pngRGBA: 4}[colorType]
	raw := make([]byte, 0, rows*(cols*channels+1))
	for y := range rows {
		raw = append(raw, byte(y%5))
		for x := range cols * channels {
			raw = append(raw, byte(x*131+y*71+x*x*y))
		}
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	if _, err := zw.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	chunk := func(b []byte, kind string, data []byte) []byte {
		b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
		start := len(b)
		b = append(append(b, kind...), data...)
		return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:]))
	}
	ihdr := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, cols), rows)
	b := chunk([]byte(pngSignature), "IHDR", append(ihdr, 8, colorType, 0, 0, 0))
	half := z.Len() / 2
	b = chunk(chunk(b, "IDAT", z.Bytes()[:half]), "IDAT", z.Bytes()[half:])
	return chunk(b, "IEND", nil)
}

// TestPNGDecoderAgreesWithImagePNG shows that the PNG decoder returns image/png's pixels for every PNG it
// takes, takes every 8-bit non-interlaced grey, grey+alpha, RGB and RGBA PNG, and declines what image/png
// refuses: a flipped byte anywhere, or bad compressed data under a good CRC.
func TestPNGDecoderAgreesWithImagePNG(t *testing.T) {
	var pd pngDecoder
	filters := map[byte]bool{}
	taken := 0
	for name, b := range testPNGs(t) {
		h, fast := pd.readChunks(b)
		if fast {
			raw := make([]byte, h.rows*(h.cols*h.channels+1))
			if fast = pd.inflate(raw); fast {
				for y := range h.rows {
					filters[raw[y*(h.cols*h.channels+1)]] = true
				}
			}
		}
		// IHDR: depth at 24, colour type at 25, interlace at 28.
		_, _, _, err := decodePixels(b, 1)
		if want := err == nil && b[24] == 8 && slices.Contains([]byte{0, 2, 4, 6}, b[25]) && b[28] == 0; fast != want {
			t.Errorf("%s: taken %v, want %v", name, fast, want)
		}
		for _, channels := range []int{1, 3} {
			if comparePNG(t, &pd, name, b, channels) {
				taken++
			}
		}
	}
	if len(filters) != 5 || taken == 0 {
		t.Errorf("the PNGs used filters %v and %d decodes took the fast path: want all five filters and some", filters, taken)
	}
	// A flipped byte anywhere in a small PNG, and bad compressed data with a correct CRC.
	b := testPNGs(t)["go-nrgba"]
	for i := range b {
		damaged := slices.Clone(b)
		damaged[i] ^= 0x55
		comparePNG(t, &pd, "go-nrgba flipped", damaged, 3)
	}
	at := bytes.Index(b, []byte("IDAT"))
	n := int(binary.BigEndian.Uint32(b[at-4:]))
	for i := at + 4; i < at+4+n; i++ {
		if i%7 != 0 && i < at+n { // every 7th byte, and every byte of zlib's checksum at the end
			continue
		}
		damaged := slices.Clone(b)
		damaged[i] ^= 0x55
		binary.BigEndian.PutUint32(damaged[at+4+n:], crc32.ChecksumIEEE(damaged[at:at+4+n]))
		comparePNG(t, &pd, "go-nrgba recompressed", damaged, 3)
	}
}

// comparePNG checks that pd's decoding of b, when it takes b, is image/png's; it reports whether pd took b.
func comparePNG(t *testing.T, pd *pngDecoder, name string, b []byte, channels int) bool {
	t.Helper()
	pix, rows, cols, ok := pd.decode(b, channels)
	wantPix, wantRows, wantCols, err := decodePixels(b, channels)
	switch {
	case !ok:
		return false
	case err != nil:
		t.Errorf("%s, %d channels: taken, but image/png says %v", name, channels, err)
	case rows != wantRows || cols != wantCols || !bytes.Equal(pix, wantPix):
		t.Errorf("%s, %d channels: %dx%d %v, image/png reads %dx%d %v", name, channels, rows, cols, pix, wantRows, wantCols, wantPix)
	}
	return true
}

// TestPNGDecoderKeepsEarlierPixels shows that the pixels the decoder returns stay as they were while it
// decodes more images (and declines some) after them: each image's, kept, is image/png's at the end.
func TestPNGDecoderKeepsEarlierPixels(t *testing.T) {
	var pd pngDecoder
	kept := map[string][]byte{}
	pngs := testPNGs(t)
	for round := range 4 { // past a block of pixels
		for name, b := range pngs {
			channels := 1 + 2*(round%2)
			if pix, _, _, ok := pd.decode(b, channels); ok {
				kept[fmt.Sprintf("%s, round %d", name, round)] = pix
			}
			pd.decode(b[:len(b)/2], channels) // declined
		}
	}
	for name, b := range pngs {
		for round := range 4 {
			pix, ok := kept[fmt.Sprintf("%s, round %d", name, round)]
			if !ok {
				continue
			}
			want, _, _, err := decodePixels(b, 1+2*(round%2))
			if err != nil || !bytes.Equal(pix, want) {
				t.Fatalf("%s, round %d: the pixels changed after (%v)", name, round, err)
			}
		}
	}
	if len(kept) == 0 {
		t.Error("no image decoded")
	}
}

// TestPaeth checks the Paeth predictor against the PNG specification's (section 9.4), written as it is
// there, for every left, upper and upper-left byte.
func TestPaeth(t *testing.T) {
	for a := range 256 {
		for b := range 256 {
			for c := range 256 {
				p := a + b - c
				pa, pb, pc := max(p-a, a-p), max(p-b, b-p), max(p-c, c-p)
				want := c
				if pa <= pb && pa <= pc {
					want = a
				} else if pb <= pc {
					want = b
				}
				if got := paeth(byte(a), byte(b), byte(c)); int(got) != want {
					t.Fatalf("paeth(%d, %d, %d) = %d, want %d", a, b, c, got, want)
				}
			}
		}
	}
}
