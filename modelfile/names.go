package modelfile

import "github.com/tfsweep/tfsweep/spec"

// The names catalog, which the vocabulary moves into spec: the spellings of activations and
// initialisers that Keras and tfsweep's flags accept, and their canonical names.

func parseActivation(name string) (string, error) { return spec.ParseActivation(name) }

func activationNames() []string { return spec.ActivationNames() }

// lookupInit returns an initialiser's canonical name and whether it is Keras' RandomUniform, whose
// minval and maxval tfsweep builds at Keras' defaults only.
func lookupInit(name string) (canonical string, randomUniform bool, err error) {
	init, err := spec.LookupInit(name)
	return init.Name, init.Distribution == "fixed_uniform", err
}

func initNames() []string { return spec.InitNames() }
