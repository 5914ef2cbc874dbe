#!/usr/bin/env python3
"""Writes summary/testdata/tf_pictures: images and PR curves as TensorFlow and TensorBoard write them,
with the inputs they were made from, so that summary's PixelImage and NewPRCurve are tested against
the real writers.

    $(scripts/setup-python.sh peers | tail -1) scripts/make_picture_fixtures.py [--out DIR]

One event file (tf.summary's writer) holding
  - images/gray, images/rgb, images/rgba: tf.summary.image of float32 batches (1, 3 and 4 channels)
    whose values run past both ends of [0, 1] and sit on the conversion's rounding edges;
  - <class>/pr_curves for cat (11 thresholds) and dog (201, TensorBoard's default):
    tensorboard.plugins.pr_curve.summary.pb of random labels and float32 predictions, some on the
    bucket edges;
and inputs.json: {"images": {tag: {"shape": [n, h, w, c], "values": [...]}}, "pr_curves": {tag:
{"labels": [0/1...], "predictions": [...], "num_thresholds": n}}}. It replaces the event files and
inputs.json in --out, keeping its README.md.
"""

import argparse
import glob
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def image_batches(np):
    # Edges of x*255.5 truncated: k/255.5 and just below it, and values past both ends.
    edges = [-0.5, 0.0, 0.5 / 255.5, 1 / 255.5, np.nextafter(np.float32(1 / 255.5), np.float32(0)),
             0.25, 0.5, 127.5 / 255.5, 0.999, 254.9 / 255.5, 1.0, 1.5]
    batches = {}
    for tag, shape in (("images/gray", (2, 3, 4, 1)), ("images/rgb", (3, 4, 5, 3)), ("images/rgba", (1, 2, 3, 4))):
        n = int(np.prod(shape))
        values = np.linspace(-0.2, 1.2, n, dtype=np.float32)
        values[:len(edges)] = np.asarray(edges, dtype=np.float32)[:n]
        batches[tag] = values.reshape(shape)
    return batches


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "summary", "testdata", "tf_pictures"))
    out = os.path.abspath(ap.parse_args().out)
    os.makedirs(out, exist_ok=True)
    for path in glob.glob(os.path.join(out, "events.out.tfevents.*")) + glob.glob(os.path.join(out, "inputs.json")):
        os.remove(path)

    import numpy as np
    import tensorflow as tf
    from tensorboard.plugins.pr_curve import summary as pr_summary

    inputs = {"images": {}, "pr_curves": {}}
    rng = np.random.default_rng(2024)
    w = tf.summary.create_file_writer(out)
    with w.as_default():
        for tag, batch in image_batches(np).items():
            tf.summary.image(tag, batch, step=0, max_outputs=len(batch))
            inputs["images"][tag] = {"shape": list(batch.shape), "values": [float(x) for x in batch.ravel()]}
        for name, thresholds in (("cat", 11), ("dog", 201)):
            labels = rng.random(400) < 0.3
            predictions = rng.random(400).astype(np.float32)
            predictions[:8] = [0, 1, 0.5, 0.3, 0.1, 0.7, 0.29, 0.995]
            pb = pr_summary.pb(name, labels, predictions, num_thresholds=thresholds)
            tf.summary.experimental.write_raw_pb(pb.SerializeToString(), step=0)
            inputs["pr_curves"][pb.value[0].tag] = {"labels": labels.astype(int).tolist(),
                                                    "predictions": [float(p) for p in predictions],
                                                    "num_thresholds": thresholds}
    w.close()
    with open(os.path.join(out, "inputs.json"), "w", encoding="utf-8") as f:
        json.dump(inputs, f)
        f.write("\n")
    print(f"wrote {out} with tensorflow {tf.__version__}")


if __name__ == "__main__":
    main()
