package sweep

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The values of --fuse: whether trials that share a network shape, batch size, data, epochs and
// optimizer (spec.Variant.FuseKey) train fused, as one graph in one worker.
const (
	FuseAuto = "auto" // on when the workers train on GPUs
	FuseOn   = "on"
	FuseOff  = "off"
)

// MaxFuseGroup bounds --fuse-group; autoFuseGroup is the most trials --fuse-group auto puts in a
// group: the largest group issue 28's benchmark measured, which on a CPU trained no more trials per
// CPU-second than a group of 8 (docs/fused-trials.md). What pays on a GPU was not measured.
const (
	MaxFuseGroup  = 256
	autoFuseGroup = 16
)

// cpuFuseReason is why --fuse auto leaves trials on CPUs unfused.
const cpuFuseReason = "on CPUs fused trials trained 0.80–1.04× the trials per CPU-second of separate workers (docs/fused-trials.md)"

// Fusion is whether a sweep trains trials fused, in groups of how many, and why.
type Fusion struct {
	On     bool   `json:"on"`
	Auto   bool   `json:"auto"`   // chosen by --fuse auto
	Reason string `json:"reason"` // why on or off: "the workers train on GPUs", "--fuse on", …
	// Group is the most trials a group holds (0 when off); GroupReason what chose it: "--fuse-group
	// 4", "auto: 8 fusable runs on 2 workers", "auto: memory for 3".
	Group       int    `json:"group_size,omitempty"`
	GroupReason string `json:"group_reason,omitempty"`
	// Groups are the fused groups sent to the workers, each by its runs' names, in the order they
	// were sent (a run the scheduler promotes trains in a group per attempt); a dry run's are the
	// groups planned.
	Groups [][]string `json:"groups,omitempty"`
	// Alone are the runs planned to train unfused while fusion is on, and why.
	Alone []Apart `json:"alone,omitempty"`
}

// Apart is a run that trains unfused, and why.
type Apart struct {
	Run    string `json:"run"`
	Reason string `json:"reason"`
}

// noPartner is why a run that could train fused trains alone.
const noPartner = "no other run shares its network, batch size, data, epochs and optimizer"

// String is how the console says it: "fused in groups of 4 (--fuse on; auto: 8 fusable runs on
// 2 workers)", "not fused (auto: on CPUs …)".
func (f Fusion) String() string {
	why := f.Reason
	if f.Auto {
		why = "auto: " + why
	}
	switch {
	case !f.On:
		return fmt.Sprintf("not fused (%s)", why)
	case len(f.Groups) == 0:
		return fmt.Sprintf("no runs to fuse (%s; %s)", why, f.GroupReason)
	}
	return fmt.Sprintf("fused in groups of %d (%s; %s)", f.Group, why, f.GroupReason)
}

// fuseChoice is what a sweep's fusion is chosen from.
type fuseChoice struct {
	mode    string // --fuse
	size    int    // --fuse-group; 0 = auto
	gpus    int    // the GPUs the workers are pinned to
	workers int
	// fusable is the runs that can train fused; fit how many of the largest of them fit a worker's
	// share of the memory as one group (-1: unknown).
	fusable, fit int
	// refuse is why no run of the sweep can train fused ("" if they can).
	refuse string
	// adaptive names the scheduler that decides on each epoch as it ends ("" none).
	adaptive string
}

