package pagetest

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium is Debian's Chromium, installed by scripts/setup-chromium.sh (which needs root when it is
// missing); the page tests fail, never skip, without it.
func chromium(t *testing.T) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(root, "scripts", "setup-chromium.sh")).Output()
	if err != nil {
		t.Fatalf("scripts/setup-chromium.sh: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

// browser is a headless Chromium tab.
type browser struct {
	t   *testing.T
	ctx context.Context
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium(t)), chromedp.NoSandbox, chromedp.Headless)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return &browser{t: t, ctx: ctx}
}

func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func (b *browser) text(what, css string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

func (b *browser) eval(what, js string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// detail is what the page shows of one sweep: its heading, its runs' names and its figures' count.
func (b *browser) detail() (heading string, runs string, figures int) {
	b.t.Helper()
	heading = b.eval("read the heading", `(document.querySelector("#detail h2") || {}).textContent || ""`)
	runs = b.eval("read the runs", `[...document.querySelectorAll("#detail tbody tr td:first-child")].map(td => td.textContent).join(",")`)
	figures, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`[...document.querySelectorAll("#detail img")].filter(i => i.complete && i.naturalWidth > 0).length`))
	if err != nil {
		b.t.Fatalf("count the figures: %v", err)
	}
	return heading, runs, figures
}

