package service

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/sweep"
)

// What a user of the API sees of a run as it trains and ends: its last batch, its last epoch's
// metrics as `run --json` gives them, and, for a run the scheduler pruned or paused, why; in the
// sweep's runs and in its event stream alike.
func TestServeRunProgressJSON(t *testing.T) {
	const (
		pruned = "pruned at epoch 1 by median: best 0.9 worse than the median 0.5 of 3 other trials"
		paused = "paused at epoch 1 by asha: rank 7 of 9"
	)
	epoch := spec.EpochMetrics{Epoch: 1, Loss: 0.5, Accuracy: 0.75, ValLoss: 0.625, ValAccuracy: 0.8125, LearningRate: 0.001, Seconds: 2, SamplesPerSecond: 5000}
	const lastEpoch = `"epochs_completed":2,"epoch":1,"step_in_epoch":10,"loss":0.5,"samples_per_second":5000,` +
		`"last_epoch":{"epoch":1,"train_loss":0.5,"train_accuracy":0.75,"val_loss":0.625,"val_accuracy":0.8125,"learning_rate":0.001,"seconds":2,"samples_per_second":5000}`
	for _, tc := range []struct {
		name     string
		end      sweep.RunResult
		wantEnd  string
		wantLive string // after the epoch, before the end
	}{
		{"completed", sweep.RunResult{Status: spec.StatusSucceeded, EpochsCompleted: 2},
			`{"name":"t1","state":"succeeded","epochs":2,"steps_per_epoch":10,` + lastEpoch + `}`,
			`{"name":"t1","state":"running","epochs":2,"steps_per_epoch":10,` + lastEpoch + `}`},
		{"pruned", sweep.RunResult{Status: spec.StatusPruned, Reason: pruned, EpochsCompleted: 2},
			`{"name":"t1","state":"pruned","epochs":2,"steps_per_epoch":10,` + lastEpoch + `,"reason":"` + pruned + `"}`, ""},
		{"paused", sweep.RunResult{Status: spec.StatusPaused, Reason: paused, EpochsCompleted: 2},
			`{"name":"t1","state":"paused","epochs":2,"steps_per_epoch":10,` + lastEpoch + `,"reason":"` + paused + `"}`, ""},
		{"failed in its second epoch", sweep.RunResult{Status: spec.StatusFailed, Error: "out of memory", EpochsCompleted: 1},
			`{"name":"t1","state":"failed","epochs":2,"steps_per_epoch":10,"epochs_completed":1,"epoch":1,"step_in_epoch":4,"loss":0.5,"samples_per_second":4000,` +
				`"last_epoch":{"epoch":0,"train_loss":0.75,"train_accuracy":0.5,"val_loss":null,"val_accuracy":null},"error":"out of memory"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(t.Context(), Config{LogDir: t.TempDir(), Trainer: newFakeTrainer()})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			l := newLive()
			run := sweep.Run{Name: "t1"}
			l.init([]sweep.Run{run})
			events, unsubscribe := s.hub.subscribe("s-1")
			defer unsubscribe()
			o := &observer{s: s, id: "s-1", live: l}
			o.RunStarted(run, spec.Begin{Epochs: 2, StepsPerEpoch: 10})
			if tc.end.Status == spec.StatusFailed {
				// No validation in the first epoch: a metric the run lacks is null.
				o.EpochEnded(run, spec.EpochMetrics{Epoch: 0, Loss: 0.75, Accuracy: 0.5, ValLoss: math.NaN(), ValAccuracy: math.NaN()})
				o.RunProgress(run, spec.Progress{Epoch: 1, StepInEpoch: 4, Loss: 0.5, SamplesPerSecond: 4000})
			} else {
				o.RunProgress(run, spec.Progress{Epoch: 1, StepInEpoch: 4, Loss: 0.7, SamplesPerSecond: 4000})
				o.EpochEnded(run, epoch)
			}
			if tc.wantLive != "" {
				if got := marshal(t, l.snapshot()[0]); got != tc.wantLive {
					t.Errorf("after the epoch\n got %s\nwant %s", got, tc.wantLive)
				}
			}
			tc.end.Name = "t1"
			o.RunEnded(run, tc.end)
			if got := marshal(t, l.snapshot()[0]); got != tc.wantEnd {
				t.Errorf("runs\n got %s\nwant %s", got, tc.wantEnd)
			}
			var last Event
			for range 4 {
				last = <-events
			}
			if last.Type != "run_end" || last.Run == nil || marshal(t, *last.Run) != tc.wantEnd {
				t.Errorf("event %s %+v, want run_end %s", last.Type, last.Run, tc.wantEnd)
			}
		})
	}
}

func marshal(t *testing.T, p RunProgress) string {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
