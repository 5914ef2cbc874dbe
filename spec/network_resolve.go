package spec

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// InputLayerName is Keras' automatic name of a model's input.
const InputLayerName = "input_layer"

// Resolve checks the network and returns it resolved: every layer named (Keras 3's automatic
// names for the unnamed: dense, dense_1, conv2d, ...), every inbound list explicit, the layers in
// topological order, every argument with its default filled and its axes non-negative. It refuses a
// network whose shapes do not fit, whose graph has a cycle or a layer that does not lead to the
// output, whose output is not a softmax over a vector, or whose sizes exceed the limits (MaxLayers,
// MaxRank, MaxCount: every count of Summary). An error about one layer is a *LayerError giving its
// index in n.Layers.
func (n Network) Resolve() (Network, error) {
	r, _, err := n.resolve()
	if err != nil {
		return n, err
	}
	return r.net, nil
}

// resolved is a network during resolution: origin[i] is the index layer i had in the network given.
type resolved struct {
	net    Network
	origin []int
	inputs [][]int // inbound layer indices, -1 for the input
}

func (n Network) resolve() (*resolved, Summary, error) {
	if len(n.Layers) == 0 {
		return nil, Summary{}, errors.New("the network has no layers")
	}
	if len(n.Layers) > MaxLayers {
		return nil, Summary{}, fmt.Errorf("the network has %d layers, more than the %d tfsweep builds", len(n.Layers), MaxLayers)
	}
	if err := checkShape(n.Input.Shape); err != nil {
		return nil, Summary{}, &InputError{fmt.Errorf("input shape %v %w", []int(n.Input.Shape), err)}
	}
	r := &resolved{net: n.clone(), origin: make([]int, len(n.Layers))}
	for i := range r.origin {
		r.origin[i] = i
	}
	if r.net.Input.Name == "" {
		r.net.Input.Name = InputLayerName
	}
	steps := []func() error{r.name, r.resolveArgs, r.link, r.sort, r.checkOutputReached}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, Summary{}, err
		}
	}
	shapes, err := r.inferShapes()
	if err == nil {
		err = r.checkOutput(shapes)
	}
	if err != nil {
		return nil, Summary{}, err
	}
	s, err := r.summarize(shapes)
	if err != nil {
		return nil, Summary{}, err
	}
	return r, s, nil
}

func (n Network) clone() Network {
	c := n
	c.Input.Shape = slices.Clone(n.Input.Shape)
	c.Layers = make([]Layer, len(n.Layers))
	for i, l := range n.Layers {
		c.Layers[i] = l.clone()
	}
	return c
}

// clone copies the layer and its arguments, so that resolving or applying settings never changes
// the network a caller holds.
func (l Layer) clone() Layer {
	c := l
	c.Inbound = slices.Clone(l.Inbound)
	c.Dense = clonePtr(l.Dense)
	c.Conv2D = clonePtr(l.Conv2D)
	c.Pooling = clonePtr(l.Pooling)
	c.Reshape = clonePtr(l.Reshape)
	if c.Reshape != nil {
		c.Reshape.TargetShape = slices.Clone(l.Reshape.TargetShape)
	}
	c.Dropout = clonePtr(l.Dropout)
	c.BatchNorm = clonePtr(l.BatchNorm)
	c.Activation = clonePtr(l.Activation)
	c.Rescaling = clonePtr(l.Rescaling)
	c.Concatenate = clonePtr(l.Concatenate)
	if c.Dense != nil {
		c.Dense.L2 = clonePtr(l.Dense.L2)
	}
	if c.Conv2D != nil {
		c.Conv2D.L2 = clonePtr(l.Conv2D.L2)
	}
	return c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}

func (r *resolved) layerError(i int, err error) error {
	l := r.net.Layers[i]
	return &LayerError{Index: r.origin[i], Class: l.Class, Name: l.Name, Err: err}
}

