package sweep

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tfsweep/tfsweep/spec"
	"go.yaml.in/yaml/v3"
)

// A sweep file holds several grids (the lab report's twelve runs are sweep/presets/lab-report.yaml):
//
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
// Every axis of spec.Axes is a key that takes one value or a list; hidden is one architecture ([128, 64]
// or "128x64") or a list of them ([[128, 64], [256]]). A top-level limit: N is the same as
// defaults: {limit: N}.

// maxConfigBytes bounds a sweep file: a plan of 10,000 runs fits in far less.
const maxConfigBytes = 1 << 20

// ReadConfig reads a sweep file. Errors name the file and line.
func ReadConfig(path string) (Plan, error) {
	f, err := os.Open(path)
	if err != nil {
		return Plan{}, err
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil && !info.Mode().IsRegular() {
		return Plan{}, fmt.Errorf("%s is not a regular file", path)
	}
	return ParseConfig(f, path)
}

// ParseConfig parses a sweep file read from r; name is used in error messages.
func ParseConfig(r io.Reader, name string) (Plan, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxConfigBytes+1))
	if err != nil {
		return Plan{}, fmt.Errorf("%s: %w", name, err)
	}
	if len(data) > maxConfigBytes {
		return Plan{}, fmt.Errorf("%s: larger than %d bytes", name, maxConfigBytes)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return Plan{}, fmt.Errorf("%s: the file is empty: it needs a grids list", name)
		}
		return Plan{}, fmt.Errorf("%s: %s", name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	// A second document (after ---), or data after a JSON object, would be silently dropped.
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		return Plan{}, fmt.Errorf("%s:%d: a second document: a sweep file is one document", name, max(extra.Line, 1))
	case !errors.Is(err, io.EOF):
		return Plan{}, fmt.Errorf("%s:%d: data after the document: a sweep file is one YAML document or one JSON object", name, trailingLine(data))
	}
	p := configParser{file: name}
	return p.document(&doc)
}

// trailingLine is the line where data follows a complete JSON value (YAML's parser does not say),
// else 1.
func trailingLine(data []byte) int {
	dec := json.NewDecoder(bytes.NewReader(data))
	var v json.RawMessage
	if dec.Decode(&v) != nil {
		return 1
	}
	rest := data[dec.InputOffset():]
	off := int(dec.InputOffset()) + len(rest) - len(bytes.TrimLeft(rest, " \t\r\n"))
	return 1 + bytes.Count(data[:off], []byte("\n"))
}

type configParser struct {
	file   string
	models map[string]string // the sweep file's named models: name → file
}

func (p configParser) errorf(n *yaml.Node, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", p.file, n.Line, fmt.Sprintf(format, args...))
}

func (p configParser) document(doc *yaml.Node) (Plan, error) {
	root, err := p.root(doc)
	if err != nil {
		return Plan{}, err
	}
	if p.models, err = p.namedModels(lookupKey(root, "models")); err != nil {
		return Plan{}, err
	}
	var plan Plan
	var defaults Grid
	var grids *yaml.Node
	for i := 0; i < len(root.Content); i += 2 {
		key, value := root.Content[i], root.Content[i+1]
		switch key.Value {
		case "defaults":
			g, err := p.grid(value, "defaults")
			if err != nil {
				return Plan{}, err
			}
			defaults = defaults.Override(g)
		case "limit":
			a, _ := spec.AxisByKey("limit")
			values, err := p.values(a, value)
			if err != nil {
				return Plan{}, err
			}
			defaults.Set("limit", values, fmt.Sprintf("%s:%d: limit", p.file, value.Line))
		case "grids":
			grids = value
		case "data":
			if plan.Data, plan.dataOrigin, err = p.dataSource(value); err != nil {
				return Plan{}, err
			}
		case "models": // read first, for the grids to name them
		case "scheduler":
			if err := decodeScheduler(value, &plan.Scheduler); err != nil {
				return Plan{}, p.errorf(value, "scheduler: %v", err)
			}
		case "search":
			if value.Kind != yaml.ScalarNode || (value.Value != SearchRandom && value.Value != SearchTPE) {
				return Plan{}, p.errorf(value, "search: expected random or tpe")
			}
			plan.Search = value.Value
		case "trials", "search_seed":
			n, err := p.count(key.Value, value)
			if err != nil {
				return Plan{}, err
			}
			if key.Value == "trials" {
				plan.Trials = int(n)
			} else {
				plan.SearchSeed = n
			}
		default:
			return Plan{}, p.errorf(key, "unknown key %q%s", key.Value, Suggest(key.Value, []string{"data", "defaults", "grids", "limit", "trials", "search_seed", "search", "scheduler", "models"}))
		}
	}
	return p.expand(plan, root, grids, defaults)
}

// root is the document's top-level mapping, checked for aliases.
func (p configParser) root(doc *yaml.Node) (*yaml.Node, error) {
	root := doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, p.errorf(root, "expected a mapping with a grids list")
	}
	if err := p.checkNodes(root, 0); err != nil {
		return nil, err
	}
	return root, nil
}

