package summary

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// The hparams plugin's messages (TensorBoard plugins/hparams/api.proto and
// plugin_data.proto) are not in graft, so they are encoded and decoded here
// with protowire. Field numbers are those of the .proto files.

// Status is how a session ended, with TensorBoard's enum values.
type Status int

const (
	StatusUnknown Status = 0
	StatusSuccess Status = 1
	StatusFailure Status = 2
	StatusRunning Status = 3
)

func (s Status) String() string {
	switch s {
	case StatusUnknown:
		return "STATUS_UNKNOWN"
	case StatusSuccess:
		return "STATUS_SUCCESS"
	case StatusFailure:
		return "STATUS_FAILURE"
	case StatusRunning:
		return "STATUS_RUNNING"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// DataType is an hparam's type, with TensorBoard's enum values. TensorBoard
// has no integer type: integers are DataTypeFloat64.
type DataType int

const (
	DataTypeUnset   DataType = 0
	DataTypeString  DataType = 1
	DataTypeBool    DataType = 2
	DataTypeFloat64 DataType = 3
)

func (d DataType) String() string {
	switch d {
	case DataTypeUnset:
		return "DATA_TYPE_UNSET"
	case DataTypeString:
		return "DATA_TYPE_STRING"
	case DataTypeBool:
		return "DATA_TYPE_BOOL"
	case DataTypeFloat64:
		return "DATA_TYPE_FLOAT64"
	}
	return fmt.Sprintf("DataType(%d)", int(d))
}

// DatasetType says which data a metric is computed on, with TensorBoard's
// enum values.
type DatasetType int

const (
	DatasetUnknown    DatasetType = 0
	DatasetTraining   DatasetType = 1
	DatasetValidation DatasetType = 2
)

func (d DatasetType) String() string {
	switch d {
	case DatasetUnknown:
		return "DATASET_UNKNOWN"
	case DatasetTraining:
		return "DATASET_TRAINING"
	case DatasetValidation:
		return "DATASET_VALIDATION"
	}
	return fmt.Sprintf("DatasetType(%d)", int(d))
}

// Experiment declares a sweep's hparams and metrics to TensorBoard's HParams
// dashboard. A zero TimeCreated means now, or the WallTime it is written with.
type Experiment struct {
	Name, Description, User string
	TimeCreated             time.Time
	HParams                 []HParamInfo
	Metrics                 []MetricInfo
}

// HParamInfo declares one hparam. Discrete lists its values (string,
// float64 or bool; other numbers are converted to float64), Interval its
// range; at most one of them is set. An unset Type is taken from the domain.
// Differs says the sessions take more than one value: TensorBoard (2.15 and later) lists those
// hparams first, then the others, each part by name, and shows the first few by default.
type HParamInfo struct {
	Name, DisplayName, Description string
	Type                           DataType
	Discrete                       []any
	Interval                       *Interval
	Differs                        bool
}

// Interval is a numeric hparam's range.
type Interval struct{ Min, Max float64 }

// MetricInfo declares one metric: the scalar Tag in the session's sub-run
// Group ("" for the session run itself), e.g. Group "validation", Tag
// "epoch_loss".
type MetricInfo struct {
	Group, Tag               string
	DisplayName, Description string
	Dataset                  DatasetType
}

// SessionStart is one session's (one trial's) hparam values. Values are
// string, float64 or bool; other integer and float types are converted to
// float64. An empty GroupName makes TensorBoard group by the session's run
// name; a zero StartTime means now, or the WallTime it is written with.
type SessionStart struct {
	HParams   map[string]any
	GroupName string
	StartTime time.Time
}

// SessionEnd is how and when a session ended.
type SessionEnd struct {
	Status  Status
	EndTime time.Time
}

// HParams is a decoded hparams plugin summary; exactly one field is set.
type HParams struct {
	Experiment   *Experiment
	SessionStart *SessionStart
	SessionEnd   *SessionEnd
}

// HParamsPluginData fields.
const (
	fieldPluginVersion      = 1
	fieldPluginExperiment   = 2
	fieldPluginSessionStart = 3
	fieldPluginSessionEnd   = 4
)

// secs converts a time to the plugin's float seconds; the zero time is 0,
// which the encoding leaves out.
func secs(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixMicro()) / 1e6
}

func fromSecs(s float64) time.Time {
	if s == 0 || math.IsNaN(s) || math.IsInf(s, 0) {
		return time.Time{}
	}
	return time.UnixMicro(int64(math.Round(s * 1e6))).UTC()
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendMessage(b []byte, num protowire.Number, msg []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, msg)
}

func appendDouble(b []byte, num protowire.Number, x float64) []byte {
	if x == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, math.Float64bits(x))
}

