#!/usr/bin/env python3
"""Proves scripts/tb_check.py against logs that TensorFlow and tensorboardX write themselves.

    $(scripts/setup-python.sh peers | tail -1) scripts/tb_check_peers.py

Writes two logdirs in a scratch directory: a Keras-like hparams sweep with tf.summary (scalars,
histograms, text, images (a float batch, saturated), PR curves from TensorBoard's own pr_curve
summary, op graph, Keras conceptual model, hparams experiment and two sessions, one FAILURE), and a tensorboardX logdir (legacy simple_value scalars, HistogramProto, text, add_hparams).
For each it runs tb_check.py (both loaders) twice: with the right expectation, which must pass, and
with a wrong one, which must fail naming every injected mismatch. Exit 0 when all four behave.
"""

import copy
import hashlib
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
KERAS_JSON = json.dumps({"class_name": "Sequential", "config": {"name": "seq", "layers": [
    {"class_name": "Dense", "config": {"name": "dense", "units": 3}}]}})


def write_tf(root):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.hparams import api as hp
    from tensorboard.plugins.hparams import api_pb2
    from tensorboard.plugins.hparams import summary as hp_v1

    with tf.summary.create_file_writer(root).as_default():
        hp.hparams_config(hparams=[hp.HParam("lr", hp.RealInterval(0.001, 0.1)),
                                   hp.HParam("opt", hp.Discrete(["adam", "sgd"]))],
                          metrics=[hp.Metric("epoch_loss", group="validation"),
                                   hp.Metric("epoch_accuracy", group="validation")])
    trials = [(0.001, "adam", api_pb2.STATUS_SUCCESS), (0.1, "sgd", api_pb2.STATUS_FAILURE)]
    for i, (lr, opt, status) in enumerate(trials):
        run = os.path.join(root, f"run-{i}")
        with tf.summary.create_file_writer(run).as_default():
            start = hp_v1.session_start_pb({"lr": lr, "opt": opt}, group_name=f"run-{i}")
            tf.summary.experimental.write_raw_pb(start.SerializeToString(), step=0)
            tf.summary.experimental.write_raw_pb(hp_v1.session_end_pb(status).SerializeToString(), step=0)
        for sub in ("train", "validation"):
            with tf.summary.create_file_writer(os.path.join(run, sub)).as_default():
                for step in range(3):
                    tf.summary.scalar("epoch_loss", 1.0 / (step + 1) + i, step=step)
                    tf.summary.scalar("epoch_accuracy", 0.5 + 0.1 * step, step=step)
                if sub != "train":
                    continue
                tf.summary.histogram("dense/kernel/histogram", np.arange(100, dtype=np.float32), step=0)
                tf.summary.histogram("dense/kernel/histogram", np.ones(10), step=1)
                tf.summary.text("notes", "hello **world** & <b>x</b>", step=0)
                tf.summary.image("img", np.zeros((1, 4, 7, 1), dtype=np.uint8), step=0)
                pictures = write_pictures(tf, np)
                md = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(
                    plugin_name="graph_keras_model", content=b"1"))
                tf.summary.write("keras", tf.constant(KERAS_JSON), step=0, metadata=md)

                @tf.function
                def double(x):
                    return tf.identity(x * 2, name="double")

                tf.summary.graph(double.get_concrete_function(tf.TensorSpec([None], tf.float32)).graph)

    runs = ["."] + [f"run-{i}{sub}" for i in range(2) for sub in ("", "/train", "/validation")]
    expect = {
        "runs": runs,
        "plugins_enabled": ["scalars", "histograms", "text", "images", "graphs", "hparams", "pr_curves"],
        "tags": {"scalars": {"run-0/train": ["epoch_loss", "epoch_accuracy"]},
                 "histograms": {"run-0/train": ["dense/kernel/histogram"]},
                 "text": {"run-0/train": ["notes"]}, "images": {"run-0/train": ["img", "pictures"]},
                 "pr_curves": {"run-0/train": [c["tag"] for c in pictures["pr_curves"]]}},
        "scalars": [
            {"run": "run-0/train", "tag": "epoch_loss", "steps": [0, 1, 2], "values": [1.0, 0.5, 1 / 3]},
            {"run": "run-1/validation", "tag": "epoch_accuracy", "steps_include": [2], "last_value": 0.7},
        ],
        "histograms": [{"run": "run-0/train", "tag": "dense/kernel/histogram", "steps": [0, 1],
                        "bucket_count": 30, "counts": {"0": 100, "1": 10}}],
        "texts": [{"run": "run-0/train", "tag": "notes", "step": 0, "equals": "hello **world** & <b>x</b>",
                   "html_contains": "<strong>world</strong>"}],
        "images": [{"run": "run-0/train", "tag": "img", "step": 0, "width": 7, "height": 4, "samples": 1}]
        + pictures["images"],
        "pr_curves": pictures["pr_curves"],
        "graphs": [{"run": "run-0/train", "run_graph": True, "keras": True, "nodes_include": ["double"],
                    "keras_nodes_include": ["seq/dense"]},
                   {"run": "run-0/validation", "run_graph": False, "keras": False}],
        "hparams": {
            "experiment": {"hparams": {"lr": {"type": "DATA_TYPE_FLOAT64", "interval": [0.001, 0.1]},
                                       "opt": {"type": "DATA_TYPE_STRING", "discrete": ["adam", "sgd"]}},
                           "metrics": [{"group": "validation", "tag": "epoch_loss"},
                                       {"group": "validation", "tag": "epoch_accuracy"}]},
            "session_groups": {
                "run-0": {"hparams": {"lr": 0.001, "opt": "adam"}, "status": "STATUS_SUCCESS",
                          "sessions": ["run-0"],
                          "metrics": [{"group": "validation", "tag": "epoch_loss", "value": 1 / 3, "step": 2}]},
                "run-1": {"hparams": {"lr": 0.1, "opt": "sgd"}, "status": "STATUS_FAILURE",
                          "metrics": [{"group": "validation", "tag": "epoch_accuracy", "value": 0.7, "step": 2}]},
            },
        },
    }
    broken = copy.deepcopy(expect)
    broken["runs"].remove("run-1/train")
    broken["scalars"][0]["values"][1] = 0.51
    broken["histograms"][0]["counts"]["1"] = 11
    broken["images"][0]["width"] = 8
    broken["hparams"]["session_groups"]["run-1"]["status"] = "STATUS_SUCCESS"
    broken["images"][2]["pixels_sha256"] = broken["images"][1]["pixels_sha256"]
    moved = broken["pr_curves"][0]["predictions"]
    moved[moved.index(max(p for p in moved if p < 0.8))] += 0.2  # one bucket up, or two
    injected = ["runs: unexpected ['run-1/train']", "epoch_loss step 1: value 0.5, want 0.51",
                "step 1: total count 10.0, want 11", "width 7, want 8",
                "session 'run-1' status STATUS_FAILURE, want STATUS_SUCCESS",
                "images run-0/train pictures step 0 sample 1: decoded pixels",
                f"pr_curves run-0/train {broken['pr_curves'][0]['tag']} step 0: "]
    return expect, broken, injected


