#!/usr/bin/env python3
"""Train the lab report's MNIST network in JAX for scripts/bench_peers and print one JSON document.

The network, written out by hand as a JAX user would: 784 → Dense 128 → [BatchNorm] → tanh → Dense 64 →
[BatchNorm] → tanh → Dense 10 softmax, sparse categorical cross-entropy (mean over the batch), Adam with
Keras 3's update (lr 0.001, beta 0.9/0.999, epsilon 1e-7), Keras' BatchNormalization (momentum 0.99,
epsilon 1e-3, biased batch variance, moving statistics at validation), Keras' GlorotNormal (tfsweep's
xavier) or GlorotUniform kernels and zero biases. Pixels / 255 as float32, read from the IDX files
(scripts/keras_reference.py's reader), kept on the device; each epoch draws a fresh permutation with
numpy and every step gathers its batch inside the compiled code. The last, smaller batch of an epoch is
trained too, as Keras and tfsweep do.

    --mode jit:  one jax.jit-compiled train step (forward, jax.grad, Adam), called once per batch from Python
    --mode scan: jax.lax.scan over --scan-chunk batches (0 = all the epoch's full batches) inside one jitted
                 call, the smaller last batch through the jitted step

Each epoch's seconds run from before its permutation to after its validation (one jitted forward pass over
the 10000 test images) has returned its loss to Python, so they include the validation pass and wait for
every step. The training loss and accuracy are summed on the device and read once per epoch.

Threads: XLA's defaults (all CPUs) unless --threads N. Then the process is confined to N CPUs with
sched_setaffinity before jax is imported (XLA's CPU client sizes its thread pools from the CPUs it may
run on), and for N = 1 also XLA_FLAGS=--xla_cpu_multi_thread_eigen=false. Only jax and numpy are needed
(scripts/setup-python.sh jax).
"""

import argparse
import os
import sys
import time

import numpy as np

from keras_reference import load_split, run_json

ADAM = {"lr": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}
BN_MOMENTUM, BN_EPSILON = 0.99, 1e-3


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default="data/mnist")
    p.add_argument("--mode", default="jit", choices=("jit", "scan"))
    p.add_argument("--scan-chunk", default=0, type=int, help="batches per lax.scan call (0 = the whole epoch)")
    p.add_argument("--batch-size", default=128, type=int)
    p.add_argument("--batchnorm", default="off", choices=("on", "off"))
    p.add_argument("--epochs", default=3, type=int)
    p.add_argument("--init", default="xavier", choices=("xavier", "glorot_uniform"))
    p.add_argument("--hidden", default="128,64")
    p.add_argument("--seed", default=1, type=int)
    p.add_argument("--threads", default=0, type=int, help="0 = XLA's default (all CPUs)")
    args = p.parse_args(argv)
    if args.batch_size <= 0 or args.epochs <= 0 or args.threads < 0 or args.scan_chunk < 0:
        p.error("--batch-size and --epochs must be positive, --threads and --scan-chunk not negative")
    try:
        args.hidden = [int(s) for s in args.hidden.split(",")]
    except ValueError:
        p.error(f"--hidden {args.hidden!r}: want sizes like 128,64")
    return args


def limit_threads(threads):
    """Confines this process to `threads` CPUs before jax starts; returns what was done, for the report."""
    if not threads:
        return "XLA default"
    cpus = sorted(os.sched_getaffinity(0))[:threads]
    os.sched_setaffinity(0, cpus)
    done = f"affinity to CPUs {','.join(map(str, cpus))}"
    if threads == 1:
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = (flags + " --xla_cpu_multi_thread_eigen=false").strip()
        done += ", XLA_FLAGS=" + os.environ["XLA_FLAGS"]
    return done


