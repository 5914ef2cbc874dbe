package main

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestDependencies holds the binaries to the split of the process tree: the TensorFlow-linked
// worker takes no YAML and starts no processes, and the pure-Go front links neither the trainer,
// nor the model, nor TensorFlow's cgo binding (graft's generated protobuf packages are pure Go).
func TestDependencies(t *testing.T) {
	const module = "github.com/tfsweep/tfsweep/"
	for _, tc := range []struct {
		pkg    string
		banned func(dep string) bool
	}{
		{module + "cmd/tfsweep-worker", func(dep string) bool {
			return strings.Contains(dep, "yaml") || dep == "os/exec" || dep == module+"sweep"
		}},
		{module + "cmd/tfsweep", func(dep string) bool {
			return dep == module+"trainer" || dep == module+"model" || dep == module+"worker" ||
				dep == "github.com/wamuir/graft/tensorflow"
		}},
	} {
		cmd := exec.Command("go", "list", "-deps", tc.pkg)
		// As the worker is built: with cgo, so that the cgo packages are listed as they are linked.
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", tc.pkg, err)
		}
		deps := strings.Fields(string(out))
		if !slices.Contains(deps, tc.pkg) || !slices.Contains(deps, module+"spec") {
			t.Fatalf("go list -deps %s lists neither the package nor spec: %v", tc.pkg, deps)
		}
		for _, dep := range deps {
			if tc.banned(dep) {
				t.Errorf("%s depends on %s", tc.pkg, dep)
			}
		}
	}
}
