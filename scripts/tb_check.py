#!/usr/bin/env python3
"""Asks a real TensorBoard what it serves for a logdir and compares it with an expectation file.

    tb_check.py --logdir DIR --expect FILE.json [--load-fast true|false|both] [--timeout SECONDS]
    tb_check.py --python-only-check [--expect FILE.json]

TensorBoard (the one installed next to this Python: `python -m tensorboard.main`) is started on a free
loopback port with `--reload_interval 1`, once per loader: `--load_fast=true` (the Rust data server) and
`--load_fast=false` (the Python multiplexer); `both`, the default, runs the two side by side. The checker
waits until /data/runs lists the expected runs, then asserts the expectation through TensorBoard's HTTP
API, the same endpoints the web UI uses. While something mismatches and what TensorBoard serves is still
changing (it loads in the background), it retries; once the served data has been stable for a few reload
cycles, or --timeout passes, the mismatches are final. TensorBoard is killed (its whole process group,
data server included) whatever happens, also on Ctrl-C and SIGTERM.

Exit status: 0 every check passed under every loader; 1 mismatches (each printed on its own line,
prefixed with the loader); 2 bad usage or expectation file, or TensorBoard could not start or load.

--python-only-check starts no TensorBoard: it checks that this Python can run TensorBoard with both
loaders (imports tensorboard and its Rust data server) and, with --expect, that the file is well-formed.
Tests call it first so that a missing venv fails with a clear message.

EXPECTATION FORMAT (JSON; every key optional except where marked; unknown keys are an error so typos
do not silently check nothing)

  runs                 list of run names (paths relative to the logdir, "." for the logdir itself).
                       The served run set must equal it exactly, unless runs_subset is true, in which
                       case the listed runs must exist and others may too.
  runs_subset          bool, default false.
  rtol, atol           default tolerances for every float comparison below (math.isclose; defaults
                       1e-6 and 1e-6: TensorBoard serves float32 scalars widened, 0.99 comes back as
                       0.9900000095367432). Every entry that compares floats may override them.
  samples_per_plugin   string passed to TensorBoard's --samples_per_plugin, e.g. "scalars=all".
                       Without it TensorBoard keeps its defaults (a reservoir of 1000 scalars, 10
                       images; text/graph/hparams 10 on the Python loader, 100 on Rust), so exact
                       "steps" lists longer than that need it.
  plugins_enabled      list of plugin names that /data/plugins_listing must report enabled, e.g.
                       ["scalars", "histograms", "text", "images", "graphs", "hparams"].
  tags                 {plugin: {run: [tag, ...]}}: for each listed run, its exact tag set for that
                       plugin. plugin is one of scalars, histograms, text, images, pr_curves.
  scalars              list of {run*, tag*, steps, steps_include, values, last_value, rtol, atol}:
                         steps          exact list of steps served (in order);
                         steps_include  these steps exist (others may too);
                         values         the values at "steps", same length (needs steps);
                         last_value     the value at the last served step.
  histograms           list of {run*, tag*, steps, steps_include, bucket_count, buckets, counts,
                       rtol, atol}:
                         bucket_count   the number of buckets at every served step;
                         buckets        {"<step>": [[left, right, count], ...]} exact per step;
                         counts         {"<step>": total count} (sum of bucket counts).
  texts                list of {run*, tag*, step*, equals, contains, html_contains}:
                         equals/contains  compared with the raw text (fetched with markdown=false
                                          and HTML-unescaped; markup inside it may be sanitised;
                                          a non-scalar text tensor is its cells joined by "\n");
                         html_contains    a substring of the Markdown-rendered HTML the UI shows.
  images               list of {run*, tag*, step*, sample, sha256, width, height, samples,
                       pixels_sha256}:
                         sample     which image of the step (default 0);
                         sha256     hex digest of the PNG bytes served by /individualImage;
                         width/height  read from the served PNG's IHDR;
                         samples    the number of images per step the tags listing reports;
                         pixels_sha256  hex digest of the served image decoded by PIL (pillow)
                                    and converted to RGBA: width*height*4 bytes, row by row,
                                    straight (not premultiplied) alpha.
  pr_curves            list of {run*, tag*, step*, labels*, predictions*, num_thresholds, rtol, atol}:
                       the PR curve TensorBoard's pr_curves plugin serves at that step must be the one
                       numpy computes here from the same binary labels (0/1 or booleans) and
                       predicted probabilities, as TensorBoard's pr_curve summary defines it: example
                       j in bucket floor(p_j * (num_thresholds - 1)) computed in float32 (default 201
                       thresholds), true and false positives counted from each threshold's bucket
                       upwards, TN = FP[0] - FP, FN = TP[0] - TP, precision TP / max(TP + FP, 1e-7),
                       recall TP / max(TP + FN, 1e-7). The plugin cuts the thresholds with TP + FP = 0
                       off the end; the same cut is made here. Counts must be equal; precision,
                       recall and thresholds equal once rounded to float32 as the tensor stores
                       them, unless rtol/atol are given for this entry.
  graphs               list of {run*, run_graph, keras, nodes_include, keras_nodes_include}:
                         run_graph  whether the run has an op graph (Event.graph_def);
                         keras      whether it has the conceptual Keras model (tag "keras");
                         nodes_include / keras_nodes_include  node names that must appear in the
                                    served op graph / conceptual graph.
  hparams              {experiment, session_groups, session_groups_subset}:
    experiment         {hparams, differs, metrics, metrics_subset}:
      hparams          {name: {type, interval, discrete}} exact name set. type is the API enum
                       ("DATA_TYPE_FLOAT64", "DATA_TYPE_STRING", "DATA_TYPE_BOOL"); interval is
                       [min, max]; discrete the exact list of values in order.
      differs          [name, ...]: exactly these hparams are served with "differs" set, and
                       before every other hparam (TensorBoard lists them first and shows the
                       first few by default).
      metrics          [{group, tag}] exact set of metric names (group "" for the session run
                       itself), unless metrics_subset is true.
    session_groups     {group name: {hparams, status, sessions, metrics}}: exact set of groups
                       unless session_groups_subset is true. A group's name is the session's
                       group_name, or its run name (e.g. "xavier-bn-b64") when that is empty, so
                       with one session per group this is keyed by session run:
      hparams          {name: value} exact map (numbers compared with tolerance);
      status           every session of the group has it ("STATUS_SUCCESS", "STATUS_FAILURE",
                       "STATUS_RUNNING", "STATUS_UNKNOWN");
      sessions         exact list of session names in the group;
      metrics          [{group, tag, value, step, rtol, atol}]: the group's metric value (the
                       latest scalar of that series) and optionally its training step.
  custom_scalars       {charts, charts_exact}: the Custom Scalars layout TensorBoard merges from every
                       run's "custom_scalars__config__" (/data/plugin/custom_scalars/layout):
    charts             [{category*, title*, tags, margin}]: a chart of that title in the category of
                       that title, whose multiline tag regexes are exactly "tags" (in order), or whose
                       margin series are exactly "margin" ([[value, lower, upper], ...]);
    charts_exact       bool, default false: the layout holds no other charts.
                       Whatever is listed, every chart of the served layout must show something: each
                       multiline tag regex must match (re.search, as the dashboard's JavaScript
                       RegExp.test does) some scalar tag of some run, and each margin series' tags
                       must be scalar tags of one run.

Example, a two-run sweep under logdir "sweep-root":

  {
    "runs": [".", "xavier-bn-b64", "xavier-bn-b64/train", "xavier-bn-b64/validation",
             "he-b64", "he-b64/train", "he-b64/validation"],
    "plugins_enabled": ["scalars", "hparams"],
    "tags": {"scalars": {"xavier-bn-b64/train": ["epoch_loss", "epoch_accuracy"]}},
    "scalars": [
      {"run": "xavier-bn-b64/train", "tag": "epoch_loss", "steps": [0, 1]},
      {"run": "he-b64/validation", "tag": "epoch_accuracy", "steps": [0, 1],
       "values": [0.91, 0.95], "atol": 1e-5}
    ],
    "histograms": [{"run": "he-b64/train", "tag": "dense/kernel/histogram", "steps": [0, 1],
                    "bucket_count": 30}],
    "texts": [{"run": "he-b64/train", "tag": "config", "step": 0, "contains": "he_normal"}],
    "graphs": [{"run": "he-b64/train", "run_graph": true, "keras": true}],
    "hparams": {
      "experiment": {"hparams": {"init": {"type": "DATA_TYPE_STRING",
                                          "discrete": ["he_normal", "xavier"]}},
                     "metrics": [{"group": "validation", "tag": "epoch_accuracy"}]},
      "session_groups": {
        "he-b64": {"hparams": {"init": "he_normal"}, "status": "STATUS_SUCCESS",
                   "metrics": [{"group": "validation", "tag": "epoch_accuracy", "value": 0.95,
                                "step": 1, "atol": 1e-5}]},
        "xavier-bn-b64": {"status": "STATUS_FAILURE"}
      }
    }
  }
"""

