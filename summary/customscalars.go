package summary

import (
	"errors"
	"fmt"
	"regexp"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// PluginCustomScalars is the Custom Scalars plugin's name.
const PluginCustomScalars = "custom_scalars"

// CustomScalarsTag is the tag the Custom Scalars plugin reads its layout
// from, in any run.
const CustomScalarsTag = "custom_scalars__config__"

// A Layout is the Custom Scalars dashboard's layout: categories of charts,
// each overlaying the scalar tags its regular expressions match, across
// every run. TensorBoard merges the layouts of all runs, category by title.
type Layout struct {
	Categories []Category
}

// A Category is a collapsible section of charts.
type Category struct {
	Title  string
	Charts []Chart
	Closed bool // shown collapsed
}

// A Chart is a line chart of every scalar tag matching one of Tags, which
// are regular expressions (TensorBoard's frontend tests them as JavaScript
// regular expressions, unanchored: "loss" matches "epoch_loss"; use
// "^epoch_loss$" for one tag). Margin, instead of Tags, makes a margin
// chart: a value with its lower and upper bounds, each an exact tag.
type Chart struct {
	Title  string
	Tags   []string
	Margin []MarginSeries
}

// MarginSeries is one line of a margin chart: the tags of its value and of
// its lower and upper bounds.
type MarginSeries struct {
	Value, Lower, Upper string
}

// The field numbers of tensorboard/plugins/custom_scalar/layout.proto.
const (
	layoutVersion  = 1 // Layout.version, int32
	layoutCategory = 2 // Layout.category, repeated Category

	categoryTitle  = 1 // Category.title
	categoryChart  = 2 // Category.chart, repeated Chart
	categoryClosed = 3 // Category.closed, bool

	chartTitle     = 1 // Chart.title
	chartMultiline = 2 // Chart.multiline, MultilineChartContent{repeated string tag = 1}
	chartMargin    = 3 // Chart.margin, MarginChartContent{repeated Series series = 1}

	multilineTag = 1
	marginSeries = 1
	seriesValue  = 1
	seriesLower  = 2
	seriesUpper  = 3
)

// check refuses a layout TensorBoard would show broken: no charts, a chart
// with no tag, a chart with both kinds, a tag regexp that does not
// compile. Regexps are compiled with Go's RE2 syntax, the part common to
// Go, Python and JavaScript, so they mean the same to every reader.
func (l Layout) check() error {
	if len(l.Categories) == 0 {
		return errors.New("layout has no categories")
	}
	for _, c := range l.Categories {
		if !utf8.ValidString(c.Title) {
			return fmt.Errorf("category title %q is not UTF-8", c.Title)
		}
		if len(c.Charts) == 0 {
			return fmt.Errorf("category %q has no charts", c.Title)
		}
		for _, ch := range c.Charts {
			what := fmt.Sprintf("category %q chart %q", c.Title, ch.Title)
			switch {
			case !utf8.ValidString(ch.Title):
				return fmt.Errorf("%s: title is not UTF-8", what)
			case len(ch.Tags) == 0 && len(ch.Margin) == 0:
				return fmt.Errorf("%s has no tags", what)
			case len(ch.Tags) > 0 && len(ch.Margin) > 0:
				return fmt.Errorf("%s has both tags and margin series; a chart is one or the other", what)
			}
			for _, tag := range ch.Tags {
				if !utf8.ValidString(tag) {
					return fmt.Errorf("%s: tag %q is not UTF-8", what, tag)
				}
				if _, err := regexp.Compile(tag); err != nil {
					return fmt.Errorf("%s: tag regexp: %w", what, err)
				}
			}
			for _, s := range ch.Margin {
				if s.Value == "" || s.Lower == "" || s.Upper == "" {
					return fmt.Errorf("%s: margin series %+v needs value, lower and upper tags", what, s)
				}
				if !utf8.ValidString(s.Value + s.Lower + s.Upper) {
					return fmt.Errorf("%s: margin series %+v is not UTF-8", what, s)
				}
			}
		}
	}
	return nil
}

// marshal encodes l as a tensorboard.Layout proto.
func (l Layout) marshal() []byte {
	var out []byte
	for _, c := range l.Categories {
		var cb []byte
		cb = appendString(cb, categoryTitle, c.Title)
		for _, ch := range c.Charts {
			var chb []byte
			chb = appendString(chb, chartTitle, ch.Title)
			if len(ch.Margin) > 0 {
				var mb []byte
				for _, s := range ch.Margin {
					var sb []byte
					sb = appendString(sb, seriesValue, s.Value)
					sb = appendString(sb, seriesLower, s.Lower)
					sb = appendString(sb, seriesUpper, s.Upper)
					mb = appendMessage(mb, marginSeries, sb)
				}
				chb = appendMessage(chb, chartMargin, mb)
			} else {
				var mb []byte
				for _, tag := range ch.Tags {
					mb = protowire.AppendTag(mb, multilineTag, protowire.BytesType)
					mb = protowire.AppendString(mb, tag)
				}
				chb = appendMessage(chb, chartMultiline, mb)
			}
			cb = appendMessage(cb, categoryChart, chb)
		}
		if c.Closed {
			cb = protowire.AppendTag(cb, categoryClosed, protowire.VarintType)
			cb = protowire.AppendVarint(cb, 1)
		}
		out = appendMessage(out, layoutCategory, cb)
	}
	return out
}

// fields calls f for each field of the message b, skipping the wire types
// f does not ask for.
func fields(b []byte, f func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := f(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}

// decodeLayout decodes a tensorboard.Layout proto. Unknown fields are
// skipped, as protobuf does.
func decodeLayout(b []byte) (*Layout, error) {
	l := &Layout{}
	err := fields(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if num != layoutCategory || typ != protowire.BytesType {
			return nil
		}
		var c Category
		err := fields(v, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
			switch {
			case num == categoryTitle && typ == protowire.BytesType:
				c.Title = string(v)
			case num == categoryClosed && typ == protowire.VarintType:
				c.Closed = x != 0
			case num == categoryChart && typ == protowire.BytesType:
				ch, err := decodeChart(v)
				if err != nil {
					return err
				}
				c.Charts = append(c.Charts, ch)
			}
			return nil
		})
		l.Categories = append(l.Categories, c)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("bad layout proto: %w", err)
	}
	return l, nil
}

func decodeChart(b []byte) (Chart, error) {
	var ch Chart
	err := fields(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case chartTitle:
			ch.Title = string(v)
		case chartMultiline:
			return fields(v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
				if num == multilineTag && typ == protowire.BytesType {
					ch.Tags = append(ch.Tags, string(v))
				}
				return nil
			})
		case chartMargin:
			return fields(v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
				if num != marginSeries || typ != protowire.BytesType {
					return nil
				}
				var s MarginSeries
				err := fields(v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
					switch {
					case typ != protowire.BytesType:
					case num == seriesValue:
						s.Value = string(v)
					case num == seriesLower:
						s.Lower = string(v)
					case num == seriesUpper:
						s.Upper = string(v)
					}
					return nil
				})
				ch.Margin = append(ch.Margin, s)
				return err
			})
		}
		return nil
	})
	return ch, err
}

// CustomScalars writes the Custom Scalars dashboard's layout at step 0,
// under tag "custom_scalars__config__" with plugin "custom_scalars" (a
// rank-0 string tensor of the Layout proto), as TensorBoard's own
// custom_scalar summary and tensorboardX's add_custom_scalars write it.
// Write it once, in any run; the sweep's root is the natural place.
func (w *EventWriter) CustomScalars(layout Layout, opts ...ValueOption) error {
	if err := layout.check(); err != nil {
		return w.errorf("custom scalars: %w", err)
	}
	return w.writeValue(CustomScalarsTag, PluginCustomScalars, 0, true, stringTensor(shape(), layout.marshal()), nil, opts)
}
