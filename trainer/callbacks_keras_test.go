package trainer

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tfsweep/tfsweep/spec"
)

// The fixture is Keras 3's own decisions on scripted metric sequences, recorded by
// scripts/keras_callbacks_fixture.py; these tests replay each sequence through Fit and compare
// epoch by epoch. Values are compared exactly: the script feeds float32 values, as Keras' logs are,
// and the scripted model keeps its learning rate in float32, as Keras' optimizer variable does.
type kerasCallbacksFixture struct {
	KerasVersion      string              `json:"keras_version"`
	EarlyStopping     []earlyStoppingCase `json:"early_stopping"`
	ReduceLROnPlateau []reduceLRCase      `json:"reduce_lr_on_plateau"`
	TensorBoardOrder  []tensorBoardOrder  `json:"tensorboard_order"`
}

type epochLogs struct {
	Loss        float64 `json:"loss"`
	Accuracy    float64 `json:"accuracy"`
	ValLoss     float64 `json:"val_loss"`
	ValAccuracy float64 `json:"val_accuracy"`
}

type earlyStoppingCase struct {
	Name   string `json:"name"`
	Params struct {
		Monitor            string   `json:"monitor"`
		MinDelta           float64  `json:"min_delta"`
		Patience           int      `json:"patience"`
		Mode               string   `json:"mode"`
		Baseline           *float64 `json:"baseline"`
		RestoreBestWeights bool     `json:"restore_best_weights"`
		StartFromEpoch     int      `json:"start_from_epoch"`
	} `json:"params"`
	Logs   []epochLogs `json:"logs"`
	Epochs []struct {
		Epoch        int      `json:"epoch"`
		Wait         int      `json:"wait"`
		Best         *float64 `json:"best"`
		BestEpoch    int      `json:"best_epoch"`
		StoppedEpoch int      `json:"stopped_epoch"`
		StopTraining bool     `json:"stop_training"`
	} `json:"epochs"`
	EpochsRun         int  `json:"epochs_run"`
	StoppedEpoch      int  `json:"stopped_epoch"`
	BestEpoch         int  `json:"best_epoch"`
	Restored          bool `json:"restored"`
	FinalWeightsEpoch int  `json:"final_weights_epoch"`
}

// reduceLRParams are spec.ReduceLROnPlateauOptions spelled as Keras' arguments; they start from Keras'
// defaults and the fixture's params override the keys it names.
type reduceLRParams struct {
	Monitor  string  `json:"monitor"`
	Factor   float64 `json:"factor"`
	Patience int     `json:"patience"`
	Mode     string  `json:"mode"`
	MinDelta float64 `json:"min_delta"`
	Cooldown int     `json:"cooldown"`
	MinLR    float64 `json:"min_lr"`
}

func (p *reduceLRParams) UnmarshalJSON(b []byte) error {
	type plain reduceLRParams
	v := plain(spec.DefaultReduceLROnPlateauOptions())
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*p = reduceLRParams(v)
	return nil
}

func (p reduceLRParams) options() spec.ReduceLROnPlateauOptions {
	return spec.ReduceLROnPlateauOptions(p)
}

type reduceLRCase struct {
	Name      string         `json:"name"`
	Params    reduceLRParams `json:"params"`
	InitialLR float64        `json:"initial_lr"`
	Schedule  bool           `json:"schedule"`
	Logs      []epochLogs    `json:"logs"`
	Epochs    []struct {
		Epoch           int      `json:"epoch"`
		Wait            int      `json:"wait"`
		CooldownCounter int      `json:"cooldown_counter"`
		Best            *float64 `json:"best"`
		LR              float64  `json:"lr"`
	} `json:"epochs"`
	Error *struct {
		Epoch   int    `json:"epoch"`
		Message string `json:"message"`
	} `json:"error"`
}

type tensorBoardOrder struct {
	Order              []string       `json:"order"`
	Params             reduceLRParams `json:"params"`
	InitialLR          float64        `json:"initial_lr"`
	Epochs             int            `json:"epochs"`
	LoggedLearningRate []float64      `json:"logged_learning_rate"`
	LRAfterEpoch       []float64      `json:"lr_after_epoch"`
}

func readKerasCallbacksFixture(t *testing.T) kerasCallbacksFixture {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "keras_callbacks.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f kerasCallbacksFixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.EarlyStopping) == 0 || len(f.ReduceLROnPlateau) == 0 || len(f.TensorBoardOrder) == 0 {
		t.Fatal("the fixture has an empty section")
	}
	return f
}

var errScheduleRate = errors.New("the learning rate comes from a schedule")

