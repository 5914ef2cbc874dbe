package report

import (
	"cmp"
	"math"
	"path"
	"slices"
	"strings"

	"github.com/tfsweep/tfsweep/spec"
)

// Tags of the Keras TensorBoard callback that the report reads, and its sub-run names.
const (
	tagLoss     = spec.TagEpochLoss
	tagAccuracy = spec.TagEpochAccuracy
	trainRun    = spec.TrainDir
	validRun    = spec.ValidationDir
)

// eventDir is what the report needs from one directory of event files (a TensorBoard run).
type eventDir struct {
	scalars map[string][]Point // by tag, in file order
	// session is set when the directory holds a hparams session_start_info; hparams are its values.
	session bool
	hparams map[string]any
	status  spec.Status // from session_end_info; "" without one
	// state and reason are the session's status and reason texts (spec.TagStatus, spec.TagReason):
	// the run's own word for how it ended, which says more than TensorBoard's status.
	state  spec.Status
	reason string
}

// assemble groups TensorBoard runs (keyed by slash path relative to the sweep directory, "." for the
// sweep directory itself) into the report's runs. A run is a directory with a hparams session, or
// without one the parent of a train/ or validation/ run (logs of a Keras script without hparams).
// Its curves come from its train/ and validation/ sub-runs.
func assemble(dirs map[string]eventDir) []Run {
	names := map[string]bool{}
	for name, d := range dirs {
		if d.session {
			names[name] = true
			continue
		}
		if base := path.Base(name); base == trainRun || base == validRun {
			names[path.Dir(name)] = true
		}
	}
	var runs []Run
	for name := range names {
		d := dirs[name]
		r := Run{Name: name, HParams: d.hparams, Status: statusOf(d), Reason: d.reason}
		train, valid := dirs[path.Join(name, trainRun)], dirs[path.Join(name, validRun)]
		r.Curves = Curves{
			TrainLoss: NewSeries(train.scalars[tagLoss]), TrainAccuracy: NewSeries(train.scalars[tagAccuracy]),
			ValLoss: NewSeries(valid.scalars[tagLoss]), ValAccuracy: NewSeries(valid.scalars[tagAccuracy]),
		}
		runs = append(runs, r)
	}
	slices.SortFunc(runs, compareRuns)
	return runs
}

// compareRuns puts the lab report's variants first, in the order its tables list them (without then
// with batch norm, batch 64 to 1024, Xavier then uniform), and the other runs after them by name.
func compareRuns(a, b Run) int {
	return cmp.Or(cmp.Compare(reportOrder(a), reportOrder(b)), naturalCompare(a.Name, b.Name))
}

func reportOrder(r Run) int {
	v, ok := r.Variant()
	if !ok {
		return math.MaxInt
	}
	i := 0
	for _, t := range LabReport() {
		for _, row := range t.Rows {
			if row.Variant == v {
				return i
			}
			i++
		}
	}
	return math.MaxInt
}

// naturalCompare orders names with their digit runs compared as numbers, so xavier-bn-b64 comes
// before xavier-bn-b128 and -s2 before -s10.
func naturalCompare(a, b string) int {
	a0, b0 := a, b
	for a != "" && b != "" {
		da, db := digitPrefix(a), digitPrefix(b)
		if da != "" && db != "" {
			na, nb := strings.TrimLeft(da, "0"), strings.TrimLeft(db, "0")
			if c := cmp.Or(cmp.Compare(len(na), len(nb)), strings.Compare(na, nb)); c != 0 {
				return c
			}
			a, b = a[len(da):], b[len(db):]
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	if c := cmp.Compare(len(a), len(b)); c != 0 {
		return c
	}
	return strings.Compare(a0, b0) // "b007" and "b7" differ only in zeros: still a total order
}

func digitPrefix(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}

func statusOf(d eventDir) spec.Status {
	if d.state != "" {
		return d.state
	}
	if d.status == "" {
		return spec.StatusUnknown
	}
	return d.status
}
