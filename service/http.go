package service

import (
	"crypto/subtle"
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

	"github.com/tfsweep/tfsweep/report"
	"github.com/tfsweep/tfsweep/spec"
)

//go:embed openapi.yaml
var openAPI []byte

// indexHTML is the web page at /: the sweeps, live progress bars, a finished sweep's figures and a
// cancel button. It holds no data: it asks the API, with the token the user types in.
//
//go:embed index.html
var indexHTML []byte

// MaxBodyBytes bounds a submitted sweep file.
const MaxBodyBytes = 1 << 20

// SweepView is GET /sweeps/{id}: the queue's record, the live progress of every run, and, once
// ended, the `tfsweep run --json` summary as result.
type SweepView struct {
	*Record
	Runs           []RunProgress `json:"runs"`
	TensorBoardURL string        `json:"tensorboard_url,omitempty"`
}

// Handler is the HTTP API. token "" accepts every request; otherwise each needs
// "Authorization: Bearer <token>".
func (s *Service) Handler(token, tensorBoardURL string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /api/v1/openapi.yaml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		w.Write(openAPI)
	})
	mux.HandleFunc("POST /api/v1/sweeps", s.handleSubmit)
	mux.HandleFunc("GET /api/v1/sweeps", s.handleList)
	mux.HandleFunc("GET /api/v1/sweeps/{id}", func(w http.ResponseWriter, r *http.Request) {
		rec, runs, err := s.Get(r.Context(), r.PathValue("id"))
		if err != nil {
			writeError(w, err)
			return
		}
		if runs == nil {
			runs = []RunProgress{}
		}
		writeJSON(w, http.StatusOK, SweepView{Record: rec, Runs: runs, TensorBoardURL: tensorBoardURL})
	})
	mux.HandleFunc("GET /api/v1/sweeps/{id}/events", s.handleEvents)
	mux.HandleFunc("POST /api/v1/sweeps/{id}/cancel", func(w http.ResponseWriter, r *http.Request) {
		rec, err := s.Cancel(r.Context(), r.PathValue("id"))
		if err != nil {
			writeError(w, err)
			return
		}
		rec.SweepDir = filepath.Join(s.cfg.LogDir, rec.ID)
		writeJSON(w, http.StatusOK, rec)
	})
	mux.HandleFunc("GET /api/v1/sweeps/{id}/report", func(w http.ResponseWriter, r *http.Request) {
		data, _, err := s.report(r)
		if err != nil {
			writeError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(data)
	})
	mux.HandleFunc("GET /api/v1/sweeps/{id}/figures/{name...}", func(w http.ResponseWriter, r *http.Request) {
		_, doc, err := s.report(r)
		if err != nil {
			writeError(w, err)
			return
		}
		// The name only selects one of the report's own figures: the path opened is the report's.
		name := r.PathValue("name")
		i := slices.IndexFunc(doc.Figures, func(f string) bool { return f == name || f == report.FiguresDir+"/"+name })
		if i < 0 {
			writeError(w, fmt.Errorf("figure %q: %w", name, errNotFound))
			return
		}
		data, err := os.ReadFile(filepath.Join(s.cfg.LogDir, r.PathValue("id"), filepath.FromSlash(doc.Figures[i])))
		if err != nil {
			writeError(w, fmt.Errorf("figure %q: %w", name, err))
			return
		}
		w.Header().Set("Content-Type", "image/png")
		w.Write(data)
	})
	// The page itself is static and public (a browser cannot send a bearer token when it loads a
	// page); everything it shows comes from the API, which needs the token.
	outer := http.NewServeMux()
	outer.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' blob:")
		w.Write(indexHTML)
	})
	// Other methods on the page: 405, as the API's routes answer them.
	outer.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	})
	outer.Handle("/", authorize(token, mux))
	return outer
}

// authorize demands the bearer token of every request when token is set.
func authorize(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tfsweep"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong bearer token"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// fileName is the name a submitted spec's messages use: the client's file name when it sends one
// (X-Sweep-File, only ever used in messages), else "body".
var fileName = regexp.MustCompile(`^[\w./ -]{1,200}$`)

func (s *Service) handleSubmit(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": fmt.Sprintf("the sweep file is larger than %d bytes", MaxBodyBytes)})
		return
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "read the body: " + err.Error()})
		return
	}
	file := "body"
	if f := r.Header.Get("X-Sweep-File"); fileName.MatchString(f) {
		file = f
	}
	rec, err := s.Submit(r.Context(), body, file)
	if err != nil {
		writeError(w, err)
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

func (s *Service) handleList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 50
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("limit: %q must be an integer in [1, 1000]", l)})
			return
		}
		limit = n
	}
	state := spec.Status(q.Get("state"))
	switch state {
	case "", spec.StatusQueued, spec.StatusRunning, spec.StatusSucceeded, spec.StatusFailed, spec.StatusCancelled:
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("state: %q is not one of queued, running, succeeded, failed, cancelled", state)})
		return
	}
	rs, err := s.List(r.Context(), state, q.Get("after"), limit+1)
	if err != nil {
		writeError(w, err)
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

// handleEvents streams a sweep's events (Server-Sent Events): its state now, then progress and
// state changes; the stream ends with the sweep's end (or at once for an ended sweep).
func (s *Service) handleEvents(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ch, unsubscribe := s.hub.subscribe(id)
	defer unsubscribe()
	rec, runs, err := s.Get(r.Context(), id)
	if err != nil {
		writeError(w, err)
		return
	}
	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	send := func(e Event) bool {
		b, err := json.Marshal(e)
		if err != nil {
			return false
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", e.Type, b); err != nil {
			return false
		}
		if flusher != nil {
			flusher.Flush()
		}
		return true
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
			if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
		case e, ok := <-ch:
			if !ok || !send(e) {
				return
			}
		}
	}
}

// report reads the sweep's report.json; errNotFound until it is written.
func (s *Service) report(r *http.Request) ([]byte, *report.Document, error) {
	id := r.PathValue("id")
	if _, err := s.store.get(r.Context(), id); err != nil {
		return nil, nil, err
	}
	data, err := os.ReadFile(filepath.Join(s.cfg.LogDir, id, report.JSONFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("sweep %s has no report yet: %w", id, errNotFound)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("sweep %s: read its report: %w", id, err)
	}
	var doc report.Document
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, nil, fmt.Errorf("sweep %s: its report.json: %w", id, err)
	}
	return data, &doc, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// writeError maps the service's errors to HTTP statuses.
func writeError(w http.ResponseWriter, err error) {
	var input *InputError
	code := http.StatusInternalServerError
	switch {
	case errors.As(err, &input):
		code = http.StatusBadRequest
	case errors.Is(err, errNotFound):
		code = http.StatusNotFound
	case errors.Is(err, ErrFinished):
		code = http.StatusConflict
	}
	msg := err.Error()
	if code == http.StatusInternalServerError {
		msg = strings.TrimSpace("internal error: " + msg)
	}
	writeJSON(w, code, map[string]string{"error": msg})
}
