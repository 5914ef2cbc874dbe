package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tfsweep/tfsweep/internal/tbcheck"
	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/sweep"
)

// hparamsMetrics are the metrics of every sweep's HParams experiment, as TensorBoard lists them: each
// split's last and best epoch_loss and epoch_accuracy, and the epochs trained.
var hparamsMetrics = []map[string]string{
	{"group": "validation", "tag": "epoch_loss"}, {"group": "validation", "tag": "epoch_accuracy"},
	{"group": "train", "tag": "epoch_loss"}, {"group": "train", "tag": "epoch_accuracy"},
	{"group": "validation", "tag": "best_epoch_loss"}, {"group": "validation", "tag": "best_epoch_accuracy"},
	{"group": "train", "tag": "best_epoch_loss"}, {"group": "train", "tag": "best_epoch_accuracy"},
	{"tag": "epochs_trained"},
}

func tbCheck(t *testing.T) { tbcheck.Python(t) }

func runTBCheck(t *testing.T, logdir string, expectation map[string]any) {
	tbcheck.Run(t, logdir, expectation)
}

// sweepJSON mirrors the documented `tfsweep run --json` shape.
type sweepJSON struct {
	SweepDir    string   `json:"sweep_dir"`
	Status      string   `json:"status"`
	WallSeconds *float64 `json:"wall_seconds"`
	Timings     *struct {
		Startup   float64     `json:"startup_seconds"`
		FirstStep float64     `json:"first_step_seconds"`
		Runs      timingsJSON `json:"runs"`
		Report    float64     `json:"report_seconds"`
	} `json:"timings"`
	Runs []struct {
		Name      string  `json:"name"`
		Dir       string  `json:"dir"`
		Status    string  `json:"status"`
		Error     *string `json:"error"`
		Init      string  `json:"init"`
		BatchNorm bool    `json:"batchnorm"`
		BatchSize int     `json:"batch_size"`
		Epochs    int     `json:"epochs"`
		LR        float64 `json:"lr"`
		Seed      int64   `json:"seed"`
		Hidden    []int   `json:"hidden"`
		Scale     string  `json:"scale"`
		Limit     *int    `json:"limit"`
		Final     *struct {
			TrainLoss     float64 `json:"train_loss"`
			TrainAccuracy float64 `json:"train_accuracy"`
			ValLoss       float64 `json:"val_loss"`
			ValAccuracy   float64 `json:"val_accuracy"`
		} `json:"final"`
		History          historyJSON  `json:"history"`
		FitSeconds       float64      `json:"fit_seconds"`
		SamplesPerSecond float64      `json:"samples_per_second"`
		Timings          *timingsJSON `json:"timings"`
	} `json:"runs"`
}

// historyJSON is a run's per-epoch metrics in the JSON summary.
type historyJSON struct {
	TrainLoss     []float64 `json:"train_loss"`
	ValLoss       []float64 `json:"val_loss"`
	TrainAccuracy []float64 `json:"train_accuracy"`
	ValAccuracy   []float64 `json:"val_accuracy"`
}

type timingsJSON struct {
	Setup      float64 `json:"setup_seconds"`
	Train      float64 `json:"train_seconds"`
	Validation float64 `json:"validation_seconds"`
	Export     float64 `json:"export_seconds"`
}

