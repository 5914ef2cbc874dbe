package report

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tfsweep/tfsweep/spec"
)

// missing stands for a value the logs do not have (a variant not in the sweep, a split not logged).
const missing = "—"

func formatLoss(v float64) string {
	if math.IsNaN(v) {
		return missing
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}

func formatDiff(v float64) string {
	if math.IsNaN(v) {
		return missing
	}
	if v >= 0 {
		return "+" + strconv.FormatFloat(v, 'f', 4, 64)
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}

// table is a Markdown table padded so that it also reads as plain text in a terminal.
type table struct {
	header []string
	right  []bool // right-align the column (numbers)
	rows   [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) String() string {
	widths := make([]int, len(t.header))
	for _, row := range append([][]string{t.header}, t.rows...) {
		for i, c := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(c), 3)
		}
	}
	var b strings.Builder
	line := func(cells []string) {
		b.WriteString("|")
		for i, c := range cells {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c))
			if t.right[i] {
				b.WriteString(" " + pad + c + " |")
			} else {
				b.WriteString(" " + c + pad + " |")
			}
		}
		b.WriteString("\n")
	}
	line(t.header)
	b.WriteString("|")
	for i, w := range widths {
		if t.right[i] {
			b.WriteString(" " + strings.Repeat("-", w-1) + ": |")
		} else {
			b.WriteString(" " + strings.Repeat("-", w) + " |")
		}
	}
	b.WriteString("\n")
	for _, row := range t.rows {
		line(row)
	}
	return b.String()
}

// Table is the short table of all runs that `tfsweep run` and `tfsweep report` print: final losses
// and validation accuracy, and the extra columns of runExtras.
func (s *Sweep) Table() string {
	extras := extrasOf(s.Runs)
	t := &table{
		header: []string{"Run", "Status", "Epochs", "Train loss", "Val loss", "Val acc"},
		right:  []bool{false, false, true, true, true, true},
	}
	extras.addHeader(t)
	for _, r := range s.Runs {
		f := r.Final()
		row := []string{r.Name, string(r.Status), epochsCell(r), formatLoss(f.Loss), formatLoss(f.ValLoss), formatLoss(f.ValAccuracy)}
		t.add(append(row, extras.cells(r)...)...)
	}
	return t.String()
}

// runsTable is report.md's table of every run with the hparams that vary across the sweep, and the
// extra columns of runExtras.
func runsTable(runs []Run, varying []string) string {
	extras := extrasOf(runs)
	header := append([]string{"Run"}, varying...)
	header = append(header, "Status", "Epochs", "Train loss", "Train acc", "Val loss", "Val acc")
	t := &table{header: header, right: make([]bool, len(header))}
	for i := len(varying) + 2; i < len(header); i++ {
		t.right[i] = true
	}
	extras.addHeader(t)
	for _, r := range runs {
		f := r.Final()
		row := []string{r.Name}
		for _, k := range varying {
			v, ok := r.HParams[k]
			if !ok {
				row = append(row, missing)
				continue
			}
			row = append(row, formatHParam(v))
		}
		row = append(row, string(r.Status), epochsCell(r), formatLoss(f.Loss), formatLoss(f.Accuracy),
			formatLoss(f.ValLoss), formatLoss(f.ValAccuracy))
		t.add(append(row, extras.cells(r)...)...)
	}
	return t.String()
}

// runExtras are the columns a table of runs ends with when some of its runs has them: the lab
// report's train and validation losses when some run is one of its variants trained as it trained
// them, and the reason when a scheduler pruned or paused some run.
type runExtras struct{ report, reason bool }

func extrasOf(runs []Run) runExtras {
	return runExtras{
		report: anyComparable(runs),
		reason: slices.ContainsFunc(runs, func(r Run) bool { return r.Reason != "" }),
	}
}

func (x runExtras) addHeader(t *table) {
	if x.report {
		t.header = append(t.header, "Report train", "Report val")
		t.right = append(t.right, true, true)
	}
	if x.reason {
		t.header = append(t.header, "Reason")
		t.right = append(t.right, false)
	}
}

func (x runExtras) cells(r Run) []string {
	var out []string
	if x.report {
		train, val := referenceCells(r)
		out = append(out, train, val)
	}
	if x.reason {
		out = append(out, r.Reason)
	}
	return out
}