def run(args):
    x_train, y_train = load_split(args.data_dir, "train_images", "train_labels", "unit", 0)
    x_test, y_test = load_split(args.data_dir, "test_images", "test_labels", "unit", 0)
    thread_note = limit_threads(args.threads)

    import jax
    import jax.numpy as jnp
    from jax import lax

    batchnorm = args.batchnorm == "on"
    sizes = [x_train.shape[1]] + args.hidden + [10]

    def kernel(key, fan_in, fan_out):
        if args.init == "glorot_uniform":
            limit = (6.0 / (fan_in + fan_out)) ** 0.5
            return jax.random.uniform(key, (fan_in, fan_out), jnp.float32, -limit, limit)
        # Keras' GlorotNormal: a normal truncated at two standard deviations, rescaled to variance 2/(in+out).
        std = (2.0 / (fan_in + fan_out)) ** 0.5 / 0.87962566103423978
        return std * jax.random.truncated_normal(key, -2.0, 2.0, (fan_in, fan_out), jnp.float32)

    keys = jax.random.split(jax.random.PRNGKey(args.seed), len(sizes) - 1)
    params = {"dense": [(kernel(k, a, b), jnp.zeros((b,), jnp.float32))
                        for k, a, b in zip(keys, sizes[:-1], sizes[1:])]}
    stats = []
    if batchnorm:
        params["bn"] = [(jnp.ones((h,), jnp.float32), jnp.zeros((h,), jnp.float32)) for h in args.hidden]
        stats = [(jnp.zeros((h,), jnp.float32), jnp.ones((h,), jnp.float32)) for h in args.hidden]

    def forward(params, stats, x, training):
        h, new_stats = x, []
        for i, (w, b) in enumerate(params["dense"][:-1]):
            h = h @ w + b
            if batchnorm:
                gamma, beta = params["bn"][i]
                if training:
                    mean, var = jnp.mean(h, axis=0), jnp.var(h, axis=0)
                    moving_mean, moving_var = stats[i]
                    new_stats.append((moving_mean * BN_MOMENTUM + mean * (1 - BN_MOMENTUM),
                                      moving_var * BN_MOMENTUM + var * (1 - BN_MOMENTUM)))
                else:
                    mean, var = stats[i]
                h = (h - mean) * lax.rsqrt(var + BN_EPSILON) * gamma + beta
            h = jnp.tanh(h)
        w, b = params["dense"][-1]
        return h @ w + b, new_stats

    def cross_entropy(logits, labels):
        logp = jax.nn.log_softmax(logits)
        return -jnp.mean(jnp.take_along_axis(logp, labels[:, None], axis=1))

    def train_step(state, x_all, y_all, idx):
        x, y = x_all[idx], y_all[idx]

        def loss_fn(p):
            logits, new_stats = forward(p, state["stats"], x, True)
            return cross_entropy(logits, y), (new_stats, logits)

        (loss, (new_stats, logits)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"])
        # Keras 3's Adam: iterations + 1 as the step, the bias corrections folded into the rate.
        t = state["iterations"] + 1.0
        alpha = ADAM["lr"] * jnp.sqrt(1 - ADAM["beta_2"] ** t) / (1 - ADAM["beta_1"] ** t)
        m = jax.tree_util.tree_map(lambda m, g: m + (g - m) * (1 - ADAM["beta_1"]), state["m"], grads)
        v = jax.tree_util.tree_map(lambda v, g: v + (g * g - v) * (1 - ADAM["beta_2"]), state["v"], grads)
        new_params = jax.tree_util.tree_map(lambda p, m, v: p - alpha * m / (jnp.sqrt(v) + ADAM["epsilon"]),
                                            state["params"], m, v)
        n = idx.shape[0]
        correct = jnp.sum(jnp.argmax(logits, axis=1) == y)
        return {"params": new_params, "m": m, "v": v, "iterations": t, "stats": new_stats,
                "loss_sum": state["loss_sum"] + loss * n, "correct": state["correct"] + correct}

    def train_chunk(state, x_all, y_all, idx_chunk):
        state, _ = lax.scan(lambda s, idx: (train_step(s, x_all, y_all, idx), None), state, idx_chunk)
        return state

    def evaluate(params, stats, x, y):
        logits, _ = forward(params, stats, x, False)
        return cross_entropy(logits, y), jnp.mean(jnp.argmax(logits, axis=1) == y)

    step = jax.jit(train_step, donate_argnums=0)
    chunk = jax.jit(train_chunk, donate_argnums=0)
    validate = jax.jit(evaluate)

    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    state = {"params": params, "m": zeros, "v": jax.tree_util.tree_map(jnp.zeros_like, params),
             "iterations": jnp.float32(0), "stats": stats, "loss_sum": jnp.float32(0), "correct": jnp.int32(0)}
    xd, yd = jnp.asarray(x_train), jnp.asarray(y_train)
    xt, yt = jnp.asarray(x_test), jnp.asarray(y_test)
    n, bs = x_train.shape[0], args.batch_size
    full = n // bs
    per_call = args.scan_chunk or full
    rng = np.random.default_rng(args.seed)
    hist = {"train_loss": [], "train_accuracy": [], "val_loss": [], "val_accuracy": []}
    epoch_seconds = []
    for _ in range(args.epochs):
        start = time.perf_counter()
        order = rng.permutation(n).astype(np.int32)
        batches, rest = order[:full * bs].reshape(full, bs), order[full * bs:]
        state["loss_sum"], state["correct"] = jnp.float32(0), jnp.int32(0)
        if args.mode == "jit":
            for i in range(full):
                state = step(state, xd, yd, batches[i])
        else:
            for i in range(0, full, per_call):
                state = chunk(state, xd, yd, batches[i:i + per_call])
        if rest.size:
            state = step(state, xd, yd, rest)
        val_loss, val_acc = validate(state["params"], state["stats"], xt, yt)
        hist["val_loss"].append(float(val_loss))
        hist["val_accuracy"].append(float(val_acc))
        hist["train_loss"].append(float(state["loss_sum"]) / n)
        hist["train_accuracy"].append(int(state["correct"]) / n)
        epoch_seconds.append(time.perf_counter() - start)

    import jaxlib
    return {
        "system": f"jax-{args.mode}",
        "status": "succeeded",
        "framework": f"jax {jax.__version__} (jaxlib {jaxlib.__version__}, numpy {np.__version__})",
        "device": str(jax.devices()[0]),
        "batch_size": bs,
        "batchnorm": batchnorm,
        "init": args.init,
        "epochs": args.epochs,
        "scan_chunk": per_call if args.mode == "scan" else None,
        "threads": thread_note,
        "train_examples": n,
        "val_examples": int(x_test.shape[0]),
        "final": {k: v[-1] for k, v in hist.items()},
        "history": hist,
        "epoch_seconds": epoch_seconds,
    }


def main(argv):
    return run_json("bench_peers_jax", run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
