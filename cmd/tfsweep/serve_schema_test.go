package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// schemathesis (from PyPI, in its own venv: scripts/setup-python.sh api) generates requests from the
// OpenAPI file, valid and not, and checks every response with every check it has: no 5xx, every
// status, content type, header and body as the file describes them, 405 for undeclared methods,
// invalid data refused and valid data accepted (service/schemathesis.toml says why a valid-looking
// sweep file may still be 400), auth enforced; its stateful phase then follows the file's links from
// a created sweep through its other operations. Its seed is random: a failure prints the seed that
// replays it.
func TestServeMatchesOpenAPI(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(filepath.Join("..", "..", "scripts", "setup-python.sh"), "api").Output()
	if err != nil {
		t.Fatalf("scripts/setup-python.sh api: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	cli := filepath.Join(filepath.Dir(lines[len(lines)-1]), "schemathesis")
	config, err := filepath.Abs(filepath.Join("..", "..", "service", "schemathesis.toml"))
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, freeAddr(t), t.TempDir(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cli, "--config-file", config, "run", s.url+"/api/v1/openapi.yaml", "--url", s.url,
		"--checks", "all", "--phases", "examples,coverage,fuzzing,stateful", "--max-examples", "25", "--request-timeout", "30")
	// schemathesis keeps a cache (.schemathesis) in its working directory: not in the source tree.
	cmd.Dir = t.TempDir()
	report, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("schemathesis found the API unlike its OpenAPI file (%v):\n%s", err, report)
	}
	for _, phase := range []string{"✅ Examples", "✅ Coverage", "✅ Fuzzing", "✅ Stateful"} {
		if !strings.Contains(string(report), phase) {
			t.Errorf("schemathesis did not pass phase %q:\n%s", phase, report)
		}
	}
}
