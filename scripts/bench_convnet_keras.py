#!/usr/bin/env python3
"""Train a Keras model JSON (Keras' simple MNIST convnet by default) with model.fit for scripts/bench_convnet
and print one JSON document.

One model.fit(x, y, batch_size, epochs, shuffle=True, validation_data=test set) call, as a Keras user writes
it, on pixels / 255 as float32 shaped as the model's input, sparse categorical cross-entropy with the
accuracy metric, Adam(learning_rate=0.001) with Keras' defaults; keras.utils.set_random_seed(--seed).

    --mode default:  compile() as is (jit_compile="auto", which Keras resolves to no XLA on a CPU-only machine)
    --mode jit:      compile(jit_compile=True)
    --mode jit-spe:  compile(jit_compile=True, steps_per_execution=--steps-per-execution)
    --mode spe:      compile(steps_per_execution=--steps-per-execution) without XLA

Each epoch's seconds run from on_epoch_begin to on_epoch_end, which Keras calls after the validation pass,
so they include it. Needs TensorFlow 2.18 and Keras 3 (scripts/setup-python.sh peers).
"""

import argparse
import sys
import time

from keras_reference import load_split, run_json

MODES = ("default", "jit", "jit-spe", "spe")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="modelfile/testdata/keras/convnet.json")
    p.add_argument("--data-dir", default="data/mnist")
    p.add_argument("--mode", default="default", choices=MODES)
    p.add_argument("--steps-per-execution", default=32, type=int)
    p.add_argument("--batch-size", default=128, type=int)
    p.add_argument("--epochs", default=3, type=int)
    p.add_argument("--seed", default=1, type=int)
    p.add_argument("--limit", default=0, type=int, help="train on the first N training images (0 = all)")
    args = p.parse_args(argv)
    if args.batch_size <= 0 or args.epochs <= 0 or args.steps_per_execution <= 0:
        p.error("--batch-size, --epochs and --steps-per-execution must be positive")
    return args


def run(args):
    x, y = load_split(args.data_dir, "train_images", "train_labels", "unit", args.limit)
    xt, yt = load_split(args.data_dir, "test_images", "test_labels", "unit", 0)
    with open(args.model) as f:
        doc = f.read()

    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(args.seed)
    model = keras.models.model_from_json(doc)
    shape = (-1, *model.input_shape[1:])
    compile_args = {}
    if args.mode in ("jit", "jit-spe"):
        compile_args["jit_compile"] = True
    if args.mode in ("jit-spe", "spe"):
        compile_args["steps_per_execution"] = args.steps_per_execution
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.001), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], **compile_args)
    epoch_seconds = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            epoch_seconds.append(time.perf_counter() - self.start)

    hist = model.fit(x.reshape(shape), y, batch_size=args.batch_size, epochs=args.epochs, shuffle=True, verbose=0,
                     validation_data=(xt.reshape(shape), yt), callbacks=[Timer()])
    h = hist.history
    return {
        "system": "keras" if args.mode == "default" else f"keras-{args.mode}",
        "framework": f"tensorflow {tf.__version__}, keras {keras.__version__}",
        "compile": {k: v for k, v in compile_args.items()},
        "batch_size": args.batch_size,
        "epochs": args.epochs,
        "train_examples": int(x.shape[0]),
        "final": {"train_loss": h["loss"][-1], "train_accuracy": h["accuracy"][-1],
                  "val_loss": h["val_loss"][-1], "val_accuracy": h["val_accuracy"][-1]},
        "epoch_seconds": epoch_seconds,
    }


def main(argv):
    return run_json("bench_convnet_keras", run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
