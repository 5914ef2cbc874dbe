package spec

import (
	"fmt"
	"strings"
)

// Scaling says how pixel bytes become float32 features.
type Scaling int

const (
	ScaleUnit Scaling = iota // pixels/255 → [0,1]
	ScaleNone                // raw 0..255 as float32
)

func (s Scaling) String() string {
	switch s {
	case ScaleUnit:
		return "unit"
	case ScaleNone:
		return "none"
	}
	return fmt.Sprintf("Scaling(%d)", int(s))
}

// Divisor is what a value is divided by to become a feature: 255 for unit (as x.astype("float32") / 255
// does it), 1 for none.
func (s Scaling) Divisor() float32 {
	if s == ScaleUnit {
		return 255
	}
	return 1
}

// ParseScaling reads a scaling's name: "unit" (pixels/255, what Keras users normally do) or "none"
// (raw 0–255 pixels, which the lab report most likely trained on).
func ParseScaling(name string) (Scaling, error) {
	for _, s := range []Scaling{ScaleUnit, ScaleNone} {
		if strings.EqualFold(name, s.String()) {
			return s, nil
		}
	}
	return 0, fmt.Errorf("%q is neither %s nor %s", name, ScaleUnit, ScaleNone)
}
