package model

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tfsweep/tfsweep/spec"
)

// state is the raw bytes of every variable of the model (weights, moving statistics, optimizer
// slots, the iteration count, the learning rate), by Keras path.
func (m *Model) state(t testing.TB) map[string][]byte {
	t.Helper()
	sv := m.graph.ckpt
	out, err := m.sess.Run(nil, sv.reads, nil)
	if err != nil {
		t.Fatalf("read state: %v", err)
	}
	defer release(out...)
	state := make(map[string][]byte, len(sv.vars))
	for i, v := range sv.vars {
		var buf bytes.Buffer
		if _, err := out[i].WriteContentsTo(&buf); err != nil {
			t.Fatal(err)
		}
		state[v.name] = buf.Bytes()
	}
	return state
}

// diffState names the variables whose bytes differ.
func diffState(a, b map[string][]byte) []string {
	var diff []string
	for name, v := range a {
		if !bytes.Equal(v, b[name]) {
			diff = append(diff, name)
		}
	}
	for name := range b {
		if _, ok := a[name]; !ok {
			diff = append(diff, name)
		}
	}
	slices.Sort(diff)
	return diff
}

// checkpointBatch is step's batch of the resume tests: the same for every model.
func checkpointBatch(cfg Config, step int) ([]float32, []int32) {
	return randomBatch(uint64(100+step), 16, inputs(cfg), classes(cfg))
}

func trainSteps(t *testing.T, m *Model, from, to int) []float32 {
	t.Helper()
	var losses []float32
	for step := from; step < to; step++ {
		pixels, labels := checkpointBatch(m.cfg, step)
		loss, _, err := m.TrainStep(pixels, labels)
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		losses = append(losses, loss)
	}
	return losses
}

// checkpointConfig is a small network with every stateful feature the variant turns on.
func checkpointConfig(edit func(*Config)) Config {
	cfg := Config{Network: mlp(12, []int{10, 6}, 4), Seed: 11, Device: DeviceCPU}
	edit(&cfg)
	return cfg
}

