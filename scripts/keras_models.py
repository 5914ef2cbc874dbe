#!/usr/bin/env python3
"""Writes the Keras 3 model fixtures that modelfile's tests import.

    python scripts/keras_models.py OUT_DIR      # needs Keras 3 (scripts/setup-python.sh peers prints a python that has it)

Each model is built with Keras itself and written as model.to_json() (<name>.json); a few are also saved as a
.keras archive (<name>.keras, whose config.json modelfile reads). keras.backend.clear_session() before each
model restarts Keras' automatic names, so the names are those a fresh session gives (conv2d, conv2d_1, ...).
The unsupported_* models are real Keras models that tfsweep must refuse, naming the layer or argument.
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras  # noqa: E402
from keras import layers  # noqa: E402


def convnet():
    """Keras' "simple MNIST convnet" example, as its page writes it."""
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ])


def mlp():
    """The lab report's MLP as tfsweep's built-in network: 784 -> 128 -> 64 -> 10, glorot_normal, tanh."""
    return keras.Sequential([
        keras.Input(shape=(784,)),
        layers.Dense(128, activation="tanh", kernel_initializer="glorot_normal"),
        layers.Dense(64, activation="tanh", kernel_initializer="glorot_normal"),
        layers.Dense(10, activation="softmax", kernel_initializer="glorot_normal"),
    ])


def built_without_input():
    """A Sequential model given no keras.Input, built with model.build: its config has no InputLayer."""
    model = keras.Sequential([layers.Dense(32, activation="relu"), layers.Dense(10, activation="softmax")])
    model.build((None, 784))
    return model


def residual():
    """Two residual blocks (Add) and a Concatenate of both blocks' outputs, functional."""
    inputs = keras.Input(shape=(28, 28, 1), name="pixels")
    x = layers.Rescaling(1 / 255)(inputs)
    stem = layers.Conv2D(8, 3, padding="same", activation="relu", name="stem")(x)
    y = layers.Conv2D(8, 3, padding="same", activation="relu")(stem)
    y = layers.Conv2D(8, 3, padding="same")(y)
    a = layers.Add()([stem, y])
    a = layers.Activation("relu")(a)
    y = layers.Conv2D(8, 3, padding="same", activation="relu")(a)
    y = layers.Conv2D(8, 3, padding="same")(y)
    b = layers.Add()([a, y])
    b = layers.Activation("relu")(b)
    both = layers.Concatenate()([a, b])
    pooled = layers.GlobalAveragePooling2D()(both)
    outputs = layers.Dense(10, activation="softmax")(pooled)
    return keras.Model(inputs, outputs, name="residual")


def every_layer():
    """Every layer class and argument tfsweep reads, set away from Keras' defaults where it can be."""
    reg = keras.regularizers.L2(1e-4)
    return keras.Sequential([
        keras.Input(shape=(784,)),
        layers.Rescaling(scale=2.0, offset=-1.0),
        layers.Reshape((28, 28, 1)),
        layers.Conv2D(6, (5, 3), strides=(2, 1), padding="same", use_bias=False,
                      kernel_initializer="he_uniform", kernel_regularizer=reg),
        layers.BatchNormalization(axis=-1, momentum=0.9, epsilon=1e-5, center=False),
        layers.Activation("elu"),
        layers.AveragePooling2D(pool_size=3, strides=2, padding="same"),
        layers.MaxPooling2D(pool_size=(2, 2), strides=(1, 1)),
        layers.BatchNormalization(axis=1, scale=False),
        layers.GlobalAveragePooling2D(),
        layers.Dense(32, activation="gelu", kernel_initializer="lecun_normal"),
        layers.Dropout(0.25),
        layers.Dense(10, activation="softmax", kernel_initializer="random_uniform", kernel_regularizer=reg),
    ], name="every_layer")


def unsupported_layer():
    return keras.Sequential([keras.Input(shape=(28, 28, 1)), layers.SeparableConv2D(4, 3), layers.Flatten(),
                             layers.Dense(10, activation="softmax")])


def unsupported_dilation():
    return keras.Sequential([keras.Input(shape=(28, 28, 1)), layers.Conv2D(4, 3, dilation_rate=2), layers.Flatten(),
                             layers.Dense(10, activation="softmax")])


def unsupported_bias_initializer():
    return keras.Sequential([keras.Input(shape=(784,)), layers.Dense(16, bias_initializer="ones"),
                             layers.Dense(10, activation="softmax")])


def unsupported_regularizer():
    return keras.Sequential([keras.Input(shape=(784,)), layers.Dense(16, kernel_regularizer="l1"),
                             layers.Dense(10, activation="softmax")])


def unsupported_activation():
    return keras.Sequential([keras.Input(shape=(784,)), layers.Dense(16, activation="softsign"),
                             layers.Dense(10, activation="softmax")])


def unsupported_two_inputs():
    a, b = keras.Input(shape=(8,), name="a"), keras.Input(shape=(8,), name="b")
    out = layers.Dense(10, activation="softmax")(layers.Concatenate()([a, b]))
    return keras.Model([a, b], out, name="two_inputs")


MODELS = [convnet, mlp, built_without_input, residual, every_layer, unsupported_layer, unsupported_dilation,
          unsupported_bias_initializer, unsupported_regularizer, unsupported_activation, unsupported_two_inputs]
ARCHIVES = {"residual"}


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for make in MODELS:
        keras.backend.clear_session()
        model = make()
        name = make.__name__
        with open(os.path.join(out, name + ".json"), "w") as f:
            f.write(model.to_json())
        if name in ARCHIVES:
            model.save(os.path.join(out, name + ".keras"))
        if not name.startswith("unsupported"):
            summary = {
                "params": model.count_params(),
                "layers": [{"name": layer.name, "output_shape": list(layer.output.shape[1:])}
                           for layer in model.layers],
            }
            with open(os.path.join(out, name + ".summary.json"), "w") as f:
                json.dump(summary, f, indent=1)
                f.write("\n")
        print(name, model.count_params(), "parameters")
    with open(os.path.join(out, "VERSION"), "w") as f:
        f.write(f"keras {keras.__version__}\n")


if __name__ == "__main__":
    main()
