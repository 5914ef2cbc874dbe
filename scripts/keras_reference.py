#!/usr/bin/env python3
"""Train one MNIST MLP variant with Keras model.fit, as the lab report did, and print one JSON document.

This is the reference tfsweep is checked against (scripts/compare_keras): same IDX files, same scaling,
same architecture, initialiser, batch norm, Adam and loss, with flags that mirror `tfsweep run`:

    keras_reference.py --data-dir data/mnist --init xavier --batchnorm on --batch-size 128 --epochs 5 --seed 1

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


def on_off(text):
    if text not in ("on", "off"):
        raise argparse.ArgumentTypeError(f"--batchnorm {text!r}: want on or off")
    return text == "on"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default="data/mnist", help="directory with the four MNIST IDX files")
    p.add_argument("--init", default="xavier", choices=INITS,
                   help="xavier = GlorotNormal, uniform = RandomUniform(-0.05, 0.05), "
                        "the rest are Keras's initialisers of that name")
    p.add_argument("--batchnorm", default=False, type=on_off, help="on|off: BatchNormalization after each hidden Dense")
    p.add_argument("--batch-size", default=128, type=int)
    p.add_argument("--epochs", default=5, type=int)
    p.add_argument("--lr", default=0.001, type=float)
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


def build_model(keras, args, input_dim):
    layers = [keras.Input(shape=(input_dim,))]
    for units in args.hidden:
        # One initialiser object per layer: Keras 3 warns about (and reuses the seed of) a shared one.
        layers.append(keras.layers.Dense(units, kernel_initializer=kernel_initializer(keras, args.init),
                                         bias_initializer="zeros"))
        if args.batchnorm:
            layers.append(keras.layers.BatchNormalization(momentum=0.99, epsilon=1e-3))
        layers.append(keras.layers.Activation("tanh"))
    layers.append(keras.layers.Dense(10, activation="softmax",
                                     kernel_initializer=kernel_initializer(keras, args.init),
                                     bias_initializer="zeros"))
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=args.lr, epsilon=1e-7),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


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


def main(argv):
    args = parse_args(argv)
    out = sys.stdout
    try:
        # Keras and TensorFlow may print to stdout; keep it for the JSON document alone.
        with contextlib.redirect_stdout(sys.stderr):
            result = run(args)
    except DataError as err:
        print(f"keras_reference: {err}", file=sys.stderr)
        return 1
    json.dump(result, out, indent=2)
    out.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
