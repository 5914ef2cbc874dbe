package report

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image/png"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tfsweep/tfsweep/spec"
)

// markdownTable returns the cells of the Markdown table that follows heading in md (header and
// separator rows dropped), or nil if there is none.
func markdownTable(md, heading string) [][]string {
	i := strings.Index(md, heading)
	if i < 0 {
		return nil
	}
	var rows [][]string
	started := false
	for line := range strings.Lines(md[i+len(heading):]) {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			if started {
				break
			}
			continue
		}
		started = true
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for j := range cells {
			cells[j] = strings.TrimSpace(cells[j])
		}
		rows = append(rows, cells)
	}
	if len(rows) < 2 {
		return nil
	}
	return rows[2:]
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeReport(t *testing.T, s *Sweep) (*Written, string) {
	t.Helper()
	w, err := s.Write(context.Background())
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	return w, readFile(t, filepath.Join(s.Dir, MarkdownFile))
}

func TestWriteFullPreset(t *testing.T) {
	s := buildSweep(t, presetSweepRuns())
	w, md := writeReport(t, s)
	if !w.Compared {
		t.Error("Compared = false for the full preset")
	}

	byVariant := map[Variant]presetRun{}
	for _, p := range presetRuns() {
		byVariant[p.variant] = p
	}
	for _, ref := range LabReport() {
		rows := markdownTable(md, fmt.Sprintf("**Table %d: %s**", ref.Number, ref.Caption))
		if len(rows) != len(ref.Rows) {
			t.Fatalf("Table %d: %d rows in report.md, want %d:\n%s", ref.Number, len(rows), len(ref.Rows), md)
		}
		for i, want := range ref.Rows {
			p := byVariant[want.Variant]
			got := p.finalTrain()
			if ref.Split == Validation {
				got = p.finalVal()
			}
			wantCells := []string{want.Label, p.name, f4(want.Loss), f4(got), formatDiff(got - want.Loss)}
			if !slices.Equal(rows[i], wantCells) {
				t.Errorf("Table %d row %d = %q, want %q", ref.Number, i, rows[i], wantCells)
			}
		}
	}
	for _, want := range []string{"tensorboard --logdir " + s.Dir, "## 3 Xavier Weight Initialization",
		"### 3.4 Batch Size 512", "## 4 Uniform initialization",
		"![Figure 7: Batch size 512 train loss (Xavier)](figures/figure-07-xavier-b512-train-loss.png)",
		"![Figure 12: Batch size comparison val loss (Xavier, without batch norm)](figures/figure-12-xavier-batch-sizes-validation-loss.png)"} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}

	// 14 report figures and the two plots of all runs, each a real PNG of the intended size.
	if len(w.Figures) != 16 {
		t.Errorf("%d figures written, want 16: %v", len(w.Figures), w.Figures)
	}
	for _, f := range w.Figures {
		data, err := os.ReadFile(filepath.Join(s.Dir, f))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if b := img.Bounds(); b.Dx() < 600 || b.Dy() < 400 || b.Dx() > 2000 || b.Dy() > 2000 {
			t.Errorf("%s is %dx%d, want a readable size", f, b.Dx(), b.Dy())
		}
		if !strings.Contains(md, "]("+f+")") {
			t.Errorf("report.md does not embed %s", f)
		}
	}

	// Runs are listed in the report's order: per batch size without then with batch norm, uniform last.
	var order []string
	for _, row := range markdownTable(md, "## Runs") {
		order = append(order, row[0])
	}
	wantOrder := []string{"xavier-nobn-b64", "xavier-bn-b64", "xavier-nobn-b128", "xavier-bn-b128", "xavier-nobn-b256",
		"xavier-bn-b256", "xavier-nobn-b512", "xavier-bn-b512", "xavier-nobn-b1024", "xavier-bn-b1024",
		"uniform-nobn-b128", "uniform-bn-b128"}
	if !slices.Equal(order, wantOrder) {
		t.Errorf("runs table order %q, want %q", order, wantOrder)
	}

	checkCSV(t, s, byVariant)
	checkJSON(t, s, byVariant)
}

