#!/usr/bin/env bash
# Installs gperftools' tcmalloc, which tfsweep preloads into its workers when it finds it (LD_PRELOAD):
# TensorFlow allocates every op's outputs anew at each step, and tcmalloc serves those buffers faster
# than glibc's malloc (6-9% more samples/s at batch 64, docs/benchmarks.md). It is optional: without it
# the workers run on glibc's malloc, and this script says so and succeeds.
#
#   scripts/setup-tcmalloc.sh
#
# Installs Debian's libtcmalloc-minimal4, or Ubuntu 24.04's libtcmalloc-minimal4t64, with apt-get when
# the library is missing and this runs as root; does nothing when the library is there.
set -euo pipefail

log() { printf 'setup-tcmalloc: %s\n' "$*" >&2; }

case "${1:-}" in
  -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) log "no arguments expected (usage: scripts/setup-tcmalloc.sh)"; exit 2 ;;
esac

# The paths tfsweep looks in (cmd/tfsweep/malloc.go).
for lib in /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 /usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so.4 \
  /usr/lib64/libtcmalloc_minimal.so.4; do
  [ -f "$lib" ] && exit 0
done

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  log "tcmalloc is not installed and this is not root with apt-get: the workers use glibc's malloc"
  log "(to install it: apt-get install libtcmalloc-minimal4, or your distribution's gperftools)"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# apt's chatter is shown only when every try fails.
if ! apt-get update -qq >"$out" 2>&1; then
  cat "$out" >&2
  log "apt-get update failed: the workers use glibc's malloc"
  exit 0
fi
for package in libtcmalloc-minimal4 libtcmalloc-minimal4t64; do
  if apt-get install -y -qq --no-install-recommends "$package" >>"$out" 2>&1; then
    log "installed $package"
    exit 0
  fi
done
cat "$out" >&2
log "could not install tcmalloc: the workers use glibc's malloc"
