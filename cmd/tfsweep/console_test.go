package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/sweep"
)

func feedConsole(c *console, name string, fail bool) {
	r := sweep.Run{Name: name, Variant: spec.Defaults()}
	c.RunStarted(r, spec.Begin{Epochs: 1, StepsPerEpoch: 2, TrainExamples: 30, Device: "CPU:0"})
	c.RunProgress(r, spec.Progress{Epoch: 0, StepInEpoch: 1, Loss: 2.5, SamplesPerSecond: 16000})
	c.EpochEnded(r, spec.EpochMetrics{Epoch: 0, Loss: 2.25, Accuracy: 0.5, ValLoss: 2.0123456789, ValAccuracy: 0.6, Seconds: 0.003, SamplesPerSecond: 10000})
	res := sweep.RunResult{Name: name, Status: spec.StatusSucceeded, EpochsCompleted: 1, FitSeconds: 0.003}
	if fail {
		res.Status, res.Error = spec.StatusFailed, "boom"
	}
	c.RunEnded(r, res)
}

// Off a terminal every line is one JSON object naming the run, numbers at full precision, epochs
// 1-based.
func TestConsoleJSONLines(t *testing.T) {
	var out bytes.Buffer
	con := newConsole(&out, false, nil)
	feedConsole(con, "xavier-bn-b16", true)
	con.close()
	var messages []string
	for line := range strings.SplitSeq(strings.TrimSpace(out.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON line: %q: %v", line, err)
		}
		if rec["run"] != "xavier-bn-b16" {
			t.Errorf("line without the run name: %q", line)
		}
		messages = append(messages, rec["message"].(string))
		if rec["message"] == "epoch done" && (rec["val_loss"] != 2.0123456789 || rec["samples_per_second"] != 10000.0 || rec["epoch"] != 1.0) {
			t.Errorf("epoch line %q", line)
		}
		if rec["message"] == "run failed" && rec["error"] != "boom" {
			t.Errorf("failure line %q", line)
		}
	}
	if got := strings.Join(messages, ","); got != "training,epoch done,run failed" {
		t.Errorf("messages %s", got)
	}
}

