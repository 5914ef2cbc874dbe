package worker

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tfsweep/tfsweep/spec"
)

// tracedDirEnv, when set, makes TestEveryFileIsDurable the traced child: it trains one run into
// that directory and checks nothing itself.
const tracedDirEnv = "TFSWEEP_TRACED_RUN_DIR"

// Every file a run puts in place by a rename or a link (the checkpoint bundles, their state files,
// the `checkpoint` index, the event files, the exported model) is fsynced before under its
// temporary name, and its directory is fsynced after, as the kernel saw it: the real worker trains
// a run under strace.
func TestEveryFileIsDurable(t *testing.T) {
	if dir := os.Getenv(tracedDirEnv); dir != "" {
		if e := ends(serve(t, smallJob(t, dir, "r")))["r"]; e == nil || e.Status != spec.StatusSucceeded {
			t.Fatalf("traced run: %+v", e)
		}
		return
	}
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Fatal("strace is missing: `make test` installs it (scripts/setup-strace.sh)")
	}
	dir := t.TempDir()
	trace := filepath.Join(t.TempDir(), "trace")
	cmd := exec.Command(strace, "-f", "--seccomp-bpf", "-qq", "-y", "-s", "4096", "-o", trace,
		"-e", "trace=fsync,fdatasync,rename,renameat,renameat2,link,linkat,openat",
		os.Args[0], "-test.run=^TestEveryFileIsDurable$", "-test.count=1")
	cmd.Env = append(os.Environ(), tracedDirEnv+"="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		if strings.Contains(string(out), "PTRACE_TRACEME") || strings.Contains(string(out), "ptrace(") {
			t.Skipf("SKIPPED, NOT PASSED: this machine forbids ptrace, so strace cannot trace: %s", out)
		}
		t.Fatalf("traced worker: %v\n%s", err, out)
	}
	calls := readTrace(t, trace)
	placed := map[string]bool{}
	for i, c := range calls {
		if c.op != "rename" && c.op != "link" {
			continue
		}
		// TensorFlow's SaveV2 renames its own ".tempstate" files to the temporary prefix we give
		// it; we sync and rename what it wrote from there.
		if !strings.HasPrefix(c.to, dir) || strings.Contains(filepath.Base(c.from), ".tempstate") {
			continue
		}
		placed[filepath.Base(c.to)] = true
		if !slices.ContainsFunc(calls[:i], func(s call) bool { return s.op == "fsync" && s.path == c.from }) {
			t.Errorf("%s of %s to %s: no fsync of %s before it", c.op, c.from, c.to, c.from)
		}
		if !dirSyncedNext(calls[i+1:], filepath.Dir(c.to)) {
			t.Errorf("%s to %s: its directory is not fsynced before the next file is", c.op, c.to)
		}
	}
	events := 0
	for name := range placed {
		if strings.HasPrefix(name, "events.out.tfevents.") {
			events++
		}
	}
	for _, want := range []string{"ckpt-1.data-00000-of-00001", "ckpt-1.index", "ckpt-1.state.json", "ckpt-2.state.json", "checkpoint", "saved_model", "saved_model.pb"} {
		if !placed[want] {
			t.Errorf("no %s was renamed into place (traced: %v)", want, placed)
		}
	}
	if events < 2 {
		t.Errorf("%d event files linked into place, want the train and validation ones at least", events)
	}
}

// call is one traced system call that matters here: an fsync of path, or a rename or link from
// one path to another.
type call struct {
	op       string // "fsync", "rename" or "link"
	path     string // of an fsync
	from, to string // of a rename or link
}

var (
	// The call's line may end unfinished (another thread's call is printed before its result).
	traceFsync = regexp.MustCompile(`^\d+ +f(?:data)?sync\(\d+<([^>]*)>`)
	// renameat and linkat name their directories as AT_FDCWD or an fd; -y adds the path in <>.
	traceDirFD  = `(?:AT_FDCWD|\d+)(?:<[^>]*>)?, `
	traceRename = regexp.MustCompile(`^\d+ +(rename|link)(?:at2?)?\((?:` + traceDirFD + `)?"([^"]*)", (?:` + traceDirFD + `)?"([^"]*)".*(?:= 0|<unfinished \.\.\.>)$`)
)

func readTrace(t *testing.T, path string) []call {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var calls []call
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := traceFsync.FindStringSubmatch(line); m != nil {
			calls = append(calls, call{op: "fsync", path: filepath.Clean(m[1])})
		} else if m := traceRename.FindStringSubmatch(line); m != nil {
			calls = append(calls, call{op: m[1], from: filepath.Clean(m[2]), to: filepath.Clean(m[3])})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(calls) == 0 {
		t.Fatalf("the trace %s holds no fsync, rename or link", path)
	}
	return calls
}

// dirSyncedNext reports whether the calls after a rename or link into dir fsync dir before they
// fsync another file in dir: no durable write starts there before the names put in place so far
// are durable (several renames may share one directory sync, as a checkpoint's two bundle files
// do; other directories' writers, such as the event files', may sync in between).
func dirSyncedNext(calls []call, dir string) bool {
	for _, c := range calls {
		switch {
		case c.op != "fsync":
		case c.path == dir:
			return true
		case filepath.Dir(c.path) == dir:
			return false
		}
	}
	return false
}
