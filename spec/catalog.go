package spec

// The catalog names what the model can build — kernel initialisers, activations, optimizers and
// learning-rate schedules — under Keras 3's names and aliases, with the arguments Keras gives them,
// so that the front validates and canonicalises names without loading TensorFlow, and model builds
// from the same entries.

import (
	"fmt"
	"slices"
	"strings"
)

// Initialiser is a Keras kernel initialiser: a VarianceScaling (Scale, Mode, Distribution) or the
// fixed RandomUniform(-0.05, 0.05).
type Initialiser struct {
	Name  string  // canonical name, as tfsweep writes it in run names and hparams
	Scale float64 // VarianceScaling scale
	Mode  string  // "fan_in" or "fan_avg"
	// Distribution is "truncated_normal" or "uniform"; "fixed_uniform" is RandomUniform(-0.05, 0.05).
	Distribution string
	KerasClass   string   // the Keras 3 class, as model.to_json names it
	Aliases      []string // accepted spellings besides Name, compared after lower-casing
}

// initialisers are in the order InitNames reports them.
var initialisers = []Initialiser{
	{Name: "xavier", Scale: 1, Mode: "fan_avg", Distribution: "truncated_normal", KerasClass: "GlorotNormal",
		Aliases: []string{"glorot_normal", "glorotnormal", "xavier_normal", "xaviernormal"}},
	{Name: "uniform", Distribution: "fixed_uniform", KerasClass: "RandomUniform",
		Aliases: []string{"random_uniform", "randomuniform"}},
	{Name: "glorot_uniform", Scale: 1, Mode: "fan_avg", Distribution: "uniform", KerasClass: "GlorotUniform",
		Aliases: []string{"glorotuniform", "xavier_uniform", "xavieruniform"}},
	{Name: "he_normal", Scale: 2, Mode: "fan_in", Distribution: "truncated_normal", KerasClass: "HeNormal",
		Aliases: []string{"henormal"}},
	{Name: "he_uniform", Scale: 2, Mode: "fan_in", Distribution: "uniform", KerasClass: "HeUniform",
		Aliases: []string{"heuniform"}},
	{Name: "lecun_normal", Scale: 1, Mode: "fan_in", Distribution: "truncated_normal", KerasClass: "LecunNormal",
		Aliases: []string{"lecunnormal"}},
	{Name: "lecun_uniform", Scale: 1, Mode: "fan_in", Distribution: "uniform", KerasClass: "LecunUniform",
		Aliases: []string{"lecununiform"}},
}

// LookupInit finds an initialiser by any Keras spelling, in either case and either style:
// "GlorotNormal", "glorot_normal", "xavier_normal" and "xavier" all mean Keras' glorot_normal;
// "RandomUniform" and "random_uniform" mean RandomUniform(-0.05, 0.05), Keras' default arguments.
func LookupInit(name string) (Initialiser, error) {
	key := strings.ToLower(strings.TrimSpace(name))
	for _, init := range initialisers {
		if key == init.Name || slices.Contains(init.Aliases, key) {
			return init, nil
		}
	}
	return Initialiser{}, fmt.Errorf("unknown initialiser %q (want one of %s)", name, strings.Join(InitNames(), ", "))
}

// ParseInit returns the canonical spelling of an initialiser name (one of InitNames).
func ParseInit(name string) (string, error) {
	init, err := LookupInit(name)
	return init.Name, err
}

// InitNames returns the canonical initialiser names.
func InitNames() []string {
	names := make([]string, len(initialisers))
	for i, init := range initialisers {
		names[i] = init.Name
	}
	return names
}
