package spec

import (
	"fmt"
	"strconv"
	"strings"
)

// A learning-rate schedule is written as its kind and its Keras arguments, joined by ":" (commas
// separate a flag's list items, "/" a list argument's values):
//
//	constant
//	exponential:decay_steps=1000:decay_rate=0.96[:staircase]
//	cosine:decay_steps=2345[:alpha=0.1][:warmup_steps=100:warmup_target=0.002]
//	step:boundaries=1000/2000:values=0.001/0.0005/0.0001
//
// The arguments are those of Keras' ExponentialDecay, CosineDecay and PiecewiseConstantDecay; the
// initial learning rate is the lr axis.

// maxScheduleValues bounds a step schedule's boundaries and values: each run carries them in its
// name, so their count multiplies with the runs'.
const maxScheduleValues = 64

// parseSchedule reads a schedule and checks it as the model will.
func parseSchedule(s string) (Schedule, error) {
	if n := strings.Count(s, "/"); n >= maxScheduleValues*2 {
		return Schedule{}, fmt.Errorf("%.40s…: more than %d boundaries and values", s, maxScheduleValues)
	}
	parts := strings.Split(s, ":")
	kind, err := ParseSchedule(parts[0])
	if err != nil {
		return Schedule{}, err
	}
	sch := Schedule{Kind: kind}
	for _, arg := range parts[1:] {
		key, value, hasValue := strings.Cut(arg, "=")
		var err error
		switch key {
		case "decay_steps":
			sch.DecaySteps, err = strconv.ParseInt(value, 10, 64)
		case "decay_rate":
			sch.DecayRate, err = strconv.ParseFloat(value, 64)
		case "staircase":
			sch.Staircase = !hasValue || value == "true"
			if hasValue && value != "true" && value != "false" {
				err = fmt.Errorf("not true or false")
			}
		case "alpha":
			sch.Alpha, err = strconv.ParseFloat(value, 64)
		case "warmup_steps":
			sch.WarmupSteps, err = strconv.ParseInt(value, 10, 64)
		case "warmup_target":
			sch.WarmupTarget, err = strconv.ParseFloat(value, 64)
		case "boundaries":
			for v := range strings.SplitSeq(value, "/") {
				b, perr := strconv.ParseInt(v, 10, 64)
				if perr != nil {
					err = perr
					break
				}
				sch.Boundaries = append(sch.Boundaries, b)
			}
		case "values":
			for v := range strings.SplitSeq(value, "/") {
				f, perr := strconv.ParseFloat(v, 64)
				if perr != nil {
					err = perr
					break
				}
				sch.Values = append(sch.Values, f)
			}
		default:
			return Schedule{}, fmt.Errorf("%s: unknown argument %q (want decay_steps, decay_rate, staircase, alpha, warmup_steps, warmup_target, boundaries or values)", s, key)
		}
		if err != nil {
			return Schedule{}, fmt.Errorf("%s: %s=%q: not a valid value", s, key, value)
		}
	}
	if errs := sch.Validate(); len(errs) > 0 {
		return Schedule{}, fmt.Errorf("%s: %w", s, errs[0])
	}
	return sch, nil
}

// formatSchedule writes a schedule as parseSchedule reads it, arguments in a fixed order.
func formatSchedule(s Schedule) string {
	if s.Kind == "" {
		return ScheduleConstant
	}
	parts := []string{s.Kind}
	add := func(key string, set bool, value string) {
		if set {
			parts = append(parts, key+"="+value)
		}
	}
	add("decay_steps", s.DecaySteps != 0, strconv.FormatInt(s.DecaySteps, 10))
	add("decay_rate", s.DecayRate != 0, formatFloat(s.DecayRate))
	if s.Staircase {
		parts = append(parts, "staircase")
	}
	add("alpha", s.Alpha != 0, formatFloat(s.Alpha))
	add("warmup_steps", s.WarmupSteps != 0, strconv.FormatInt(s.WarmupSteps, 10))
	add("warmup_target", s.WarmupTarget != 0, formatFloat(s.WarmupTarget))
	if len(s.Boundaries) > 0 {
		b := make([]string, len(s.Boundaries))
		for i, x := range s.Boundaries {
			b[i] = strconv.FormatInt(x, 10)
		}
		parts = append(parts, "boundaries="+strings.Join(b, "/"))
	}
	if len(s.Values) > 0 {
		v := make([]string, len(s.Values))
		for i, x := range s.Values {
			v[i] = formatFloat(x)
		}
		parts = append(parts, "values="+strings.Join(v, "/"))
	}
	return strings.Join(parts, ":")
}

// nameSafe turns a value's text into a run-name part: letters, digits, '.', '-' and '_' only.
func nameSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			return r
		case r == '=':
			return -1
		}
		return '_'
	}, s)
}