// On a terminal the bar shows epoch, step, loss and speed, a finished epoch and an ended run are a
// row each with rounded numbers, and log lines are human-readable.
func TestConsoleBar(t *testing.T) {
	var out bytes.Buffer
	con := newConsole(&out, true, nil)
	con.begin([]sweep.Run{{Name: "uniform-nobn-b16"}})
	feedConsole(con, "uniform-nobn-b16", false)
	con.close()
	text := out.String()
	// Off a real terminal mpb draws rows as wide as the bar (32 columns), so only the start shows.
	for _, want := range []string{"uniform-nobn-b16 epoch 1/1", "RUN               EPOCH", "uniform-nobn-b16    1/1    2.2500   0.5000    2.0123   0.6000  3ms",
		"uniform-nobn-b16  succeeded in 3ms"} {
		if !strings.Contains(text, want) {
			t.Errorf("terminal output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, `{"level"`) || strings.Contains(text, "2.0123456789") {
		t.Errorf("JSON or unrounded numbers on a terminal:\n%s", text)
	}
	// After close, lines go straight to the output.
	con.log.Info().Msg("after the bars")
	if !strings.Contains(out.String(), "after the bars") {
		t.Errorf("a line logged after close was lost:\n%s", out.String())
	}
}

// On a terminal the console shows the bars and, above them, one line per finished epoch and per
// ended run, never fragments: the real front and its workers train under a pseudo-terminal
// (util-linux's script), and what they wrote is rendered as a terminal renders it and read row by
// row at every redraw of the bars and at the end.
func TestConsoleOnATerminal(t *testing.T) {
	data := os.Getenv("TFSWEEP_DATA_DIR")
	if data == "" {
		t.Fatal("TFSWEEP_DATA_DIR is not set: run `make test`, or `scripts/setup-data.sh` and export TFSWEEP_DATA_DIR=$PWD/data/mnist")
	}
	script, err := exec.LookPath("script")
	if err != nil {
		t.Fatalf("the terminal test runs the front under util-linux's script: %v", err)
	}
	const cols, lines, epochs = 80, 24, 3
	names := []string{"xavier-nobn-b64-s1", "xavier-nobn-b64-s2", "xavier-nobn-b128-s1", "xavier-nobn-b128-s2"}
	front := []string{filepath.Join(binDir, "tfsweep"), "run", "--data-dir", data, "--logdir", t.TempDir(),
		"--limit", "8000", "--epochs", strconv.Itoa(epochs), "--batch-size", "64,128", "--seed", "1,2"}
	for i, a := range front {
		front[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, script, "-qefc", fmt.Sprintf("stty cols %d rows %d && exec %s", cols, lines, strings.Join(front, " ")), "/dev/null")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tfsweep run under a terminal: %v\n%s", err, out)
	}
	s := newScreen(t, cols, lines)
	s.render(out)
	rows := s.transcript()

	// The default trains a run per CPU, at most the four, and the start line says so.
	auto := "INF sweep started: 4 runs, " + autoParallel(4)
	if !slices.ContainsFunc(rows, func(r screenRow) bool { return strings.Contains(r.String(), auto) }) {
		t.Errorf("no start line %q:\n%s", auto, dump(rows))
	}
	start := slices.IndexFunc(rows, func(r screenRow) bool { return isTableHeader(r.String()) })
	end := slices.IndexFunc(rows, func(r screenRow) bool { return strings.Contains(r.String(), "INF report written") })
	if start < 0 || end < start {
		t.Fatalf("no table header, or no report line after it:\n%s", dump(rows))
	}
	seen := map[string]int{}
	for _, r := range rows[start+1 : end] {
		kind, run := classifyRow(r.String(), names)
		if r.continued || (kind != "epoch" && kind != "ended") {
			t.Errorf("row %q (%s, continued %v) among the finished epochs and runs:\n%s", r, kind, r.continued, dump(rows))
		}
		seen[run+" "+kind]++
		if kind == "epoch" {
			seen[r.String()]++
		}
	}
	for _, run := range names {
		if seen[run+" epoch"] != epochs || seen[run+" ended"] != 1 {
			t.Errorf("run %s has %d epoch lines and %d end lines, want %d and 1:\n%s", run, seen[run+" epoch"], seen[run+" ended"], epochs, dump(rows))
		}
	}
	if len(s.frames) < 3 {
		t.Fatalf("the bars were redrawn %d times, want several", len(s.frames))
	}
	for i, frame := range s.frames {
		checkFrame(t, i, frame, names)
	}
}

// checkFrame checks what the screen showed before a redraw: below the table's header (or from the
// top, once it scrolled off), rows are finished epochs, ended runs, bars or log lines, none wrapped,
// with no blank row between them.
func checkFrame(t *testing.T, i int, frame []screenRow, names []string) {
	t.Helper()
	from := 0
	if h := slices.IndexFunc(frame, func(r screenRow) bool { return isTableHeader(r.String()) }); h >= 0 {
		from = h + 1
	}
	last := len(frame) - 1
	for last >= from && frame[last].String() == "" {
		last--
	}
	for _, r := range frame[from : last+1] {
		if kind, _ := classifyRow(r.String(), names); kind == "other" || r.continued {
			t.Errorf("frame %d: broken row %q (continued %v):\n%s", i, r, r.continued, dump(frame))
			return
		}
	}
}

func isTableHeader(row string) bool {
	return strings.Join(strings.Fields(row), " ") == "RUN EPOCH LOSS ACC VAL_LOSS VAL_ACC TIME"
}

var (
	epochRow = regexp.MustCompile(`^(\S+) +\d+/\d+ +\d+\.\d{4} +\d\.\d{4} +\d+\.\d{4} +\d\.\d{4}  \S+$`)
	endedRow = regexp.MustCompile(`^(\S+) +succeeded in \S+$`)
	barRow   = regexp.MustCompile(`^(\S+) +\[[-=>+]*\] epoch \d+/\d+  step \d+/\d+  loss \d+\.\d{4}  \d+ samples/s$`)
	logRow   = regexp.MustCompile(`^\d\d:\d\d:\d\d (INF|WRN|ERR) `)
)

// classifyRow tells what a row of the terminal is, and for a run's row, which run.
func classifyRow(row string, names []string) (kind, run string) {
	for _, c := range []struct {
		kind string
		re   *regexp.Regexp
	}{{"epoch", epochRow}, {"ended", endedRow}, {"bar", barRow}} {
		if m := c.re.FindStringSubmatch(row); m != nil && slices.Contains(names, m[1]) {
			return c.kind, m[1]
		}
	}
	if logRow.MatchString(row) {
		return "log", ""
	}
	return "other", ""
}

// fitLine cuts lines to the width, counting runes and not escape sequences, and leaves shorter
// ones alone.
func TestFitLine(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{"short\n", "short\n"},
		{"exactly10!\n", "exactly10!\n"},
		{"one too long\n", "one too l…\x1b[0m\n"},
		{"\x1b[32mgreen\x1b[0m text that is long\n", "\x1b[32mgreen\x1b[0m tex…\x1b[0m\n"},
		{"ünïcödé-123456\n", "ünïcödé-1…\x1b[0m\n"},
		{"no newline at all", "no newlin…\x1b[0m"},
		{"ten chars!\x1b[0m\n", "ten chars!\x1b[0m\n"},
	} {
		if got := string(fitLine([]byte(tc.line), 10)); got != tc.want {
			t.Errorf("fitLine(%q) = %q, want %q", tc.line, got, tc.want)
		}
	}
	var out bytes.Buffer
	w := &fitWriter{out: &out, width: func() int { return 6 }}
	if n, err := w.Write([]byte("abcdefgh\nxy\n")); n != 12 || err != nil || out.String() != "abcd…\x1b[0m\nxy\n" {
		t.Errorf("Write = %d, %v; wrote %q", n, err, out.String())
	}
}
