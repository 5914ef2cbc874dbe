package service

import (
	"github.com/tfsweep/tfsweep/spec"

	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/tfsweep/tfsweep/report"
)

//go:embed openapi.yaml
var openAPI []byte

// indexHTML is the web page at /: the sweeps, live progress bars, a finished sweep's figures and a
// cancel button. It holds no data: it asks the API, with the token the user types in. Its script is
// indexJS, a file of its own so that the page's policy allows no inline script.
//
//go:embed index.html
var indexHTML []byte

//go:embed index.js
var indexJS []byte

// MaxBodyBytes bounds a submitted sweep file.
const MaxBodyBytes = 1 << 20

// SweepView is GET /sweeps/{id}: the queue's record, the live progress of every run, and, once
// ended, the `tfsweep run --json` summary as result.
type SweepView struct {
	*Record
	Runs           []RunProgress `json:"runs"`
	TensorBoardURL string        `json:"tensorboard_url,omitempty"`
}

// HTTPConfig is how the API is served.
type HTTPConfig struct {
	// Token "" accepts every request; otherwise each but the page's needs "Authorization: Bearer <token>".
	Token          string
	TensorBoardURL string
	// Hosts are the Host header values the server answers (NewHosts): a page of another site that
	// resolves its own name to this server (DNS rebinding) is refused.
	Hosts Hosts
	Log   zerolog.Logger
}

// api is the HTTP API of a service: every handler is one of its methods, every route in routes.
type api struct {
	s   *Service
	cfg HTTPConfig
}

// route is one entry of the routes table. public routes need no token: the page and its script,
// which a browser loads before anyone can type the token in. Every other path needs it, unknown
// ones too.
type route struct {
	pattern string
	handler http.HandlerFunc
	public  bool
}

// path is the route's path: its pattern without the method and the {$} anchor.
func (r route) path() string {
	_, p, _ := strings.Cut(r.pattern, " ")
	return strings.TrimSuffix(p, "{$}")
}

func (a *api) routes() []route {
	return []route{
		{"GET /{$}", a.page, true},
		{"GET /index.js", a.script, true},
		{"GET /healthz", a.healthz, false},
		{"GET /metrics", promhttp.HandlerFor(a.s.reg, promhttp.HandlerOpts{}).ServeHTTP, false},
		{"GET /api/v1/openapi.yaml", a.openAPI, false},
		{"POST /api/v1/sweeps", a.submit, false},
		{"GET /api/v1/sweeps", a.list, false},
		{"GET /api/v1/sweeps/{id}", a.get, false},
		{"GET /api/v1/sweeps/{id}/events", a.events, false},
		{"POST /api/v1/sweeps/{id}/cancel", a.cancel, false},
		{"GET /api/v1/sweeps/{id}/report", a.report, false},
		{"GET /api/v1/sweeps/{id}/figures/{name...}", a.figure, false},
	}
}

// Handler is the HTTP API, with its guards: the Host allow-list, cross-origin and form content
// types refused on state-changing requests, the bearer token, security headers on every response,
// and a log line and metrics for every request.
func (s *Service) Handler(cfg HTTPConfig) http.Handler {
	a := &api{s: s, cfg: cfg}
	mux := http.NewServeMux()
	public := map[string]bool{}
	for _, r := range a.routes() {
		mux.Handle(r.pattern, r.handler)
		if r.public {
			public[r.path()] = true
		}
	}
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusForbidden, errorBody("a cross-origin request: this server takes state-changing requests from its own page and from clients that are not browsers"))
	}))
	return a.observe(mux, securityHeaders(a.checkHost(refuseFormContent(csrf.Handler(a.authorize(public, mux))))))
}

func (a *api) page(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(indexHTML)
}

func (a *api) script(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Write(indexJS)
}

func (a *api) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (a *api) openAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.Write(openAPI)
}

// fileName is the name a submitted spec's messages use: the client's file name when it sends one
// (X-Sweep-File, only ever used in messages), else "body".
var fileName = regexp.MustCompile(`^[\w./ -]{1,200}$`)

