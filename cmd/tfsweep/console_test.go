package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

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
	con := newConsole(&out, false)
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

// On a terminal the bar shows epoch, step, loss and speed, and log lines are human-readable with
// rounded numbers.
func TestConsoleBar(t *testing.T) {
	var out bytes.Buffer
	con := newConsole(&out, true)
	feedConsole(con, "uniform-nobn-b16", false)
	con.close()
	text := out.String()
	// Off a real terminal mpb draws rows as wide as the bar (32 columns), so only the start shows.
	for _, want := range []string{"uniform-nobn-b16", "epoch 1/1", "INF", "run succeeded", "2.012", "\x1b["} {
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
