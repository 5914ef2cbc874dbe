#!/usr/bin/env python3
"""T trials of the lab network or the convnet trained at once in JAX, for scripts/bench_sweep; prints one JSON document.

The way a JAX user trains a sweep of small models: the trials' parameters and Adam state stacked along a
leading axis, the train step of one trial (forward, jax.value_and_grad, Keras 3's Adam) jax.vmap-ped over
the trials with each trial's own learning rate and batch indices, and jax.lax.scan over the epoch's steps in
one jax.jit call with the state donated. Each step gathers every trial's batch from the training set on the
device (x[idx] under vmap); every trial has its own shuffled order per epoch, drawn on the host. With
--shared the trials share their seed and so their batches, as in a sweep that leaves the seed alone: the
step gathers the one batch and the vmap maps the parameters, not the batch (in_axes None), so XLA's dots
take the batch once against every trial's weights. Per-step, per-trial losses come out of the scan, as
tfsweep's fused step returns them. --epoch-loop step calls the vmap-ped step jitted once per batch instead of
the scan; --over-trials map runs the trials one after another inside the step (lax.map) instead of vmap.

Networks (--network): mlp, 784 → 128 → 64 → 10, tanh, with --batchnorm a BatchNormalization after each
hidden Dense (batch statistics in the step, the moving averages returned updated and carried as state);
convnet, scripts/bench_convnet_jax.py's network (Keras' simple MNIST convnet, dropout 0.5 with each trial's
key). The trials differ as in tfsweep's BenchmarkSweep: initialiser (xavier = Keras' GlorotNormal,
glorot_uniform, he_normal, he_uniform, in turn), seed (unless --shared) and learning rate (0.0005·(1 + t)).
Softmax cross-entropy, on the first --examples MNIST training images / 255, full batches only.
The first epoch compiles; epoch_seconds lists every epoch's wall time and cpu_seconds its CPU time (user and
system, all threads; scripts/bench_sweep times the later ones), epoch_losses every epoch's mean loss per
trial, params one trial's parameter count.
Only jax and numpy are needed (scripts/setup-python.sh jax).
"""

import argparse
import resource
import sys
import time

import numpy as np

from bench_convnet_jax import convnet
from bench_peers_jax import limit_threads
from keras_reference import load_split, run_json

BETA_1, BETA_2, EPSILON = 0.9, 0.999, 1e-7
BN_MOMENTUM, BN_EPSILON = 0.99, 1e-3
INITS = ("xavier", "glorot_uniform", "he_normal", "he_uniform")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default="data/mnist")
    p.add_argument("--trials", default=8, type=int)
    p.add_argument("--batch-size", default=128, type=int)
    p.add_argument("--examples", default=4096, type=int, help="training images per trial per epoch")
    p.add_argument("--epochs", default=2, type=int, help="the first one compiles (default 2)")
    p.add_argument("--hidden", default="128,64")
    p.add_argument("--threads", default=0, type=int, help="0 = XLA's default (all CPUs)")
    p.add_argument("--shared", action="store_true", help="every trial the same seed and batches")
    p.add_argument("--network", default="mlp", choices=("mlp", "convnet"))
    p.add_argument("--batchnorm", action="store_true", help="the MLP with batch norm after each hidden Dense")
    p.add_argument("--epoch-loop", default="scan", choices=("scan", "step"),
                   help="lax.scan over the epoch in one jitted call (default), or a jitted step per batch")
    p.add_argument("--over-trials", default="vmap", choices=("vmap", "map"),
                   help="the step over the trials: jax.vmap (default) or lax.map, one trial after another")
    args = p.parse_args(argv)
    if args.network == "convnet" and args.batchnorm:
        p.error("--batchnorm: the MLP's only")
    if min(args.trials, args.batch_size, args.examples, args.epochs) <= 0 or args.threads < 0:
        p.error("--trials, --batch-size, --examples and --epochs must be positive, --threads not negative")
    if args.batch_size > args.examples:
        p.error("--batch-size is larger than --examples")
    args.hidden = [int(s) for s in args.hidden.split(",")]
    return args


