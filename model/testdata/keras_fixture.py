#!/usr/bin/env python3
"""Writes the Keras 3 reference trajectories that model's TestMatchesKeras replays.

    python keras_fixture.py MNIST_DIR OUT_DIR [replay|layers]   # needs tensorflow 2.18 (Keras 3) and numpy
    (scripts/setup-python.sh peers prints the python that has them; "replay" writes only the replays,
    "layers" only the layer replays)

For each variant (with and without batch norm) it builds the Sequential model tfsweep reproduces
(784 -> 32 -> 16 -> 10, glorot_normal, tanh, softmax, Adam 0.001), saves its initial weights, trains
on the first 256 MNIST training images (pixels/255) in file order, batch 32, for two epochs with
train_on_batch, and records every step's loss and accuracy, then evaluates on the first 1000 test
images. Outputs per variant: <name>.json (metadata, losses, evaluation) and <name>.weights
(the initial weights as little-endian float32, in model.weights order).

It also writes keras_replay.json and keras_replay.weights, the per-step replays of every activation,
optimizer, L2 and learning-rate schedule (TestReplaysKeras): a narrower network, 196 -> 16 -> 8 -> 10
on the even rows and even columns of the 28x28 images (pixels/255), glorot_normal, the first 128
training images in file order, batch 16, two epochs (16 steps), evaluation on the first 500 test
images. Every variant starts from the same dense weights (keras_replay.weights, model.weights order
of the network without batch norm; batch-norm variants keep their initial gamma, beta and moving
statistics). Per step it records the loss, the accuracy and optimizer.learning_rate before the step
(the rate the step uses), and for some variants model.to_json() with the optimizer compiled in.

Last it writes keras_layers.json and keras_layers.weights, the per-step replays of the layers beyond
Dense (TestReplaysKerasLayers): each variant is a network in tfsweep's own description (spec.Network
as JSON), which this script builds as a Keras Functional model, on the 14x14 subsampled images as
(14, 14, 1) (pixels/255), the first 64 training images in file order, batch 16, two epochs (8 steps),
evaluation on the first 200 test images. Each variant's initial weights are in keras_layers.weights
in the order its "weights" list gives (little-endian float32). Dropout draws tfsweep's masks
(seeded [seed, 2^32*(d+1) + iterations] for the d-th Dropout layer, as SeededDropout says) so that
the steps can be compared. It also records the variance of every kernel initializer's draw for a Conv2D
kernel, to check the fans Keras computes for conv kernels.
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


# Replay variants: name -> model and optimizer settings. Omitted keys take these defaults.
REPLAY_DEFAULTS = {"activation": "tanh", "batch_norm": False, "optimizer": "adam", "learning_rate": None,
                   "momentum": 0.0, "nesterov": False, "weight_decay": None, "l2": 0.0, "schedule": None,
                   "dropout": 0.0, "json": False}
REPLAY_VARIANTS = {
    **{f"activation_{a}": {"activation": a, "learning_rate": 0.01}
       for a in ("tanh", "relu", "sigmoid", "elu", "selu", "gelu", "silu", "softplus", "leaky_relu")},
    "activation_relu_bn": {"activation": "relu", "batch_norm": True, "learning_rate": 0.01},
    "optimizer_adam": {},
    "optimizer_sgd": {"optimizer": "sgd"},  # Keras' default learning rate 0.01
    "optimizer_sgd_lr": {"optimizer": "sgd", "learning_rate": 0.2},
    "optimizer_sgd_momentum": {"optimizer": "sgd", "learning_rate": 0.05, "momentum": 0.9},
    "optimizer_sgd_nesterov": {"optimizer": "sgd", "learning_rate": 0.05, "momentum": 0.9, "nesterov": True},
    "optimizer_rmsprop": {"optimizer": "rmsprop", "learning_rate": 0.003},
    "optimizer_rmsprop_momentum": {"optimizer": "rmsprop", "learning_rate": 0.001, "momentum": 0.5},
    "optimizer_adamw": {"optimizer": "adamw", "learning_rate": 0.01},
    "optimizer_adamw_strong": {"optimizer": "adamw", "learning_rate": 0.01, "weight_decay": 2.0},
    "optimizer_adamw_bn": {"optimizer": "adamw", "learning_rate": 0.01, "weight_decay": 2.0, "batch_norm": True},
    "optimizer_adagrad": {"optimizer": "adagrad", "learning_rate": 0.05},
    "optimizer_nadam": {"optimizer": "nadam", "learning_rate": 0.01},
    "optimizer_nadam_bn": {"optimizer": "nadam", "learning_rate": 0.01, "batch_norm": True},
    "l2": {"l2": 1e-3, "learning_rate": 0.01},
    "l2_sgd_bn": {"l2": 1e-2, "optimizer": "sgd", "learning_rate": 0.1, "batch_norm": True},
    "schedule_exponential": {"learning_rate": 0.01,
                             "schedule": {"kind": "exponential", "decay_steps": 5, "decay_rate": 0.5}},
    "schedule_exponential_staircase": {"learning_rate": 0.01, "schedule": {
        "kind": "exponential", "decay_steps": 5, "decay_rate": 0.5, "staircase": True}},
    "schedule_cosine": {"learning_rate": 0.01, "schedule": {"kind": "cosine", "decay_steps": 10, "alpha": 0.1}},
    "schedule_cosine_warmup": {"learning_rate": 0.001, "optimizer": "sgd", "momentum": 0.9, "schedule": {
        "kind": "cosine", "decay_steps": 8, "warmup_target": 0.05, "warmup_steps": 4}},
    "schedule_step": {"optimizer": "rmsprop", "schedule": {
        "kind": "step", "boundaries": [3, 8, 11], "values": [0.003, 0.001, 0.0005, 0.0001]}},
    "json_all": {"activation": "gelu", "batch_norm": True, "dropout": 0.2, "l2": 1e-4, "optimizer": "adamw",
                 "schedule": {"kind": "cosine", "decay_steps": 100, "warmup_target": 0.01, "warmup_steps": 5},
                 "json": True},
    "json_sgd": {"activation": "leaky_relu", "dropout": 0.5, "optimizer": "sgd", "momentum": 0.9,
                 "nesterov": True, "json": True},
}


def keras_schedule(spec, lr):
    kind = spec["kind"]
    if kind == "exponential":
        return keras.optimizers.schedules.ExponentialDecay(lr, spec["decay_steps"], spec["decay_rate"],
                                                           staircase=spec.get("staircase", False))
    if kind == "cosine":
        return keras.optimizers.schedules.CosineDecay(lr, spec["decay_steps"], alpha=spec.get("alpha", 0.0),
                                                      warmup_target=spec.get("warmup_target"),
                                                      warmup_steps=spec.get("warmup_steps", 0))
    return keras.optimizers.schedules.PiecewiseConstantDecay(spec["boundaries"], spec["values"])


def keras_optimizer(v):
    cls = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD, "rmsprop": keras.optimizers.RMSprop,
           "adamw": keras.optimizers.AdamW, "adagrad": keras.optimizers.Adagrad,
           "nadam": keras.optimizers.Nadam}[v["optimizer"]]
    kwargs = {}
    lr = v["learning_rate"]
    if v["schedule"] is not None:
        kwargs["learning_rate"] = keras_schedule(v["schedule"], lr if lr is not None else 0.001)
    elif lr is not None:
        kwargs["learning_rate"] = lr
    if v["optimizer"] in ("sgd", "rmsprop"):
        kwargs["momentum"] = v["momentum"]
    if v["optimizer"] == "sgd":
        kwargs["nesterov"] = v["nesterov"]
    if v["weight_decay"] is not None:
        kwargs["weight_decay"] = v["weight_decay"]
    return cls(**kwargs)


def replay_model(v, hidden):
    keras.backend.clear_session()
    keras.utils.set_random_seed(11)
    reg = keras.regularizers.L2(v["l2"]) if v["l2"] else None
    layers = [keras.Input((196,))]
    for width in hidden:
        if v["batch_norm"]:
            layers += [keras.layers.Dense(width, kernel_initializer="glorot_normal", kernel_regularizer=reg),
                       keras.layers.BatchNormalization(), keras.layers.Activation(v["activation"])]
        else:
            layers += [keras.layers.Dense(width, activation=v["activation"], kernel_initializer="glorot_normal",
                                          kernel_regularizer=reg)]
        if v["dropout"]:
            layers += [keras.layers.Dropout(v["dropout"])]
    layers += [keras.layers.Dense(10, activation="softmax", kernel_initializer="glorot_normal", kernel_regularizer=reg)]
    model = keras.Sequential(layers)
    model.compile(optimizer=keras_optimizer(v), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def replay(data_dir, out_dir):
    def images(stem, n):
        x = read_idx(find(data_dir, stem), 16).reshape(-1, 28, 28)[:n, ::2, ::2].reshape(n, 196)
        return x.astype(np.float32) / np.float32(255)
    x, xt = images("train-images-idx3-ubyte", 128), images("t10k-images-idx3-ubyte", 500)
    y = read_idx(find(data_dir, "train-labels-idx1-ubyte"), 8)[:128].astype(np.int32)
    yt = read_idx(find(data_dir, "t10k-labels-idx1-ubyte"), 8)[:500].astype(np.int32)
    hidden, batch, epochs = [16, 8], 16, 2

    # The shared initial dense weights: those of the plain network.
    plain = replay_model(dict(REPLAY_DEFAULTS), hidden)
    dense_weights = [w.numpy() for w in plain.weights]
    with open(os.path.join(out_dir, "keras_replay.weights"), "wb") as f:
        for w in dense_weights:
            f.write(np.asarray(w, "<f4").tobytes())
    doc = {"keras": keras.__version__, "hidden": hidden, "inputs": 196, "batch_size": batch,
           "train_examples": len(y), "epochs": epochs, "test_examples": len(yt),
           "weights": [{"name": w.path.split("/", 1)[1], "shape": list(w.shape)} for w in plain.weights],
           "variants": {}}
    for name, spec in REPLAY_VARIANTS.items():
        v = {**REPLAY_DEFAULTS, **spec}
        model = replay_model(v, hidden)
        dense = iter(dense_weights)
        model.set_weights([next(dense) if "dense" in w.path else w.numpy() for w in model.weights])
        out = {"config": {k: v[k] for k in REPLAY_DEFAULTS if k != "json"}, "losses": [], "accuracies": [],
               "learning_rates": []}
        for _ in range(epochs):
            for start in range(0, len(y), batch):
                out["learning_rates"].append(float(model.optimizer.learning_rate))
                logs = model.train_on_batch(x[start:start + batch], y[start:start + batch], return_dict=True)
                out["losses"].append(float(logs["loss"]))
                out["accuracies"].append(float(logs["accuracy"]))
        out["final_learning_rate"] = float(model.optimizer.learning_rate)
        out["eval_loss"], out["eval_accuracy"] = map(float, model.evaluate(xt, yt, batch_size=500, verbose=0))
        if v["json"]:
            out["keras_json"] = json.loads(model.to_json())
            out["optimizer_variables"] = [var.path for var in model.optimizer.variables]
        doc["variants"][name] = out
    with open(os.path.join(out_dir, "keras_replay.json"), "w") as f:
        json.dump(doc, f, indent=None, separators=(",", ":"))
        f.write("\n")


def conv(name, filters, kernel, strides=(1, 1), padding="valid", activation="relu", use_bias=True, inbound=None):
    layer = {"class_name": "Conv2D", "name": name, "conv2d": {
        "filters": filters, "kernel_size": list(kernel), "strides": list(strides), "padding": padding,
        "use_bias": use_bias, "activation": activation}}
    if inbound:
        layer["inbound"] = inbound
    return layer


def pool(cls, name, size=(2, 2), strides=None, padding="valid"):
    return {"class_name": cls, "name": name, "pooling": {
        "pool_size": list(size), "strides": list(strides or size), "padding": padding}}


def dense_out(name="dense", inbound=None):
    layer = {"class_name": "Dense", "name": name, "dense": {"units": 10, "activation": "softmax", "use_bias": True}}
    if inbound:
        layer["inbound"] = inbound
    return layer


def batch_norm(name, axis=-1):
    return {"class_name": "BatchNormalization", "name": name, "batch_normalization": {
        "axis": axis, "momentum": 0.99, "epsilon": 0.001, "center": True, "scale": True}}


def simple(name):
    return {"class_name": name, "name": keras_auto_name(name)}


def keras_auto_name(cls):
    return {"Flatten": "flatten", "GlobalAveragePooling2D": "global_average_pooling2d"}[cls]


IMAGE = {"shape": [14, 14, 1]}
CONVNET = [conv("conv2d", 4, (3, 3)), pool("MaxPooling2D", "max_pooling2d"), conv("conv2d_1", 6, (3, 3)),
           simple("Flatten"), dense_out()]
# Layer variants: name -> (network layers, input, optimizer settings as in REPLAY_DEFAULTS).
LAYER_VARIANTS = {
    "conv2d_valid_strides": ([conv("conv2d", 4, (3, 3), strides=(2, 2)), simple("Flatten"), dense_out()], IMAGE, {}),
    "conv2d_same_strides": ([conv("conv2d", 4, (3, 2), strides=(2, 3), padding="same", activation="tanh", use_bias=False),
                             simple("Flatten"), dense_out()], IMAGE, {}),
    "max_pooling2d": ([conv("conv2d", 4, (3, 3)), pool("MaxPooling2D", "max_pooling2d", (3, 3), (2, 2), "same"),
                       simple("Flatten"), dense_out()], IMAGE, {}),
    "average_pooling2d": ([conv("conv2d", 4, (3, 3)), pool("AveragePooling2D", "average_pooling2d", (3, 3), (2, 2), "same"),
                           simple("Flatten"), dense_out()], IMAGE, {}),
    "average_pooling2d_valid": ([conv("conv2d", 4, (3, 3)), pool("AveragePooling2D", "average_pooling2d"),
                                 simple("Flatten"), dense_out()], IMAGE, {}),
    "global_average_pooling2d": ([conv("conv2d", 8, (3, 3)), simple("GlobalAveragePooling2D"), dense_out()], IMAGE,
                                 {"learning_rate": 0.01}),
    "batch_normalization_4d": ([conv("conv2d", 4, (3, 3), strides=(2, 2), activation="linear"), batch_norm("batch_normalization"),
                                {"class_name": "Activation", "name": "activation", "activation": {"activation": "relu"}},
                                simple("Flatten"), dense_out()], IMAGE, {"learning_rate": 0.01}),
    "batch_normalization_axis_1": ([conv("conv2d", 4, (3, 3), strides=(2, 2)), batch_norm("batch_normalization", axis=1),
                                    simple("Flatten"), dense_out()], IMAGE, {"learning_rate": 0.01}),
    "dropout": ([conv("conv2d", 4, (3, 3), strides=(2, 2)), {"class_name": "Dropout", "name": "dropout", "dropout": {"rate": 0.3}},
                 simple("Flatten"), {"class_name": "Dropout", "name": "dropout_1", "dropout": {"rate": 0.5}}, dense_out()],
                IMAGE, {"learning_rate": 0.01}),
    "add": ([conv("conv2d", 4, (3, 3), strides=(2, 2), padding="same"),
             conv("conv2d_1", 4, (3, 3), padding="same", activation="linear"),
             {"class_name": "Add", "name": "add", "inbound": ["conv2d", "conv2d_1"]},
             {"class_name": "Activation", "name": "activation", "activation": {"activation": "relu"}},
             simple("Flatten"), dense_out()], IMAGE, {"learning_rate": 0.01}),
    "concatenate": ([conv("conv2d", 4, (3, 3), strides=(2, 2), padding="same"),
                     conv("conv2d_1", 3, (5, 5), strides=(2, 2), padding="same", activation="tanh", inbound=["input_layer"]),
                     {"class_name": "Concatenate", "name": "concatenate", "inbound": ["conv2d", "conv2d_1"],
                      "concatenate": {"axis": -1}},
                     simple("Flatten"), dense_out()], IMAGE, {"learning_rate": 0.01}),
    "rescaling_reshape": ([{"class_name": "Rescaling", "name": "rescaling", "rescaling": {"scale": 2.0, "offset": -1.0}},
                           {"class_name": "Reshape", "name": "reshape", "reshape": {"target_shape": [14, 14, 1]}},
                           conv("conv2d", 4, (3, 3), strides=(2, 2)), simple("Flatten"), dense_out()],
                          {"shape": [196]}, {}),
    **{f"convnet_{name}": (CONVNET, IMAGE, spec) for name, spec in (
        ("adam", {"learning_rate": 0.003}),
        ("sgd", {"optimizer": "sgd", "learning_rate": 0.05, "momentum": 0.9, "nesterov": True}),
        ("rmsprop", {"optimizer": "rmsprop", "learning_rate": 0.003, "momentum": 0.5}),
        ("adamw", {"optimizer": "adamw", "learning_rate": 0.01, "weight_decay": 0.5}),
        ("adagrad", {"optimizer": "adagrad", "learning_rate": 0.05}),
        ("nadam", {"optimizer": "nadam", "learning_rate": 0.01}),
    )},
}
LAYER_SEED = 5  # tfsweep's Config.Seed for the dropout masks


def mask_bits(rate):
    """The random bits per element of tfsweep's mask: 8 or 16 where rate * 2^bits is whole, else 0."""
    for bits in (8, 16):
        if (rate * (1 << bits)).is_integer():
            return bits
    return 0


