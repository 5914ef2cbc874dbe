package model

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tfsweep/tfsweep/spec"
	tf "github.com/wamuir/graft/tensorflow"
	configpb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"
)

// ErrNoGPU is returned by New when Config.Device is "gpu" and TensorFlow sees no GPU.
var ErrNoGPU = errors.New("device gpu requested but TensorFlow sees no GPU")

// TFVersion returns the version of the linked libtensorflow.
func TFVersion() string { return tf.Version() }

// ListDevices returns the devices a default session sees. It creates and closes a session on an
// empty graph, because TensorFlow only enumerates devices for a session. Call it before training
// with a Config that sets VisibleGPUs: the first session in a process fixes TensorFlow's GPU mapping.
func ListDevices() ([]spec.Device, error) {
	sess, err := tf.NewSession(tf.NewGraph(), nil)
	if err != nil {
		return nil, fmt.Errorf("list devices: new session: %w", err)
	}
	devices, err := sessionDevices(sess)
	if cerr := sess.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("list devices: close session: %w", cerr)
	}
	return devices, err
}

func sessionDevices(sess *tf.Session) ([]spec.Device, error) {
	list, err := sess.ListDevices()
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	devices := make([]spec.Device, len(list))
	for i, d := range list {
		devices[i] = spec.Device{Name: d.Name, Type: d.Type, MemoryBytes: d.MemoryLimitBytes}
	}
	return devices, nil
}

// singleThreadedExecutor is the ConfigProto executor_type of TensorFlow's executor that runs a
// step's kernels in the caller's thread.
const singleThreadedExecutor = "SINGLE_THREADED_EXECUTOR"

// sessionConfig marshals the ConfigProto for cfg. Placement works like this:
//   - cpu: the session creates no GPU device at all (device_count {GPU: 0}), so every op, the
//     gradient ops included, runs on the CPU.
//   - gpu: the forward ops carry /device:GPU:0; ops without a GPU kernel fall back to the CPU
//     through soft placement.
//   - auto: no device strings; TensorFlow's placer prefers a GPU when it has one.
//
// GPU memory grows on demand so that several sweep workers can share a card.
func sessionConfig(cfg Config) ([]byte, error) {
	pb := &configpb.ConfigProto{
		IntraOpParallelismThreads: int32(cfg.IntraOpThreads),
		InterOpParallelismThreads: int32(cfg.InterOpThreads),
		// A per-session inter-op pool, so that thread counts take effect for every Model and not only
		// the first session of the process (the default pool is global, sized by its first user).
		UsePerSessionThreads: cfg.IntraOpThreads > 0 || cfg.InterOpThreads > 0,
		AllowSoftPlacement:   true,
		GpuOptions: &configpb.GPUOptions{
			AllowGrowth:       true,
			VisibleDeviceList: cfg.VisibleGPUs,
		},
	}
	pb.GraphOptions = &configpb.GraphOptions{RewriteOptions: rewriteOptions(cfg.Device)}
	if cfg.Device == DeviceCPU {
		pb.DeviceCount = map[string]int32{"GPU": 0}
		if cfg.InterOpThreads == 1 {
			// One inter-op thread runs the ops one at a time anyway; TensorFlow's single-threaded
			// executor runs them in the calling thread, without handing each op to the pool and back
			// (docs/benchmarks.md, "Threads, towers and steps per call"). It refuses control flow and
			// asynchronous kernels, which a graph of ours has only with a GPU in the session (its
			// copies between devices).
			pb.Experimental = &configpb.ConfigProto_Experimental{ExecutorType: singleThreadedExecutor}
		}
	}
	b, err := proto.Marshal(pb)
	if err != nil {
		return nil, fmt.Errorf("marshal session config: %w", err)
	}
	return b, nil
}

// rewriteOptions turns off the Grappler passes that find nothing to do in a graph of ours yet cost
// every new feed-and-fetch signature their time (a session's first calls: the init, the data binding, a
// training call, the validation, a checkpoint, each optimised before it first runs): the TFG (MLIR)
// pipeline, which sorts the graph and infers shapes that the other passes infer again; the loop
// optimizer, the conditional code motion, the function optimizer and the implementation selector, for
// loops, branches and functions our graphs do not have; and on a session without a GPU the layout
// optimizer, which converts layouts for GPU kernels only. The passes that may rewrite arithmetic stay:
// constant folding, arithmetic, the remapper's fused kernels, common-subgraph elimination, dependency
// and pruning, two meta-optimizer iterations (turning any of those off changed results in their last
// bits), and the memory optimizer, which near a device's memory limit turns an AddN into accumulations
// in another order. docs/benchmarks.md, "Start-up cut to the same bits", holds the figures.
func rewriteOptions(device string) *configpb.RewriterConfig {
	rc := &configpb.RewriterConfig{
		DisableTfgOptimizer:               true,
		LoopOptimization:                  configpb.RewriterConfig_OFF,
		ExperimentalConditionalCodeMotion: configpb.RewriterConfig_OFF,
		FunctionOptimization:              configpb.RewriterConfig_OFF,
		ImplementationSelector:            configpb.RewriterConfig_OFF,
	}
	if device == DeviceCPU {
		rc.LayoutOptimizer = configpb.RewriterConfig_OFF
	}
	return rc
}

// deviceString is the device the forward ops are pinned to, "" leaving the choice to TensorFlow.
func deviceString(device string) string {
	switch device {
	case DeviceGPU:
		return "/device:GPU:0"
	case DeviceCPU:
		return "/device:CPU:0"
	}
	return ""
}

// checkDevices fails when the configuration asks for a GPU the session does not have.
func checkDevices(device string, devices []spec.Device) error {
	if device != DeviceGPU {
		return nil
	}
	var seen []string
	for _, d := range devices {
		if d.Type == "GPU" {
			return nil
		}
		seen = append(seen, d.Name)
	}
	return fmt.Errorf("%w (devices seen: %s)", ErrNoGPU, strings.Join(seen, ", "))
}
