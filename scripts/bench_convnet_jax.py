#!/usr/bin/env python3
"""Train Keras' simple MNIST convnet in JAX for scripts/bench_convnet and print one JSON document.

The network of modelfile/testdata/keras/convnet.json written out as a JAX user writes it: NHWC images
28×28×1 → Conv2D 32 3×3 valid + relu → MaxPool 2 → Conv2D 64 3×3 valid + relu → MaxPool 2 → Flatten →
Dropout 0.5 → Dense 10 softmax; convolutions by lax.conv_general_dilated (NHWC, HWIO), pooling by a
reshape and max, sparse categorical cross-entropy (mean over the batch), Adam with Keras 3's update
(lr 0.001, beta 0.9/0.999, epsilon 1e-7), glorot_uniform kernels and zero biases as the Keras JSON says.
Pixels / 255 as float32, both sets put on the device once; each epoch draws a fresh permutation with numpy
and every step gathers its batch inside the compiled code. The last, smaller batch is trained too.

    --mode jit:  one jax.jit-compiled train step (forward, jax.value_and_grad, Adam; the state donated),
                 called once per batch from Python
    --mode scan: jax.lax.scan over the epoch's full batches in one jitted call, the smaller last batch
                 through the jitted step

An epoch's seconds run from before its permutation to after its validation (a jitted forward pass over
the 10,000 test images in parts of 1,000, summed on the device) has returned its loss to Python, so they
wait for every step and include validation, as tfsweep's and Keras' epoch times do. Only jax and numpy
are needed (scripts/setup-python.sh jax).
"""

import argparse
import sys
import time

import numpy as np

from keras_reference import load_split, run_json

ADAM = {"lr": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}
DROPOUT = 0.5
EVAL_PART = 1000


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default="data/mnist")
    p.add_argument("--mode", default="jit", choices=("jit", "scan"))
    p.add_argument("--batch-size", default=128, type=int)
    p.add_argument("--epochs", default=3, type=int)
    p.add_argument("--seed", default=1, type=int)
    p.add_argument("--limit", default=0, type=int, help="train on the first N training images (0 = all)")
    args = p.parse_args(argv)
    if args.batch_size <= 0 or args.epochs <= 0:
        p.error("--batch-size and --epochs must be positive")
    return args


def glorot_uniform(key, shape):
    """Keras' GlorotUniform for a Dense (in, out) or Conv2D (h, w, in, out) kernel."""
    import jax
    import jax.numpy as jnp

    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    fan_in, fan_out = shape[-2] * receptive, shape[-1] * receptive
    limit = (6.0 / (fan_in + fan_out)) ** 0.5
    return jax.random.uniform(key, shape, jnp.float32, -limit, limit)