def run(args):
    x_train, y_train = load_split(args.data_dir, "train_images", "train_labels", "unit", args.examples)
    thread_note = limit_threads(args.threads)

    import jax
    import jax.numpy as jnp
    from jax import lax

    trials = args.trials
    kernel = kernel_initialiser()
    if args.network == "convnet":
        x_train = x_train.reshape(-1, 28, 28, 1)
        init, forward = convnet()
        params_of, loss_fn = convnet_trial(init, forward, kernel)
    else:
        params_of, loss_fn = mlp_trial([x_train.shape[1]] + args.hidden + [10], args.batchnorm, kernel)

    def trial_params(t):
        return params_of(jax.random.PRNGKey(1 if args.shared else t + 1), INITS[t % len(INITS)])

    stack = lambda trees: jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *trees)  # noqa: E731
    params, stats = stack([trial_params(t)[0] for t in range(trials)]), stack([trial_params(t)[1] for t in range(trials)])
    lrs = jnp.asarray([0.0005 * (1 + t) for t in range(trials)], jnp.float32)
    keys = jnp.stack([jax.random.PRNGKey(1000 + (0 if args.shared else t)) for t in range(trials)])

    def train_step(p, m, v, t, stats, lr, key, x, y):
        (loss, (stats, logits)), g = jax.value_and_grad(loss_fn, has_aux=True)(
            p, stats, x, y, jax.random.fold_in(key, t.astype(jnp.int32)))
        t = t + 1.0
        alpha = lr * jnp.sqrt(1 - BETA_2 ** t) / (1 - BETA_1 ** t)
        m = jax.tree_util.tree_map(lambda m, g: m + (g - m) * (1 - BETA_1), m, g)
        v = jax.tree_util.tree_map(lambda v, g: v + (g * g - v) * (1 - BETA_2), v, g)
        p = jax.tree_util.tree_map(lambda p, m, v: p - alpha * m / (jnp.sqrt(v) + EPSILON), p, m, v)
        return p, m, v, t, stats, loss, jnp.mean(jnp.argmax(logits, axis=1) == y)

    if args.over_trials == "map":
        # lax.map: the trials one after another inside the step, each step a trial's own convolutions
        # (vmap turns a convolution with per-trial kernels into a grouped one, which XLA's CPU backend
        # runs tens of times slower).
        def trials_step(p, m, v, t, stats, lr, key, x_all, y_all, idx):
            if args.shared:
                x, y = x_all[idx], y_all[idx]
                return lax.map(lambda a: train_step(*a, x, y), (p, m, v, t, stats, lr, key))
            return lax.map(lambda a: train_step(*a[:-1], x_all[a[-1]], y_all[a[-1]]), (p, m, v, t, stats, lr, key, idx))
    elif args.shared:
        shared_step = jax.vmap(train_step, in_axes=(0, 0, 0, 0, 0, 0, 0, None, None))

        def trials_step(p, m, v, t, stats, lr, key, x_all, y_all, idx):  # idx [batch]: gathered once for all
            return shared_step(p, m, v, t, stats, lr, key, x_all[idx], y_all[idx])
    else:
        trials_step = jax.vmap(lambda p, m, v, t, stats, lr, key, x_all, y_all, idx:
                               train_step(p, m, v, t, stats, lr, key, x_all[idx], y_all[idx]),
                               in_axes=(0, 0, 0, 0, 0, 0, 0, None, None, 0))

    def epoch(state, lrs, keys, x_all, y_all, idx):  # idx [steps, trials, batch], or [steps, batch] shared
        def body(state, idx_k):
            p, m, v, t, stats, loss, acc = trials_step(*state, lrs, keys, x_all, y_all, idx_k)
            return (p, m, v, t, stats), (loss, acc)
        return lax.scan(body, state, idx)

    def stepped_epoch(state, lrs, keys, x_all, y_all, idx):
        # One jitted call per step from Python: XLA's CPU backend runs a convolution inside lax.scan's
        # loop far slower than in a call of its own.
        losses = []
        for idx_k in idx:
            *state, loss, _ = jit_step(*state, lrs, keys, x_all, y_all, idx_k)
            losses.append(loss)
        return tuple(state), (jnp.stack(losses), None)

    jit_step = jax.jit(trials_step, donate_argnums=(0, 1, 2, 3, 4))
    run_epoch = jax.jit(epoch, donate_argnums=0) if args.epoch_loop == "scan" else stepped_epoch
    zeros = lambda: jax.tree_util.tree_map(jnp.zeros_like, params)  # noqa: E731
    state = (params, zeros(), zeros(), jnp.zeros((trials,), jnp.float32), stats)
    xd, yd = jnp.asarray(x_train), jnp.asarray(y_train)
    n, bs = x_train.shape[0], args.batch_size
    steps = n // bs
    rng = np.random.default_rng(1)
    epoch_seconds, cpu_seconds, epoch_losses = [], [], []
    for _ in range(args.epochs):
        start, cpu_start = time.perf_counter(), cpu_time()
        if args.shared:
            orders = rng.permutation(n)[:steps * bs].reshape(steps, bs)
        else:
            orders = np.stack([rng.permutation(n)[:steps * bs].reshape(steps, bs) for _ in range(trials)], axis=1)
        state, (losses, _) = run_epoch(state, lrs, keys, xd, yd, jnp.asarray(orders.astype(np.int32)))
        epoch_losses.append(np.asarray(losses).mean(axis=0))  # waits for the epoch
        epoch_seconds.append(time.perf_counter() - start)
        cpu_seconds.append(cpu_time() - cpu_start)

    import jaxlib
    return {
        "system": f"jax-{args.over_trials}-{args.epoch_loop}",
        "network": args.network,
        "batchnorm": args.batchnorm,
        "shared_batches": args.shared,
        "status": "succeeded",
        "framework": f"jax {jax.__version__} (jaxlib {jaxlib.__version__}, numpy {np.__version__})",
        "device": str(jax.devices()[0]),
        "trials": trials,
        "params": sum(int(np.prod(a.shape[1:])) for a in jax.tree_util.tree_leaves(params)),
        "batch_size": bs,
        "examples": n,
        "steps_per_epoch": steps,
        "threads": thread_note,
        "epoch_losses": [[float(x) for x in e] for e in epoch_losses],
        "epoch_seconds": epoch_seconds,
        "cpu_seconds": cpu_seconds,
    }


