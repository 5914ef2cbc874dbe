package spec

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
)

// BuiltInModel names the lab report's MLP, the model axis' default: MLP on the data's features,
// the hidden axis' widths and the data's classes.
const BuiltInModel = "mlp"

// Model is the model axis' value: the network a run trains. The built-in MLP has no File; a model
// file is read by the front (spec reads no files), which sets Network to the file's network, named
// as the model, and Given to the settings the sweep gives the run; the Job carries the network with
// those settings applied (Variant.Network). Run names, hparams and reports know a model by its name,
// so a sweep gives each name one file.
type Model struct {
	Name    string   // in run names and hparams: "mlp", or the model's own name
	File    string   // the model file; "" for the built-in MLP
	Network *Network // the file's network, resolved; nil until the front reads it
	// Given are the keys of the setting axes (SettingKeys) the sweep gives the run, which apply to
	// Network; the others keep the file's values.
	Given []string
}

// parseModel reads the model axis as a flag or sweep file spells it: mlp or a model file's path.
// The file's name stands for the model's until the front reads the file.
func parseModel(s string) (Model, error) {
	switch {
	case s == BuiltInModel:
		return Model{Name: BuiltInModel}, nil
	case strings.TrimSpace(s) == "":
		return Model{}, errors.New("empty model: want mlp or a model file")
	}
	base := filepath.Base(s)
	return Model{Name: strings.TrimSuffix(base, filepath.Ext(base)), File: s}, nil
}

// modelText is the model as a user types it: mlp or the file.
func modelText(m Model) string {
	if m.File == "" {
		return BuiltInModel
	}
	return m.File
}

// DecodedVariant is the job's variant as the front planned it: DecodeVariant of its axes, with the
// model file's network the job carries, its settings applied.
func (j Job) DecodedVariant() (Variant, error) {
	v, err := DecodeVariant(j.Variant)
	if err != nil || j.Network == nil {
		return v, err
	}
	if v.Model.File == "" {
		return v, errors.New("the job carries a network for the built-in mlp")
	}
	v.Model.Name, v.Model.Network = j.Network.Name, j.Network
	return v, nil
}

// SettingKeys are the keys of the axes that apply to any network (Settings): a model file's own
// values win over an axis the sweep leaves at its default.
func SettingKeys() []string { return []string{"init", "l2", "activation", "batchnorm", "dropout"} }

// Settings are the variant's values of the axes that apply to any network, those for which given
// is true; the built-in MLP takes them all.
func (v Variant) Settings(given func(key string) bool) Settings {
	var s Settings
	if given("init") {
		init := Initializer(v.Init)
		s.Init = &init
	}
	if given("l2") {
		s.L2 = &v.L2
	}
	if given("activation") {
		activation := Activation(v.Activation)
		s.Activation = &activation
	}
	if given("batchnorm") {
		s.BatchNorm = &v.BatchNorm
	}
	if given("dropout") {
		s.Dropout = &v.Dropout
	}
	return s
}

// Network is the network the variant trains, resolved with its settings applied: the model file's
// with the settings the sweep gives, or the built-in MLP on examples of the given features and
// classes with them all.
func (v Variant) Network(features, classes int) (Network, error) {
	if v.Model.File != "" {
		if v.Model.Network == nil {
			return Network{}, errors.New("model " + v.Model.File + " has not been read")
		}
		given := func(key string) bool { return slices.Contains(v.Model.Given, key) }
		return v.Model.Network.Apply(v.Settings(given))
	}
	all := func(string) bool { return true }
	return MLP(BuiltInModel, features, v.Hidden, classes).Apply(v.Settings(all))
}

// Uniform reports the values a network takes throughout for the settings that apply to any network:
// the kernel initializer and L2 factor of all its Dense and Conv2D layers, and the activation of all
// its hidden activations; "" (or ok false for l2) where its layers differ or have none. A run of a
// model file whose sweep leaves a setting to the file shows these in its name and hparams.
func (n Network) Uniform() (init Initializer, l2 float64, l2OK bool, hidden Activation) {
	var inits []Initializer
	var l2s []float64
	var acts []Activation
	for i, l := range n.Layers {
		var k *Kernel
		switch {
		case l.Dense != nil:
			k = &l.Dense.Kernel
		case l.Conv2D != nil:
			k = &l.Conv2D.Kernel
		}
		if k != nil {
			inits, l2s = append(inits, k.Init()), append(l2s, k.L2Rate())
		}
		if n.hiddenActivation(i) {
			acts = append(acts, activation(l))
		}
	}
	if same(inits) {
		init = inits[0]
	}
	if same(acts) {
		hidden = acts[0]
	}
	if same(l2s) {
		l2, l2OK = l2s[0], true
	}
	return init, l2, l2OK, hidden
}

// Convolves reports whether the network has a convolution or pooling layer: the layers whose
// kernels (oneDNN's) run best on other threads than Dense layers', and whose graphs TensorFlow's
// graph optimiser rewrites for them.
func (n Network) Convolves() bool {
	for _, l := range n.Layers {
		switch l.Class {
		case ClassConv2D, ClassMaxPooling2D, ClassAveragePooling2D, ClassGlobalAveragePooling2D:
			return true
		}
	}
	return false
}

// same reports whether a list has values and they are all equal.
func same[T comparable](values []T) bool {
	for _, v := range values {
		if v != values[0] {
			return false
		}
	}
	return len(values) > 0
}