import argparse
import concurrent.futures
import hashlib
import html
import json
import math
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

EXIT_OK, EXIT_MISMATCH, EXIT_ERROR = 0, 1, 2
RELOAD_INTERVAL = 1  # seconds; the Rust launcher truncates it to whole seconds, so keep it an integer
SETTLE_SECONDS = 4  # how long served data must stay unchanged before a mismatch is final
RUNS_SETTLE_SECONDS = 10  # how long the run list must stay unchanged before missing runs are final
STATUSES = ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]
TAG_PLUGINS = {"scalars", "histograms", "text", "images", "pr_curves"}
DEFAULT_PR_THRESHOLDS = 201  # tensorboard.plugins.pr_curve.summary's default


class ExpectationError(Exception):
    """The expectation file is malformed."""


class SetupError(Exception):
    """TensorBoard could not be started or did not load the logdir."""


# ---------------------------------------------------------------------------------------------------
# Expectation file


_SCHEMA = {
    "": {"runs", "runs_subset", "rtol", "atol", "samples_per_plugin", "plugins_enabled", "tags",
         "scalars", "histograms", "texts", "images", "pr_curves", "graphs", "hparams", "custom_scalars"},
    "scalars": {"run", "tag", "steps", "steps_include", "values", "last_value", "rtol", "atol"},
    "histograms": {"run", "tag", "steps", "steps_include", "bucket_count", "buckets", "counts",
                   "rtol", "atol"},
    "texts": {"run", "tag", "step", "equals", "contains", "html_contains"},
    "images": {"run", "tag", "step", "sample", "sha256", "width", "height", "samples", "pixels_sha256"},
    "pr_curves": {"run", "tag", "step", "labels", "predictions", "num_thresholds", "rtol", "atol"},
    "graphs": {"run", "run_graph", "keras", "nodes_include", "keras_nodes_include"},
    "hparams": {"experiment", "session_groups", "session_groups_subset"},
    "experiment": {"hparams", "differs", "metrics", "metrics_subset"},
    "hparam_info": {"type", "interval", "discrete"},
    "group": {"hparams", "status", "sessions", "metrics"},
    "group_metric": {"group", "tag", "value", "step", "rtol", "atol"},
    "custom_scalars": {"charts", "charts_exact"},
    "chart": {"category", "title", "tags", "margin"},
}
_REQUIRED = {
    "scalars": ("run", "tag"), "histograms": ("run", "tag"), "texts": ("run", "tag", "step"),
    "images": ("run", "tag", "step"), "graphs": ("run",), "group_metric": ("tag",),
    "pr_curves": ("run", "tag", "step", "labels", "predictions"),
    "chart": ("category", "title"),
}


def _check_keys(obj, kind, where):
    if not isinstance(obj, dict):
        raise ExpectationError(f"{where}: want an object, got {type(obj).__name__}")
    unknown = set(obj) - _SCHEMA[kind]
    if unknown:
        raise ExpectationError(f"{where}: unknown keys {sorted(unknown)} (known: {sorted(_SCHEMA[kind])})")
    for key in _REQUIRED.get(kind, ()):
        if key not in obj:
            raise ExpectationError(f"{where}: missing required key {key!r}")