// scriptedModel reports the scripted metrics of the epoch it is in: each train step the epoch's
// loss and accuracy (so the epoch means are those values), the validation the epoch's val_loss and
// val_accuracy. Its "weights" are the number of the epoch that last trained them, which tells which
// epoch's weights EarlyStopping restored. Its learning rate is float32, like Keras' variable.
type scriptedModel struct {
	logs         []epochLogs
	epoch        int // the epoch being trained: validations so far
	iterations   int64
	lr           float32
	schedule     bool
	weightsEpoch int
	restores     int
}

func (m *scriptedModel) TrainSteps(batches [][]int32, losses, accs []float32) error {
	for i := range batches {
		m.iterations++
		m.weightsEpoch = m.epoch
		l := m.logs[m.epoch]
		losses[i], accs[i] = float32(l.Loss), float32(l.Accuracy)
	}
	return nil
}

func (m *scriptedModel) Validate() (float64, float64, error) {
	l := m.logs[m.epoch]
	m.epoch++
	return l.ValLoss, l.ValAccuracy, nil
}

func (m *scriptedModel) Iterations() int64              { return m.iterations }
func (m *scriptedModel) LearningRate() (float64, error) { return float64(m.lr), nil }
func (m *scriptedModel) SetLearningRate(lr float64) error {
	if m.schedule {
		return errScheduleRate
	}
	m.lr = float32(lr)
	return nil
}
func (m *scriptedModel) SnapshotWeights() (any, error) { return m.weightsEpoch, nil }
func (m *scriptedModel) RestoreWeights(w any) error {
	m.weightsEpoch = w.(int)
	m.restores++
	return nil
}

// oneBatchPerEpoch is the data of a scripted run: every epoch one batch of one example.
func oneBatchPerEpoch() FitData {
	return FitData{TrainExamples: 1, Order: identityOrder(1)}
}

// epochObserver calls its function at every epoch end; placed after the callback under test, it
// sees that callback's state after the epoch, where the fixture script reads Keras'.
type epochObserver func(EpochEnd)

func (o epochObserver) OnEpochEnd(e EpochEnd) error { o(e); return nil }

func sameBest(got float64, gotOK bool, want *float64) bool {
	if want == nil {
		return !gotOK
	}
	return gotOK && got == *want
}