// IsSweepFileName tells whether the server takes name as X-Sweep-File: 1 to 200 letters, digits,
// spaces and . / _ -.
func IsSweepFileName(name string) bool { return fileName.MatchString(name) }

// specTypes are the content types of a sweep file. A form can send none of them, and a cross-origin
// page cannot send them without the server's consent (CORS, which it never gives).
var specTypes = []string{"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "application/json"}

func (a *api) submit(w http.ResponseWriter, r *http.Request) {
	if mt := mediaType(r); !slices.Contains(specTypes, mt) {
		writeJSON(w, http.StatusUnsupportedMediaType, errorBody(fmt.Sprintf("Content-Type %.60q: a sweep file is application/yaml or application/json", mt)))
		return
	}
	file := "body"
	if f, ok := r.Header["X-Sweep-File"]; ok {
		if len(f) != 1 || !IsSweepFileName(f[0]) {
			writeJSON(w, http.StatusBadRequest, errorBody("X-Sweep-File: a file name of 1 to 200 letters, digits, spaces and . / _ -"))
			return
		}
		file = f[0]
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		writeJSON(w, http.StatusRequestEntityTooLarge, errorBody(fmt.Sprintf("the sweep file is larger than %d bytes", MaxBodyBytes)))
		return
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody("read the body: "+err.Error()))
		return
	}
	rec, err := a.s.Submit(r.Context(), body, file)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/sweeps/"+rec.ID)
	writeJSON(w, http.StatusCreated, map[string]string{"id": rec.ID, "sweep_dir": rec.SweepDir, "state": string(rec.State)})
}

// SweepList is GET /sweeps: a page, and the id to ask after for the next ("" on the last).
type SweepList struct {
	Sweeps []*Record `json:"sweeps"`
	Next   string    `json:"next,omitempty"`
}

func (a *api) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 50
	if l, ok := q["limit"]; ok {
		n, err := strconv.Atoi(l[0])
		if len(l) != 1 || err != nil || n < 1 || n > 1000 {
			writeJSON(w, http.StatusBadRequest, errorBody(fmt.Sprintf("limit: %.20q must be one integer in [1, 1000]", l[0])))
			return
		}
		limit = n
	}
	state, after := q.Get("state"), q.Get("after")
	if v, ok := q["state"]; ok && (len(v) != 1 || !slices.Contains([]spec.Status{spec.StatusQueued, spec.StatusRunning, spec.StatusSucceeded, spec.StatusFailed, spec.StatusCancelled}, spec.Status(state))) {
		writeJSON(w, http.StatusBadRequest, errorBody(fmt.Sprintf("state: %.20q is not one of queued, running, succeeded, failed, cancelled", state)))
		return
	}
	if v, ok := q["after"]; ok && len(v) != 1 {
		writeJSON(w, http.StatusBadRequest, errorBody("after: one id"))
		return
	}
	rs, err := a.s.List(r.Context(), spec.Status(state), after, limit+1)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := SweepList{Sweeps: rs}
	if len(rs) > limit {
		out.Sweeps, out.Next = rs[:limit], rs[limit-1].ID
	}
	if out.Sweeps == nil {
		out.Sweeps = []*Record{}
	}
	for _, rec := range out.Sweeps {
		rec.Result = nil // the list is a summary: GET /sweeps/{id} has the result
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *api) get(w http.ResponseWriter, r *http.Request) {
	rec, runs, err := a.s.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if runs == nil {
		runs = []RunProgress{}
	}
	writeJSON(w, http.StatusOK, SweepView{Record: rec, Runs: runs, TensorBoardURL: a.cfg.TensorBoardURL})
}

