package trainer

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func feedProgress(cb Callback, fail bool) {
	cb.OnTrainBegin(TrainBegin{Epochs: 1, StepsPerEpoch: 2, TrainExamples: 30, BatchSize: 16})
	cb.OnBatchEnd(BatchEnd{Epoch: 0, Step: 1, StepInEpoch: 1, Size: 16, Loss: 2.5, EpochElapsed: time.Millisecond})
	cb.OnBatchEnd(BatchEnd{Epoch: 0, Step: 2, StepInEpoch: 2, Size: 14, Loss: 2.25, EpochElapsed: 2 * time.Millisecond})
	cb.OnEpochEnd(EpochEnd{Epoch: 0, Loss: 2.25, Accuracy: 0.5, ValLoss: 2, ValAccuracy: 0.6, Duration: 3 * time.Millisecond})
	var err error
	if fail {
		err = errors.New("boom")
	}
	cb.OnTrainEnd(TrainEnd{EpochsCompleted: 1, Iterations: 2, FitTime: 3 * time.Millisecond, Err: err})
}

// Off a terminal every line is one JSON object naming the run.
func TestProgressJSONLines(t *testing.T) {
	var out bytes.Buffer
	con := newConsole(&out, false)
	feedProgress(con.progress("xavier-bn-b16"), true)
	con.close(&out)
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
		if rec["message"] == "epoch done" && (rec["val_loss"] != 2.0 || rec["samples_per_second"] != 10000.0) {
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

// On a terminal the bar shows epoch, step, loss and speed, and log lines are human-readable.
func TestProgressBar(t *testing.T) {
	var out bytes.Buffer
	con := newConsole(&out, true)
	feedProgress(con.progress("uniform-nobn-b16"), false)
	con.close(&out)
	text := out.String()
	// Off a real terminal mpb draws rows as wide as the bar (32 columns), so only the start shows.
	for _, want := range []string{"uniform-nobn-b16", "epoch 1/1", "INF", "run succeeded", "\x1b["} {
		if !strings.Contains(text, want) {
			t.Errorf("terminal output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, `{"level"`) {
		t.Errorf("JSON on a terminal:\n%s", text)
	}
	// After close, lines go straight to the output.
	con.log.Info().Msg("after the bars")
	if !strings.Contains(out.String(), "after the bars") {
		t.Errorf("a line logged after close was lost:\n%s", out.String())
	}
}
