#!/usr/bin/env python3
"""Records Keras 3's own EarlyStopping and ReduceLROnPlateau decisions on scripted metric sequences.

trainer's Go callbacks replay the same sequences through trainer.Fit and must take the same decisions
epoch by epoch (trainer/callbacks_keras_test.go). The reference is Keras itself: each callback is
driven directly on a tiny compiled model, the way keras/src/backend/tensorflow/trainer.py's fit loop
drives it (on_train_begin, then on_epoch_end with the epoch's logs, checking model.stop_training
after every epoch's callbacks, then on_train_end), so no training noise enters the figures.

Before each epoch's callbacks the model's weights are all set to the epoch number, so which epoch's
weights EarlyStopping(restore_best_weights=True) put back can be read off the model at the end.

The last part runs a real model.fit with TensorBoard and ReduceLROnPlateau in both orders and reads
back epoch_learning_rate, to record which learning rate TensorBoard logs in an epoch that reduces it.

Run with the peers venv:  $(scripts/setup-python.sh peers) scripts/keras_callbacks_fixture.py
It rewrites trainer/testdata/keras_callbacks.json.
"""

import json
import os
import pathlib
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parent.parent / "trainer" / "testdata" / "keras_callbacks.json"
METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")


def f32(x):
    # Keras' logs are float32 metric results turned into Python floats; feeding the same values keeps
    # the Go side (whose train steps report float32) exactly comparable.
    return float(np.float32(x))


def epoch_logs(seq, epoch):
    """The logs of one epoch: the scripted metric where the sequence has one, else a filler."""
    fillers = {"loss": 1.0, "accuracy": 0.5, "val_loss": 1.0, "val_accuracy": 0.5}
    return {m: f32(seq[m][epoch]) if m in seq else fillers[m] for m in METRICS}


def tiny_model(lr):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    # Builds the compiled metrics, which mode="auto" inspects to find accuracy's direction.
    model.evaluate(np.zeros((2, 2), "float32"), np.zeros((2,), "int32"), verbose=0)
    return model


def mark_weights(model, epoch):
    model.set_weights([np.full(w.shape, epoch, w.dtype) for w in model.get_weights()])


def weights_mark(model):
    return int(round(float(model.get_weights()[0].flat[0])))


def best_value(best):
    return None if best is None else float(best)


def run_early_stopping(case):
    params = case["params"]
    n = len(next(iter(case["seq"].values())))
    model = tiny_model(0.01)
    cb = keras.callbacks.EarlyStopping(**params)
    cb.set_model(model)
    model.stop_training = False
    cb.on_train_begin()
    epochs, logs_fed = [], []
    for epoch in range(n):
        mark_weights(model, epoch)
        logs = epoch_logs(case["seq"], epoch)
        logs_fed.append(logs)
        cb.on_epoch_end(epoch, dict(logs))
        epochs.append({
            "epoch": epoch,
            "wait": cb.wait,
            "best": best_value(cb.best),
            "best_epoch": cb.best_epoch,
            "stopped_epoch": cb.stopped_epoch,
            "stop_training": bool(model.stop_training),
        })
        if model.stop_training:
            break
    restores = []
    set_weights = model.set_weights
    model.set_weights = lambda w: (restores.append(True), set_weights(w))
    cb.on_train_end()
    mark = weights_mark(model)
    return {
        "name": case["name"],
        "params": params,
        "logs": logs_fed,
        "epochs": epochs,
        "epochs_run": len(epochs),
        "stopped_epoch": cb.stopped_epoch,
        "best_epoch": cb.best_epoch,
        "restored": bool(restores),
        "final_weights_epoch": mark,
    }


def run_reduce_lr(case):
    params = case["params"]
    n = len(next(iter(case["seq"].values())))
    lr = case["initial_lr"]
    if case.get("schedule"):
        lr = keras.optimizers.schedules.ExponentialDecay(lr, decay_steps=10, decay_rate=0.5)
    model = tiny_model(lr)
    cb = keras.callbacks.ReduceLROnPlateau(**params)
    cb.set_model(model)
    cb.on_train_begin()
    epochs, logs_fed, error = [], [], None
    for epoch in range(n):
        logs = epoch_logs(case["seq"], epoch)
        logs_fed.append(logs)
        try:
            cb.on_epoch_end(epoch, dict(logs))
        except TypeError as e:  # setting the rate of an optimizer with a schedule
            error = {"epoch": epoch, "message": str(e)}
            break
        epochs.append({
            "epoch": epoch,
            "wait": cb.wait,
            "cooldown_counter": cb.cooldown_counter,
            "best": best_value(cb.best),
            "lr": float(model.optimizer.learning_rate),
        })
    cb.on_train_end()
    return {
        "name": case["name"],
        "params": params,
        "initial_lr": case["initial_lr"],
        "schedule": bool(case.get("schedule")),
        "logs": logs_fed,
        "epochs": epochs,
        "error": error,
    }