func checkCSV(t *testing.T, s *Sweep, byVariant map[Variant]presetRun) {
	t.Helper()
	records, err := csv.NewReader(strings.NewReader(readFile(t, filepath.Join(s.Dir, CSVFile)))).ReadAll()
	if err != nil {
		t.Fatalf("report.csv: %v", err)
	}
	if len(records) != 1+len(presetRuns()) {
		t.Fatalf("report.csv has %d records, want header + %d", len(records), len(presetRuns()))
	}
	col := map[string]int{}
	for i, name := range records[0] {
		if _, dup := col[name]; dup {
			t.Errorf("report.csv repeats column %q", name)
		}
		col[name] = i
	}
	num := func(rec []string, name string) float64 {
		v, err := strconv.ParseFloat(rec[col[name]], 64)
		if err != nil {
			t.Fatalf("report.csv %s %s: %v", rec[0], name, err)
		}
		return v
	}
	for _, rec := range records[1:] {
		bs, _ := strconv.Atoi(rec[col["batch_size"]])
		v := Variant{Init: rec[col["init"]], BatchNorm: rec[col["batchnorm"]] == "true", BatchSize: bs}
		p, ok := byVariant[v]
		if !ok || p.name != rec[col["run"]] {
			t.Fatalf("report.csv row %q: hparams %+v do not name a preset run", rec[0], v)
		}
		refTrain, _ := ReferenceLoss(v, Train)
		refVal, _ := ReferenceLoss(v, Validation)
		for name, want := range map[string]float64{
			"train_loss": p.finalTrain(), "val_loss": p.finalVal(), "epochs_logged": 5,
			"report_train_loss": refTrain, "report_val_loss": refVal,
		} {
			// Loss values are float32 printed in their shortest form: they read back as that float32.
			if got := num(rec, name); got != want && f32(got) != want {
				t.Errorf("report.csv %s %s = %v, want %v", p.name, name, got, want)
			}
		}
		if rec[col["status"]] != string(spec.StatusSucceeded) {
			t.Errorf("report.csv %s status %q", p.name, rec[col["status"]])
		}
	}
}

func checkJSON(t *testing.T, s *Sweep, byVariant map[Variant]presetRun) {
	t.Helper()
	var doc Document
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(s.Dir, JSONFile))), &doc); err != nil {
		t.Fatalf("report.json: %v", err)
	}
	if len(doc.Runs) != len(presetRuns()) || len(doc.Tables) != 14 || len(doc.Figures) != 16 {
		t.Fatalf("report.json: %d runs, %d tables, %d figures; want 12, 14, 16", len(doc.Runs), len(doc.Tables), len(doc.Figures))
	}
	for _, r := range doc.Runs {
		v, ok := Run{HParams: r.HParams}.Variant()
		p := byVariant[v]
		if !ok || p.name != r.Name {
			t.Fatalf("report.json run %s: hparams %v", r.Name, r.HParams)
		}
		if f32(float64(r.Final.Loss)) != p.finalTrain() || f32(float64(r.Final.ValLoss)) != p.finalVal() || r.Epochs != 5 {
			t.Errorf("report.json %s final %+v epochs %d, want train %v val %v, 5 epochs", r.Name, r.Final, r.Epochs, p.finalTrain(), p.finalVal())
		}
		refTrain, _ := ReferenceLoss(v, Train)
		if r.Report == nil || float64(r.Report.TrainLoss) != refTrain {
			t.Errorf("report.json %s report %+v, want train loss %v", r.Name, r.Report, refTrain)
		}
		if len(r.Curves.ValLoss) != 5 || f32(float64(r.Curves.ValLoss[4].Value)) != p.finalVal() {
			t.Errorf("report.json %s val curve %+v", r.Name, r.Curves.ValLoss)
		}
	}
	row := doc.Tables[6].Rows[0] // Table 7, xavier batch 512 without batch norm
	p := byVariant[Variant{"xavier", false, 512}]
	if doc.Tables[6].Number != 7 || float64(row.Report) != 0.1753 || f32(float64(row.Tfsweep)) != p.finalTrain() ||
		!slices.Equal(row.Runs, []string{p.name}) {
		t.Errorf("report.json Table 7 first row %+v", row)
	}
}

