package sweep

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/tfsweep/tfsweep/spec"
)

// Random search, as Ray Tune and W&B Sweeps do it: an axis may be a distribution instead of a list.
// A grid's lists are crossed as always, and every point of that grid is repeated for Trials trials,
// each drawing every distribution axis afresh. The draws come from the plan's search seed and the
// trial's place in the plan alone, so the same command draws the same trials on every machine.
//
//	flags: --lr log_uniform:1e-4:1e-2   --dropout uniform:0:0.5   --batch-size choice:64:128:256
//	YAML:  lr: {log_uniform: [1e-4, 1e-2]}   batch_size: {choice: [64, 128, 256]}

// Distribution kinds.
const (
	DistUniform    = "uniform"     // lo + (hi−lo)·U[0,1); integer axes round to the nearest integer
	DistLogUniform = "log_uniform" // exp of uniform between log lo and log hi; lo > 0
	DistChoice     = "choice"      // one of the values, each as likely
)

// Distribution is an axis' values drawn at random per trial.
type Distribution struct {
	Kind   string
	Lo, Hi float64 // uniform, log_uniform
	Values []any   // choice: parsed values of the axis
}

// draw samples one value of axis a.
func (d *Distribution) draw(a spec.Axis, rng *rand.Rand) any {
	switch d.Kind {
	case DistChoice:
		return d.Values[rng.IntN(len(d.Values))]
	case DistLogUniform:
		x := math.Exp(math.Log(d.Lo) + rng.Float64()*(math.Log(d.Hi)-math.Log(d.Lo)))
		return a.FromFloat(x)
	default:
		return a.FromFloat(d.Lo + rng.Float64()*(d.Hi-d.Lo))
	}
}

// parseDistribution reads a distribution from its kind and its arguments as text, checking the
// bounds against the axis: lo < hi, both values the axis accepts, lo > 0 for log_uniform.
func parseDistribution(a spec.Axis, kind string, args []string) (*Distribution, error) {
	d := &Distribution{Kind: kind}
	switch kind {
	case DistChoice:
		if len(args) == 0 {
			return nil, errors.New("choice: no values")
		}
		for _, s := range args {
			v, err := a.Parse(s)
			if err != nil {
				return nil, fmt.Errorf("choice: %w", err)
			}
			d.Values = append(d.Values, v)
		}
		return d, nil
	case DistUniform, DistLogUniform:
		if !a.Numeric() {
			return nil, fmt.Errorf("%s: %s takes lists or choice:, not a range", kind, a.Key)
		}
		if len(args) != 2 {
			return nil, fmt.Errorf("%s: want two bounds lo:hi, got %d", kind, len(args))
		}
		var err error
		bounds := [2]float64{}
		for i, s := range args {
			if bounds[i], err = strconv.ParseFloat(strings.TrimSpace(s), 64); err != nil {
				return nil, fmt.Errorf("%s: %q is not a number", kind, s)
			}
			if _, err := a.Parse(s); err != nil {
				return nil, fmt.Errorf("%s: bound %w", kind, err)
			}
		}
		d.Lo, d.Hi = bounds[0], bounds[1]
		if !(d.Lo < d.Hi) {
			return nil, fmt.Errorf("%s: lo %v must be below hi %v", kind, d.Lo, d.Hi)
		}
		if kind == DistLogUniform && d.Lo <= 0 {
			return nil, fmt.Errorf("log_uniform: bounds must be positive, got %v", d.Lo)
		}
		return d, nil
	}
	return nil, fmt.Errorf("unknown distribution %q (want uniform, log_uniform or choice)", kind)
}

// parseFlagDistribution reads a flag's "kind:arg:arg" form; ok is false for a plain list.
func parseFlagDistribution(a spec.Axis, s string) (d *Distribution, ok bool, err error) {
	kind, rest, found := strings.Cut(strings.TrimSpace(s), ":")
	switch kind {
	case DistUniform, DistLogUniform, DistChoice:
	default:
		return nil, false, nil
	}
	if !found {
		return nil, false, nil // a plain value that happens to be a distribution's name: init uniform
	}
	d, err = parseDistribution(a, kind, strings.Split(rest, ":"))
	return d, true, err
}

// interval is the distribution's range for the HParams dashboard; ok is false for choice.
func (d *Distribution) interval() (lo, hi float64, ok bool) {
	if d.Kind == DistChoice {
		return 0, 0, false
	}
	return d.Lo, d.Hi, true
}

// trialRNG is the random source of the plan's trial-th trial (0-based, counted over the plan).
func trialRNG(seed int64, trial int) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), uint64(trial)))
}