// TestRunEndToEnd trains four variants on real MNIST through `tfsweep run --json`, then asks a real
// TensorBoard (both loaders) for every run, tag and step the sweep must have written, the graphs and
// the HParams session groups, and checks the report written from the logs against the JSON summary.
func TestRunEndToEnd(t *testing.T) {
	t.Parallel()
	data := os.Getenv("TFSWEEP_DATA_DIR")
	if data == "" {
		t.Fatal("TFSWEEP_DATA_DIR is not set: run `make test`, or `scripts/setup-data.sh` and export TFSWEEP_DATA_DIR=$PWD/data/mnist")
	}
	tbCheck(t) // fail early, before training, when TensorBoard is missing
	logdir := t.TempDir()
	const (
		limit    = 2000
		epochs   = 2
		batch    = 128
		logEvery = 10
	)
	code, stdout, stderr := runCmd(t, "--data-dir", data, "--logdir", logdir, "--limit", fmt.Sprint(limit),
		"--epochs", fmt.Sprint(epochs), "--init", "xavier,uniform", "--batchnorm", "off,on", "--log-every", fmt.Sprint(logEvery),
		"--device", "cpu", "--json")
	if code != spec.ExitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	var res sweepJSON
	dec := json.NewDecoder(strings.NewReader(stdout))
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("stdout is not the documented JSON summary: %v\n%s", err, stdout)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON document:\n%s", stdout)
	}
	if res.Status != "succeeded" || res.WallSeconds == nil || *res.WallSeconds <= 0 || len(res.Runs) != 4 {
		t.Fatalf("summary status %q, wall %v, %d runs", res.Status, res.WallSeconds, len(res.Runs))
	}
	if filepath.Dir(res.SweepDir) != logdir || !strings.HasPrefix(filepath.Base(res.SweepDir), "sweep-") {
		t.Errorf("sweep dir %s is not a new sweep-… directory under %s", res.SweepDir, logdir)
	}

	stepsPerEpoch := (limit + batch - 1) / batch
	var tbRuns []string
	imageTags := map[string][]string{} // the pictures' images; their PR curves are worker's test's
	hists := map[string]int{}          // histogram tag → values, for a run without batch norm
	for _, layer := range []struct {
		name    string
		in, out int
	}{{"dense", 784, 128}, {"dense_1", 128, 64}, {"dense_2", 64, 10}} {
		hists["sequential/"+layer.name+"/kernel/histogram"] = layer.in * layer.out
		hists["sequential/"+layer.name+"/bias/histogram"] = layer.out
	}
	bnHists := map[string]int{}
	for k, v := range hists {
		bnHists[k] = v
	}
	for i, width := range []int{128, 64} {
		prefix := "batch_normalization"
		if i > 0 {
			prefix += fmt.Sprintf("_%d", i)
		}
		for _, w := range []string{"gamma", "beta", "moving_mean", "moving_variance"} {
			bnHists["sequential/"+prefix+"/"+w+"/histogram"] = width
		}
	}
	var (
		scalars, histograms, texts, graphs []map[string]any
		trainScalarTags                    = map[string]any{}
		valScalarTags                      = map[string]any{}
		histTags                           = map[string]any{}
		textTags                           = map[string]any{}
		groups                             = map[string]any{}
	)
	wantNames := map[string]bool{"xavier-nobn-b128": true, "xavier-bn-b128": true, "uniform-nobn-b128": true, "uniform-bn-b128": true}
	var runSum timingsJSON
	for _, r := range res.Runs {
		if !wantNames[r.Name] {
			t.Errorf("unexpected run %s", r.Name)
		}
		if r.Status != "succeeded" || r.Error == nil || *r.Error != "" || r.Dir != filepath.Join(res.SweepDir, r.Name) ||
			r.BatchSize != batch || r.Epochs != epochs || r.LR != 0.001 || r.Seed != 1 || r.Scale != "unit" ||
			r.Limit == nil || *r.Limit != limit || len(r.Hidden) != 2 || r.Final == nil || len(r.History.ValLoss) != epochs ||
			r.FitSeconds <= 0 || math.Abs(r.SamplesPerSecond-float64(epochs*limit)/r.FitSeconds) > 1e-6*r.SamplesPerSecond {
			t.Errorf("run %+v", r)
			continue
		}
		// The worker's split of the run: every part took time, and training and validation are the fit.
		if tm := r.Timings; tm == nil || tm.Setup <= 0 || tm.Train <= 0 || tm.Validation <= 0 || tm.Export <= 0 ||
			tm.Train+tm.Validation < r.FitSeconds || tm.Train+tm.Validation > r.FitSeconds+1 {
			t.Errorf("%s: timings %+v for %.3f s of fit", r.Name, tm, r.FitSeconds)
		} else {
			runSum.Setup, runSum.Train, runSum.Validation, runSum.Export = runSum.Setup+tm.Setup, runSum.Train+tm.Train, runSum.Validation+tm.Validation, runSum.Export+tm.Export
		}
		if r.Final.ValLoss != r.History.ValLoss[epochs-1] || r.Final.TrainAccuracy != r.History.TrainAccuracy[epochs-1] {
			t.Errorf("%s: final %+v is not the last epoch of %+v", r.Name, *r.Final, r.History)
		}
		train, val, pictures := r.Name+"/train", r.Name+"/validation", r.Name+"/"+spec.PicturesDir
		tbRuns = append(tbRuns, r.Name, train, val, pictures)
		imageTags[pictures] = []string{"train_inputs", "confusion_matrix", "misclassified"}
		trainScalarTags[train] = []string{"epoch_loss", "epoch_accuracy", "epoch_learning_rate", "batch_loss", "batch_accuracy",
			"best_epoch_loss", "best_epoch_accuracy"}
		valScalarTags[val] = []string{"epoch_loss", "epoch_accuracy", "evaluation_loss_vs_iterations", "evaluation_accuracy_vs_iterations",
			"best_epoch_loss", "best_epoch_accuracy"}
		textTags[train] = []string{"config"}
		epochSteps, iterations := []int{}, []int{}
		for e := range epochs {
			epochSteps = append(epochSteps, e)
			iterations = append(iterations, (e+1)*stepsPerEpoch)
		}
		var batchSteps []int
		for s := logEvery; s <= epochs*stepsPerEpoch; s += logEvery {
			batchSteps = append(batchSteps, s)
		}
		scalar := func(run, tag string, steps []int, values []float64) {
			entry := map[string]any{"run": run, "tag": tag, "steps": steps}
			if values != nil {
				entry["values"] = values
			}
			scalars = append(scalars, entry)
		}
		scalar(train, "epoch_loss", epochSteps, r.History.TrainLoss)
		scalar(train, "epoch_accuracy", epochSteps, r.History.TrainAccuracy)
		scalar(train, "epoch_learning_rate", epochSteps, []float64{0.001, 0.001})
		scalar(train, "batch_loss", batchSteps, nil)
		scalar(train, "batch_accuracy", batchSteps, nil)
		scalar(val, "epoch_loss", epochSteps, r.History.ValLoss)
		scalar(val, "epoch_accuracy", epochSteps, r.History.ValAccuracy)
		scalar(val, "evaluation_loss_vs_iterations", iterations, r.History.ValLoss)
		scalar(val, "evaluation_accuracy_vs_iterations", iterations, r.History.ValAccuracy)

		weights := hists
		if r.BatchNorm {
			weights = bnHists
		}
		var tags []string
		for tag, n := range weights {
			tags = append(tags, tag)
			histograms = append(histograms, map[string]any{"run": train, "tag": tag, "steps": epochSteps,
				"bucket_count": 30, "counts": map[string]int{"0": n, "1": n}})
		}
		histTags[train] = tags
		texts = append(texts, map[string]any{"run": train, "tag": "config", "step": 0,
			"contains": fmt.Sprintf("| init | %s |", r.Init)},
			// The device the run trained on, not "auto".
			map[string]any{"run": train, "tag": "config", "step": 0, "contains": "| device | CPU:0 |"})
		graphs = append(graphs, map[string]any{"run": train, "run_graph": true, "keras": true})

		var metrics []map[string]any
		for _, m := range []struct {
			group, tag string
			value      float64
		}{
			{"validation", "epoch_loss", r.Final.ValLoss}, {"validation", "epoch_accuracy", r.Final.ValAccuracy},
			{"train", "epoch_loss", r.Final.TrainLoss}, {"train", "epoch_accuracy", r.Final.TrainAccuracy},
		} {
			metrics = append(metrics, map[string]any{"group": m.group, "tag": m.tag, "value": m.value, "step": epochs - 1})
		}
		h := spec.History{TrainLoss: r.History.TrainLoss, ValLoss: r.History.ValLoss, TrainAccuracy: r.History.TrainAccuracy, ValAccuracy: r.History.ValAccuracy}
		best, _ := h.BestEpoch()
		b := h.At(best)
		metrics = append(metrics, map[string]any{"tag": "epochs_trained", "value": epochs},
			map[string]any{"group": "validation", "tag": "best_epoch_loss", "value": b.ValLoss, "step": best},
			map[string]any{"group": "train", "tag": "best_epoch_accuracy", "value": b.Accuracy, "step": best})
		// Group names are the run's path under the logdir, so that sweeps never merge.
		groups[filepath.Base(res.SweepDir)+"/"+r.Name] = map[string]any{
			"hparams": map[string]any{"model": "mlp", "init": r.Init, "batchnorm": r.BatchNorm, "batch_size": batch, "lr": 0.001,
				"epochs": epochs, "hidden": "128x64", "seed": 1, "scale": "unit", "limit": limit,
				"activation": "tanh", "optimizer": "adam", "momentum": 0, "nesterov": false, "dropout": 0, "l2": 0,
				"schedule": "constant", "validation_split": 0, "early_stopping": "off", "reduce_lr": "off"},
			"status":   "STATUS_SUCCESS",
			"sessions": []string{r.Name},
			"metrics":  metrics,
		}
	}
	if tm := res.Timings; tm == nil || tm.Startup <= 0 || tm.Report <= 0 || math.Abs(tm.Runs.Train-runSum.Train) > 1e-9 ||
		math.Abs(tm.Runs.Setup-runSum.Setup) > 1e-9 || math.Abs(tm.Runs.Validation-runSum.Validation) > 1e-9 || math.Abs(tm.Runs.Export-runSum.Export) > 1e-9 {
		t.Errorf("sweep timings %+v, want the runs' sums %+v and a start-up and report time", tm, runSum)
	}
	// The first step follows the start-up (the runs are sent after it) and comes before the end.
	if tm := res.Timings; tm != nil && (tm.FirstStep <= tm.Startup || tm.FirstStep >= tm.Startup+*res.WallSeconds) {
		t.Errorf("first step %.3f s after the start, want after the start-up's %.3f s and within the sweep's %.3f s", tm.FirstStep, tm.Startup, *res.WallSeconds)
	}
	if t.Failed() {
		t.FailNow()
	}
	expectation := map[string]any{
		"runs": append([]string{".", "charts"}, tbRuns...),
		// The sweep's Custom Scalars charts: these runs were not trained as the lab report (2 epochs on
		// 2000 images), so only the charts by axis value, each over the runs that take it.
		"custom_scalars": map[string]any{"charts_exact": true, "charts": []map[string]any{
			{"category": "Validation loss by axis value", "title": "init=xavier", "tags": []string{`^(?:xavier-nobn-b128/validation_loss|xavier-bn-b128/validation_loss)$`}},
			{"category": "Validation loss by axis value", "title": "init=uniform", "tags": []string{`^(?:uniform-nobn-b128/validation_loss|uniform-bn-b128/validation_loss)$`}},
			{"category": "Validation loss by axis value", "title": "batchnorm=off", "tags": []string{`^(?:xavier-nobn-b128/validation_loss|uniform-nobn-b128/validation_loss)$`}},
			{"category": "Validation loss by axis value", "title": "batchnorm=on", "tags": []string{`^(?:xavier-bn-b128/validation_loss|uniform-bn-b128/validation_loss)$`}},
		}},
		"rtol":            1e-5,
		"atol":            1e-6,
		"plugins_enabled": []string{"scalars", "histograms", "text", "graphs", "hparams", "images", "pr_curves"},
		"tags": map[string]any{
			"scalars":    mergeMaps(trainScalarTags, valScalarTags),
			"histograms": histTags,
			"text":       textTags,
			"images":     imageTags,
		},
		"scalars":    scalars,
		"histograms": histograms,
		"texts":      texts,
		"graphs":     graphs,
		"hparams": map[string]any{
			"experiment": map[string]any{
				"hparams": map[string]any{
					"model":            map[string]any{"type": "DATA_TYPE_STRING", "discrete": []string{"mlp"}},
					"init":             map[string]any{"type": "DATA_TYPE_STRING", "discrete": []string{"xavier", "uniform"}},
					"batchnorm":        map[string]any{"type": "DATA_TYPE_BOOL", "discrete": []bool{false, true}},
					"batch_size":       map[string]any{"type": "DATA_TYPE_FLOAT64", "discrete": []int{batch}},
					"lr":               map[string]any{"type": "DATA_TYPE_FLOAT64", "discrete": []float64{0.001}},
					"epochs":           map[string]any{"type": "DATA_TYPE_FLOAT64", "discrete": []int{epochs}},
					"hidden":           map[string]any{"type": "DATA_TYPE_STRING", "discrete": []string{"128x64"}},
					"seed":             map[string]any{"type": "DATA_TYPE_FLOAT64", "discrete": []int{1}},
					"scale":            map[string]any{"type": "DATA_TYPE_STRING", "discrete": []string{"unit"}},
					"limit":            map[string]any{"type": "DATA_TYPE_FLOAT64", "discrete": []int{limit}},
					"activation":       map[string]any{"type": "DATA_TYPE_STRING", "discrete": []string{"tanh"}},
					"optimizer":        map[string]any{"type": "DATA_TYPE_STRING", "discrete": []string{"adam"}},
					"momentum":         map[string]any{"type": "DATA_TYPE_FLOAT64", "discrete": []int{0}},
					"nesterov":         map[string]any{"type": "DATA_TYPE_BOOL", "discrete": []bool{false}},
					"dropout":          map[string]any{"type": "DATA_TYPE_FLOAT64", "discrete": []int{0}},
					"l2":               map[string]any{"type": "DATA_TYPE_FLOAT64", "discrete": []int{0}},
					"schedule":         map[string]any{"type": "DATA_TYPE_STRING", "discrete": []string{"constant"}},
					"validation_split": map[string]any{"type": "DATA_TYPE_FLOAT64", "discrete": []int{0}},
					"early_stopping":   map[string]any{"type": "DATA_TYPE_STRING", "discrete": []string{"off"}},
					"reduce_lr":        map[string]any{"type": "DATA_TYPE_STRING", "discrete": []string{"off"}},
				},
				// The axes that vary, listed first.
				"differs": []string{"init", "batchnorm"},
				"metrics": hparamsMetrics,
			},
			"session_groups": groups,
		},
	}
	runTBCheck(t, res.SweepDir, expectation)
	checkReport(t, res)
}

