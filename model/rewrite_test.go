package model

import (
	"slices"
	"testing"

	"github.com/tfsweep/tfsweep/spec"
	configpb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"
)

// grapplerDefaults is sessionConfig with every Grappler pass at TensorFlow's default, as before
// rewriteOptions turned some off.
func grapplerDefaults(cfg Config) ([]byte, error) {
	b, err := sessionConfig(cfg)
	if err != nil {
		return nil, err
	}
	var pb configpb.ConfigProto
	if err := proto.Unmarshal(b, &pb); err != nil {
		return nil, err
	}
	pb.GraphOptions = nil
	return proto.Marshal(&pb)
}

// The Grappler passes rewriteOptions turns off change no value: every network shape and placement
// trains the same bits as with TensorFlow's default passes, through every kind of session call a run
// makes (bound data, chunks of steps and single steps, fed steps, the validation with its L2
// penalty, a checkpoint saved and restored, the weights read).
func TestRewriteOptionsKeepEveryBit(t *testing.T) {
	base := Config{Network: mlp(12, []int{16, 8}, 4), LearningRate: 0.01, Seed: 5, StepsPerCall: 4}
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"mlp batchnorm dropout l2, one thread", func(c *Config) {
			c.Network = withL2(withDropout(withBatchNorm(c.Network, true), 0.2), 1e-3)
			c.Device, c.IntraOpThreads, c.InterOpThreads = DeviceCPU, 1, 1
		}},
		{"mlp two towers, validation in two parts", func(c *Config) {
			c.Network = withL2(withDropout(c.Network, 0.3), 1e-4)
			c.Device, c.Towers, c.IntraOpThreads, c.InterOpThreads, c.ValidateConcurrency = DeviceCPU, 2, 1, 2, 2
		}},
		{"mlp auto device, sgd nesterov, cosine", func(c *Config) {
			c.Optimizer, c.Momentum, c.Nesterov = "sgd", 0.9, true
			c.Schedule = spec.Schedule{Kind: spec.ScheduleCosine, DecaySteps: 8}
		}},
		{"residual convnet batchnorm, nadam", func(c *Config) {
			c.Network, c.Optimizer = withL2(residualConvnet(spec.Shape{6, 6, 2}, 4), 1e-3), "nadam"
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.edit(&cfg)
			kept := trainWith(t, cfg, sessionConfig)
			defaults := trainWith(t, cfg, grapplerDefaults)
			for part, d := range defaults {
				k := kept[part]
				if !slices.Equal(k.losses, d.losses) || !slices.Equal(k.accs, d.accs) || k.val != d.val {
					t.Errorf("model %d: losses %v %v, validation %v\nwith the default passes %v %v, %v",
						part+1, k.losses, k.accs, k.val, d.losses, d.accs, d.val)
				}
				for i, w := range d.weights {
					if !slices.Equal(k.weights[i].Values, w.Values) {
						t.Errorf("model %d: %s differs from the default passes' run", part+1, w.Name)
					}
				}
			}
		})
	}
}

// trainWith trains cfg in a session configured by configure: two epochs gathered from bound sets
// of 45 and 30 examples in batches of 8 (chunks of StepsPerCall and single steps), a checkpoint
// saved, restored into a second model that trains two more epochs of fed batches; each model validated.
func trainWith(t *testing.T, cfg Config, configure func(Config) ([]byte, error)) [2]trace {
	t.Helper()
	open := func() *Model {
		m, err := openModel(cfg, configure)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	}
	n := inputs(cfg)
	pixels, labels := randomBatch(11, 45, n, classes(cfg))
	valPixels, valLabels := randomBatch(12, 30, n, classes(cfg))
	data := examplesSplit{pixels: pixels, labels: labels, valPixels: valPixels, valLabels: valLabels, features: n}
	first := open()
	tr := trainTrace(t, first, data, true, func(epoch int) [][]int32 { return epochBatches(45, 8, uint64(epoch)) })
	prefix := t.TempDir() + "/ckpt"
	if err := first.SaveCheckpoint(prefix); err != nil {
		t.Fatal(err)
	}
	second := open()
	if err := second.RestoreCheckpoint(prefix); err != nil {
		t.Fatal(err)
	}
	more := trainTrace(t, second, data, false, func(epoch int) [][]int32 { return epochBatches(45, 16, uint64(epoch+2)) })
	if second.Iterations() != first.Iterations()+int64(len(more.losses)) {
		t.Errorf("restored model at iteration %d after %d more steps, saved at %d", second.Iterations(), len(more.losses), first.Iterations())
	}
	return [2]trace{tr, more}
}