def write_pictures(tf, np):
    """Writes, into the default writer, a batch of float images with tf.summary.image and PR curves
    with TensorBoard's own pr_curve summary, and returns their expectations: the pixels TensorFlow
    drew (tf.image.convert_image_dtype, as tf.summary.image converts) and the labels and
    predictions the curves came from, for tb_check to recompute with numpy."""
    from tensorboard.plugins.pr_curve import summary as pr_summary

    batch = np.linspace(-0.1, 1.1, 3 * 4 * 7 * 3, dtype=np.float32).reshape(3, 4, 7, 3)
    tf.summary.image("pictures", batch, step=0, max_outputs=3)
    drawn = tf.image.convert_image_dtype(batch, tf.uint8, saturate=True).numpy()
    opaque = np.full(drawn.shape[:3] + (1,), 255, dtype=np.uint8)
    images = [{"run": "run-0/train", "tag": "pictures", "step": 0, "sample": i, "width": 7, "height": 4,
               "samples": 3,
               "pixels_sha256": hashlib.sha256(np.concatenate([d, o], axis=-1).tobytes()).hexdigest()}
              for i, (d, o) in enumerate(zip(drawn, opaque))]
    rng = np.random.default_rng(24)
    curves = []
    for name, thresholds in (("cat", 11), ("dog", 201)):
        labels = rng.random(300) < 0.4
        predictions = rng.random(300).astype(np.float32)
        predictions[:6] = [0, 1, 0.5, 0.3, 0.1, 0.7]  # on the bucket edges
        pb = pr_summary.pb(name, labels, predictions, num_thresholds=thresholds)
        tf.summary.experimental.write_raw_pb(pb.SerializeToString(), step=0)
        curves.append({"run": "run-0/train", "tag": pb.value[0].tag, "step": 0,
                       "labels": labels.astype(int).tolist(), "predictions": predictions.tolist(),
                       "num_thresholds": thresholds})
    return {"images": images, "pr_curves": curves}


