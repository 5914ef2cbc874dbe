package report

import (
	"reflect"
	"testing"
)

func TestNewSeriesOrdersAndKeepsLastOfAStep(t *testing.T) {
	got := NewSeries([]Point{{2, 0.3, 0}, {0, 0.9, 0}, {1, 0.5, 0}, {1, 0.45, 0}})
	want := Series{{0, 0.9, 0}, {1, 0.45, 0}, {2, 0.3, 0}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("NewSeries = %v, want %v", got, want)
	}
	if v, ok := got.Last(); !ok || v != 0.3 {
		t.Errorf("Last = %v, %v; want 0.3, true", v, ok)
	}
	if _, ok := (Series{}).Last(); ok {
		t.Error("Last of an empty series reports a value")
	}
}

func TestRunVariant(t *testing.T) {
	tests := []struct {
		name    string
		hparams map[string]any
		want    Variant
		ok      bool
	}{
		{"tfsweep", map[string]any{"init": "xavier", "batchnorm": true, "batch_size": 256.0}, Variant{"xavier", true, 256}, true},
		{"keras names", map[string]any{"init": "glorot_normal", "batchnorm": "off", "batch_size": 64.0}, Variant{"xavier", false, 64}, true},
		{"0/1 switch", map[string]any{"init": "RandomUniform", "batchnorm": 1.0, "batch_size": "128"}, Variant{"uniform", true, 128}, true},
		{"other init kept", map[string]any{"init": "he_normal", "batchnorm": false, "batch_size": 32.0}, Variant{"he_normal", false, 32}, true},
		{"no hparams", nil, Variant{}, false},
		{"fractional batch", map[string]any{"init": "xavier", "batchnorm": false, "batch_size": 64.5}, Variant{}, false},
		{"batch norm missing", map[string]any{"init": "xavier", "batch_size": 64.0}, Variant{}, false},
		{"batch norm unreadable", map[string]any{"init": "xavier", "batchnorm": "maybe", "batch_size": 64.0}, Variant{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Run{HParams: tt.hparams}.Variant()
			if ok != tt.ok || got != tt.want {
				t.Errorf("Variant() = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
