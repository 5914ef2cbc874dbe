package worker

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tfsweep/tfsweep/internal/tbcheck"
	"github.com/tfsweep/tfsweep/modelfile"
	"github.com/tfsweep/tfsweep/spec"
)

// Bounds of a fused member's per-epoch metrics against the same job trained alone: the step losses
// agree to 1–2 float32 ulps (docs/fused-trials.md), which epochs of Adam steps carry into the
// weights. Measured over these tests' runs (500 examples, batch 32, 2–3 epochs): see the log lines
// "largest relative difference" and docs/fused-trials.md, "The worker's groups".
const (
	fusedLossBound = 1e-6
	// With batch norm the Dense bias before it cancels out of the loss, its gradient is rounding noise
	// that Adam scales up to the learning rate, and the moving means follow those biases: the
	// training losses still agree as above, the validation losses (by the moving statistics) less
	// (docs/fused-trials.md, "How close to unfused training").
	fusedBatchNormValBound = 1e-4
	// An accuracy may differ by one example: the training accuracy of an epoch is over its 500
	// examples, the validation accuracy over the test set's 10,000.
	fusedTrainAccBound = 1.0/500 + 1e-9
	fusedValAccBound   = 1.0/10000 + 1e-9
)

// session is a worker's Serve driven line by line: commands in, messages out, and the verdicts a
// test decides on the epochs of jobs that ask for them.
type session struct {
	msgs []spec.Message
	log  string // what the worker wrote to its log
}