class SeededDropout(keras.layers.Dropout):
    """Dropout drawing tfsweep's mask seeded [seed, 2^32*(index+1) + iterations]: where rate * 2^b is a
    whole number t for b = 8 or 16, an element is kept when its b bits of StatelessRandomUniformFullInt's
    uint32 words (bitcast, in order) are >= t; else stateless_dropout's uniform floats >= rate."""

    def __init__(self, rate, index, optimizer, **kwargs):
        super().__init__(rate, **kwargs)
        self.index, self.optimizer = index, optimizer

    def call(self, inputs, training=False):
        import tensorflow as tf
        if not training or self.rate == 0:
            return inputs
        step = tf.cast(self.optimizer.iterations, tf.int64) + ((self.index + 1) << 32)
        seed = tf.stack([tf.constant(LAYER_SEED, tf.int64), step])
        bits = mask_bits(self.rate)
        if not bits:
            return tf.nn.experimental.stateless_dropout(inputs, self.rate, seed)
        shape = tf.shape(inputs)
        n = tf.reduce_prod(shape)
        per_word = 32 // bits
        words = tf.raw_ops.StatelessRandomUniformFullInt(shape=tf.reshape((n + per_word - 1) // per_word, [1]), seed=seed,
                                                         dtype=tf.uint32)
        dtype = tf.uint8 if bits == 8 else tf.uint16
        parts = tf.reshape(tf.bitcast(words, dtype), [-1])[:n]
        keep = tf.reshape(parts, shape) >= tf.constant(int(self.rate * (1 << bits)), dtype)
        return inputs * tf.constant(1 / (1 - self.rate), inputs.dtype) * tf.cast(keep, inputs.dtype)


def keras_layer(spec, optimizer, dropouts):
    cls, name = spec["class_name"], spec["name"]
    if cls == "Conv2D":
        a = spec["conv2d"]
        return keras.layers.Conv2D(a["filters"], tuple(a["kernel_size"]), strides=tuple(a["strides"]), padding=a["padding"],
                                   use_bias=a["use_bias"], activation=a["activation"], name=name)
    if cls == "Dense":
        a = spec["dense"]
        return keras.layers.Dense(a["units"], activation=a["activation"], use_bias=a["use_bias"], name=name)
    if cls in ("MaxPooling2D", "AveragePooling2D"):
        a = spec["pooling"]
        return getattr(keras.layers, cls)(tuple(a["pool_size"]), strides=tuple(a["strides"]), padding=a["padding"], name=name)
    if cls == "BatchNormalization":
        a = spec["batch_normalization"]
        return keras.layers.BatchNormalization(axis=a["axis"], momentum=a["momentum"], epsilon=a["epsilon"], name=name)
    if cls == "Activation":
        return keras.layers.Activation(spec["activation"]["activation"], name=name)
    if cls == "Dropout":
        dropouts.append(name)
        return SeededDropout(spec["dropout"]["rate"], len(dropouts) - 1, optimizer, name=name)
    if cls == "Rescaling":
        return keras.layers.Rescaling(spec["rescaling"]["scale"], spec["rescaling"]["offset"], name=name)
    if cls == "Reshape":
        return keras.layers.Reshape(tuple(spec["reshape"]["target_shape"]), name=name)
    if cls == "Concatenate":
        return keras.layers.Concatenate(axis=spec["concatenate"]["axis"], name=name)
    return getattr(keras.layers, cls)(name=name)


def layers_model(layers, input_spec, v):
    keras.backend.clear_session()
    keras.utils.set_random_seed(13)
    optimizer = keras_optimizer(v)
    inputs = keras.Input(tuple(input_spec["shape"]), name="input_layer")
    outputs, prev, dropouts = {"input_layer": inputs}, "input_layer", []
    for spec in layers:
        inbound = spec.get("inbound", [prev])
        args = [outputs[n] for n in inbound]
        outputs[spec["name"]] = keras_layer(spec, optimizer, dropouts)(args if len(args) > 1 else args[0])
        prev = spec["name"]
    model = keras.Model(inputs, outputs[prev])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def init_variances():
    """Variance of each kernel initializer's draw for a Conv2D kernel (5, 5, 16, 32)."""
    names = {"xavier": "glorot_normal", "glorot_uniform": "glorot_uniform", "he_normal": "he_normal",
             "he_uniform": "he_uniform", "lecun_normal": "lecun_normal", "lecun_uniform": "lecun_uniform",
             "uniform": "random_uniform"}
    out = {}
    for ours, theirs in names.items():
        w = np.asarray(keras.initializers.get({"class_name": theirs, "config": {"seed": 3}})((5, 5, 16, 32)))
        out[ours] = float(np.var(w.astype(np.float64)))
    return out


def layer_replays(data_dir, out_dir):
    def images(stem, n):
        x = read_idx(find(data_dir, stem), 16).reshape(-1, 28, 28)[:n, ::2, ::2]
        return x.astype(np.float32) / np.float32(255)
    x, xt = images("train-images-idx3-ubyte", 64), images("t10k-images-idx3-ubyte", 200)
    y = read_idx(find(data_dir, "train-labels-idx1-ubyte"), 8)[:64].astype(np.int32)
    yt = read_idx(find(data_dir, "t10k-labels-idx1-ubyte"), 8)[:200].astype(np.int32)
    batch, epochs = 16, 2
    doc = {"keras": keras.__version__, "batch_size": batch, "train_examples": len(y), "epochs": epochs,
           "test_examples": len(yt), "seed": LAYER_SEED, "init_variances": init_variances(),
           "init_shape": [5, 5, 16, 32], "variants": {}}
    with open(os.path.join(out_dir, "keras_layers.weights"), "wb") as f:
        for name, (layers, input_spec, spec) in LAYER_VARIANTS.items():
            v = {**REPLAY_DEFAULTS, **spec}
            model = layers_model(layers, input_spec, v)
            shape = (-1, *input_spec["shape"])
            weights = [{"name": w.path.split("/", 1)[1] if w.path.count("/") > 1 else w.path, "shape": list(w.shape)}
                       for w in model.weights]
            for w in model.weights:
                f.write(np.asarray(w.numpy(), "<f4").tobytes())
            out = {"network": {"name": name, "input": input_spec, "layers": layers},
                   "config": {k: v[k] for k in ("optimizer", "learning_rate", "momentum", "nesterov", "weight_decay")},
                   "weights": weights, "losses": [], "accuracies": []}
            for _ in range(epochs):
                for start in range(0, len(y), batch):
                    logs = model.train_on_batch(x[start:start + batch].reshape(shape), y[start:start + batch], return_dict=True)
                    out["losses"].append(float(logs["loss"]))
                    out["accuracies"].append(float(logs["accuracy"]))
            out["eval_loss"], out["eval_accuracy"] = map(float, model.evaluate(xt.reshape(shape), yt, batch_size=200, verbose=0))
            doc["variants"][name] = out
    with open(os.path.join(out_dir, "keras_layers.json"), "w") as f:
        json.dump(doc, f, indent=None, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    mode = sys.argv[3] if len(sys.argv) > 3 else ""
    if mode in ("", "replay"):
        if mode == "":
            main(sys.argv[1], sys.argv[2])
        replay(sys.argv[1], sys.argv[2])
    if mode in ("", "layers"):
        layer_replays(sys.argv[1], sys.argv[2])
