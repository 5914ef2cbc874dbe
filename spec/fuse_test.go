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
		{"dropout", "0.2", false},
		{"l2", "0.001", false},
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

// withModel is the default variant training the model file's network, with the setting axes given
// as key, text pairs applied to it.
func withModel(t *testing.T, net Network, pairs ...string) Variant {
	t.Helper()
	v := with(t, pairs...)
	resolved, err := net.Resolve()
	if err != nil {
		t.Fatalf("resolve: %v", err)
	}
	v.Model = Model{Name: net.Name, File: net.Name + ".yaml", Network: &resolved}
	for i := 0; i+1 < len(pairs); i += 2 {
		v.Model.Given = append(v.Model.Given, pairs[i])
	}
	return v
}

// A model file's network fuses, whatever it is: runs of the convnet share a key when they differ
// in the initialiser of its Conv2D and Dense layers, seed or learning rate, and not when its shape
// (batch norm, dropout, L2, its layers' arguments) differs.
func TestFuseKeyOfModelFiles(t *testing.T) {
	base, err := withModel(t, convnet()).FuseKey(784, 10)
	if err != nil {
		t.Fatalf("the convnet has no key: %v", err)
	}
	wider := convnet()
	wider.Layers[0].Conv2D.Filters = 16
	for _, tc := range []struct {
		name string
		v    Variant
		same bool
	}{
		{"init", withModel(t, convnet(), "init", "he_uniform"), true},
		{"seed and lr", withModel(t, convnet(), "seed", "3", "lr", "0.01"), true},
		{"batch norm", withModel(t, convnet(), "batchnorm", "on"), false},
		{"dropout", withModel(t, convnet(), "dropout", "0.3"), false},
		{"l2", withModel(t, convnet(), "l2", "0.001"), false},
		{"filters", withModel(t, wider), false},
		{"the MLP", Defaults(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, err := tc.v.FuseKey(784, 10)
			if err != nil {
				t.Fatalf("no key: %v", err)
			}
			if (key == base) != tc.same {
				t.Errorf("same key as the convnet's %v, want %v:\n%s\n%s", key == base, tc.same, key, base)
			}
		})
	}
	// The initialisers really were set: the networks differ but for them.
	a, _ := withModel(t, convnet()).Network(784, 10)
	b, _ := withModel(t, convnet(), "init", "he_uniform").Network(784, 10)
	if a.Layers[0].Conv2D.Initializer == b.Layers[0].Conv2D.Initializer {
		t.Errorf("the Conv2D's initialiser is %q either way: the init case tests nothing", a.Layers[0].Conv2D.Initializer)
	}
}

// A variant the fused graph cannot train has no key, and the error names what stands in the way: the
// optimizer, the schedule, or the layer of a network no run could train.
func TestFuseKeyRefuses(t *testing.T) {
	broken := convnet()
	broken.Layers[2].Conv2D.Filters = 0
	for _, tc := range []struct {
		v    Variant
		want string
	}{
		{with(t, "optimizer", "sgd"), "optimizer sgd"},
		{with(t, "schedule", "exponential:decay_steps=100:decay_rate=0.9"), "schedule exponential"},
		{withModel(t, convnet(), "optimizer", "rmsprop"), "optimizer rmsprop"},
		{Variant{Optimizer: "adam", Model: Model{Name: "broken", File: "broken.yaml", Network: &broken}}, "conv2d_1"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			_, err := tc.v.FuseKey(784, 10)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one with %q", err, tc.want)
			}
		})
	}
}