def validate_expectation(exp):
    """Raises ExpectationError naming the first malformed part of exp."""
    _check_keys(exp, "", "expectation")
    for kind in ("scalars", "histograms", "texts", "images", "pr_curves", "graphs"):
        entries = exp.get(kind, [])
        if not isinstance(entries, list):
            raise ExpectationError(f"{kind}: want a list")
        for i, entry in enumerate(entries):
            _check_keys(entry, kind, f"{kind}[{i}]")
            if "values" in entry and len(entry["values"]) != len(entry.get("steps", [])):
                raise ExpectationError(f"{kind}[{i}]: 'values' needs 'steps' of the same length")
            if kind == "pr_curves":
                _check_pr_entry(entry, f"{kind}[{i}]")
    for plugin, by_run in exp.get("tags", {}).items():
        if plugin not in TAG_PLUGINS:
            raise ExpectationError(f"tags: unknown plugin {plugin!r} (known: {sorted(TAG_PLUGINS)})")
        if not isinstance(by_run, dict):
            raise ExpectationError(f"tags.{plugin}: want {{run: [tags]}}")
    cs = exp.get("custom_scalars")
    if cs is not None:
        _check_keys(cs, "custom_scalars", "custom_scalars")
        for i, chart in enumerate(cs.get("charts", [])):
            _check_keys(chart, "chart", f"custom_scalars.charts[{i}]")
            if ("tags" in chart) == ("margin" in chart):
                raise ExpectationError(f"custom_scalars.charts[{i}]: give exactly one of 'tags' and 'margin'")
            for tag in chart.get("tags", []):
                try:
                    re.compile(tag)
                except re.error as e:
                    raise ExpectationError(f"custom_scalars.charts[{i}]: tag regex {tag!r}: {e}") from e
    hp = exp.get("hparams")
    if hp is not None:
        _check_keys(hp, "hparams", "hparams")
        if "experiment" in hp:
            _check_keys(hp["experiment"], "experiment", "hparams.experiment")
            for name, info in hp["experiment"].get("hparams", {}).items():
                _check_keys(info, "hparam_info", f"hparams.experiment.hparams.{name}")
        for name, group in hp.get("session_groups", {}).items():
            _check_keys(group, "group", f"hparams.session_groups.{name}")
            if "status" in group and group["status"] not in STATUSES:
                raise ExpectationError(f"hparams.session_groups.{name}.status: want one of {STATUSES}")
            for i, metric in enumerate(group.get("metrics", [])):
                _check_keys(metric, "group_metric", f"hparams.session_groups.{name}.metrics[{i}]")


def _check_pr_entry(entry, where):
    labels, predictions = entry["labels"], entry["predictions"]
    if not isinstance(labels, list) or not isinstance(predictions, list) or len(labels) != len(predictions):
        raise ExpectationError(f"{where}: 'labels' and 'predictions' must be lists of the same length")
    if any(label not in (0, 1) for label in labels):
        raise ExpectationError(f"{where}: labels must be 0/1 or booleans")
    if any(not isinstance(p, (int, float)) or not 0 <= p <= 1 for p in predictions):
        raise ExpectationError(f"{where}: predictions must be probabilities in [0, 1]")
    n = entry.get("num_thresholds", DEFAULT_PR_THRESHOLDS)
    if not isinstance(n, int) or n < 2:
        raise ExpectationError(f"{where}: num_thresholds must be an integer >= 2")


def load_expectation(path):
    try:
        with open(path, encoding="utf-8") as f:
            exp = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise ExpectationError(f"read {path}: {e}") from e
    try:
        validate_expectation(exp)
    except ExpectationError as e:
        raise ExpectationError(f"{path}: {e}") from e
    return exp


# ---------------------------------------------------------------------------------------------------
# TensorBoard process


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TensorBoard:
    """One TensorBoard process on a loopback port; stop() kills its whole process group."""

    def __init__(self, logdir, load_fast, samples_per_plugin=None):
        self.logdir = logdir
        self.load_fast = load_fast
        self.samples_per_plugin = samples_per_plugin
        self.proc = None
        self.port = None
        self.log = tempfile.TemporaryFile(mode="w+b")

    def start(self):
        self.port = free_port()
        cmd = [sys.executable, "-m", "tensorboard.main", "--logdir", self.logdir,
               "--host", "127.0.0.1", "--port", str(self.port),
               "--reload_interval", str(RELOAD_INTERVAL), f"--load_fast={self.load_fast}"]
        if self.samples_per_plugin:
            cmd += ["--samples_per_plugin", self.samples_per_plugin]
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
        # A new session makes TensorBoard and its data server one process group that stop() can kill.
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env, start_new_session=True)

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    def exited(self):
        return self.proc is not None and self.proc.poll() is not None

    def output_tail(self, lines=15):
        self.log.seek(0)
        text = self.log.read().decode("utf-8", "replace").splitlines()
        return "\n".join("    | " + line for line in text[-lines:])

    def stop(self):
        if self.proc is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=5)
                # The group may outlive its leader (the data server): make sure it is gone too.
                os.killpg(self.proc.pid, signal.SIGKILL)
            except subprocess.TimeoutExpired:
                continue
            except ProcessLookupError:
                pass
            break
        self.proc.wait()


class Client:
    """TensorBoard's HTTP API as JSON (single-logdir mode: no experiment prefix)."""

    def __init__(self, base_url):
        self.base_url = base_url

    def _open(self, path, params=None, data=None, headers=None):
        url = self.base_url + path
        if params:
            url += "?" + urllib.parse.urlencode(params, doseq=True)
        req = urllib.request.Request(url, data=data, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.read()
        except urllib.error.HTTPError as e:
            body = e.read().decode("utf-8", "replace")[:200]
            raise HTTPFailure(f"{path} {params or ''}: HTTP {e.code}: {body.strip()}") from e

    def get_json(self, path, **params):
        return json.loads(self._open(path, params))

    def get_bytes(self, path, **params):
        return self._open(path, params)

    def post_json(self, path, body):
        return json.loads(self._open(path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}))


class HTTPFailure(Exception):
    pass


# ---------------------------------------------------------------------------------------------------
# Checks: each appends readable mismatch lines to `out`


