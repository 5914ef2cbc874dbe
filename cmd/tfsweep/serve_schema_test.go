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
// OpenAPI file, valid and not, follows its links from a created sweep to its other operations, and
// checks every response: no 5xx, every status, content type, header and body as the file
// describes them, 405 for undeclared methods. Its seed is random: a failure prints the seed that
// replays it.
func TestServeMatchesOpenAPI(t *testing.T) {
	out, err := exec.Command(filepath.Join("..", "..", "scripts", "setup-python.sh"), "api").Output()
	if err != nil {
		t.Fatalf("scripts/setup-python.sh api: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	cli := filepath.Join(filepath.Dir(lines[len(lines)-1]), "schemathesis")
	s := startServer(t, freeAddr(t), t.TempDir(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cli, "run", s.url+"/api/v1/openapi.yaml", "--url", s.url,
		"--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,unsupported_method",
		"--max-examples", "25", "--request-timeout", "30")
	// schemathesis keeps a cache (.schemathesis) in its working directory: not in the source tree.
	cmd.Dir = t.TempDir()
	report, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("schemathesis found the API unlike its OpenAPI file (%v):\n%s", err, report)
	}
	if !strings.Contains(string(report), "passed") {
		t.Fatalf("schemathesis tested nothing:\n%s", report)
	}
}
