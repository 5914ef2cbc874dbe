package spec

import (
	"strings"
	"testing"
)

// with is the default variant with the axes given as key, text pairs.
func with(t *testing.T, pairs ...string) Variant {
	t.Helper()
	v := Defaults()
	for i := 0; i+1 < len(pairs); i += 2 {
		a, ok := AxisByKey(pairs[i])
		if !ok {
			t.Fatalf("no axis %q", pairs[i])
		}
		value, err := a.Parse(pairs[i+1])
		if err != nil {
			t.Fatalf("%s %s: %v", pairs[i], pairs[i+1], err)
		}
		a.Set(&v, value)
	}
	return v
}

// Trials that differ only where fused trials may differ share a key; a difference in the network's
// shape or in what every trial of a group shares makes another key.
func TestFuseKeyGroupsWhatMayDiffer(t *testing.T) {
	base, err := Defaults().FuseKey(784, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		axis, value string
		same        bool
	}{
		{"init", "he_normal", true},
		{"seed", "7", true},
		{"lr", "0.01", true},
		{"early_stopping", "patience=2", true},
		{"reduce_lr", "on", true},
		{"hidden", "128", false},
		{"batch_size", "64", false},
		{"batchnorm", "on", false},
		{"activation", "relu", false},
		{"epochs", "3", false},
		{"limit", "1000", false},
		{"scale", "none", false},
		{"validation_split", "0.1", false},
	} {
		t.Run(tc.axis+"="+tc.value, func(t *testing.T) {
			key, err := with(t, tc.axis, tc.value).FuseKey(784, 10)
			if err != nil {
				t.Fatal(err)
			}
			if (key == base) != tc.same {
				t.Errorf("same key as the defaults' %v, want %v:\n%s\n%s", key == base, tc.same, key, base)
			}
		})
	}
	if key, _ := Defaults().FuseKey(784, 26); key == base {
		t.Error("26 classes share the key of 10")
	}
}

// A variant the fused graph cannot train has no key, and the error names what stands in the way.
func TestFuseKeyRefuses(t *testing.T) {
	for _, tc := range []struct {
		pairs []string
		want  string
	}{
		{[]string{"optimizer", "sgd"}, "optimizer sgd"},
		{[]string{"schedule", "exponential:decay_steps=100:decay_rate=0.9"}, "schedule exponential"},
		{[]string{"dropout", "0.2"}, "is a Dropout"},
		{[]string{"l2", "0.001"}, "L2 regulariser"},
	} {
		t.Run(strings.Join(tc.pairs, "="), func(t *testing.T) {
			_, err := with(t, tc.pairs...).FuseKey(784, 10)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one with %q", err, tc.want)
			}
		})
	}
}

// A model file's network fuses if it is such an MLP; a convnet, a Dense without a bias, a batch
// normalisation after the output or a functional branch does not.
func TestCheckFusable(t *testing.T) {
	dense := func(name string, units int, act Activation, bias bool) Layer {
		return Layer{Class: ClassDense, Name: name, Dense: &DenseArgs{Units: units, Activation: act, UseBias: bias}}
	}
	bn := Layer{Class: ClassBatchNormalization, Name: "bn", BatchNorm: &BatchNormArgs{Axis: -1, Momentum: 0.99, Epsilon: 1e-3, Center: true, Scale: true}}
	softmax := Layer{Class: ClassActivation, Name: "probabilities", Activation: &ActivationArgs{Activation: ActivationSoftmax}}
	renamed := func(l Layer, name string) Layer { l.Name = name; return l }
	mlp := func(layers ...Layer) Network {
		return Network{Name: "m", Input: Input{Name: "pixels", Shape: Shape{784}}, Layers: layers}
	}
	for _, tc := range []struct {
		name string
		net  Network
		want string // "" fusable
	}{
		{"lab MLP", LabReportMLP(), ""},
		{"batch norm and a linear output with its softmax after", mlp(dense("h", 32, ActivationLinear, true), bn,
			Layer{Class: ClassActivation, Name: "act", Activation: &ActivationArgs{Activation: ActivationReLU}},
			dense("out", 10, ActivationLinear, true), softmax), ""},
		{"convnet", convnet(), "flat input"},
		{"no bias", mlp(dense("h", 32, ActivationTanh, false), dense("out", 10, ActivationSoftmax, true)), "has no bias"},
		{"batch norm after the output", mlp(dense("out", 10, ActivationLinear, true), bn, softmax), "last Dense layer"},
		{"branch", mlp(dense("a", 32, ActivationTanh, true),
			Layer{Class: ClassDense, Name: "b", Inbound: []string{"pixels"}, Dense: &DenseArgs{Units: 32, Activation: ActivationTanh, UseBias: true}},
			Layer{Class: ClassConcatenate, Name: "both", Inbound: []string{"a", "b"}, Concatenate: &ConcatenateArgs{Axis: -1}},
			dense("out", 10, ActivationSoftmax, true)), "Sequential"},
		{"batch norm first", mlp(bn, dense("out", 10, ActivationSoftmax, true)), "before any Dense"},
		{"two batch norms", mlp(dense("h", 32, ActivationLinear, true), bn, renamed(bn, "bn2"), dense("out", 10, ActivationSoftmax, true)), "optional BatchNormalization"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			net, err := tc.net.Resolve()
			if err != nil {
				t.Fatalf("resolve: %v", err)
			}
			err = net.CheckFusable()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want one with %q", err, tc.want)
			}
		})
	}
}