// The page: the list shows the sweeps, a running sweep's progress bar moves, its cancel button
// cancels it, and a finished sweep's figures are shown.
func TestPageInChromium(t *testing.T) {
	b := newBrowser(t)
	s := startServer(t, "")
	running := s.submit(t, longSweep)
	queued := s.submit(t, tinySweep)

	b.do("open the page", chromedp.Navigate(s.url+"/#"+running), chromedp.WaitVisible(`//td/a[text()="`+queued+`"]`))
	if list := b.text("read the list", "#sweeps"); !strings.Contains(list, running) || !strings.Contains(list, queued) || !strings.Contains(list, "queued") {
		t.Errorf("the list shows %q", list)
	}
	progress := func() float64 {
		v, err := chromedp.Run(b.ctx, chromedp.Evaluate[float64](`(() => { const p = document.querySelector("#detail progress"); return p ? p.value : -1; })()`))
		if err != nil {
			t.Fatalf("read the bar: %v", err)
		}
		return v
	}
	var first float64
	waitFor(t, time.Minute, "a progress bar", func() bool { first = progress(); return first > 0 })
	waitFor(t, time.Minute, "the progress bar to move", func() bool { return progress() > first })

	b.do("cancel", chromedp.Click(`//td/a[text()="`+running+`"]/../../td/button`))
	s.waitState(t, running, time.Minute, "cancelled")
	s.waitState(t, queued, 2*time.Minute, "succeeded")
	b.do("open the finished sweep", chromedp.Navigate(s.url+"/#"+queued), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#detail img")))
	waitFor(t, 30*time.Second, "a figure to load", func() bool { _, _, n := b.detail(); return n > 0 })
	waitFor(t, 30*time.Second, "the list to show the cancel", func() bool {
		states := b.text("read the states", "#sweeps")
		return strings.Contains(states, "cancelled") && strings.Contains(states, "succeeded")
	})
}

// Switching between a running and a finished sweep shows the chosen one's heading, runs and figures
// only, and goes on doing so after the abandoned event stream has ended (it once re-showed the
// running sweep over the finished one).
func TestPageSwitchesSweeps(t *testing.T) {
	b := newBrowser(t)
	s := startServer(t, "")
	finished := s.submit(t, tinySweep) // runs xavier-nobn-b128 and xavier-nobn-b256
	s.waitState(t, finished, 2*time.Minute, "succeeded")
	running := s.startRunning(t) // one run, xavier-nobn-b32

	b.do("open the running sweep", chromedp.Navigate(s.url+"/#"+running), chromedp.WaitVisible(`//td/a[text()="`+finished+`"]`))
	waitFor(t, 30*time.Second, "the running sweep's runs", func() bool {
		h, runs, _ := b.detail()
		return h == running+" running" && runs == "xavier-nobn-b32"
	})
	for range 2 {
		b.do("choose the finished sweep", chromedp.Click(`//td/a[text()="`+finished+`"]`))
		waitFor(t, 30*time.Second, "the finished sweep's figures", func() bool { _, _, n := b.detail(); return n > 0 })
		b.do("let an abandoned stream end", chromedp.Sleep(2*time.Second))
		if h, runs, n := b.detail(); h != finished+" succeeded" || runs != "xavier-nobn-b128,xavier-nobn-b256" || n == 0 {
			t.Fatalf("after choosing %s: heading %q, runs %q, %d figures", finished, h, runs, n)
		}
		b.do("choose the running sweep", chromedp.Click(`//td/a[text()="`+running+`"]`))
		waitFor(t, 30*time.Second, "the running sweep again", func() bool {
			h, runs, n := b.detail()
			return h == running+" running" && runs == "xavier-nobn-b32" && n == 0
		})
	}
	if h, runs, n := b.detail(); h != running+" running" || runs != "xavier-nobn-b32" || n != 0 {
		t.Errorf("back on %s: heading %q, runs %q, %d figures", running, h, runs, n)
	}
}

// A wrong (or no) token shows the 401; the right one loads the list and the message goes.
func TestPageTokenMessage(t *testing.T) {
	b := newBrowser(t)
	s := startServer(t, "page-token-0123456789")
	id := s.submit(t, tinySweep)
	b.do("open the page", chromedp.Navigate(s.url+"/"))
	waitFor(t, 30*time.Second, "the 401 message", func() bool { return strings.Contains(b.text("read the message", "body"), "HTTP 401") })
	b.eval("type the token", `(() => { const i = document.getElementById("token"); i.value = "page-token-0123456789"; i.dispatchEvent(new Event("change")); return ""; })()`)
	b.do("wait for the list", chromedp.WaitVisible(`//td/a[text()="`+id+`"]`))
	if msg := b.eval("read the message", `document.getElementById("message").textContent`); msg != "" {
		t.Errorf("after the right token the page still says %q", msg)
	}
}

// attackPage is another site's page that tries what a page can do without the server's consent:
// a no-cors fetch with a text/plain body and one with an untyped body, a CORS fetch of YAML (which
// needs a preflight the server never grants), and HTML forms (text/plain and urlencoded) posted to
// the cancel endpoint of a running and of a queued sweep.
const attackPage = `<!doctype html><html><body>
<iframe name="sink1"></iframe><iframe name="sink2"></iframe><iframe name="sink3"></iframe><iframe name="sink4"></iframe>
<form id="f1" method="POST" enctype="text/plain" target="sink1" action="SERVER/api/v1/sweeps/RUNNING/cancel"><input name="x" value="y"></form>
<form id="f2" method="POST" enctype="text/plain" target="sink2" action="SERVER/api/v1/sweeps/QUEUED/cancel"><input name="x" value="y"></form>
<form id="f3" method="POST" target="sink3" action="SERVER/api/v1/sweeps/QUEUED/cancel"><input name="x" value="y"></form>
<form id="f4" method="POST" enctype="text/plain" target="sink4" action="SERVER/api/v1/sweeps"><input name="grids: [{batch_size: 100}]
limit: 500
#" value=""></form>
<script>
const spec = "limit: 500\ngrids:\n  - batch_size: 100\n";
const tries = [
  fetch("SERVER/api/v1/sweeps", {method: "POST", mode: "no-cors", body: spec}),
  fetch("SERVER/api/v1/sweeps", {method: "POST", mode: "no-cors", body: new Blob([spec])}),
  fetch("SERVER/api/v1/sweeps", {method: "POST", headers: {"Content-Type": "application/yaml"}, body: spec}),
  fetch("SERVER/api/v1/sweeps/QUEUED/cancel", {method: "POST", mode: "no-cors"}),
];
for (const f of ["f1", "f2", "f3", "f4"]) document.getElementById(f).submit();
Promise.allSettled(tries).then(r => { document.title = "done " + r.map(x => x.status).join(","); });
</script></body></html>`

// A page of another site, open in the user's browser, can neither queue nor cancel a sweep on a
// server without a token: every attempt reaches the server and is refused.
func TestCrossSitePageCannotDriveServer(t *testing.T) {
	b := newBrowser(t)
	s := startServer(t, "")
	running := s.startRunning(t)
	queued := s.submit(t, tinySweep)

	page := strings.NewReplacer("SERVER", s.url, "RUNNING", running, "QUEUED", queued).Replace(attackPage)
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(page))
	}))
	defer attacker.Close()
	// localhost and 127.0.0.1 are different sites: the attacker's page is cross-site to the server.
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(attacker.URL, "http://"))
	b.do("open the other site's page", chromedp.Navigate("http://localhost:"+port+"/"))
	waitFor(t, 30*time.Second, "the page's requests", func() bool {
		return strings.HasPrefix(b.eval("read the title", "document.title"), "done")
	})
	b.do("let the forms post", chromedp.Sleep(3*time.Second))

	refused := 0
	for line := range strings.SplitSeq(s.log.String(), "\n") {
		if strings.Contains(line, `"method":"POST","route":"POST /api/v1/sweeps`) && (strings.Contains(line, `"status":403`) || strings.Contains(line, `"status":415`)) {
			refused++
		}
	}
	// Four forms and three fetches reach it (the CORS fetch stops at its preflight, an OPTIONS).
	if refused < 7 {
		t.Errorf("%d refused POSTs in the server's log, want the page's 7:\n%s", refused, s.log.String())
	}
	if v := s.get(t, running); v.State != "running" {
		t.Errorf("the running sweep is %s", v.State)
	}
	if v := s.get(t, queued); v.State != "queued" {
		t.Errorf("the queued sweep is %s", v.State)
	}
	if code, body := s.call(t, "GET", "/api/v1/sweeps", ""); code != http.StatusOK || strings.Count(string(body), `"id"`) != 2 {
		t.Errorf("the queue after the page: %d %s", code, body)
	}
}
