package model

import (
	"fmt"
	"reflect"
	"slices"

	"github.com/tfsweep/tfsweep/spec"
)

// fusedMLP is the network fused training batches over the trials: a Sequential MLP on a flat input, each
// Dense layer optionally followed by a BatchNormalization and an Activation, as spec.MLP with the
// sweep's settings builds it; the last layer's activation is the softmax.
type fusedMLP struct {
	inputs int
	layers []mlpLayer
}

// mlpLayer is one Dense layer of the MLP with the layers that follow it.
type mlpLayer struct {
	mlpShape
	dense, batchNorm string // the layers' names; batchNorm "" without one
	init             spec.Initializer
}

// mlpShape is what fused trials must agree on in a layer.
type mlpShape struct {
	units int
	// denseActivation is the Dense layer's own; activation the Activation layer's after it, "" without one.
	denseActivation, activation spec.Activation
	hasBatchNorm                bool
	momentum, epsilon           float64 // the BatchNormalization's (batch norm only)
}

// classes is the MLP's output width.
func (m fusedMLP) classes() int { return m.layers[len(m.layers)-1].units }

// mlpOf reads the resolved network n as a fusedMLP, or reports false when n is not one: a Sequential
// MLP on a flat input whose Dense layers have a bias and no L2, each optionally followed by a
// BatchNormalization with center and scale and then an Activation, the last Dense layer's softmax
// the output. Fused trains any other network as each trial's own layers (fusedModels).
func mlpOf(n spec.Network) (fusedMLP, bool) {
	if len(n.Input.Shape) != 1 {
		return fusedMLP{}, false
	}
	m := fusedMLP{inputs: n.Input.Shape[0]}
	prev := n.Input.Name
	for i := range n.Layers {
		l := &n.Layers[i]
		if len(l.Inbound) > 0 && !slices.Equal(l.Inbound, []string{prev}) {
			return fusedMLP{}, false
		}
		prev = l.Name
		if l.Class == spec.ClassDense {
			if !l.Dense.UseBias || l.Dense.L2Rate() != 0 {
				return fusedMLP{}, false
			}
			m.layers = append(m.layers, mlpLayer{mlpShape: mlpShape{units: l.Dense.Units, denseActivation: l.Dense.Activation},
				dense: l.Name, init: l.Dense.Init()})
			continue
		}
		if len(m.layers) == 0 {
			return fusedMLP{}, false
		}
		d := &m.layers[len(m.layers)-1]
		switch {
		case l.Class == spec.ClassBatchNormalization && !d.hasBatchNorm && d.activation == "" && l.BatchNorm.Center && l.BatchNorm.Scale:
			d.batchNorm, d.hasBatchNorm = l.Name, true
			d.momentum, d.epsilon = l.BatchNorm.Momentum, l.BatchNorm.Epsilon
		case l.Class == spec.ClassActivation && d.activation == "":
			d.activation = l.Activation.Activation
		default:
			return fusedMLP{}, false
		}
	}
	if len(m.layers) == 0 {
		return fusedMLP{}, false
	}
	// The last Dense layer's output is the logits: nothing but its softmax may follow it.
	last := m.layers[len(m.layers)-1]
	if last.hasBatchNorm || last.activation != "" && last.denseActivation != spec.ActivationLinear {
		return fusedMLP{}, false
	}
	return m, true
}

// sameMLP reports where trial's MLP differs from first's.
func sameMLP(first, trial fusedMLP) error {
	if trial.inputs != first.inputs {
		return fmt.Errorf("the network takes %d inputs, trial 0's %d", trial.inputs, first.inputs)
	}
	if len(trial.layers) != len(first.layers) {
		return fmt.Errorf("the network has %d Dense layers, trial 0's %d", len(trial.layers), len(first.layers))
	}
	for i, d := range trial.layers {
		// The names too: every trial's variables are named after trial 0's layers.
		if d.mlpShape != first.layers[i].mlpShape || d.dense != first.layers[i].dense || d.batchNorm != first.layers[i].batchNorm {
			return fmt.Errorf("the network's Dense `%s` and what follows it (names, units, activations, batch norm) differ from trial 0's `%s`", d.dense, first.layers[i].dense)
		}
	}
	return nil
}

// sameNetwork reports where trial's network differs from first's but for its kernel initialisers:
// every trial's variables are named after trial 0's layers, and its data and batch shapes are theirs.
func sameNetwork(first, trial spec.Network) error {
	a, b := first.WithoutInitializers(), trial.WithoutInitializers()
	if !reflect.DeepEqual(a.Input, b.Input) {
		return fmt.Errorf("the network's input %s %v differs from trial 0's %s %v", b.Input.Name, b.Input.Shape, a.Input.Name, a.Input.Shape)
	}
	for i := range max(len(a.Layers), len(b.Layers)) {
		if i >= len(a.Layers) || i >= len(b.Layers) {
			return fmt.Errorf("the network has %d layers, trial 0's %d", len(b.Layers), len(a.Layers))
		}
		la, lb := a.Layers[i], b.Layers[i]
		switch {
		case la.Class != lb.Class || la.Name != lb.Name:
			return fmt.Errorf("the network's layer %d is %s `%s`, trial 0's %s `%s`", i, lb.Class, lb.Name, la.Class, la.Name)
		case !reflect.DeepEqual(la, lb):
			return fmt.Errorf("the network's %s `%s` (layer %d) differs from trial 0's in its arguments or inbound layers", lb.Class, lb.Name, i)
		}
	}
	return nil
}