def kernel_initialiser():
    """kernel(key, init, shape): Keras' VarianceScaling initialisers of a Dense or Conv2D kernel (fans over
    the receptive field): a normal truncated at 2σ (rescaled) or a uniform, scale / fan."""
    import jax
    import jax.numpy as jnp

    def kernel(key, init, shape):
        receptive = int(np.prod(shape[:-2]))
        fan_in, fan_out = shape[-2] * receptive, shape[-1] * receptive
        scale, fan = {"xavier": (1.0, (fan_in + fan_out) / 2), "glorot_uniform": (1.0, (fan_in + fan_out) / 2),
                      "he_normal": (2.0, fan_in), "he_uniform": (2.0, fan_in)}[init]
        variance = scale / fan
        if init.endswith("uniform"):
            limit = (3 * variance) ** 0.5
            return jax.random.uniform(key, shape, jnp.float32, -limit, limit)
        std = variance ** 0.5 / 0.87962566103423978
        return std * jax.random.truncated_normal(key, -2.0, 2.0, shape, jnp.float32)
    return kernel


def cross_entropy(logits, y):
    import jax
    import jax.numpy as jnp

    logp = jax.nn.log_softmax(logits)
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))


def mlp_trial(sizes, batchnorm, kernel):
    """One trial of the lab MLP: params_of(key, init) → (parameters, batch-norm moving statistics), and
    loss_fn(params, stats, x, y, key) → (loss, (new stats, logits)). With batch norm (Keras': after each
    hidden Dense, before tanh, momentum 0.99, epsilon 1e-3) the step normalises by the batch's mean and
    biased variance and returns the moving averages updated, as a JAX user threads them through a step."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    def params_of(key, init):
        keys = jax.random.split(key, len(sizes) - 1)
        params = {"dense": [(kernel(k, init, (a, b)), jnp.zeros((b,), jnp.float32))
                            for k, a, b in zip(keys, sizes[:-1], sizes[1:])]}
        stats = []
        if batchnorm:
            params["bn"] = [(jnp.ones((h,), jnp.float32), jnp.zeros((h,), jnp.float32)) for h in sizes[1:-1]]
            stats = [(jnp.zeros((h,), jnp.float32), jnp.ones((h,), jnp.float32)) for h in sizes[1:-1]]
        return params, stats

    def loss_fn(p, stats, x, y, _key):
        h, new_stats = x, []
        for i, (w, b) in enumerate(p["dense"][:-1]):
            h = h @ w + b
            if batchnorm:
                mean, var = jnp.mean(h, axis=0), jnp.var(h, axis=0)
                gamma, beta = p["bn"][i]
                h = (h - mean) * lax.rsqrt(var + BN_EPSILON) * gamma + beta
                moving_mean, moving_var = stats[i]
                new_stats.append((moving_mean * BN_MOMENTUM + lax.stop_gradient(mean) * (1 - BN_MOMENTUM),
                                  moving_var * BN_MOMENTUM + lax.stop_gradient(var) * (1 - BN_MOMENTUM)))
            h = jnp.tanh(h)
        w, b = p["dense"][-1]
        logits = h @ w + b
        return cross_entropy(logits, y), (new_stats, logits)

    return params_of, loss_fn


def convnet_trial(init, forward, kernel):
    """One trial of Keras' simple MNIST convnet (scripts/bench_convnet_jax.py's network, dropout on in
    training), in mlp_trial's terms: no moving statistics."""
    import jax

    def params_of(key, name):
        return init(jax.random.split(key, 3), lambda k, shape: kernel(k, name, shape)), []

    def loss_fn(p, stats, x, y, key):
        logits = forward(p, x, key)
        return cross_entropy(logits, y), (stats, logits)

    return params_of, loss_fn


def cpu_time():
    """User and system CPU seconds of this process, all its threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv):
    return run_json("bench_sweep_jax", run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
