package trainer

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// A sweep file holds several grids (the preset's twelve runs are trainer/testdata/lab-report.yaml):
//
//	limit: 0              # optional: train on the first N training images
//	defaults:             # optional: axes every grid takes unless it sets them itself
//	  epochs: 5
//	  lr: 0.001
//	grids:
//	  - init: xavier
//	    batchnorm: [off, on]
//	    batch_size: [64, 128, 256, 512, 1024]
//	  - init: uniform
//	    batchnorm: [off, on]
//	    batch_size: 128
//
// Every axis (init, batchnorm, batch_size, epochs, lr, hidden, seed, scale) takes one value or a list.
// hidden is one architecture ([128, 64] or "128x64") or a list of them ([[128, 64], [256]]).
type sweepFile struct {
	Limit    *int       `yaml:"limit"`
	Defaults *yamlGrid  `yaml:"defaults"`
	Grids    []yamlGrid `yaml:"grids"`
}

type yamlGrid struct {
	Init      yamlAxis `yaml:"init"`
	BatchNorm yamlAxis `yaml:"batchnorm"`
	BatchSize yamlAxis `yaml:"batch_size"`
	Epochs    yamlAxis `yaml:"epochs"`
	LR        yamlAxis `yaml:"lr"`
	Hidden    yamlAxis `yaml:"hidden"`
	Seed      yamlAxis `yaml:"seed"`
	Scale     yamlAxis `yaml:"scale"`
}

// yamlAxis keeps the node so that values are parsed by the same functions as the flags and errors
// carry the line of the offending item.
type yamlAxis struct{ node *yaml.Node }

func (a *yamlAxis) UnmarshalYAML(n *yaml.Node) error {
	a.node = n
	return nil
}

// ReadConfig reads a sweep file. Errors name the file and line.
func ReadConfig(path string) (Plan, error) {
	f, err := os.Open(path)
	if err != nil {
		return Plan{}, fmt.Errorf("--config: %w", err)
	}
	defer f.Close()
	return ParseConfig(f, path)
}

// ParseConfig parses a sweep file read from r; name is used in error messages.
func ParseConfig(r io.Reader, name string) (Plan, error) {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	var file sweepFile
	if err := dec.Decode(&file); err != nil {
		if errors.Is(err, io.EOF) {
			return Plan{}, fmt.Errorf("%s: the file is empty: it needs a grids list", name)
		}
		return Plan{}, fmt.Errorf("%s: %s", name, yamlMessage(err))
	}
	var plan Plan
	if file.Limit != nil {
		plan.Limit = *file.Limit
	}
	var defaults Grid
	if file.Defaults != nil {
		var err error
		if defaults, err = file.Defaults.grid(name); err != nil {
			return Plan{}, err
		}
	}
	if len(file.Grids) == 0 {
		return Plan{}, fmt.Errorf("%s: no grids: add a grids list with at least one grid", name)
	}
	for _, yg := range file.Grids {
		g, err := yg.grid(name)
		if err != nil {
			return Plan{}, err
		}
		plan.Grids = append(plan.Grids, defaults.override(g))
	}
	return plan, nil
}

var unknownField = regexp.MustCompile(`field (\S+) not found in type \S+`)

// yamlMessage turns the YAML library's errors into one line per problem, e.g.
// `line 4: unknown key "batch"`.
func yamlMessage(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, len(te.Errors))
		for i, m := range te.Errors {
			msgs[i] = unknownField.ReplaceAllString(m, `unknown key "$1"`)
		}
		return strings.Join(msgs, "; ")
	}
	return strings.TrimPrefix(err.Error(), "yaml: ")
}

func (yg yamlGrid) grid(file string) (Grid, error) {
	var g Grid
	var err error
	if g.Init, err = axisValues(file, "init", yg.Init, parseName); err != nil {
		return Grid{}, err
	}
	if g.BatchNorm, err = axisValues(file, "batchnorm", yg.BatchNorm, parseSwitch); err != nil {
		return Grid{}, err
	}
	if g.BatchSize, err = axisValues(file, "batch_size", yg.BatchSize, parseInt); err != nil {
		return Grid{}, err
	}
	if g.Epochs, err = axisValues(file, "epochs", yg.Epochs, parseInt); err != nil {
		return Grid{}, err
	}
	if g.LR, err = axisValues(file, "lr", yg.LR, parseFloat); err != nil {
		return Grid{}, err
	}
	if g.Hidden, err = hiddenValues(file, yg.Hidden); err != nil {
		return Grid{}, err
	}
	if g.Seed, err = axisValues(file, "seed", yg.Seed, parseInt64); err != nil {
		return Grid{}, err
	}
	if g.Scale, err = axisValues(file, "scale", yg.Scale, parseScale); err != nil {
		return Grid{}, err
	}
	return g, nil
}

