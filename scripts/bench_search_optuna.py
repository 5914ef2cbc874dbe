#!/usr/bin/env python3
"""Optuna's side of `make bench-search`: the same search space over the lab MLP, trained in Keras.

Each method searches under a budget of training epochs: a trial trains one epoch at a time, reports the
validation loss after each, and the pruner may stop it. The search ends when the epochs spent reach the
budget. For every method and search seed it prints one JSON line with the trajectory of the best
validation loss against the epochs spent and the wall time:

    {"system": "optuna", "method": "tpe+hyperband", "seed": 1, "trials": 31,
     "points": [[epochs_spent, seconds, best_val_loss], ...]}

Methods: tpe+hyperband (TPESampler with HyperbandPruner, Optuna's recommended pairing) and
random+median (RandomSampler with MedianPruner). The network, data, scaling and loss are
scripts/keras_reference.py's, so tfsweep's trials and these train the same thing.
"""

import argparse
import contextlib
import json
import os
import sys
import time

import keras_reference as ref

# The search space, shared with scripts/bench_search (tfsweep's side): keep the two in step.
LR = (1e-4, 1e-1)
BATCH_SIZES = (64, 128, 256)
INITS = ("xavier", "uniform", "he_normal")
ACTIVATIONS = ("tanh", "relu")
DROPOUT = (0.0, 0.5)
L2 = (1e-6, 1e-2)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", required=True)
    p.add_argument("--limit", type=int, default=10000, help="train on the first N training images")
    p.add_argument("--max-epochs", type=int, default=9, help="a trial's most epochs")
    p.add_argument("--budget", type=int, default=180, help="training epochs per search")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    p.add_argument("--methods", nargs="+", default=["tpe+hyperband", "random+median"])
    return p.parse_args(argv)


def make_study(optuna, method, seed, max_epochs):
    if method == "tpe+hyperband":
        sampler = optuna.samplers.TPESampler(seed=seed)
        pruner = optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max_epochs, reduction_factor=3)
    elif method == "random+median":
        sampler = optuna.samplers.RandomSampler(seed=seed)
        pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    else:
        raise SystemExit(f"bench_search_optuna: unknown method {method!r}")
    return optuna.create_study(direction="minimize", sampler=sampler, pruner=pruner)


def trial_args(trial, data_dir, limit, seed):
    argv = [
        "--data-dir", data_dir, "--limit", str(limit), "--seed", str(seed),
        "--lr", repr(trial.suggest_float("lr", *LR, log=True)),
        "--batch-size", str(trial.suggest_categorical("batch_size", BATCH_SIZES)),
        "--init", trial.suggest_categorical("init", INITS),
        "--batchnorm", trial.suggest_categorical("batchnorm", ("off", "on")),
        "--activation", trial.suggest_categorical("activation", ACTIVATIONS),
        "--dropout", repr(trial.suggest_float("dropout", *DROPOUT)),
        "--l2", repr(trial.suggest_float("l2", *L2, log=True)),
    ]
    return ref.parse_args(argv)


class Search:
    """One study's budget and trajectory; the objective trains until the budget is spent."""

    def __init__(self, optuna, keras, data, args):
        self.optuna, self.keras, self.data, self.args = optuna, keras, data, args
        self.spent, self.best, self.points, self.start = 0, float("inf"), [], time.perf_counter()

    def objective(self, trial):
        a = trial_args(trial, self.args.data_dir, self.args.limit, trial.number + 1)
        self.keras.utils.set_random_seed(a.seed)
        (x, y), (vx, vy) = self.data
        model = ref.build_model(self.keras, a, x.shape[1])
        loss = float("inf")
        for epoch in range(self.args.max_epochs):
            if self.spent >= self.args.budget:
                raise self.optuna.TrialPruned()
            h = model.fit(x, y, batch_size=a.batch_size, epochs=epoch + 1, initial_epoch=epoch,
                          validation_data=(vx, vy), verbose=0, shuffle=True)
            loss = h.history["val_loss"][-1]
            self.spent += 1
            self.best = min(self.best, loss)
            self.points.append([self.spent, round(time.perf_counter() - self.start, 3), self.best])
            trial.report(loss, epoch)
            if trial.should_prune():
                raise self.optuna.TrialPruned()
        return loss

    def done(self, study, _trial):
        if self.spent >= self.args.budget:
            study.stop()


def main(argv):
    args = parse_args(argv)
    with contextlib.redirect_stdout(sys.stderr):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import keras
        import optuna
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        scale = ref.parse_args(["--data-dir", args.data_dir]).scale
        data = (ref.load_split(args.data_dir, "train_images", "train_labels", scale, args.limit),
                ref.load_split(args.data_dir, "test_images", "test_labels", scale, 0))
    for method in args.methods:
        for seed in args.seeds:
            search = Search(optuna, keras, data, args)
            study = make_study(optuna, method, seed, args.max_epochs)
            with contextlib.redirect_stdout(sys.stderr):
                study.optimize(search.objective, callbacks=[search.done])
            print(json.dumps({"system": "optuna", "method": method, "seed": seed, "trials": len(study.trials),
                              "points": search.points}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
