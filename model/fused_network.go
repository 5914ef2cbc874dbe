package model

import (
	"errors"
	"fmt"
	"slices"

	"github.com/tfsweep/tfsweep/spec"
)

// fusedMLP is the one kind of network fused training takes: a Sequential MLP on a flat input, each
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

// mlpOf reads the resolved network n as a fusedMLP, refusing any other network with the layer named.
func mlpOf(n spec.Network) (fusedMLP, error) {
	if len(n.Input.Shape) != 1 {
		return fusedMLP{}, fmt.Errorf("input shape %v: fused training takes a flat input", n.Input.Shape)
	}
	m := fusedMLP{inputs: n.Input.Shape[0]}
	prev := n.Input.Name
	for i := range n.Layers {
		l := &n.Layers[i]
		refuse := func(why string) error {
			return &spec.LayerError{Index: i, Class: l.Class, Name: l.Name, Err: errors.New(why)}
		}
		if !slices.Equal(l.Inbound, []string{prev}) {
			return fusedMLP{}, refuse("does not read only the layer before it: fused training takes a Sequential MLP")
		}
		prev = l.Name
		if l.Class == spec.ClassDense {
			if !l.Dense.UseBias {
				return fusedMLP{}, refuse("has no bias: fused training takes Dense layers with one")
			}
			if l.Dense.L2Rate() != 0 {
				return fusedMLP{}, refuse("has an L2 regulariser: fused training takes none")
			}
			m.layers = append(m.layers, mlpLayer{mlpShape: mlpShape{units: l.Dense.Units, denseActivation: l.Dense.Activation},
				dense: l.Name, init: l.Dense.Init()})
			continue
		}
		if len(m.layers) == 0 {
			return fusedMLP{}, refuse("comes before any Dense layer: fused training takes an MLP")
		}
		if err := m.layers[len(m.layers)-1].follow(l); err != nil {
			return fusedMLP{}, refuse(err.Error())
		}
	}
	if len(m.layers) == 0 {
		return fusedMLP{}, errors.New("no Dense layer: fused training takes an MLP")
	}
	return m, m.checkOutput(n)
}

// follow adds l, a layer after the Dense layer d and its followers so far, to d.
func (d *mlpLayer) follow(l *spec.Layer) error {
	switch {
	case l.Class == spec.ClassBatchNormalization && d.batchNorm == "" && d.activation == "":
		if !l.BatchNorm.Center || !l.BatchNorm.Scale {
			return errors.New("lacks center or scale: fused training takes both")
		}
		d.batchNorm, d.hasBatchNorm = l.Name, true
		d.momentum, d.epsilon = l.BatchNorm.Momentum, l.BatchNorm.Epsilon
		return nil
	case l.Class == spec.ClassActivation && d.activation == "":
		d.activation = l.Activation.Activation
		return nil
	}
	return errors.New("is not what fused training takes after a Dense layer: an optional BatchNormalization, then an optional Activation")
}

// checkOutput requires the output to be the last Dense layer's softmax, which the fused graph folds
// into the loss: Resolve has put the softmax on the last layer and nowhere else, but it may follow
// a batch normalisation or another activation there.
func (m fusedMLP) checkOutput(n spec.Network) error {
	last := m.layers[len(m.layers)-1]
	if last.batchNorm == "" && (last.activation == "" || last.denseActivation == spec.ActivationLinear) {
		return nil
	}
	return &spec.LayerError{Index: slices.IndexFunc(n.Layers, func(l spec.Layer) bool { return l.Name == last.dense }),
		Class: spec.ClassDense, Name: last.dense,
		Err: errors.New("is the last Dense layer and something besides the softmax follows it: fused training takes the softmax of its output as the network's output")}
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