// comparisonTable lays out one lab-report table: the report's rows, the run(s) behind each, the
// report's number, tfsweep's and the difference.
func comparisonTable(c Comparison) string {
	t := &table{
		header: []string{c.Table.RowHead, "Run", "Report", "tfsweep", "Difference"},
		right:  []bool{false, false, true, true, true},
	}
	for _, cell := range c.Cells {
		runs, value := missing, formatLoss(cell.Loss)
		leftOut := cell.leftOut()
		switch {
		case len(cell.Runs) == 0:
			// The variant is not in this sweep.
		case cell.Averaged == 0 && len(leftOut) > 0:
			var why []string
			for _, g := range leftOut {
				why = append(why, g.why)
			}
			runs, value = strings.Join(cell.Runs, ", "), strings.Join(why, "; ")
		case cell.Configurations > 1:
			runs = strings.Join(cell.Runs, ", ")
			value = fmt.Sprintf("not averaged: %d configurations", cell.Configurations)
		default:
			runs = strings.Join(cell.Runs, ", ")
			n := 0
			for _, g := range leftOut {
				runs += " (" + g.why + ": " + strings.Join(g.runs, ", ") + ")"
				n += len(g.runs)
			}
			switch {
			case n > 0:
				value += fmt.Sprintf(" (mean of %d completed, %d left out)", cell.Averaged, n)
			case cell.Averaged > 1:
				value += fmt.Sprintf(" (mean of %d seeds)", cell.Averaged)
			}
		}
		t.add(cell.Row.Label, runs, formatLoss(cell.Row.Loss), value, formatDiff(cell.Difference()))
	}
	return t.String()
}

// writeMarkdown writes report.md: the runs, then (for a sweep with lab-report variants) the report's
// sections with each figure and table, then the plots of all runs.
func (s *Sweep) writeMarkdown(w io.Writer, comparisons []Comparison, figures []Figure, withReport bool) error {
	ew := &errWriter{w: w}
	common, varying := s.commonHParams()
	ew.printf("# tfsweep report: %s\n\n", s.Dir)
	ew.printf("Written from the TensorBoard event files in this directory alone. Final values are the last " +
		"`epoch_loss` / `epoch_accuracy` of each run's `train/` and `validation/` sub-runs; hyper-parameters " +
		"come from each run's hparams session.\n\n")
	ew.printf("**View in TensorBoard:** `tensorboard --logdir %s`, then open http://localhost:6006/ — the "+
		"Scalars tab shows `epoch_loss` and `epoch_accuracy` of every run (train and validation), the HParams "+
		"tab one row per run.\n\n", s.Dir)
	if len(common) > 0 {
		keys := make([]string, 0, len(common))
		for k := range common {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + formatHParam(common[k])
		}
		ew.printf("Hyper-parameters shared by every run: %s.\n\n", strings.Join(parts, ", "))
	}

	ew.printf("## Runs\n\n%s\n", runsTable(s.Runs, varying))
	if b := s.Best(); b != nil {
		ew.printf("**Best run** by final validation loss: %s (%s); its model is `%s`, linked as `%s`.\n\n", b.Run, formatLoss(b.ValLoss), b.Model, BestLink)
	}
	if sweeps := s.sweeps(); len(sweeps) > 1 {
		s.writeSweeps(ew, sweeps)
	}

	if withReport {
		s.writeLabTables(ew, comparisons, figures, setupNote(common, varying))
	}

	ew.printf("## Loss curves of all runs\n\n")
	for _, f := range figures {
		if f.Number == 0 && !f.search {
			s.writeFigureLink(ew, f)
		}
	}
	if s.Scheduled() {
		s.writeSearch(ew, figures)
	}
	return ew.err
}

