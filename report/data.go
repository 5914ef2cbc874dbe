package report

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"math"
	"strconv"

	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/sweep"
)

// Number is a float64 that encodes as JSON null when it is NaN or infinite (a value the logs lack),
// which encoding/json would otherwise refuse.
type Number float64

// MarshalJSON implements json.Marshaler.
func (n Number) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return []byte(shortest(f)), nil
}

// shortest formats f in as few digits as read back to the same value. TensorBoard scalars are
// float32: 0.49 logged reads back as 0.49000000953674316, printed here as 0.49 again.
func shortest(f float64) string {
	if float64(float32(f)) == f {
		return strconv.FormatFloat(f, 'g', -1, 32)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// UnmarshalJSON implements json.Unmarshaler: null reads back as NaN.
func (n *Number) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Number(math.NaN())
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*n = Number(f)
	return nil
}

// MarshalJSON writes the point's step and value (null when it is not a number), as report.json
// holds a run's curves.
func (p Point) MarshalJSON() ([]byte, error) {
	return json.Marshal(pointJSON{p.Step, Number(p.Value)})
}

// UnmarshalJSON reads a point of report.json; its wall time is not there.
func (p *Point) UnmarshalJSON(b []byte) error {
	var v pointJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*p = Point{Step: v.Step, Value: float64(v.Value)}
	return nil
}

type pointJSON struct {
	Step  int64  `json:"step"`
	Value Number `json:"value"`
}

// RunRecord is one run in report.json.
type RunRecord struct {
	Name    string         `json:"name"`
	HParams map[string]any `json:"hparams"`
	Status  spec.Status    `json:"status"`
	Reason  string         `json:"reason,omitempty"` // why a scheduler pruned or paused it
	Epochs  int            `json:"epochs"`
	// Final is the last epoch logged: epoch -1 and null metrics where the run logged none.
	Final spec.EpochMetrics `json:"final"`
	// Report holds the lab report's numbers for the run's variant; null when the report has none.
	Report *ReferenceRecord `json:"report"`
	Curves Curves           `json:"curves"`
}

// ReferenceRecord is the lab report's final losses for a variant and the tables they appear in.
type ReferenceRecord struct {
	TrainLoss  Number `json:"train_loss"`
	TrainTable int    `json:"train_table"`
	ValLoss    Number `json:"val_loss"`
	ValTable   int    `json:"val_table"`
}

// TableRecord is one lab-report table filled from the sweep in report.json.
type TableRecord struct {
	Number int         `json:"table"`
	Figure int         `json:"figure"`
	Split  Split       `json:"split"`
	Rows   []RowRecord `json:"rows"`
}

// RowRecord is one row of a TableRecord.
type RowRecord struct {
	Label      string   `json:"label"`
	Init       string   `json:"init"`
	BatchNorm  bool     `json:"batchnorm"`
	BatchSize  int      `json:"batch_size"`
	Runs       []string `json:"runs"`
	Report     Number   `json:"report"`
	Tfsweep    Number   `json:"tfsweep"`
	Difference Number   `json:"difference"`
	Averaged   int      `json:"averaged"`          // the runs in Tfsweep, the mean
	Failed     []string `json:"failed,omitempty"`  // runs left out of the mean: they failed
	Stopped    []string `json:"stopped,omitempty"` // runs left out of the mean: pruned or paused
}

// Document is report.json.
type Document struct {
	SweepDir string         `json:"sweep_dir"`
	Runs     []RunRecord    `json:"runs"`
	Tables   []TableRecord  `json:"tables,omitempty"` // the lab report's tables, when the sweep has its variants
	Figures  []string       `json:"figures"`          // PNG files written, relative to the sweep directory
	Best     *sweep.BestRun `json:"best"`             // the best run by final validation loss, with its model
	Search   *SearchRecord  `json:"search,omitempty"` // when a scheduler pruned or paused a run
}

// SearchRecord is a scheduled search in report.json: its runs ranked by their best validation loss,
// and the best loss found after each epoch spent.
type SearchRecord struct {
	Ranking      []Ranked `json:"ranking"`
	BestVsEpochs []Spent  `json:"best_vs_epochs"`
}

func (s *Sweep) document(comparisons []Comparison, figureFiles []string, withReport bool) Document {
	doc := Document{SweepDir: s.Dir, Runs: make([]RunRecord, len(s.Runs)), Figures: figureFiles}
	for i, r := range s.Runs {
		rec := RunRecord{
			Name: r.Name, HParams: r.HParams, Status: r.Status, Reason: r.Reason, Epochs: r.Epochs(), Final: r.Final(),
			Curves: r.Curves.orEmpty(),
		}
		if rec.HParams == nil {
			rec.HParams = map[string]any{}
		}
		if train, val, tt, vt := reference(r); tt != 0 || vt != 0 {
			rec.Report = &ReferenceRecord{TrainLoss: Number(train), TrainTable: tt, ValLoss: Number(val), ValTable: vt}
		}
		doc.Runs[i] = rec
	}
	if s.Scheduled() {
		doc.Search = &SearchRecord{Ranking: s.Ranking(), BestVsEpochs: s.BestVsEpochs()}
	}
	if withReport {
		for _, c := range comparisons {
			t := TableRecord{Number: c.Table.Number, Figure: c.Table.Figure, Split: c.Table.Split}
			for _, cell := range c.Cells {
				v := cell.Row.Variant
				t.Rows = append(t.Rows, RowRecord{
					Label: cell.Row.Label, Init: v.Init, BatchNorm: v.BatchNorm, BatchSize: v.BatchSize,
					Runs: nonNil(cell.Runs), Report: Number(cell.Row.Loss), Tfsweep: Number(cell.Loss),
					Difference: Number(cell.Difference()), Averaged: cell.Averaged, Failed: cell.Failed, Stopped: cell.Stopped,
				})
			}
			doc.Tables = append(doc.Tables, t)
		}
	}
	return doc
}

// orEmpty has empty, not null, series in JSON.
func (c Curves) orEmpty() Curves {
	for _, s := range []*Series{&c.TrainLoss, &c.TrainAccuracy, &c.ValLoss, &c.ValAccuracy} {
		if *s == nil {
			*s = Series{}
		}
	}
	return c
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func writeJSON(w io.Writer, doc Document) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// csvFixed is the fixed part of report.csv's header; the hparam columns (every name any run has,
// sorted) follow "run", "status" and "reason" (why a scheduler pruned or paused the run).
var csvFixed = []string{
	"train_loss", "train_accuracy", "val_loss", "val_accuracy", "epochs_logged",
	"report_train_loss", "report_val_loss", "report_train_table", "report_val_table",
}

// writeCSV writes report.csv: one row per run; empty cells where the logs or the report have nothing.
func (s *Sweep) writeCSV(w io.Writer) error {
	keys := s.HParamKeys()
	cw := csv.NewWriter(w)
	header := append([]string{"run", "status", "reason"}, keys...)
	header = append(header, csvFixed...)
	if err := cw.Write(header); err != nil {
		return err
	}
	num := func(v float64) string {
		if math.IsNaN(v) {
			return ""
		}
		return shortest(v)
	}
	table := func(n int) string {
		if n == 0 {
			return ""
		}
		return strconv.Itoa(n)
	}
	for _, r := range s.Runs {
		row := []string{r.Name, string(r.Status), r.Reason}
		for _, k := range keys {
			row = append(row, formatHParam(r.HParams[k]))
		}
		f := r.Final()
		train, val, tt, vt := reference(r)
		row = append(row, num(f.Loss), num(f.Accuracy), num(f.ValLoss), num(f.ValAccuracy),
			strconv.Itoa(r.Epochs()), num(train), num(val), table(tt), table(vt))
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