def write_tensorboardx(root):
    import numpy as np
    from tensorboardX import SummaryWriter

    for sub in ("train", "validation"):
        w = SummaryWriter(os.path.join(root, sub))
        for step in range(3):
            w.add_scalar("epoch_loss", 1.0 / (step + 1), step)
        if sub == "train":
            w.add_histogram("dense/kernel/histogram", np.arange(100, dtype=np.float32), 0)
            w.add_text("notes", "hello **world**", 0)
            # tensorboardX's add_custom_scalars: the Custom Scalars layout, a {category: {chart:
            # [kind, tags]}} dict, as the peer writer for tb_check's custom_scalars check.
            w.add_custom_scalars({"losses": {"loss": ["Multiline", ["epoch_loss"]],
                                             "band": ["Margin", ["epoch_loss", "epoch_loss", "epoch_loss"]]}})
        w.close()
    w = SummaryWriter(os.path.join(root, "hp"))
    w.add_hparams({"lr": 0.01, "opt": "adam"}, {"hparam/acc": 0.9}, name="trial")
    w.close()
    # tensorboardX facts these encode: add_text's tag gets "/text_summary" and a shape-[1] tensor;
    # add_hparams' session is its own run "hp/trial" (the parent "hp" is listed too, holding only
    # the file_version event), grouped by session name as it sets no group_name.
    expect = {
        "runs": ["train", "validation", "hp", "hp/trial"],
        "scalars": [{"run": "train", "tag": "epoch_loss", "steps": [0, 1, 2], "values": [1.0, 0.5, 1 / 3]}],
        "histograms": [{"run": "train", "tag": "dense/kernel/histogram", "steps": [0], "counts": {"0": 100}}],
        "texts": [{"run": "train", "tag": "notes/text_summary", "step": 0, "equals": "hello **world**"}],
        "custom_scalars": {"charts": [{"category": "losses", "title": "loss", "tags": ["epoch_loss"]},
                                      {"category": "losses", "title": "band",
                                       "margin": [["epoch_loss", "epoch_loss", "epoch_loss"]]}],
                           "charts_exact": True},
        "hparams": {"experiment": {"hparams": {"lr": {"type": "DATA_TYPE_FLOAT64"},
                                               "opt": {"type": "DATA_TYPE_STRING"}},
                                   "metrics": [{"tag": "hparam/acc"}]},
                    "session_groups": {"hp/trial": {"hparams": {"lr": 0.01, "opt": "adam"},
                                                    "status": "STATUS_SUCCESS",
                                                    "metrics": [{"tag": "hparam/acc", "value": 0.9}]}}},
    }
    broken = copy.deepcopy(expect)
    broken["scalars"][0]["steps"] = [0, 1]
    del broken["scalars"][0]["values"]
    broken["texts"][0]["equals"] = "hello"
    broken["custom_scalars"]["charts"][0]["tags"] = ["^epoch_loss$"]
    broken["hparams"]["session_groups"]["hp/trial"]["metrics"][0]["value"] = 0.8
    injected = ["steps [0, 1, 2], want [0, 1]", "text 'hello **world**', want 'hello'",
                "want 0.8", "custom_scalars chart 'loss': tags ['epoch_loss'], want tags ['^epoch_loss$']"]
    return expect, broken, injected


def tb_check(logdir, expect, scratch, name):
    path = os.path.join(scratch, name + ".json")
    with open(path, "w") as f:
        json.dump(expect, f, indent=1)
    proc = subprocess.run([sys.executable, os.path.join(HERE, "tb_check.py"), "--logdir", logdir,
                           "--expect", path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc.returncode, proc.stdout


def main():
    failures = []
    with tempfile.TemporaryDirectory(prefix="tb_check_peers.") as scratch:
        for name, writer in (("tf.summary", write_tf), ("tensorboardX", write_tensorboardx)):
            logdir = os.path.join(scratch, name)
            expect, broken, injected = writer(logdir)
            code, out = tb_check(logdir, expect, scratch, name + "-right")
            print(f"{name}, right expectation: exit {code}\n{out}")
            if code != 0:
                failures.append(f"{name}: tb_check failed the right expectation")
            code, out = tb_check(logdir, broken, scratch, name + "-wrong")
            print(f"{name}, wrong expectation: exit {code}\n{out}")
            if code != 1:
                failures.append(f"{name}: tb_check exited {code} on the wrong expectation, want 1")
            for loader in ("--load_fast=true", "--load_fast=false"):
                for want in injected:
                    if not any(line.startswith(f"  {loader}:") and want in line for line in out.splitlines()):
                        failures.append(f"{name}: {loader} did not report {want!r}")
    for f in failures:
        print("FAIL " + f)
    print("tb_check_peers: " + ("FAILED" if failures else "OK"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
