#!/usr/bin/env python3
"""Train a Keras model JSON with Keras' model.fit as scripts/compare_convnet trains it with tfsweep's model
package, and print one JSON line per seed (final training loss, validation loss and accuracy, samples/s
over the epochs after the first).

    compare_convnet_keras.py --model modelfile/testdata/keras/convnet.json --data-dir data/mnist --seeds 1,2,3

Defaults: all 60,000 MNIST training images (pixels/255, or raw with --scale none), shuffled every epoch, 5 epochs of batch 128,
Adam at 0.001, the 10,000 test images as validation data. Needs TensorFlow 2.18 / Keras 3 and numpy
(scripts/setup-python.sh peers).
"""
import argparse
import gzip
import json
import os
import sys
import time

import numpy as np


def read_idx(data_dir, stem, offset):
    for name in (stem, stem + ".gz"):
        path = os.path.join(data_dir, name)
        if os.path.exists(path):
            with open(path, "rb") as f:
                raw = f.read()
            if raw[:2] == b"\x1f\x8b":
                raw = gzip.decompress(raw)
            return np.frombuffer(raw, np.uint8, offset=offset)
    sys.exit(f"{data_dir}: no {stem}[.gz]")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="modelfile/testdata/keras/convnet.json")
    p.add_argument("--data-dir", default="data/mnist")
    p.add_argument("--seeds", default="1")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.001)
    p.add_argument("--scale", choices=("unit", "none"), default="unit",
                   help="pixel scaling: unit (x/255) or none (a model that rescales its input itself)")
    a = p.parse_args()
    import keras  # after argparse: -h needs no TensorFlow

    with open(a.model) as f:
        doc = f.read()
    divisor = np.float32(255 if a.scale == "unit" else 1)
    x = read_idx(a.data_dir, "train-images-idx3-ubyte", 16).astype(np.float32) / divisor
    y = read_idx(a.data_dir, "train-labels-idx1-ubyte", 8).astype(np.int32)
    xt = read_idx(a.data_dir, "t10k-images-idx3-ubyte", 16).astype(np.float32) / divisor
    yt = read_idx(a.data_dir, "t10k-labels-idx1-ubyte", 8).astype(np.int32)
    for seed in (int(s) for s in a.seeds.split(",")):
        keras.backend.clear_session()
        keras.utils.set_random_seed(seed)
        model = keras.models.model_from_json(doc)
        shape = (-1, *model.input_shape[1:])
        model.compile(optimizer=keras.optimizers.Adam(a.lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        times = []

        class Timer(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.t0 = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                times.append(time.perf_counter() - self.t0)

        start = time.perf_counter()
        hist = model.fit(x.reshape(shape), y, batch_size=a.batch_size, epochs=a.epochs, shuffle=True, verbose=0,
                         callbacks=[Timer()])
        training = time.perf_counter() - start
        val_loss, val_acc = model.evaluate(xt.reshape(shape), yt, batch_size=1000, verbose=0)
        later = sum(times[1:])
        print(json.dumps({"system": "keras", "model": a.model, "seed": seed, "loss": hist.history["loss"][-1],
                          "val_loss": float(val_loss), "val_accuracy": float(val_acc),
                          "samples_per_second": len(y) * (a.epochs - 1) / later if later else 0,
                          "training_seconds": training}), flush=True)


if __name__ == "__main__":
    main()