// axisValues reads a scalar or a flat list of scalars.
func axisValues[T any](file, key string, a yamlAxis, parse func(string) (T, error)) ([]T, error) {
	n := a.node
	if n == nil {
		return nil, nil
	}
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
		if len(items) == 0 {
			return nil, fmt.Errorf("%s:%d: %s: empty list", file, n.Line, key)
		}
	}
	var out []T
	for _, item := range items {
		if item.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("%s:%d: %s: expected a value or a list of values", file, item.Line, key)
		}
		v, err := parse(item.Value)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %s: %w", file, item.Line, key, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// hiddenValues reads one architecture ("128x64" or [128, 64]) or a list of them ([[128, 64], [256]] or
// ["128x64", "256"]).
func hiddenValues(file string, a yamlAxis) ([][]int, error) {
	n := a.node
	if n == nil {
		return nil, nil
	}
	fail := func(line int, err error) error { return fmt.Errorf("%s:%d: hidden: %w", file, line, err) }
	switch n.Kind {
	case yaml.ScalarNode:
		layers, err := parseLayers(n.Value)
		if err != nil {
			return nil, fail(n.Line, err)
		}
		return [][]int{layers}, nil
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			return nil, fail(n.Line, errors.New("empty list"))
		}
		// A flat list of plain widths is one architecture; anything else is a list of architectures.
		flat := true
		for _, item := range n.Content {
			if item.Kind != yaml.ScalarNode || strings.ContainsAny(item.Value, "xX") {
				flat = false
			}
		}
		if flat {
			var layers []int
			for _, item := range n.Content {
				w, err := parseInt(item.Value)
				if err != nil {
					return nil, fail(item.Line, err)
				}
				layers = append(layers, w)
			}
			return [][]int{layers}, nil
		}
		var out [][]int
		for _, item := range n.Content {
			var layers []int
			switch item.Kind {
			case yaml.ScalarNode:
				var err error
				if layers, err = parseLayers(item.Value); err != nil {
					return nil, fail(item.Line, err)
				}
			case yaml.SequenceNode:
				for _, w := range item.Content {
					width, err := parseInt(w.Value)
					if err != nil || w.Kind != yaml.ScalarNode {
						return nil, fail(w.Line, fmt.Errorf("%q is not a layer width", w.Value))
					}
					layers = append(layers, width)
				}
			default:
				return nil, fail(item.Line, errors.New("expected a list of layer widths"))
			}
			out = append(out, layers)
		}
		return out, nil
	}
	return nil, fail(n.Line, errors.New("expected layer widths such as [128, 64] or \"128x64\""))
}

// NewPlan builds what `tfsweep run` trains. With a config file: its grids, with every axis set in flags
// overriding that axis in each grid. Without one: the lab-report preset, with the flags' other axes
// (epochs, lr, hidden, seed, scale) applied to its twelve runs, unless the flags set one of the axes the
// preset itself sweeps (init, batch norm, batch size): then one grid of the flags. So
// `tfsweep run --scale none` is the lab report on raw pixels. limit, when not nil, overrides the file's limit.
func NewPlan(configPath string, flags GridFlags, limit *int) (Plan, error) {
	fromFlags, err := flags.Grid()
	if err != nil {
		return Plan{}, err
	}
	var plan Plan
	switch {
	case configPath != "":
		if plan, err = ReadConfig(configPath); err != nil {
			return Plan{}, err
		}
		for i, g := range plan.Grids {
			plan.Grids[i] = g.override(fromFlags)
		}
	case !fromFlags.setsPresetAxes():
		plan.Grids = LabReport()
		for i, g := range plan.Grids {
			plan.Grids[i] = g.override(fromFlags)
		}
	default:
		plan.Grids = []Grid{fromFlags}
	}
	if limit != nil {
		plan.Limit = *limit
	}
	return plan, nil
}
