package trainer

import (
	"fmt"
	"strconv"
	"strings"
)

// GridFlags is a grid as written on the command line: each field is a comma-separated list, and an
// empty field leaves that axis unset. Hidden is one architecture, "128,64" (as Keras scripts write it)
// or "128x64"; several architectures are separated by ";" ("128,64;256") or, in the x form, by commas
// ("128x64,256x128").
type GridFlags struct {
	Init, BatchNorm, BatchSize, Epochs, LR, Hidden, Seed, Scale string
}

// Grid parses the lists. Errors name the flag and the item at fault.
func (f GridFlags) Grid() (Grid, error) {
	var g Grid
	var err error
	if g.Init, err = parseList("--init", f.Init, parseName); err != nil {
		return Grid{}, err
	}
	if g.BatchNorm, err = parseList("--batchnorm", f.BatchNorm, parseSwitch); err != nil {
		return Grid{}, err
	}
	if g.BatchSize, err = parseList("--batch-size", f.BatchSize, parseInt); err != nil {
		return Grid{}, err
	}
	if g.Epochs, err = parseList("--epochs", f.Epochs, parseInt); err != nil {
		return Grid{}, err
	}
	if g.LR, err = parseList("--lr", f.LR, parseFloat); err != nil {
		return Grid{}, err
	}
	if g.Hidden, err = parseHidden("--hidden", f.Hidden); err != nil {
		return Grid{}, err
	}
	if g.Seed, err = parseList("--seed", f.Seed, parseInt64); err != nil {
		return Grid{}, err
	}
	if g.Scale, err = parseList("--scale", f.Scale, parseScale); err != nil {
		return Grid{}, err
	}
	return g, nil
}

// parseList splits a comma-separated list and parses every item; "" is an unset axis.
func parseList[T any](flag, list string, parse func(string) (T, error)) ([]T, error) {
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	var out []T
	for item := range strings.SplitSeq(list, ",") {
		v, err := parse(strings.TrimSpace(item))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		out = append(out, v)
	}
	return out, nil
}

func parseName(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("empty item")
	}
	return strings.ToLower(s), nil
}

// parseSwitch accepts on/off and the usual spellings of true/false.
func parseSwitch(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "on", "true", "yes", "1", "bn":
		return true, nil
	case "off", "false", "no", "0", "nobn":
		return false, nil
	}
	return false, fmt.Errorf("%q is neither on nor off", s)
}

func parseFloat(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return v, nil
}

func parseInt64(s string) (int64, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", s)
	}
	return v, nil
}

func parseInt(s string) (int, error) {
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", s)
	}
	return v, nil
}

// parseLayers reads one hidden-layer architecture such as "128x64" or "128,64".
func parseLayers(s string) ([]int, error) {
	if s == "" {
		return nil, fmt.Errorf("empty item")
	}
	var layers []int
	for part := range strings.SplitSeq(strings.NewReplacer("X", ",", "x", ",").Replace(s), ",") {
		w, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("%q is not a list of layer widths like 128,64", s)
		}
		layers = append(layers, w)
	}
	return layers, nil
}

func parseScale(s string) (string, error) {
	switch strings.ToLower(s) {
	case ScaleUnit:
		return ScaleUnit, nil
	case ScaleNone:
		return ScaleNone, nil
	}
	return "", fmt.Errorf("%q is neither %s nor %s", s, ScaleUnit, ScaleNone)
}

// parseHidden reads the --hidden alternatives: ";" always separates architectures; within a piece
// that uses the x form commas separate architectures too, otherwise they separate layers.
func parseHidden(flag, list string) ([][]int, error) {
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	var out [][]int
	for piece := range strings.SplitSeq(list, ";") {
		piece = strings.TrimSpace(piece)
		if !strings.ContainsAny(piece, "xX") {
			layers, err := parseLayers(piece)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", flag, err)
			}
			out = append(out, layers)
			continue
		}
		alternatives, err := parseList(flag, piece, parseLayers)
		if err != nil {
			return nil, err
		}
		if alternatives == nil {
			return nil, fmt.Errorf("%s: empty item", flag)
		}
		out = append(out, alternatives...)
	}
	return out, nil
}
