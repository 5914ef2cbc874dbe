package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/dustin/go-humanize"
	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/sweep"
)

// version is set at build time by the Makefile (-ldflags "-X main.version=..."); a plain `go build`
// falls back to the module version recorded in the binary.
var version = ""

func buildVersion() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "(devel)"
}

// workerName is the TensorFlow-linked binary `make build` puts beside tfsweep.
const workerName = "tfsweep-worker"

// findWorker locates the worker: $TFSWEEP_WORKER, else tfsweep-worker beside this executable, else
// on $PATH.
func findWorker() (string, error) {
	if p := os.Getenv("TFSWEEP_WORKER"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("TFSWEEP_WORKER: %w", err)
		}
		return p, nil
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), workerName)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath(workerName); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found beside tfsweep nor on $PATH (make build puts it in bin/; or set TFSWEEP_WORKER)", workerName)
}

// askWorker runs one of the worker's own subcommands and returns its stdout; its stderr (where
// TensorFlow prints, and where it names a bad file) is shown only when it fails, in a
// *workerError that carries its exit status.
func askWorker(ctx context.Context, args ...string) ([]byte, error) {
	path, err := findWorker()
	if err != nil {
		return nil, &workerError{code: spec.ExitBadInput, msg: err.Error()}
	}
	cmd := sweep.WorkerCommand(ctx, path, nil, 0, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		code := spec.ExitRunFailed
		if cmd.ProcessState != nil && cmd.ProcessState.ExitCode() == spec.ExitBadInput {
			code = spec.ExitBadInput
		}
		msg := fmt.Sprintf("%s %s: %v", workerName, strings.Join(args, " "), err)
		if t := strings.TrimSpace(stderr.String()); t != "" {
			msg += "\n" + t
		}
		return nil, &workerError{code: code, msg: msg}
	}
	return stdout.Bytes(), nil
}

// workerError is a worker subcommand that failed: its exit status (spec.ExitBadInput for a bad
// file, else spec.ExitRunFailed) and what it said.
type workerError struct {
	code int
	msg  string
}

func (e *workerError) Error() string { return e.msg }

const versionUsage = `usage: tfsweep version

Prints the versions of tfsweep, of Go, and of the TensorFlow its worker links (asked of tfsweep-worker).
`

func runVersion(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCLI("version", versionUsage)
	if pos, code, ok := c.parse(args, stdout, stderr); !ok {
		return code
	} else if len(pos) > 0 {
		fmt.Fprintf(stderr, "tfsweep version: unexpected argument %q\n", pos[0])
		return spec.ExitBadInput
	}
	fmt.Fprintf(stdout, "tfsweep %s\n", buildVersion())
	fmt.Fprintf(stdout, "go %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	out, err := askWorker(ctx, "version")
	if err != nil {
		fmt.Fprintf(stderr, "tfsweep version: tensorflow: %v\n", err)
		return spec.ExitRunFailed
	}
	fmt.Fprintf(stdout, "tensorflow %s\n", strings.TrimSpace(string(out)))
	return spec.ExitOK
}

const devicesUsage = `usage: tfsweep devices

Lists the devices a TensorFlow session sees (CPU, GPUs), as the worker processes that train see them.
`

func listDevices(ctx context.Context) ([]spec.Device, error) {
	out, err := askWorker(ctx, "devices", "--json")
	if err != nil {
		return nil, err
	}
	var devices []spec.Device
	if err := json.Unmarshal(out, &devices); err != nil {
		return nil, fmt.Errorf("%s devices --json: %w", workerName, err)
	}
	return devices, nil
}

func runDevices(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCLI("devices", devicesUsage)
	if pos, code, ok := c.parse(args, stdout, stderr); !ok {
		return code
	} else if len(pos) > 0 {
		fmt.Fprintf(stderr, "tfsweep devices: unexpected argument %q\n", pos[0])
		return spec.ExitBadInput
	}
	devices, err := listDevices(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "tfsweep devices: %v\n", err)
		return spec.ExitRunFailed
	}
	fmt.Fprintf(stdout, "%-45s %-5s %s\n", "NAME", "TYPE", "MEMORY")
	for _, d := range devices {
		fmt.Fprintf(stdout, "%-45s %-5s %s\n", d.Name, d.Type, humanize.IBytes(uint64(max(d.MemoryBytes, 0))))
	}
	return spec.ExitOK
}

// gpuIDs are the GPUs to pin workers to: those CUDA_VISIBLE_DEVICES already allows, else one id per
// GPU the driver lists. Without an NVIDIA driver there are none.
func gpuIDs() []string {
	if v, ok := os.LookupEnv("CUDA_VISIBLE_DEVICES"); ok {
		var ids []string
		for id := range strings.SplitSeq(v, ",") {
			if id = strings.TrimSpace(id); id != "" && id != "-1" {
				ids = append(ids, id)
			}
		}
		return ids
	}
	entries, err := os.ReadDir("/proc/driver/nvidia/gpus")
	if err != nil {
		return nil
	}
	ids := make([]string, len(entries))
	for i := range entries {
		ids[i] = fmt.Sprint(i)
	}
	return ids
}

var errNoGPU = errors.New("no GPU")
