#!/usr/bin/env python3
"""Train one MNIST MLP variant with Keras model.fit, as the lab report did, and print one JSON document.

This is the reference tfsweep is checked against (scripts/compare_keras): same IDX files, same scaling,
same architecture, initialiser, batch norm, activation, dropout, L2, optimizer, learning-rate schedule and
loss, built as a Keras user writes them, with flags that mirror `tfsweep run`:

    keras_reference.py --data-dir data/mnist --init xavier --batchnorm on --batch-size 128 --epochs 5 --seed 1
    keras_reference.py --activation gelu --optimizer sgd --momentum 0.9 --lr 0.01 --dropout 0.2 --l2 1e-4 \
        --schedule cosine:decay_steps=2345

Only TensorFlow 2.18 / Keras 3 and numpy are needed (scripts/setup-python.sh peers). Nothing is downloaded:
the data come from the IDX files, gzipped or raw. stdout carries the JSON document alone; anything
TensorFlow or Keras print goes to stderr.
"""

import argparse
import contextlib
import gzip
import json
import os
import sys
import time

import numpy as np

# IDX type codes (the third magic byte) and the big-endian numpy types they name.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

# The MNIST file stems; the dotted spelling is what some mirrors and unzip tools produce.
IDX_FILES = {
    "train_images": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "train_labels": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "test_images": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "test_labels": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}

# tfsweep's initialiser names (model.InitNames), with the same meaning.
INITS = ("xavier", "uniform", "glorot_uniform", "he_normal", "he_uniform", "lecun_normal", "lecun_uniform")

# tfsweep's activation names (spec.ActivationNames) and the other spellings it accepts, each
# the name of a Keras 3 activation with its defaults: gelu approximate=False, leaky_relu negative_slope 0.2,
# elu alpha 1.0.
ACTIVATIONS = {"tanh": (), "relu": (), "sigmoid": (), "elu": (), "selu": (), "gelu": (), "silu": ("swish",),
               "softplus": (), "leaky_relu": ("leakyrelu",)}

# tfsweep's optimizer names (spec.OptimizerNames) and the other spellings it accepts.
OPTIMIZERS = {"adam": (), "sgd": (), "rmsprop": ("rms_prop",), "adamw": ("adam_w",), "adagrad": (), "nadam": ()}

# tfsweep's learning-rate schedule kinds (spec.ScheduleNames) and the other spellings it accepts.
SCHEDULES = {
    "constant": ("none",),
    "exponential": ("exponential_decay", "exponentialdecay"),
    "cosine": ("cosine_decay", "cosinedecay"),
    "step": ("piecewise", "piecewise_constant", "piecewise_constant_decay", "piecewiseconstantdecay"),
}
# The arguments each kind takes (sweep/schedule.go).
SCHEDULE_ARGS = {
    "constant": set(),
    "exponential": {"decay_steps", "decay_rate", "staircase"},
    "cosine": {"decay_steps", "alpha", "warmup_steps", "warmup_target"},
    "step": {"boundaries", "values"},
}


class DataError(Exception):
    pass


def find_idx(data_dir, stems):
    for stem in stems:
        for name in (stem, stem + ".gz"):
            path = os.path.join(data_dir, name)
            if os.path.isfile(path):
                return path
    raise DataError(f"{data_dir}: none of {', '.join(s + '[.gz]' for s in stems)} found")


