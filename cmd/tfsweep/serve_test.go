package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tfsweep/tfsweep/internal/datafixtures"
	"github.com/tfsweep/tfsweep/service"
	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/summary"
	"github.com/tfsweep/tfsweep/sweep"
)

// These tests run the real `tfsweep serve` on loopback and train real MNIST through it.

// tinySweep trains two runs of 1000 examples for one epoch: about a second.
const tinySweep = "limit: 1000\ndefaults:\n  epochs: 1\ngrids:\n  - batch_size: [128, 256]\n"

// longSweep trains long enough to be caught running: 20 epochs of 5000 examples in batches of 32.
const longSweep = "limit: 5000\ndefaults:\n  epochs: 20\ngrids:\n  - batch_size: 32\n"

// server is a started `tfsweep serve`.
type server struct {
	url    string
	token  string
	cmd    *exec.Cmd
	stderr syncBuffer // written by the server process while the test reads it
	done   chan struct{}
}

// syncBuffer is a bytes.Buffer safe to read while a process's output is copied into it.
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

// startServer starts tfsweep serve on addr over logdir and waits for /healthz.
func startServer(t *testing.T, addr, logdir string, env []string, args ...string) *server {
	t.Helper()
	s := &server{url: "http://" + addr, done: make(chan struct{})}
	s.cmd = exec.Command(filepath.Join(binDir, "tfsweep"), append([]string{"serve", "--addr", addr, "--logdir", logdir,
		"--data-dir", realData(t), "--device", "cpu"}, args...)...)
	s.cmd.Env = append(os.Environ(), env...)
	s.cmd.Stderr = &s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		<-s.done
	})
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "TFSWEEP_TOKEN="); ok {
			s.token = v
		}
	}
	waitFor(t, 30*time.Second, "the server to answer", func() bool {
		select {
		case <-s.done:
			t.Fatalf("tfsweep serve exited: %v\n%s", s.cmd.ProcessState, s.stderr.String())
		default:
		}
		code, _ := s.call(t, "GET", "/healthz", "")
		return code == http.StatusOK
	})
	return s
}

// call makes a request with the server's token and returns the status and body (0 when the server
// could not be reached).
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
	var created struct{ ID, State string }
	if code != http.StatusCreated || json.Unmarshal(body, &created) != nil || created.ID == "" || created.State != "queued" {
		t.Fatalf("POST /sweeps: %d %s", code, body)
	}
	return created.ID
}

func (s *server) get(t *testing.T, id string) service.SweepView {
	t.Helper()
	code, body := s.call(t, "GET", "/api/v1/sweeps/"+id, "")
	var v service.SweepView
	if code != http.StatusOK || json.Unmarshal(body, &v) != nil {
		t.Fatalf("GET /sweeps/%s: %d %s", id, code, body)
	}
	return v
}

func (s *server) waitState(t *testing.T, id string, limit time.Duration, states ...spec.Status) service.SweepView {
	t.Helper()
	var v service.SweepView
	waitFor(t, limit, fmt.Sprint(id, " to be ", states), func() bool {
		v = s.get(t, id)
		for _, st := range states {
			if v.State == st {
				return true
			}
		}
		return false
	})
	return v
}

func result(t *testing.T, v service.SweepView) sweep.Result {
	t.Helper()
	var res sweep.Result
	if err := json.Unmarshal(v.Result, &res); err != nil {
		t.Fatalf("%s: result %v: %s", v.ID, err, v.Result)
	}
	return res
}

