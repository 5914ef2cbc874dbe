#!/usr/bin/env bash
# A Docker engine on this machine, for the image test (scripts/test-image.sh) and for trying the image by hand.
#
#   scripts/setup-docker.sh [start]   install (only if missing) and start dockerd when no engine answers
#   scripts/setup-docker.sh stop      stop the dockerd this script started (an engine started otherwise is left)
#   scripts/setup-docker.sh status    exit 0 when an engine answers on the default socket
#   scripts/setup-docker.sh client    print the docker client to build with: one that has BuildKit
#
# Needs root to install and start. Installs Debian's docker.io (dockerd, containerd, runc and a client with
# BuildKit built in), docker-compose and debootstrap, running `apt-get update` first only when one is
# missing. dockerd runs without systemd, started from here with its pid file and log in $TFSWEEP_DOCKER_DIR
# (default /var/lib/tfsweep-docker); its images and build cache stay in /var/lib/docker, so a second start
# finds them. Prints nothing on stdout (but for `client`); short status lines and errors go to stderr.
set -euo pipefail

cmd=${1:-start}
dir=${TFSWEEP_DOCKER_DIR:-/var/lib/tfsweep-docker}
pidfile=$dir/dockerd.pid
packages=(docker.io docker-compose debootstrap)

log() { printf 'setup-docker: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# ours: the dockerd this script started is alive (the pid file's pid is a dockerd, not a reused pid).
ours() {
  [ -s "$pidfile" ] && [ "$(cat "/proc/$(cat "$pidfile")/comm" 2>/dev/null)" = dockerd ]
}

answers() { docker_client >/dev/null && "$(docker_client)" info >/dev/null 2>&1; }

# docker_client: a client that builds with BuildKit. Docker 23 and later build through the buildx plugin;
# 20.10's client (Debian's docker.io) has BuildKit built in with DOCKER_BUILDKIT=1. A newer client without
# buildx (as some machines ship in /usr/local/bin) would fall back to the legacy builder, which cannot
# read the Dockerfile's cache mounts.
docker_client() {
  local c major
  for c in docker /usr/bin/docker; do
    command -v "$c" >/dev/null || continue
    if "$c" buildx version >/dev/null 2>&1; then echo "$c"; return 0; fi
    major=$("$c" --version 2>/dev/null | sed -n 's/^Docker version \([0-9]*\)\..*/\1/p')
    if [ -n "$major" ] && [ "$major" -lt 23 ]; then echo "$c"; return 0; fi
  done
  return 1
}

install_packages() {
  local missing=() p out
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "needs root to install ${missing[*]}"
  log "installing ${missing[*]}"
  out=$(mktemp)
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}"; } >"$out" 2>&1; then
    cat "$out" >&2
    rm -f "$out"
    die "apt-get install ${missing[*]} failed"
  fi
  rm -f "$out"
}

start() {
  install_packages
  answers && return 0
  [ "$(id -u)" = 0 ] || die "needs root to start dockerd"
  ours && die "dockerd (pid $(cat "$pidfile")) runs but does not answer; see $dir/dockerd.log"
  install -d -m 0755 "$dir"
  # setsid: the daemon outlives this script and is no part of the caller's process group.
  setsid dockerd --pidfile "$pidfile" >"$dir/dockerd.log" 2>&1 </dev/null &
  local i
  for ((i = 0; i < 150; i++)); do
    answers && { log "dockerd running (pid $(cat "$pidfile"), log $dir/dockerd.log)"; return 0; }
    sleep 0.2
  done
  tail -n 5 "$dir/dockerd.log" >&2 || true
  die "dockerd not ready after 30 s (log in $dir/dockerd.log)"
}

stop() {
  ours || return 0
  local pid i
  pid=$(cat "$pidfile")
  kill "$pid"
  # dockerd stops its containers and its containerd first; wait for the daemon itself.
  for ((i = 0; i < 300; i++)); do
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] || break
    sleep 0.1
  done
  if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ]; then
    log "dockerd (pid $pid) did not stop in 30 s; killing it"
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

case $cmd in
  start) start ;;
  stop) stop ;;
  status) answers ;;
  client) docker_client || die "no docker client with BuildKit (install docker.io, or the buildx plugin)" ;;
  -h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) die "unknown command '$cmd' (start, stop, status, client)" ;;
esac