// chooseFusion is --fuse and --fuse-group: auto fuses on GPUs, where a small trial leaves the device
// idle between kernels, and not on CPUs, where it was measured not to pay, nor under a scheduler,
// which would see a group's runs reach each epoch together instead of one after another. Auto's
// group size splits the fusable runs evenly over the workers, at most autoFuseGroup and what fits
// the memory. A size given that does not fit, or --fuse on for a sweep that cannot fuse, is an error.
func chooseFusion(c fuseChoice) (Fusion, error) {
	f := Fusion{On: c.mode == FuseOn, Reason: "--fuse " + c.mode}
	switch {
	case c.mode == FuseOff:
		return f, nil
	case c.refuse != "" && c.mode == FuseOn:
		return Fusion{}, fmt.Errorf("--fuse on: %s", c.refuse)
	case c.refuse != "":
		return Fusion{Auto: true, Reason: c.refuse}, nil
	case c.mode == FuseAuto && c.gpus == 0:
		return Fusion{Auto: true, Reason: cpuFuseReason}, nil
	case c.mode == FuseAuto && c.adaptive != "":
		return Fusion{Auto: true, Reason: c.adaptive + " decides on each epoch as it ends, and a fused group's runs end their epochs " +
			"together: it would decide unlike for runs trained one at a time (--fuse on fuses anyway)"}, nil
	case c.mode == FuseAuto:
		f = Fusion{On: true, Auto: true, Reason: "the workers train on " + plural(c.gpus, "GPU")}
	}
	if c.size > 0 {
		if c.fit >= 0 && c.fit < c.size {
			return Fusion{}, fmt.Errorf("--fuse-group %d: a worker's share of the memory holds a group of %d at most", c.size, c.fit)
		}
		f.Group, f.GroupReason = c.size, fmt.Sprintf("--fuse-group %d", c.size)
		return f, nil
	}
	workers := max(1, c.workers)
	f.Group = min(autoFuseGroup, (c.fusable+workers-1)/workers)
	f.GroupReason = fmt.Sprintf("auto: %s on %s", plural(c.fusable, "fusable run"), plural(workers, "worker"))
	if f.Group == autoFuseGroup {
		f.GroupReason = fmt.Sprintf("auto: at most %d", autoFuseGroup)
	}
	if c.fit >= 0 && c.fit < f.Group {
		f.Group, f.GroupReason = c.fit, fmt.Sprintf("auto: memory for %d", c.fit)
	}
	f.Group = max(1, f.Group)
	return f, nil
}

// resolveFuse sets the sweep's fusion from --fuse and --fuse-group, the runs' fuse keys and the
// machine, whose available memory (+Inf: unknown) is given, and plans its groups.
func (s *Sweep) resolveFuse(available float64) error {
	mode := s.opts.Fuse
	if mode == "" {
		mode = FuseAuto
	}
	c := fuseChoice{mode: mode, size: s.opts.FuseGroup, gpus: len(s.opts.GPUs), workers: s.parallel.Workers, fit: -1}
	if s.plan.Scheduler.Kind != "" {
		c.adaptive = "--scheduler " + s.plan.Scheduler.Kind
	}
	switch {
	case s.plan.Search == SearchTPE:
		c.refuse = "--search tpe proposes each trial as it starts, from the trials that ended: none can be grouped before"
	case s.opts.StepsPerCall > 1:
		c.refuse = fmt.Sprintf("--steps-per-call %d: fused trials train one step per call", s.opts.StepsPerCall)
	}
	if mode == FuseOff || c.refuse != "" || mode == FuseAuto && (c.gpus == 0 || c.adaptive != "") {
		f, err := chooseFusion(c)
		s.fusion = f
		return err
	}
	cannot, largest, err := s.keyRuns()
	if err != nil {
		return err
	}
	c.fusable = len(s.Mine()) - len(cannot)
	if c.fusable > 0 && !math.IsInf(available, 1) {
		fit, err := s.groupFit(largest, available)
		if err != nil {
			return err
		}
		c.fit = fit
	}
	f, err := chooseFusion(c)
	if err != nil {
		return err
	}
	s.fusion = f
	s.fusion.Groups, s.fusion.Alone = s.planGroups(cannot)
	return nil
}

// keyRuns sets the fuse keys of the runs that can train fused, and returns why the others of this
// process cannot and which of its runs needs the most memory per trial of a group.
func (s *Sweep) keyRuns() (cannot map[string]string, largest Run, err error) {
	s.fuseKeys = make(map[string]string, len(s.runs))
	cannot = map[string]string{} // why, by run name
	largestNeed := 0.0
	for _, r := range s.runs {
		key, err := r.Variant.FuseKey(s.features, s.classes)
		switch {
		case err != nil && s.opts.Shard.has(r):
			cannot[r.Name] = err.Error()
			continue
		case err != nil:
			continue
		}
		s.fuseKeys[r.Name] = key
		weights, batch, _, err := memoryBytes(r.Variant, s.features, s.classes, s.trainExamples)
		if err != nil {
			return nil, Run{}, fmt.Errorf("run %s: %w", r.Name, err)
		}
		if need := weights + batch; s.opts.Shard.has(r) && need > largestNeed {
			largest, largestNeed = r, need
		}
	}
	return cannot, largest, nil
}

// groupFit is how many runs like r fit one worker's share of the available memory as one fused
// group: the data once, each trial's weights, optimizer slots and batch activations.
func (s *Sweep) groupFit(r Run, available float64) (int, error) {
	weights, batch, other, err := memoryBytes(r.Variant, s.features, s.classes, s.trainExamples)
	if err != nil {
		return 0, fmt.Errorf("run %s: %w", r.Name, err)
	}
	budget := available/float64(max(1, s.parallel.Workers)) - other
	if budget <= 0 {
		return 0, nil
	}
	return fitting(budget, weights+batch), nil
}

