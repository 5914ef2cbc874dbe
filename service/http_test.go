package service

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/sweep"
)

func mustHosts(t *testing.T, addr string, extra ...string) Hosts {
	t.Helper()
	h, err := NewHosts(addr, extra)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHostsAllowList(t *testing.T) {
	for _, tc := range []struct {
		addr   string
		extra  []string
		allow  []string
		refuse []string
	}{
		{"127.0.0.1:8080", nil, []string{"127.0.0.1:8080", "localhost:8080", "LOCALHOST", "[::1]:8080", "localhost."},
			[]string{"attacker.example", "attacker.example:8080", "10.0.0.1:8080", "", "127.0.0.2"}},
		{"[::1]:8080", nil, []string{"[::1]:8080", "localhost:8080", "127.0.0.1"}, []string{"rebind.example:8080"}},
		{"localhost:0", []string{"proxy.internal"}, []string{"localhost", "127.0.0.1:1", "proxy.internal:443"}, []string{"other.internal"}},
		{"10.1.2.3:8080", nil, []string{"10.1.2.3:8080"}, []string{"localhost:8080", "127.0.0.1:8080", "gpu-box:8080"}},
		{"10.1.2.3:8080", []string{"gpu-box"}, []string{"gpu-box:8080", "GPU-BOX"}, []string{"gpu-box.attacker.example"}},
		{"0.0.0.0:8080", nil, []string{"10.9.8.7:8080", "[fe80::1]:8080", "localhost:8080", "gpu-box:8080"}, nil},
		{":8080", nil, []string{"192.168.0.4", "proxy.example"}, nil},
	} {
		h := mustHosts(t, tc.addr, tc.extra...)
		for _, host := range tc.allow {
			if !h.Allows(host) {
				t.Errorf("listening on %s (+%v): Host %q refused", tc.addr, tc.extra, host)
			}
		}
		for _, host := range tc.refuse {
			if h.Allows(host) {
				t.Errorf("listening on %s (+%v): Host %q allowed", tc.addr, tc.extra, host)
			}
		}
	}
}

// testAPI serves a service with a fake trainer on logdir through httptest.
func testAPI(t *testing.T, logdir, token string, log io.Writer) (*httptest.Server, *Service, *fakeTrainer) {
	t.Helper()
	f := newFakeTrainer()
	s, _ := startService(t, logdir, f)
	srv := httptest.NewServer(s.Handler(HTTPConfig{Token: token, Hosts: mustHosts(t, "127.0.0.1:0"), Log: zerolog.New(log)}))
	t.Cleanup(srv.Close)
	return srv, s, f
}

type request struct {
	method, path, body string
	header             map[string]string
}

func (r request) do(t *testing.T, srv *httptest.Server) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(r.method, srv.URL+r.path, strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range r.header {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// What a page of another site (or a name rebound to this server) could send is refused on every
// state-changing endpoint; the server's own page and non-browser clients are not.
func TestAPIRefusesCrossSiteRequests(t *testing.T) {
	srv, s, _ := testAPI(t, t.TempDir(), "", io.Discard)
	yamlType := map[string]string{"Content-Type": "application/yaml"}
	id := submit(t, s) // s-000001, running in the fake trainer
	queued := submit(t, s)
	for _, tc := range []struct {
		name string
		req  request
		want int
	}{
		{"plain-text submit (a no-cors fetch)", request{"POST", "/api/v1/sweeps", sweepFile, map[string]string{"Content-Type": "text/plain;charset=UTF-8"}}, 415},
		{"form submit", request{"POST", "/api/v1/sweeps", "a=b", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, 415},
		{"multipart submit", request{"POST", "/api/v1/sweeps", "--x--", map[string]string{"Content-Type": "multipart/form-data; boundary=x"}}, 415},
		{"submit without a type", request{"POST", "/api/v1/sweeps", sweepFile, nil}, 415},
		{"plain-text cancel (a text/plain form)", request{"POST", "/api/v1/sweeps/" + queued + "/cancel", "x=y", map[string]string{"Content-Type": "text/plain"}}, 415},
		{"form cancel", request{"POST", "/api/v1/sweeps/" + id + "/cancel", "", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, 415},
		{"cross-site submit", request{"POST", "/api/v1/sweeps", sweepFile, map[string]string{"Content-Type": "application/yaml", "Origin": "http://attacker.example", "Sec-Fetch-Site": "cross-site"}}, 403},
		{"cross-origin submit, Origin only", request{"POST", "/api/v1/sweeps", sweepFile, map[string]string{"Content-Type": "application/yaml", "Origin": "http://attacker.example"}}, 403},
		{"cross-site cancel", request{"POST", "/api/v1/sweeps/" + queued + "/cancel", "", map[string]string{"Sec-Fetch-Site": "same-site"}}, 403},
		{"null-origin cancel", request{"POST", "/api/v1/sweeps/" + queued + "/cancel", "", map[string]string{"Origin": "null"}}, 403},
		{"rebound name, submit", request{"POST", "/api/v1/sweeps", sweepFile, map[string]string{"Content-Type": "application/yaml", "Host": "attacker.example"}}, 421},
		{"rebound name, read", request{"GET", "/api/v1/sweeps", "", map[string]string{"Host": "attacker.example:80"}}, 421},
	} {
		resp, body := tc.req.do(t, srv)
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, resp.StatusCode, body, tc.want)
		}
	}
	for _, id := range []string{id, queued} {
		if r, _, _ := s.Get(t.Context(), id); r.State == spec.StatusCancelled {
			t.Errorf("%s was cancelled by a refused request", id)
		}
	}
	if list, _ := s.List(t.Context(), "", "", 100); len(list) != 2 {
		t.Errorf("%d sweeps queued, want the 2 of the test", len(list))
	}
	// The page's own requests (same origin) and a non-browser client's pass.
	for _, h := range []map[string]string{
		{"Content-Type": "application/yaml", "Origin": srv.URL, "Sec-Fetch-Site": "same-origin"},
		{"Content-Type": "application/json"}, yamlType,
		{"Content-Type": "application/yaml", "Host": "localhost"},
	} {
		body := sweepFile
		if h["Content-Type"] == "application/json" {
			body = `{"grids": [{"batch_size": 32}]}`
		}
		if resp, out := (request{"POST", "/api/v1/sweeps", body, h}).do(t, srv); resp.StatusCode != http.StatusCreated {
			t.Errorf("submit with %v: %d %s", h, resp.StatusCode, out)
		}
	}
	if resp, out := (request{"POST", "/api/v1/sweeps/" + queued + "/cancel", "", map[string]string{"Origin": srv.URL}}).do(t, srv); resp.StatusCode != http.StatusOK {
		t.Errorf("a same-origin cancel: %d %s", resp.StatusCode, out)
	}
}

// Every answer carries the security headers; the page runs its own script file only.
func TestAPISecurityHeaders(t *testing.T) {
	srv, _, _ := testAPI(t, t.TempDir(), "", io.Discard)
	for _, path := range []string{"/", "/index.js", "/api/v1/sweeps", "/api/v1/sweeps/s-404", "/nope"} {
		resp, body := request{"GET", path, "", nil}.do(t, srv)
		csp := resp.Header.Get("Content-Security-Policy")
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(csp, "frame-ancestors 'none'") ||
			!strings.Contains(csp, "script-src 'self';") || strings.Contains(csp, "script-src 'self' 'unsafe-inline'") {
			t.Errorf("GET %s: headers %v", path, resp.Header)
		}
		if path == "/" && (strings.Contains(body, "<script>") || !strings.Contains(body, `<script src="/index.js"></script>`)) {
			t.Errorf("the page has an inline script")
		}
	}
}

// Echoed ids are cut short; paths are relative to the logdir; a 500 names no file (the log does);
// a missing figure's 404 says what is missing; a report asked for early says why it is missing.
func TestAPIAnswersLeakNothing(t *testing.T) {
	logdir := t.TempDir()
	var log bytes.Buffer
	srv, s, f := testAPI(t, logdir, "", &log)
	id := submit(t, s)
	f.waitStarted(t)

	resp, body := request{"GET", "/api/v1/sweeps/" + strings.Repeat("x", 900_000), "", nil}.do(t, srv)
	if resp.StatusCode != http.StatusNotFound || len(body) > 300 {
		t.Errorf("an id of 900 KB: %d, %d bytes back", resp.StatusCode, len(body))
	}
	if resp, body := (request{"GET", "/api/v1/sweeps/" + id + "/report", "", nil}).do(t, srv); resp.StatusCode != http.StatusConflict ||
		!strings.Contains(body, "is running and has not ended: its report is written when it ends") {
		t.Errorf("the report of a running sweep: %d %s", resp.StatusCode, body)
	}
	for _, path := range []string{"/api/v1/sweeps/" + id, "/api/v1/sweeps", "/api/v1/sweeps/" + id + "/report"} {
		if _, body := (request{"GET", path, "", nil}).do(t, srv); strings.Contains(body, logdir) {
			t.Errorf("GET %s names the logdir: %s", path, body)
		}
	}
	// A report.json that cannot be read: 500, its cause in the log only.
	if err := os.MkdirAll(filepath.Join(logdir, id, "report.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	resp, body = request{"GET", "/api/v1/sweeps/" + id + "/report", "", nil}.do(t, srv)
	if resp.StatusCode != http.StatusInternalServerError || strings.Contains(body, logdir) || strings.Contains(body, "report.json") {
		t.Errorf("an unreadable report: %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(log.String(), filepath.Join(logdir, id, "report.json")) {
		t.Errorf("the log lacks the 500's cause:\n%s", log.String())
	}
	os.Remove(filepath.Join(logdir, id, "report.json"))
	os.WriteFile(filepath.Join(logdir, id, "report.json"), []byte(`{"figures": ["figures/loss.png"]}`), 0o644)
	resp, body = request{"GET", "/api/v1/sweeps/" + id + "/figures/acc.png", "", nil}.do(t, srv)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, `its report has no figure \"acc.png\"; it has figures/loss.png`) {
		t.Errorf("a missing figure: %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(log.String(), `"route":"GET /api/v1/sweeps/{id}/report"`) {
		t.Errorf("requests are not logged by route:\n%.500s", log.String())
	}
}

// Malformed requests the OpenAPI file excludes are 400, not ignored.
func TestAPIStrictParameters(t *testing.T) {
	srv, _, _ := testAPI(t, t.TempDir(), "", io.Discard)
	yamlType := func(extra ...string) map[string]string {
		h := map[string]string{"Content-Type": "application/yaml"}
		for i := 0; i+1 < len(extra); i += 2 {
			h[extra[i]] = extra[i+1]
		}
		return h
	}
	for _, tc := range []struct {
		name string
		req  request
		want string
	}{
		{"empty limit", request{"GET", "/api/v1/sweeps?limit=", "", nil}, "limit"},
		{"two limits", request{"GET", "/api/v1/sweeps?limit=1&limit=2", "", nil}, "limit"},
		{"empty state", request{"GET", "/api/v1/sweeps?state=", "", nil}, "state"},
		{"two states", request{"GET", "/api/v1/sweeps?state=queued&state=running", "", nil}, "state"},
		{"long X-Sweep-File", request{"POST", "/api/v1/sweeps", sweepFile, yamlType("X-Sweep-File", strings.Repeat("a", 201))}, "X-Sweep-File"},
		{"X-Sweep-File with a newline escape", request{"POST", "/api/v1/sweeps", sweepFile, yamlType("X-Sweep-File", "a\tb")}, "X-Sweep-File"},
		{"duplicate JSON key", request{"POST", "/api/v1/sweeps", `{"limit": 5, "limit": 6, "grids": [{}]}`, map[string]string{"Content-Type": "application/json"}}, `body:1: "limit" appears twice`},
		{"second YAML document", request{"POST", "/api/v1/sweeps", "grids: [{}]\n---\ngrids: [{}]\n", yamlType("X-Sweep-File", "s.yaml")}, "s.yaml:2: a second document"},
		{"trailing JSON", request{"POST", "/api/v1/sweeps", "{\"grids\": [{}]}\n]", map[string]string{"Content-Type": "application/json"}}, "body:2: data after the document"},
	} {
		resp, body := tc.req.do(t, srv)
		var e struct{ Error string }
		json.Unmarshal([]byte(body), &e)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(e.Error, tc.want) {
			t.Errorf("%s: %d %s, want 400 naming %q", tc.name, resp.StatusCode, body, tc.want)
		}
	}
}

// The result a trainer returns names paths relative to the logdir, in its fields and in messages.
func TestRelativize(t *testing.T) {
	logdir := t.TempDir()
	sd := filepath.Join(logdir, "s-000001")
	res := &sweep.Result{SweepDir: sd, Report: filepath.Join(sd, "report.md"), ReportError: "open " + filepath.Join(sd, "x") + ": denied",
		Best: &sweep.BestRun{Model: filepath.Join(sd, "r1", "model")},
		Runs: []sweep.RunResult{{Dir: filepath.Join(sd, "r1"), Model: filepath.Join(sd, "r1", "model"), Error: "write " + filepath.Join(sd, "r1", "f") + ": full"}}}
	relativize(res, logdir)
	want := sweep.Result{SweepDir: "s-000001", Report: "s-000001/report.md", ReportError: "open s-000001/x: denied",
		Best: &sweep.BestRun{Model: "s-000001/r1/model"},
		Runs: []sweep.RunResult{{Dir: "s-000001/r1", Model: "s-000001/r1/model", Error: "write s-000001/r1/f: full"}}}
	if res.SweepDir != want.SweepDir || res.Report != want.Report || res.ReportError != want.ReportError || res.Best.Model != want.Best.Model ||
		res.Runs[0].Dir != want.Runs[0].Dir || res.Runs[0].Model != want.Runs[0].Model || res.Runs[0].Error != want.Runs[0].Error {
		t.Errorf("relativize: %+v %+v, want %+v %+v", res, res.Runs[0], want, want.Runs[0])
	}
}
