package inspect

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tfsweep/tfsweep/summary"
)

// textExcerpt is how many characters of a text summary the Summary column shows.
const textExcerpt = 60

// readFile calls row for every value of every event in file (and once for events without values)
// and note for a truncated last record. It stops at the first corrupt record and returns its
// *summary.CorruptError, which names the file and offset; an error returned by row stops it too.
func readFile(file string, row func(Row) error, note func(Note)) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("read %w", err)
	}
	defer f.Close()
	r := summary.NewReader(f, file)
	for ev, err := range r.Events() {
		if err != nil {
			return err
		}
		for _, rw := range rows(ev) {
			if err := row(rw); err != nil {
				return err
			}
		}
	}
	if r.Truncated() {
		size := int64(-1)
		if info, err := f.Stat(); err == nil {
			size = info.Size()
		}
		note(Note{File: file, Offset: size, Message: "the file ends inside a record (a writer still writing, " +
			"or one that stopped mid-record); the events before it were read, as TensorBoard reads them"})
	}
	return nil
}

// rows turns one event into the rows it prints.
func rows(ev summary.Event) []Row {
	base := Row{Step: ev.Step, WallTime: ev.WallTime}
	one := func(kind, summary string, value any) []Row {
		base.Kind, base.Summary, base.Value = kind, summary, value
		return []Row{base}
	}
	switch {
	case ev.FileVersion != "":
		return one("file_version", ev.FileVersion, ev.FileVersion)
	case ev.GraphDef != nil:
		return one("graph", fmt.Sprintf("GraphDef of %d bytes", len(ev.GraphDef)), map[string]any{"bytes": len(ev.GraphDef)})
	case ev.SessionLog != nil:
		s := ev.SessionLog.Status
		if ev.SessionLog.Msg != "" {
			s += ": " + ev.SessionLog.Msg
		}
		return one("session_log", s, map[string]any{"status": ev.SessionLog.Status, "msg": ev.SessionLog.Msg,
			"checkpoint_path": ev.SessionLog.CheckpointPath})
	case len(ev.Values) == 0:
		return one("other", "an event of a kind not decoded (run metadata, meta graph)", nil)
	}
	out := make([]Row, len(ev.Values))
	for i, v := range ev.Values {
		r := base
		r.Tag = v.Tag
		r.Kind, r.Summary, r.Value = describe(v)
		out[i] = r
	}
	return out
}

// describe gives a value's kind, a few words for people, and a JSON-ready value for scripts.
func describe(v summary.Value) (kind, text string, value any) {
	switch v.Plugin {
	case summary.PluginScalars:
		return "scalar", formatFloat(v.Scalar), number(v.Scalar)
	case summary.PluginHistograms:
		return describeHistogram(v.Histogram)
	case summary.PluginText:
		return "text", excerpt(v.Text), v.Text
	case summary.PluginImages:
		total := 0
		for _, img := range v.Images {
			total += len(img)
		}
		return "image", fmt.Sprintf("%d image(s) %dx%d, %d bytes", len(v.Images), v.ImageWidth, v.ImageHeight, total),
			map[string]any{"count": len(v.Images), "width": v.ImageWidth, "height": v.ImageHeight, "bytes": total}
	case summary.PluginKerasModel:
		return "keras_model", fmt.Sprintf("Keras model JSON of %d bytes", len(v.KerasModel)),
			map[string]any{"bytes": len(v.KerasModel)}
	case summary.PluginHParams:
		if v.HParams != nil {
			return describeHParams(v.HParams)
		}
	case summary.PluginPRCurves:
		if v.PRCurve != nil && v.PRCurve.Thresholds() >= 2 {
			return describePRCurve(*v.PRCurve)
		}
	}
	return "plugin:" + v.Plugin, fmt.Sprintf("%d bytes of plugin content", len(v.PluginContent)),
		map[string]any{"plugin": v.Plugin, "content_bytes": len(v.PluginContent)}
}

