package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Trials of a sweep that share a network shape, a batch size, the data as they read it, their epochs
// and their optimizer can train fused: as one graph in one worker (Command.Fused, model.Fused), each
// still a run of its own. They may differ in initialisers, seed, learning rate, early stopping and
// ReduceLROnPlateau (it only sets a rate). The fused graph takes any network a run takes (an MLP
// batched over the trials, any other network as each trial's own layers side by side), with Adam at
// a constant learning rate.

// fuseShared are the axes, besides the network, that trials of one fused group share: one batch of
// examples per trial per step from the same data, for the same number of epochs, by one optimizer.
var fuseShared = []string{"batch_size", "limit", "scale", "validation_split", "epochs", "optimizer"}

// FuseKey is equal for trials that can train fused together; an error says why v cannot train fused
// with any trial. features and classes are the data's, which shape the built-in MLP.
func (v Variant) FuseKey(features, classes int) (string, error) {
	var errs []error
	if v.Optimizer != "adam" {
		errs = append(errs, fmt.Errorf("optimizer %s: fused training takes adam", v.Optimizer))
	}
	if v.Schedule.Kind != "" && v.Schedule.Kind != ScheduleConstant {
		errs = append(errs, fmt.Errorf("schedule %s: fused training takes a constant learning rate", v.Schedule.Kind))
	}
	net, err := v.Network(features, classes)
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	return fuseKey(v, net)
}

// fuseKey writes the shared axes and the network's shape.
func fuseKey(v Variant, net Network) (string, error) {
	text, err := json.Marshal(net.WithoutInitializers())
	if err != nil {
		return "", err
	}
	parts := make([]string, 0, len(fuseShared)+1)
	for _, key := range fuseShared {
		a, _ := AxisByKey(key)
		parts = append(parts, key+"="+a.Text(v))
	}
	return strings.Join(append(parts, string(text)), " "), nil
}

// WithoutInitializers is the network with every Dense and Conv2D kernel initialiser left out: what
// trials that train fused share, each drawing its own initial weights.
func (n Network) WithoutInitializers() Network {
	shape := n
	shape.Layers = slices.Clone(n.Layers)
	for i, l := range shape.Layers {
		switch {
		case l.Dense != nil:
			dense := *l.Dense
			dense.Initializer = ""
			shape.Layers[i].Dense = &dense
		case l.Conv2D != nil:
			conv := *l.Conv2D
			conv.Initializer = ""
			shape.Layers[i].Conv2D = &conv
		}
	}
	return shape
}
