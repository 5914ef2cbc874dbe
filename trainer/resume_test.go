package trainer

import (
	"context"
	"errors"
	"testing"

	"github.com/tfsweep/tfsweep/spec"
)

// A run interrupted after any epoch and resumed from the callbacks' saved state (InitialEpoch,
// Resume) makes EarlyStopping's decisions of the uninterrupted run, against Keras' fixture.
func TestEarlyStoppingResumesWhereItStopped(t *testing.T) {
	fixture := readKerasCallbacksFixture(t)
	for _, tc := range fixture.EarlyStopping {
		for cut := 1; cut < tc.EpochsRun; cut++ {
			p := tc.Params
			opts := spec.EarlyStoppingOptions{Monitor: p.Monitor, MinDelta: p.MinDelta, Patience: p.Patience, Mode: p.Mode,
				Baseline: p.Baseline, RestoreBestWeights: p.RestoreBestWeights, StartFromEpoch: p.StartFromEpoch}
			first, err := NewEarlyStopping(opts)
			if err != nil {
				t.Fatal(err)
			}
			// The model lives on, as one restored from the checkpoint of epoch cut-1 would.
			m := &scriptedModel{logs: tc.Logs, lr: 0.01}
			ctx, cancel := context.WithCancel(context.Background())
			var saved EarlyStoppingState
			var savedWeights any
			kill := epochObserver(func(e EpochEnd) {
				if e.Epoch == cut-1 {
					saved = first.State()
					savedWeights, _ = m.SnapshotWeights()
					if saved.HasWeights {
						savedWeights = first.bestWeights
					}
					cancel()
				}
			})
			_, err = Fit(ctx, m, oneBatchPerEpoch(), FitOptions{Epochs: len(tc.Logs), BatchSize: 1}, first, kill)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("%s cut %d: the first attempt: %v", tc.Name, cut, err)
			}
			second, _ := NewEarlyStopping(opts)
			rec := &recorder{}
			_, err = Fit(context.Background(), m, oneBatchPerEpoch(), FitOptions{
				Epochs: len(tc.Logs), BatchSize: 1, InitialEpoch: cut,
				Resume: func() error { second.SetState(saved, savedWeights); return nil },
			}, second, rec)
			if err != nil {
				t.Fatalf("%s cut %d: %v", tc.Name, cut, err)
			}
			if rec.ends[0].EpochsCompleted != tc.EpochsRun || second.StoppedEpoch() != tc.StoppedEpoch || second.BestEpoch() != tc.BestEpoch ||
				m.weightsEpoch != tc.FinalWeightsEpoch {
				t.Errorf("%s resumed after epoch %d: %d epochs, stopped %d, best %d, weights of epoch %d; Keras uninterrupted: %d, %d, %d, %d",
					tc.Name, cut-1, rec.ends[0].EpochsCompleted, second.StoppedEpoch(), second.BestEpoch(), m.weightsEpoch,
					tc.EpochsRun, tc.StoppedEpoch, tc.BestEpoch, tc.FinalWeightsEpoch)
			}
		}
	}
}

// The same for ReduceLROnPlateau: the rate of every epoch after the resume is the uninterrupted one's.
func TestReduceLROnPlateauResumesWhereItStopped(t *testing.T) {
	fixture := readKerasCallbacksFixture(t)
	for _, tc := range fixture.ReduceLROnPlateau {
		if tc.Schedule || tc.Error != nil {
			continue
		}
		for cut := 1; cut < len(tc.Logs); cut++ {
			first, err := NewReduceLROnPlateau(tc.Params.options())
			if err != nil {
				t.Fatal(err)
			}
			m := &scriptedModel{logs: tc.Logs, lr: float32(tc.InitialLR)}
			ctx, cancel := context.WithCancel(context.Background())
			var saved ReduceLROnPlateauState
			kill := epochObserver(func(e EpochEnd) {
				if e.Epoch == cut-1 {
					saved = first.State()
					cancel()
				}
			})
			_, _ = Fit(ctx, m, oneBatchPerEpoch(), FitOptions{Epochs: len(tc.Logs), BatchSize: 1}, first, kill)
			second, _ := NewReduceLROnPlateau(tc.Params.options())
			var rates []float64
			record := epochObserver(func(EpochEnd) { lr, _ := m.LearningRate(); rates = append(rates, lr) })
			_, err = Fit(context.Background(), m, oneBatchPerEpoch(), FitOptions{
				Epochs: len(tc.Logs), BatchSize: 1, InitialEpoch: cut,
				Resume: func() error { second.SetState(saved); return nil },
			}, second, record)
			if err != nil {
				t.Fatalf("%s cut %d: %v", tc.Name, cut, err)
			}
			for i, lr := range rates {
				if want := tc.Epochs[cut+i].LR; float32(lr) != float32(want) {
					t.Errorf("%s resumed after epoch %d: epoch %d rate %v, Keras uninterrupted %v", tc.Name, cut-1, cut+i, lr, want)
					break
				}
			}
		}
	}
}