def run_tensorboard_order(order):
    """A real fit; returns epoch_learning_rate as TensorBoard logged it and the rate after each epoch."""
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(32, 2)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    model = tiny_model(0.5)
    # min_delta this large makes every epoch after the first a non-improvement, so with patience 1
    # the rate is cut at the end of every epoch from epoch 1 on, whatever the losses are.
    params = {"monitor": "val_loss", "factor": 0.5, "patience": 1, "min_delta": 1e9}
    rlrop = keras.callbacks.ReduceLROnPlateau(**params)
    rates = []

    class RateAfterEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            rates.append(float(self.model.optimizer.learning_rate))

    with tempfile.TemporaryDirectory() as logdir:
        tb = keras.callbacks.TensorBoard(logdir, histogram_freq=0, write_graph=False)
        cbs = {"tensorboard": tb, "reduce_lr": rlrop}
        epochs = 4
        model.fit(x, y, validation_data=(x, y), epochs=epochs, batch_size=16, verbose=0,
                  callbacks=[cbs[name] for name in order] + [RateAfterEpoch()])
        logged = {}
        for f in pathlib.Path(logdir, "train").glob("events.out.tfevents.*"):
            for event in tf.compat.v1.train.summary_iterator(str(f)):
                for v in event.summary.value:
                    if v.tag == "epoch_learning_rate":
                        logged[event.step] = float(tf.make_ndarray(v.tensor))
    return {
        "order": list(order),
        "params": params,
        "initial_lr": 0.5,
        "epochs": epochs,
        "logged_learning_rate": [logged[e] for e in range(epochs)],
        "lr_after_epoch": rates,
    }


EARLY_STOPPING = [
    {"name": "plateau", "params": {"patience": 2},
     "seq": {"val_loss": [1.0, 0.8, 0.8, 0.81, 0.79, 0.85, 0.9, 0.95]}},
    {"name": "patience 0 stops at the first non-improvement", "params": {"patience": 0},
     "seq": {"val_loss": [1.0, 0.9, 0.9, 0.7]}},
    {"name": "improving throughout, no stop", "params": {"patience": 1},
     "seq": {"val_loss": [1.0, 0.9, 0.8, 0.7, 0.6]}},
    {"name": "improvement within min_delta", "params": {"patience": 2, "min_delta": 0.02},
     "seq": {"val_loss": [1.0, 0.95, 0.94, 0.935, 0.91, 0.905, 0.9, 0.899]}},
    {"name": "negative min_delta is its absolute value", "params": {"patience": 1, "min_delta": -0.05},
     "seq": {"val_loss": [1.0, 0.97, 0.9, 0.88, 0.86]}},
    # Keras computes current - min_delta in float64 but compares in float32: an improvement of exactly
    # min_delta is one in float64 arithmetic and none in float32's.
    {"name": "improvement of exactly min_delta", "params": {"patience": 1, "min_delta": 0.1},
     "seq": {"val_loss": [1.0, 0.9, 0.8, 0.75, 0.6]}},
    {"name": "accuracy improvement of exactly min_delta", "params": {"monitor": "accuracy", "patience": 2, "min_delta": 0.1},
     "seq": {"accuracy": [0.5, 0.6, 0.7, 0.81, 0.9]}},
    {"name": "baseline never beaten", "params": {"patience": 3, "baseline": 0.5},
     "seq": {"val_loss": [0.9, 0.85, 0.8, 0.78, 0.7, 0.6]}},
    {"name": "baseline beaten later", "params": {"patience": 2, "baseline": 0.7},
     "seq": {"val_loss": [0.9, 0.8, 0.65, 0.66, 0.64, 0.65, 0.66, 0.67]}},
    {"name": "baseline with restore_best_weights", "params": {"patience": 3, "baseline": 0.5, "restore_best_weights": True},
     "seq": {"val_loss": [0.9, 0.7, 0.8, 0.75, 0.72, 0.6]}},
    {"name": "start_from_epoch", "params": {"patience": 2, "start_from_epoch": 3},
     "seq": {"val_loss": [1.0, 2.0, 3.0, 0.9, 0.95, 0.97, 0.99, 0.5]}},
    {"name": "start_from_epoch with restore_best_weights", "params": {"patience": 1, "start_from_epoch": 2, "restore_best_weights": True},
     "seq": {"val_loss": [0.1, 0.2, 0.9, 0.95, 0.97, 0.5]}},
    {"name": "restore_best_weights on stop", "params": {"patience": 2, "restore_best_weights": True},
     "seq": {"val_loss": [1.0, 0.7, 0.8, 0.75, 0.9, 0.6]}},
    {"name": "restore_best_weights without stopping", "params": {"patience": 10, "restore_best_weights": True},
     "seq": {"val_loss": [1.0, 0.7, 0.6, 0.8, 0.75]}},
    {"name": "restore_best_weights, last epoch best", "params": {"patience": 10, "restore_best_weights": True},
     "seq": {"val_loss": [1.0, 0.7, 0.6, 0.5]}},
    {"name": "accuracy, mode auto is max", "params": {"monitor": "accuracy", "patience": 2},
     "seq": {"accuracy": [0.5, 0.6, 0.6, 0.59, 0.7, 0.7, 0.69, 0.68]}},
    {"name": "val_accuracy with min_delta", "params": {"monitor": "val_accuracy", "patience": 1, "min_delta": 0.01},
     "seq": {"val_accuracy": [0.8, 0.85, 0.855, 0.87, 0.875, 0.86]}},
    {"name": "loss, mode auto is min", "params": {"monitor": "loss", "patience": 1},
     "seq": {"loss": [2.0, 1.5, 1.6, 1.4, 1.45, 1.5]}},
    {"name": "val_loss with mode max", "params": {"monitor": "val_loss", "mode": "max", "patience": 1},
     "seq": {"val_loss": [1.0, 1.2, 1.1, 1.3, 1.25, 1.2]}},
    {"name": "accuracy with mode min", "params": {"monitor": "accuracy", "mode": "min", "patience": 1},
     "seq": {"accuracy": [0.5, 0.6, 0.4, 0.45, 0.5]}},
]