// AutoName is the prefix of Keras 3's automatic names for a layer class, its snake case:
// Conv2D → conv2d, MaxPooling2D → max_pooling2d, BatchNormalization → batch_normalization.
func AutoName(c Class) string {
	var b strings.Builder
	runes := []rune(string(c))
	for i, ch := range runes {
		if unicode.IsUpper(ch) && i > 0 {
			prevLower := unicode.IsLower(runes[i-1])
			nextLower := i+1 < len(runes) && unicode.IsLower(runes[i+1])
			if prevLower || nextLower {
				b.WriteByte('_')
			}
		}
		b.WriteRune(unicode.ToLower(ch))
	}
	return b.String()
}

// validName is what a name may be: the graph's scopes and variables are named after the layers
// (dense/kernel), and TensorFlow's op names allow these characters.
var validName = regexp.MustCompile(`^[A-Za-z0-9.][A-Za-z0-9_.\-]*$`)

// name refuses invalid and duplicate names and gives the unnamed layers Keras' automatic names.
func (r *resolved) name() error {
	if !validName.MatchString(r.net.Input.Name) {
		return &InputError{fmt.Errorf("the input's name %q is not a valid name: use letters, digits, _, . and - (not first)", r.net.Input.Name)}
	}
	taken := map[string]int{r.net.Input.Name: -1}
	for i, l := range r.net.Layers {
		if l.Name == "" {
			continue
		}
		if !validName.MatchString(l.Name) {
			return r.layerError(i, errors.New("is not a valid name: use letters, digits, _, . and - (not first), as TensorFlow names its ops"))
		}
		if j, dup := taken[l.Name]; dup {
			what := "the input"
			if j >= 0 {
				what = fmt.Sprintf("layer %d", r.origin[j]+1)
			}
			return r.layerError(i, fmt.Errorf("has the name of %s: layer names must be unique", what))
		}
		taken[l.Name] = i
	}
	r.autoName()
	return nil
}

// autoName names the unnamed layers as Keras 3 does, counted per class in layer order (dense,
// dense_1, ...), skipping a name the model gives a layer itself.
func (r *resolved) autoName() {
	taken := map[string]bool{r.net.Input.Name: true}
	for _, l := range r.net.Layers {
		taken[l.Name] = true
	}
	counts := make(map[string]int)
	for i := range r.net.Layers {
		l := &r.net.Layers[i]
		if l.Name != "" {
			continue
		}
		prefix := AutoName(l.Class)
		for l.Name == "" {
			name := prefix
			if counts[prefix] > 0 {
				name = fmt.Sprintf("%s_%d", prefix, counts[prefix])
			}
			counts[prefix]++
			if !taken[name] {
				l.Name, taken[name] = name, true
			}
		}
	}
}

// LayerNames are the names Resolve gives the layers: their own, or Keras' automatic ones. It checks
// nothing, so that a reader can name a layer in an error before the network is whole.
func (n Network) LayerNames() []string {
	r := &resolved{net: n.clone()}
	if r.net.Input.Name == "" {
		r.net.Input.Name = InputLayerName
	}
	r.autoName()
	names := make([]string, len(r.net.Layers))
	for i, l := range r.net.Layers {
		names[i] = l.Name
	}
	return names
}

func (r *resolved) resolveArgs() error {
	for i := range r.net.Layers {
		if err := resolveArgs(&r.net.Layers[i]); err != nil {
			return r.layerError(i, err)
		}
	}
	return nil
}

// link resolves the inbound names to layer indices; an empty list reads the previous layer.
func (r *resolved) link() error {
	index := map[string]int{r.net.Input.Name: -1}
	for i, l := range r.net.Layers {
		index[l.Name] = i
	}
	r.inputs = make([][]int, len(r.net.Layers))
	for i := range r.net.Layers {
		l := &r.net.Layers[i]
		if len(l.Inbound) == 0 {
			prev := r.net.Input.Name
			if i > 0 {
				prev = r.net.Layers[i-1].Name
			}
			l.Inbound = []string{prev}
		}
		for _, in := range l.Inbound {
			j, ok := index[in]
			if !ok {
				return r.layerError(i, fmt.Errorf("reads `%s`, which is neither a layer of the network nor its input", in))
			}
			if j == i {
				return r.layerError(i, errors.New("reads itself: a layer cannot be its own input"))
			}
			r.inputs[i] = append(r.inputs[i], j)
		}
		if err := checkArity(l.Class, len(l.Inbound)); err != nil {
			return r.layerError(i, err)
		}
	}
	return nil
}

