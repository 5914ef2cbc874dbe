#!/usr/bin/env python3
"""The machine's fp32 matmul rate for scripts/bench_peers, measured with numpy; prints one JSON document.

    square:  an N×N by N×N float32 matmul (default N = 2048), 2·N³ FLOPs, best of --repeats timings of
             at least 0.1 s each
    network: per batch size B, the eight matmuls of one training step of 784 → 128 → 64 → 10: the three
             forward ones (B×784 · 784×128, B×128 · 128×64, B×64 · 64×10), the three weight gradients
             (784×B · B×128, ...) and the input gradients of layers 2 and 3 (B×10 · 10×64, B×64 · 64×128),
             B · 454,400 FLOPs together; each timing repeats them for about 0.1 s, best of --repeats
    xla:     with jax importable (the JAX venv), the square matmul once more as a jax.jit call, for comparison;
             --xla-only measures this alone (scripts/bench_peers' rate beside each tfsweep run at batch 1024)

Threads: numpy's BLAS takes them from OPENBLAS_NUM_THREADS / OMP_NUM_THREADS, which scripts/bench_peers sets
for --threads N before this starts (unset = all CPUs); --threads N confines the process to N CPUs before jax
starts (and for N = 1 sets XLA_FLAGS), as scripts/bench_peers_jax.py does. Only numpy is needed (jax for --xla).
"""

import argparse
import json
import sys
import time

import numpy as np

from bench_peers_jax import limit_threads

SHAPES = [(784, 128), (128, 64), (64, 10)]  # the network's Dense kernels


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", default=2048, type=int, help="size of the square matmul (default 2048)")
    p.add_argument("--repeats", default=7, type=int, help="timings per measurement; the best counts (default 7)")
    p.add_argument("--batch-sizes", default="64,128,1024", help="batch sizes for the network's own shapes")
    p.add_argument("--xla", action="store_true", help="also time the square matmul with jax.jit, if jax imports")
    p.add_argument("--xla-only", action="store_true", help="time only the square matmul with jax.jit")
    p.add_argument("--threads", default=0, type=int,
                   help="confine the process to N CPUs before jax starts (numpy's threads: OPENBLAS_NUM_THREADS)")
    args = p.parse_args(argv)
    try:
        args.batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b.strip()]
    except ValueError:
        p.error("--batch-sizes: want sizes like 64,128,1024")
    if args.n <= 0 or args.repeats <= 0 or args.threads < 0 or any(b <= 0 for b in args.batch_sizes):
        p.error("--n, --repeats and the batch sizes must be positive, --threads not negative")
    return args


def best_rate(fn, flops, repeats, min_seconds=0.0):
    """Best FLOP/s over `repeats` timings of fn, each timing repeating fn until min_seconds have passed."""
    fn()  # warm-up: thread pool start, page faults
    best = 0.0
    for _ in range(repeats):
        calls, start = 0, time.perf_counter()
        while True:
            fn()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
        best = max(best, calls * flops / elapsed)
    return best


def network_step(b, rng):
    """The eight matmuls of one training step at batch size b, as one callable, and their FLOPs."""
    x = rng.random((b, SHAPES[0][0]), dtype=np.float32)
    ws = [rng.random(s, dtype=np.float32) for s in SHAPES]
    acts = [rng.random((b, s[1]), dtype=np.float32) for s in SHAPES]  # layer outputs, and their gradients

    def step():
        np.matmul(x, ws[0])
        np.matmul(acts[0], ws[1])
        np.matmul(acts[1], ws[2])
        np.matmul(x.T, acts[0])
        np.matmul(acts[0].T, acts[1])
        np.matmul(acts[1].T, acts[2])
        np.matmul(acts[2], ws[2].T)
        np.matmul(acts[1], ws[1].T)

    flops = 2 * b * (2 * sum(i * o for i, o in SHAPES) + sum(i * o for i, o in SHAPES[1:]))
    return step, flops


def blas_name():
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except (TypeError, KeyError, AttributeError):
        return "unknown BLAS"


def xla_rate(n, repeats):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    a = jnp.asarray(np.random.default_rng(2).random((n, n), dtype=np.float32))
    f = jax.jit(lambda m: m @ m)
    return {"framework": f"jax {jax.__version__}",
            "gflops": best_rate(lambda: f(a).block_until_ready(), 2 * n ** 3, repeats, 0.1) / 1e9}


def main(argv):
    args = parse_args(argv)
    threads = limit_threads(args.threads)
    if args.xla_only:
        json.dump({"n": args.n, "repeats": args.repeats, "xla": xla_rate(args.n, args.repeats), "threads": threads},
                  sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    rng = np.random.default_rng(1)
    a = rng.random((args.n, args.n), dtype=np.float32)
    b = rng.random((args.n, args.n), dtype=np.float32)
    out = np.empty_like(a)
    square = best_rate(lambda: np.matmul(a, b, out=out), 2 * args.n ** 3, args.repeats, 0.1) / 1e9
    network = {}
    for bs in args.batch_sizes:
        step, flops = network_step(bs, rng)
        network[str(bs)] = {"flops": flops, "gflops": best_rate(step, flops, args.repeats, 0.1) / 1e9}
    result = {"numpy": f"numpy {np.__version__} ({blas_name()})", "n": args.n, "repeats": args.repeats,
              "square_gflops": square, "network": network, "threads": threads}
    if args.xla:
        result["xla"] = xla_rate(args.n, args.repeats)
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