func appendEnum(b []byte, num protowire.Number, x int) []byte {
	if x == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(x))
}

// hparamValue normalizes an hparam value to string, float64 or bool.
func hparamValue(v any) (any, error) {
	switch x := v.(type) {
	case string, bool, float64:
		return x, nil
	case float32:
		return float64(x), nil
	case int:
		return float64(x), nil
	case int8:
		return float64(x), nil
	case int16:
		return float64(x), nil
	case int32:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case uint:
		return float64(x), nil
	case uint8:
		return float64(x), nil
	case uint16:
		return float64(x), nil
	case uint32:
		return float64(x), nil
	case uint64:
		return float64(x), nil
	}
	return nil, fmt.Errorf("hparam value %v is a %T, not a string, number or bool", v, v)
}

// appendValue appends a google.protobuf.Value's fields. The oneof field is
// written even for false, 0 and "", because oneof members have presence.
func appendValue(b []byte, v any) ([]byte, error) {
	v, err := hparamValue(v)
	if err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case float64:
		b = protowire.AppendTag(b, 2, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, math.Float64bits(x))
	case string:
		b = protowire.AppendTag(b, 3, protowire.BytesType)
		b = protowire.AppendString(b, x)
	case bool:
		b = protowire.AppendTag(b, 4, protowire.VarintType)
		b = protowire.AppendVarint(b, protowire.EncodeBool(x))
	}
	return b, nil
}

func dataTypeOf(v any) DataType {
	switch v.(type) {
	case string:
		return DataTypeString
	case bool:
		return DataTypeBool
	}
	return DataTypeFloat64
}

func encodeExperiment(e Experiment, now func() time.Time) ([]byte, error) {
	created := e.TimeCreated
	if created.IsZero() {
		created = now()
	}
	var b []byte
	b = appendString(b, 1, e.Description)
	b = appendString(b, 2, e.User)
	b = appendDouble(b, 3, secs(created))
	for _, h := range e.HParams {
		m, err := encodeHParamInfo(h)
		if err != nil {
			return nil, err
		}
		b = appendMessage(b, 4, m)
	}
	for _, mi := range e.Metrics {
		m, err := encodeMetricInfo(mi)
		if err != nil {
			return nil, err
		}
		b = appendMessage(b, 5, m)
	}
	b = appendString(b, 6, e.Name)
	return appendMessage(nil, fieldPluginExperiment, b), nil
}

// encodeHParamInfo writes one HParamInfo message. An unset Type is taken from the first discrete
// value, or is float64 for an interval.
func encodeHParamInfo(h HParamInfo) ([]byte, error) {
	if h.Name == "" {
		return nil, errors.New("hparam with an empty name")
	}
	if h.Discrete != nil && h.Interval != nil {
		return nil, fmt.Errorf("hparam %q has both a discrete domain and an interval", h.Name)
	}
	typ := h.Type
	var m []byte
	m = appendString(m, 1, h.Name)
	m = appendString(m, 2, h.DisplayName)
	m = appendString(m, 3, h.Description)
	var list []byte
	for _, v := range h.Discrete {
		val, err := appendValue(nil, v)
		if err != nil {
			return nil, fmt.Errorf("hparam %q: %w", h.Name, err)
		}
		list = appendMessage(list, 1, val)
		if typ == DataTypeUnset {
			nv, _ := hparamValue(v)
			typ = dataTypeOf(nv)
		}
	}
	if h.Interval != nil && typ == DataTypeUnset {
		typ = DataTypeFloat64
	}
	m = appendEnum(m, 4, int(typ))
	if h.Discrete != nil {
		m = appendMessage(m, 5, list)
	}
	if h.Interval != nil {
		var iv []byte
		iv = appendDouble(iv, 1, h.Interval.Min)
		iv = appendDouble(iv, 2, h.Interval.Max)
		m = appendMessage(m, 6, iv)
	}
	if h.Differs {
		m = appendEnum(m, 7, 1)
	}
	return m, nil
}

// encodeMetricInfo writes one MetricInfo message, its name as a MetricName (group, tag).
func encodeMetricInfo(mi MetricInfo) ([]byte, error) {
	if mi.Tag == "" {
		return nil, errors.New("metric with an empty tag")
	}
	var name []byte
	name = appendString(name, 1, mi.Group)
	name = appendString(name, 2, mi.Tag)
	var m []byte
	m = appendMessage(m, 1, name)
	m = appendString(m, 3, mi.DisplayName)
	m = appendString(m, 4, mi.Description)
	m = appendEnum(m, 5, int(mi.Dataset))
	return m, nil
}