func checkArity(c Class, n int) error {
	switch c {
	case ClassAdd, ClassConcatenate:
		if n < 2 {
			return fmt.Errorf("reads %d input: it merges two or more (list them in inbound)", n)
		}
	default:
		if n != 1 {
			return fmt.Errorf("reads %d inputs: it takes exactly one", n)
		}
	}
	return nil
}

// sort orders the layers topologically, keeping the given order where the graph allows, and
// refuses a cycle naming the layers on it.
func (r *resolved) sort() error {
	n := len(r.net.Layers)
	pending := make([]int, n) // inbound layers not yet placed
	consumers := make([][]int, n)
	for i, ins := range r.inputs {
		for _, j := range ins {
			if j >= 0 {
				pending[i]++
				consumers[j] = append(consumers[j], i)
			}
		}
	}
	order := make([]int, 0, n)
	placed := make([]bool, n)
	for len(order) < n {
		next := -1
		for i := range n {
			if !placed[i] && pending[i] == 0 {
				next = i
				break
			}
		}
		if next < 0 {
			return r.cycleError(placed)
		}
		placed[next] = true
		order = append(order, next)
		for _, c := range consumers[next] {
			pending[c]--
		}
	}
	r.permute(order)
	return nil
}

// cycleError follows inbound links among the unplaced layers until one repeats: that loop is a
// cycle (every unplaced layer reads an unplaced one).
func (r *resolved) cycleError(placed []bool) error {
	start := slices.Index(placed, false)
	seen := map[int]int{}
	var path []int
	for i := start; ; {
		if at, ok := seen[i]; ok {
			path = path[at:]
			break
		}
		seen[i] = len(path)
		path = append(path, i)
		for _, j := range r.inputs[i] {
			if j >= 0 && !placed[j] {
				i = j
				break
			}
		}
	}
	names := make([]string, 0, len(path)+1)
	for k := len(path) - 1; k >= 0; k-- { // data flows against the inbound links
		names = append(names, "`"+r.net.Layers[path[k]].Name+"`")
	}
	names = append(names, names[0])
	return r.layerError(path[len(path)-1], fmt.Errorf("is on a cycle %s: a network's graph must not loop", strings.Join(names, " → ")))
}

// permute puts the layers in the given order, their inbound indices following.
func (r *resolved) permute(order []int) {
	where := make([]int, len(order))
	for pos, i := range order {
		where[i] = pos
	}
	layers, origin, inputs := make([]Layer, len(order)), make([]int, len(order)), make([][]int, len(order))
	for pos, i := range order {
		layers[pos], origin[pos] = r.net.Layers[i], r.origin[i]
		for _, j := range r.inputs[i] {
			if j >= 0 {
				j = where[j]
			}
			inputs[pos] = append(inputs[pos], j)
		}
	}
	r.net.Layers, r.origin, r.inputs = layers, origin, inputs
}

// checkOutputReached refuses a layer whose output the network's output does not use: Keras would
// drop it silently, and a model file that has one most likely misses a connection.
func (r *resolved) checkOutputReached() error {
	last := len(r.net.Layers) - 1
	used := make([]bool, len(r.net.Layers))
	used[last] = true
	for i := last; i >= 0; i-- {
		if !used[i] {
			return r.layerError(i, fmt.Errorf("does not lead to the output layer `%s`: connect it or remove it", r.net.Layers[last].Name))
		}
		for _, j := range r.inputs[i] {
			if j >= 0 {
				used[j] = true
			}
		}
	}
	return nil
}