// expand reads the grids list into the plan, each grid over the defaults.
func (p configParser) expand(plan Plan, root, grids *yaml.Node, defaults Grid) (Plan, error) {
	if grids == nil || (grids.Kind == yaml.SequenceNode && len(grids.Content) == 0) {
		return Plan{}, p.errorf(root, "no grids: add a grids list with at least one grid")
	}
	if grids.Kind != yaml.SequenceNode {
		return Plan{}, p.errorf(grids, "grids: expected a list of grids")
	}
	for i, n := range grids.Content {
		g, err := p.grid(n, fmt.Sprintf("grid %d", i+1))
		if err != nil {
			return Plan{}, err
		}
		plan.Grids = append(plan.Grids, defaults.Override(g))
	}
	return plan, nil
}

// dataSource reads data:, a data source spec, and where it was given.
func (p configParser) dataSource(n *yaml.Node) (source, origin string, err error) {
	if n.Kind != yaml.ScalarNode || n.Value == "" {
		return "", "", p.errorf(n, "data: expected a data source, KIND:PATH[:key=value…]")
	}
	return n.Value, fmt.Sprintf("%s:%d: data", p.file, n.Line), nil
}

// grid reads a mapping of axis keys to values.
func (p configParser) grid(n *yaml.Node, what string) (Grid, error) {
	var g Grid
	if n.Kind != yaml.MappingNode {
		return g, p.errorf(n, "%s: expected a mapping of axes such as batch_size: [64, 128]", what)
	}
	for i := 0; i < len(n.Content); i += 2 {
		key, value := n.Content[i], n.Content[i+1]
		a, ok := spec.AxisByKey(key.Value)
		if !ok {
			return g, p.errorf(key, "unknown key %q%s", key.Value, Suggest(key.Value, axisKeys()))
		}
		if g.sets(a.Key) {
			return g, p.errorf(key, "%s appears twice", a.Key)
		}
		origin := fmt.Sprintf("%s:%d: %s", p.file, key.Line, a.Key)
		if value.Kind == yaml.MappingNode {
			d, err := p.distribution(a, value)
			if err != nil {
				return g, err
			}
			g.SetDistribution(a.Key, d, origin)
			continue
		}
		values, err := p.values(a, value)
		if err != nil {
			return g, err
		}
		g.Set(a.Key, values, origin)
	}
	return g, nil
}

// count reads trials (a non-negative integer) or search_seed (an integer).
func (p configParser) count(key string, value *yaml.Node) (int64, error) {
	if value.Kind != yaml.ScalarNode {
		return 0, p.errorf(value, "%s: expected an integer", key)
	}
	n, err := strconv.ParseInt(value.Value, 10, 64)
	if err != nil || (key == "trials" && n < 0) {
		return 0, p.errorf(value, "%s: %q is not a non-negative integer", key, value.Value)
	}
	return n, nil
}

// namedModels reads the sweep file's models mapping, name: file, the files relative to the sweep
// file, so that grids can say model: [mlp, convnet].
func (p configParser) namedModels(n *yaml.Node) (map[string]string, error) {
	if n == nil {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, p.errorf(n, "models: expected a mapping of model names to model files, e.g. convnet: models/convnet.yaml")
	}
	models := make(map[string]string, len(n.Content)/2)
	for i := 0; i < len(n.Content); i += 2 {
		name, file := n.Content[i], n.Content[i+1]
		switch {
		case name.Value == spec.BuiltInModel:
			return nil, p.errorf(name, "models: %s is the built-in model's name", name.Value)
		case file.Kind != yaml.ScalarNode || file.Value == "":
			return nil, p.errorf(file, "models: %s: expected a model file", name.Value)
		case models[name.Value] != "":
			return nil, p.errorf(name, "models: %s appears twice", name.Value)
		}
		models[name.Value] = p.relative(file.Value)
	}
	return models, nil
}

// locateModel is a grid's model: a name from the models mapping, or a file relative to the sweep
// file.
func (p configParser) locateModel(m spec.Model) spec.Model {
	if file, ok := p.models[m.File]; ok {
		return spec.Model{Name: m.File, File: file}
	}
	return absoluteModel(m, filepath.Dir(p.file))
}

// relative is a path written in the sweep file, which is relative to the sweep file's directory,
// made absolute.
func (p configParser) relative(path string) string {
	return absoluteModel(spec.Model{File: path}, filepath.Dir(p.file)).File
}

// absoluteModel gives a model file relative to dir ("" = the working directory) as an absolute
// path, so that the plan a sweep records (sweep.yaml in its directory) names the same file wherever
// it is read from.
func absoluteModel(m spec.Model, dir string) spec.Model {
	if m.File == "" || filepath.IsAbs(m.File) {
		return m
	}
	if abs, err := filepath.Abs(filepath.Join(dir, m.File)); err == nil {
		m.File = abs
	}
	return m
}