// serveCommands runs Serve on the commands and answers every epoch of a job with Verdicts with
// decide's verdict, until every job of the commands has ended.
func serveCommands(t *testing.T, decide func(spec.Message) spec.Verdict, cmds ...spec.Command) session {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	var log strings.Builder
	done := make(chan error, 1)
	go func() { done <- Serve(context.Background(), inR, outW, &log); outW.Close() }()
	var mu sync.Mutex
	write := func(c spec.Command) {
		line, err := json.Marshal(c)
		if err != nil {
			t.Error(err)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if _, err := inW.Write(append(line, '\n')); err != nil {
			t.Error(err)
		}
	}
	runs := 0
	for _, c := range cmds {
		runs += len(c.Fused)
		if c.Job != nil {
			runs++
		}
	}
	go func() {
		for _, c := range cmds {
			write(c)
		}
	}()
	var s session
	ended := 0
	scanMessages(t, outR, func(m spec.Message) bool {
		s.msgs = append(s.msgs, m)
		switch m.Kind {
		case spec.MessageEnd:
			ended++
		case spec.MessageEpoch:
			if decide != nil {
				v := decide(m)
				go write(spec.Command{Verdict: &v})
			}
		}
		return ended < runs
	})
	inW.Close()
	go io.Copy(io.Discard, outR)
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	s.log = log.String()
	return s
}

// fusedJob is smallJob with the variant changed by edit, batch 32.
func fusedJob(t *testing.T, dir, run string, epochs int, edit func(*spec.Variant)) spec.Job {
	t.Helper()
	job := smallJob(t, dir, run)
	v, err := job.DecodedVariant()
	if err != nil {
		t.Fatal(err)
	}
	v.Epochs, v.BatchSize = epochs, 32
	edit(&v)
	job.Variant = spec.EncodeVariant(v)
	job.KeepCheckpoints = epochs
	return job
}

// member is one job of a test's group: its run name and how its variant differs.
type memberCase struct {
	run  string
	edit func(*spec.Variant)
	// network is the job's model file's network as the front sends it (Job.Network); nil for the MLP.
	network *spec.Network
	// What its lone run does, which the test checks first: the comparison means something only then.
	fails, stops bool
}

func lrInit(lr float64, init string, seed int64) func(*spec.Variant) {
	return func(v *spec.Variant) { v.LR, v.Init, v.Seed = lr, init, seed }
}

func withBatchNorm(edit func(*spec.Variant)) func(*spec.Variant) {
	return func(v *spec.Variant) { edit(v); v.BatchNorm = true }
}

// TestFusedGroupTrainsEachJobAsAlone trains groups through Serve's Command{Fused} and each member
// alone, and compares every member's end with its lone run's: status, epochs, early stopping's
// stopped and best epoch, and every epoch's metrics within the bounds; and each member's run
// directory holds what a lone run's does.
func TestFusedGroupTrainsEachJobAsAlone(t *testing.T) {
	stopEarly := func(v *spec.Variant) {
		lrInit(0.002, "he_normal", 5)(v)
		v.EarlyStopping.Options = &spec.EarlyStoppingOptions{Monitor: "val_loss", MinDelta: 10, Patience: 1, RestoreBestWeights: true}
	}
	reduceLR := func(v *spec.Variant) {
		lrInit(0.003, "glorot_uniform", 5)(v)
		v.ReduceLR.Options = &spec.ReduceLROnPlateauOptions{Monitor: "val_loss", Factor: 0.5, Patience: 0, Mode: "auto", MinDelta: 10}
	}
	cases := []groupCase{
		{"one seed: shared batches", 2, true, []memberCase{
			{run: "a", edit: lrInit(0.001, "xavier", 5)}, {run: "b", edit: lrInit(0.003, "glorot_uniform", 5)},
			{run: "c", edit: lrInit(0.0005, "he_normal", 5)}, {run: "d", edit: lrInit(0.002, "xavier", 5)}}, 0},
		{"own seeds: own batches", 2, false, []memberCase{
			{run: "a", edit: lrInit(0.001, "xavier", 11)}, {run: "b", edit: lrInit(0.003, "glorot_uniform", 12)},
			{run: "c", edit: lrInit(0.0005, "he_normal", 13)}}, 0},
		{"early stopping and ReduceLROnPlateau", 3, true, []memberCase{
			{run: "a", edit: lrInit(0.001, "xavier", 5)}, {run: "stops", edit: stopEarly, stops: true}, {run: "reduces", edit: reduceLR}}, 0},
		{"batch norm, own seeds", 2, false, []memberCase{
			{run: "a", edit: withBatchNorm(lrInit(0.001, "xavier", 5))}, {run: "b", edit: withBatchNorm(lrInit(0.003, "he_normal", 6))},
			{run: "c", edit: withBatchNorm(lrInit(0.002, "glorot_uniform", 7))}}, fusedBatchNormValBound},
		{"a NaN fails one member", 2, false, []memberCase{
			{run: "a", edit: lrInit(0.001, "xavier", 5)}, {run: "nan", edit: lrInit(1e38, "xavier", 5), fails: true},
			{run: "c", edit: lrInit(0.0005, "he_normal", 7)}}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.check(t) })
	}
}

// TestFusedConvnetGroupTrainsEachJobAsAlone trains groups of Keras' MNIST convnet (dropout 0.5)
// through Serve's Command{Fused} and each member alone, one epoch: a member runs its lone run's
// kernels (model.Fused's per-trial path), so its epoch metrics are its lone run's to the bit.
func TestFusedConvnetGroupTrainsEachJobAsAlone(t *testing.T) {
	convnet, err := modelfile.Read(filepath.Join("..", "modelfile", "testdata", "convnet.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	member := func(run, init string, lr float64, seed int64) memberCase {
		in := spec.Initializer(init)
		net, err := convnet.Apply(spec.Settings{Init: &in})
		if err != nil {
			t.Fatal(err)
		}
		return memberCase{run: run, network: &net, edit: func(v *spec.Variant) {
			v.LR, v.Init, v.Seed = lr, init, seed
			v.Model = spec.Model{Name: net.Name, File: "convnet.yaml"}
		}}
	}
	for _, tc := range []groupCase{
		{"one seed: shared batches", 1, true, []memberCase{
			member("a", "xavier", 0.001, 5), member("b", "he_normal", 0.003, 5), member("c", "glorot_uniform", 0.0005, 5)}, 0},
		{"own seeds: own batches", 1, false, []memberCase{member("a", "xavier", 0.001, 11), member("b", "he_uniform", 0.002, 12)}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if d := tc.check(t); d != (epochDiff{}) {
				t.Errorf("a member's epoch metrics differ from its lone run's by %+v, want none", d)
			}
		})
	}
}