def convnet():
    """Keras' simple MNIST convnet in JAX, for this script and scripts/bench_sweep_jax.py: init(keys, kernel)
    gives the parameters from three keys and kernel(key, shape) (biases zero), forward(params, x, key) the
    logits of NHWC images x, with dropout when key is not None."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    def init(keys, kernel):
        return {
            "conv1": (kernel(keys[0], (3, 3, 1, 32)), jnp.zeros((32,), jnp.float32)),
            "conv2": (kernel(keys[1], (3, 3, 32, 64)), jnp.zeros((64,), jnp.float32)),
            "dense": (kernel(keys[2], (5 * 5 * 64, 10)), jnp.zeros((10,), jnp.float32)),
        }

    def conv_relu(h, w, b):
        h = lax.conv_general_dilated(h, w, window_strides=(1, 1), padding="VALID",
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return jax.nn.relu(h + b)

    def max_pool(h):
        # MaxPooling2D(2) as a reshape and a max over each window: its gradient is an elementwise mask,
        # where lax.reduce_window's is a select_and_scatter, which XLA's CPU backend runs far slower.
        n, height, width, c = h.shape
        h = h[:, :height // 2 * 2, :width // 2 * 2, :]
        return h.reshape(n, height // 2, 2, width // 2, 2, c).max(axis=(2, 4))

    def forward(params, x, key):
        h = max_pool(conv_relu(x, *params["conv1"]))
        h = max_pool(conv_relu(h, *params["conv2"]))
        h = h.reshape(h.shape[0], -1)
        if key is not None:
            keep = jax.random.bernoulli(key, 1.0 - DROPOUT, h.shape)
            h = jnp.where(keep, h / (1.0 - DROPOUT), 0.0)
        w, b = params["dense"]
        return h @ w + b

    return init, forward


def run(args):
    x_train, y_train = load_split(args.data_dir, "train_images", "train_labels", "unit", args.limit)
    x_test, y_test = load_split(args.data_dir, "test_images", "test_labels", "unit", 0)

    import jax
    import jax.numpy as jnp
    from jax import lax

    k1, k2, k3, dropout_key = jax.random.split(jax.random.PRNGKey(args.seed), 4)
    init, forward = convnet()
    params = init([k1, k2, k3], glorot_uniform)

    def cross_entropy_sum(logits, labels):
        logp = jax.nn.log_softmax(logits)
        return -jnp.sum(jnp.take_along_axis(logp, labels[:, None], axis=1))

    def train_step(state, x_all, y_all, idx):
        x, y = x_all[idx], y_all[idx]
        key = jax.random.fold_in(dropout_key, state["iterations"].astype(jnp.int32))

        def loss_fn(p):
            logits = forward(p, x, key)
            return cross_entropy_sum(logits, y) / idx.shape[0], logits

        (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"])
        # Keras 3's Adam: iterations + 1 as the step, the bias corrections folded into the rate.
        t = state["iterations"] + 1.0
        alpha = ADAM["lr"] * jnp.sqrt(1 - ADAM["beta_2"] ** t) / (1 - ADAM["beta_1"] ** t)
        tree = jax.tree_util.tree_map
        m = tree(lambda m, g: m + (g - m) * (1 - ADAM["beta_1"]), state["m"], grads)
        v = tree(lambda v, g: v + (g * g - v) * (1 - ADAM["beta_2"]), state["v"], grads)
        new = tree(lambda p, m, v: p - alpha * m / (jnp.sqrt(v) + ADAM["epsilon"]), state["params"], m, v)
        correct = jnp.sum(jnp.argmax(logits, axis=1) == y)
        return {"params": new, "m": m, "v": v, "iterations": t,
                "loss_sum": state["loss_sum"] + loss * idx.shape[0], "correct": state["correct"] + correct}

    def train_epoch(state, x_all, y_all, batches):
        state, _ = lax.scan(lambda s, idx: (train_step(s, x_all, y_all, idx), None), state, batches)
        return state

    def evaluate(params, x, y):
        sums = jnp.zeros((2,), jnp.float32)
        for i in range(0, x.shape[0], EVAL_PART):
            logits = forward(params, x[i:i + EVAL_PART], None)
            yi = y[i:i + EVAL_PART]
            sums += jnp.stack([cross_entropy_sum(logits, yi), jnp.sum(jnp.argmax(logits, axis=1) == yi)])
        return sums / x.shape[0]

    step = jax.jit(train_step, donate_argnums=0)
    epoch_call = jax.jit(train_epoch, donate_argnums=0)
    validate = jax.jit(evaluate)

    zeros = lambda: jax.tree_util.tree_map(jnp.zeros_like, params)  # noqa: E731
    state = {"params": params, "m": zeros(), "v": zeros(), "iterations": jnp.float32(0),
             "loss_sum": jnp.float32(0), "correct": jnp.int32(0)}
    xd, yd = jnp.asarray(x_train.reshape(-1, 28, 28, 1)), jnp.asarray(y_train)
    xt, yt = jnp.asarray(x_test.reshape(-1, 28, 28, 1)), jnp.asarray(y_test)
    n, bs = x_train.shape[0], args.batch_size
    full = n // bs
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
            state = epoch_call(state, xd, yd, batches)
        if rest.size:
            state = step(state, xd, yd, rest)
        val_loss, val_acc = (float(v) for v in validate(state["params"], xt, yt))
        hist["val_loss"].append(val_loss)
        hist["val_accuracy"].append(val_acc)
        hist["train_loss"].append(float(state["loss_sum"]) / n)
        hist["train_accuracy"].append(int(state["correct"]) / n)
        epoch_seconds.append(time.perf_counter() - start)

    import jaxlib
    return {
        "system": f"jax-{args.mode}",
        "framework": f"jax {jax.__version__} (jaxlib {jaxlib.__version__}, numpy {np.__version__})",
        "device": str(jax.devices()[0]),
        "batch_size": bs,
        "epochs": args.epochs,
        "train_examples": n,
        "final": {k: v[-1] for k, v in hist.items()},
        "history": hist,
        "epoch_seconds": epoch_seconds,
    }


def main(argv):
    return run_json("bench_convnet_jax", run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
