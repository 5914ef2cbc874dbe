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
// ReduceLROnPlateau (it only sets a rate). What the fused graph takes is narrower than what a run
// takes: an MLP of Dense layers with a bias, each optionally followed by a BatchNormalization (with
// center and scale) and an Activation; Adam at a constant learning rate; no Dropout, no L2.

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
	if err == nil {
		err = net.CheckFusable()
	}
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	return fuseKey(v, net)
}

// fuseKey writes the shared axes and the network's shape, its initialisers left out.
func fuseKey(v Variant, net Network) (string, error) {
	shape := net
	shape.Layers = slices.Clone(net.Layers)
	for i, l := range shape.Layers {
		if l.Dense != nil {
			dense := *l.Dense
			dense.Initializer = ""
			shape.Layers[i].Dense = &dense
		}
	}
	text, err := json.Marshal(shape)
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

// CheckFusable refuses a resolved network that fused training cannot train, naming the layer: all
// but a Sequential MLP on a flat input whose Dense layers have a bias and no L2, each optionally
// followed by a BatchNormalization with center and scale and then an Activation, the last Dense
// layer's softmax the output.
func (n Network) CheckFusable() error {
	if len(n.Input.Shape) != 1 {
		return &InputError{Err: fmt.Errorf("input shape %v: fused training takes a flat input", n.Input.Shape)}
	}
	prev := n.Input.Name
	lastDense, afterDense := -1, ""
	for i, l := range n.Layers {
		refuse := func(why string) error {
			return &LayerError{Index: i, Class: l.Class, Name: l.Name, Err: errors.New(why)}
		}
		if len(l.Inbound) > 0 && !slices.Equal(l.Inbound, []string{prev}) {
			return refuse("does not read only the layer before it: fused training takes a Sequential MLP")
		}
		prev = l.Name
		switch {
		case l.Class == ClassDense && !l.Dense.UseBias:
			return refuse("has no bias: fused training takes Dense layers with one")
		case l.Class == ClassDense && l.Dense.L2Rate() != 0:
			return refuse("has an L2 regulariser: fused training takes none")
		case l.Class == ClassDense:
			lastDense, afterDense = i, ""
		case l.Class == ClassDropout:
			return refuse("is a Dropout: fused training takes none")
		case lastDense < 0:
			return refuse("comes before any Dense layer: fused training takes an MLP")
		case l.Class == ClassBatchNormalization && afterDense == "" && l.BatchNorm.Center && l.BatchNorm.Scale:
			afterDense = "batch norm"
		case l.Class == ClassActivation && !strings.Contains(afterDense, "activation"):
			afterDense += " activation"
		default:
			return refuse("is not what fused training takes after a Dense layer: an optional BatchNormalization (with center and scale), then an optional Activation")
		}
	}
	if lastDense < 0 {
		return errors.New("no Dense layer: fused training takes an MLP")
	}
	last := n.Layers[lastDense]
	if strings.Contains(afterDense, "batch norm") || afterDense != "" && last.Dense.Activation != ActivationLinear {
		return &LayerError{Index: lastDense, Class: ClassDense, Name: last.Name,
			Err: errors.New("is the last Dense layer and something besides the softmax follows it: fused training takes its softmax as the output")}
	}
	return nil
}
