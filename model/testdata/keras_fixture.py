#!/usr/bin/env python3
"""Writes the Keras 3 reference trajectories that model's TestMatchesKeras replays.

    python keras_fixture.py MNIST_DIR OUT_DIR    # needs tensorflow 2.18 (Keras 3) and numpy

For each variant (with and without batch norm) it builds the Sequential model tfsweep reproduces
(784 -> 32 -> 16 -> 10, glorot_normal, tanh, softmax, Adam 0.001), saves its initial weights, trains
on the first 256 MNIST training images (pixels/255) in file order, batch 32, for two epochs with
train_on_batch, and records every step's loss and accuracy, then evaluates on the first 1000 test
images. Outputs per variant: <name>.json (metadata, losses, evaluation) and <name>.weights
(the initial weights as little-endian float32, in model.weights order).
"""
import gzip
import json
import os
import sys

import numpy as np
import keras


def read_idx(path, offset):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return np.frombuffer(raw, np.uint8, offset=offset)


def find(data_dir, stem):
    for name in (stem, stem + ".gz"):
        if os.path.exists(os.path.join(data_dir, name)):
            return os.path.join(data_dir, name)
    sys.exit(f"{data_dir}: no {stem}[.gz]")


def main(data_dir, out_dir):
    x = read_idx(find(data_dir, "train-images-idx3-ubyte"), 16).reshape(-1, 784)[:256].astype(np.float32) / np.float32(255)
    y = read_idx(find(data_dir, "train-labels-idx1-ubyte"), 8)[:256].astype(np.int32)
    xt = read_idx(find(data_dir, "t10k-images-idx3-ubyte"), 16).reshape(-1, 784)[:1000].astype(np.float32) / np.float32(255)
    yt = read_idx(find(data_dir, "t10k-labels-idx1-ubyte"), 8)[:1000].astype(np.int32)
    hidden, batch, epochs = [32, 16], 32, 2
    for name, bn in (("keras_plain", False), ("keras_batchnorm", True)):
        keras.backend.clear_session()  # restart the layer auto-names: dense, dense_1, ...
        keras.utils.set_random_seed(7)
        layers = [keras.Input((784,))]
        for width in hidden:
            if bn:
                layers += [keras.layers.Dense(width, kernel_initializer="glorot_normal"),
                           keras.layers.BatchNormalization(), keras.layers.Activation("tanh")]
            else:
                layers += [keras.layers.Dense(width, activation="tanh", kernel_initializer="glorot_normal")]
        layers += [keras.layers.Dense(10, activation="softmax", kernel_initializer="glorot_normal")]
        model = keras.Sequential(layers)
        model.compile(optimizer=keras.optimizers.Adam(0.001), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        names = [w.path.split("/", 1)[1] for w in model.weights]  # drop the "sequential/" prefix
        with open(os.path.join(out_dir, name + ".weights"), "wb") as f:
            for w in model.weights:
                f.write(np.asarray(w.numpy(), "<f4").tobytes())
        losses, accuracies = [], []
        for _ in range(epochs):
            for start in range(0, len(y), batch):
                logs = model.train_on_batch(x[start:start + batch], y[start:start + batch], return_dict=True)
                losses.append(float(logs["loss"]))
                accuracies.append(float(logs["accuracy"]))
        eval_loss, eval_accuracy = model.evaluate(xt, yt, batch_size=1000, verbose=0)
        doc = {
            "keras": keras.__version__, "hidden": hidden, "batch_norm": bn, "batch_size": batch,
            "train_examples": len(y), "epochs": epochs, "test_examples": len(yt),
            "weights": [{"name": n, "shape": list(w.shape)} for n, w in zip(names, model.weights)],
            "losses": losses, "accuracies": accuracies,
            "eval_loss": float(eval_loss), "eval_accuracy": float(eval_accuracy),
        }
        with open(os.path.join(out_dir, name + ".json"), "w") as f:
            json.dump(doc, f)
            f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
