package service

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/sweep"
)

// The queue survives its process: what was added is there, in order, after the store is reopened,
// and a sweep left running is handed out first, as one to resume.
func TestServeStorePersistsAndResumesFirst(t *testing.T) {
	dir := t.TempDir()
	st, err := openStore(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var ids []string
	for range 3 {
		r, err := st.add(t.Context(), "grids: [{}]\n", "body", now)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	if ids[0] != "s-000001" || ids[2] != "s-000003" {
		t.Fatalf("ids %v", ids)
	}
	first, resumed, err := st.next(t.Context(), now)
	if err != nil || first.ID != ids[0] || resumed || first.State != spec.StatusRunning || first.Attempts != 1 {
		t.Fatalf("next: %+v resumed %v, %v", first, resumed, err)
	}
	if ok, err := st.cancelQueued(t.Context(), ids[0], now); ok || err != nil {
		t.Errorf("cancelQueued of a running sweep: %v %v", ok, err)
	}
	if ok, err := st.cancelQueued(t.Context(), ids[2], now); !ok || err != nil {
		t.Errorf("cancelQueued of a queued sweep: %v %v", ok, err)
	}
	st.close() // as a killed server leaves it

	st, err = openStore(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	for _, tc := range []struct {
		id       string
		state    spec.Status
		resumed  bool
		attempts int
	}{{ids[0], spec.StatusRunning, true, 2}, {ids[1], spec.StatusRunning, false, 1}} {
		r, resumed, err := st.next(t.Context(), now)
		if err != nil || r.ID != tc.id || r.State != tc.state || resumed != tc.resumed || r.Attempts != tc.attempts {
			t.Fatalf("next after reopening: %+v resumed %v, %v; want %s resumed %v attempts %d", r, resumed, err, tc.id, tc.resumed, tc.attempts)
		}
		if err := st.finish(t.Context(), r.ID, spec.StatusSucceeded, 0, "", &sweep.Result{Status: spec.StatusSucceeded},
			[]RunProgress{{Name: "a", State: "succeeded", Epochs: 1}}, now); err != nil {
			t.Fatal(err)
		}
	}
	if r, _, err := st.next(t.Context(), now); r != nil || err != nil {
		t.Errorf("next of an empty queue: %+v %v", r, err)
	}
	got, err := st.get(t.Context(), ids[1])
	if err != nil || got.State != spec.StatusSucceeded || *got.ExitCode != 0 || len(got.final) != 1 || got.final[0].Epochs != 1 ||
		!strings.Contains(string(got.Result), `"status":"succeeded"`) {
		t.Errorf("a finished sweep: %+v %v", got, err)
	}
	for _, tc := range []struct {
		state spec.Status
		after string
		limit int
		want  []string
	}{
		{"", "", 10, ids}, {"", ids[0], 1, ids[1:2]}, {spec.StatusCancelled, "", 10, ids[2:]}, {spec.StatusQueued, "", 10, nil},
	} {
		rs, err := st.list(t.Context(), tc.state, tc.after, tc.limit)
		var got []string
		for _, r := range rs {
			got = append(got, r.ID)
		}
		if err != nil || strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("list(%q, %q, %d) = %v, %v; want %v", tc.state, tc.after, tc.limit, got, err, tc.want)
		}
	}
	if _, err := st.get(t.Context(), "s-999999"); !errors.Is(err, errNotFound) {
		t.Errorf("an unknown id: %v", err)
	}
}

// A second service on the same logdir is refused while the first holds its lock, and starts once
// the first is closed.
func TestServeLock(t *testing.T) {
	cfg := Config{LogDir: t.TempDir(), Trainer: newFakeTrainer()}
	a, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(t.Context(), cfg); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), filepath.Join(cfg.LogDir, LockFile)) {
		t.Errorf("a second service: %v", err)
	}
	a.Close()
	b, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("after the first closed: %v", err)
	}
	b.Close()
}

// A full subscriber still gets the last event, and its stream is closed.
func TestServeHubEndReachesAFullSubscriber(t *testing.T) {
	h := hub{subs: map[string]map[chan Event]struct{}{}}
	ch, unsubscribe := h.subscribe("s-1")
	for range cap(ch) + 10 {
		h.publish("s-1", Event{Type: "progress"})
	}
	h.end("s-1", Event{Type: "state", State: spec.StatusSucceeded})
	unsubscribe() // after end: nothing to do, no double close
	var last Event
	n := 0
	for e := range ch {
		last = e
		n++
	}
	if last.State != spec.StatusSucceeded || n != cap(ch) {
		t.Errorf("%d events, the last %+v", n, last)
	}
	// A stream of a sweep that never ends (an unknown id) leaves nothing behind.
	_, unsubscribe = h.subscribe("s-404")
	unsubscribe()
	if len(h.subs) != 0 {
		t.Errorf("subscriptions left: %v", h.subs)
	}
}

// The OpenAPI file is valid YAML of OpenAPI 3 and describes every path the handler serves, with the
// methods it serves them by.
func TestServeOpenAPIDescribesEveryRoute(t *testing.T) {
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(openAPI, &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi.yaml: %v, version %q", err, doc.OpenAPI)
	}
	paths := map[string]bool{}
	for _, r := range (&api{s: &Service{}}).routes() {
		method, _, _ := strings.Cut(r.pattern, " ")
		path := strings.ReplaceAll(r.path(), "...}", "}")
		paths[path] = true
		if _, ok := doc.Paths[path][strings.ToLower(method)]; !ok {
			t.Errorf("openapi.yaml lacks %s %s", method, path)
		}
	}
	if len(doc.Paths) != len(paths) {
		t.Errorf("openapi.yaml has %d paths, the handler serves %d", len(doc.Paths), len(paths))
	}
}
