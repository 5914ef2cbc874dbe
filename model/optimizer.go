package model

import (
	"math"

	"github.com/tfsweep/tfsweep/spec"
	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/op"
)

// newVarFunc is buildGraph's variable constructor: layer (here the optimizer's Keras name), name,
// shape, dtype, trainable, initial value.
type newVarFunc func(string, string, []int64, tf.DataType, bool, func(*op.Scope) tf.Output) *variable

// buildOptimizer adds the Keras 3 optimizer's update of every trainable variable from the
// TensorFlow gradients, with its slots named as Keras names them (<optimizer>/<layer>_<weight>_<slot>),
// for the step st, and returns the op that ends it: the iteration increment, which waits for every
// update and every moving-statistic assignment.
//
// The order within a step is Keras' BaseOptimizer.apply: weight decay (variable -= variable·wd·lr)
// on every trainable variable, then the optimizer's update_step, then iterations += 1. Every
// learning rate is st.learningRate, the schedule at the iterations before the increment. Adam and
// AdamW use ResourceApplyAdam, whose CPU kernel computes Keras 3's Adam formula term for term
// (α = lr·√(1−β2^t)/(1−β1^t), m += (g−m)(1−β1), v += (g²−v)(1−β2), var −= m·α/(√v+ε), ε outside
// the root and not bias corrected); the one difference is that the kernel forms 1−β1 in float32
// (0.100000024) where Keras rounds the Python double 1−0.9 (0.1f), 2e-7 relative. It stays because
// tfsweep's Adam runs must not change bit for bit. The other optimizers are Keras' update_step op
// for op, each slot's new value computed from one read of it and assigned once (Keras' assign_add
// followed by reads of the slot sees exactly that value).
func (b *graph) buildOptimizer(s *op.Scope, cfg Config, optName string, newVar newVarFunc, st *step) *tf.Operation {
	lr := st.learningRate
	f32 := func(name string, v float64) tf.Output { return op.Const(s.SubScope(name), float32(v)) }
	slot := newSlotFunc(optName, newVar)
	gradOps := gradientOps(st)

	var global []*tf.Operation // per-step assignments that update_step reads the result of (Nadam)
	var nadamU tf.Output
	switch cfg.Optimizer {
	case "nadam":
		var assign *tf.Operation
		nadamU, assign = nadamUProduct(s, optName, newVar, st.iterRead)
		global = append(global, assign)
	}

	updates := append([]*tf.Operation(nil), st.train.bnUpdate...)
	updates = append(updates, global...)
	var beta1Power, beta2Power tf.Output
	if cfg.Optimizer == "adam" || cfg.Optimizer == "adamw" {
		step := iterationsPlus(s, "local_step", st.iterRead, 1)
		beta1Power = op.Pow(s.SubScope("beta_1_power"), f32("beta_1", adamBeta1), step)
		beta2Power = op.Pow(s.SubScope("beta_2_power"), f32("beta_2", adamBeta2), step)
	}
	for i, v := range b.trainable {
		name := keras3SlotName(v.name)
		vs := s.SubScope("update_" + name)
		g := st.grads[i]
		var deps []*tf.Operation
		if cfg.WeightDecay > 0 {
			deps = append(deps, weightDecay(s, name, v, cfg.WeightDecay, lr, gradOps))
		}
		us := vs.WithControlDependencies(deps...)
		switch cfg.Optimizer {
		case "adam", "adamw":
			m, vel := slot(v, "momentum", 0), slot(v, "velocity", 0)
			updates = append(updates, op.ResourceApplyAdam(us, v.handle, m.handle, vel.handle,
				beta1Power, beta2Power, lr, f32("beta_1", adamBeta1), f32("beta_2", adamBeta2), f32("epsilon", adamEpsilon), g))
		case "sgd":
			updates = append(updates, sgdUpdate(us, cfg, v, g, lr, slot)...)
		case "rmsprop":
			updates = append(updates, rmspropUpdate(us, cfg, v, g, lr, slot)...)
		case "adagrad":
			updates = append(updates, adagradUpdate(us, v, g, lr, slot)...)
		case "nadam":
			updates = append(updates, nadamUpdate(us.WithControlDependencies(global...), v, g, lr, nadamU, st.iterRead, slot)...)
		}
	}
	return op.AssignAddVariableOp(s.SubScope("increment_iteration").WithControlDependencies(append(updates, st.iterRead.Op)...),
		b.iterations.handle, op.Const(s.SubScope("increment"), int64(1)))
}

