package spec

import "testing"

func TestParseNames(t *testing.T) {
	tests := []struct {
		parse func(string) (string, error)
		names func() []string
		good  map[string]string
		bad   []string
	}{
		{ParseActivation, ActivationNames, map[string]string{
			"tanh": "tanh", "ReLU": "relu", "Sigmoid": "sigmoid", "elu": "elu", "SELU": "selu", "gelu": "gelu",
			"swish": "silu", "SiLU": "silu", "softplus": "softplus", "leaky_relu": "leaky_relu", "LeakyReLU": "leaky_relu",
			" Tanh ": "tanh",
		}, []string{"", "linear", "softmax", "relu6", "prelu"}},
		{ParseOptimizer, OptimizerNames, map[string]string{
			"adam": "adam", "Adam": "adam", "SGD": "sgd", "RMSprop": "rmsprop", "rms_prop": "rmsprop", "AdamW": "adamw",
			"adam_w": "adamw", "Adagrad": "adagrad", "Nadam": "nadam",
		}, []string{"", "adadelta", "lamb", "momentum"}},
		{ParseSchedule, ScheduleNames, map[string]string{
			"constant": "constant", "ExponentialDecay": "exponential", "exponential": "exponential", "cosine": "cosine",
			"CosineDecay": "cosine", "step": "step", "PiecewiseConstantDecay": "step", "piecewise": "step",
		}, []string{"", "polynomial", "linear"}},
	}
	for _, tt := range tests {
		for in, want := range tt.good {
			if got, err := tt.parse(in); err != nil || got != want {
				t.Errorf("parse(%q) = %q, %v; want %q", in, got, err, want)
			}
		}
		for _, in := range tt.bad {
			if got, err := tt.parse(in); err == nil {
				t.Errorf("parse(%q) = %q, want an error", in, got)
			}
		}
		for _, name := range tt.names() {
			if got, err := tt.parse(name); err != nil || got != name {
				t.Errorf("parse(%q) = %q, %v: the names must be canonical", name, got, err)
			}
		}
	}
}

func TestParseInit(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"xavier", "xavier"}, {"GlorotNormal", "xavier"}, {"glorot_normal", "xavier"}, {"xavier_normal", "xavier"},
		{"uniform", "uniform"}, {"RandomUniform", "uniform"}, {"random_uniform", "uniform"},
		{"GlorotUniform", "glorot_uniform"}, {"glorot_uniform", "glorot_uniform"},
		{"HeNormal", "he_normal"}, {"he_uniform", "he_uniform"}, {"LecunNormal", "lecun_normal"},
		{"lecun_uniform", "lecun_uniform"}, {" He_Normal ", "he_normal"},
	}
	for _, tt := range tests {
		got, err := ParseInit(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseInit(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "gaussian", "glorot", "he"} {
		if got, err := ParseInit(bad); err == nil {
			t.Errorf("ParseInit(%q) = %q, want an error", bad, got)
		}
	}
	for _, name := range InitNames() {
		if got, err := ParseInit(name); err != nil || got != name {
			t.Errorf("ParseInit(%q) = %q, %v: InitNames must be canonical", name, got, err)
		}
	}
}
