// Package datafixtures lets tests write small data sets in every format dataset reads, with the formats'
// own writers (numpy, PIL, TensorFlow), through scripts/make_data_fixtures.py and the Python that
// `scripts/setup-python.sh data` installs ($TFSWEEP_DATA_PYTHON, which the Makefile sets). A missing
// Python or MNIST directory is an error: the tests that need them fail, never skip.
package datafixtures

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"
)

// Write runs the writers into dir, an empty or new directory: every format's small cases, the files
// readers must refuse under dir/bad, dir/manifest.json, and the first MNIST images (class after class)
// as dir/mnist-idx, dir/mnist.npz and dir/mnist-png/{train,test}.
func Write(dir string) error {
	python := os.Getenv("TFSWEEP_DATA_PYTHON")
	if python == "" {
		return fmt.Errorf("TFSWEEP_DATA_PYTHON is not set: run `make test`, or " +
			"`export TFSWEEP_DATA_PYTHON=$(scripts/setup-python.sh data | tail -1)` from the repository root")
	}
	mnist := os.Getenv("TFSWEEP_DATA_DIR")
	if mnist == "" {
		return fmt.Errorf("TFSWEEP_DATA_DIR is not set: run `make test`, or scripts/setup-data.sh")
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return fmt.Errorf("datafixtures: cannot locate scripts/make_data_fixtures.py")
	}
	script := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "make_data_fixtures.py")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, python, script, dir, "--mnist", mnist).CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %v\n%s", python, script, err, out)
	}
	return nil
}
