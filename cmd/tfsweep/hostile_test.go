package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tfsweep/tfsweep/spec"
)

// list is a YAML flow list of n numbers from start, each step apart.
func list(n int, start, step float64) string {
	items := make([]string, n)
	for i := range items {
		items[i] = strconv.FormatFloat(start+float64(i)*step, 'g', -1, 64)
	}
	return "[" + strings.Join(items, ", ") + "]"
}

// overflowSpecs are sweep files whose counts multiply past any bound, one for every field that
// multiplies: trials, a grid's lists, the grids of a plan, defaults crossed with grids, hidden layers
// and schedule values. Each was, or would be, expanded without bound if its size wrapped around.
var overflowSpecs = []struct{ name, spec, want string }{
	// The 101-byte payload: trials·2 wrapped to a negative size.
	{"trials times seeds", "trials: 4611686018427387904\ngrids:\n  - seed: [1, 2]\n    lr: {log_uniform: [0.0001, 0.01]}\n", "more than --max-runs"},
	{"largest trials", "trials: 9223372036854775807\ngrids:\n  - lr: {log_uniform: [0.0001, 0.01]}\n", "more than --max-runs"},
	{"trials past int64", "trials: 92233720368547758070\ngrids:\n  - lr: {log_uniform: [0.0001, 0.01]}\n", "is not a non-negative integer"},
	{"trials times a grid", "trials: 4294967296\ngrids:\n  - seed: " + list(4096, 1, 1) + "\n    batch_size: " + list(1024, 1, 1) + "\n    lr: {uniform: [0.001, 0.01]}\n", "more than --max-runs"},
	{"seven lists", "grids:\n  - seed: " + list(1500, 1, 1) + "\n    batch_size: " + list(1500, 1, 1) + "\n    epochs: " + list(1500, 1, 1) +
		"\n    limit: " + list(1500, 1, 1) + "\n    lr: " + list(1500, 0.001, 0.001) + "\n    l2: " + list(1500, 0, 0.001) + "\n    momentum: " + list(1000, 0, 0.001) + "\n", "more than --max-runs"},
	{"defaults crossed with grids", "defaults:\n  seed: " + list(10000, 1, 1) + "\n  epochs: " + list(10000, 1, 1) + "\n  limit: " + list(10000, 1, 1) +
		"\ngrids:\n  - batch_size: " + list(10000, 1, 1) + "\n    lr: " + list(10000, 0.001, 0.001) + "\n", "more than --max-runs"},
	{"many grids of many trials", "trials: 1099511627776\ngrids:\n" + strings.Repeat("  - lr: {log_uniform: [0.0001, 0.01]}\n    seed: [1, 2, 3]\n", 2000), "more than --max-runs"},
	{"hidden layers", "grids:\n  - hidden: \"" + strings.Repeat("1x", 200_000) + "1\"\n    batch_size: " + list(9000, 1, 1) + "\n", "more than 64 hidden layers"},
	{"schedule values", "grids:\n  - schedule: step:boundaries=" + strings.TrimSuffix(strings.Repeat("1/", 50_000), "/") + ":values=" +
		strings.TrimSuffix(strings.Repeat("0.1/", 50_001), "/") + "\n    batch_size: " + list(9000, 1, 1) + "\n", "more than 64 boundaries"},
}

// `tfsweep run --config` refuses each overflowing plan with exit 2, having allocated little: the plan
// is sized, not expanded.
func TestRunRefusesOverflowingPlans(t *testing.T) {
	data := t.TempDir()
	writeIDX(t, data, 100)
	for _, tc := range overflowSpecs {
		t.Run(tc.name, func(t *testing.T) {
			config := filepath.Join(t.TempDir(), "sweep.yaml")
			if err := os.WriteFile(config, []byte(tc.spec), 0o644); err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			code, _, stderr := runCmd(t, "--config", config, "--data-dir", data, "--logdir", filepath.Join(t.TempDir(), "runs"))
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			allocated := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d-byte file: exit %d in %v, %d MB allocated", len(tc.spec), code, elapsed, allocated>>20)
			if code != spec.ExitBadInput || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want %d with %q", code, stderr, spec.ExitBadInput, tc.want)
			}
			// The files are at most a megabyte: parsing them costs tens of megabytes, expanding any
			// of them gigabytes.
			if allocated > 256<<20 {
				t.Errorf("refusing it allocated %d MB", allocated>>20)
			}
		})
	}
}

// `tfsweep serve` answers each overflowing plan 400 and its memory stays flat: its peak resident
// size after all of them is within 100 MB of where it began.
func TestServeRefusesOverflowingPlans(t *testing.T) {
	s := startServer(t, freeAddr(t), t.TempDir(), nil)
	peakBefore := peakRSS(t, s.cmd.Process.Pid)
	client := &http.Client{Timeout: 30 * time.Second} // a failure, not a hang, if the server expands a plan
	for _, tc := range overflowSpecs {
		req, err := http.NewRequestWithContext(context.Background(), "POST", s.url+"/api/v1/sweeps", bytes.NewReader([]byte(tc.spec)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/yaml")
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v\n%s", tc.name, err, s.stderr.String())
		}
		var body bytes.Buffer
		body.ReadFrom(resp.Body)
		resp.Body.Close()
		t.Logf("%s: %d-byte body: %d in %v", tc.name, len(tc.spec), resp.StatusCode, time.Since(start))
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body.String(), tc.want) {
			t.Errorf("%s: %d %.300s; want 400 with %q", tc.name, resp.StatusCode, body.String(), tc.want)
		}
	}
	peakAfter := peakRSS(t, s.cmd.Process.Pid)
	t.Logf("server peak RSS %d MB before, %d MB after", peakBefore>>20, peakAfter>>20)
	if peakAfter > peakBefore+100<<20 {
		t.Errorf("the server's peak RSS grew from %d MB to %d MB", peakBefore>>20, peakAfter>>20)
	}
	if code, _ := s.call(t, "GET", "/healthz", ""); code != http.StatusOK {
		t.Errorf("healthz after the payloads: %d", code)
	}
}

// peakRSS is a process's peak resident set size (VmHWM), in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("/proc/%d/status has no VmHWM", pid)
	return 0
}

// 1,500 idle connections, half of them after an unauthenticated request, half silent, against a
// server capped at 1,000: the server holds no more than its cap, and an authenticated client still
// gets its answers (the latency is logged, not asserted).
func TestServeIdleConnections(t *testing.T) {
	const token = "idle-connections-token"
	addr := freeAddr(t)
	s := startServer(t, addr, t.TempDir(), []string{"TFSWEEP_TOKEN=" + token}, "--max-conns", "1000")
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range 1500 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
		if i%2 == 0 {
			fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
		}
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
	var latencies []time.Duration
	for i := range 50 {
		req, _ := http.NewRequest("GET", s.url+"/api/v1/sweeps", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("request %d with 1,500 idle connections open: %v", i, err)
		}
		resp.Body.Close()
		latencies = append(latencies, time.Since(start))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
		if i == 0 {
			// A fresh connection each time: the cap must make room for a new client, not only a kept one.
			client.Transport.(*http.Transport).DisableKeepAlives = true
		}
	}
	slices.Sort(latencies)
	t.Logf("authenticated GET /api/v1/sweeps with 1,500 idle connections: p50 %v, max %v", latencies[len(latencies)/2], latencies[len(latencies)-1])
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the server holds %d files", len(fds))
	if len(fds) > 1000+64 {
		t.Errorf("the server holds %d files with a cap of 1,000 connections", len(fds))
	}
}