REDUCE_LR = [
    {"name": "defaults on a plateau", "params": {}, "initial_lr": 0.001,
     "seq": {"val_loss": [1.0, 0.9] + [0.9] * 22}},
    {"name": "plateau, patience 2", "params": {"patience": 2, "factor": 0.5}, "initial_lr": 0.01,
     "seq": {"val_loss": [1.0, 0.9, 0.9, 0.91, 0.89, 0.9, 0.95, 0.97, 0.8, 0.85]}},
    {"name": "improvement within min_delta", "params": {"patience": 1, "factor": 0.5, "min_delta": 1e-4}, "initial_lr": 0.01,
     "seq": {"val_loss": [1.0, 0.99995, 0.9998, 0.99975, 0.9996, 0.99959, 0.9]}},
    {"name": "improvement of exactly min_delta", "params": {"patience": 1, "factor": 0.5, "min_delta": 0.1}, "initial_lr": 0.01,
     "seq": {"val_loss": [1.0, 0.9, 0.8, 0.65, 0.6]}},
    {"name": "cooldown", "params": {"patience": 1, "factor": 0.5, "cooldown": 2}, "initial_lr": 0.1,
     "seq": {"val_loss": [1.0] * 6 + [0.5, 0.6, 0.6, 0.6, 0.4, 0.4]}},
    {"name": "cooldown with patience 2", "params": {"patience": 2, "factor": 0.1, "cooldown": 1}, "initial_lr": 1.0,
     "seq": {"val_loss": [1.0, 1.0, 1.0, 1.0, 1.0, 0.9, 1.0, 1.0, 1.0, 1.0]}},
    {"name": "min_lr floor", "params": {"patience": 1, "factor": 0.1, "min_lr": 1e-4}, "initial_lr": 0.01,
     "seq": {"val_loss": [1.0] * 8}},
    {"name": "min_lr floor not a power of the factor", "params": {"patience": 1, "factor": 0.3, "min_lr": 0.002, "cooldown": 1}, "initial_lr": 0.1,
     "seq": {"val_loss": [1.0] * 10}},
    {"name": "val_accuracy, mode auto is max", "params": {"monitor": "val_accuracy", "patience": 1, "factor": 0.5}, "initial_lr": 0.01,
     "seq": {"val_accuracy": [0.8, 0.85, 0.84, 0.86, 0.86, 0.86, 0.9]}},
    {"name": "loss with mode max", "params": {"monitor": "loss", "mode": "max", "patience": 1, "factor": 0.5}, "initial_lr": 0.01,
     "seq": {"loss": [1.0, 1.1, 1.05, 1.0, 1.2]}},
    {"name": "schedule: the first reduction fails", "params": {"patience": 2}, "initial_lr": 0.01, "schedule": True,
     "seq": {"val_loss": [1.0, 0.9, 0.95, 0.96, 0.97, 0.98]}},
]


def main():
    fixture = {
        "generator": "scripts/keras_callbacks_fixture.py",
        "keras_version": keras.__version__,
        "tensorflow_version": tf.__version__,
        "early_stopping": [run_early_stopping(c) for c in EARLY_STOPPING],
        "reduce_lr_on_plateau": [run_reduce_lr(c) for c in REDUCE_LR],
        "tensorboard_order": [run_tensorboard_order(o) for o in (("tensorboard", "reduce_lr"), ("reduce_lr", "tensorboard"))],
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(fixture, indent=1) + "\n")
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