// gradientOps are the ops that compute a step's gradients, loss and accuracy from the forward pass'
// reads: nothing may write a trainable variable before all of them exist. Updates that take the
// gradient as input wait for it anyway; weight decay, which does not, waits for these explicitly.
func gradientOps(st *step) []*tf.Operation {
	var ops []*tf.Operation
	for _, g := range st.grads {
		ops = append(ops, g.Op)
	}
	return append(ops, st.loss.Op, st.accuracy.Op)
}

// iterationsPlus is iterations + k as float32, Keras' ops.cast(self.iterations + k, dtype): local_step
// for k = 1.
func iterationsPlus(s *op.Scope, name string, iterations tf.Output, k int64) tf.Output {
	ss := s.SubScope(name)
	return op.Cast(ss, op.AddV2(ss, iterations, op.Const(ss.SubScope("k"), k)), tf.Float)
}

// nadamUProduct adds Nadam._backend_update_step's u_product *= β1·(1 − 0.5·0.96^(iterations+1)),
// which the updates run after and read the new value of; it returns that value and its assignment.
func nadamUProduct(s *op.Scope, optName string, newVar newVarFunc, iterations tf.Output) (tf.Output, *tf.Operation) {
	f32 := func(name string, v float64) tf.Output { return op.Const(s.SubScope(name), float32(v)) }
	u := newVar(optName, "variable", nil, tf.Float, false, func(s *op.Scope) tf.Output { return op.Const(s, float32(1)) })
	us := s.SubScope("u_product")
	factor := op.Sub(us.SubScope("factor"), f32("one_u", 1),
		op.Mul(us.SubScope("half_pow"), f32("half", 0.5), op.Pow(us, f32("decay_u", nadamDecay), iterationsPlus(s, "u_local_step", iterations, 1))))
	uNew := op.Mul(us, op.Mul(us.SubScope("times_beta_1"), op.ReadVariableOp(us.SubScope("read"), u.handle, tf.Float), f32("beta_1_u", adamBeta1)), factor)
	return uNew, op.AssignVariableOp(us.SubScope("assign"), u.handle, uNew)
}

// weightDecay is the TensorFlow backend's _apply_weight_decay, variable.assign_sub(variable * wd * lr),
// on the optimizer's scope s; it waits for gradOps (gradientOps).
func weightDecay(s *op.Scope, name string, v *variable, wd float64, lr tf.Output, gradOps []*tf.Operation) *tf.Operation {
	ws := s.SubScope("weight_decay_" + name).WithControlDependencies(gradOps...)
	decay := op.Mul(ws, op.Mul(ws.SubScope("times_wd"), op.ReadVariableOp(ws.SubScope("read"), v.handle, tf.Float), op.Const(s.SubScope("weight_decay"), float32(wd))), lr)
	return op.AssignSubVariableOp(ws, v.handle, decay)
}

type slotFunc func(v *variable, name string, initial float32) *variable

// newSlotFunc makes the optimizer's slots of a variable, Keras-named <optimizer>/<layer>_<weight>_<slot>,
// filled with an initial value.
func newSlotFunc(optName string, newVar newVarFunc) slotFunc {
	return func(v *variable, name string, initial float32) *variable {
		fill := func(s *op.Scope) tf.Output {
			dims := make([]int32, len(v.shape))
			for i, d := range v.shape {
				dims[i] = int32(d)
			}
			return op.Fill(s, op.Const(s.SubScope("shape"), dims), op.Const(s.SubScope("value"), initial))
		}
		return newVar(optName, keras3SlotName(v.name)+"_"+name, v.shape, tf.Float, false, fill)
	}
}