// encodeSessionStart writes the hparams sorted by name, like TensorBoard's
// hp.hparams, so equal sessions encode to equal bytes.
func encodeSessionStart(s SessionStart, now func() time.Time) ([]byte, error) {
	start := s.StartTime
	if start.IsZero() {
		start = now()
	}
	names := make([]string, 0, len(s.HParams))
	for k := range s.HParams {
		names = append(names, k)
	}
	sort.Strings(names)
	var b []byte
	for _, k := range names {
		if k == "" {
			return nil, errors.New("hparam with an empty name")
		}
		val, err := appendValue(nil, s.HParams[k])
		if err != nil {
			return nil, fmt.Errorf("hparam %q: %w", k, err)
		}
		var entry []byte
		entry = appendString(entry, 1, k)
		entry = appendMessage(entry, 2, val)
		b = appendMessage(b, 1, entry)
	}
	b = appendString(b, 4, s.GroupName)
	b = appendDouble(b, 5, secs(start))
	return appendMessage(nil, fieldPluginSessionStart, b), nil
}

func encodeSessionEnd(s SessionEnd) []byte {
	var b []byte
	b = appendEnum(b, 1, int(s.Status))
	b = appendDouble(b, 2, secs(s.EndTime))
	return appendMessage(nil, fieldPluginSessionEnd, b)
}

// field is one decoded protobuf field: x for varint and fixed types, v for
// length-delimited ones.
type field struct {
	num protowire.Number
	typ protowire.Type
	x   uint64
	v   []byte
}

