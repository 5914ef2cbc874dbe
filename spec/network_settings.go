package spec

import (
	"fmt"
	"slices"
)

// Settings are the sweep axes that apply to any network, as Keras would apply them (issue 23):
// a nil field is a flag not given, which leaves the model's own value.
type Settings struct {
	Init *Initializer // every Dense and Conv2D kernel_initializer, the output layer's included
	L2   *float64     // every Dense and Conv2D kernel_regularizer, the output layer's included
	// Activation replaces every hidden activation: that of each hidden Dense or Conv2D that has one
	// (not linear) and of each Activation layer before the output.
	Activation *Activation
	// BatchNorm on turns each hidden Dense or Conv2D that is not already followed by a
	// BatchNormalization into Dense(linear) → BatchNormalization → Activation(its activation), as
	// the lab report's MLP does it. Off changes nothing.
	BatchNorm *bool
	// Dropout sets the rate of the Dropout after every hidden activation, adding one where there is
	// none (a rate of 0 adds none). A Dropout elsewhere keeps the model's rate.
	Dropout *float64
}

// Apply returns the network with the settings applied and resolved again; n is unchanged. Layers it
// adds get Keras' automatic names, counted in layer order (batch_normalization, activation,
// dropout, ...), and the layers that read a changed layer read the last one added after it.
func (n Network) Apply(s Settings) (Network, error) {
	r, err := n.Resolve()
	if err != nil {
		return n, err
	}
	if err := s.check(); err != nil {
		return n, err
	}
	r = r.clone()
	r.setKernels(s)
	if s.Activation != nil {
		for i := range r.Layers {
			if r.hiddenActivation(i) {
				r.setActivation(i, *s.Activation)
			}
		}
	}
	if s.BatchNorm != nil && *s.BatchNorm {
		r = r.insertBatchNorms()
	}
	if s.Dropout != nil {
		r = r.setDropout(*s.Dropout)
	}
	return r.Resolve()
}

func (s Settings) check() error {
	if s.Init != nil {
		if err := CheckInitializer(*s.Init); err != nil {
			return err
		}
	}
	if err := checkKernel(Kernel{L2: s.L2}); err != nil {
		return fmt.Errorf("--l2 %w", err)
	}
	if s.Activation != nil {
		if err := CheckActivation(*s.Activation); err != nil {
			return err
		}
		if *s.Activation == ActivationSoftmax {
			return fmt.Errorf("activation softmax is for the output layer only")
		}
	}
	if s.Dropout != nil && !(*s.Dropout >= 0 && *s.Dropout < 1) {
		return fmt.Errorf("dropout rate %v must be in [0, 1)", *s.Dropout)
	}
	return nil
}

func (n Network) setKernels(s Settings) {
	for _, l := range n.Layers {
		var k *Kernel
		switch {
		case l.Dense != nil:
			k = &l.Dense.Kernel
		case l.Conv2D != nil:
			k = &l.Conv2D.Kernel
		default:
			continue
		}
		if s.Init != nil {
			k.Initializer = *s.Init
		}
		if s.L2 != nil {
			k.L2 = clonePtr(s.L2)
		}
	}
}

// isOutput reports whether layer i is the output or the Dense/Conv2D whose output only the final
// Activation layer reads (the output's pre-activation).
func (n Network) isOutput(i int) bool {
	last := len(n.Layers) - 1
	if i == last {
		return true
	}
	out := n.Layers[last]
	return i == last-1 && out.Class == ClassActivation && slices.Equal(out.Inbound, []string{n.Layers[i].Name}) &&
		len(n.consumers(n.Layers[i].Name)) == 1
}

// hiddenActivation reports whether layer i applies a hidden activation: a non-linear Dense,
// Conv2D or Activation before the output.
func (n Network) hiddenActivation(i int) bool {
	a := activation(n.Layers[i])
	return a != "" && a != ActivationLinear && !n.isOutput(i)
}

func (n Network) setActivation(i int, a Activation) {
	switch l := n.Layers[i]; {
	case l.Dense != nil:
		l.Dense.Activation = a
	case l.Conv2D != nil:
		l.Conv2D.Activation = a
	case l.Activation != nil:
		l.Activation.Activation = a
	}
}

// consumers are the indices of the layers that read the named layer.
func (n Network) consumers(name string) []int {
	var out []int
	for i, l := range n.Layers {
		if slices.Contains(l.Inbound, name) {
			out = append(out, i)
		}
	}
	return out
}

// insertAfter puts the added layers after layer i, chained, and makes every layer that read layer
// i read the last of them. Added layers are unnamed until Resolve names them, so they are linked by
// temporary names that no Keras name can take.
func (n Network) insertAfter(i int, added ...Layer) Network {
	prev := n.Layers[i].Name
	readers := n.consumers(prev)
	for k := range added {
		added[k].Name = fmt.Sprintf(" added %d %d", i, k)
		added[k].Inbound = []string{prev}
		prev = added[k].Name
	}
	for _, c := range readers {
		for k, in := range n.Layers[c].Inbound {
			if in == n.Layers[i].Name {
				n.Layers[c].Inbound[k] = prev
			}
		}
	}
	n.Layers = slices.Insert(n.Layers, i+1, added...)
	return n
}

func (n Network) insertBatchNorms() Network {
	for i := len(n.Layers) - 1; i >= 0; i-- {
		l := n.Layers[i]
		if (l.Class != ClassDense && l.Class != ClassConv2D) || n.isOutput(i) {
			continue
		}
		if readers := n.consumers(l.Name); len(readers) == 1 && n.Layers[readers[0]].Class == ClassBatchNormalization {
			continue
		}
		added := []Layer{{Class: ClassBatchNormalization}}
		if a := activation(l); a != ActivationLinear {
			n.setActivation(i, ActivationLinear)
			added = append(added, Layer{Class: ClassActivation, Activation: &ActivationArgs{Activation: a}})
		}
		n = n.insertAfter(i, added...)
	}
	return n.renameAdded()
}

func (n Network) setDropout(rate float64) Network {
	for i := len(n.Layers) - 1; i >= 0; i-- {
		if !n.hiddenActivation(i) {
			continue
		}
		readers := n.consumers(n.Layers[i].Name)
		if len(readers) == 1 && n.Layers[readers[0]].Class == ClassDropout {
			n.Layers[readers[0]].Dropout.Rate = rate
			continue
		}
		if rate > 0 {
			n = n.insertAfter(i, Layer{Class: ClassDropout, Dropout: &DropoutArgs{Rate: rate}})
		}
	}
	return n.renameAdded()
}

// renameAdded gives the added layers their Keras names, as Resolve would, and updates the inbound
// lists that name them.
func (n Network) renameAdded() Network {
	temporary := make(map[string]int)
	for i := range n.Layers {
		if name := n.Layers[i].Name; len(name) > 0 && name[0] == ' ' {
			temporary[name] = i
			n.Layers[i].Name = ""
		}
	}
	r := &resolved{net: n, origin: make([]int, len(n.Layers))}
	r.autoName()
	for i := range r.net.Layers {
		for k, in := range r.net.Layers[i].Inbound {
			if j, ok := temporary[in]; ok {
				r.net.Layers[i].Inbound[k] = r.net.Layers[j].Name
			}
		}
	}
	return r.net
}