// Train N steps, checkpoint, train M more; a fresh model restored from the checkpoint trains the
// same M steps to bitwise-equal losses and an identical state (every variable, slots included), for
// every optimizer and with batch norm, dropout (whose masks follow the restored step) and schedules.
func TestCheckpointResumesBitwise(t *testing.T) {
	const n, more = 6, 5
	tests := []struct {
		name  string
		edit  func(*Config)
		slots []string // variables the checkpoint must hold besides the weights
	}{
		// Plain SGD's update does not depend on the step: only the dropout masks do.
		{"sgd dropout", func(c *Config) { c.Optimizer, c.Network = "sgd", withDropout(c.Network, 0.4) }, []string{"sgd/iteration", "sgd/learning_rate"}},
		{"adam dropout", func(c *Config) { c.Network = withDropout(c.Network, 0.3) },
			[]string{"adam/iteration", "adam/learning_rate", "adam/dense_kernel_momentum", "adam/dense_2_bias_velocity"}},
		{"adam batchnorm dropout l2", func(c *Config) { c.Network = withL2(withDropout(withBatchNorm(c.Network, true), 0.2), 1e-3) },
			[]string{"adam/batch_normalization_gamma_momentum", "adam/batch_normalization_1_beta_velocity"}},
		{"sgd momentum batchnorm", func(c *Config) { c.Optimizer, c.Momentum, c.Network = "sgd", 0.9, withBatchNorm(c.Network, true) },
			[]string{"sgd/iteration", "sgd/learning_rate", "sgd/dense_kernel_momentum", "sgd/batch_normalization_gamma_momentum"}},
		{"sgd nesterov", func(c *Config) { c.Optimizer, c.Momentum, c.Nesterov = "sgd", 0.5, true },
			[]string{"sgd/dense_1_kernel_momentum"}},
		{"adamw batchnorm", func(c *Config) { c.Optimizer, c.Network = "adamw", withBatchNorm(c.Network, true) },
			[]string{"adam_w/iteration", "adam_w/dense_kernel_momentum", "adam_w/dense_kernel_velocity"}},
		{"nadam batchnorm", func(c *Config) { c.Optimizer, c.Network = "nadam", withBatchNorm(c.Network, true) },
			[]string{"nadam/iteration", "nadam/variable", "nadam/dense_kernel_momentum", "nadam/dense_kernel_velocity"}},
		{"rmsprop momentum", func(c *Config) { c.Optimizer, c.Momentum = "rmsprop", 0.5 },
			[]string{"rm_sprop/dense_kernel_velocity", "rm_sprop/dense_kernel_momentum"}},
		{"adagrad", func(c *Config) { c.Optimizer = "adagrad" }, []string{"adagrad/dense_kernel_accumulator"}},
		{"residual convnet adam", func(c *Config) { c.Network = residualConvnet(spec.Shape{6, 6, 1}, 4) },
			[]string{"adam/conv2d_kernel_momentum", "adam/conv2d_1_bias_velocity", "adam/batch_normalization_gamma_velocity"}},
		{"cosine schedule", func(c *Config) {
			c.Schedule = spec.Schedule{Kind: spec.ScheduleCosine, DecaySteps: 8, WarmupTarget: 0.01, WarmupSteps: 4}
		}, []string{"adam/iteration"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := checkpointConfig(tc.edit)
			prefix := filepath.Join(t.TempDir(), "ckpt-1")
			first := newModel(t, cfg)
			trainSteps(t, first, 0, n)
			if first.graph.lrVar != nil {
				// ReduceLROnPlateau's change is part of the state.
				if err := first.SetLearningRate(0.0025); err != nil {
					t.Fatal(err)
				}
			}
			if err := first.SaveCheckpoint(prefix); err != nil {
				t.Fatal(err)
			}
			saved := first.state(t)
			for _, name := range tc.slots {
				if _, ok := saved[name]; !ok {
					t.Errorf("the checkpoint has no %s", name)
				}
			}
			want := trainSteps(t, first, n, n+more)
			wantState := first.state(t)
			wantLR, err := first.LearningRate()
			if err != nil {
				t.Fatal(err)
			}

			second := newModel(t, cfg)
			if diff := diffState(saved, second.state(t)); len(diff) == 0 {
				t.Fatal("a fresh model already has the checkpoint's state: the test proves nothing")
			}
			if err := second.RestoreCheckpoint(prefix); err != nil {
				t.Fatal(err)
			}
			if got := second.Iterations(); got != n {
				t.Errorf("Iterations() after restore = %d, want %d", got, n)
			}
			if diff := diffState(saved, second.state(t)); len(diff) > 0 {
				t.Errorf("restored state differs in %v", diff)
			}
			got := trainSteps(t, second, n, n+more)
			if !slices.Equal(got, want) {
				t.Errorf("losses after restore %v, uninterrupted run %v", got, want)
			}
			if diff := diffState(wantState, second.state(t)); len(diff) > 0 {
				t.Errorf("after %d more steps the state differs in %v", more, diff)
			}
			if dropoutRate(cfg.Network) > 0 {
				// Control: the same restore with the step counter put back to 0 draws other dropout
				// masks, so the equality above depends on the restored step.
				control := newModel(t, cfg)
				if err := control.RestoreCheckpoint(prefix); err != nil {
					t.Fatal(err)
				}
				control.setIterations(t, 0)
				if losses := trainSteps(t, control, n, n+more); slices.Equal(losses, want) {
					t.Error("with the step counter reset the losses are the same: the masks do not follow the step")
				}
			}
			if lr, err := second.LearningRate(); err != nil || lr != wantLR {
				t.Errorf("learning rate %v (%v), want %v", lr, err, wantLR)
			}
			entries, err := os.ReadDir(filepath.Dir(prefix))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			if want := []string{"ckpt-1.data-00000-of-00001", "ckpt-1.index"}; !slices.Equal(names, want) {
				t.Errorf("checkpoint directory holds %v, want %v", names, want)
			}
		})
	}
}

// Stages at which crashedSave stops a save, as a crash would.
const (
	stageWritten        = "written"         // the temporary bundle is complete and synced
	stageBetweenRenames = "between-renames" // the data file is in place, the index not yet
)

// crashedSave takes saveBundle's steps up to stage and stops there, as a crash would (the
// temporary files go, to keep the directory listing comparable; what a crash leaves in place stays).
func crashedSave(t *testing.T, m *Model, prefix, stage string) {
	t.Helper()
	b, err := newBundleSave(prefix)
	if err != nil {
		t.Fatal(err)
	}
	defer b.removeTemporary()
	if err := b.write(m.writeCheckpoint); err != nil {
		t.Fatal(err)
	}
	if stage == stageWritten {
		return
	}
	if err := b.keepPrevious(); err != nil {
		t.Fatal(err)
	}
	if err := b.moveInPlace(dataSuffix); err != nil {
		t.Fatal(err)
	}
}