def close(got, want, rtol, atol):
    if isinstance(want, str) and want.lower() == "nan":
        return isinstance(got, (int, float)) and math.isnan(got) or got == "NaN"
    if isinstance(got, bool) or isinstance(want, bool):
        return got is want
    if isinstance(got, str) and isinstance(want, (int, float)):  # protobuf JSON: "NaN", "Infinity"
        try:
            got = float(got)
        except ValueError:
            return False
    if not isinstance(got, (int, float)) or not isinstance(want, (int, float)):
        return got == want
    return math.isclose(got, want, rel_tol=rtol, abs_tol=atol)


class Checker:
    def __init__(self, client, exp):
        self.c = client
        self.exp = exp
        self.rtol = exp.get("rtol", 1e-6)
        self.atol = exp.get("atol", 1e-6)
        self.out = []
        self._tag_cache = {}

    def fail(self, msg):
        self.out.append(msg)

    def tol(self, entry):
        return entry.get("rtol", self.rtol), entry.get("atol", self.atol)

    def tags_of(self, plugin):
        """{run: [tags]} from a plugin's tags route (text serves lists, the others objects)."""
        if plugin not in self._tag_cache:
            raw = self.c.get_json(f"/data/plugin/{plugin}/tags")
            self._tag_cache[plugin] = {run: sorted(tags) for run, tags in raw.items()}
        return self._tag_cache[plugin]

    def has_tag(self, plugin, run, tag, what):
        tags = self.tags_of(plugin)
        if tag in tags.get(run, []):
            return True
        if run not in tags:
            self.fail(f"{what}: run {run!r} has no {plugin} data (runs with {plugin}: {sorted(tags)})")
        else:
            self.fail(f"{what}: no {plugin} tag {tag!r} in run {run!r} (tags: {tags[run]})")
        return False

    def run_all(self):
        steps = [self.check_runs, self.check_plugins, self.check_tags, self.check_scalars,
                 self.check_histograms, self.check_texts, self.check_images, self.check_pr_curves,
                 self.check_graphs, self.check_hparams, self.check_custom_scalars]
        for step in steps:
            try:
                step()
            except HTTPFailure as e:
                self.fail(f"{step.__name__[6:]}: {e}")
        return self.out

    def check_runs(self):
        if "runs" not in self.exp:
            return
        served = set(self.c.get_json("/data/runs"))
        want = set(self.exp["runs"])
        missing, extra = sorted(want - served), sorted(served - want)
        if missing:
            self.fail(f"runs: missing {missing}")
        if extra and not self.exp.get("runs_subset", False):
            self.fail(f"runs: unexpected {extra}")

    def check_plugins(self):
        if "plugins_enabled" not in self.exp:
            return
        listing = self.c.get_json("/data/plugins_listing")
        for plugin in self.exp["plugins_enabled"]:
            if not listing.get(plugin, {}).get("enabled", False):
                self.fail(f"plugins: {plugin!r} is not enabled")

    def check_tags(self):
        for plugin, by_run in self.exp.get("tags", {}).items():
            served = self.tags_of(plugin)
            for run, want in by_run.items():
                got = served.get(run, [])
                if sorted(want) != got:
                    self.fail(f"tags {plugin} {run}: got {got}, want {sorted(want)} "
                              f"(missing {sorted(set(want) - set(got))}, "
                              f"unexpected {sorted(set(got) - set(want))})")

    def _check_steps(self, what, entry, got_steps):
        if "steps" in entry and got_steps != list(entry["steps"]):
            self.fail(f"{what}: steps {_short(got_steps)}, want {_short(entry['steps'])}")
        if "steps_include" in entry:
            missing = sorted(set(entry["steps_include"]) - set(got_steps))
            if missing:
                self.fail(f"{what}: missing steps {_short(missing)} (served {_short(got_steps)})")

    def check_scalars(self):
        for entry in self.exp.get("scalars", []):
            run, tag = entry["run"], entry["tag"]
            what = f"scalars {run} {tag}"
            if not self.has_tag("scalars", run, tag, what):
                continue
            points = self.c.get_json("/data/plugin/scalars/scalars", run=run, tag=tag)
            steps = [p[1] for p in points]
            values = {p[1]: p[2] for p in points}
            self._check_steps(what, entry, steps)
            rtol, atol = self.tol(entry)
            for step, want in zip(entry.get("steps", []), entry.get("values", [])):
                if step in values and not close(values[step], want, rtol, atol):
                    self.fail(f"{what} step {step}: value {values[step]!r}, want {want!r}")
            if "last_value" in entry:
                if not points:
                    self.fail(f"{what}: no points, want last value {entry['last_value']!r}")
                elif not close(points[-1][2], entry["last_value"], rtol, atol):
                    self.fail(f"{what}: last value {points[-1][2]!r} (step {points[-1][1]}), "
                              f"want {entry['last_value']!r}")

    def check_histograms(self):
        for entry in self.exp.get("histograms", []):
            run, tag = entry["run"], entry["tag"]
            what = f"histograms {run} {tag}"
            if not self.has_tag("histograms", run, tag, what):
                continue
            data = self.c.get_json("/data/plugin/histograms/histograms", run=run, tag=tag)
            by_step = {d[1]: d[2] for d in data}
            self._check_steps(what, entry, [d[1] for d in data])
            rtol, atol = self.tol(entry)
            if "bucket_count" in entry:
                for step, buckets in by_step.items():
                    if len(buckets) != entry["bucket_count"]:
                        self.fail(f"{what} step {step}: {len(buckets)} buckets, want {entry['bucket_count']}")
            for step_s, want in entry.get("buckets", {}).items():
                got = by_step.get(int(step_s))
                if got is None:
                    self.fail(f"{what}: no step {step_s} for buckets")
                    continue
                if len(got) != len(want):
                    self.fail(f"{what} step {step_s}: {len(got)} buckets, want {len(want)}")
                    continue
                for i, (g, w) in enumerate(zip(got, want)):
                    if not all(close(a, b, rtol, atol) for a, b in zip(g, w)):
                        self.fail(f"{what} step {step_s} bucket {i}: {g}, want {w}")
            for step_s, want in entry.get("counts", {}).items():
                got = by_step.get(int(step_s))
                if got is None:
                    self.fail(f"{what}: no step {step_s} for counts")
                elif not close(sum(b[2] for b in got), want, rtol, atol):
                    self.fail(f"{what} step {step_s}: total count {sum(b[2] for b in got)}, want {want}")

    def check_texts(self):
        for entry in self.exp.get("texts", []):
            run, tag, step = entry["run"], entry["tag"], entry["step"]
            what = f"texts {run} {tag} step {step}"
            if not self.has_tag("text", run, tag, what):
                continue
            raw = {d["step"]: d["text"] for d in
                   self.c.get_json("/data/plugin/text/text", run=run, tag=tag, markdown="false")}
            if step not in raw:
                self.fail(f"{what}: no such step (served {_short(sorted(raw))})")
                continue
            text = plain_text(raw[step])
            if "equals" in entry and text != entry["equals"]:
                self.fail(f"{what}: text {text!r}, want {entry['equals']!r}")
            if "contains" in entry and entry["contains"] not in text:
                self.fail(f"{what}: text {text!r} does not contain {entry['contains']!r}")
            if "html_contains" in entry:
                rendered = {d["step"]: d["text"] for d in
                            self.c.get_json("/data/plugin/text/text", run=run, tag=tag)}
                if entry["html_contains"] not in rendered.get(step, ""):
                    self.fail(f"{what}: rendered HTML {rendered.get(step)!r} does not contain "
                              f"{entry['html_contains']!r}")

    def check_images(self):
        for entry in self.exp.get("images", []):
            run, tag, step = entry["run"], entry["tag"], entry["step"]
            sample = entry.get("sample", 0)
            what = f"images {run} {tag} step {step} sample {sample}"
            if not self.has_tag("images", run, tag, what):
                continue
            if "samples" in entry:
                info = self.c.get_json("/data/plugin/images/tags").get(run, {}).get(tag, {})
                if info.get("samples") != entry["samples"]:
                    self.fail(f"{what}: {info.get('samples')} samples per step, want {entry['samples']}")
            items = self.c.get_json("/data/plugin/images/images", run=run, tag=tag, sample=sample)
            item = next((d for d in items if d["step"] == step), None)
            if item is None:
                self.fail(f"{what}: no such step (served {_short([d['step'] for d in items])})")
                continue
            blob = self.c._open("/data/plugin/images/individualImage?" + item["query"])
            if "sha256" in entry and hashlib.sha256(blob).hexdigest() != entry["sha256"]:
                self.fail(f"{what}: sha256 {hashlib.sha256(blob).hexdigest()}, want {entry['sha256']}")
            if "width" in entry or "height" in entry:
                size = png_size(blob)
                if size is None:
                    self.fail(f"{what}: served blob is not a PNG ({blob[:8]!r}...)")
                    continue
                if "width" in entry and size[0] != entry["width"]:
                    self.fail(f"{what}: width {size[0]}, want {entry['width']}")
                if "height" in entry and size[1] != entry["height"]:
                    self.fail(f"{what}: height {size[1]}, want {entry['height']}")
            if "pixels_sha256" in entry:
                got = decoded_pixels_sha256(blob)
                if got != entry["pixels_sha256"]:
                    self.fail(f"{what}: decoded pixels {got}, want {entry['pixels_sha256']}")

    def check_pr_curves(self):
        for entry in self.exp.get("pr_curves", []):
            run, tag, step = entry["run"], entry["tag"], entry["step"]
            what = f"pr_curves {run} {tag} step {step}"
            if not self.has_tag("pr_curves", run, tag, what):
                continue
            served = self.c.get_json("/data/plugin/pr_curves/pr_curves", run=run, tag=tag).get(run, [])
            got = next((d for d in served if d["step"] == step), None)
            if got is None:
                self.fail(f"{what}: no such step (served {_short([d['step'] for d in served])})")
                continue
            want = expected_pr_curve(entry["labels"], entry["predictions"],
                                     entry.get("num_thresholds", DEFAULT_PR_THRESHOLDS))
            rtol, atol = entry.get("rtol", 0.0), entry.get("atol", 0.0)
            for key, values in want.items():
                g = got.get(key, [])
                if len(g) != len(values):
                    self.fail(f"{what}: {key} has {len(g)} thresholds, numpy's {len(values)}")
                    continue
                exact = key not in ("precision", "recall", "thresholds")
                bad = [i for i, (a, b) in enumerate(zip(g, values))
                       if (a != b if exact else not close(a, b, rtol, atol))]
                if bad:
                    i = bad[0]
                    self.fail(f"{what}: {key} differs from numpy's at {len(bad)} thresholds, first at "
                              f"index {i}: {g[i]!r}, want {values[i]!r}")

    def check_graphs(self):
        entries = self.exp.get("graphs", [])
        if not entries:
            return
        info = self.c.get_json("/data/plugin/graphs/info")
        for entry in entries:
            run = entry["run"]
            what = f"graphs {run}"
            run_info = info.get(run, {"run_graph": False, "tags": {}})
            if "run_graph" in entry and run_info.get("run_graph", False) != entry["run_graph"]:
                self.fail(f"{what}: run_graph {run_info.get('run_graph', False)}, want {entry['run_graph']}")
            keras = run_info.get("tags", {}).get("keras", {}).get("conceptual_graph", False)
            if "keras" in entry and keras != entry["keras"]:
                self.fail(f"{what}: conceptual keras graph {keras}, want {entry['keras']}")
            if entry.get("nodes_include"):
                pbtxt = self.c.get_bytes("/data/plugin/graphs/graph", run=run).decode("utf-8", "replace")
                self._nodes_include(what + " op graph", pbtxt, entry["nodes_include"])
            if entry.get("keras_nodes_include"):
                pbtxt = self.c.get_bytes("/data/plugin/graphs/graph", run=run, tag="keras",
                                         conceptual="true").decode("utf-8", "replace")
                self._nodes_include(what + " keras graph", pbtxt, entry["keras_nodes_include"])

    def _nodes_include(self, what, pbtxt, names):
        served = {line.strip()[len('name: "'):-1] for line in pbtxt.splitlines()
                  if line.strip().startswith('name: "') and line.strip().endswith('"')}
        missing = [n for n in names if n not in served]
        if missing:
            self.fail(f"{what}: missing nodes {missing} (served {_short(sorted(served))})")

    def check_custom_scalars(self):
        want = self.exp.get("custom_scalars")
        if want is None:
            return
        layout = self.c.get_json("/data/plugin/custom_scalars/layout")
        served = {}  # (category, chart title) -> ("tags", [...]) or ("margin", [[v, l, u], ...])
        for category in layout.get("category", []):
            for chart in category.get("chart", []):
                key = (category.get("title", ""), chart.get("title", ""))
                if "margin" in chart:
                    served[key] = ("margin", [[s.get("value", ""), s.get("lower", ""), s.get("upper", "")]
                                              for s in chart["margin"].get("series", [])])
                else:
                    served[key] = ("tags", list(chart.get("multiline", {}).get("tag", [])))
        if not served:
            self.fail(f"custom_scalars: no layout served (got {json.dumps(layout)[:200]})")
            return
        listed = set()
        for chart in want.get("charts", []):
            key = (chart["category"], chart["title"])
            listed.add(key)
            kind = "tags" if "tags" in chart else "margin"
            expected = (kind, [list(x) for x in chart[kind]] if kind == "margin" else list(chart[kind]))
            if key not in served:
                self.fail(f"custom_scalars: no chart {key[1]!r} in category {key[0]!r} "
                          f"(charts: {sorted(served)})")
            elif served[key] != expected:
                self.fail(f"custom_scalars chart {key[1]!r}: {served[key][0]} {served[key][1]}, "
                          f"want {kind} {expected[1]}")
        if want.get("charts_exact", False):
            extra = sorted(set(served) - listed)
            if extra:
                self.fail(f"custom_scalars: unexpected charts {extra}")
        scalar_tags = self.tags_of("scalars")
        every_tag = sorted({tag for tags in scalar_tags.values() for tag in tags})
        for (category, title), (kind, content) in sorted(served.items()):
            if kind == "tags":
                for regex in content:
                    try:
                        matched = any(re.search(regex, tag) for tag in every_tag)
                    except re.error as e:
                        self.fail(f"custom_scalars chart {title!r}: tag regex {regex!r} does not compile: {e}")
                        continue
                    if not matched:
                        self.fail(f"custom_scalars chart {title!r} (category {category!r}): tag regex "
                                  f"{regex!r} matches no scalar tag in any run (tags: {_short(every_tag)})")
            else:
                for series in content:
                    if not any(set(series) <= set(tags) for tags in scalar_tags.values()):
                        self.fail(f"custom_scalars chart {title!r} (category {category!r}): margin series "
                                  f"{series} are not scalar tags of one run")

    def check_hparams(self):
        hp = self.exp.get("hparams")
        if hp is None:
            return
        if "experiment" in hp:
            self._check_experiment(hp["experiment"])
        if "session_groups" in hp:
            self._check_session_groups(hp["session_groups"], hp.get("session_groups_subset", False))

    def _check_experiment(self, want):
        got = self.c.post_json("/data/plugin/hparams/experiment", {"experimentName": ""})
        infos = {h["name"]: h for h in got.get("hparamInfos", [])}
        if "hparams" in want:
            w = want["hparams"]
            if set(infos) != set(w):
                self.fail(f"hparams experiment: hparams {sorted(infos)}, want {sorted(w)}")
            for name, wi in w.items():
                gi = infos.get(name)
                if gi is None:
                    continue
                what = f"hparams experiment hparam {name!r}"
                if "type" in wi and gi.get("type", "DATA_TYPE_UNSET") != wi["type"]:
                    self.fail(f"{what}: type {gi.get('type', 'DATA_TYPE_UNSET')}, want {wi['type']}")
                if "interval" in wi:
                    iv = gi.get("domainInterval")
                    if iv is None:
                        self.fail(f"{what}: no interval domain (got {gi}), want {wi['interval']}")
                    elif not (close(iv.get("minValue", 0.0), wi["interval"][0], self.rtol, self.atol)
                              and close(iv.get("maxValue", 0.0), wi["interval"][1], self.rtol, self.atol)):
                        self.fail(f"{what}: interval [{iv.get('minValue', 0.0)}, {iv.get('maxValue', 0.0)}], "
                                  f"want {wi['interval']}")
                if "discrete" in wi and gi.get("domainDiscrete") != wi["discrete"]:
                    self.fail(f"{what}: discrete domain {gi.get('domainDiscrete')}, want {wi['discrete']}")
        if "differs" in want:
            order = [h["name"] for h in got.get("hparamInfos", [])]
            differing = [h["name"] for h in got.get("hparamInfos", []) if h.get("differs", False)]
            if sorted(differing) != sorted(want["differs"]):
                self.fail(f"hparams experiment: hparams that differ {sorted(differing)}, want {sorted(want['differs'])}")
            elif sorted(order[:len(differing)]) != sorted(differing):
                self.fail(f"hparams experiment: order {order}, want the differing {sorted(differing)} first")
        if "metrics" in want:
            served = {(m["name"].get("group", ""), m["name"]["tag"]) for m in got.get("metricInfos", [])}
            wanted = {(m.get("group", ""), m["tag"]) for m in want["metrics"]}
            missing, extra = sorted(wanted - served), sorted(served - wanted)
            if missing:
                self.fail(f"hparams experiment: missing metrics (group, tag) {missing}")
            if extra and not want.get("metrics_subset", False):
                self.fail(f"hparams experiment: unexpected metrics (group, tag) {extra}")

    def _check_session_groups(self, want, subset):
        body = {"experimentName": "", "allowedStatuses": STATUSES, "colParams": [],
                "startIndex": 0, "sliceSize": 100000}
        got = self.c.post_json("/data/plugin/hparams/session_groups", body)
        groups = {g["name"]: g for g in got.get("sessionGroups", [])}
        missing, extra = sorted(set(want) - set(groups)), sorted(set(groups) - set(want))
        if missing:
            self.fail(f"hparams session groups: missing {missing} (served {sorted(groups)})")
        if extra and not subset:
            self.fail(f"hparams session groups: unexpected {extra}")
        for name, wg in want.items():
            g = groups.get(name)
            if g is None:
                continue
            what = f"hparams session group {name!r}"
            if "hparams" in wg:
                gh, wh = g.get("hparams", {}), wg["hparams"]
                if set(gh) != set(wh) or not all(close(gh[k], wh[k], self.rtol, self.atol) for k in wh):
                    self.fail(f"{what}: hparams {gh}, want {wh}")
            sessions = g.get("sessions", [])
            if "sessions" in wg and [s["name"] for s in sessions] != wg["sessions"]:
                self.fail(f"{what}: sessions {[s['name'] for s in sessions]}, want {wg['sessions']}")
            if "status" in wg:
                for s in sessions:
                    status = s.get("status", "STATUS_UNKNOWN")
                    if status != wg["status"]:
                        self.fail(f"{what}: session {s['name']!r} status {status}, want {wg['status']}")
            values = {(m["name"].get("group", ""), m["name"]["tag"]): m for m in g.get("metricValues", [])}
            for wm in wg.get("metrics", []):
                key = (wm.get("group", ""), wm["tag"])
                m = values.get(key)
                if m is None:
                    self.fail(f"{what}: no metric value for (group, tag) {key} (has {sorted(values)})")
                    continue
                rtol, atol = self.tol(wm)
                if "value" in wm and not close(m.get("value"), wm["value"], rtol, atol):
                    self.fail(f"{what} metric {key}: value {m.get('value')!r}, want {wm['value']!r}")
                if "step" in wm and int(m.get("trainingStep", 0)) != wm["step"]:
                    self.fail(f"{what} metric {key}: step {m.get('trainingStep', 0)}, want {wm['step']}")


