package summary

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"
	"time"
)

func f64(x float64) []byte { return binary.LittleEndian.AppendUint64(nil, math.Float64bits(x)) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// The spec's verified example (section 8.1).
func TestSessionStartBytes(t *testing.T) {
	got, err := encodeSessionStart(SessionStart{
		HParams:   map[string]any{"use_bn": true, "lr": 0.01, "optimizer": "adam"},
		GroupName: "run-0",
		StartTime: time.UnixMicro(1.7e15),
	}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	want := cat(
		[]byte{0x1a, 0x44},
		[]byte{0x0a, 0x0f, 0x0a, 0x02}, []byte("lr"), []byte{0x12, 0x09, 0x11}, f64(0.01),
		[]byte{0x0a, 0x13, 0x0a, 0x09}, []byte("optimizer"), []byte{0x12, 0x06, 0x1a, 0x04}, []byte("adam"),
		[]byte{0x0a, 0x0c, 0x0a, 0x06}, []byte("use_bn"), []byte{0x12, 0x02, 0x20, 0x01},
		[]byte{0x22, 0x05}, []byte("run-0"),
		[]byte{0x29}, f64(1.7e9),
	)
	if !bytes.Equal(got, want) {
		t.Errorf("session start\n got %x\nwant %x", got, want)
	}
}

func TestHParamsEncoding(t *testing.T) {
	now := func() time.Time { return time.Unix(1_700_000_000, 0) }
	tests := []struct {
		name string
		got  func() ([]byte, error)
		want []byte
	}{
		{"session end", func() ([]byte, error) {
			return encodeSessionEnd(SessionEnd{Status: StatusFailure, EndTime: time.Unix(2, 0)}), nil
		}, cat([]byte{0x22, 0x0b, 0x08, 0x02, 0x11}, f64(2))},
		{"unknown status and zero values are omitted", func() ([]byte, error) {
			return encodeSessionEnd(SessionEnd{}), nil
		}, []byte{0x22, 0x00}},
		// false, 0 and "" are oneof members: they are written.
		{"zero hparam values", func() ([]byte, error) {
			return encodeSessionStart(SessionStart{HParams: map[string]any{"b": false, "n": 0, "s": ""}, StartTime: time.Unix(1, 0)}, now)
		}, cat([]byte{0x1a, 0x2b},
			[]byte{0x0a, 0x07, 0x0a, 0x01, 'b', 0x12, 0x02, 0x20, 0x00},
			[]byte{0x0a, 0x0e, 0x0a, 0x01, 'n', 0x12, 0x09, 0x11}, f64(0),
			[]byte{0x0a, 0x07, 0x0a, 0x01, 's', 0x12, 0x02, 0x1a, 0x00},
			[]byte{0x29}, f64(1))},
		{"experiment", func() ([]byte, error) {
			return encodeExperiment(Experiment{
				Name:    "e",
				HParams: []HParamInfo{{Name: "u", Discrete: []any{32}}, {Name: "lr", Interval: &Interval{0, 1}}},
				Metrics: []MetricInfo{{Group: "validation", Tag: "epoch_loss", Dataset: DatasetValidation}},
			}, now)
		}, cat([]byte{0x12, 0x51},
			[]byte{0x19}, f64(1.7e9),
			// HParamInfo{name u, type FLOAT64 (from the values), domain_discrete [32]}
			[]byte{0x22, 0x12, 0x0a, 0x01, 'u', 0x20, 0x03, 0x2a, 0x0b, 0x0a, 0x09, 0x11}, f64(32),
			// HParamInfo{name lr, type FLOAT64, interval {0, 1}}
			[]byte{0x22, 0x11, 0x0a, 0x02, 'l', 'r', 0x20, 0x03, 0x32, 0x09, 0x11}, f64(1),
			[]byte{0x2a, 0x1c, 0x0a, 0x18, 0x0a, 0x0a}, []byte("validation"), []byte{0x12, 0x0a}, []byte("epoch_loss"), []byte{0x28, 0x02},
			[]byte{0x32, 0x01, 'e'})},
		{"an hparam that differs", func() ([]byte, error) {
			return encodeExperiment(Experiment{HParams: []HParamInfo{{Name: "u", Type: DataTypeString, Differs: true}}}, now)
		}, cat([]byte{0x12, 0x12},
			[]byte{0x19}, f64(1.7e9),
			// HParamInfo{name u, type STRING, differs true}
			[]byte{0x22, 0x07, 0x0a, 0x01, 'u', 0x20, 0x01, 0x38, 0x01})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.got()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("\n got %x\nwant %x", got, tt.want)
			}
			if _, err := decodeHParams(got); err != nil {
				t.Errorf("decode: %v", err)
			}
		})
	}
}

func TestHParamsRefusesBadValues(t *testing.T) {
	if _, err := encodeSessionStart(SessionStart{HParams: map[string]any{"x": []int{1}}}, time.Now); err == nil {
		t.Error("slice value accepted")
	}
	if _, err := encodeExperiment(Experiment{HParams: []HParamInfo{{Name: "x", Discrete: []any{1}, Interval: &Interval{}}}}, time.Now); err == nil {
		t.Error("discrete and interval accepted")
	}
	if _, err := encodeExperiment(Experiment{HParams: []HParamInfo{{Name: ""}}}, time.Now); err == nil {
		t.Error("empty hparam name accepted")
	}
}
