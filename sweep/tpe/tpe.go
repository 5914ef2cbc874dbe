// Package tpe is the Tree-structured Parzen Estimator (Bergstra et al., "Algorithms for
// Hyper-Parameter Optimization", NeurIPS 2011), with the defaults Optuna's TPESampler uses: 10
// random startup trials, the best γ(n) = min(⌈n/10⌉, 25) trials as the good set, 24 candidates per
// draw, a prior of weight 1, and each parameter sampled on its own (univariate).
//
// A proposal depends on the history and the random source alone: the caller seeds the source from
// the search seed and the trial's number, so the same finished trials give the same next trial on
// every machine and after a resume.
package tpe

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Kind is the kind of a parameter's range.
type Kind int

// Parameter kinds.
const (
	Uniform    Kind = iota // a float in [Lo, Hi]
	LogUniform             // a float in [Lo, Hi], Lo > 0, uniform in its logarithm
	Int                    // an integer in [Lo, Hi]
	Choice                 // an index in [0, Choices)
)

// Param is one dimension of the search space.
type Param struct {
	Name    string
	Kind    Kind
	Lo, Hi  float64 // Uniform, LogUniform, Int
	Choices int     // Choice
}

func (p Param) validate() error {
	switch p.Kind {
	case Choice:
		if p.Choices < 1 {
			return fmt.Errorf("%s: a choice needs at least one value", p.Name)
		}
		return nil
	case Uniform, LogUniform, Int:
	default:
		return fmt.Errorf("%s: unknown kind %d", p.Name, p.Kind)
	}
	if !(p.Lo <= p.Hi) || math.IsInf(p.Lo, 0) || math.IsInf(p.Hi, 0) {
		return fmt.Errorf("%s: bounds [%v, %v] are not a finite range", p.Name, p.Lo, p.Hi)
	}
	if p.Kind == LogUniform && p.Lo <= 0 {
		return fmt.Errorf("%s: log_uniform bounds must be positive, got %v", p.Name, p.Lo)
	}
	return nil
}

// Trial is a finished (or paused) trial: its parameters in the order of the sampler's Params, a
// choice as its index, and the value to minimise. A trial whose value is NaN counts as the worst.
type Trial struct {
	Params []float64
	Value  float64
}

// Options configures New; zero fields take Optuna's defaults.
type Options struct {
	StartupTrials int     // trials drawn at random before the estimator is used (10)
	Candidates    int     // candidates drawn from the good density per proposal (24)
	PriorWeight   float64 // weight of the prior component in each density (1)
	// Gamma gives the size of the good set for n trials (min(⌈n/10⌉, 25)).
	Gamma func(n int) int
}

// Sampler proposes trials.
type Sampler struct {
	params []Param
	opts   Options
}

// New returns a sampler over params.
func New(params []Param, opts Options) (*Sampler, error) {
	if len(params) == 0 {
		return nil, errors.New("tpe: no parameters to search")
	}
	for _, p := range params {
		if err := p.validate(); err != nil {
			return nil, fmt.Errorf("tpe: %w", err)
		}
	}
	if opts.StartupTrials <= 0 {
		opts.StartupTrials = 10
	}
	if opts.Candidates <= 0 {
		opts.Candidates = 24
	}
	if opts.PriorWeight <= 0 {
		opts.PriorWeight = 1
	}
	if opts.Gamma == nil {
		opts.Gamma = func(n int) int { return min((n+9)/10, 25) }
	}
	return &Sampler{params: slices.Clone(params), opts: opts}, nil
}

// Suggest proposes the next trial's parameters from the history (trials in the order they were
// started). Until StartupTrials trials have finished it draws from the prior.
func (s *Sampler) Suggest(rng *rand.Rand, history []Trial) ([]float64, error) {
	for i, t := range history {
		if len(t.Params) != len(s.params) {
			return nil, fmt.Errorf("tpe: trial %d has %d parameters, want %d", i, len(t.Params), len(s.params))
		}
	}
	out := make([]float64, len(s.params))
	if len(history) < s.opts.StartupTrials {
		for j, p := range s.params {
			out[j] = prior(p).sample(rng)
		}
		return out, nil
	}
	below, above, wBelow, wAbove := s.split(history)
	for j, p := range s.params {
		l := s.density(p, column(below, j), wBelow)
		g := s.density(p, column(above, j), wAbove)
		out[j] = bestCandidate(rng, l, g, s.opts.Candidates)
	}
	return out, nil
}

// split orders the history best first and cuts it at γ(n), each side keeping the weights of its
// trials (Optuna's: 1 for the newest 25 trials, a ramp from 1/n for older ones).
func (s *Sampler) split(history []Trial) (below, above []Trial, wBelow, wAbove []float64) {
	n := len(history)
	weights := trialWeights(n)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Compare(sortKey(history[a].Value), sortKey(history[b].Value))
	})
	cut := min(max(s.opts.Gamma(n), 1), n)
	good := make([]bool, n)
	for _, i := range order[:cut] {
		good[i] = true
	}
	for i, t := range history { // the trials' own order, so the weights stay theirs
		if good[i] {
			below, wBelow = append(below, t), append(wBelow, weights[i])
		} else {
			above, wAbove = append(above, t), append(wAbove, weights[i])
		}
	}
	return below, above, wBelow, wAbove
}

func sortKey(v float64) float64 {
	if math.IsNaN(v) {
		return math.Inf(1)
	}
	return v
}

// trialWeights is Optuna's default_weights: all ones below 25 trials, else a ramp from 1/n to 1 over
// the oldest n−25 and ones for the newest 25.
func trialWeights(n int) []float64 {
	w := make([]float64, n)
	ramp := n - 25
	for i := range w {
		w[i] = 1
		if ramp > 0 && i < ramp {
			w[i] = 1/float64(n) + (1-1/float64(n))*float64(i)/float64(max(ramp-1, 1))
		}
	}
	return w
}

func column(trials []Trial, j int) []float64 {
	out := make([]float64, len(trials))
	for i, t := range trials {
		out[i] = t.Params[j]
	}
	return out
}

// bestCandidate draws candidates from l and returns the one with the largest l(x)/g(x).
func bestCandidate(rng *rand.Rand, l, g density, candidates int) float64 {
	best := l.sample(rng)
	bestScore := l.logPDF(best) - g.logPDF(best)
	for range candidates - 1 {
		x := l.sample(rng)
		if score := l.logPDF(x) - g.logPDF(x); score > bestScore {
			best, bestScore = x, score
		}
	}
	return best
}
