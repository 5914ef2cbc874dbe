package worker

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/tfsweep/tfsweep/model"
	"github.com/tfsweep/tfsweep/spec"
	"github.com/tfsweep/tfsweep/trainer"
)

// A fused group trains its members in one model.Fused, each member a run of its own: every member
// runs a lone job's code (fit, setUp, run.fit) in a goroutine of its own, with its own Model (the
// shadow: checkpoints, export, histograms, graph, pictures), and trains through its member, the
// trainer.Model that goes to the group for its steps and validations. The group runs one fused step
// once every member still training has asked for one, and answers each; a member that ends for any
// reason leaves, and its trial trains on masked (learning rate 0, its results unread) so that the
// others go on. After every fused validation each validating member's trial state is copied into
// its shadow, so its callbacks see what they would see in a lone run; a member's shadow state goes
// into the group before its first step (a resumed run's checkpoint) and after its weights were set
// (early stopping's restore).

// group is the fused model and its members, trial t being members[t].
type group struct {
	mu      sync.Mutex // the Fused and every member's fields below it
	f       *model.Fused
	members []*member
	losses  []float32
	accs    []float32
	rows    [][]int32
	// The epoch messages of the members one validation answered go out in trial order, so that the
	// front, whose scheduler decides in the order epochs arrive, sees one order every time.
	turns    *sync.Cond // on mu: a member passed its turn or left
	answered []*member  // by the last validation, in trial order
	next     int        // answered[next] is the member whose epoch message goes out next
}

// member is one job's place in a group. It is the trainer.Model its fit trains.
type member struct {
	g        *group
	t        int // its trial in the group
	run      string
	prepared prepared
	verdicts chan spec.Verdict // the front's verdicts on its epochs
	shadow   *model.Model      // set by setUp before the member's first request

	active        bool     // still training: the group waits for its requests
	synced        bool     // the group holds the shadow's state
	pending       *request // its request waiting for the group's next operation
	steps         int64    // its optimizer steps, once synced
	probabilities []float32
}

// request is a member's step (a batch) or validation (no batch), and the group's answer.
type request struct {
	batch           []int32
	loss, acc       float32
	valLoss, valAcc float64
	err             error
	done            chan struct{}
}

func newGroup(f *model.Fused, jobs []spec.Job, prepared []prepared) *group {
	g := &group{f: f, losses: make([]float32, len(prepared)), accs: make([]float32, len(prepared)), rows: make([][]int32, len(prepared))}
	g.turns = sync.NewCond(&g.mu)
	for t, p := range prepared {
		g.members = append(g.members, &member{g: g, t: t, run: jobs[t].Run, prepared: p, verdicts: make(chan spec.Verdict, 1), active: true})
	}
	return g
}

var (
	_ trainer.Model             = (*member)(nil)
	_ trainer.LearningRater     = (*member)(nil)
	_ trainer.WeightSnapshotter = (*member)(nil)
)

// submit hands r to the group and waits for its answer.
func (m *member) submit(r *request) error {
	r.done = make(chan struct{})
	m.g.mu.Lock()
	if !m.active {
		m.g.mu.Unlock()
		return errors.New("fused group: the member has left")
	}
	m.pending = r
	m.g.serve()
	m.g.mu.Unlock()
	<-r.done
	return r.err
}

func (m *member) TrainSteps(batches [][]int32, losses, accuracies []float32) error {
	for i, b := range batches {
		r := &request{batch: b}
		if err := m.submit(r); err != nil {
			return err
		}
		losses[i], accuracies[i] = r.loss, r.acc
	}
	return nil
}

func (m *member) Validate() (loss, acc float64, err error) {
	r := &request{}
	err = m.submit(r)
	return r.valLoss, r.valAcc, err
}

// Iterations is the member's step count: its shadow's until it joins the group's steps.
func (m *member) Iterations() int64 {
	m.g.mu.Lock()
	defer m.g.mu.Unlock()
	if !m.synced {
		return m.shadow.Iterations()
	}
	return m.steps
}

func (m *member) LearningRate() (float64, error) {
	m.g.mu.Lock()
	defer m.g.mu.Unlock()
	if !m.synced {
		return m.shadow.LearningRate()
	}
	return m.g.f.TrialLearningRate(m.t)
}

// SetLearningRate sets the rate in the shadow, whose checkpoint holds it, and in the group.
func (m *member) SetLearningRate(lr float64) error {
	m.g.mu.Lock()
	defer m.g.mu.Unlock()
	if err := m.shadow.SetLearningRate(lr); err != nil {
		return err
	}
	if !m.synced {
		return nil
	}
	return m.g.f.SetTrialLearningRate(m.t, lr)
}

// SnapshotWeights copies the shadow's weights, which are the trial's after every validation: Keras
// callbacks take their snapshots at an epoch's end.
func (m *member) SnapshotWeights() (any, error) { return fitModel{m.shadow}.SnapshotWeights() }

// RestoreWeights sets the shadow's weights; the group takes the shadow's state before the member's
// next step.
func (m *member) RestoreWeights(snapshot any) error {
	m.g.mu.Lock()
	defer m.g.mu.Unlock()
	m.synced = false
	return fitModel{m.shadow}.RestoreWeights(snapshot)
}

