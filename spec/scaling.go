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