func TestWritePartialSweep(t *testing.T) {
	var runs []Run
	for _, r := range presetSweepRuns() {
		if v, _ := r.Variant(); v.BatchSize == 64 {
			runs = append(runs, r)
		}
	}
	s := buildSweep(t, runs)
	w, md := writeReport(t, s)

	if rows := markdownTable(md, "**Table 1: Train Loss**"); len(rows) != 2 || rows[0][1] != "xavier-nobn-b64" || rows[0][3] == missing {
		t.Errorf("Table 1 = %q, want the batch-64 runs with values", rows)
	}
	for _, heading := range []string{"**Table 3: Train Loss**", "**Table 14: Val loss**"} {
		for _, row := range markdownTable(md, heading) {
			if row[1] != missing || row[3] != missing || row[4] != missing {
				t.Errorf("%s row %q: want — for a variant the sweep lacks", heading, row)
			}
			if row[2] == missing {
				t.Errorf("%s row %q lacks the report's number", heading, row)
			}
		}
	}
	// Table 11 has batch 64 only.
	rows := markdownTable(md, "**Table 11: Train Loss**")
	if len(rows) != 5 || rows[0][3] == missing || rows[1][3] != missing {
		t.Errorf("Table 11 = %q", rows)
	}
	// Figures of variants not trained are not drawn, and report.md says so instead of a broken link.
	if slices.Contains(w.Figures, "figures/figure-03-xavier-b128-train-loss.png") {
		t.Error("figure 3 drawn without any batch-128 run")
	}
	if !strings.Contains(md, "*Figure 3: Batch size 128 train loss (Xavier): no run of this figure logged a loss.*") {
		t.Error("report.md does not say that Figure 3 has no runs")
	}
	// A stale figure from an earlier report of the directory goes too.
	stale := filepath.Join(s.Dir, "figures/figure-03-xavier-b128-train-loss.png")
	if err := os.WriteFile(stale, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("figure 3 file: %v", err)
	}
	// Figures 1, 2, 11, 12 and the two plots of all runs.
	if len(w.Figures) != 6 {
		t.Errorf("figures %v, want 6", w.Figures)
	}
}

func TestWriteFailedRun(t *testing.T) {
	runs := presetSweepRuns()[:2] // xavier-nobn-b64, xavier-nobn-b128
	runs[1].Status = spec.StatusFailed
	runs[1].Curves.TrainLoss = runs[1].Curves.TrainLoss[:2]
	runs[1].Curves.ValLoss = runs[1].Curves.ValLoss[:2]
	s := buildSweep(t, runs)
	w, md := writeReport(t, s)

	rows := markdownTable(md, "**Table 3: Train Loss**")
	if len(rows) != 2 || rows[0][1] != "xavier-nobn-b128" || rows[0][3] != "failed" || rows[0][4] != missing {
		t.Errorf("Table 3 = %q, want the failed run marked failed", rows)
	}
	runsTable := markdownTable(md, "## Runs")
	if len(runsTable) != 2 || !slices.Contains(runsTable[1], string(spec.StatusFailed)) || !slices.Contains(runsTable[1], "2") {
		t.Errorf("runs table = %q, want xavier-nobn-b128 failed after 2 epochs", runsTable)
	}
	if !strings.Contains(w.Table, "xavier-nobn-b128") || !strings.Contains(w.Table, string(spec.StatusFailed)) {
		t.Errorf("printed table lacks the failed run:\n%s", w.Table)
	}
}

func TestWriteMeanOfSeeds(t *testing.T) {
	a := presetSweepRuns()[0]
	b := presetSweepRuns()[0]
	a.Name, b.Name = "xavier-nobn-b64-s1", "xavier-nobn-b64-s2"
	b.HParams = maps.Clone(a.HParams)
	b.HParams["seed"] = 2.0
	b.Curves.TrainLoss = curve(0.3, 5)
	s := buildSweep(t, []Run{a, b})
	_, md := writeReport(t, s)
	rows := markdownTable(md, "**Table 1: Train Loss**")
	want := f4((a.Final().Loss+b.Final().Loss)/2) + " (mean of 2 seeds)"
	if len(rows) != 2 || rows[0][1] != "xavier-nobn-b64-s1, xavier-nobn-b64-s2" || rows[0][3] != want {
		t.Errorf("Table 1 = %q, want the mean %s of both seeds", rows, want)
	}
}

