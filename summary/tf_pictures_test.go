package summary_test

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/tfsweep/tfsweep/summary"
)

// tfPictures is testdata/tf_pictures/inputs.json: what scripts/make_picture_fixtures.py gave
// tf.summary.image and TensorBoard's pr_curve summary.
type tfPictures struct {
	Images map[string]struct {
		Shape  [4]int    `json:"shape"`
		Values []float32 `json:"values"`
	} `json:"images"`
	PRCurves map[string]struct {
		Labels        []int     `json:"labels"`
		Predictions   []float32 `json:"predictions"`
		NumThresholds int       `json:"num_thresholds"`
	} `json:"pr_curves"`
}

// readTFPictures returns the fixture's inputs and its values by tag.
func readTFPictures(t *testing.T) (tfPictures, map[string]summary.Value) {
	t.Helper()
	dir := filepath.Join("testdata", "tf_pictures")
	b, err := os.ReadFile(filepath.Join(dir, "inputs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var in tfPictures
	if err := json.Unmarshal(b, &in); err != nil {
		t.Fatal(err)
	}
	files, err := summary.EventFiles(dir)
	if err != nil || len(files) != 1 {
		t.Fatalf("event files %v, %v", files, err)
	}
	events, err := summary.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]summary.Value{}
	for _, ev := range events {
		for _, v := range ev.Values {
			values[v.Tag] = v
		}
	}
	return in, values
}

// TestPixelImageIsTFSummaryImage draws the fixture's float batches with PixelImage and compares
// every pixel with the PNGs tf.summary.image wrote from them.
func TestPixelImageIsTFSummaryImage(t *testing.T) {
	in, values := readTFPictures(t)
	if len(in.Images) != 3 {
		t.Fatalf("%d image batches in the fixture, want 3", len(in.Images))
	}
	for tag, batch := range in.Images {
		n, h, w, c := batch.Shape[0], batch.Shape[1], batch.Shape[2], batch.Shape[3]
		v := values[tag]
		if v.Plugin != summary.PluginImages || len(v.Images) != n || v.ImageWidth != w || v.ImageHeight != h {
			t.Fatalf("%s: %d images of %dx%d (plugin %q), want %d of %dx%d", tag, len(v.Images), v.ImageWidth, v.ImageHeight, v.Plugin, n, w, h)
		}
		for i, encoded := range v.Images {
			theirs, err := png.Decode(bytes.NewReader(encoded))
			if err != nil {
				t.Fatal(err)
			}
			ours, err := summary.PixelImage(batch.Values[i*h*w*c:(i+1)*h*w*c], h, w, c, 0, 1)
			if err != nil {
				t.Fatal(err)
			}
			comparePixels(t, tag, i, ours, theirs)
		}
	}
}

func comparePixels(t *testing.T, tag string, i int, ours, theirs image.Image) {
	t.Helper()
	if ours.Bounds() != theirs.Bounds() {
		t.Fatalf("%s image %d: ours %v, TensorFlow's %v", tag, i, ours.Bounds(), theirs.Bounds())
	}
	for y := 0; y < ours.Bounds().Dy(); y++ {
		for x := 0; x < ours.Bounds().Dx(); x++ {
			a := color.NRGBAModel.Convert(ours.At(x, y))
			b := color.NRGBAModel.Convert(theirs.At(x, y))
			if a != b {
				t.Errorf("%s image %d at (%d, %d): ours %v, TensorFlow's %v", tag, i, x, y, a, b)
			}
		}
	}
}

// TestNewPRCurveIsTensorBoards computes the fixture's curves with NewPRCurve and compares them
// with what TensorBoard's own pr_curve summary wrote: counts equal, precision and recall equal as
// float32, the threshold count in the plugin data the same.
func TestNewPRCurveIsTensorBoards(t *testing.T) {
	in, values := readTFPictures(t)
	if len(in.PRCurves) != 2 {
		t.Fatalf("%d PR curves in the fixture, want 2", len(in.PRCurves))
	}
	for tag, pr := range in.PRCurves {
		theirs := values[tag].PRCurve
		if values[tag].Plugin != summary.PluginPRCurves || theirs == nil {
			t.Fatalf("%s: plugin %q, curve %v", tag, values[tag].Plugin, theirs)
		}
		positive := make([]bool, len(pr.Labels))
		for j, l := range pr.Labels {
			positive[j] = l == 1
		}
		ours, err := summary.NewPRCurve(positive, pr.Predictions, pr.NumThresholds)
		if err != nil {
			t.Fatal(err)
		}
		rows := map[string][2][]float64{
			"true positives": {ours.TruePositives, theirs.TruePositives}, "false positives": {ours.FalsePositives, theirs.FalsePositives},
			"true negatives": {ours.TrueNegatives, theirs.TrueNegatives}, "false negatives": {ours.FalseNegatives, theirs.FalseNegatives},
			"precision": {ours.Precision, theirs.Precision}, "recall": {ours.Recall, theirs.Recall},
		}
		for name, r := range rows {
			if len(r[0]) != pr.NumThresholds || len(r[1]) != pr.NumThresholds {
				t.Fatalf("%s %s: ours %d thresholds, TensorBoard's %d, want %d", tag, name, len(r[0]), len(r[1]), pr.NumThresholds)
			}
			for i := range r[0] {
				if math.Float32bits(float32(r[0][i])) != math.Float32bits(float32(r[1][i])) {
					t.Errorf("%s %s at threshold %d: ours %v, TensorBoard's %v", tag, name, i, r[0][i], r[1][i])
				}
			}
		}
	}
}
