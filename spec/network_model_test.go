package spec

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestVariantNetworkIsTheLabMLP: the default variant trains the lab report's MLP with the sweep's
// defaults (xavier kernels, no batch norm, dropout or L2), and the MLP axes change it.
func TestVariantNetworkIsTheLabMLP(t *testing.T) {
	v := Defaults()
	got, err := v.Network(784, 10)
	if err != nil {
		t.Fatal(err)
	}
	xavier := DefaultInitializer
	want, err := LabReportMLP().Apply(Settings{Init: &xavier, L2: ptr(0.0), Activation: ptr(ActivationTanh), BatchNorm: ptr(false), Dropout: ptr(0.0)})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("default variant's network\n%+v\nwant\n%+v", got, want)
	}
	v.Hidden, v.BatchNorm, v.Activation = []int{32}, true, "relu"
	got, err = v.Network(784, 10)
	if err != nil {
		t.Fatal(err)
	}
	if names := layerNames(got); !reflect.DeepEqual(names, []string{"dense", "batch_normalization", "activation", "dense_1"}) {
		t.Errorf("hidden 32 with batch norm: %v", names)
	}
}

// TestJobCarriesTheModelFilesNetwork: the network goes through the job's JSON and comes back as the
// variant's, under the model's name; the built-in MLP sends none.
func TestJobCarriesTheModelFilesNetwork(t *testing.T) {
	net, err := convnet().Resolve()
	if err != nil {
		t.Fatal(err)
	}
	net.Name = "small"
	v := Defaults()
	v.Model = Model{Name: "small", File: "models/convnet.yaml", Network: &net, Given: []string{"dropout"}}
	v.Dropout = 0.25
	applied, err := v.Network(784, 10)
	if err != nil {
		t.Fatal(err)
	}
	line, err := json.Marshal(Job{Run: "r", Variant: EncodeVariant(v), Network: &applied})
	if err != nil {
		t.Fatal(err)
	}
	var job Job
	if err := json.Unmarshal(line, &job); err != nil {
		t.Fatal(err)
	}
	back, err := job.DecodedVariant()
	if err != nil {
		t.Fatal(err)
	}
	if back.Model.Name != "small" || back.Model.File != "models/convnet.yaml" || !reflect.DeepEqual(back.Model.Network, &applied) {
		t.Errorf("the worker's model: %+v", back.Model)
	}
	trained, err := back.Network(784, 10)
	if err != nil || !reflect.DeepEqual(trained, applied) {
		t.Errorf("the worker trains a network other than the front's (%v)", err)
	}
	if _, err := (Job{Variant: EncodeVariant(Defaults()), Network: &applied}).DecodedVariant(); err == nil {
		t.Error("a network for the built-in mlp was accepted")
	}
}
