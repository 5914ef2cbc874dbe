package modelfile

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds Parse mutations of the model files and Keras JSONs in testdata: whatever the
// bytes, it returns a network that resolves or an error, and never panics.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"testdata/*.yaml", "testdata/*.json", "testdata/keras/*.json"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := Parse(data, "fuzz.json")
		if err != nil {
			return
		}
		if _, err := n.Summary(); err != nil {
			t.Fatalf("Parse accepted a network that does not resolve: %v", err)
		}
	})
}
