package service

import (
	"testing"

	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/sweep"
)

// A run the scheduler paused shows as paused, with why, in the sweep's runs and its event stream.
func TestServeRunEndCarriesTheSchedulersReason(t *testing.T) {
	s, err := New(t.Context(), Config{LogDir: t.TempDir(), Trainer: newFakeTrainer()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l := newLive()
	run := sweep.Run{Name: "t001"}
	l.init([]sweep.Run{run})
	events, unsubscribe := s.hub.subscribe("s-1")
	defer unsubscribe()
	o := &observer{s: s, id: "s-1", live: l}
	const reason = "paused at epoch 3 by asha: rank 7 of 9"
	o.RunEnded(run, sweep.RunResult{Name: "t001", Status: spec.StatusPaused, Reason: reason, EpochsCompleted: 3})
	if got := l.snapshot()[0]; got.State != spec.StatusPaused || got.Reason != reason || got.EpochsCompleted != 3 {
		t.Errorf("run %+v", got)
	}
	if e := <-events; e.Type != "run_end" || e.Run == nil || e.Run.Reason != reason {
		t.Errorf("event %+v", e)
	}
}
