#!/usr/bin/env bash
# Chooses the base images the Dockerfiles build on, and makes local ones where no registry can be reached.
#
#   scripts/docker-bases.sh      prints one `--build-arg NAME=IMAGE` per line, for docker build
#
# Each base is the upstream image when the engine has it or can pull it:
#   BUILD_IMAGE   golang:1.26-bookworm                          the build stage (Go, gcc, make)
#   CUDA_IMAGE    nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04  the GPU flavour's runtime
#   CPU_IMAGE     debian:bookworm-slim                          the CPU flavour's runtime
#   PYTHON_IMAGE  python:3.11-slim                              docker/tensorboard.Dockerfile
# Otherwise it is made here, from package registries only, and tagged tfsweep-base/*:
#   tfsweep-base/debian:bookworm   debootstrap --variant=minbase bookworm from Debian's archive + `docker import`,
#                                  with the host's extra CA certificates (/usr/local/share/ca-certificates) so
#                                  apt, pip and the Go module proxy work behind a TLS-intercepting proxy;
#                                  it stands in for debian:bookworm-slim and for the CUDA image (it has no CUDA
#                                  libraries: the GPU flavour built on it runs, but on the CPU only);
#   tfsweep-base/golang:GO-bookworm  that base + gcc, make and Go $go_version from the Go module proxy
#                                  (the golang.org/toolchain module, checked against go.sum's database);
#   tfsweep-base/python:3.11-bookworm  that base + Debian's Python 3.11 with venv and pip.
# A local base is made once and kept (a second run finds it); the debootstrap tarball is cached in
# $TFSWEEP_CACHE/docker, so a base removed from the engine is imported again in seconds.
# Needs root (debootstrap), a running engine, and go on PATH for the toolchain. $DOCKER names the client.
set -euo pipefail

go_version=1.26.8
suite=bookworm
docker=${DOCKER:-docker}
cache=${TFSWEEP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tfsweep}/docker

log() { printf 'docker-bases: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

case "${1:-}" in
  -h | --help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) die "no arguments expected (try --help)" ;;
esac

have() { "$docker" image inspect "$1" >/dev/null 2>&1; }

# upstream IMAGE: the engine has IMAGE or can pull it now.
upstream() {
  have "$1" && return 0
  timeout 300 "$docker" pull -q "$1" >/dev/null 2>&1
}

run_quiet() { # COMMAND...: run it, showing its output only when it fails
  local out
  out=$(mktemp)
  if ! "$@" >"$out" 2>&1; then
    tail -n 30 "$out" >&2
    rm -f "$out"
    return 1
  fi
  rm -f "$out"
}

debian_base() {
  local tag=tfsweep-base/debian:$suite tarball=$cache/debian-$suite-minbase.tar root
  have "$tag" && { echo "$tag"; return; }
  if [ ! -s "$tarball" ]; then
    [ "$(id -u)" = 0 ] || die "needs root to debootstrap the $suite base"
    command -v debootstrap >/dev/null || run_quiet apt-get install -y -qq --no-install-recommends debootstrap ||
      die "apt-get install debootstrap failed"
    mkdir -p "$cache"
    root=$(mktemp -d "$cache/.root.XXXXXX")
    trap 'rm -rf "$root"' EXIT
    log "debootstrap --variant=minbase $suite (about a minute)"
    run_quiet debootstrap --variant=minbase --include=ca-certificates "$suite" "$root" http://deb.debian.org/debian ||
      die "debootstrap $suite failed"
    if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
      cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
      run_quiet chroot "$root" update-ca-certificates || die "update-ca-certificates in the $suite base failed"
    fi
    # What an image needs no more of: apt's lists and caches, logs, man pages.
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
      "$root"/var/log/*.log "$root"/usr/share/man/* "$root"/usr/share/doc/*
    tar -C "$root" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$root"
    trap - EXIT
  fi
  "$docker" import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' -c 'CMD ["bash"]' \
    "$tarball" "$tag" >/dev/null || die "docker import $tarball failed"
  log "made $tag"
  echo "$tag"
}

golang_base() { # $1 = the Debian base
  local tag=tfsweep-base/golang:$go_version-$suite ctx dir
  have "$tag" && { echo "$tag"; return; }
  command -v go >/dev/null || die "go is not on PATH; it fetches Go $go_version for the build image"
  ctx=$(mktemp -d)
  trap 'chmod -R u+w "$ctx"; rm -rf "$ctx"' EXIT
  log "fetching Go $go_version from the Go module proxy"
  dir=$(cd "$ctx" && GOFLAGS=-mod=mod GOTOOLCHAIN=local go mod download -json \
    "golang.org/toolchain@v0.0.1-go$go_version.linux-amd64" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] && [ -f "$dir/bin/go" ] || die "go mod download golang.org/toolchain@v0.0.1-go$go_version.linux-amd64 failed"
  cp -r "$dir" "$ctx/go"
  # Module zips carry no file modes: the binaries get theirs back, as the go command does for a toolchain.
  chmod -R u+w "$ctx/go"
  chmod 0755 "$ctx"/go/bin/* "$ctx"/go/pkg/tool/*/*
  "$docker" build -q -t "$tag" -f - "$ctx" >/dev/null <<EOF || die "building $tag failed"
FROM $1
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev make pkg-config git \
 && rm -rf /var/lib/apt/lists/*
COPY go /usr/local/go
ENV GOPATH=/go GOTOOLCHAIN=local PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
EOF
  chmod -R u+w "$ctx"
  rm -rf "$ctx"
  trap - EXIT
  log "made $tag"
  echo "$tag"
}

python_base() { # $1 = the Debian base
  local tag=tfsweep-base/python:3.11-$suite
  have "$tag" && { echo "$tag"; return; }
  "$docker" build -q -t "$tag" - >/dev/null <<EOF || die "building $tag failed"
FROM $1
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv python3-pip \
 && rm -rf /var/lib/apt/lists/*
EOF
  log "made $tag"
  echo "$tag"
}

"$docker" info >/dev/null 2>&1 || die "the Docker engine is not running ($docker info fails)"
debian=""
choose() { # NAME UPSTREAM MAKER: print the build argument NAME, upstream if it can be had
  local image=$2
  if ! upstream "$2"; then
    [ -n "$debian" ] || debian=$(debian_base)
    if [ "$3" = debian ]; then image=$debian; else image=$("$3" "$debian"); fi
    log "$2 cannot be pulled: $1=$image"
  fi
  echo "--build-arg $1=$image"
}
choose BUILD_IMAGE golang:1.26-bookworm golang_base
choose CUDA_IMAGE nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04 debian
choose CPU_IMAGE debian:bookworm-slim debian
choose PYTHON_IMAGE python:3.11-slim python_base
