#!/usr/bin/env python3
"""T trials of the lab network trained at once in JAX, for scripts/bench_sweep; prints one JSON document.

The way a JAX user trains a sweep of small models: the trials' parameters and Adam state stacked along a
leading axis, the train step of one trial (forward, jax.value_and_grad, Keras 3's Adam) jax.vmap-ped over
the trials with each trial's own learning rate and batch indices, and jax.lax.scan over the epoch's steps in
one jax.jit call with the state donated. Each step gathers every trial's batch from the training set on the
device (x[idx] under vmap); every trial has its own shuffled order per epoch, drawn on the host. With
--shared the trials share their seed and so their batches, as in a sweep that leaves the seed alone: the
step gathers the one batch and the vmap maps the parameters, not the batch (in_axes None), so XLA's dots
take the batch once against every trial's weights. Per-step, per-trial losses and accuracies come out of
the scan, as tfsweep's fused step returns them.

The trials differ as in tfsweep's BenchmarkSweep: initialiser (xavier = Keras' GlorotNormal, glorot_uniform,
he_normal, he_uniform, in turn), seed (unless --shared) and learning rate (0.0005·(1 + t)). Network 784 → 128 → 64 → 10,
tanh, softmax cross-entropy, on the first --examples MNIST training images / 255, full batches only.
The first epoch compiles; epoch_seconds lists every epoch's wall time and cpu_seconds its CPU time (user and
system, all threads; scripts/bench_sweep times the later ones).
Only jax and numpy are needed (scripts/setup-python.sh jax).
"""

import argparse
import resource
import sys
import time

import numpy as np

from bench_peers_jax import limit_threads
from keras_reference import load_split, run_json

BETA_1, BETA_2, EPSILON = 0.9, 0.999, 1e-7
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
    args = p.parse_args(argv)
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

    sizes = [x_train.shape[1]] + args.hidden + [10]
    trials = args.trials

    def kernel(key, init, fan_in, fan_out):
        # Keras' VarianceScaling: normal truncated at 2σ (rescaled) or uniform, scale/fan.
        scale, fan = {"xavier": (1.0, (fan_in + fan_out) / 2), "glorot_uniform": (1.0, (fan_in + fan_out) / 2),
                      "he_normal": (2.0, fan_in), "he_uniform": (2.0, fan_in)}[init]
        variance = scale / fan
        if init.endswith("uniform"):
            limit = (3 * variance) ** 0.5
            return jax.random.uniform(key, (fan_in, fan_out), jnp.float32, -limit, limit)
        std = variance ** 0.5 / 0.87962566103423978
        return std * jax.random.truncated_normal(key, -2.0, 2.0, (fan_in, fan_out), jnp.float32)

    def trial_params(t):
        keys = jax.random.split(jax.random.PRNGKey(1 if args.shared else t + 1), len(sizes) - 1)
        return [(kernel(k, INITS[t % len(INITS)], a, b), jnp.zeros((b,), jnp.float32))
                for k, a, b in zip(keys, sizes[:-1], sizes[1:])]

    params = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *[trial_params(t) for t in range(trials)])
    lrs = jnp.asarray([0.0005 * (1 + t) for t in range(trials)], jnp.float32)

    def loss_fn(p, x, y):
        h = x
        for w, b in p[:-1]:
            h = jnp.tanh(h @ w + b)
        w, b = p[-1]
        logits = h @ w + b
        logp = jax.nn.log_softmax(logits)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1)), logits

    def train_step(p, m, v, t, lr, x, y):
        (loss, logits), g = jax.value_and_grad(loss_fn, has_aux=True)(p, x, y)
        t = t + 1.0
        alpha = lr * jnp.sqrt(1 - BETA_2 ** t) / (1 - BETA_1 ** t)
        m = jax.tree_util.tree_map(lambda m, g: m + (g - m) * (1 - BETA_1), m, g)
        v = jax.tree_util.tree_map(lambda v, g: v + (g * g - v) * (1 - BETA_2), v, g)
        p = jax.tree_util.tree_map(lambda p, m, v: p - alpha * m / (jnp.sqrt(v) + EPSILON), p, m, v)
        return p, m, v, t, loss, jnp.mean(jnp.argmax(logits, axis=1) == y)

    if args.shared:
        shared_step = jax.vmap(train_step, in_axes=(0, 0, 0, 0, 0, None, None))

        def trials_step(p, m, v, t, lr, x_all, y_all, idx):  # idx [batch]: gathered once for all
            return shared_step(p, m, v, t, lr, x_all[idx], y_all[idx])
    else:
        trials_step = jax.vmap(lambda p, m, v, t, lr, x_all, y_all, idx: train_step(p, m, v, t, lr, x_all[idx], y_all[idx]),
                               in_axes=(0, 0, 0, 0, 0, None, None, 0))

    def epoch(state, lrs, x_all, y_all, idx):  # idx [steps, trials, batch], or [steps, batch] shared
        def body(state, idx_k):
            p, m, v, t, loss, acc = trials_step(*state, lrs, x_all, y_all, idx_k)
            return (p, m, v, t), (loss, acc)
        return lax.scan(body, state, idx)

    run_epoch = jax.jit(epoch, donate_argnums=0)
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    state = (params, zeros, jax.tree_util.tree_map(jnp.zeros_like, params), jnp.zeros((trials,), jnp.float32))
    xd, yd = jnp.asarray(x_train), jnp.asarray(y_train)
    n, bs = x_train.shape[0], args.batch_size
    steps = n // bs
    rng = np.random.default_rng(1)
    epoch_seconds, cpu_seconds, last_losses = [], [], None
    for _ in range(args.epochs):
        start, cpu_start = time.perf_counter(), cpu_time()
        if args.shared:
            orders = rng.permutation(n)[:steps * bs].reshape(steps, bs)
        else:
            orders = np.stack([rng.permutation(n)[:steps * bs].reshape(steps, bs) for _ in range(trials)], axis=1)
        state, (losses, _) = run_epoch(state, lrs, xd, yd, jnp.asarray(orders.astype(np.int32)))
        last_losses = np.asarray(losses[-1])  # waits for the epoch
        epoch_seconds.append(time.perf_counter() - start)
        cpu_seconds.append(cpu_time() - cpu_start)

    import jaxlib
    return {
        "system": "jax-vmap-scan",
        "shared_batches": args.shared,
        "status": "succeeded",
        "framework": f"jax {jax.__version__} (jaxlib {jaxlib.__version__}, numpy {np.__version__})",
        "device": str(jax.devices()[0]),
        "trials": trials,
        "batch_size": bs,
        "examples": n,
        "steps_per_epoch": steps,
        "threads": thread_note,
        "last_losses": [float(x) for x in last_losses],
        "epoch_seconds": epoch_seconds,
        "cpu_seconds": cpu_seconds,
    }


def cpu_time():
    """User and system CPU seconds of this process, all its threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv):
    return run_json("bench_sweep_jax", run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
