// Package axistest gives the tests of the front and of the worker two values of every sweep axis,
// so that both can show that a new axis is wired all the way, from its flag to what the worker
// trains. Only tests import it.
package axistest

// Samples are two distinct values of every axis, as a user types them. The tests that read them
// fail for an axis missing here, so a new axis cannot be added half-wired.
var Samples = map[string][2]string{
	"model": {"mlp", "../modelfile/testdata/convnet.yaml"},
	"init":  {"xavier", "he_normal"}, "batchnorm": {"off", "on"}, "batch_size": {"64", "256"}, "lr": {"0.001", "0.01"},
	"hidden": {"128x64", "32"}, "seed": {"1", "2"}, "epochs": {"5", "2"}, "scale": {"unit", "none"}, "limit": {"0", "1000"},
	"activation": {"tanh", "gelu"}, "optimizer": {"adam", "rmsprop"}, "momentum": {"0", "0.9"}, "nesterov": {"off", "on"},
	"dropout": {"0", "0.2"}, "l2": {"0", "0.0001"}, "validation_split": {"0", "0.1"},
	"schedule":       {"constant", "cosine:decay_steps=2345:warmup_steps=10:warmup_target=0.002"},
	"early_stopping": {"off", "patience=2:min_delta=0.001:restore_best_weights"},
	"reduce_lr":      {"off", "factor=0.5:patience=2:min_lr=1e-05"},
}

// Context are the other axes an axis' samples need: momentum and nesterov apply to sgd.
var Context = map[string]map[string]string{
	"momentum": {"optimizer": "sgd"}, "nesterov": {"optimizer": "sgd"},
}