// lookupKey is the value of key in a mapping node, nil when absent.
func lookupKey(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// distribution reads {log_uniform: [lo, hi]}, {uniform: [lo, hi]} or {choice: [a, b, ...]}.
func (p configParser) distribution(a spec.Axis, n *yaml.Node) (*Distribution, error) {
	if len(n.Content) != 2 || n.Content[1].Kind != yaml.SequenceNode {
		return nil, p.errorf(n, "%s: a distribution is one of {uniform: [lo, hi]}, {log_uniform: [lo, hi]}, {choice: [a, b, ...]}", a.Key)
	}
	kind, list := n.Content[0], n.Content[1]
	args := make([]string, len(list.Content))
	for i, item := range list.Content {
		if item.Kind != yaml.ScalarNode {
			return nil, p.errorf(item, "%s: %s: expected plain values", a.Key, kind.Value)
		}
		args[i] = item.Value
	}
	d, err := parseDistribution(a, kind.Value, args)
	if err != nil {
		return nil, p.errorf(kind, "%s: %v", a.Key, err)
	}
	return d, nil
}

// values reads a scalar or a list of scalars; for an axis whose one value is a list (hidden), a flat
// list of plain numbers is one value and a list of lists or of "128x64" strings is several.
func (p configParser) values(a spec.Axis, n *yaml.Node) ([]any, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		v, err := p.value(a, n)
		if err != nil {
			return nil, err
		}
		return []any{v}, nil
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			return nil, p.errorf(n, "%s: empty list", a.Key)
		}
		if a.ListIsOneValue() && flatNumbers(n) {
			v, err := p.joinedValue(a, n)
			if err != nil {
				return nil, err
			}
			return []any{v}, nil
		}
		out := make([]any, 0, len(n.Content))
		for _, item := range n.Content {
			var v any
			var err error
			if a.ListIsOneValue() && item.Kind == yaml.SequenceNode {
				v, err = p.joinedValue(a, item)
			} else {
				v, err = p.value(a, item)
			}
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	return nil, p.errorf(n, "%s: expected a value or a list of values", a.Key)
}

// value reads one scalar as a value of a.
func (p configParser) value(a spec.Axis, item *yaml.Node) (any, error) {
	if item.Kind != yaml.ScalarNode {
		return nil, p.errorf(item, "%s: expected a value or a list of values", a.Key)
	}
	v, err := a.Parse(item.Value)
	if err != nil {
		return nil, p.errorf(item, "%s: %v", a.Key, err)
	}
	if m, ok := v.(spec.Model); ok { // files are relative to the sweep file
		return p.locateModel(m), nil
	}
	return v, nil
}

// joinedValue reads a list of layer widths as the one value of a list-valued axis, as a.Parse reads
// them comma-separated.
func (p configParser) joinedValue(a spec.Axis, seq *yaml.Node) (any, error) {
	parts := make([]string, len(seq.Content))
	for i, item := range seq.Content {
		if item.Kind != yaml.ScalarNode || strings.ContainsAny(item.Value, "xX,") {
			return nil, p.errorf(item, "%s: %q is not a layer width", a.Key, item.Value)
		}
		parts[i] = item.Value
	}
	v, err := a.Parse(strings.Join(parts, ","))
	if err != nil {
		return nil, p.errorf(seq, "%s: %v", a.Key, err)
	}
	return v, nil
}

func flatNumbers(seq *yaml.Node) bool {
	for _, item := range seq.Content {
		if item.Kind != yaml.ScalarNode || strings.ContainsAny(item.Value, "xX") {
			return false
		}
	}
	return true
}

// checkNodes refuses YAML aliases, deep nesting and a key given twice in one mapping, at any level:
// a sweep file needs no alias (and an alias bomb would expand into gigabytes), and of two values for
// one key the last would silently win.
func (p configParser) checkNodes(n *yaml.Node, depth int) error {
	if depth > 8 {
		return p.errorf(n, "nested too deeply for a sweep file")
	}
	if n.Kind == yaml.AliasNode {
		return p.errorf(n, "YAML aliases are not allowed in a sweep file")
	}
	if n.Kind == yaml.MappingNode {
		first := make(map[string]int, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i]
			if line, ok := first[key.Value]; ok {
				return p.errorf(key, "%.40q appears twice (first on line %d)", key.Value, line)
			}
			first[key.Value] = key.Line
		}
	}
	for _, c := range n.Content {
		if err := p.checkNodes(c, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func axisKeys() []string {
	keys := make([]string, len(spec.Axes()))
	for i, a := range spec.Axes() {
		keys[i] = a.Key
	}
	return keys
}

// Suggest returns ` (did you mean "x"?)` for the closest known word within two edits, else "": for
// unknown YAML keys here, and the front's unknown commands and flags.
func Suggest(word string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if d := editDistance(strings.ToLower(word), k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// decodeScheduler reads a sweep file's scheduler: block strictly (an unknown key is an error).
func decodeScheduler(n *yaml.Node, o *SchedulerOptions) error {
	if n.Kind != yaml.MappingNode {
		return errors.New("expected a mapping such as {kind: asha, eta: 3}")
	}
	var raw bytes.Buffer
	enc := yaml.NewEncoder(&raw)
	if err := enc.Encode(n); err != nil {
		return err
	}
	dec := yaml.NewDecoder(&raw)
	dec.KnownFields(true)
	return dec.Decode(o)
}
