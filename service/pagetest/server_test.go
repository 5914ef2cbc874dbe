package pagetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// root is the main module's directory, from which the binaries are built.
const root = "../.."

// binDir holds the tfsweep and tfsweep-worker binaries built for this test run.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "tfsweep-pagetest-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		binDir = dir
		for _, b := range []struct{ name, pkg, cgo string }{
			{"tfsweep", "./cmd/tfsweep", "0"}, {"tfsweep-worker", "./cmd/tfsweep-worker", "1"},
		} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(dir, b.name), b.pkg)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "CGO_ENABLED="+b.cgo)
			if out, err := cmd.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "build %s: %v\n%s", b.name, err, out)
				return 1
			}
		}
		return m.Run()
	}())
}

// tinySweep trains two runs of 1000 examples for one epoch: about a second.
const tinySweep = "limit: 1000\ndefaults:\n  epochs: 1\ngrids:\n  - batch_size: [128, 256]\n"

// longSweep trains long enough to be caught running: 20 epochs of 5000 examples in batches of 32.
const longSweep = "limit: 5000\ndefaults:\n  epochs: 20\ngrids:\n  - batch_size: 32\n"

// endlessSweep trains for as long as any test looks at it (1000 epochs); startRunning cancels it
// when the test ends.
const endlessSweep = "limit: 5000\ndefaults:\n  epochs: 1000\ngrids:\n  - batch_size: 32\n"

// server is a started `tfsweep serve`.
type server struct {
	url, token string
	cmd        *exec.Cmd
	log        syncBuffer // its stderr: the request log
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startServer starts tfsweep serve on loopback (with token, unless "") and waits for /healthz.
func startServer(t *testing.T, token string) *server {
	t.Helper()
	data := os.Getenv("TFSWEEP_DATA_DIR")
	if data == "" {
		t.Fatal("TFSWEEP_DATA_DIR is not set: run `make test`, or `scripts/setup-data.sh` and export TFSWEEP_DATA_DIR=$PWD/data/mnist")
	}
	addr := freeAddr(t)
	s := &server{url: "http://" + addr, token: token}
	s.cmd = exec.Command(filepath.Join(binDir, "tfsweep"), "serve", "--addr", addr, "--logdir", t.TempDir(), "--data-dir", data, "--device", "cpu")
	s.cmd.Env = append(os.Environ(), "TFSWEEP_WORKER="+filepath.Join(binDir, "tfsweep-worker"), "TFSWEEP_TOKEN="+token)
	s.cmd.Stderr = &s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	t.Cleanup(func() { s.cmd.Process.Kill(); <-done })
	waitFor(t, 30*time.Second, "the server to answer", func() bool {
		select {
		case <-done:
			t.Fatalf("tfsweep serve exited: %v\n%s", s.cmd.ProcessState, s.log.String())
		default:
		}
		code, _ := s.call(t, "GET", "/healthz", "")
		return code == http.StatusOK
	})
	return s
}

// call makes a request as a client that is not a browser, with the token.
func (s *server) call(t *testing.T, method, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/yaml")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

func (s *server) submit(t *testing.T, spec string) string {
	t.Helper()
	code, body := s.call(t, "POST", "/api/v1/sweeps", spec)
	var created struct{ ID string }
	if code != http.StatusCreated || json.Unmarshal(body, &created) != nil {
		t.Fatalf("POST /sweeps: %d %s", code, body)
	}
	return created.ID
}

// sweep is what GET /sweeps/{id} says of a sweep.
type sweep struct {
	State string
	Runs  []struct{ Name, State string }
}

func (s *server) get(t *testing.T, id string) sweep {
	t.Helper()
	code, body := s.call(t, "GET", "/api/v1/sweeps/"+id, "")
	var v sweep
	if code != http.StatusOK || json.Unmarshal(body, &v) != nil {
		t.Fatalf("GET /sweeps/%s: %d %s", id, code, body)
	}
	return v
}

func (s *server) waitState(t *testing.T, id string, limit time.Duration, state string) {
	t.Helper()
	waitFor(t, limit, id+" to be "+state, func() bool { return s.get(t, id).State == state })
}

// startRunning submits endlessSweep, waits until it trains, and cancels it when the test ends.
func (s *server) startRunning(t *testing.T) string {
	t.Helper()
	id := s.submit(t, endlessSweep)
	t.Cleanup(func() { s.call(t, "POST", "/api/v1/sweeps/"+id+"/cancel", "") })
	s.waitRunning(t, id)
	return id
}

// waitRunning waits until the sweep's first run has trained a step.
func (s *server) waitRunning(t *testing.T, id string) {
	t.Helper()
	waitFor(t, time.Minute, id+" to train", func() bool {
		v := s.get(t, id)
		return v.State == "running" && len(v.Runs) > 0 && v.Runs[0].State == "running"
	})
}