// describePRCurve tells the curve's size and where it stands at the middle threshold (0.5 for
// an odd threshold count, as TensorBoard's default 201).
func describePRCurve(c summary.PRCurve) (string, string, any) {
	n := c.Thresholds()
	mid := (n - 1) / 2
	at := float64(mid) / float64(n-1)
	text := fmt.Sprintf("PR curve of %d thresholds over %s examples (%s positive); at %s: precision %s, recall %s",
		n, formatFloat(c.TruePositives[0]+c.FalsePositives[0]), formatFloat(c.TruePositives[0]),
		formatFloat(at), formatFloat(c.Precision[mid]), formatFloat(c.Recall[mid]))
	return "pr_curve", text, map[string]any{"thresholds": n, "precision": c.Precision, "recall": c.Recall,
		"true_positives": c.TruePositives, "false_positives": c.FalsePositives,
		"true_negatives": c.TrueNegatives, "false_negatives": c.FalseNegatives}
}

func describeHistogram(buckets []summary.Bucket) (string, string, any) {
	count := 0.0
	lo, hi := math.NaN(), math.NaN()
	for _, b := range buckets {
		count += b.Count
	}
	if len(buckets) > 0 {
		lo, hi = buckets[0].Left, buckets[len(buckets)-1].Right
	}
	text := fmt.Sprintf("count %s, min %s, max %s, %d buckets", formatFloat(count), formatFloat(lo), formatFloat(hi), len(buckets))
	rows := make([][3]any, len(buckets))
	for i, b := range buckets {
		rows[i] = [3]any{number(b.Left), number(b.Right), number(b.Count)}
	}
	return "histogram", text, map[string]any{"count": number(count), "min": number(lo), "max": number(hi), "buckets": rows}
}

func describeHParams(h *summary.HParams) (string, string, any) {
	switch {
	case h.Experiment != nil:
		e := h.Experiment
		names := make([]string, len(e.HParams))
		for i, p := range e.HParams {
			names[i] = p.Name
		}
		metrics := make([]string, len(e.Metrics))
		for i, m := range e.Metrics {
			metrics[i] = strings.TrimPrefix(m.Group+"/"+m.Tag, "/")
		}
		return "hparams_experiment",
			fmt.Sprintf("%d hparams (%s), %d metrics (%s)", len(names), strings.Join(names, ", "), len(metrics), strings.Join(metrics, ", ")),
			map[string]any{"hparams": names, "metrics": metrics}
	case h.SessionStart != nil:
		s := h.SessionStart
		keys := make([]string, 0, len(s.HParams))
		for k := range s.HParams {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		values := make(map[string]any, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + formatHParam(s.HParams[k])
			values[k] = s.HParams[k]
			if f, ok := s.HParams[k].(float64); ok {
				values[k] = number(f)
			}
		}
		text := strings.Join(parts, " ")
		if s.GroupName != "" {
			text += " (group " + s.GroupName + ")"
		}
		return "hparams_session_start", text, map[string]any{"hparams": values, "group": s.GroupName}
	case h.SessionEnd != nil:
		return "hparams_session_end", h.SessionEnd.Status.String(), map[string]any{"status": h.SessionEnd.Status.String()}
	}
	return "hparams", "empty hparams summary", nil
}

func formatHParam(v any) string {
	switch x := v.(type) {
	case float64:
		return formatFloat(x)
	case string:
		return strconv.Quote(x)
	default:
		return fmt.Sprint(x)
	}
}

// formatFloat prints the shortest form that reads back to the value, as float32 when it is one
// (TensorBoard scalars are): 0.1 logged prints 0.1, not 0.10000000149011612.
func formatFloat(f float64) string {
	if float64(float32(f)) == f {
		return strconv.FormatFloat(f, 'g', -1, 32)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// number is f for JSON, or its name as a string when it is NaN or infinite (encoding/json refuses
// those, yet a NaN loss is real data).
func number(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return json32(f)
}

// json32 marshals as the shortest float32 form when the value is a float32.
type json32 float64

func (f json32) MarshalJSON() ([]byte, error) { return []byte(formatFloat(float64(f))), nil }

// excerpt is the start of a text on one line.
func excerpt(s string) string {
	one := strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(one) <= textExcerpt {
		return strconv.Quote(one)
	}
	r := []rune(one)
	return strconv.Quote(string(r[:textExcerpt])) + "…"
}
