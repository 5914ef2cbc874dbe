package pagetest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// scheduledSweep is an ASHA search of four trials of three epochs: η 3 pauses most of them at the
// first rung.
const scheduledSweep = "limit: 1000\ntrials: 4\nsearch_seed: 1\nscheduler: {kind: asha}\ndefaults:\n  epochs: 3\n" +
	"grids:\n  - lr: {log_uniform: [1e-4, 1e-1]}\n"

// The run list of a scheduled search says, beside each paused or pruned run's state, why the
// scheduler stopped it.
func TestPageShowsWhyARunStopped(t *testing.T) {
	b := newBrowser(t)
	s := startServer(t, "")
	id := s.submit(t, scheduledSweep)
	s.waitState(t, id, 3*time.Minute, "succeeded")
	code, body := s.call(t, "GET", "/api/v1/sweeps/"+id, "")
	var view struct {
		Runs []struct{ Name, State, Reason string }
	}
	if code != http.StatusOK || json.Unmarshal(body, &view) != nil {
		t.Fatalf("GET /sweeps/%s: %d %s", id, code, body)
	}
	want := map[string]string{}
	stopped := 0
	for _, r := range view.Runs {
		want[r.Name] = r.State
		if r.Reason != "" {
			want[r.Name] += ": " + r.Reason
			stopped++
		}
	}
	if stopped == 0 {
		t.Fatalf("no run of the ASHA search was paused or pruned: %s", body)
	}
	b.do("open the sweep", chromedp.Navigate(s.url+"/#"+id), chromedp.WaitVisible(`//td/a[text()="`+id+`"]`))
	var got map[string]string
	waitFor(t, 30*time.Second, "the runs with their states", func() bool {
		rows := b.eval("read the runs", `JSON.stringify(Object.fromEntries([...document.querySelectorAll("#detail tbody tr")].map(tr => [tr.cells[0].textContent, tr.cells[1].textContent])))`)
		got = nil
		return json.Unmarshal([]byte(rows), &got) == nil && len(got) == len(want)
	})
	for name, w := range want {
		if got[name] != w {
			t.Errorf("run %s shows %q, want %q", name, got[name], w)
		}
		if strings.Contains(w, ": ") && !strings.HasPrefix(got[name], "paused: paused at epoch") && !strings.HasPrefix(got[name], "pruned: pruned at epoch") {
			t.Errorf("run %s shows %q: no scheduler's reason", name, got[name])
		}
	}
}