func TestEarlyStoppingMatchesKeras(t *testing.T) {
	fixture := readKerasCallbacksFixture(t)
	for _, tc := range fixture.EarlyStopping {
		t.Run(tc.Name, func(t *testing.T) {
			p := tc.Params
			es, err := NewEarlyStopping(spec.EarlyStoppingOptions{
				Monitor: p.Monitor, MinDelta: p.MinDelta, Patience: p.Patience, Mode: p.Mode,
				Baseline: p.Baseline, RestoreBestWeights: p.RestoreBestWeights, StartFromEpoch: p.StartFromEpoch,
			})
			if err != nil {
				t.Fatal(err)
			}
			// Fitting twice with the same callback also checks that OnTrainBegin resets it, as Keras'
			// on_train_begin does.
			for run := range 2 {
				m := &scriptedModel{logs: tc.Logs, lr: 0.01}
				var seen int
				observe := epochObserver(func(e EpochEnd) {
					if seen >= len(tc.Epochs) {
						t.Errorf("run %d: epoch %d ran; Keras stopped after %d", run, e.Epoch, len(tc.Epochs))
						return
					}
					want := tc.Epochs[seen]
					seen++
					best, ok := es.Best()
					if e.Epoch != want.Epoch || es.Wait() != want.Wait || !sameBest(best, ok, want.Best) ||
						es.BestEpoch() != want.BestEpoch || es.StoppedEpoch() != want.StoppedEpoch {
						t.Errorf("run %d, epoch %d: wait %d best %v (%v) best_epoch %d stopped_epoch %d; Keras: %+v (best %v)",
							run, e.Epoch, es.Wait(), best, ok, es.BestEpoch(), es.StoppedEpoch(), want, deref(want.Best))
					}
				})
				rec := &recorder{}
				if _, err := Fit(context.Background(), m, oneBatchPerEpoch(), FitOptions{Epochs: len(tc.Logs), BatchSize: 1}, es, observe, rec); err != nil {
					t.Fatalf("run %d: %v", run, err)
				}
				stopped := tc.Epochs[len(tc.Epochs)-1].StopTraining
				if end := rec.ends[0]; end.EpochsCompleted != tc.EpochsRun || end.StoppedEarly != stopped || end.StoppedEpoch != tc.StoppedEpoch || end.Err != nil {
					t.Errorf("run %d: %d epochs, stopped early %v at %d, err %v; Keras: %d epochs, stop_training %v, stopped_epoch %d",
						run, end.EpochsCompleted, end.StoppedEarly, end.StoppedEpoch, end.Err, tc.EpochsRun, stopped, tc.StoppedEpoch)
				}
				if es.StoppedEpoch() != tc.StoppedEpoch || es.BestEpoch() != tc.BestEpoch {
					t.Errorf("run %d: after training stopped_epoch %d best_epoch %d; Keras %d and %d", run, es.StoppedEpoch(), es.BestEpoch(), tc.StoppedEpoch, tc.BestEpoch)
				}
				if (m.restores == 1) != tc.Restored || m.restores > 1 || m.weightsEpoch != tc.FinalWeightsEpoch {
					t.Errorf("run %d: %d restores, weights of epoch %d; Keras restored %v, weights of epoch %d",
						run, m.restores, m.weightsEpoch, tc.Restored, tc.FinalWeightsEpoch)
				}
			}
		})
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestReduceLROnPlateauMatchesKeras(t *testing.T) {
	fixture := readKerasCallbacksFixture(t)
	for _, tc := range fixture.ReduceLROnPlateau {
		t.Run(tc.Name, func(t *testing.T) {
			r, err := NewReduceLROnPlateau(tc.Params.options())
			if err != nil {
				t.Fatal(err)
			}
			m := &scriptedModel{logs: tc.Logs, lr: float32(tc.InitialLR), schedule: tc.Schedule}
			var seen int
			observe := epochObserver(func(e EpochEnd) {
				if seen >= len(tc.Epochs) {
					t.Errorf("epoch %d ended; Keras failed in epoch %d", e.Epoch, seen)
					return
				}
				want := tc.Epochs[seen]
				seen++
				best, ok := r.Best()
				if e.Epoch != want.Epoch || r.Wait() != want.Wait || r.CooldownCounter() != want.CooldownCounter ||
					!sameBest(best, ok, want.Best) || e.LearningRate != want.LR || float64(m.lr) != want.LR {
					t.Errorf("epoch %d: wait %d cooldown %d best %v lr %v (model %v); Keras: %+v (best %v)",
						e.Epoch, r.Wait(), r.CooldownCounter(), best, e.LearningRate, m.lr, want, deref(want.Best))
				}
			})
			_, err = Fit(context.Background(), m, oneBatchPerEpoch(), FitOptions{Epochs: len(tc.Logs), BatchSize: 1}, r, observe)
			if tc.Error == nil {
				if err != nil {
					t.Fatal(err)
				}
				if seen != len(tc.Logs) {
					t.Errorf("%d epochs ended, want %d", seen, len(tc.Logs))
				}
				return
			}
			// Keras raised TypeError in the epoch that first reduced the rate; so must Fit, with the
			// model's error inside.
			if !errors.Is(err, errScheduleRate) || !strings.Contains(err.Error(), "ReduceLROnPlateau") || seen != tc.Error.Epoch {
				t.Errorf("error %v after %d epochs; Keras raised in epoch %d: %s", err, seen, tc.Error.Epoch, tc.Error.Message)
			}
		})
	}
}

// TestTensorBoardLearningRateOrderMatchesKeras fits with TensorBoard and ReduceLROnPlateau in both
// orders and reads back epoch_learning_rate: Keras' TensorBoard logs the rate at the time its own
// on_epoch_end runs, so before ReduceLROnPlateau it logs the rate the epoch trained with and after it
// the reduced one.
func TestTensorBoardLearningRateOrderMatchesKeras(t *testing.T) {
	fixture := readKerasCallbacksFixture(t)
	for _, tc := range fixture.TensorBoardOrder {
		t.Run(strings.Join(tc.Order, ","), func(t *testing.T) {
			dir := t.TempDir()
			tb, err := NewTensorBoard(dir, TensorBoardOptions{})
			if err != nil {
				t.Fatal(err)
			}
			r, err := NewReduceLROnPlateau(tc.Params.options())
			if err != nil {
				t.Fatal(err)
			}
			byName := map[string]Callback{"tensorboard": tb, "reduce_lr": r}
			var callbacks []Callback
			for _, name := range tc.Order {
				callbacks = append(callbacks, byName[name])
			}
			rec := &recorder{}
			logs := make([]epochLogs, tc.Epochs)
			for i := range logs {
				logs[i] = epochLogs{Loss: 1, Accuracy: 0.5, ValLoss: 1 - 0.1*float64(i), ValAccuracy: 0.5}
			}
			m := &scriptedModel{logs: logs, lr: float32(tc.InitialLR)}
			if _, err := Fit(context.Background(), m, oneBatchPerEpoch(), FitOptions{Epochs: tc.Epochs, BatchSize: 1}, append(callbacks, rec)...); err != nil {
				t.Fatal(err)
			}
			logged := readRunLog(t, filepath.Join(dir, "train")).values("epoch_learning_rate")
			if !closeTo(logged, tc.LoggedLearningRate) {
				t.Errorf("epoch_learning_rate %v; Keras logged %v", logged, tc.LoggedLearningRate)
			}
			if got := rec.learningRates(); !closeTo(got, tc.LRAfterEpoch) {
				t.Errorf("rate after each epoch %v; Keras %v", got, tc.LRAfterEpoch)
			}
		})
	}
}