def _short(items, limit=12):
    items = list(items)
    if len(items) <= limit:
        return str(items)
    return f"[{', '.join(map(repr, items[:limit // 2]))}, ... {len(items) - limit} more ..., " \
           f"{', '.join(map(repr, items[-limit // 2:]))}]"


def plain_text(served):
    """The raw text behind the text plugin's markdown=false HTML.

    A rank-0 string tensor comes back as the escaped string; any other shape (tensorboardX writes
    shape [1]) as an HTML table, whose cells are joined with newlines here.
    """
    if served.startswith("<table>"):
        cells = re.findall(r"<td>(.*?)</td>", served, flags=re.DOTALL)
        return "\n".join(html.unescape(c) for c in cells)
    return html.unescape(served)


def png_size(blob):
    """(width, height) from a PNG's IHDR chunk, or None if blob is not a PNG."""
    if len(blob) < 24 or blob[:8] != b"\x89PNG\r\n\x1a\n" or blob[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", blob[16:24])


def decoded_pixels_sha256(blob):
    """The sha256 of an encoded image decoded by PIL, as RGBA bytes row by row."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(blob)) as img:
        return hashlib.sha256(img.convert("RGBA").tobytes()).hexdigest()


def expected_pr_curve(labels, predictions, num_thresholds):
    """The PR curve as the pr_curves plugin serves it, computed with numpy from labels and predictions.

    Written from the definition in the module docstring, not with TensorBoard's own summary code, so
    that the plugin's data is checked against an independent computation. Counts are ints, the rest
    float32 values widened, as the plugin serves the [6, num_thresholds] float32 tensor.
    """
    import numpy as np

    y = np.asarray(labels, dtype=bool)
    p = np.asarray(predictions, dtype=np.float32)
    buckets = np.floor(p * np.float32(num_thresholds - 1)).astype(np.int64)
    tp = np.bincount(buckets[y], minlength=num_thresholds)[::-1].cumsum()[::-1].astype(np.float64)
    fp = np.bincount(buckets[~y], minlength=num_thresholds)[::-1].cumsum()[::-1].astype(np.float64)
    tn, fn = fp[0] - fp, tp[0] - tp
    precision = tp / np.maximum(tp + fp, 1e-7)
    recall = tp / np.maximum(tp + fn, 1e-7)
    end = num_thresholds
    while end > 1 and tp[end - 1] + fp[end - 1] == 0:
        end -= 1
    curve = {name: [int(x) for x in xs[:end]] for name, xs in
             (("true_positives", tp), ("false_positives", fp), ("true_negatives", tn), ("false_negatives", fn))}
    for name, xs in (("precision", precision), ("recall", recall)):
        curve[name] = [float(x) for x in np.asarray(xs[:end], dtype=np.float32)]
    curve["thresholds"] = [float(x) for x in np.linspace(0.0, 1.0, num_thresholds)[:end]]
    return curve


# ---------------------------------------------------------------------------------------------------
# One loader


def fingerprint(client):
    """What TensorBoard serves at a glance; while it changes, TensorBoard is still loading."""
    parts = []
    for path in ("/data/runs", "/data/plugin/scalars/tags", "/data/plugin/histograms/tags",
                 "/data/plugin/text/tags", "/data/plugin/images/tags", "/data/plugin/pr_curves/tags",
                 "/data/plugin/graphs/info",
                 "/data/plugin/custom_scalars/layout"):
        try:
            parts.append(client.get_bytes(path))
        except (HTTPFailure, OSError):
            parts.append(b"?")
    return hashlib.sha256(b"\0".join(parts)).hexdigest()


def wait_for_runs(tb, client, want_runs, deadline, stop):
    """Waits until /data/runs holds want_runs (or anything, without want_runs).

    Runs appear one by one as TensorBoard loads them; when some expected run is still missing after
    the run list has stopped changing for RUNS_SETTLE_SECONDS, it returns anyway and the run check
    reports what is missing, rather than waiting out the whole timeout.
    """
    last_err, last_runs, changed_at = None, None, time.monotonic()
    while time.monotonic() < deadline:
        if stop.is_set():
            raise SetupError("stopped")
        if tb.exited():
            raise SetupError(f"TensorBoard (--load_fast={tb.load_fast}) exited with status "
                             f"{tb.proc.returncode}:\n{tb.output_tail()}")
        try:
            runs = set(client.get_json("/data/runs"))
            if (want_runs and want_runs <= runs) or (not want_runs and runs):
                return
            if runs != last_runs:
                last_runs, changed_at = runs, time.monotonic()
            elif runs and time.monotonic() - changed_at >= RUNS_SETTLE_SECONDS:
                return
            last_err = f"runs so far {sorted(runs)}"
        except (HTTPFailure, OSError, ValueError) as e:
            last_err = str(e)
        time.sleep(0.25)
    raise SetupError(f"TensorBoard (--load_fast={tb.load_fast}) did not list the expected runs in time "
                     f"({last_err}); missing: {sorted(want_runs - set(_runs_or_empty(client)))}\n"
                     f"{tb.output_tail()}")


def _runs_or_empty(client):
    try:
        return client.get_json("/data/runs")
    except (HTTPFailure, OSError, ValueError):
        return []


class Fleet:
    """Every TensorBoard this run launches, so that one stop_all() kills them, even mid-start."""

    def __init__(self):
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.members = []

    def launch(self, tb):
        with self.lock:
            if self.stop.is_set():
                raise SetupError("stopped")
            self.members.append(tb)
            tb.start()

    def stop_all(self):
        with self.lock:
            self.stop.set()
            members = list(self.members)
        for tb in members:
            tb.stop()


def check_with_loader(logdir, exp, load_fast, timeout, fleet):
    deadline = time.monotonic() + timeout
    for attempt in range(3):
        tb = TensorBoard(logdir, load_fast, exp.get("samples_per_plugin"))
        fleet.launch(tb)
        client = Client(tb.base_url)
        try:
            wait_for_runs(tb, client, set(exp.get("runs", [])), deadline, fleet.stop)
            break
        except SetupError as e:
            # free_port() cannot reserve the port: another process may take it before TensorBoard binds.
            if "could not bind" not in str(e) or attempt == 2:
                raise
    # Retry mismatches while TensorBoard is still loading; final once the served data stops changing.
    last_print, changed_at = None, time.monotonic()
    while True:
        mismatches = Checker(client, exp).run_all()
        if not mismatches:
            return []
        now = time.monotonic()
        fp = fingerprint(client)
        if fp != last_print:
            last_print, changed_at = fp, now
        if now - changed_at >= SETTLE_SECONDS or now >= deadline or fleet.stop.is_set():
            return mismatches
        time.sleep(RELOAD_INTERVAL / 2)


# ---------------------------------------------------------------------------------------------------
# Entry point


def python_only_check():
    """Can this interpreter run TensorBoard with both loaders? Returns a list of problems."""
    problems = []
    try:
        import tensorboard  # noqa: F401
        from tensorboard import version
        print(f"tensorboard {version.VERSION} at {os.path.dirname(tensorboard.__file__)}")
    except ImportError as e:
        problems.append(f"{sys.executable} cannot import tensorboard ({e})")
    try:
        import tensorboard_data_server
        path = tensorboard_data_server.server_binary()
        if not path or not os.access(path, os.X_OK):
            problems.append(f"tensorboard_data_server has no runnable server binary ({path})")
        else:
            print(f"tensorboard_data_server {path}")
    except ImportError as e:
        problems.append(f"{sys.executable} cannot import tensorboard_data_server ({e}): "
                        f"--load_fast=true would be unavailable")
    try:
        import numpy  # noqa: F401
        import PIL  # noqa: F401
    except ImportError as e:
        problems.append(f"{sys.executable} cannot import numpy and PIL (pillow) ({e}): the image pixel "
                        f"and PR curve checks would be unavailable")
    return problems


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--logdir", help="the logdir TensorBoard serves")
    p.add_argument("--expect", help="expectation JSON (format: see this script's docstring)")
    p.add_argument("--load-fast", default="both", choices=["true", "false", "both"],
                   help="which TensorBoard loader(s) to check with (default both)")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="seconds per loader to load the runs and settle (default 60)")
    p.add_argument("--python-only-check", action="store_true",
                   help="start no TensorBoard: check this Python can run it, and the --expect file's format")
    args = p.parse_args(argv)

    if args.python_only_check:
        problems = python_only_check()
        if args.expect:
            try:
                load_expectation(args.expect)
                print(f"{args.expect}: well-formed")
            except ExpectationError as e:
                problems.append(str(e))
        for problem in problems:
            print(f"tb_check: {problem}", file=sys.stderr)
        return EXIT_ERROR if problems else EXIT_OK

    if not args.logdir or not args.expect:
        p.error("--logdir and --expect are required (or --python-only-check)")
    if not os.path.isdir(args.logdir):
        print(f"tb_check: --logdir {args.logdir}: not a directory", file=sys.stderr)
        return EXIT_ERROR
    try:
        exp = load_expectation(args.expect)
    except ExpectationError as e:
        print(f"tb_check: {e}", file=sys.stderr)
        return EXIT_ERROR

    loaders = ["true", "false"] if args.load_fast == "both" else [args.load_fast]
    logdir = os.path.abspath(args.logdir)
    fleet = Fleet()

    def on_sigterm(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    results, errors = {}, {}
    # The loaders run side by side; the pool is not a `with` block because its exit would wait for
    # the workers before the finally below could kill their TensorBoards.
    pool = concurrent.futures.ThreadPoolExecutor(len(loaders))
    try:
        futures = {pool.submit(check_with_loader, logdir, exp, lf, args.timeout, fleet): lf
                   for lf in loaders}
        for fut in concurrent.futures.as_completed(futures):
            lf = futures[fut]
            try:
                results[lf] = fut.result()
            except SetupError as e:
                errors[lf] = str(e)
    except KeyboardInterrupt:
        print("tb_check: interrupted", file=sys.stderr)
        return 130
    finally:
        fleet.stop_all()
        pool.shutdown(wait=True, cancel_futures=True)

    status = EXIT_OK
    for lf in loaders:
        label = f"--load_fast={lf}"
        if lf in errors:
            print(f"{label}: ERROR {errors[lf]}")
            status = EXIT_ERROR
        elif results[lf]:
            print(f"{label}: {len(results[lf])} mismatch(es)")
            for m in results[lf]:
                print(f"  {label}: {m}")
            status = max(status, EXIT_MISMATCH)
        else:
            print(f"{label}: OK")
    return status


if __name__ == "__main__":
    sys.exit(main())