// adagradUpdate is Keras' Adagrad.update_step: accumulator += g², variable -= lr·g/√(accumulator+ε).
func adagradUpdate(us *op.Scope, v *variable, g, lr tf.Output, slot slotFunc) []*tf.Operation {
	acc := slot(v, "accumulator", adagradInitial)
	accNew := op.AddV2(us.SubScope("accumulator"), op.ReadVariableOp(us.SubScope("read_accumulator"), acc.handle, tf.Float), op.Square(us, g))
	delta := op.RealDiv(us.SubScope("delta"), op.Mul(us.SubScope("lr_grad"), lr, g),
		op.Sqrt(us, op.AddV2(us.SubScope("plus_epsilon"), accNew, op.Const(us.SubScope("epsilon"), float32(adagradEpsilon)))))
	return []*tf.Operation{op.AssignVariableOp(us.SubScope("assign_accumulator"), acc.handle, accNew),
		op.AssignSubVariableOp(us, v.handle, delta)}
}

// sgdUpdate is Keras 3's SGD.update_step: without momentum var −= g·lr; with it
// m = m·momentum − g·lr, then var += m, or with Nesterov var += m·momentum − g·lr.
func sgdUpdate(s *op.Scope, cfg Config, v *variable, g, lr tf.Output, slot slotFunc) []*tf.Operation {
	gLR := op.Mul(s.SubScope("grad_lr"), g, lr)
	if cfg.Momentum == 0 {
		return []*tf.Operation{op.AssignSubVariableOp(s, v.handle, gLR)}
	}
	m := slot(v, "momentum", 0)
	momentum := op.Const(s.SubScope("momentum_coefficient"), float32(cfg.Momentum))
	mNew := op.Sub(s.SubScope("momentum"), op.Mul(s.SubScope("decayed"), op.ReadVariableOp(s.SubScope("read_momentum"), m.handle, tf.Float), momentum), gLR)
	delta := mNew
	if cfg.Nesterov {
		delta = op.Sub(s.SubScope("nesterov"), op.Mul(s.SubScope("lookahead"), mNew, momentum), op.Mul(s.SubScope("grad_lr_again"), g, lr))
	}
	return []*tf.Operation{op.AssignVariableOp(s.SubScope("assign_momentum"), m.handle, mNew), op.AssignAddVariableOp(s, v.handle, delta)}
}

// rmspropUpdate is Keras 3's RMSprop.update_step with centered=False: velocity = ρ·velocity +
// (1−ρ)·g², increment = lr·g / √(velocity + ε) (ε inside the root), then var −= increment, or with
// momentum m = momentum·m + increment and var −= m.
func rmspropUpdate(s *op.Scope, cfg Config, v *variable, g, lr tf.Output, slot slotFunc) []*tf.Operation {
	vel := slot(v, "velocity", 0)
	var mom *variable
	if cfg.Momentum > 0 { // Keras builds the momentum slots after the velocities
		mom = slot(v, "momentum", 0)
	}
	c := func(name string, x float64) tf.Output { return op.Const(s.SubScope(name), float32(x)) }
	velNew := op.AddV2(s.SubScope("velocity"),
		op.Mul(s.SubScope("decayed"), c("rho", rmspropRho), op.ReadVariableOp(s.SubScope("read_velocity"), vel.handle, tf.Float)),
		op.Mul(s.SubScope("fresh"), c("one_minus_rho", 1-rmspropRho), op.Square(s, g)))
	increment := op.RealDiv(s.SubScope("increment"), op.Mul(s.SubScope("lr_grad"), lr, g),
		op.Sqrt(s, op.AddV2(s.SubScope("denominator"), velNew, c("epsilon", rmspropEpsilon))))
	ops := []*tf.Operation{op.AssignVariableOp(s.SubScope("assign_velocity"), vel.handle, velNew)}
	if mom == nil {
		return append(ops, op.AssignSubVariableOp(s, v.handle, increment))
	}
	momNew := op.AddV2(s.SubScope("momentum"),
		op.Mul(s.SubScope("momentum_decayed"), c("momentum_coefficient", cfg.Momentum), op.ReadVariableOp(s.SubScope("read_momentum"), mom.handle, tf.Float)),
		increment)
	return append(ops, op.AssignVariableOp(s.SubScope("assign_momentum"), mom.handle, momNew), op.AssignSubVariableOp(s, v.handle, momNew))
}