// Runs of one lab-report variant that differ in anything but the seed are never averaged.
func TestWriteNeverAveragesOtherConfigurations(t *testing.T) {
	a := presetSweepRuns()[0]
	b := presetSweepRuns()[0]
	a.Name, b.Name = "xavier-nobn-b64-unit", "xavier-nobn-b64-none"
	b.HParams = maps.Clone(a.HParams)
	b.HParams["scale"] = "none"
	b.Curves.TrainLoss = curve(0.3, 5)
	_, md := writeReport(t, buildSweep(t, []Run{a, b}))
	rows := markdownTable(md, "**Table 1: Train Loss**")
	if len(rows) != 2 || rows[0][3] != "not averaged: 2 configurations" || rows[0][4] != "—" {
		t.Errorf("Table 1 = %q, want no mean of two configurations", rows)
	}
}

// The lab report's numbers stand only beside runs trained as it trained; beside a comparable run,
// the others say why not; a sweep with no comparable run has no report columns at all.
func TestWriteNotComparableRuns(t *testing.T) {
	short := presetSweepRuns()[0]
	short.HParams["epochs"], short.HParams["limit"] = 2.0, 5000.0
	short.Curves = Curves{TrainLoss: curve(0.5, 2), ValLoss: curve(0.6, 2)}
	w, md := writeReport(t, buildSweep(t, []Run{short}))
	if w.Compared || strings.Contains(md, "**Table 1:") {
		t.Errorf("lab-report tables laid out for runs not trained as the report")
	}
	if strings.Contains(w.Table, "Report") || strings.Contains(md, "Report train") || strings.Contains(md, "not comparable") {
		t.Errorf("report columns for a sweep with no comparable run:\n%s\n%s", w.Table, md)
	}
	if rows := markdownTable("Printed\n"+w.Table, "Printed"); len(rows) != 1 || len(rows[0]) != 6 {
		t.Errorf("printed table %q, want one run in six columns", rows)
	}

	full := presetSweepRuns()[1]
	w, md = writeReport(t, buildSweep(t, []Run{short, full}))
	rows := markdownTable("Printed\n"+w.Table, "Printed")
	if len(rows) != 2 || len(rows[0]) != 8 {
		t.Fatalf("printed table %q, want two runs with the report's columns", rows)
	}
	for _, row := range rows {
		notComparable := row[0] == short.Name
		if got := row[6] == "not comparable: epochs=2, limit=5000" && row[7] == "—"; got != notComparable {
			t.Errorf("row %q: report columns %q %q", row[0], row[6], row[7])
		}
	}
	if !strings.Contains(md, "not comparable: epochs=2, limit=5000") {
		t.Errorf("report.md's runs table lacks why %s is not comparable:\n%s", short.Name, md)
	}
}

func TestWriteOtherAxes(t *testing.T) {
	var runs []Run
	for i, lr := range []float64{0.01, 0.001} {
		runs = append(runs, Run{
			Name:    "he_normal-nobn-b32-lr" + strconv.FormatFloat(lr, 'g', -1, 64),
			HParams: map[string]any{"init": "he_normal", "batchnorm": false, "batch_size": 32.0, "lr": lr, "epochs": 3.0},
			Status:  spec.StatusSucceeded,
			Curves:  Curves{TrainLoss: curve(0.2+0.1*float64(i), 3), ValLoss: curve(0.25, 3)},
		})
	}
	s := buildSweep(t, runs)
	w, md := writeReport(t, s)
	if w.Compared || strings.Contains(md, "**Table 1:") {
		t.Error("lab-report tables laid out for a sweep without its variants")
	}
	rows := markdownTable(md, "## Runs")
	// Runs are in name order: lr0.001 before lr0.01.
	if len(rows) != 2 || rows[0][0] != runs[1].Name || rows[0][1] != "0.001" || rows[1][1] != "0.01" {
		t.Errorf("runs table = %q, want the lr column", rows)
	}
	if !strings.Contains(md, "Hyper-parameters shared by every run: batch_size=32, batchnorm=false, epochs=3, init=he_normal.") {
		t.Errorf("report.md does not list the shared hyper-parameters:\n%s", md)
	}
	if !slices.Equal(w.Figures, []string{"figures/all-runs-train-loss.png", "figures/all-runs-validation-loss.png"}) {
		t.Errorf("figures = %v", w.Figures)
	}
	if got := markdownTable("Printed\n"+w.Table, "Printed"); len(got) != 2 || got[1][0] != runs[0].Name {
		t.Errorf("printed table rows %q, want both runs:\n%s", got, w.Table)
	}
}