// ValidationProbabilities are the member's from the group's last validation, for its pictures.
func (m *member) ValidationProbabilities() []float32 {
	m.g.mu.Lock()
	defer m.g.mu.Unlock()
	if len(m.probabilities) == 0 {
		return nil
	}
	return m.probabilities
}

// leave takes the member out of the group's steps for good; its trial trains on masked. Leaving
// twice is leaving once.
func (m *member) leave() {
	g := m.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if !m.active {
		return
	}
	m.active, m.pending = false, nil
	// Frozen: its results are unread, and its weights then stay what they were.
	_ = g.f.SetTrialLearningRate(m.t, 0)
	g.turns.Broadcast() // a member waiting for its turn behind this one goes on
	g.serve()
}

// awaitTurn waits until every member the last validation answered before m has sent its epoch
// message or left. The members ahead of m are in their epochs' callbacks, which wait for no member.
func (m *member) awaitTurn() {
	g := m.g
	g.mu.Lock()
	defer g.mu.Unlock()
	i := slices.Index(g.answered, m)
	for i >= 0 {
		for g.next < i && !g.answered[g.next].active {
			g.next++
		}
		if g.next >= i {
			return
		}
		g.turns.Wait()
	}
}

// passTurn lets the members after m send theirs.
func (m *member) passTurn() {
	g := m.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if i := slices.Index(g.answered, m); i >= g.next {
		g.next = i + 1
	}
	g.turns.Broadcast()
}

// serve runs the group's next operation once every active member has a request: a validation when
// any asks for one (the steps wait for the next call), else one fused step. g.mu is held.
func (g *group) serve() {
	var steps, validations []*member
	for _, m := range g.members {
		if !m.active {
			continue
		}
		if m.pending == nil {
			return
		}
		if m.pending.batch == nil {
			validations = append(validations, m)
		} else {
			steps = append(steps, m)
		}
	}
	if len(steps)+len(validations) == 0 {
		return
	}
	if !g.sync(append(slices.Clone(steps), validations...)) {
		return
	}
	if len(validations) > 0 {
		g.validate(validations)
		return
	}
	g.step(steps)
}

// sync copies into the group, in one call, the state of every member of ms it does not hold. When
// the copy fails those members are answered with the error and sync reports false (the group waits
// for their next requests or their leaving).
func (g *group) sync(ms []*member) bool {
	var trials []int
	var shadows []*model.Model
	var copied []*member
	for _, m := range ms {
		if !m.synced {
			trials, shadows, copied = append(trials, m.t), append(shadows, m.shadow), append(copied, m)
		}
	}
	if len(copied) == 0 {
		return true
	}
	if err := g.f.CopyTrialsFrom(trials, shadows); err != nil {
		for _, m := range copied {
			m.answer(fmt.Errorf("fused group: take the run's state: %w", err))
		}
		return false
	}
	for _, m := range copied {
		m.synced, m.steps = true, m.shadow.Iterations()
	}
	return true
}

func (m *member) answer(err error) {
	r := m.pending
	m.pending = nil
	r.err = err
	close(r.done)
}

// validate runs one fused validation and answers ms, each with its state copied to its shadow.
func (g *group) validate(ms []*member) {
	losses, accs, err := g.f.Validate()
	if err == nil {
		trials, shadows := make([]int, len(ms)), make([]*model.Model, len(ms))
		for i, m := range ms {
			trials[i], shadows[i] = m.t, m.shadow
		}
		if err = g.f.CopyTrialsTo(trials, shadows); err != nil {
			err = fmt.Errorf("fused group: bring the run's model up to date: %w", err)
		}
	}
	g.answered, g.next = ms, 0
	for _, m := range ms {
		if err == nil {
			m.pending.valLoss, m.pending.valAcc = losses[m.t], accs[m.t]
			if p := g.f.ValidationProbabilities(m.t); p != nil {
				m.probabilities = append(m.probabilities[:0], p...)
			}
		}
		m.answer(err)
	}
}

// step runs one fused step of the batches of ms, the active members, and answers them. The trials
// of members that left get any batch of the step's size. When every batch is one, it is one shared
// step (trials that share a seed shuffle alike).
func (g *group) step(ms []*member) {
	first := ms[0].pending.batch
	shared := true
	for _, m := range ms {
		if len(m.pending.batch) != len(first) {
			for _, m := range ms {
				m.answer(fmt.Errorf("fused group: batches of %d and %d examples in one step", len(first), len(m.pending.batch)))
			}
			return
		}
		shared = shared && slices.Equal(m.pending.batch, first)
	}
	var err error
	if shared {
		err = g.f.TrainSharedStep(first, g.losses, g.accs)
	} else {
		for t := range g.rows {
			g.rows[t] = first
		}
		for _, m := range ms {
			g.rows[m.t] = m.pending.batch
		}
		err = g.f.TrainStep(g.rows, g.losses, g.accs)
	}
	for _, m := range ms {
		if err == nil {
			m.steps++
			m.pending.loss, m.pending.acc = g.losses[m.t], g.accs[m.t]
		}
		m.answer(err)
	}
}