// eachField calls fn for every field of the message b, in order.
func eachField(b []byte, fn func(f field) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		f := field{num: num, typ: typ}
		switch typ {
		case protowire.VarintType:
			f.x, n = protowire.ConsumeVarint(b)
		case protowire.Fixed64Type:
			f.x, n = protowire.ConsumeFixed64(b)
		case protowire.Fixed32Type:
			var x uint32
			x, n = protowire.ConsumeFixed32(b)
			f.x = uint64(x)
		case protowire.BytesType:
			f.v, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

// want checks a field's wire type before it is used.
func (f field) want(t protowire.Type) error {
	if f.typ != t {
		return fmt.Errorf("field %d has wire type %d, want %d", f.num, f.typ, t)
	}
	return nil
}

func (f field) double() float64 { return math.Float64frombits(f.x) }

// decodeHParams decodes an HParamsPluginData message.
func decodeHParams(b []byte) (*HParams, error) {
	h := &HParams{}
	err := eachField(b, func(f field) error {
		var err error
		switch f.num {
		case fieldPluginExperiment:
			if err = f.want(protowire.BytesType); err == nil {
				h.Experiment, err = decodeExperiment(f.v)
			}
		case fieldPluginSessionStart:
			if err = f.want(protowire.BytesType); err == nil {
				h.SessionStart, err = decodeSessionStart(f.v)
			}
		case fieldPluginSessionEnd:
			if err = f.want(protowire.BytesType); err == nil {
				h.SessionEnd, err = decodeSessionEnd(f.v)
			}
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("hparams plugin data: %w", err)
	}
	return h, nil
}

func decodeExperiment(b []byte) (*Experiment, error) {
	e := &Experiment{}
	err := eachField(b, func(f field) error {
		switch f.num {
		case 1, 2, 6:
			if err := f.want(protowire.BytesType); err != nil {
				return err
			}
			switch f.num {
			case 1:
				e.Description = string(f.v)
			case 2:
				e.User = string(f.v)
			case 6:
				e.Name = string(f.v)
			}
		case 3:
			if err := f.want(protowire.Fixed64Type); err != nil {
				return err
			}
			e.TimeCreated = fromSecs(f.double())
		case 4:
			if err := f.want(protowire.BytesType); err != nil {
				return err
			}
			h, err := decodeHParamInfo(f.v)
			if err != nil {
				return err
			}
			e.HParams = append(e.HParams, h)
		case 5:
			if err := f.want(protowire.BytesType); err != nil {
				return err
			}
			m, err := decodeMetricInfo(f.v)
			if err != nil {
				return err
			}
			e.Metrics = append(e.Metrics, m)
		}
		return nil
	})
	return e, err
}

func decodeHParamInfo(b []byte) (HParamInfo, error) {
	var h HParamInfo
	err := eachField(b, func(f field) error {
		switch f.num {
		case 1, 2, 3:
			if err := f.want(protowire.BytesType); err != nil {
				return err
			}
			switch f.num {
			case 1:
				h.Name = string(f.v)
			case 2:
				h.DisplayName = string(f.v)
			case 3:
				h.Description = string(f.v)
			}
		case 4:
			if err := f.want(protowire.VarintType); err != nil {
				return err
			}
			h.Type = DataType(int32(f.x))
		case 5:
			if err := f.want(protowire.BytesType); err != nil {
				return err
			}
			list, err := decodeList(f.v)
			if err != nil {
				return err
			}
			h.Discrete = list
			if h.Discrete == nil {
				h.Discrete = []any{}
			}
		case 6:
			if err := f.want(protowire.BytesType); err != nil {
				return err
			}
			iv, err := decodeInterval(f.v)
			if err != nil {
				return err
			}
			h.Interval = iv
		case 7:
			if err := f.want(protowire.VarintType); err != nil {
				return err
			}
			h.Differs = f.x != 0
		}
		return nil
	})
	return h, err
}

func decodeInterval(b []byte) (*Interval, error) {
	iv := &Interval{}
	err := eachField(b, func(g field) error {
		if g.num != 1 && g.num != 2 {
			return nil
		}
		if err := g.want(protowire.Fixed64Type); err != nil {
			return err
		}
		if g.num == 1 {
			iv.Min = g.double()
		} else {
			iv.Max = g.double()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return iv, nil
}

func decodeMetricInfo(b []byte) (MetricInfo, error) {
	var m MetricInfo
	err := eachField(b, func(f field) error {
		switch f.num {
		case 1:
			if err := f.want(protowire.BytesType); err != nil {
				return err
			}
			return eachField(f.v, func(g field) error {
				if g.num != 1 && g.num != 2 {
					return nil
				}
				if err := g.want(protowire.BytesType); err != nil {
					return err
				}
				if g.num == 1 {
					m.Group = string(g.v)
				} else {
					m.Tag = string(g.v)
				}
				return nil
			})
		case 3, 4:
			if err := f.want(protowire.BytesType); err != nil {
				return err
			}
			if f.num == 3 {
				m.DisplayName = string(f.v)
			} else {
				m.Description = string(f.v)
			}
		case 5:
			if err := f.want(protowire.VarintType); err != nil {
				return err
			}
			m.Dataset = DatasetType(int32(f.x))
		}
		return nil
	})
	return m, err
}

// decodeValue decodes a google.protobuf.Value: float64, string, bool, nil
// (null or struct) or []any (list).
func decodeValue(b []byte) (any, error) {
	var v any
	err := eachField(b, func(f field) error {
		var err error
		switch f.num {
		case 1:
			v = nil
		case 2:
			if err = f.want(protowire.Fixed64Type); err == nil {
				v = f.double()
			}
		case 3:
			if err = f.want(protowire.BytesType); err == nil {
				v = string(f.v)
			}
		case 4:
			if err = f.want(protowire.VarintType); err == nil {
				v = f.x != 0
			}
		case 5:
			v = nil
		case 6:
			if err = f.want(protowire.BytesType); err == nil {
				v, err = decodeList(f.v)
			}
		}
		return err
	})
	return v, err
}

func decodeList(b []byte) ([]any, error) {
	var list []any
	err := eachField(b, func(f field) error {
		if f.num != 1 {
			return nil
		}
		if err := f.want(protowire.BytesType); err != nil {
			return err
		}
		v, err := decodeValue(f.v)
		if err != nil {
			return err
		}
		list = append(list, v)
		return nil
	})
	return list, err
}

func decodeSessionStart(b []byte) (*SessionStart, error) {
	s := &SessionStart{HParams: map[string]any{}}
	err := eachField(b, func(f field) error {
		switch f.num {
		case 1:
			if err := f.want(protowire.BytesType); err != nil {
				return err
			}
			var key string
			var val any
			err := eachField(f.v, func(g field) error {
				var err error
				switch g.num {
				case 1:
					if err = g.want(protowire.BytesType); err == nil {
						key = string(g.v)
					}
				case 2:
					if err = g.want(protowire.BytesType); err == nil {
						val, err = decodeValue(g.v)
					}
				}
				return err
			})
			if err != nil {
				return err
			}
			s.HParams[key] = val
		case 4:
			if err := f.want(protowire.BytesType); err != nil {
				return err
			}
			s.GroupName = string(f.v)
		case 5:
			if err := f.want(protowire.Fixed64Type); err != nil {
				return err
			}
			s.StartTime = fromSecs(f.double())
		}
		return nil
	})
	return s, err
}

func decodeSessionEnd(b []byte) (*SessionEnd, error) {
	s := &SessionEnd{}
	err := eachField(b, func(f field) error {
		switch f.num {
		case 1:
			if err := f.want(protowire.VarintType); err != nil {
				return err
			}
			s.Status = Status(int32(f.x))
		case 2:
			if err := f.want(protowire.Fixed64Type); err != nil {
				return err
			}
			s.EndTime = fromSecs(f.double())
		}
		return nil
	})
	return s, err
}