func (a *api) cancel(w http.ResponseWriter, r *http.Request) {
	rec, err := a.s.Cancel(r.Context(), r.PathValue("id"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

// events streams a sweep's events (Server-Sent Events): its state now, then progress and state
// changes; the stream ends with the sweep's end (or at once for an ended sweep).
func (a *api) events(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ch, unsubscribe := a.s.hub.subscribe(id)
	defer unsubscribe()
	rec, runs, err := a.s.Get(r.Context(), id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	send := func(e Event) bool {
		b, err := json.Marshal(e)
		if err == nil {
			_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", e.Type, b)
		}
		return err == nil && rc.Flush() == nil
	}
	if !send(Event{Type: "state", State: rec.State, ExitCode: rec.ExitCode, Error: rec.Error}) {
		return
	}
	for i := range runs {
		send(Event{Type: "progress", Run: &runs[i]})
	}
	if rec.finished() {
		return
	}
	keepAlive := time.NewTicker(15 * time.Second)
	defer keepAlive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-keepAlive.C:
			if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		case e, ok := <-ch:
			if !ok || !send(e) {
				return
			}
		}
	}
}

func (a *api) report(w http.ResponseWriter, r *http.Request) {
	data, _, err := a.readReport(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(data)
}

func (a *api) figure(w http.ResponseWriter, r *http.Request) {
	_, doc, err := a.readReport(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	// The name only selects one of the report's own figures: the path opened is the report's.
	name := r.PathValue("name")
	i := slices.IndexFunc(doc.Figures, func(f string) bool { return f == name || f == report.FiguresDir+"/"+name })
	if i < 0 {
		a.writeError(w, r, fmt.Errorf("sweep %s: %w %.80q; it has %s", r.PathValue("id"), errNoFigure, name, strings.Join(doc.Figures, ", ")))
		return
	}
	data, err := os.ReadFile(filepath.Join(a.s.cfg.LogDir, r.PathValue("id"), filepath.FromSlash(doc.Figures[i])))
	if err != nil {
		a.writeError(w, r, fmt.Errorf("sweep %s: figure %s: %w", r.PathValue("id"), doc.Figures[i], err))
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Write(data)
}

// errReportPending is a report asked for before the sweep has ended and errNoReport one of a sweep
// that ended without one (409: the sweep is there, its state has no report); errNoFigure a figure
// its report does not list (404).
var (
	errReportPending = errors.New("has not ended: its report is written when it ends")
	errNoReport      = errors.New("ended without a report")
	errNoFigure      = errors.New("its report has no figure")
)

// readReport reads the sweep's report.json: errReportPending until the sweep has ended.
func (a *api) readReport(r *http.Request) ([]byte, *report.Document, error) {
	id := r.PathValue("id")
	rec, err := a.s.store.get(r.Context(), id)
	if err != nil {
		return nil, nil, err
	}
	data, err := os.ReadFile(filepath.Join(a.s.cfg.LogDir, id, report.JSONFile))
	switch {
	case errors.Is(err, os.ErrNotExist) && !rec.finished():
		return nil, nil, fmt.Errorf("sweep %s is %s and %w", id, rec.State, errReportPending)
	case errors.Is(err, os.ErrNotExist):
		return nil, nil, fmt.Errorf("sweep %s %w (%s)", id, errNoReport, rec.State)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("sweep %s: read its report: %w", id, err)
	}
	var doc report.Document
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, nil, fmt.Errorf("sweep %s: its report.json: %w", id, err)
	}
	return a.s.withoutLogDir(data), &doc, nil
}

// errorBody is the JSON of an error answer; the message is cut to a size fit to echo.
func errorBody(msg string) map[string]string {
	return map[string]string{"error": fmt.Sprintf("%.2000s", msg)}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// writeError maps the service's errors to HTTP statuses. A 500's cause (which can name files of
// the host) goes to the log, not to the client.
func (a *api) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var input *InputError
	code := http.StatusInternalServerError
	switch {
	case errors.As(err, &input):
		code = http.StatusBadRequest
	case errors.Is(err, errNotFound), errors.Is(err, errNoFigure):
		code = http.StatusNotFound
	case errors.Is(err, ErrFinished), errors.Is(err, errReportPending), errors.Is(err, errNoReport):
		code = http.StatusConflict
	}
	if code == http.StatusInternalServerError {
		a.cfg.Log.Error().Err(err).Str("method", r.Method).Str("path", fmt.Sprintf("%.200s", r.URL.Path)).Msg("internal error")
		writeJSON(w, code, errorBody("internal error: the server's log has the cause"))
		return
	}
	writeJSON(w, code, errorBody(strings.ReplaceAll(err.Error(), a.s.logDirPrefix(), "")))
}
