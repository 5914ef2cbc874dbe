package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/tfsweep/tfsweep/spec"
)

// chromium is Debian's Chromium, installed by scripts/setup-chromium.sh (which needs root when it is
// missing); the page test fails, never skips, without it.
func chromium(t *testing.T) string {
	t.Helper()
	out, err := exec.Command(filepath.Join("..", "..", "scripts", "setup-chromium.sh")).Output()
	if err != nil {
		t.Fatalf("scripts/setup-chromium.sh: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

// The web page in a real headless Chromium: the list shows the sweeps, a running sweep's progress
// bar moves, a finished sweep's figures are shown, and its cancel button cancels a sweep.
func TestServePageInChromium(t *testing.T) {
	browser := chromium(t)
	s := startServer(t, freeAddr(t), t.TempDir(), nil)
	running := s.submit(t, longSweep)
	queued := s.submit(t, tinySweep)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.Headless)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	defer cancelCtx()
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	defer cancelTimeout()
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(what, css string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}

	// The list, with both sweeps and their states.
	do("open the page", chromedp.Navigate(s.url+"/#"+running), chromedp.WaitVisible(`//td/a[text()="`+queued+`"]`))
	if list := text("read the list", "#sweeps"); !strings.Contains(list, running) || !strings.Contains(list, queued) || !strings.Contains(list, "queued") {
		t.Errorf("the list shows %q", list)
	}

	// The running sweep's progress bar, followed from the event stream, moves.
	progress := func() float64 {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`(() => { const p = document.querySelector("#detail progress"); return p ? p.value : -1; })()`))
		if err != nil {
			t.Fatalf("read the bar: %v", err)
		}
		return v
	}
	var first float64
	waitFor(t, time.Minute, "a progress bar", func() bool { first = progress(); return first > 0 })
	waitFor(t, time.Minute, "the progress bar to move", func() bool { return progress() > first })

	// Cancel the running sweep with its button: the queued one then trains, and its figures show.
	do("cancel", chromedp.Click(`//td/a[text()="`+running+`"]/../../td/button`))
	s.waitState(t, running, time.Minute, spec.StatusCancelled)
	s.waitState(t, queued, 2*time.Minute, spec.StatusSucceeded)
	do("open the finished sweep", chromedp.Navigate(s.url+"/#"+queued), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#detail img")))
	waitFor(t, 30*time.Second, "a figure to load", func() bool {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`[...document.querySelectorAll("#detail img")].filter(i => i.complete && i.naturalWidth > 0).length`))
		return err == nil && n > 0
	})
	do("wait for a refresh of the list", chromedp.Sleep(6*time.Second))
	if states := text("read the states", "#sweeps"); !strings.Contains(states, "cancelled") || !strings.Contains(states, "succeeded") {
		t.Errorf("the list after the cancel shows %q", states)
	}
}
