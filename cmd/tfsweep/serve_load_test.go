package main

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tfsweep/tfsweep/service"
	"github.com/tfsweep/tfsweep/spec"
)

// A bounded load test on loopback while sweeps train: 50 concurrent submits of a one-run sweep and 20
// pollers of GET /sweeps/{id}, for at least 15 s and until they have seen a sweep succeed (at most
// 60 s), so that the load always spans training. Nothing submitted is lost and nothing answers 5xx;
// the p99 latency of GET /sweeps/{id} is logged (a figure, not asserted: the machine's load varies).
func TestServeLoad(t *testing.T) {
	t.Parallel()
	const (
		submits    = 50
		pollers    = 20
		minPolling = 15 * time.Second
		maxPolling = 60 * time.Second
	)
	s := startServer(t, freeAddr(t), t.TempDir(), nil)
	sweepFile := "limit: 1000\ndefaults:\n  epochs: 1\ngrids:\n  - batch_size: 128\n"
	ids := make([]string, submits)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range submits {
		wg.Go(func() {
			code, body := s.call(t, "POST", "/api/v1/sweeps", sweepFile)
			var created struct{ ID string }
			if code != http.StatusCreated || json.Unmarshal(body, &created) != nil {
				t.Errorf("submit %d: %d %s", i, code, body)
				return
			}
			ids[i] = created.ID
		})
	}
	wg.Wait()
	t.Logf("%d concurrent submits accepted in %s", submits, time.Since(start).Round(time.Millisecond))
	if t.Failed() {
		t.FailNow()
	}

	var mu sync.Mutex
	var latencies []time.Duration
	var fivexx, others int
	var sawSucceeded atomic.Bool
	pollStart := time.Now()
	polling := func() bool {
		d := time.Since(pollStart)
		return d < minPolling || (d < maxPolling && !sawSucceeded.Load())
	}
	for range pollers {
		wg.Go(func() {
			for polling() {
				id := ids[rand.IntN(len(ids))]
				t0 := time.Now()
				code, body := s.call(t, "GET", "/api/v1/sweeps/"+id, "")
				d := time.Since(t0)
				var v service.SweepView
				ok := code == http.StatusOK && json.Unmarshal(body, &v) == nil && v.ID == id
				if ok && v.State == spec.StatusSucceeded {
					sawSucceeded.Store(true)
				}
				mu.Lock()
				latencies = append(latencies, d)
				switch {
				case code >= 500 || code == 0:
					fivexx++
				case !ok:
					others++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(latencies)
	pct := func(p float64) time.Duration { return latencies[min(len(latencies)-1, int(p*float64(len(latencies))))] }
	_, metrics := s.call(t, "GET", "/metrics", "")
	done := 0
	for _, id := range ids {
		if st := s.get(t, id).State; st == spec.StatusSucceeded {
			done++
		}
	}
	t.Logf("%d GET /sweeps/{id} by %d pollers in %s while training: p50 %s, p99 %s, max %s; %d of %d sweeps succeeded meanwhile",
		len(latencies), pollers, time.Since(pollStart).Round(time.Second), pct(0.50), pct(0.99), latencies[len(latencies)-1], done, submits)
	if fivexx > 0 || others > 0 {
		t.Errorf("%d 5xx or unreachable, %d wrong answers of %d", fivexx, others, len(latencies))
	}
	if done == 0 {
		t.Errorf("no sweep trained during the load\n%s", metrics)
	}
	// Nothing lost: every id is distinct and listed, in submission order.
	code, body := s.call(t, "GET", "/api/v1/sweeps?limit=1000", "")
	var list service.SweepList
	if code != http.StatusOK || json.Unmarshal(body, &list) != nil {
		t.Fatalf("list: %d %s", code, body)
	}
	var listed []string
	for _, r := range list.Sweeps {
		listed = append(listed, r.ID)
	}
	want := slices.Clone(ids)
	slices.Sort(want)
	if !slices.Equal(slices.Compact(slices.Clone(want)), want) || !slices.Equal(listed, want) {
		t.Errorf("listed %v, submitted %v", listed, want)
	}
	// Cancel what is still queued, so that the test ends.
	for _, id := range ids {
		s.call(t, "POST", "/api/v1/sweeps/"+id+"/cancel", "")
	}
}
