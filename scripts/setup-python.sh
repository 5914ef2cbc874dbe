#!/usr/bin/env bash
# Creates (or reuses) the project's Python venv outside the clone and installs a pinned requirement set.
#   scripts/setup-python.sh [tensorboard|peers|lint|tensorboard-newest]
# tensorboard: what the tests need (TensorBoard and its Rust data server, to judge our logs).
# peers:       adds TensorFlow, Keras and tensorboardX for the side-by-side benchmarks.
# tensorboard-newest: the newest TensorBoard on PyPI. A set whose file starts with "# own venv" gets a
#              venv of its own, <venv>-<set>, so that its pins never replace the main venv's.
# Prints nothing on success but the venv's python path on the last line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
set_name=${1:-tensorboard}
req="$here/requirements-$set_name.txt"
[ -f "$req" ] || { echo "setup-python: no requirement set '$set_name' ($req)" >&2; exit 2; }

cache=${TFSWEEP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tfsweep}
venv=${TFSWEEP_VENV:-$cache/venv}
if [ "$(head -1 "$req")" = "# own venv" ]; then
  venv=$venv-$set_name
fi
python=${PYTHON:-python3}
stamp="$venv/.installed-$set_name"

# The stamp holds the hash of every requirement file (a set may include another with -r), so editing any
# pin reinstalls and nothing stale is trusted.
want=$(cat "$here"/requirements-*.txt "$req" | sha256sum | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "$venv/bin/python"
  exit 0
fi
if [ ! -x "$venv/bin/python" ]; then
  mkdir -p "$(dirname "$venv")"
  "$python" -m venv "$venv" >&2
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" >&2
echo "$want" >"$stamp"
echo "$venv/bin/python"