// planGroups groups this process's runs as its slots will take them from the queue (nextGroup), and
// lists those that train alone with why: that they cannot fuse (cannot, by name) or have no partner.
func (s *Sweep) planGroups(cannot map[string]string) (groups [][]string, alone []Apart) {
	runs := s.Mine()
	items := make([]work, len(runs))
	shape := map[string]int{} // runs by key
	for i, r := range runs {
		items[i] = work{index: i}
		shape[shapeOf(s.fuseKey(r))]++
	}
	key := func(w work) string { return s.fuseKey(runs[w.index]) }
	for len(items) > 0 {
		var group []work
		group, items = nextGroup(items, s.fusion.Group, key)
		r := runs[group[0].index]
		switch k := key(group[0]); {
		case len(group) > 1:
			names := make([]string, len(group))
			for i, w := range group {
				names[i] = runs[w.index].Name
			}
			groups = append(groups, names)
		case cannot[r.Name] != "":
			alone = append(alone, Apart{Run: r.Name, Reason: cannot[r.Name]})
		case k != "" && shape[shapeOf(k)] == 1:
			alone = append(alone, Apart{Run: r.Name, Reason: noPartner})
		case k != "" && s.fusion.Group > 1:
			alone = append(alone, Apart{Run: r.Name, Reason: fmt.Sprintf("the other runs of its shape fill groups of %d", s.fusion.Group)})
		}
	}
	return groups, alone
}

// fuseKey is the run's spec.Variant.FuseKey and its seed when the sweep fuses and the run can fuse,
// else "". A group takes runs of its first run's key, those of its seed first: runs of one seed
// shuffle alike, and a group of one seed trains on one batch per step (docs/fused-trials.md).
func (s *Sweep) fuseKey(r Run) string {
	k := s.fuseKeys[r.Name]
	if k == "" {
		return ""
	}
	return k + seedSep + strconv.FormatInt(r.Seed, 10)
}

// seedSep ends a fuse key's shape, before the seed.
const seedSep = "\x00seed "

// shapeOf is a fuse key without its seed: what a group's runs must share.
func shapeOf(k string) string {
	shape, _, _ := strings.Cut(k, seedSep)
	return shape
}

// nextGroup takes the first item and up to size-1 more of the items after it that share its shape
// (sameKey), and returns them and the items left, each in their order.
func nextGroup(items []work, size int, key func(work) string) (group, rest []work) {
	more, rest := sameKey(items[1:], key(items[0]), size-1, key)
	return append([]work{items[0]}, more...), rest
}

// sameKey takes up to n of the items whose key has the shape of k (none when k is ""), those of k's
// seed first, and returns them and the items left, each in their order.
func sameKey(items []work, k string, n int, key func(work) string) (taken, rest []work) {
	picked := make([]bool, len(items))
	count := 0
	for _, sameSeed := range []bool{true, false} {
		for i, w := range items {
			if count >= n || k == "" {
				break
			}
			wk := key(w)
			if !picked[i] && wk != "" && (wk == k || !sameSeed && shapeOf(wk) == shapeOf(k)) {
				picked[i] = true
				count++
			}
		}
	}
	for i, w := range items {
		if picked[i] {
			taken = append(taken, w)
		} else {
			rest = append(rest, w)
		}
	}
	return taken, rest
}

// Fusion is whether the sweep trains trials fused, and why.
func (s *Sweep) Fusion() Fusion { return s.fusion }

// CheckFuse refuses --fuse and --fuse-group out of range (New checks them; a server, at its start).
func (opts Options) CheckFuse() error {
	switch {
	case opts.Fuse != "" && opts.Fuse != FuseAuto && opts.Fuse != FuseOn && opts.Fuse != FuseOff:
		return fmt.Errorf("--fuse: %q is not one of %s", opts.Fuse, strings.Join([]string{FuseAuto, FuseOn, FuseOff}, ", "))
	case opts.FuseGroup < 0 || opts.FuseGroup > MaxFuseGroup:
		return fmt.Errorf("--fuse-group: %d must be 0 (auto) or in [1, %d]", opts.FuseGroup, MaxFuseGroup)
	case opts.FuseGroup > 0 && opts.Fuse == FuseOff:
		return fmt.Errorf("--fuse-group %d: --fuse off fuses nothing", opts.FuseGroup)
	}
	return nil
}
