#!/usr/bin/env python3
"""Writes summary/testdata/foreign: small event logs written by the real writers other programs use,
and what TensorBoard's own loaders read from them, so that the Go reader is tested against both.

    scripts/make_foreign_fixtures.py [--out summary/testdata/foreign]

Run it with the peers venv (`$(scripts/setup-python.sh peers)`: tensorflow-cpu, keras, tensorboardX).
It replaces what --out holds but its README.md. One run directory per writer:

  tf_summary/    tf.summary (TF2's C++ writer): a float32 scalar, tf.summary.write of float16,
                 bfloat16, float64, int32, int64, bool and string scalars under the scalars plugin,
                 a histogram, a text, an image and a value of a plugin TensorBoard does not know.
  keras/train, keras/validation
                 Keras model.fit with the TensorBoard callback (epoch and batch scalars, weight
                 histograms, no graph to stay small).
  tensorboardx/  tensorboardX's SummaryWriter: scalars, a histogram, a text, hparams, a custom
                 scalars layout.
  tf1/           TF1's tf.compat.v1.summary.FileWriter: simple_value scalars, tensor scalars whose
                 metadata FileWriter keeps on the first value only, a histogram, session logs, a
                 scalars-plugin value without any tensor, a graph.

expected.json, beside them, is what TensorBoard read at generation time:
  files:  {relative path: {"records": n, "values": n}} from the raw record loader
          (LegacyEventFileLoader: events as stored, before data_compat);
  runs:   {run: {tag: {"plugin": name, "count": n, "scalars": [[step, value], ...]}}} from the
          EventAccumulator (size guidance 0: everything kept); "scalars" is given for tags of the
          scalars plugin, each value as tensor_util.make_ndarray(...).item() turns it into JSON
          (numbers, true/false, strings), null where that fails.
"""

import argparse
import json
import os
import shutil
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def write_tf_summary(run_dir):
    import tensorflow as tf
    from tensorboard.compat.proto import summary_pb2

    def metadata(plugin, content=b""):
        return summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=plugin, content=content)
        ).SerializeToString()

    w = tf.summary.create_file_writer(run_dir)
    with w.as_default():
        for step in range(3):
            tf.summary.scalar("loss", 1.0 / (step + 1), step=step)
            # tf.summary.scalar casts to float32; tf.summary.write keeps the dtype, as a custom
            # writer or a mixed-precision model's own summary op does.
            for name, value, dtype in [("half", 0.5 + step, tf.float16), ("bfloat16", 1.5 + step, tf.bfloat16),
                                       ("double", 0.25 + step, tf.float64), ("int32", 7 + step, tf.int32),
                                       ("int64", 2**40 + step, tf.int64), ("bool", step % 2 == 1, tf.bool)]:
                tf.summary.write(f"dtype/{name}", tf.constant(value, dtype=dtype), step=step,
                                 metadata=metadata("scalars"))
            tf.summary.write("dtype/string", tf.constant(f"step {step}"), step=step, metadata=metadata("scalars"))
        tf.summary.histogram("weights", tf.constant([0.0, 1.0, 1.0, 2.0, 3.0]), step=0, buckets=4)
        tf.summary.text("notes", "some *markdown*", step=0)
        tf.summary.image("pixel", tf.zeros([1, 2, 2, 1]), step=0)
        tf.summary.write("custom/thing", tf.constant([1, 2, 3]), step=0, metadata=metadata("my_plugin", b"v1"))
    w.close()


def write_keras(log_dir):
    import numpy as np
    import keras

    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    cb = keras.callbacks.TensorBoard(log_dir=log_dir, histogram_freq=1, update_freq="batch", write_graph=False)
    model.fit(x, y, batch_size=8, epochs=2, validation_split=0.25, callbacks=[cb], verbose=0)


def write_tensorboardx(run_dir):
    from tensorboardX import SummaryWriter

    w = SummaryWriter(logdir=run_dir)
    for step in range(3):
        w.add_scalar("loss", 1.0 / (step + 1), step)
    w.add_histogram("weights", [0.0, 1.0, 1.0, 2.0, 3.0], 0)
    w.add_text("notes", "some *markdown*", 0)
    w.add_custom_scalars({"losses": {"loss": ["Multiline", ["loss"]]}})
    # add_hparams writes its own run under run_dir/<name>. (A second SummaryWriter on run_dir in the
    # same second would truncate the first one's file: tensorboardX names have no pid or counter.)
    w.add_hparams({"lr": 0.1, "opt": "sgd"}, {"hparam/loss": 0.5}, name="hparams")
    w.close()


