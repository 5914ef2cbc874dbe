#!/usr/bin/env python3
"""Judges tfsweep's exported models with Python TensorFlow: 2.18 (scripts/setup-python.sh peers) and the newest,
2.21 (scripts/setup-python.sh tensorflow-newest); model's TestSavedModel runs it with both.

  check_saved_model.py --pixels FILE --n N [--saved-model DIR ...] [--checkpoint PREFIX ...]

--pixels holds N*784 raw uint8 pixels (row-major [N, 784]). Each SavedModel is loaded with
tf.saved_model.load(DIR) and each of its signatures is called on the pixels (converted to the dtype of
the signature's input: float32 for serving_default, uint8 for serving_uint8, and shaped as it: [N, 784]
or an image input's [N, 28, 28, 1]). Every --checkpoint is
opened with tf.train.load_checkpoint, as is every DIR/variables/variables. Prints one JSON object:

  {"tensorflow": "2.18.0",
   "saved_models": {DIR: {"serving_default": {"inputs": {...}, "outputs": {...},
                                              "probabilities": [[...]], "classes": [...]}, ...}},
   "checkpoints": {PREFIX: {"dense/kernel": [784, 128], ...}, ...},
   "checkpoint_digests": {PREFIX: {"dense/kernel": SHA-256 of the little-endian values, ...}, ...}}

The caller (model's Go tests) compares the numbers with its own; the script judges nothing itself.
"""
import argparse
import hashlib
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def spec(t):
    return {"dtype": t.dtype.name, "shape": t.shape.as_list()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--saved-model", action="append", default=[])
    ap.add_argument("--pixels", required=True)
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--checkpoint", action="append", default=[])
    args = ap.parse_args()

    raw = np.fromfile(args.pixels, dtype=np.uint8)
    if raw.size % args.n:
        sys.exit(f"{args.pixels}: {raw.size} bytes is not {args.n} rows")
    pixels = raw.reshape(args.n, raw.size // args.n)

    saved_models = {}
    for path in args.saved_model:
        loaded = tf.saved_model.load(path)
        signatures = {}
        for key, fn in loaded.signatures.items():
            _, kwargs = fn.structured_input_signature
            (name, input_spec), = kwargs.items()
            x = pixels.reshape((-1, *input_spec.shape[1:]))  # [N, 784] or an image input's [N, 28, 28, 1]
            out = fn(**{name: tf.constant(x.astype(input_spec.dtype.as_numpy_dtype))})
            signatures[key] = {
                "inputs": {k: spec(v) for k, v in kwargs.items()},
                "outputs": {k: spec(v) for k, v in fn.structured_outputs.items()},
                "probabilities": out["probabilities"].numpy().astype(float).tolist(),
                "classes": out["classes"].numpy().astype(int).tolist(),
            }
        saved_models[path] = signatures

    prefixes = list(args.checkpoint) + [os.path.join(p, "variables", "variables") for p in args.saved_model]
    checkpoints, digests = {}, {}
    for p in prefixes:
        reader = tf.train.load_checkpoint(p)
        shapes = reader.get_variable_to_shape_map()
        checkpoints[p] = {k: list(v) for k, v in shapes.items()}
        digests[p] = {k: hashlib.sha256(np.ascontiguousarray(reader.get_tensor(k)).astype(
            reader.get_tensor(k).dtype.newbyteorder("<")).tobytes()).hexdigest() for k in shapes}
    json.dump({"tensorflow": tf.__version__, "saved_models": saved_models, "checkpoints": checkpoints,
               "checkpoint_digests": digests}, sys.stdout)


if __name__ == "__main__":
    main()