// The API end to end: submit, follow the event stream to success, the result, report and figures,
// the list, bad specs, unknown ids, metrics, the OpenAPI file, and a second server refused.
func TestServeAPI(t *testing.T) {
	logdir := t.TempDir()
	addr := freeAddr(t)
	s := startServer(t, addr, logdir, nil)

	for _, tc := range []struct{ name, spec, want string }{
		{"unknown key", "limit: 1000\ngrids:\n  - batch_size: 128\n    bogus: 3\n", `body:4: unknown key "bogus"`},
		{"bad value", "grids:\n  - batch_size: [128, -1]\n", "body:2: batch_size"},
		{"no grids", "limit: 1000\n", "no grids"},
		{"limit beyond the data", "limit: 70000\ngrids:\n  - batch_size: 128\n", "limit"},
		{"json unknown key", `{"grids": [{"epochz": 1}]}`, `body:1: unknown key "epochz"`},
		{"not yaml", "grids: [\n", "body:"},
		{"duplicate JSON key", `{"limit": 1000, "limit": 70000, "grids": [{}]}`, `body:1: "limit" appears twice`},
		{"duplicate YAML key in a grid", "grids:\n  - batch_size: 64\n    epochs: 1\n    batch_size: 128\n", `body:4: "batch_size" appears twice (first on line 2)`},
		{"second document", "grids: [{}]\n---\ngrids: [{}]\n", "body:2: a second document"},
		{"trailing JSON", "{\"grids\": [{}]}\n  }", "body:2: data after the document"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := s.call(t, "POST", "/api/v1/sweeps", tc.spec)
			var e struct{ Error string }
			if code != http.StatusBadRequest || json.Unmarshal(body, &e) != nil || !strings.Contains(e.Error, tc.want) {
				t.Errorf("POST %q: %d %s, want 400 naming %q", tc.spec, code, body, tc.want)
			}
		})
	}
	if code, body := s.call(t, "POST", "/api/v1/sweeps", strings.Repeat("#", service.MaxBodyBytes+1)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("an oversized body: %d %s", code, body)
	}
	for _, path := range []string{"/api/v1/sweeps/s-999999", "/api/v1/sweeps/s-999999/events", "/api/v1/sweeps/s-999999/report",
		"/api/v1/sweeps/..%2f..%2fetc/report", "/api/v1/sweeps/s-999999/figures/x.png"} {
		if code, body := s.call(t, "GET", path, ""); code != http.StatusNotFound {
			t.Errorf("GET %s: %d %s, want 404", path, code, body)
		}
	}
	if code, _ := s.call(t, "POST", "/api/v1/sweeps/s-999999/cancel", ""); code != http.StatusNotFound {
		t.Errorf("cancel of an unknown id: %d", code)
	}

	id := s.submit(t, tinySweep)
	if code, _ := s.call(t, "GET", "/api/v1/sweeps/"+id+"/report", ""); code != http.StatusConflict {
		t.Errorf("the report before the sweep ended: %d, want 409", code)
	}
	// Follow the event stream to its end.
	resp, err := http.Get(s.url + "/api/v1/sweeps/" + id + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("events Content-Type %q", ct)
	}
	types := map[string]int{}
	var last service.Event
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var e service.Event
				if err := json.Unmarshal([]byte(data), &e); err != nil {
					t.Errorf("event %q: %v", data, err)
					continue
				}
				types[e.Type]++
				last = e
			}
		}
	}()
	select {
	case <-finished:
	case <-time.After(2 * time.Minute):
		t.Fatalf("the event stream did not end\n%s", s.stderr.String())
	}
	if last.Type != "state" || last.State != spec.StatusSucceeded || last.ExitCode == nil || *last.ExitCode != 0 {
		t.Errorf("the stream's last event %+v, want state succeeded with exit code 0", last)
	}
	if types["epoch"] < 2 || types["run_end"] != 2 {
		t.Errorf("events by type %v, want an epoch and a run_end per run", types)
	}
	v := s.get(t, id)
	res := result(t, v)
	if v.State != spec.StatusSucceeded || v.SweepDir != id || res.Status != spec.StatusSucceeded ||
		len(res.Runs) != 2 || res.SweepDir != v.SweepDir || v.Attempts != 1 || res.Runs[0].Dir != id+"/"+res.Runs[0].Name {
		t.Fatalf("the sweep %+v, result %+v", v.Record, res)
	}
	// No answer names the host's files: paths are relative to the logdir.
	for _, path := range []string{"/api/v1/sweeps/" + id, "/api/v1/sweeps", "/api/v1/sweeps/" + id + "/report"} {
		if _, body := s.call(t, "GET", path, ""); bytes.Contains(body, []byte(logdir)) {
			t.Errorf("GET %s names the logdir %s:\n%.500s", path, logdir, body)
		}
	}
	for i, r := range res.Runs {
		p := v.Runs[i]
		if r.Status != spec.StatusSucceeded || r.EpochsCompleted != 1 || p.Name != r.Name || p.State != "succeeded" ||
			p.Epochs != 1 || p.EpochsCompleted != 1 || p.SamplesPerSecond <= 0 || p.Loss <= 0 {
			t.Errorf("run %d: result %s %s %d epochs; progress %+v", i, r.Name, r.Status, r.EpochsCompleted, p)
		}
	}
	// The result keeps the runs' axes (the run --json shape).
	var axes struct{ Runs []map[string]any }
	if err := json.Unmarshal(v.Result, &axes); err != nil || len(axes.Runs) != 2 || axes.Runs[0]["batch_size"] != 128.0 ||
		axes.Runs[1]["batch_size"] != 256.0 || axes.Runs[1]["limit"] != 1000.0 {
		t.Errorf("the result lacks the runs' axes (%v): %s", err, v.Result)
	}
	// The report and one of its figures; a name outside the figure list is not served.
	code, body := s.call(t, "GET", "/api/v1/sweeps/"+id+"/report", "")
	var doc struct{ Figures []string }
	if code != http.StatusOK || json.Unmarshal(body, &doc) != nil || len(doc.Figures) == 0 {
		t.Fatalf("report: %d %.300s", code, body)
	}
	code, png := s.call(t, "GET", "/api/v1/sweeps/"+id+"/"+doc.Figures[0], "")
	if code != http.StatusOK || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("figure %s: %d, %d bytes", doc.Figures[0], code, len(png))
	}
	for _, name := range []string{"figures/../report.json", "..%2freport.json", "report.md", "nope.png"} {
		if code, _ := s.call(t, "GET", "/api/v1/sweeps/"+id+"/figures/"+name, ""); code != http.StatusNotFound {
			t.Errorf("figure %q: %d, want 404", name, code)
		}
	}
	// Cancelling an ended sweep is refused.
	if code, body := s.call(t, "POST", "/api/v1/sweeps/"+id+"/cancel", ""); code != http.StatusConflict {
		t.Errorf("cancel of a succeeded sweep: %d %s, want 409", code, body)
	}
	// The list, paged and filtered.
	id2 := s.submit(t, tinySweep)
	s.waitState(t, id2, 2*time.Minute, spec.StatusSucceeded)
	for _, tc := range []struct {
		query string
		ids   []string
		next  string
	}{
		{"", []string{id, id2}, ""}, {"?limit=1", []string{id}, id}, {"?limit=1&after=" + id, []string{id2}, ""},
		{"?state=succeeded", []string{id, id2}, ""}, {"?state=queued", nil, ""},
	} {
		code, body := s.call(t, "GET", "/api/v1/sweeps"+tc.query, "")
		var list service.SweepList
		if code != http.StatusOK || json.Unmarshal(body, &list) != nil {
			t.Fatalf("GET /sweeps%s: %d %s", tc.query, code, body)
		}
		var ids []string
		for _, r := range list.Sweeps {
			ids = append(ids, r.ID)
		}
		if fmt.Sprint(ids) != fmt.Sprint(tc.ids) || list.Next != tc.next {
			t.Errorf("GET /sweeps%s: %v next %q, want %v next %q", tc.query, ids, list.Next, tc.ids, tc.next)
		}
	}
	for _, q := range []string{"?limit=0", "?limit=x", "?state=bogus"} {
		if code, _ := s.call(t, "GET", "/api/v1/sweeps"+q, ""); code != http.StatusBadRequest {
			t.Errorf("GET /sweeps%s: %d, want 400", q, code)
		}
	}
	// Metrics and the OpenAPI file.
	_, metrics := s.call(t, "GET", "/metrics", "")
	for _, want := range []string{"tfsweep_queue_depth 0", "tfsweep_runs_running 0", `tfsweep_runs_finished_total{status="succeeded"} 4`, "tfsweep_samples_per_second"} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if code, spec := s.call(t, "GET", "/api/v1/openapi.yaml", ""); code != http.StatusOK || !bytes.HasPrefix(spec, []byte("openapi: 3")) {
		t.Errorf("openapi.yaml: %d %.40s", code, spec)
	}
	// `tfsweep status URL [ID]` and the directory form beside it.
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{s.url}, spec.ExitOK, id2 + "  succeeded"}, {[]string{s.url, id}, spec.ExitOK, "xavier-nobn-b256  succeeded"},
		{[]string{s.url, "s-999999"}, spec.ExitBadInput, ""}, {[]string{filepath.Join(logdir, id)}, spec.ExitOK, "2 runs: 2 succeeded"},
	} {
		var out, errOut bytes.Buffer
		if code := runStatus(t.Context(), tc.args, &out, &errOut); code != tc.code || !strings.Contains(out.String(), tc.want) {
			t.Errorf("status %v: exit %d, want %d with %q\n%s%s", tc.args, code, tc.code, tc.want, out.String(), errOut.String())
		}
	}
	// A second server on the same logdir refuses to start.
	cmd := exec.Command(filepath.Join(binDir, "tfsweep"), "serve", "--addr", freeAddr(t), "--logdir", logdir, "--data-dir", realData(t))
	out, _ := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != spec.ExitBadInput || !strings.Contains(string(out), "another tfsweep serve uses this logdir") {
		t.Errorf("a second server: exit %d\n%s", cmd.ProcessState.ExitCode(), out)
	}
}

