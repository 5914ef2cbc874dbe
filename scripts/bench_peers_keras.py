#!/usr/bin/env python3
"""Train the lab report's MNIST network with Keras 3 model.fit for scripts/bench_peers; print one JSON document.

784 → Dense 128 → [BatchNormalization] → tanh → Dense 64 → [BatchNormalization] → tanh → Dense 10 softmax,
sparse categorical cross-entropy with the accuracy metric, Adam(learning_rate=0.001) with Keras' defaults,
BatchNormalization(momentum=0.99, epsilon=1e-3) after each hidden Dense and before its tanh, GlorotNormal
(tfsweep's xavier) or GlorotUniform kernels seeded per layer, zero biases; pixels / 255 as float32 from the
IDX files (scripts/keras_reference.py's reader). One model.fit(x, y, epochs=E, shuffle=True,
validation_data=test set) call, as a Keras user writes it: fit shuffles each epoch afresh (no global seed
is set, which under TensorFlow would repeat one order every epoch) and validates at every epoch's end in
batches of the batch size.

    --mode default:  compile() as is (jit_compile="auto", which Keras resolves to no XLA on a CPU-only machine)
    --mode jit:      compile(jit_compile=True)
    --mode jit-spe:  compile(jit_compile=True, steps_per_execution=--steps-per-execution)
    --mode spe:      compile(steps_per_execution=--steps-per-execution) without XLA

Each epoch's seconds run from on_epoch_begin to on_epoch_end, which Keras calls after the validation pass,
so they include it. --threads N sets tf.config.threading's intra- and inter-op threads to N (0 = TensorFlow's
default). Needs TensorFlow 2.18 and Keras 3 (scripts/setup-python.sh peers).
"""

import argparse
import os
import sys
import time

from keras_reference import load_split, run_json

MODES = ("default", "jit", "jit-spe", "spe")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default="data/mnist")
    p.add_argument("--mode", default="default", choices=MODES)
    p.add_argument("--steps-per-execution", default=32, type=int)
    p.add_argument("--batch-size", default=128, type=int)
    p.add_argument("--batchnorm", default="off", choices=("on", "off"))
    p.add_argument("--epochs", default=3, type=int)
    p.add_argument("--init", default="xavier", choices=("xavier", "glorot_uniform"))
    p.add_argument("--hidden", default="128,64")
    p.add_argument("--seed", default=1, type=int, help="seeds the kernel initialisers (layer i gets seed + i)")
    p.add_argument("--threads", default=0, type=int, help="TF intra- and inter-op threads (0 = TF's default)")
    args = p.parse_args(argv)
    if args.batch_size <= 0 or args.epochs <= 0 or args.threads < 0 or args.steps_per_execution <= 0:
        p.error("--batch-size, --epochs and --steps-per-execution must be positive, --threads not negative")
    try:
        args.hidden = [int(s) for s in args.hidden.split(",")]
    except ValueError:
        p.error(f"--hidden {args.hidden!r}: want sizes like 128,64")
    return args


def build_model(keras, args, input_dim):
    seeds = iter(range(args.seed, args.seed + len(args.hidden) + 1))

    def dense(units, activation=None):
        init = keras.initializers.GlorotUniform if args.init == "glorot_uniform" else keras.initializers.GlorotNormal
        return keras.layers.Dense(units, activation=activation, kernel_initializer=init(seed=next(seeds)),
                                  bias_initializer="zeros")

    layers = [keras.Input(shape=(input_dim,))]
    for units in args.hidden:
        if args.batchnorm == "on":
            layers += [dense(units), keras.layers.BatchNormalization(momentum=0.99, epsilon=1e-3),
                       keras.layers.Activation("tanh")]
        else:
            layers.append(dense(units, activation="tanh"))
    layers.append(dense(10, activation="softmax"))
    model = keras.Sequential(layers)
    compile_args = {}
    if args.mode in ("jit", "jit-spe"):
        compile_args["jit_compile"] = True
    if args.mode in ("jit-spe", "spe"):
        compile_args["steps_per_execution"] = args.steps_per_execution
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.001), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], **compile_args)
    return model, compile_args


def run(args):
    x_train, y_train = load_split(args.data_dir, "train_images", "train_labels", "unit", 0)
    x_test, y_test = load_split(args.data_dir, "test_images", "test_labels", "unit", 0)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    import keras

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    model, compile_args = build_model(keras, args, x_train.shape[1])
    epoch_seconds = []
    clock = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: epoch_seconds.append(-time.perf_counter()),
        on_epoch_end=lambda epoch, logs: epoch_seconds.__setitem__(-1, epoch_seconds[-1] + time.perf_counter()))
    h = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, shuffle=True,
                  validation_data=(x_test, y_test), verbose=0, callbacks=[clock]).history
    hist = {
        "train_loss": [float(v) for v in h["loss"]],
        "train_accuracy": [float(v) for v in h["accuracy"]],
        "val_loss": [float(v) for v in h["val_loss"]],
        "val_accuracy": [float(v) for v in h["val_accuracy"]],
    }
    return {
        "system": "keras" if args.mode == "default" else f"keras-{args.mode}",
        "status": "succeeded",
        "framework": f"keras {keras.__version__} (tensorflow {tf.__version__})",
        "compile": dict(compile_args),
        "jit_compile": bool(model.jit_compile),
        "steps_per_execution": int(getattr(model, "steps_per_execution", 1) or 1),
        "batch_size": args.batch_size,
        "batchnorm": args.batchnorm == "on",
        "init": args.init,
        "epochs": args.epochs,
        "threads": {
            "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
        },
        "train_examples": int(x_train.shape[0]),
        "val_examples": int(x_test.shape[0]),
        "final": {k: v[-1] for k, v in hist.items()},
        "history": hist,
        "epoch_seconds": epoch_seconds,
    }


def main(argv):
    return run_json("bench_peers_keras", run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
