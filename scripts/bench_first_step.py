"""Time to the first step: how long a user waits from `tfsweep run` starting to its first training step.

scripts/bench_data runs it. Each measurement starts `tfsweep run --json` on a small run (one epoch of 512
images of all the data) and takes the wall time from the launch to the moment the run's "training" line
(the console's news of the worker's first step) arrives on stderr; the run's own first_step_seconds, where
the front records it, is kept beside it. The systems (the fronts given as LABEL=PATH, each with the same
tfsweep-worker beside it) are alternated within every round, and the formats follow each other in each
system's turn, so that the machine's load falls on all of them alike. It prints a markdown table: the median
over the rounds of each, its ratio to npz's in the same system, and the ratio of the systems. Beside each run
it times the front alone, `tfsweep run --dry-run` on the same cache (the front's read and checks of the
data, no worker), in CPU seconds, which the machine's load stretches less than wall time: a second table.

    bench_first_step.py ROUNDS WORKDIR LABEL=TFSWEEP... -- NAME=SOURCE[@CACHE]...

CACHE is "keep" (one cache for every run: a second run reads the decoded cache) or "fresh" (a new cache
for every run: the first read, which writes it).
"""
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

RUN_FLAGS = ["--json", "--device", "cpu", "--epochs", "1", "--limit", "512", "--batch-size", "256",
             "--pictures-every", "0", "--log-every", "0", "--parallel", "1"]


def first_step(tfsweep, source, cache, logdir):
    """One run: the wall seconds to its first step seen from outside, and those the run recorded (or None)."""
    cmd = [tfsweep, "run", *RUN_FLAGS, "--data", source, "--data-cache", cache, "--logdir", logdir]
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, bufsize=0)
        seen, lines = None, []
        for line in proc.stderr:
            if seen is None and json.loads(line).get("message") == "training":
                seen = time.perf_counter() - start
            lines.append(line.decode())
        proc.wait()
        out.seek(0)
        summary = out.read()
    if proc.returncode != 0 or seen is None:
        sys.exit(f"bench_first_step: {' '.join(cmd)} exited {proc.returncode}:\n{''.join(lines[-20:])}")
    recorded = (json.loads(summary).get("timings") or {}).get("first_step_seconds")
    return seen, recorded


def front_cpu(tfsweep, source, cache, logdir):
    """The CPU seconds of the front alone reading and checking the data: a --dry-run, which starts no worker."""
    cmd = [tfsweep, "run", *RUN_FLAGS, "--dry-run", "--data", source, "--data-cache", cache, "--logdir", logdir]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"bench_first_step: {' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr.decode()[-2000:]}")
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main():
    args = sys.argv[1:]
    rounds, work = int(args[0]), args[1]
    split = args.index("--")
    systems = [a.split("=", 1) for a in args[2:split]]
    formats = []
    for a in args[split + 1:]:
        name, rest = a.split("=", 1)
        source, cache = rest.rsplit("@", 1)
        formats.append((name, source, cache))
    caches = {}

    def measure(label, tfsweep, name, source, cache):
        fresh = cache == "fresh"
        where = tempfile.mkdtemp(dir=work) if fresh else caches.setdefault((label, name), tempfile.mkdtemp(dir=work))
        logdir = tempfile.mkdtemp(dir=work)
        try:
            seen = first_step(tfsweep, source, where, logdir)
            if fresh:
                shutil.rmtree(where)
                where = tempfile.mkdtemp(dir=work)
            return seen, front_cpu(tfsweep, source, where, logdir)
        finally:
            shutil.rmtree(logdir)
            if fresh:
                shutil.rmtree(where)

    # A first round fills the kept caches and the page cache; it is not counted.
    for label, tfsweep in systems:
        for name, source, cache in formats:
            measure(label, tfsweep, name, source, cache)
    seen = {(label, name): [] for label, _ in systems for name, _, _ in formats}
    recorded = {key: [] for key in seen}
    front = {key: [] for key in seen}
    for r in range(rounds):
        order = systems if r % 2 == 0 else systems[::-1]
        for label, tfsweep in order:
            for name, source, cache in formats:
                (s, rec), cpu = measure(label, tfsweep, name, source, cache)
                seen[label, name].append(s)
                front[label, name].append(cpu)
                if rec is not None:
                    recorded[label, name].append(rec)
    report(systems, formats, seen, recorded, rounds)
    report_front(systems, formats, front, rounds)


def table(labels, formats, med, unit, last=None):
    """One row per format: each system's median and its ratio to npz's, the second system's ratio to the
    first's, and, when given, last(name), a last column's text."""
    head = "| data |" + "".join(f" {label} {unit} | {label} / npz's |" for label in labels)
    if len(labels) == 2:
        head += f" {labels[1]} / {labels[0]} |"
    if last:
        head += f" first_step_seconds ({labels[-1]}) |"
    print(head)
    print("|---" + "|---:" * (head.count("|") - 2) + "|")
    for name, _, _ in formats:
        row = f"| {name} |"
        for label in labels:
            row += f" {med[label, name]:.3f} | {med[label, name] / med[label, formats[0][0]]:.2f} |"
        if len(labels) == 2:
            row += f" {med[labels[1], name] / med[labels[0], name]:.2f} |"
        if last:
            row += f" {last(name)} |"
        print(row)


def report(systems, formats, seen, recorded, rounds):
    med = {key: statistics.median(v) for key, v in seen.items()}
    labels = [label for label, _ in systems]
    print(f"\nTime to the first step: `tfsweep run` launched to its first training step (its \"training\" line), "
          f"seconds, the median of {rounds} rounds with the systems alternated; {os.cpu_count()} cores, load "
          f"average {open('/proc/loadavg').read().split()[0]} at the end\n")

    def recorded_median(name):
        rec = recorded[labels[-1], name]
        return f"{statistics.median(rec):.3f}" if rec else "–"
    table(labels, formats, med, "s", recorded_median)


def report_front(systems, formats, front, rounds):
    med = {key: statistics.median(v) for key, v in front.items()}
    labels = [label for label, _ in systems]
    print(f"\nThe front alone (`tfsweep run --dry-run` on the same cache: the data read and checked, no worker), "
          f"CPU seconds, the median of {rounds} rounds\n")
    table(labels, formats, med, "CPU s")


if __name__ == "__main__":
    main()
