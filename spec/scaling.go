package spec

import (
	"fmt"
	"strings"
)

// Scaling says how the data's values become the network's float32 inputs.
type Scaling int

const (
	ScaleUnit        Scaling = iota // pixels/255 → [0,1]
	ScaleNone                       // raw 0..255 as float32
	ScaleStandardize                // per channel (x - mean) / std, both from the training split
)

var scalings = []Scaling{ScaleUnit, ScaleNone, ScaleStandardize}

func (s Scaling) String() string {
	switch s {
	case ScaleUnit:
		return "unit"
	case ScaleNone:
		return "none"
	case ScaleStandardize:
		return "standardize"
	}
	return fmt.Sprintf("Scaling(%d)", int(s))
}

// Divisor is what a value is divided by first: 255 for unit (as x.astype("float32") / 255 does it), 1
// for none and for standardize, whose mean and deviation are of the raw values, as a Keras
// Normalization layer adapted on x_train learns them.
func (s Scaling) Divisor() float32 {
	if s == ScaleUnit {
		return 255
	}
	return 1
}

// ParseScaling reads a scaling's name: "unit" (pixels/255, what Keras users normally do), "none" (raw
// 0–255 pixels, which the lab report most likely trained on) or "standardize" (what
// keras.layers.Normalization does once adapted on the training data).
func ParseScaling(name string) (Scaling, error) {
	for _, s := range scalings {
		if strings.EqualFold(name, s.String()) {
			return s, nil
		}
	}
	return 0, fmt.Errorf("%q is none of %s, %s, %s", name, ScaleUnit, ScaleNone, ScaleStandardize)
}