func mergeMaps(ms ...map[string]any) map[string]any {
	out := map[string]any{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// checkReport compares the report written from the logs with the JSON summary of the same sweep.
func checkReport(t *testing.T, res sweepJSON) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(res.SweepDir, "report.json"))
	if err != nil {
		t.Fatalf("the sweep wrote no report: %v", err)
	}
	var rep struct {
		Runs []struct {
			Name   string
			Status string
			Epochs int
			Final  struct {
				TrainLoss     float64 `json:"train_loss"`
				TrainAccuracy float64 `json:"train_accuracy"`
				ValLoss       float64 `json:"val_loss"`
				ValAccuracy   float64 `json:"val_accuracy"`
			} `json:"final"`
		}
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatalf("report.json: %v", err)
	}
	byName := map[string]int{}
	for i, r := range rep.Runs {
		byName[r.Name] = i
	}
	md, err := os.ReadFile(filepath.Join(res.SweepDir, "report.md"))
	if err != nil {
		t.Fatalf("report.md: %v", err)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-6*math.Max(1, math.Abs(b)) }
	for _, r := range res.Runs {
		i, ok := byName[r.Name]
		if !ok {
			t.Errorf("report.json lacks run %s", r.Name)
			continue
		}
		got := rep.Runs[i]
		if got.Status != r.Status || got.Epochs != r.Epochs || !near(got.Final.TrainLoss, r.Final.TrainLoss) ||
			!near(got.Final.ValLoss, r.Final.ValLoss) || !near(got.Final.ValAccuracy, r.Final.ValAccuracy) {
			t.Errorf("report.json run %+v, the sweep reported %s %d epochs %+v", got, r.Status, r.Epochs, *r.Final)
		}
		if !strings.Contains(string(md), r.Name) {
			t.Errorf("report.md does not mention %s", r.Name)
		}
	}
	if _, err := os.Stat(filepath.Join(res.SweepDir, "report.csv")); err != nil {
		t.Errorf("report.csv: %v", err)
	}
}

