#!/usr/bin/env python3
"""Times tfsweep's event writer against tensorboardX and tf.summary on one workload, on this machine,
and prints a Markdown table with the ratios. Run it through scripts/bench_writers (which sets up the
peers venv); this file is its body.

Workload (the same for every writer): --scalars scalars (default 1,000,000) and --histograms
histograms (default 1,000) of --values float32 values each (default 10,000, normal, sd 0.05), both
spread over --tags tags (default 10), the step advancing once per round of tags. Each writer runs in
its own process and its own fresh logdir; a phase is timed from creating the writer to the end of its
close, imports and data generation excluded.

  tfsweep      summary/internal/benchwriter (pure Go, built with CGO_ENABLED=0)
  tensorboardX SummaryWriter.add_scalar / add_histogram (legacy simple_value and HistogramProto)
  tf.summary   tf.summary.scalar / histogram called eagerly, one call per value, as Keras does
  tf.function  the same TensorFlow C++ writer driven from a compiled tf.range loop (reference)
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEERS = ["tensorboardx", "tf.summary", "tf.function"]


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run_json(cmd, env=None):
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, env=env, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def workload_flags(args):
    return ["--scalars", str(args.scalars), "--histograms", str(args.histograms),
            "--values", str(args.values), "--tags", str(args.tags)]


def table(results, args):
    ours = results["tfsweep"]
    lines = [
        f"Workload: {args.scalars:,} scalars and {args.histograms:,} histograms of {args.values:,} float32 "
        f"values, over {args.tags} tags; each phase timed from writer creation to the end of close.",
        "",
        "| writer | scalars/s | scalar file | bytes/scalar | histograms/s | histogram file "
        "| tfsweep × (scalars/s) | tfsweep × (histograms/s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        s, h = r["scalars"], r["histograms"]
        sx = ours["scalars"]["per_second"] / s["per_second"]
        hx = ours["histograms"]["per_second"] / h["per_second"]
        lines.append(
            f"| {name} | {s['per_second']:,.0f} | {s['bytes'] / 1e6:,.1f} MB | {s['bytes'] / s['count']:.1f} "
            f"| {h['per_second']:,.1f} | {h['bytes'] / 1e6:,.2f} MB | {sx:,.1f} | {hx:,.1f} |")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scalars", type=int, default=1_000_000)
    p.add_argument("--histograms", type=int, default=1_000)
    p.add_argument("--values", type=int, default=10_000)
    p.add_argument("--tags", type=int, default=10)
    p.add_argument("--writers", default="tfsweep," + ",".join(PEERS),
                   help="comma-separated subset of tfsweep," + ",".join(PEERS))
    p.add_argument("--json", help="also write the raw results to this file")
    args = p.parse_args()
    writers = args.writers.split(",")
    unknown = set(writers) - {"tfsweep", *PEERS}
    if unknown or "tfsweep" not in writers:
        p.error(f"--writers must include tfsweep and name only known writers (unknown: {sorted(unknown)})")

    started = time.gmtime()
    scratch = tempfile.mkdtemp(prefix="bench_writers.")
    try:
        binary = os.path.join(scratch, "benchwriter")
        env = dict(os.environ, CGO_ENABLED="0")
        print("+ go build ./summary/internal/benchwriter", file=sys.stderr, flush=True)
        subprocess.run(["go", "build", "-o", binary, "./summary/internal/benchwriter"],
                       check=True, cwd=ROOT, env=env)
        results = {}
        for name in writers:
            logdir = os.path.join(scratch, name)
            if name == "tfsweep":
                cmd = [binary, "-logdir", logdir] + [f.replace("--", "-", 1) if f.startswith("--") else f
                                                     for f in workload_flags(args)]
            else:
                cmd = [sys.executable, os.path.join(HERE, "bench_writers_peer.py"), "--writer", name,
                       "--logdir", logdir] + workload_flags(args)
            results[name] = run_json(cmd, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
            shutil.rmtree(logdir, ignore_errors=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    print(f"Machine: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {cpu_model()}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', started)}; Python {platform.python_version()}")
    print()
    print(table(results, args))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    ours = results["tfsweep"]["scalars"]["per_second"]
    goals = {"tensorboardx": 20, "tf.summary": 5}
    missed = [f"{peer}: {ours / results[peer]['scalars']['per_second']:.1f}× < {goal}×"
              for peer, goal in goals.items() if peer in results
              and ours / results[peer]["scalars"]["per_second"] < goal]
    print()
    print("Goals (scalars/s: ≥ 20× tensorboardX, ≥ 5× tf.summary): " + ("MISSED " + "; ".join(missed) if missed else "met"))


if __name__ == "__main__":
    main()