// writeLabTables writes report.md's sections of the lab report: each table beside its figure, in
// the report's order, after what the columns mean and the note on how the runs were trained.
func (s *Sweep) writeLabTables(ew *errWriter, comparisons []Comparison, figures []Figure, note string) {
	ew.printf("## The lab report's tables\n\n")
	ew.printf("\"Report\" is the number the lab report printed, \"tfsweep\" the final loss logged here " +
		"(the mean when several runs differ only by their seed), \"Difference\" is " +
		"tfsweep − report. — marks a variant this sweep did not train. The mean is of completed runs " +
		"only: a run that failed, or that the sweep's scheduler pruned or paused, ended after fewer " +
		"epochs, so it is named beside the mean and left out of it. Only runs trained as the report " +
		"trained (5 epochs, all training images, lr 0.001, the 128x64 network) stand here; the Runs table " +
		"says why the others do not.\n\n")
	if note != "" {
		ew.printf("%s\n\n", note)
	}
	byNumber := map[int]Figure{}
	for _, f := range figures {
		byNumber[f.Number] = f
	}
	section := ""
	for _, c := range comparisons {
		if c.Table.Section != section {
			section = c.Table.Section
			if section == "3.1 Batch Size 64" {
				ew.printf("## 3 Xavier Weight Initialization\n\n")
			}
			level := "###"
			if !strings.Contains(section, ".") {
				level = "##" // "4 Uniform initialization" is a top-level section of the report
			}
			ew.printf("%s %s\n\n", level, section)
		}
		s.writeFigureLink(ew, byNumber[c.Table.Figure])
		ew.printf("**Table %d: %s**\n\n%s\n", c.Table.Number, c.Table.Caption, comparisonTable(c))
	}
}

// writeSearch writes the section of a scheduled search: its runs ranked by the best validation
// loss each reached, with how and why each ended, and the best loss against the epochs spent.
func (s *Sweep) writeSearch(ew *errWriter, figures []Figure) {
	ew.printf("## The search\n\n")
	ew.printf("A scheduler stopped some runs before their last epoch, so the runs are ranked here by the lowest " +
		"validation loss each reached (its best epoch, 1-based), not by its last.\n\n")
	t := table{header: []string{"Rank", "Run", "Status", "Epochs", "Best val loss", "Best epoch", "Val acc there", "Why it stopped"},
		right: []bool{true, false, false, true, true, true, true, false}}
	for _, r := range s.Ranking() {
		at := missing
		if r.At >= 0 {
			at = strconv.FormatInt(r.At+1, 10)
		}
		t.add(strconv.Itoa(r.Rank), r.Run, string(r.Status), strconv.Itoa(r.Epochs), formatLoss(float64(r.Best)), at,
			formatLoss(float64(r.ValAccuracy)), r.Reason)
	}
	ew.printf("%s\n", t.String())
	if spent := s.BestVsEpochs(); len(spent) > 0 {
		last := spent[len(spent)-1]
		ew.printf("The search trained %d epochs in all and found a best validation loss of %s.\n\n", last.Epochs, formatLoss(float64(last.Best)))
	}
	for _, f := range figures {
		if f.search {
			s.writeFigureLink(ew, f)
		}
	}
}

func (s *Sweep) writeFigureLink(ew *errWriter, f Figure) {
	if !f.hasData() {
		ew.printf("*%s: no run of this figure logged a loss.*\n\n", f.Title)
		return
	}
	ew.printf("![%s](%s)\n\n", f.Title, f.File)
}

// setupNote warns when the runs were not trained like the lab report's (5 epochs, learning rate
// 0.001), since their losses are then not expected to match.
func setupNote(common map[string]any, varying []string) string {
	var diffs []string
	if v, ok := common["epochs"].(float64); ok && v != ReportEpochs {
		diffs = append(diffs, fmt.Sprintf("%g epochs (the report trained %d)", v, ReportEpochs))
	}
	if v, ok := common["lr"].(float64); ok && v != ReportLR {
		diffs = append(diffs, fmt.Sprintf("learning rate %g (the report used %g)", v, ReportLR))
	}
	for _, k := range varying {
		if k == "epochs" || k == "lr" {
			diffs = append(diffs, k+" varies across runs")
		}
	}
	if len(diffs) == 0 {
		return ""
	}
	return "**Note:** these runs were trained with " + strings.Join(diffs, ", ") +
		", so their losses are not expected to match the report's."
}

// errWriter keeps the first write error, so a long report is written without checking every line.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

// epochsCell is the epochs a run logged, marked "stopped early" when it succeeded with fewer than
// its epochs hparam asked for (early stopping).
func epochsCell(r Run) string {
	n := strconv.Itoa(r.Epochs())
	if want, ok := r.axis("epochs"); ok && r.Status == spec.StatusSucceeded && r.Epochs() < want.(int) {
		return n + " (stopped early)"
	}
	return n
}