// nadamUpdate is Keras 3's Nadam.update_step, op for op, with u_product_t the momentum-cache
// product already advanced for this step.
func nadamUpdate(s *op.Scope, v *variable, g, lr, uProduct, iterations tf.Output, slot slotFunc) []*tf.Operation {
	m, vel := slot(v, "momentum", 0), slot(v, "velocity", 0)
	c := func(name string, x float64) tf.Output { return op.Const(s.SubScope(name), float32(x)) }
	localStep, nextStep := iterationsPlus(s, "local_step", iterations, 1), iterationsPlus(s, "next_step", iterations, 2)
	decay, beta1, beta2 := c("decay", nadamDecay), c("beta_1", adamBeta1), c("beta_2", adamBeta2)
	// u = β1 · (1.0 − 0.5·decay^step)
	u := func(name string, at tf.Output) tf.Output {
		us := s.SubScope(name)
		return op.Mul(us, beta1, op.Sub(us.SubScope("one_minus"), c(name+"_one", 1), op.Mul(us.SubScope("half"), c(name+"_half", 0.5), op.Pow(us, decay, at))))
	}
	uT, uT1 := u("u_t", localStep), u("u_t_1", nextStep)
	uProductT1 := op.Mul(s.SubScope("u_product_t_1"), uProduct, uT1)
	beta2Power := op.Pow(s.SubScope("beta_2_power"), beta2, localStep)
	one := c("one", 1)

	mNew := op.AddV2(s.SubScope("momentum"), op.ReadVariableOp(s.SubScope("read_momentum"), m.handle, tf.Float), slotStep(s, "momentum_step", g, m, op.Sub(s.SubScope("one_minus_beta_1"), one, beta1), false))
	vNew := op.AddV2(s.SubScope("velocity"), op.ReadVariableOp(s.SubScope("read_velocity"), vel.handle, tf.Float), slotStep(s, "velocity_step", g, vel, op.Sub(s.SubScope("one_minus_beta_2"), one, beta2), true))
	mHat := op.AddV2(s.SubScope("m_hat"),
		op.RealDiv(s.SubScope("m_hat_momentum"), op.Mul(s.SubScope("u_t_1_m"), uT1, mNew), op.Sub(s.SubScope("one_minus_u_product_t_1"), one, uProductT1)),
		op.RealDiv(s.SubScope("m_hat_grad"), op.Mul(s.SubScope("grad_weight"), op.Sub(s.SubScope("one_minus_u_t"), one, uT), g), op.Sub(s.SubScope("one_minus_u_product_t"), one, uProduct)))
	vHat := op.RealDiv(s.SubScope("v_hat"), vNew, op.Sub(s.SubScope("one_minus_beta_2_power"), one, beta2Power))
	delta := op.RealDiv(s.SubScope("delta"), op.Mul(s.SubScope("m_hat_lr"), mHat, lr),
		op.AddV2(s.SubScope("denominator"), op.Sqrt(s, vHat), c("epsilon", adamEpsilon)))
	return []*tf.Operation{
		op.AssignVariableOp(s.SubScope("assign_momentum"), m.handle, mNew),
		op.AssignVariableOp(s.SubScope("assign_velocity"), vel.handle, vNew),
		op.AssignSubVariableOp(s, v.handle, delta),
	}
}

// slotStep is Keras' (x − slot)·(1 − β) of an assign_add, with x = g or g² (square), from a read of the
// slot of its own.
func slotStep(s *op.Scope, name string, g tf.Output, slot *variable, oneMinusBeta tf.Output, square bool) tf.Output {
	ss := s.SubScope(name)
	x := g
	if square {
		x = op.Square(ss, g)
	}
	return op.Mul(ss, op.Sub(ss.SubScope("diff"), x, op.ReadVariableOp(ss.SubScope("read"), slot.handle, tf.Float)), oneMinusBeta)
}

