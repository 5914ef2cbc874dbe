package model

import (
	"fmt"

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

// mlpOf reads the resolved network n as a fusedMLP; spec.Network.CheckFusable, which the front's
// grouping asks too, refuses any other network with the layer named.
func mlpOf(n spec.Network) (fusedMLP, error) {
	if err := n.CheckFusable(); err != nil {
		return fusedMLP{}, err
	}
	m := fusedMLP{inputs: n.Input.Shape[0]}
	for i := range n.Layers {
		l := &n.Layers[i]
		if l.Class == spec.ClassDense {
			m.layers = append(m.layers, mlpLayer{mlpShape: mlpShape{units: l.Dense.Units, denseActivation: l.Dense.Activation},
				dense: l.Name, init: l.Dense.Init()})
			continue
		}
		d := &m.layers[len(m.layers)-1] // CheckFusable: a Dense layer comes first
		if l.Class == spec.ClassBatchNormalization {
			d.batchNorm, d.hasBatchNorm = l.Name, true
			d.momentum, d.epsilon = l.BatchNorm.Momentum, l.BatchNorm.Epsilon
		} else {
			d.activation = l.Activation.Activation
		}
	}
	return m, nil
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