func TestTableFormatting(t *testing.T) {
	s := &Sweep{Runs: []Run{{
		Name: "r", Status: spec.StatusUnknown,
		Curves: Curves{TrainLoss: Series{{Step: 0, Value: 0.123456}}, ValAccuracy: Series{{Step: 0, Value: 0.9}}},
	}}}
	want := "" +
		"| Run | Status  | Epochs | Train loss | Val loss | Val acc |\n" +
		"| --- | ------- | -----: | ---------: | -------: | ------: |\n" +
		"| r   | unknown |      1 |     0.1235 |        — |  0.9000 |\n"
	if got := s.Table(); got != want {
		t.Errorf("Table() =\n%s\nwant\n%s", got, want)
	}
}

func TestNumberJSON(t *testing.T) {
	b, err := json.Marshal([]Number{Number(math.NaN()), 0.25, Number(math.Inf(1))})
	if err != nil || string(b) != "[null,0.25,null]" {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var back []Number
	if err := json.Unmarshal(b, &back); err != nil || !math.IsNaN(float64(back[0])) || back[1] != 0.25 {
		t.Fatalf("Unmarshal = %v, %v", back, err)
	}
}

// A logdir of two sweeps with the same run names (the second of 2 epochs on 5000 images): each sweep
// is reported, the comparison keeps the configurations apart, and the lab report's numbers stand
// only beside the first sweep's runs.
func TestWriteTwoSweeps(t *testing.T) {
	root := t.TempDir()
	full := presetSweepRuns()[:2]
	short := presetSweepRuns()[:2]
	for i := range short {
		short[i].HParams["epochs"], short[i].HParams["limit"] = 2.0, 5000.0
		short[i].Curves = Curves{TrainLoss: curve(1.1, 2), ValLoss: curve(1.2, 2), ValAccuracy: curve(0.7, 2)}
	}
	writeSweep(t, filepath.Join(root, "sweep-a"), full)
	writeSweep(t, filepath.Join(root, "sweep-b"), short)
	s, err := Load(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	w, md := writeReport(t, s)
	for _, want := range []string{"## Sweeps", "### sweep-a", "### sweep-b", "## Across sweeps"} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	across := markdownTable(md, "## Across sweeps")
	if len(across) != 4 {
		t.Fatalf("across-sweeps rows %q, want 4 configurations", across)
	}
	for _, row := range across {
		if strings.Contains(row[1], "mean of") || strings.Contains(row[1], ",") {
			t.Errorf("runs of different configurations put together: %q", row)
		}
	}
	rows := markdownTable("Printed\n"+w.Table, "Printed")
	for _, row := range rows {
		comparable := strings.HasPrefix(row[0], "sweep-a/")
		if comparable == strings.HasPrefix(row[6], "not comparable") {
			t.Errorf("row %q: report column %q", row[0], row[6])
		}
	}
	table1 := markdownTable(md, "**Table 1: Train Loss**")
	if len(table1) != 2 || table1[0][1] != "sweep-a/xavier-nobn-b64" || strings.Contains(table1[0][3], "mean") {
		t.Errorf("Table 1 = %q, want sweep-a's run alone", table1)
	}
}

// A report killed mid-write leaves temporary files behind; the next report removes them.
func TestWriteRemovesStaleTemporaryFiles(t *testing.T) {
	s := buildSweep(t, presetSweepRuns()[:2])
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	pid := dead.Process.Pid
	if err := os.MkdirAll(filepath.Join(s.Dir, FiguresDir), 0o755); err != nil {
		t.Fatal(err)
	}
	stale := []string{
		filepath.Join(s.Dir, fmt.Sprintf(".report.md.tmp-%d-123", pid)),
		filepath.Join(s.Dir, FiguresDir, fmt.Sprintf(".figure-01-xavier-b64-train-loss.png.tmp-%d-456", pid)),
	}
	for _, p := range stale {
		if err := os.WriteFile(p, []byte("half"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeReport(t, s)
	for _, p := range stale {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is still there: %v", p, err)
		}
	}
}