def read_idx(path):
    """Reads one IDX file (gzipped when its first two bytes say so) into a numpy array of its own shape."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise DataError(f"{path}: bad gzip stream: {err}") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path}: not an IDX file (magic {raw[:4].hex()})")
    dtype = IDX_DTYPES.get(raw[2])
    if dtype is None:
        raise DataError(f"{path}: unknown IDX type code 0x{raw[2]:02x}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated header")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    want = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != want:
        raise DataError(f"{path}: {len(raw) - header} data bytes, header {shape} says {want}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def load_split(data_dir, images_key, labels_key, scale, limit):
    images_path = find_idx(data_dir, IDX_FILES[images_key])
    labels_path = find_idx(data_dir, IDX_FILES[labels_key])
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.shape[0] != labels.shape[0]:
        raise DataError(f"{images_path} has {images.shape[0]} images but {labels_path} has {labels.shape[0]} labels")
    if limit > 0:
        images, labels = images[:limit], labels[:limit]
    x = images.reshape(images.shape[0], -1).astype(np.float32)
    if scale == "unit":
        x /= 255.0
    return x, labels.astype(np.int32)


def parse_hidden(text):
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        sizes = []
    if not sizes or any(s <= 0 for s in sizes):
        raise argparse.ArgumentTypeError(f"--hidden {text!r}: want positive layer sizes like 128,64")
    return sizes


def on_off(flag):
    def parse(text):
        if text not in ("on", "off"):
            raise argparse.ArgumentTypeError(f"{flag} {text!r}: want on or off")
        return text == "on"
    return parse


def canonical(flag, table):
    """A parser for a name of table (canonical name -> other spellings), case and surrounding space ignored,
    as tfsweep reads it; returns the canonical name."""
    def parse(text):
        key = text.strip().lower()
        for name, aliases in table.items():
            if key == name or key in aliases:
                return name
        raise argparse.ArgumentTypeError(f"{flag} {text!r}: want one of {', '.join(table)}")
    return parse


def parse_schedule(text):
    """Reads tfsweep's schedule spec (sweep/schedule.go) into a dict: kind and its Keras arguments.

        constant
        exponential:decay_steps=N:decay_rate=R[:staircase]
        cosine:decay_steps=N[:alpha=A][:warmup_steps=N:warmup_target=T]
        step:boundaries=N/N:values=LR/LR/LR
    """
    def bad(why):
        return argparse.ArgumentTypeError(f"--schedule {text!r}: {why}")

    parts = text.split(":")
    kind = canonical("--schedule", SCHEDULES)(parts[0])
    sch = {"kind": kind}
    for arg in parts[1:]:
        key, has_value, value = arg.partition("=")
        if key not in SCHEDULE_ARGS[kind]:
            raise bad(f"{key!r} is not an argument of {kind} (want {', '.join(sorted(SCHEDULE_ARGS[kind])) or 'none'})")
        try:
            if key in ("decay_steps", "warmup_steps"):
                sch[key] = int(value)
            elif key in ("decay_rate", "alpha", "warmup_target"):
                sch[key] = float(value)
            elif key == "staircase":
                if has_value and value not in ("true", "false"):
                    raise ValueError(value)
                sch[key] = not has_value or value == "true"
            elif key == "boundaries":
                sch[key] = [int(v) for v in value.split("/")]
            elif key == "values":
                sch[key] = [float(v) for v in value.split("/")]
        except ValueError:
            raise bad(f"{key}={value!r}: not a valid value") from None
    if kind in ("exponential", "cosine") and sch.get("decay_steps", 0) <= 0:
        raise bad("decay_steps must be given and positive")
    if kind == "exponential" and not sch.get("decay_rate", 0) > 0:
        raise bad("decay_rate must be given and positive")
    if kind == "cosine":
        if not 0 <= sch.get("alpha", 0.0) <= 1:
            raise bad("alpha must be in [0, 1]")
        if ("warmup_steps" in sch) != ("warmup_target" in sch):
            raise bad("warmup_steps and warmup_target go together")
        if "warmup_steps" in sch and (sch["warmup_steps"] <= 0 or not sch["warmup_target"] > 0):
            raise bad("warmup_steps and warmup_target must be positive")
    if kind == "step":
        bounds, values = sch.get("boundaries", []), sch.get("values", [])
        if not bounds or any(b <= a for a, b in zip(bounds, bounds[1:])):
            raise bad("boundaries must list at least one step, strictly increasing")
        if len(values) != len(bounds) + 1 or any(not v > 0 for v in values):
            raise bad("values must be positive, one more than the boundaries")
    return sch


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default="data/mnist", help="directory with the four MNIST IDX files")
    p.add_argument("--init", default="xavier", choices=INITS,
                   help="xavier = GlorotNormal, uniform = RandomUniform(-0.05, 0.05), "
                        "the rest are Keras's initialisers of that name")
    p.add_argument("--batchnorm", default=False, type=on_off("--batchnorm"),
                   help="on|off: BatchNormalization after each hidden Dense (the activation then follows it)")
    p.add_argument("--activation", default="tanh", type=canonical("--activation", ACTIVATIONS),
                   help="hidden-layer activation, a Keras 3 activation with its defaults: " + ", ".join(ACTIVATIONS)
                        + " (swish = silu; gelu approximate=False; leaky_relu negative_slope 0.2)")
    p.add_argument("--optimizer", default="adam", type=canonical("--optimizer", OPTIMIZERS),
                   help="keras.optimizers with Keras 3's defaults but learning_rate=--lr: " + ", ".join(OPTIMIZERS))
    p.add_argument("--momentum", default=0.0, type=float, help="SGD's or RMSprop's momentum, in [0, 1] (default 0)")
    p.add_argument("--nesterov", default=False, type=on_off("--nesterov"), help="on|off: SGD(nesterov=True)")
    p.add_argument("--dropout", default=0.0, type=float,
                   help="rate of a keras.layers.Dropout after each hidden activation, in [0, 1); 0 = no Dropout layer")
    p.add_argument("--l2", default=0.0, type=float,
                   help="kernel_regularizer=keras.regularizers.L2(X) on every Dense kernel, the output layer's "
                        "included, as tfsweep does; 0 = no regularizer")
    p.add_argument("--schedule", default={"kind": "constant"}, type=parse_schedule,
                   help="learning-rate schedule, in tfsweep's spelling, starting from --lr: constant, "
                        "exponential:decay_steps=N:decay_rate=R[:staircase] (ExponentialDecay), "
                        "cosine:decay_steps=N[:alpha=A][:warmup_steps=N:warmup_target=T] (CosineDecay), "
                        "step:boundaries=N/N:values=LR/LR/LR (PiecewiseConstantDecay; --lr unused)")
    p.add_argument("--batch-size", default=128, type=int)
    p.add_argument("--epochs", default=5, type=int)
    p.add_argument("--lr", default=0.001, type=float,
                   help="learning_rate, or the schedule's initial_learning_rate (default 0.001 for every optimizer, "
                        "as tfsweep's; Keras' own SGD default would be 0.01)")
    p.add_argument("--hidden", default=[128, 64], type=parse_hidden, help="hidden layer sizes, e.g. 128,64")
    p.add_argument("--seed", default=1, type=int, help="keras.utils.set_random_seed: weights and shuffling")
    p.add_argument("--limit", default=0, type=int,
                   help="train on the first N training examples (0 = all); validation always uses the whole test set")
    p.add_argument("--scale", default="unit", choices=("unit", "none"), help="unit: pixels / 255; none: raw 0..255")
    p.add_argument("--shuffle", default="fit", choices=("fit", "epoch"),
                   help="fit: model.fit(shuffle=True), which under a set seed repeats the first epoch's order "
                        "every epoch (Keras 3 on TensorFlow); epoch: a fresh seeded permutation each epoch, "
                        "as tfsweep and unseeded Keras do")
    p.add_argument("--threads", default=0, type=int,
                   help="TF intra- and inter-op threads (0 = TensorFlow's default, as tfsweep's)")
    args = p.parse_args(argv)
    for name in ("batch_size", "epochs"):
        if getattr(args, name) <= 0:
            p.error(f"--{name.replace('_', '-')} must be positive")
    if args.limit < 0 or args.threads < 0:
        p.error("--limit and --threads must not be negative")
    if not args.lr > 0:
        p.error("--lr must be positive")
    if not 0 <= args.momentum <= 1:
        p.error("--momentum must be in [0, 1]")
    if args.momentum and args.optimizer not in ("sgd", "rmsprop"):
        p.error(f"--momentum applies to sgd and rmsprop, not {args.optimizer}")
    if args.nesterov and args.optimizer != "sgd":
        p.error(f"--nesterov applies to sgd, not {args.optimizer}")
    if not 0 <= args.dropout < 1:
        p.error("--dropout must be in [0, 1)")
    if not args.l2 >= 0:
        p.error("--l2 must not be negative")
    return args


def kernel_initializer(keras, name):
    inits = keras.initializers
    return {
        "xavier": lambda: inits.GlorotNormal(),
        "uniform": lambda: inits.RandomUniform(minval=-0.05, maxval=0.05),
        "glorot_uniform": lambda: inits.GlorotUniform(),
        "he_normal": lambda: inits.HeNormal(),
        "he_uniform": lambda: inits.HeUniform(),
        "lecun_normal": lambda: inits.LecunNormal(),
        "lecun_uniform": lambda: inits.LecunUniform(),
    }[name]()


def learning_rate(keras, args):
    """--lr, or the Keras LearningRateSchedule --schedule names, starting from --lr."""
    sch, schedules = args.schedule, keras.optimizers.schedules
    if sch["kind"] == "exponential":
        return schedules.ExponentialDecay(initial_learning_rate=args.lr, decay_steps=sch["decay_steps"],
                                          decay_rate=sch["decay_rate"], staircase=sch.get("staircase", False))
    if sch["kind"] == "cosine":
        warmup = {}
        if "warmup_steps" in sch:
            warmup = dict(warmup_target=sch["warmup_target"], warmup_steps=sch["warmup_steps"])
        return schedules.CosineDecay(initial_learning_rate=args.lr, decay_steps=sch["decay_steps"],
                                     alpha=sch.get("alpha", 0.0), **warmup)
    if sch["kind"] == "step":
        return schedules.PiecewiseConstantDecay(boundaries=sch["boundaries"], values=sch["values"])
    return args.lr


def optimizer(keras, args):
    """The Keras 3 optimizer with its default constants (rmsprop rho 0.9, adamw weight_decay 0.004, adagrad
    initial_accumulator_value 0.1, epsilon 1e-7 throughout), only learning_rate and momentum given."""
    lr, opts = learning_rate(keras, args), keras.optimizers
    if args.optimizer == "sgd":
        return opts.SGD(learning_rate=lr, momentum=args.momentum, nesterov=args.nesterov)
    if args.optimizer == "rmsprop":
        return opts.RMSprop(learning_rate=lr, momentum=args.momentum)
    return {"adam": opts.Adam, "adamw": opts.AdamW, "adagrad": opts.Adagrad, "nadam": opts.Nadam}[args.optimizer](
        learning_rate=lr)


def build_model(keras, args, input_dim):
    # One initialiser and one regularizer object per layer: Keras 3 warns about (and reuses the seed of) a
    # shared initialiser.
    def dense(units, activation=None):
        return keras.layers.Dense(units, activation=activation,
                                  kernel_initializer=kernel_initializer(keras, args.init), bias_initializer="zeros",
                                  kernel_regularizer=keras.regularizers.L2(args.l2) if args.l2 else None)

    layers = [keras.Input(shape=(input_dim,))]
    for units in args.hidden:
        if args.batchnorm:
            layers += [dense(units), keras.layers.BatchNormalization(momentum=0.99, epsilon=1e-3),
                       keras.layers.Activation(args.activation)]
        else:
            layers.append(dense(units, activation=args.activation))
        if args.dropout:
            layers.append(keras.layers.Dropout(args.dropout))
    layers.append(dense(10, activation="softmax"))
    model = keras.Sequential(layers)
    model.compile(optimizer=optimizer(keras, args), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def schedule_text(sch):
    """The schedule as tfsweep writes it (sweep/schedule.go formatSchedule), arguments in a fixed order."""
    parts = [sch["kind"]]
    for key in ("decay_steps", "decay_rate", "staircase", "alpha", "warmup_steps", "warmup_target",
                "boundaries", "values"):
        if key not in sch or sch[key] in (0, False):
            continue
        value = sch[key]
        if key == "staircase":
            parts.append(key)
        elif isinstance(value, list):
            parts.append(f"{key}={'/'.join(f'{v:g}' for v in value)}")
        else:
            parts.append(f"{key}={value:g}")
    return ":".join(parts)


def run(args):
    x_train, y_train = load_split(args.data_dir, "train_images", "train_labels", args.scale, args.limit)
    # As tfsweep's --limit: fewer training examples, the whole test set for validation.
    x_test, y_test = load_split(args.data_dir, "test_images", "test_labels", args.scale, 0)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    import keras

    # Thread pools can only be sized before TensorFlow creates its context, i.e. before any op runs.
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    keras.utils.set_random_seed(args.seed)

    model = build_model(keras, args, x_train.shape[1])
    epoch_seconds = []
    # Per-epoch wall times (validation included) show how much of fit_seconds is the first epoch's
    # one-off tracing and dataset set-up.
    clock = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: epoch_seconds.append(-time.perf_counter()),
        on_epoch_end=lambda epoch, logs: epoch_seconds.__setitem__(-1, epoch_seconds[-1] + time.perf_counter()))
    fit = dict(batch_size=args.batch_size, validation_data=(x_test, y_test), verbose=0, callbacks=[clock])
    if args.shuffle == "fit":
        start = time.perf_counter()
        h = model.fit(x_train, y_train, epochs=args.epochs, shuffle=True, **fit).history
        fit_seconds = time.perf_counter() - start
    else:
        # A fresh seeded permutation per epoch, one fit call per epoch (Keras keeps its compiled train
        # function across calls). Only the fit calls are timed, not the gathers.
        rng = np.random.default_rng(args.seed)
        h, fit_seconds = {}, 0.0
        for epoch in range(args.epochs):
            order = rng.permutation(x_train.shape[0])
            x_epoch, y_epoch = x_train[order], y_train[order]
            start = time.perf_counter()
            logs = model.fit(x_epoch, y_epoch, epochs=epoch + 1, initial_epoch=epoch, shuffle=False, **fit).history
            fit_seconds += time.perf_counter() - start
            for key, values in logs.items():
                h.setdefault(key, []).extend(values)

    hist = {
        "train_loss": [float(v) for v in h["loss"]],
        "train_accuracy": [float(v) for v in h["accuracy"]],
        "val_loss": [float(v) for v in h["val_loss"]],
        "val_accuracy": [float(v) for v in h["val_accuracy"]],
    }
    return {
        "name": f"{args.init}-{'bn' if args.batchnorm else 'nobn'}-b{args.batch_size}",
        "status": "succeeded",
        "framework": f"keras {keras.__version__} (tensorflow {tf.__version__})",
        "init": args.init,
        "batchnorm": args.batchnorm,
        "batch_size": args.batch_size,
        "epochs": args.epochs,
        "lr": args.lr,
        "activation": args.activation,
        "optimizer": args.optimizer,
        "momentum": args.momentum,
        "nesterov": args.nesterov,
        "dropout": args.dropout,
        "l2": args.l2,
        "schedule": schedule_text(args.schedule),
        "hidden": args.hidden,
        "seed": args.seed,
        "scale": args.scale,
        "shuffle": args.shuffle,
        "threads": {
            "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
        },
        "train_examples": int(x_train.shape[0]),
        "val_examples": int(x_test.shape[0]),
        "final": {k: v[-1] for k, v in hist.items()},
        "history": hist,
        "fit_seconds": fit_seconds,
        "epoch_seconds": epoch_seconds,
        "samples_per_second": args.epochs * x_train.shape[0] / fit_seconds,
    }


def run_json(prog, run_fn, args):
    """Runs run_fn(args) and prints its result as the one JSON document on stdout: whatever Keras,
    TensorFlow or JAX print to stdout meanwhile goes to stderr. A DataError exits 1 with its message."""
    out = sys.stdout
    try:
        with contextlib.redirect_stdout(sys.stderr):
            result = run_fn(args)
    except DataError as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 1
    json.dump(result, out, indent=2)
    out.write("\n")
    return 0


def main(argv):
    return run_json("keras_reference", run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