// A save that crashes after the temporary bundle is written, or between the data and the index
// renames while replacing the checkpoint, leaves the previous checkpoint restorable, also when
// the next save crashes the same way again; a save that completes replaces it and leaves no
// stray file.
func TestInterruptedSaveKeepsPreviousCheckpoint(t *testing.T) {
	cfg := checkpointConfig(func(c *Config) { c.Network = withDropout(withBatchNorm(c.Network, true), 0.2) })
	for _, crashes := range [][]string{{stageWritten}, {stageBetweenRenames}, {stageBetweenRenames, stageBetweenRenames}, {stageWritten, stageBetweenRenames}} {
		t.Run(strings.Join(crashes, "+"), func(t *testing.T) {
			dir := t.TempDir()
			prefix := filepath.Join(dir, "ckpt")
			m := newModel(t, cfg)
			trainSteps(t, m, 0, 3)
			if err := m.SaveCheckpoint(prefix); err != nil {
				t.Fatal(err)
			}
			previous := m.state(t)
			step := 3
			for _, stage := range crashes {
				trainSteps(t, m, step, step+2)
				step += 2
				crashedSave(t, m, prefix, stage)
			}
			fresh := newModel(t, cfg)
			if crashes[len(crashes)-1] == stageBetweenRenames {
				// The crash is real: the new data file with the old index is not a checkpoint.
				if err := fresh.restoreBundle(prefix); err == nil {
					t.Fatal("the half-replaced checkpoint restored: the crash left nothing to recover")
				} else if !strings.Contains(err.Error(), "Checksum does not match") {
					t.Errorf("half-replaced checkpoint: %v, want a checksum mismatch", err)
				}
			}
			if err := fresh.RestoreCheckpoint(prefix); err != nil {
				t.Fatalf("restore after crashes at %v: %v", crashes, err)
			}
			if got := fresh.Iterations(); got != 3 {
				t.Errorf("Iterations() = %d, want the previous checkpoint's 3", got)
			}
			if diff := diffState(previous, fresh.state(t)); len(diff) > 0 {
				t.Errorf("restored state differs from the previous checkpoint in %v", diff)
			}

			if err := m.SaveCheckpoint(prefix); err != nil {
				t.Fatal(err)
			}
			latest := newModel(t, cfg)
			if err := latest.RestoreCheckpoint(prefix); err != nil {
				t.Fatal(err)
			}
			if got := latest.Iterations(); got != int64(step) {
				t.Errorf("Iterations() after the next save = %d, want %d", got, step)
			}
			if diff := diffState(m.state(t), latest.state(t)); len(diff) > 0 {
				t.Errorf("state differs in %v", diff)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			if want := []string{"ckpt.data-00000-of-00001", "ckpt.index"}; !slices.Equal(names, want) {
				t.Errorf("the checkpoint directory holds %v, want %v", names, want)
			}
		})
	}
}

// Restoring a checkpoint that is missing or of another network fails naming the prefix, and
// changes nothing.
func TestRestoreRejectsOtherCheckpoints(t *testing.T) {
	base := checkpointConfig(func(*Config) {})
	tests := []struct {
		name    string
		saved   func(*Config) // the network that saved the checkpoint; nil saves none
		restore func(*Config) // the network restoring it
		want    string
	}{
		{"missing", nil, func(*Config) {}, "no such file"},
		{"other architecture", func(c *Config) { c.Network = mlp(12, []int{11, 6}, 4) }, func(*Config) {}, "is not compatible with expected shape"},
		{"other optimizer", func(c *Config) { c.Optimizer = "sgd" }, func(*Config) {}, "adam/iteration not found"},
		{"batch norm missing", func(*Config) {}, func(c *Config) { c.Network = withBatchNorm(c.Network, true) }, "batch_normalization/gamma not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prefix := filepath.Join(t.TempDir(), "ckpt")
			if tc.saved != nil {
				cfg := base
				tc.saved(&cfg)
				m := newModel(t, cfg)
				trainSteps(t, m, 0, 1)
				if err := m.SaveCheckpoint(prefix); err != nil {
					t.Fatal(err)
				}
			}
			cfg := base
			tc.restore(&cfg)
			m := newModel(t, cfg)
			trainSteps(t, m, 0, 2)
			before := m.state(t)
			err := m.RestoreCheckpoint(prefix)
			if err == nil {
				t.Fatal("restored")
			}
			if !strings.Contains(err.Error(), prefix) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name %s and %q", err, prefix, tc.want)
			}
			if diff := diffState(before, m.state(t)); len(diff) > 0 {
				t.Errorf("a failed restore changed %v", diff)
			}
			if m.Iterations() != 2 {
				t.Errorf("Iterations() = %d after a failed restore, want 2", m.Iterations())
			}
		})
	}
}
