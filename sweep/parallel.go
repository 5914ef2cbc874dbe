package sweep

import (
	"fmt"
	"math"
	"runtime"
	"strconv"
	"strings"
)

// ParallelAuto is the Options.Parallel that lets New choose how many runs train at once
// (--parallel auto).
const ParallelAuto = 0

// MaxParallel bounds --parallel: more workers than that are never a sensible share of one machine.
const MaxParallel = 256

// ParseParallel reads --parallel (and serve's --slots): "auto" is ParallelAuto, else a count in
// [1, MaxParallel].
func ParseParallel(text string) (int, error) {
	if strings.TrimSpace(text) == "auto" {
		return ParallelAuto, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(text))
	if err != nil || n < 1 || n > MaxParallel {
		return 0, fmt.Errorf("give auto or a count in [1, %d]", MaxParallel)
	}
	return n, nil
}

// Parallelism is how many runs a sweep trains at once, each in a worker of its own, and why.
type Parallelism struct {
	Workers int  `json:"workers"`
	Auto    bool `json:"auto"` // chosen by --parallel auto, not given as a count
	// Reason is what bounded an automatic choice ("2 CPUs", "3 runs", "1 GPU", "memory for 2 runs",
	// "--scheduler asha decides in the order runs end: …"), or the flag given.
	Reason string `json:"reason"`
}

// String is how the console says it: "2 at a time (auto: 2 CPUs)".
func (p Parallelism) String() string {
	if !p.Auto {
		return fmt.Sprintf("%d at a time (%s)", p.Workers, p.Reason)
	}
	return fmt.Sprintf("%d at a time (auto: %s)", p.Workers, p.Reason)
}

// machineShare is what an automatic choice of parallel workers is made from.
type machineShare struct {
	cpus int // the CPUs this process may use (runtime.GOMAXPROCS: affinity and cgroup quota)
	gpus int // the GPUs workers are pinned to, one each; 0 trains on the CPUs
	runs int // the runs this process trains
	// fit is how many of the largest run fit the available memory side by side; -1 when the memory
	// cannot be read (no limit to respect).
	fit int
	// adaptive names the scheduler or search whose decisions depend on the order in which runs end
	// ("--scheduler asha", "--search tpe"; "" for a grid or a random search).
	adaptive string
}

// chooseParallel is --parallel auto: a worker per CPU, or per GPU when workers are pinned to GPUs, but
// never more than the runs to train nor than fit the memory side by side. A scheduler or TPE decides
// from the runs that have ended when it is asked, so with several workers its decisions depend on
// their timing: there auto trains one run at a time, so that the same seed gives the same search, and
// says what --parallel N would use.
func chooseParallel(m machineShare) Parallelism {
	p := Parallelism{Workers: max(1, m.cpus), Auto: true, Reason: plural(m.cpus, "CPU")}
	if m.gpus > 0 {
		p.Workers, p.Reason = m.gpus, plural(m.gpus, "GPU")
	}
	if m.runs < p.Workers {
		p.Workers, p.Reason = max(1, m.runs), plural(m.runs, "run")
	}
	if m.fit >= 0 && m.fit < p.Workers {
		p.Workers, p.Reason = max(1, m.fit), "memory for "+plural(m.fit, "run")
	}
	p.Workers = min(p.Workers, MaxParallel)
	if m.adaptive != "" {
		why := m.adaptive + " decides in the order runs end: one at a time keeps it reproducible"
		if p.Workers > 1 {
			why += fmt.Sprintf("; --parallel %d would train %d at once (%s)", p.Workers, p.Workers, p.Reason)
		}
		p.Workers, p.Reason = 1, why
	}
	return p
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// cpuShare is the CPUs this process may use: GOMAXPROCS, which honours the affinity mask and
// (rounded up, at least 2) a cgroup's CPU quota.
func cpuShare() int { return runtime.GOMAXPROCS(0) }

// resolveParallel sets the sweep's parallelism: the count given, or chooseParallel's from this
// machine, whose available memory (+Inf: unknown) is given.
func (s *Sweep) resolveParallel(available float64) error {
	if s.opts.Parallel != ParallelAuto {
		s.parallel = Parallelism{Workers: s.opts.Parallel, Reason: fmt.Sprintf("--parallel %d", s.opts.Parallel)}
		return nil
	}
	m := machineShare{cpus: cpuShare(), gpus: len(s.opts.GPUs), runs: len(s.Mine()), fit: -1}
	switch {
	case s.plan.Scheduler.Kind != "":
		m.adaptive = "--scheduler " + s.plan.Scheduler.Kind
	case s.plan.Search == SearchTPE:
		m.adaptive = "--search tpe"
	}
	if !math.IsInf(available, 1) {
		need, err := s.largestNeed()
		if err != nil {
			return err
		}
		m.fit = fitting(available, need)
	}
	s.parallel = chooseParallel(m)
	s.opts.Parallel = s.parallel.Workers
	return nil
}

// fitting is how many of a need fit in available side by side, at most MaxParallel (so that the
// division of a tiny or zero need cannot overflow).
func fitting(available, need float64) int {
	if need <= 0 {
		return MaxParallel
	}
	return int(math.Min(math.Floor(available/need), MaxParallel))
}

// Parallel is how many runs train at once, and why.
func (s *Sweep) Parallel() Parallelism { return s.parallel }
