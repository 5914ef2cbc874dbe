package worker

import (
	"reflect"
	"testing"

	"github.com/tfsweep/tfsweep/internal/axistest"
	"github.com/tfsweep/tfsweep/modelfile"
	"github.com/tfsweep/tfsweep/spec"
)

// planOf is the plan the worker makes of a variant that came through the front's protocol, on
// MNIST's sizes, without a GPU. A model file is read as the front reads it and travels in the job.
func planOf(t *testing.T, v spec.Variant) runPlan {
	t.Helper()
	job := spec.Job{Run: "r", Dir: "runs/r", DataDir: "data/mnist", Device: "auto", CPUs: 2, Variant: spec.EncodeVariant(v)}
	if v.Model.File != "" {
		net, err := modelfile.Read(v.Model.File) // no settings given: the file's network as it is
		if err != nil {
			t.Fatal(err)
		}
		job.Network = &net
	}
	sent, err := job.DecodedVariant()
	if err != nil {
		t.Fatal(err)
	}
	p, err := planRun(job, sent, dataShape{train: 60_000, test: 10_000, features: 784, classes: 10}, func() bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// variantWith is the default variant with an axis' sample value and the other axes it needs.
func variantWith(t *testing.T, a spec.Axis, text string) spec.Variant {
	t.Helper()
	v := spec.Defaults()
	for key, value := range axistest.Context[a.Key] {
		other, _ := spec.AxisByKey(key)
		x, err := other.Parse(value)
		if err != nil {
			t.Fatal(err)
		}
		other.Set(&v, x)
	}
	x, err := a.Parse(text)
	if err != nil {
		t.Fatalf("%s %q: %v", a.Key, text, err)
	}
	a.Set(&v, x)
	return v
}

// Every axis changes what the worker trains: two values of it, sent through the protocol, give two
// different plans, and an axis with a model field puts its value into the model's configuration.
// It fails for an axis that stops at DecodeVariant.
func TestEveryAxisChangesWhatTheWorkerTrains(t *testing.T) {
	for _, a := range spec.Axes() {
		t.Run(a.Key, func(t *testing.T) {
			samples, ok := axistest.Samples[a.Key]
			if !ok {
				t.Fatalf("no sample values for axis %s in axistest.Samples", a.Key)
			}
			var plans [2]runPlan
			for i, text := range samples {
				v := variantWith(t, a, text)
				plans[i] = planOf(t, v)
				if a.ModelField == "" {
					continue
				}
				got := reflect.ValueOf(plans[i].model).FieldByName(a.ModelField).Interface()
				if !reflect.DeepEqual(got, a.Get(v)) {
					t.Errorf("%s %s: model.Config.%s is %v", a.Key, text, a.ModelField, got)
				}
			}
			if reflect.DeepEqual(plans[0], plans[1]) {
				t.Errorf("%s %s and %s: the worker trains the same:\n%+v", a.Key, samples[0], samples[1], plans[0])
			}
		})
	}
}

// The pictures keep the validation pass' probabilities, so that they cost no second pass; a run
// without pictures keeps none.
func TestPicturesKeepTheValidationProbabilities(t *testing.T) {
	for _, every := range []int{0, 5} {
		job := spec.Job{Run: "r", Dir: "runs/r", DataDir: "data/mnist", Device: "auto", CPUs: 2, Variant: spec.EncodeVariant(spec.Defaults()),
			PicturesEvery: every}
		p, err := planRun(job, spec.Defaults(), dataShape{train: 60_000, test: 10_000, features: 784, classes: 10}, func() bool { return false })
		if err != nil {
			t.Fatal(err)
		}
		if p.model.KeepValidationProbabilities != (every > 0) {
			t.Errorf("pictures every %d: KeepValidationProbabilities %v", every, p.model.KeepValidationProbabilities)
		}
	}
}