def write_tf1(run_dir):
    import tensorflow as tf
    from tensorflow.core.framework import summary_pb2
    from tensorflow.core.util import event_pb2

    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        a = tf.constant(1.0, name="a")
        tf.identity(a, name="b")
    with graph.as_default():  # FileWriter refuses eager mode
        write_tf1_events(v1.summary.FileWriter(run_dir, graph=graph), summary_pb2, event_pb2)


def write_tf1_events(w, summary_pb2, event_pb2):
    import tensorflow as tf

    w.add_session_log(event_pb2.SessionLog(status=event_pb2.SessionLog.START), 0)
    for step in range(3):
        w.add_summary(summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="loss", simple_value=1.0 / (step + 1))]), step)
    histo = summary_pb2.HistogramProto(min=0, max=3, num=5, sum=7, sum_squares=15,
                                       bucket_limit=[1, 2, 3], bucket=[1, 2, 2])
    w.add_summary(summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="weights", histo=histo)]), 0)
    # A scalar in tensor form: FileWriter keeps its metadata on the first value of the tag only, and
    # readers take the plugin of later values from it.
    md = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))
    for step in range(3):
        t = tf.make_tensor_proto(0.5 * step, dtype=tf.float32)
        w.add_summary(summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="tensor_loss", metadata=md, tensor=t)]), step)
    # A scalars-plugin value that carries no tensor at all: TensorBoard reads the record and
    # keeps the tag's metadata; it has no point to show.
    w.add_summary(summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="empty", metadata=md)]), 1)
    w.close()


def to_json(x):
    if isinstance(x, bytes):
        return x.decode("utf-8", "replace")
    if hasattr(x, "item"):
        return to_json(x.item())
    return x


def tensorboard_view(out):
    from tensorboard.backend.event_processing import event_file_loader, plugin_event_accumulator, io_wrapper
    from tensorboard.util import tensor_util

    files, runs = {}, {}
    for root, _, names in sorted(os.walk(out)):
        event_files = sorted(n for n in names if io_wrapper.IsTensorFlowEventsFile(n))
        if not event_files:
            continue
        for n in event_files:
            path = os.path.join(root, n)
            records = values = 0
            for ev in event_file_loader.LegacyEventFileLoader(path).Load():
                records += 1
                values += len(ev.summary.value)
            files[os.path.relpath(path, out)] = {"records": records, "values": values}
        acc = plugin_event_accumulator.EventAccumulator(root, size_guidance={"tensors": 0})
        acc.Reload()
        run = {}
        for tag in acc.Tags()["tensors"]:
            plugin = acc.SummaryMetadata(tag).plugin_data.plugin_name
            events = acc.Tensors(tag)
            entry = {"plugin": plugin, "count": len(events)}
            if plugin == "scalars":
                points = []
                for e in events:
                    try:
                        points.append([e.step, to_json(tensor_util.make_ndarray(e.tensor_proto))])
                    except Exception:  # noqa: BLE001 - recorded as null: TensorBoard cannot decode it either
                        points.append([e.step, None])
                entry["scalars"] = points
            run[tag] = entry
        runs[os.path.relpath(root, out)] = run
    return {"files": files, "runs": runs}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "summary", "testdata", "foreign"))
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    # Everything but the README goes: stale runs would otherwise linger beside the new ones.
    os.makedirs(out, exist_ok=True)
    for name in os.listdir(out):
        path = os.path.join(out, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif name != "README.md":
            os.remove(path)
    write_tf_summary(os.path.join(out, "tf_summary"))
    write_keras(os.path.join(out, "keras"))
    write_tensorboardx(os.path.join(out, "tensorboardx"))
    write_tf1(os.path.join(out, "tf1"))
    view = tensorboard_view(out)
    import tensorboard
    import tensorboardX
    import tensorflow as tf
    view["generated_by"] = {"tensorflow": tf.__version__, "tensorboard": tensorboard.__version__,
                            "tensorboardX": tensorboardX.__version__}
    with open(os.path.join(out, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(view, f, indent=1, sort_keys=True)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(r, n)) for r, _, ns in os.walk(out) for n in ns)
    print(f"wrote {len(view['files'])} event files, {total} bytes, under {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
