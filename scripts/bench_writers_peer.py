#!/usr/bin/env python3
"""One peer's side of scripts/bench_writers: times tensorboardX or tf.summary on the workload that
summary/internal/benchwriter times for tfsweep, and prints the same JSON object.

    bench_writers_peer.py --writer tensorboardx|tf.summary|tf.function --logdir DIR
                          [--scalars N] [--histograms N] [--values N] [--tags N]

tf.summary is eager calls, one per value, as the Keras TensorBoard callback makes them;
tf.function is the same TensorFlow C++ writer driven from a compiled loop (TensorFlow's fastest path,
for reference). A phase is timed from creating the writer to the end of close(), imports excluded.
"""

import argparse
import json
import os
import sys
import time


def event_bytes(run_dir):
    return sum(os.path.getsize(os.path.join(run_dir, f)) for f in os.listdir(run_dir) if "tfevents" in f)


def phase(run_dir, count, seconds):
    return {"count": count, "seconds": seconds, "bytes": event_bytes(run_dir), "per_second": count / seconds}


def histogram_data(n):
    import numpy as np
    return (np.random.default_rng(1).standard_normal(n) * 0.05).astype(np.float32)


def bench_tensorboardx(args):
    from tensorboardX import SummaryWriter

    names = [f"scalar_{i}" for i in range(args.tags)]
    run = os.path.join(args.logdir, "scalars")
    start = time.perf_counter()
    w = SummaryWriter(run)
    for i in range(args.scalars):
        w.add_scalar(names[i % args.tags], (i % 1000) / 1000, i // args.tags)
    w.close()
    scalars = phase(run, args.scalars, time.perf_counter() - start)

    data = histogram_data(args.values)
    names = [f"dense/kernel/histogram_{i}" for i in range(args.tags)]
    run = os.path.join(args.logdir, "histograms")
    start = time.perf_counter()
    w = SummaryWriter(run)
    for i in range(args.histograms):
        w.add_histogram(names[i % args.tags], data, i // args.tags)
    w.close()
    return scalars, phase(run, args.histograms, time.perf_counter() - start)


def bench_tf_summary(args, compiled):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tags = args.tags
    names = [f"scalar_{i}" for i in range(tags)]
    run = os.path.join(args.logdir, "scalars")
    start = time.perf_counter()
    w = tf.summary.create_file_writer(run)
    if compiled:
        @tf.function
        def write_scalars(n):
            with w.as_default():
                for i in tf.range(n // tags):
                    for t in range(tags):  # unrolled: a tag is a Python string
                        tf.summary.scalar(names[t], tf.cast((i * tags + t) % 1000, tf.float32) / 1000,
                                          step=tf.cast(i, tf.int64))
        write_scalars(tf.constant(args.scalars))
    else:
        with w.as_default():
            for i in range(args.scalars):
                tf.summary.scalar(names[i % tags], (i % 1000) / 1000, step=i // tags)
    w.close()
    scalars = phase(run, args.scalars, time.perf_counter() - start)

    data = tf.constant(histogram_data(args.values))
    names = [f"dense/kernel/histogram_{i}" for i in range(tags)]
    run = os.path.join(args.logdir, "histograms")
    start = time.perf_counter()
    w = tf.summary.create_file_writer(run)
    if compiled:
        @tf.function
        def write_histograms(n):
            with w.as_default():
                for i in tf.range(n // tags):
                    for t in range(tags):
                        tf.summary.histogram(names[t], data, step=tf.cast(i, tf.int64))
        write_histograms(tf.constant(args.histograms))
    else:
        with w.as_default():
            for i in range(args.histograms):
                tf.summary.histogram(names[i % tags], data, step=i // tags)
    w.close()
    return scalars, phase(run, args.histograms, time.perf_counter() - start)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--writer", required=True, choices=["tensorboardx", "tf.summary", "tf.function"])
    p.add_argument("--logdir", required=True)
    p.add_argument("--scalars", type=int, default=1_000_000)
    p.add_argument("--histograms", type=int, default=1_000)
    p.add_argument("--values", type=int, default=10_000)
    p.add_argument("--tags", type=int, default=10)
    args = p.parse_args()
    if args.writer == "tensorboardx":
        scalars, histograms = bench_tensorboardx(args)
    else:
        scalars, histograms = bench_tf_summary(args, compiled=args.writer == "tf.function")
    json.dump({"writer": args.writer, "tags": args.tags, "histogram_values": args.values,
               "scalars": scalars, "histograms": histograms}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
