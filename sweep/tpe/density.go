package tpe

import (
	"math"
	"math/rand/v2"
	"slices"
)

// density is a distribution over one parameter's values: l(x) over the good trials, g(x) over the
// rest.
type density interface {
	sample(rng *rand.Rand) float64
	logPDF(x float64) float64
}

// prior returns the random-search distribution of a parameter: uniform over its range (in the
// logarithm for LogUniform, over the integers for Int, over the indices for Choice).
func prior(p Param) density {
	if p.Kind == Choice {
		return categorical{weights: slices.Repeat([]float64{1 / float64(p.Choices)}, p.Choices)}
	}
	lo, hi := p.space()
	return uniform{p: p, lo: lo, hi: hi}
}

type uniform struct {
	p      Param
	lo, hi float64 // in the parameter's space
}

func (u uniform) sample(rng *rand.Rand) float64 {
	return u.p.fromSpace(u.lo + rng.Float64()*(u.hi-u.lo))
}
func (u uniform) logPDF(float64) float64 {
	return -math.Log(max(u.hi-u.lo, math.SmallestNonzeroFloat64))
}

// space returns the range the estimator works in: the logarithm of a LogUniform's bounds, an Int's
// bounds widened by half a step so that every integer gets the same width.
func (p Param) space() (lo, hi float64) {
	switch p.Kind {
	case LogUniform:
		return math.Log(p.Lo), math.Log(p.Hi)
	case Int:
		return p.Lo - 0.5, p.Hi + 0.5
	}
	return p.Lo, p.Hi
}

func (p Param) toSpace(x float64) float64 {
	if p.Kind == LogUniform {
		return math.Log(x)
	}
	return x
}

func (p Param) fromSpace(y float64) float64 {
	switch p.Kind {
	case LogUniform:
		return min(max(math.Exp(y), p.Lo), p.Hi)
	case Int:
		return min(max(math.Round(y), p.Lo), p.Hi)
	}
	return min(max(y, p.Lo), p.Hi)
}

// density builds the Parzen estimator of a parameter from observed values and their weights.
func (s *Sampler) density(p Param, values, weights []float64) density {
	if p.Kind == Choice {
		w := slices.Repeat([]float64{s.opts.PriorWeight / float64(p.Choices)}, p.Choices)
		for i, v := range values {
			w[int(v)] += weights[i]
		}
		return normalised(w)
	}
	return s.parzen(p, values, weights)
}

func normalised(w []float64) categorical {
	sum := 0.0
	for _, x := range w {
		sum += x
	}
	for i := range w {
		w[i] /= sum
	}
	return categorical{weights: w}
}

type categorical struct{ weights []float64 }

func (c categorical) sample(rng *rand.Rand) float64 { return float64(pick(rng, c.weights)) }
func (c categorical) logPDF(x float64) float64 {
	i := int(x)
	if i < 0 || i >= len(c.weights) {
		return math.Inf(-1)
	}
	return math.Log(c.weights[i])
}

// pick draws an index with probability proportional to its weight.
func pick(rng *rand.Rand, weights []float64) int {
	sum := 0.0
	for _, w := range weights {
		sum += w
	}
	u := rng.Float64() * sum
	for i, w := range weights {
		if u < w {
			return i
		}
		u -= w
	}
	return len(weights) - 1
}

// mixture is a weighted sum of Gaussians truncated to [lo, hi], in the parameter's space.
type mixture struct {
	p              Param
	lo, hi         float64
	mus, sigmas, w []float64
}

// parzen places a Gaussian on each observation and one wide prior Gaussian at the middle of the
// range. Each observation's width is the larger gap to its neighbours among the sorted centres,
// clipped to [range/min(100, 1+n), range] (Bergstra's rule with Optuna's "magic clip").
func (s *Sampler) parzen(p Param, values, weights []float64) mixture {
	lo, hi := p.space()
	width := hi - lo
	m := mixture{p: p, lo: lo, hi: hi}
	for i, v := range values {
		m.mus = append(m.mus, p.toSpace(v))
		m.w = append(m.w, weights[i])
	}
	m.mus = append(m.mus, (lo+hi)/2)
	m.w = append(m.w, s.opts.PriorWeight)
	order := make([]int, len(m.mus))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmpFloat(m.mus[a], m.mus[b]) })
	minSigma := width / min(100, 1+float64(len(values)))
	m.sigmas = make([]float64, len(m.mus))
	for rank, i := range order {
		gap := 0.0
		if rank > 0 {
			gap = m.mus[i] - m.mus[order[rank-1]]
		}
		if rank+1 < len(order) {
			gap = max(gap, m.mus[order[rank+1]]-m.mus[i])
		}
		m.sigmas[i] = min(max(gap, minSigma), width)
	}
	m.sigmas[len(m.sigmas)-1] = width // the prior
	if width == 0 {
		for i := range m.sigmas {
			m.sigmas[i] = 1
		}
	}
	sum := 0.0
	for _, w := range m.w {
		sum += w
	}
	for i := range m.w {
		m.w[i] /= sum
	}
	return m
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (m mixture) sample(rng *rand.Rand) float64 {
	i := pick(rng, m.w)
	return m.p.fromSpace(truncatedNormal(rng, m.mus[i], m.sigmas[i], m.lo, m.hi))
}

// logPDF is the mixture's log density at x (a value of the parameter, not of its space).
func (m mixture) logPDF(x float64) float64 {
	y := m.p.toSpace(x)
	sum := 0.0
	for i, mu := range m.mus {
		mass := normalCDF((m.hi-mu)/m.sigmas[i]) - normalCDF((m.lo-mu)/m.sigmas[i])
		if mass <= 0 {
			continue
		}
		z := (y - mu) / m.sigmas[i]
		sum += m.w[i] * math.Exp(-z*z/2) / (m.sigmas[i] * math.Sqrt(2*math.Pi) * mass)
	}
	return math.Log(sum)
}

func normalCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

// truncatedNormal draws from N(mu, sigma²) cut to [lo, hi] by inverting the CDF.
func truncatedNormal(rng *rand.Rand, mu, sigma, lo, hi float64) float64 {
	a, b := normalCDF((lo-mu)/sigma), normalCDF((hi-mu)/sigma)
	if !(b > a) {
		return min(max(mu, lo), hi)
	}
	u := a + rng.Float64()*(b-a)
	u = min(max(u, 1e-300), 1-1e-16)
	return min(max(mu+sigma*math.Sqrt2*math.Erfinv(2*u-1), lo), hi)
}