// TestRunReportsFailedRun checks that a diverging run fails alone and makes the exit status 1.
func TestRunReportsFailedRun(t *testing.T) {
	data := t.TempDir()
	writeIDX(t, data, 100)
	code, stdout, stderr := runCmd(t, "--data-dir", data, "--logdir", t.TempDir(), "--batch-size", "20", "--epochs", "1",
		"--lr", "0.001,1e300", "--scale", "none", "--json")
	if code != spec.ExitRunFailed {
		t.Fatalf("exit %d, want %d\n%s", code, spec.ExitRunFailed, stderr)
	}
	var res sweep.Result
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("stdout: %v\n%s", err, stdout)
	}
	if res.Status != "failed" || res.Runs[0].Status != "succeeded" || res.Runs[1].Status != "failed" ||
		!strings.Contains(res.Runs[1].Error, "TerminateOnNaN") {
		t.Errorf("summary %+v", res)
	}
}

// TestTwoSweepsInOneLogdir trains two sweeps with the same run names into one logdir and asks
// TensorBoard (both loaders) for the HParams session groups of `tensorboard --logdir LOGDIR`: one
// group per run per sweep, each with its own metrics, never an average of the two.
func TestTwoSweepsInOneLogdir(t *testing.T) {
	t.Parallel()
	data := realData(t)
	tbCheck(t)
	logdir := t.TempDir()
	groups := map[string]any{}
	for _, epochs := range []int{1, 2} {
		code, stdout, stderr := runCmd(t, "--data-dir", data, "--logdir", logdir, "--limit", "1000", "--epochs", fmt.Sprint(epochs),
			"--batchnorm", "off,on", "--log-every", "0", "--json")
		if code != spec.ExitOK {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		var res sweepJSON
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Runs {
			session, err := filepath.Rel(logdir, r.Dir)
			if err != nil {
				t.Fatal(err)
			}
			groups[session] = map[string]any{
				"status":   "STATUS_SUCCESS",
				"sessions": []string{session},
				"metrics": []map[string]any{
					{"group": "validation", "tag": "epoch_loss", "value": r.Final.ValLoss, "step": epochs - 1},
					{"group": "train", "tag": "epoch_loss", "value": r.Final.TrainLoss, "step": epochs - 1},
				},
			}
		}
	}
	if len(groups) != 4 {
		t.Fatalf("%d runs, want 4", len(groups))
	}
	runTBCheck(t, logdir, map[string]any{
		"runs_subset": true, "runs": []string{},
		"rtol": 1e-5, "atol": 1e-6,
		"hparams": map[string]any{"session_groups": groups},
	})
}

// TestRandomSearchInTensorBoard draws trials and asks TensorBoard (both loaders) for the HParams
// experiment: the drawn learning rate is an interval, the listed axis discrete, and every trial a
// session group with the lr it drew.
func TestRandomSearchInTensorBoard(t *testing.T) {
	t.Parallel()
	data := realData(t)
	tbCheck(t)
	logdir := t.TempDir()
	code, stdout, stderr := runCmd(t, "--data-dir", data, "--logdir", logdir, "--limit", "500", "--epochs", "1",
		"--batch-size", "100", "--lr", "log_uniform:1e-4:1e-2", "--trials", "3", "--search-seed", "5", "--log-every", "0", "--json")
	if code != spec.ExitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var res struct {
		SweepDir string `json:"sweep_dir"`
		Runs     []struct {
			Name string
			LR   float64
		}
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	groups := map[string]any{}
	for i, r := range res.Runs {
		if want := fmt.Sprintf("xavier-nobn-b100-t%03d", i+1); r.Name != want || r.LR < 1e-4 || r.LR >= 1e-2 {
			t.Errorf("run %d: %s lr %v, want %s with lr in [1e-4, 1e-2)", i, r.Name, r.LR, want)
		}
		groups[filepath.Base(res.SweepDir)+"/"+r.Name] = map[string]any{
			"status": "STATUS_SUCCESS", "sessions": []string{r.Name},
		}
	}
	runTBCheck(t, res.SweepDir, map[string]any{
		"runs_subset": true, "runs": []string{"."},
		"hparams": map[string]any{
			"experiment": map[string]any{
				"hparams": hparamsExpectation(map[string]any{
					"lr":         map[string]any{"type": "DATA_TYPE_FLOAT64", "interval": []float64{1e-4, 1e-2}},
					"batch_size": map[string]any{"type": "DATA_TYPE_FLOAT64", "discrete": []int{100}},
				}),
				// lr, the one axis that varies, comes first: TensorBoard shows the first few by default.
				"differs":        []string{"lr"},
				"metrics_subset": true, "metrics": []map[string]string{{"group": "validation", "tag": "epoch_loss"}},
			},
			"session_groups": groups,
		},
	})
}

// hparamsExpectation is the experiment's exact hparam set: every axis of the table, with the given
// ones checked in detail (the others only by name).
func hparamsExpectation(checked map[string]any) map[string]any {
	out := map[string]any{}
	for _, a := range spec.Axes() {
		out[a.Key] = map[string]any{}
	}
	for k, v := range checked {
		out[k] = v
	}
	return out
}