// groupCase is a group of TestFusedGroupTrainsEachJobAsAlone.
type groupCase struct {
	name        string
	epochs      int
	tensorBoard bool // ask TensorBoard too, and draw the first member's pictures
	members     []memberCase
	valBound    float64 // of the validation losses, relative; 0 is fusedLossBound
}

// check trains the group and its members alone and compares them; it returns the largest difference
// of a member's epoch metric from its lone run's.
func (tc groupCase) check(t *testing.T) epochDiff {
	dir := t.TempDir()
	var group []spec.Job
	var alone []spec.Command
	for _, m := range tc.members {
		member := fusedJob(t, filepath.Join(dir, "group"), m.run, tc.epochs, m.edit)
		job := fusedJob(t, filepath.Join(dir, "alone"), m.run, tc.epochs, m.edit)
		member.Network, job.Network = m.network, m.network
		if len(group) == 0 && tc.tensorBoard {
			member.PicturesEvery, job.PicturesEvery = 1, 1
		}
		group = append(group, member)
		alone = append(alone, spec.Command{Job: &job})
	}
	for _, d := range []string{"group", "alone"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	fused := serveCommands(t, nil, spec.Command{Fused: group})
	if fused.log != "" {
		t.Fatalf("the group was not fused: %s", fused.log)
	}
	lone := ends(serveCommands(t, nil, alone...).msgs)
	got := ends(fused.msgs)
	var worst epochDiff
	for _, m := range tc.members {
		if e := lone[m.run]; e == nil || (e.Status == spec.StatusFailed) != m.fails || (e.StoppedEpoch != nil && *e.StoppedEpoch > 0) != m.stops {
			t.Fatalf("%s alone: %+v, want failed %v, stopped early %v", m.run, e, m.fails, m.stops)
		}
		worst = worst.max(compareEnds(t, m.run, got[m.run], lone[m.run], cmp.Or(tc.valBound, fusedLossBound)))
		if got[m.run] != nil && got[m.run].Status == spec.StatusSucceeded {
			checkRunDir(t, filepath.Join(dir, "group", m.run), len(got[m.run].History.TrainLoss))
			fusedTags := histogramTags(t, filepath.Join(dir, "group", m.run, spec.TrainDir))
			if loneTags := histogramTags(t, filepath.Join(dir, "alone", m.run, spec.TrainDir)); len(loneTags) == 0 || !slices.Equal(fusedTags, loneTags) {
				t.Errorf("%s: weight histograms %v, alone %v", m.run, fusedTags, loneTags)
			}
		}
	}
	checkBegins(t, fused.msgs, len(group))
	tc.checkEpochOrder(t, fused.msgs)
	if tc.tensorBoard {
		checkTensorBoard(t, filepath.Join(dir, "group"), group, got)
		checkPictures(t, filepath.Join(dir, "group"), group[0], tc.epochs)
	}
	t.Logf("largest difference of a member's epoch metric from its lone run's: loss %.2g, val_loss %.2g (relative); accuracy %.2g, val_accuracy %.2g",
		worst.loss, worst.valLoss, worst.acc, worst.valAcc)
	return worst
}

// checkEpochOrder checks that every epoch's messages arrived in the members' order.
func (tc groupCase) checkEpochOrder(t *testing.T, msgs []spec.Message) {
	t.Helper()
	for e, runs := range epochOrder(msgs) {
		var want []string
		for _, m := range tc.members {
			if slices.Contains(runs, m.run) {
				want = append(want, m.run)
			}
		}
		if !slices.Equal(runs, want) {
			t.Errorf("epoch %d's messages arrived in the order %v, want the members' %v", e+1, runs, want)
		}
	}
}

// epochDiff is the largest difference of a member's epoch metrics from its lone run's: relative
// for the losses, absolute for the accuracies.
type epochDiff struct{ loss, valLoss, acc, valAcc float64 }

func (d epochDiff) max(o epochDiff) epochDiff {
	return epochDiff{math.Max(d.loss, o.loss), math.Max(d.valLoss, o.valLoss), math.Max(d.acc, o.acc), math.Max(d.valAcc, o.valAcc)}
}

func relDiff(a, b float64) float64 {
	scale := math.Max(math.Abs(a), math.Abs(b))
	if scale == 0 {
		return 0
	}
	return math.Abs(a-b) / scale
}

// compareEnds checks a member's end against the same job's lone end.
func compareEnds(t *testing.T, run string, got, want *spec.End, valBound float64) epochDiff {
	t.Helper()
	var d epochDiff
	if got == nil || want == nil {
		t.Errorf("%s: no end message (group %v, alone %v)", run, got != nil, want != nil)
		return d
	}
	if got.Status != want.Status || got.EpochsCompleted != want.EpochsCompleted || (got.Error == "") != (want.Error == "") {
		t.Errorf("%s: ended %s after %d epochs (%q), alone %s after %d (%q)", run, got.Status, got.EpochsCompleted, got.Error, want.Status, want.EpochsCompleted, want.Error)
		return d
	}
	if (want.StoppedEpoch == nil) != (got.StoppedEpoch == nil) || (want.StoppedEpoch != nil && (*got.StoppedEpoch != *want.StoppedEpoch || *got.BestEpoch != *want.BestEpoch)) {
		t.Errorf("%s: early stopping's stopped and best epoch differ from the lone run's", run)
	}
	if want.Status == spec.StatusFailed && strings.Contains(want.Error, "TerminateOnNaN") != strings.Contains(got.Error, "TerminateOnNaN") {
		t.Errorf("%s: failed with %q, alone with %q", run, got.Error, want.Error)
	}
	g, w := got.History, want.History
	if len(g.TrainLoss) != len(w.TrainLoss) {
		t.Errorf("%s: %d epochs in the history, alone %d", run, len(g.TrainLoss), len(w.TrainLoss))
		return d
	}
	for e := range w.TrainLoss {
		d = d.max(epochDiff{relDiff(g.TrainLoss[e], w.TrainLoss[e]), relDiff(g.ValLoss[e], w.ValLoss[e]),
			math.Abs(g.TrainAccuracy[e] - w.TrainAccuracy[e]), math.Abs(g.ValAccuracy[e] - w.ValAccuracy[e])})
		if g.LearningRate[e] != w.LearningRate[e] {
			t.Errorf("%s epoch %d: learning rate %v, alone %v", run, e+1, g.LearningRate[e], w.LearningRate[e])
		}
	}
	if d.loss > fusedLossBound || d.valLoss > valBound || d.acc > fusedTrainAccBound || d.valAcc > fusedValAccBound {
		t.Errorf("%s: epoch metrics differ from the lone run's by %+v (bounds: losses %g and %g relative, accuracies one example)\ngroup %+v\nalone %+v", run, d, fusedLossBound, valBound, g, w)
	}
	return d
}

// checkRunDir checks that a member's run directory holds a checkpoint per epoch and the SavedModel.
func checkRunDir(t *testing.T, dir string, epochs int) {
	t.Helper()
	for e := 1; e <= epochs; e++ {
		if _, err := os.Stat(filepath.Join(dir, spec.CheckpointsDir, fmt.Sprintf("ckpt-%d%s", e, spec.CheckpointIndexSuffix))); err != nil {
			t.Errorf("%s: checkpoint of epoch %d: %v", dir, e, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, spec.SavedModelDir, "saved_model.pb")); err != nil {
		t.Errorf("%s: no SavedModel: %v", dir, err)
	}
}

// checkTensorBoard asks TensorBoard for every member's logs in logdir: its epochs' validation losses
// as its end reports them, its graph and its hparams session with its status.
func checkTensorBoard(t *testing.T, logdir string, jobs []spec.Job, got map[string]*spec.End) {
	t.Helper()
	var scalars, graphs []map[string]any
	var runs []string
	sessions := map[string]any{}
	for _, job := range jobs {
		end := got[job.Run]
		steps := make([]int, len(end.History.ValLoss))
		for e := range steps {
			steps[e] = e
		}
		val := job.Run + "/validation"
		runs = append(runs, job.Run, job.Run+"/train", val)
		scalars = append(scalars, map[string]any{"run": val, "tag": "epoch_loss", "steps": steps, "values": end.History.ValLoss})
		graphs = append(graphs, map[string]any{"run": job.Run + "/train", "run_graph": true})
		status := "STATUS_SUCCESS"
		if end.Status != spec.StatusSucceeded {
			status = "STATUS_FAILURE"
		}
		sessions[job.Group] = map[string]any{"status": status}
	}
	tbcheck.Run(t, logdir, map[string]any{
		"runs_subset": true, "runs": runs,
		"scalars": scalars, "graphs": graphs,
		"hparams": map[string]any{"session_groups": sessions, "session_groups_subset": true},
	})
}

// checkBegins checks that every member announced its group's size.
func checkBegins(t *testing.T, msgs []spec.Message, size int) {
	t.Helper()
	for _, m := range msgs {
		if m.Kind == spec.MessageBegin && m.Begin.Fused != size {
			t.Errorf("%s: Begin.Fused %d, want %d", m.Run, m.Begin.Fused, size)
		}
	}
}

// killAfter makes a finished run's directory look like a run killed after epoch k (1-based): the
// later epochs' checkpoints and the SavedModel are gone, its logs are left as they were.
func killAfter(t *testing.T, dir string, k, epochs int) {
	t.Helper()
	for e := k + 1; e <= epochs; e++ {
		files, err := filepath.Glob(filepath.Join(dir, spec.CheckpointsDir, fmt.Sprintf("ckpt-%d.*", e)))
		if err != nil || len(files) == 0 {
			t.Fatalf("checkpoint of epoch %d: %v %v", e, files, err)
		}
		for _, f := range files {
			if err := os.Remove(f); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.RemoveAll(filepath.Join(dir, spec.SavedModelDir)); err != nil {
		t.Fatal(err)
	}
}

// A run killed after its first epoch resumes from its checkpoint inside a group of fresh runs, and
// trains on as it does resumed alone; the fresh members train as they do alone.
func TestFusedGroupResumesAMember(t *testing.T) {
	const epochs = 3
	dir := t.TempDir()
	for _, d := range []string{"alone", "group"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	resumed := fusedJob(t, filepath.Join(dir, "alone"), "r", epochs, lrInit(0.002, "he_normal", 5))
	first := serveCommands(t, nil, spec.Command{Job: &resumed})
	if e := ends(first.msgs)["r"]; e == nil || e.Status != spec.StatusSucceeded {
		t.Fatalf("the first attempt: %+v", e)
	}
	killAfter(t, resumed.Dir, 1, epochs)
	if err := os.CopyFS(filepath.Join(dir, "group", "r"), os.DirFS(resumed.Dir)); err != nil {
		t.Fatal(err)
	}
	resumed.Resume = true
	inGroup := resumed
	inGroup.Dir = filepath.Join(dir, "group", "r")
	fresh := []memberCase{{run: "x", edit: lrInit(0.001, "xavier", 5)}, {run: "y", edit: lrInit(0.003, "glorot_uniform", 9)}}
	alone := []spec.Command{{Job: &resumed}}
	group := []spec.Job{inGroup}
	for _, m := range fresh {
		job := fusedJob(t, filepath.Join(dir, "alone"), m.run, epochs, m.edit)
		alone = append(alone, spec.Command{Job: &job})
		group = append(group, fusedJob(t, filepath.Join(dir, "group"), m.run, epochs, m.edit))
	}
	lone := ends(serveCommands(t, nil, alone...).msgs)
	fused := serveCommands(t, nil, spec.Command{Fused: group})
	if fused.log != "" {
		t.Fatalf("the group was not fused: %s", fused.log)
	}
	got := ends(fused.msgs)
	if e := lone["r"]; e == nil || e.Status != spec.StatusSucceeded || len(e.History.ValLoss) != epochs {
		t.Fatalf("the lone resume: %+v", e)
	}
	var worst epochDiff
	for _, run := range []string{"r", "x", "y"} {
		worst = worst.max(compareEnds(t, run, got[run], lone[run], fusedLossBound))
		checkRunDir(t, filepath.Join(dir, "group", run), epochs)
	}
	var trained []int
	for _, m := range fused.msgs {
		if m.Kind == spec.MessageEpoch && m.Run == "r" {
			trained = append(trained, m.Epoch.Epoch)
		}
	}
	if !reflect.DeepEqual(trained, []int{1, 2}) {
		t.Errorf("the resumed member trained epochs %v, want [1 2] (0-based)", trained)
	}
	if got["r"] != nil && got["r"].Iterations != lone["r"].Iterations {
		t.Errorf("the resumed member ends at step %d, alone at %d", got["r"].Iterations, lone["r"].Iterations)
	}
	t.Logf("largest relative difference from the lone runs: loss %.2g, val_loss %.2g; accuracy %.2g, val_accuracy %.2g",
		worst.loss, worst.valLoss, worst.acc, worst.valAcc)
}

// The front's verdicts reach the member they name: a stop for one member prunes it alone after that
// epoch, the others train on to their last epoch.
func TestFusedGroupRoutesVerdicts(t *testing.T) {
	dir := t.TempDir()
	var group []spec.Job
	for i, run := range []string{"a", "pruned", "c"} {
		job := fusedJob(t, dir, run, 3, lrInit(0.001*float64(i+1), "xavier", 5))
		job.Verdicts = true
		group = append(group, job)
	}
	var mu sync.Mutex
	asked := map[string][]int{}
	s := serveCommands(t, func(m spec.Message) spec.Verdict {
		mu.Lock()
		defer mu.Unlock()
		asked[m.Run] = append(asked[m.Run], m.Epoch.Epoch)
		if m.Run == "pruned" && m.Epoch.Epoch == 0 {
			return spec.Verdict{Run: m.Run, Epoch: 0, Action: spec.VerdictStop, Reason: "pruned by the test"}
		}
		return spec.Verdict{Run: m.Run, Epoch: m.Epoch.Epoch, Action: spec.VerdictContinue}
	}, spec.Command{Fused: group})
	if s.log != "" {
		t.Fatalf("the group was not fused: %s", s.log)
	}
	e := ends(s.msgs)
	if p := e["pruned"]; p == nil || p.Status != spec.StatusPruned || p.EpochsCompleted != 1 || p.Reason != "pruned by the test" {
		t.Errorf("the pruned member: %+v", p)
	}
	for _, run := range []string{"a", "c"} {
		if g := e[run]; g == nil || g.Status != spec.StatusSucceeded || g.EpochsCompleted != 3 {
			t.Errorf("%s: %+v", run, g)
		}
	}
	if want := map[string][]int{"a": {0, 1, 2}, "pruned": {0}, "c": {0, 1, 2}}; !reflect.DeepEqual(asked, want) {
		t.Errorf("epochs the members asked verdicts on: %v, want %v", asked, want)
	}
	if got, want := epochOrder(s.msgs), [][]string{{"a", "pruned", "c"}, {"a", "c"}, {"a", "c"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("the members' epoch messages arrived in the order %v, want %v (trial order)", got, want)
	}
}

// epochOrder is, for every epoch, the runs whose message on it arrived, in the order they arrived.
func epochOrder(msgs []spec.Message) [][]string {
	var order [][]string
	for _, m := range msgs {
		if m.Kind != spec.MessageEpoch {
			continue
		}
		for len(order) <= m.Epoch.Epoch {
			order = append(order, nil)
		}
		order[m.Epoch.Epoch] = append(order[m.Epoch.Epoch], m.Run)
	}
	return order
}

// A group that cannot be fused trains one job after another, each as it trains alone, and the
// worker's log says so once, with why.
func TestUnfusableGroupTrainsOneJobAfterAnother(t *testing.T) {
	cases := []struct {
		name, why string
		second    func(dir string) spec.Job
	}{
		{"a member with dropout", "dropout", func(dir string) spec.Job {
			return fusedJob(t, dir, "b", 1, func(v *spec.Variant) { v.Dropout = 0.2 })
		}},
		{"a member with another batch size", "batch size", func(dir string) spec.Job {
			return fusedJob(t, dir, "b", 1, func(v *spec.Variant) { v.BatchSize = 64 })
		}},
		{"two members of one name", "two jobs are named a", func(dir string) spec.Job {
			job := fusedJob(t, dir, "a", 1, lrInit(0.002, "xavier", 5))
			job.Dir = filepath.Join(dir, "a-again")
			return job
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			group := []spec.Job{fusedJob(t, dir, "a", 1, lrInit(0.001, "xavier", 5)), tc.second(dir)}
			s := serveCommands(t, nil, spec.Command{Fused: group})
			if strings.Count(s.log, "\n") != 1 || !strings.Contains(s.log, "one run after another") || !strings.Contains(s.log, tc.why) {
				t.Errorf("the worker's log: %q", s.log)
			}
			succeeded := 0
			for _, m := range s.msgs {
				if m.Kind == spec.MessageEnd && m.End.Status == spec.StatusSucceeded && m.End.EpochsCompleted == 1 {
					succeeded++
				}
				if m.Kind == spec.MessageBegin && m.Begin.Fused != 0 {
					t.Errorf("%s trained alone and says it was fused in a group of %d", m.Run, m.Begin.Fused)
				}
			}
			if succeeded != 2 {
				t.Errorf("%d of 2 runs succeeded: %+v", succeeded, ends(s.msgs))
			}
		})
	}
}

// readCommands takes a line of one job, one fused group or one verdict, and refuses any other.
func TestReadCommands(t *testing.T) {
	job := `{"run":"a","dir":"d"}`
	cases := []struct {
		name, line string
		jobs       int // in the group passed on; 0 for a verdict
		ok         bool
	}{
		{"a job", job, 1, true},
		{"a fused group", `{"fused":[` + job + `,{"run":"b","dir":"e"}]}`, 2, true},
		{"a verdict", `{"verdict":{"run":"a","epoch":0,"action":"continue"}}`, 0, true},
		{"a job and a group", `{"run":"a","dir":"d","fused":[` + job + `]}`, 0, false},
		{"a job and a verdict", `{"run":"a","dir":"d","verdict":{"run":"a","epoch":0,"action":"stop"}}`, 0, false},
		{"nothing", `{}`, 0, false},
		{"an empty group", `{"fused":[]}`, 0, false},
		{"not JSON", `fused`, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			jobs, verdicts := make(chan []spec.Job, 1), make(chan spec.Verdict, 1)
			err := readCommands(context.Background(), strings.NewReader(tc.line+"\n"), jobs, verdicts)
			if (err == nil) != tc.ok {
				t.Fatalf("readCommands: %v, want ok %v", err, tc.ok)
			}
			if !tc.ok {
				return
			}
			if tc.jobs == 0 {
				if len(verdicts) != 1 || len(jobs) != 0 {
					t.Errorf("a verdict passed on as %d verdicts and %d groups", len(verdicts), len(jobs))
				}
				return
			}
			if g := <-jobs; len(g) != tc.jobs {
				t.Errorf("a group of %d jobs, want %d", len(g), tc.jobs)
			}
		})
	}
}

// A member that cannot start (its run directory exists) fails alone; the group trains the others.
func TestFusedGroupMemberThatCannotStart(t *testing.T) {
	dir := t.TempDir()
	group := []spec.Job{
		fusedJob(t, dir, "a", 2, lrInit(0.001, "xavier", 5)),
		fusedJob(t, dir, "exists", 2, lrInit(0.002, "xavier", 5)),
		fusedJob(t, dir, "c", 2, lrInit(0.003, "xavier", 5)),
	}
	if err := os.Mkdir(group[1].Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := serveCommands(t, nil, spec.Command{Fused: group})
	if s.log != "" {
		t.Fatalf("the group was not fused: %s", s.log)
	}
	e := ends(s.msgs)
	if x := e["exists"]; x == nil || x.Status != spec.StatusFailed || !strings.Contains(x.Error, "run directory") {
		t.Errorf("the member whose directory exists: %+v", x)
	}
	for _, run := range []string{"a", "c"} {
		if g := e[run]; g == nil || g.Status != spec.StatusSucceeded || g.EpochsCompleted != 2 {
			t.Errorf("%s: %+v", run, g)
		}
	}
}

// A group interrupted after its first epoch ends every member interrupted, each with its first
// epoch's checkpoint; the same group resumed trains every member to its end from there.
func TestFusedGroupInterruptedAndResumed(t *testing.T) {
	dir := t.TempDir()
	var group []spec.Job
	for i, run := range []string{"a", "b", "c"} {
		group = append(group, fusedJob(t, dir, run, 3, lrInit(0.001*float64(i+1), "xavier", int64(5+i))))
	}
	line, err := json.Marshal(spec.Command{Fused: group})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, inR, outW, io.Discard); outW.Close() }()
	go inW.Write(append(line, '\n'))
	var msgs []spec.Message
	scanMessages(t, outR, func(m spec.Message) bool {
		msgs = append(msgs, m)
		if m.Kind == spec.MessageEpoch && m.Epoch.Epoch == 0 {
			cancel() // the first member's first epoch; the others may have ended theirs too
		}
		return true
	})
	inW.Close()
	if err := <-done; err == nil {
		t.Error("Serve returned nil after its context was cancelled")
	}
	e := ends(msgs)
	for _, job := range group {
		if g := e[job.Run]; g == nil || g.Status != spec.StatusFailed || !g.Interrupted || g.EpochsCompleted > 2 {
			t.Fatalf("%s after the interruption: %+v", job.Run, g)
		}
		if _, err := os.Stat(filepath.Join(job.Dir, spec.CheckpointsDir, "ckpt-1"+spec.CheckpointIndexSuffix)); err != nil {
			t.Errorf("%s: no checkpoint of its first epoch: %v", job.Run, err)
		}
	}
	for i := range group {
		group[i].Resume = true
	}
	s := serveCommands(t, nil, spec.Command{Fused: group})
	if s.log != "" {
		t.Fatalf("the resumed group was not fused: %s", s.log)
	}
	for run, g := range ends(s.msgs) {
		if g.Status != spec.StatusSucceeded || g.EpochsCompleted != 3 || len(g.History.ValLoss) != 3 || g.Iterations != 3*16 {
			t.Errorf("%s resumed: %+v", run, g)
		}
	}
}

// A run killed after its last checkpoint (its end and export lost) resumed in a group ends without
// training again, with its history and model, and leaves the group to the others at once.
func TestFusedGroupFinishesARunKilledAfterItsLastCheckpoint(t *testing.T) {
	dir := t.TempDir()
	done := fusedJob(t, dir, "done", 2, lrInit(0.001, "xavier", 5))
	first := ends(serveCommands(t, nil, spec.Command{Job: &done}).msgs)["done"]
	if first == nil || first.Status != spec.StatusSucceeded {
		t.Fatalf("the first attempt: %+v", first)
	}
	if err := os.RemoveAll(filepath.Join(done.Dir, spec.SavedModelDir)); err != nil {
		t.Fatal(err)
	}
	done.Resume = true
	group := []spec.Job{done, fusedJob(t, dir, "fresh", 2, lrInit(0.002, "he_normal", 6))}
	s := serveCommands(t, nil, spec.Command{Fused: group})
	if s.log != "" {
		t.Fatalf("the group was not fused: %s", s.log)
	}
	e := ends(s.msgs)
	if g := e["done"]; g == nil || g.Status != spec.StatusSucceeded || !reflect.DeepEqual(g.History, first.History) || g.Model == "" {
		t.Errorf("the finished run resumed in a group: %+v, want its first history %+v and a model", g, first.History)
	}
	if g := e["fresh"]; g == nil || g.Status != spec.StatusSucceeded || g.EpochsCompleted != 2 {
		t.Errorf("the fresh member: %+v", g)
	}
	checkRunDir(t, done.Dir, 2)
}
