#!/usr/bin/env bash
# Installs Debian's strace (as root, only when missing) for the test that traces a run's fsyncs and
# renames (worker's TestEveryFileIsDurable), and prints its path on the last line.
set -euo pipefail
if path=$(command -v strace); then
  echo "$path"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "setup-strace: strace is missing and installing it needs root (apt-get install strace)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q --no-install-recommends strace >/dev/null 2>&1; then
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends strace >/dev/null
fi
command -v strace