// A server's --fuse and --fuse-group out of range stop it at its start, before it reads the data.
func TestServeRefusesBadFuse(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--fuse", "maybe"}, `tfsweep serve: --fuse: "maybe" is not one of auto, on, off`},
		{[]string{"--fuse-group", "-2"}, "tfsweep serve: --fuse-group: -2 must be 0 (auto) or in [1, 256]"},
	} {
		var stdout, stderr bytes.Buffer
		args := append([]string{"--addr", "127.0.0.1:0", "--logdir", t.TempDir(), "--data-dir", filepath.Join(t.TempDir(), "none")}, tc.args...)
		if code := runServe(t.Context(), args, &stdout, &stderr); code != spec.ExitBadInput || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, stderr.String(), spec.ExitBadInput, tc.want)
		}
	}
}

// Off loopback a token is required; with one, every request needs it.
func TestServeToken(t *testing.T) {
	cmd := exec.Command(filepath.Join(binDir, "tfsweep"), "serve", "--addr", "0.0.0.0:0", "--logdir", t.TempDir(), "--data-dir", realData(t))
	cmd.Env = append(os.Environ(), "TFSWEEP_TOKEN=")
	out, _ := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != spec.ExitBadInput || !strings.Contains(string(out), "not a loopback address") {
		t.Errorf("0.0.0.0 without a token: exit %d\n%s", cmd.ProcessState.ExitCode(), out)
	}
	cmd = exec.Command(filepath.Join(binDir, "tfsweep"), "serve", "--addr", "0.0.0.0:0", "--logdir", t.TempDir(), "--data-dir", realData(t))
	cmd.Env = append(os.Environ(), "TFSWEEP_TOKEN=x")
	out, _ = cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != spec.ExitBadInput || !strings.Contains(string(out), "its token must be at least 16 bytes, not 1") {
		t.Errorf("0.0.0.0 with a one-byte token: exit %d\n%s", cmd.ProcessState.ExitCode(), out)
	}
	s := startServer(t, freeAddr(t), t.TempDir(), []string{"TFSWEEP_TOKEN=s3cret-token"})
	for _, tc := range []struct {
		name, header string
		want         int
	}{
		{"none", "", http.StatusUnauthorized}, {"wrong", "Bearer s3cret-tokeX", http.StatusUnauthorized},
		{"not bearer", "s3cret-token", http.StatusUnauthorized}, {"right", "Bearer s3cret-token", http.StatusOK},
	} {
		for _, path := range []string{"/healthz", "/api/v1/sweeps", "/metrics"} {
			req, _ := http.NewRequest("GET", s.url+path, nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("%s token, GET %s: %d, want %d", tc.name, path, resp.StatusCode, tc.want)
			}
		}
	}
	// The web page and its script are static and public; the API they call is not.
	get := func(path string) (*http.Response, []byte) {
		resp, err := http.Get(s.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}
	if resp, page := get("/"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!bytes.Contains(page, []byte(`<script src="/index.js">`)) {
		t.Errorf("GET /: %d %q, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(page))
	}
	if resp, script := get("/index.js"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") ||
		!bytes.Contains(script, []byte(`"/api/v1"`)) || !bytes.Contains(script, []byte("/events")) || !bytes.Contains(script, []byte("/cancel")) {
		t.Errorf("GET /index.js: %d %q, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(script))
	}
	if resp, _ := get("/index.html"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /index.html without the token: %d, want 401 (only / and /index.js are public)", resp.StatusCode)
	}
	// submit reads the token from --token-file.
	tokenFile := filepath.Join(t.TempDir(), "token")
	sweepFile := filepath.Join(t.TempDir(), "sweep.yaml")
	os.WriteFile(tokenFile, []byte("s3cret-token\n"), 0o600)
	os.WriteFile(sweepFile, []byte(tinySweep), 0o644)
	sub := exec.Command(filepath.Join(binDir, "tfsweep"), "submit", sweepFile, "--server", s.url, "--token-file", tokenFile)
	sub.Env = append(os.Environ(), "TFSWEEP_TOKEN=")
	if out, err := sub.CombinedOutput(); err != nil {
		t.Errorf("submit with --token-file: %v\n%s", err, out)
	}
}

// Cancel: a queued sweep does not start, a running one stops as Ctrl-C stops `run`; an ended one
// cannot be cancelled again.
func TestServeCancel(t *testing.T) {
	logdir := t.TempDir()
	s := startServer(t, freeAddr(t), logdir, nil)
	running := s.submit(t, longSweep)
	queued := s.submit(t, tinySweep)
	waitFor(t, time.Minute, running+" to train", func() bool {
		v := s.get(t, running)
		return len(v.Runs) == 1 && v.Runs[0].State == "running" && v.Runs[0].StepInEpoch > 0
	})
	if v := s.get(t, queued); v.State != spec.StatusQueued {
		t.Fatalf("%s is %s, want queued behind %s", queued, v.State, running)
	}
	for _, id := range []string{queued, running} {
		if code, body := s.call(t, "POST", "/api/v1/sweeps/"+id+"/cancel", ""); code != http.StatusOK {
			t.Fatalf("cancel %s: %d %s", id, code, body)
		}
	}
	v := s.waitState(t, running, time.Minute, spec.StatusCancelled, spec.StatusFailed, spec.StatusSucceeded)
	res := result(t, v)
	if v.State != spec.StatusCancelled || *v.ExitCode != spec.ExitInterrupted || res.Status != spec.StatusInterrupted ||
		res.Runs[0].EpochsCompleted >= 20 || !res.Runs[0].Interrupted {
		t.Errorf("the cancelled running sweep: %+v, result %s %+v", v.Record, res.Status, res.Runs)
	}
	if q := s.get(t, queued); q.State != spec.StatusCancelled || q.Started != nil {
		t.Errorf("the cancelled queued sweep: %+v", q.Record)
	}
	if _, err := os.Stat(filepath.Join(logdir, queued)); !os.IsNotExist(err) {
		t.Errorf("the cancelled queued sweep has a directory: %v", err)
	}
	for _, id := range []string{queued, running} {
		if code, _ := s.call(t, "POST", "/api/v1/sweeps/"+id+"/cancel", ""); code != http.StatusConflict {
			t.Errorf("a second cancel of %s: %d, want 409", id, code)
		}
	}
	// The next sweep trains: the queue goes on after a cancel.
	next := s.submit(t, tinySweep)
	s.waitState(t, next, 2*time.Minute, spec.StatusSucceeded)
}

// submit exits with the sweep's own status: 0 every run succeeded, 1 a run failed, 2 bad input;
// its --json lines end with the sweep.
func TestSubmitExitCodes(t *testing.T) {
	s := startServer(t, freeAddr(t), t.TempDir(), nil)
	dir := t.TempDir()
	for _, tc := range []struct {
		name, spec string
		code       int
		want       string // in stdout (--json) or stderr
	}{
		{"succeeded", tinySweep, spec.ExitOK, `"state":"succeeded"`},
		{"failed", "limit: 1000\ndefaults:\n  epochs: 1\n  scale: none\ngrids:\n  - lr: [0.001, 1e300]\n    batch_size: 20\n", spec.ExitRunFailed, "loss is not finite"},
		{"bad input", "limit: 1000\ngrids:\n  - batch_size: 128\n    bogus: 3\n", spec.ExitBadInput, `bad-input.yaml:4: unknown key "bogus"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".yaml")
			os.WriteFile(file, []byte(tc.spec), 0o644)
			cmd := exec.Command(filepath.Join(binDir, "tfsweep"), "submit", file, "--server", s.url, "--json")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			done := make(chan struct{})
			cmd.Start()
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(2 * time.Minute):
				cmd.Process.Kill()
				t.Fatalf("submit did not exit\n%s", stderr.String())
			}
			if code := cmd.ProcessState.ExitCode(); code != tc.code || !strings.Contains(stdout.String()+stderr.String(), tc.want) {
				t.Fatalf("exit %d, want %d with %q\nstdout:\n%s\nstderr:\n%s", code, tc.code, tc.want, stdout.String(), stderr.String())
			}
			if tc.code == spec.ExitBadInput {
				return
			}
			lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
			for _, line := range lines {
				if !json.Valid([]byte(line)) {
					t.Errorf("not a JSON line: %q", line)
				}
			}
			var final struct {
				Type  string
				Sweep service.SweepView
			}
			if json.Unmarshal([]byte(lines[len(lines)-1]), &final) != nil || final.Type != "sweep" || *final.Sweep.ExitCode != tc.code {
				t.Errorf("the last line %q", lines[len(lines)-1])
			}
		})
	}
}

// Kill -9 the server (or stop it with SIGTERM) with one sweep running and two queued, the first queued
// one followed by `tfsweep submit`; a new server on the logdir resumes the running one from its
// checkpoint and trains the queued ones: all three succeed, nothing is lost, the resumed run's logs hold
// each epoch once, and submit, reconnecting across the restart, exits 0.
func TestServeRestartAfterKill(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		sig  syscall.Signal
	}{{"kill-9", syscall.SIGKILL}, {"sigterm", syscall.SIGTERM}} {
		t.Run(tc.name, func(t *testing.T) { testRestart(t, tc.sig) })
	}
}

func testRestart(t *testing.T, sig syscall.Signal) {
	logdir := t.TempDir()
	addr := freeAddr(t)
	s := startServer(t, addr, logdir, nil)
	running := s.submit(t, longSweep)
	sweepFile := filepath.Join(t.TempDir(), "tiny.yaml")
	os.WriteFile(sweepFile, []byte(tinySweep), 0o644)
	sub := exec.Command(filepath.Join(binDir, "tfsweep"), "submit", sweepFile, "--server", s.url, "--json")
	var subOut, subErr bytes.Buffer
	sub.Stdout, sub.Stderr = &subOut, &subErr
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	subDone := make(chan struct{})
	go func() { sub.Wait(); close(subDone) }()
	t.Cleanup(func() { sub.Process.Kill(); <-subDone })
	queued := "s-000002"
	waitFor(t, 2*time.Minute, running+" to complete 2 epochs with "+queued+" queued", func() bool {
		v := s.get(t, running)
		code, _ := s.call(t, "GET", "/api/v1/sweeps/"+queued, "")
		return len(v.Runs) == 1 && v.Runs[0].EpochsCompleted >= 2 && code == http.StatusOK
	})
	// A second sweep queued behind the first: the "two queued and one running".
	third := s.submit(t, tinySweep)
	pids := workers(s.cmd.Process.Pid)
	if len(pids) != 1 {
		t.Fatalf("%d workers, want 1", len(pids))
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the server did not stop on %v", sig)
	}
	// The worker dies with the server (Pdeathsig) or is stopped by it.
	waitFor(t, 10*time.Second, "the worker to be gone", func() bool { return errors.Is(syscall.Kill(pids[0], 0), syscall.ESRCH) })

	s2 := startServer(t, addr, logdir, nil)
	v := s2.waitState(t, running, 3*time.Minute, spec.StatusSucceeded, spec.StatusFailed)
	res := result(t, v)
	if v.State != spec.StatusSucceeded || v.Attempts != 2 || res.Runs[0].EpochsCompleted != 20 || len(res.Runs[0].History.TrainLoss) != 20 {
		t.Fatalf("the resumed sweep: %+v; runs %+v\n%s", v.Record, res.Runs, s2.stderr.String())
	}
	if !strings.Contains(s2.stderr.String(), `"sweep":"`+running+`","attempt":2,"resume":true`) {
		t.Errorf("the new server did not resume %s:\n%s", running, s2.stderr.String())
	}
	select {
	case <-subDone:
	case <-time.After(2 * time.Minute):
		t.Fatalf("submit did not exit\n%s", subErr.String())
	}
	if code := sub.ProcessState.ExitCode(); code != spec.ExitOK || !strings.Contains(subOut.String(), `"id":"`+queued+`"`) {
		t.Errorf("submit across the restart: exit %d\n%s\n%s", code, subOut.String(), subErr.String())
	}
	for _, id := range []string{queued, third} {
		q := s2.waitState(t, id, 2*time.Minute, spec.StatusSucceeded, spec.StatusFailed)
		if q.State != spec.StatusSucceeded || q.Attempts != 1 {
			t.Errorf("the queued sweep %s after the restart: %+v", id, q.Record)
		}
	}
	// Each epoch's loss is logged once in the resumed run's train logs.
	files, _ := filepath.Glob(filepath.Join(logdir, res.Runs[0].Dir, "train", "*tfevents*"))
	steps := map[int64]int{}
	for _, f := range files {
		events, err := summary.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			for _, val := range e.Values {
				if val.Tag == "epoch_loss" {
					steps[e.Step]++
				}
			}
		}
	}
	for step := range int64(20) {
		if steps[step] != 1 {
			t.Errorf("epoch_loss at step %d logged %d times (files %v)", step, steps[step], files)
		}
	}
	if len(steps) != 20 {
		t.Errorf("epoch_loss steps %v, want 0..19 once each", steps)
	}
}

func TestServeCheckListen(t *testing.T) {
	for _, tc := range []struct {
		addr, token string
		ok          bool
	}{
		{"127.0.0.1:8080", "", true}, {"localhost:8080", "", true}, {"[::1]:8080", "", true}, {"127.0.0.2:80", "", true},
		{"0.0.0.0:8080", "", false}, {":8080", "", false}, {"192.168.1.2:8080", "", false},
		{"0.0.0.0:8080", "t", false}, {"0.0.0.0:8080", "fifteen-bytes-x", false}, {"0.0.0.0:8080", "sixteen-bytes-xx", true},
		{"nonsense", "", false}, {"127.0.0.1:8080", "t", true},
	} {
		if err := checkListen(tc.addr, tc.token); (err == nil) != tc.ok {
			t.Errorf("checkListen(%q, %q) = %v, want ok %v", tc.addr, tc.token, err, tc.ok)
		}
	}
}

// A server started with several --data sources trains a submitted sweep on the one its data: names
// (here a PNG folder of 600 training images beside the 60,000 of the IDX files, its options in
// another order), and refuses, without opening it, a data: it does not offer.
func TestServeOffersItsDataSources(t *testing.T) {
	dir := t.TempDir()
	if err := datafixtures.Write(dir); err != nil {
		t.Fatal(err)
	}
	train, test := filepath.Join(dir, "mnist-png", "train"), filepath.Join(dir, "mnist-png", "test")
	pngs := "images:" + train + ":color=grayscale:test=" + test
	s := startServer(t, freeAddr(t), t.TempDir(), nil, "--data", "idx:"+realData(t), "--data", pngs, "--data-cache", t.TempDir())

	id := s.submit(t, "data: images:"+train+":test="+test+":color=grayscale\ngrids:\n  - batch_size: 32\n    epochs: 1\n    hidden: 16\n")
	waitFor(t, 2*time.Minute, "the sweep to end", func() bool {
		state := s.get(t, id).State
		return state != spec.StatusQueued && state != spec.StatusRunning
	})
	v := s.get(t, id)
	res := result(t, v)
	if v.State != spec.StatusSucceeded || len(res.Runs) != 1 || res.Runs[0].TrainExamples != 600 {
		t.Fatalf("the sweep on the PNG folder: %+v, result %+v\n%s", v.Record, res, s.stderr.String())
	}

	for _, data := range []string{"npz:" + filepath.Join(dir, "mnist.npz"), "images:" + train} {
		code, body := s.call(t, "POST", "/api/v1/sweeps", "data: "+data+"\ngrids:\n  - batch_size: 32\n")
		var e struct{ Error string }
		if code != http.StatusBadRequest || json.Unmarshal(body, &e) != nil || !strings.Contains(e.Error, "body:1: data: ") ||
			!strings.Contains(e.Error, "is not a data source this server offers") || strings.Contains(e.Error, realData(t)) {
			t.Errorf("data: %s: %d %s, want 400 naming body:1 and no offered source", data, code, body)
		}
	}
}