// buildSchedule adds a Keras 3 LearningRateSchedule's __call__(iterations) in float32, op for op.
func buildSchedule(s *op.Scope, sch spec.Schedule, initial float64, iterations tf.Output) tf.Output {
	c := func(name string, x float64) tf.Output { return op.Const(s.SubScope(name), float32(x)) }
	step := op.Cast(s.SubScope("step"), iterations, tf.Float)
	initialLR := c("initial_learning_rate", initial)
	// CosineDecay._decay_function: decay_from_lr · ((1−α)·½(1+cos(π·step/decay_steps)) + α).
	cosineDecay := func(ds *op.Scope, step, decaySteps, from tf.Output) tf.Output {
		fraction := op.RealDiv(ds.SubScope("completed_fraction"), step, decaySteps)
		cosine := op.Mul(ds.SubScope("cosine_decayed"), c("half", 0.5),
			op.AddV2(ds.SubScope("one_plus_cos"), c("one", 1), op.Cos(ds, op.Mul(ds.SubScope("angle"), c("pi", math.Pi), fraction))))
		decayed := op.AddV2(ds.SubScope("decayed"), op.Mul(ds.SubScope("scaled"), c("one_minus_alpha", 1-sch.Alpha), cosine), c("alpha", sch.Alpha))
		return op.Mul(ds, from, decayed)
	}
	switch sch.Kind {
	case spec.ScheduleExponential:
		p := op.RealDiv(s.SubScope("p"), step, c("decay_steps", float64(sch.DecaySteps)))
		if sch.Staircase {
			p = op.Floor(s.SubScope("staircase"), p)
		}
		return op.Mul(s, initialLR, op.Pow(s.SubScope("decay"), c("decay_rate", sch.DecayRate), p))
	case spec.ScheduleCosine:
		decaySteps := c("decay_steps", float64(sch.DecaySteps))
		if sch.WarmupTarget == 0 {
			return cosineDecay(s.SubScope("decay"), op.Minimum(s.SubScope("clipped_step"), step, decaySteps), decaySteps, initialLR)
		}
		target, warmupSteps := c("warmup_target", sch.WarmupTarget), c("warmup_steps", float64(sch.WarmupSteps))
		clipped := op.Minimum(s.SubScope("clipped_step"), step, op.AddV2(s.SubScope("total_steps"), decaySteps, warmupSteps))
		ws := s.SubScope("warmup")
		warm := op.AddV2(ws, op.Mul(ws.SubScope("rise"), op.Sub(ws.SubScope("total_step_delta"), target, initialLR),
			op.RealDiv(ws.SubScope("completed_fraction"), clipped, warmupSteps)), initialLR)
		decayed := cosineDecay(s.SubScope("decay"), op.Sub(s.SubScope("decay_step"), clipped, warmupSteps), decaySteps, target)
		return op.Select(s, op.Less(s.SubScope("in_warmup"), clipped, warmupSteps), warm, decayed)
	case spec.ScheduleStep:
		// PiecewiseConstantDecay: Σ cast(step in range)·value over the ranges, on the int64 step.
		term := func(name string, in tf.Output, value float64) tf.Output {
			ts := s.SubScope(name)
			return op.Mul(ts, op.Cast(ts, in, tf.Float), c(name+"_value", value))
		}
		bound := func(i int) tf.Output { return op.Const(s.SubScope("boundary"), sch.Boundaries[i]) }
		last := len(sch.Boundaries) - 1
		result := op.AddV2(s.SubScope("first_range"), c("zero", 0),
			term("below_first", op.LessEqual(s.SubScope("below_first_test"), iterations, bound(0)), sch.Values[0]))
		result = op.AddV2(s.SubScope("last_range"), result,
			term("above_last", op.Greater(s.SubScope("above_last_test"), iterations, bound(last)), sch.Values[last+1]))
		for i := 1; i <= last; i++ {
			rs := s.SubScope("range")
			in := op.LogicalAnd(rs, op.Greater(rs.SubScope("above"), iterations, bound(i-1)), op.LessEqual(rs.SubScope("below"), iterations, bound(i)))
			result = op.AddV2(rs.SubScope("sum"), result, term("in_range", in, sch.Values[i]))
		}
		return result
	}
	return initialLR
}
