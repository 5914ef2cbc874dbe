#!/usr/bin/env bash
# Splits a Go module's packages for `make test-go`: the race detector only finds races in Go code that
# runs concurrently, and it slows every Go instruction several times, so it runs on the packages whose own
# files (tests included) start goroutines or share memory between them, and the others run without it.
#
#   scripts/race-packages.sh race|plain     in a module's root; prints import paths, one a line
#
# A package counts as concurrent when any of its Go files mentions a go statement, a WaitGroup's or an
# errgroup's Go method, sync, sync/atomic, a channel, time.AfterFunc or an HTTP server (whose handlers run
# on goroutines). Reading too much into a comment only adds the race detector, never drops it; a package
# that gains a goroutine gains the race detector with it.
set -euo pipefail

want=${1:-}
case "$want" in
  race | plain) ;;
  *) echo "usage: scripts/race-packages.sh race|plain" >&2; exit 2 ;;
esac

concurrent='(^|[^[:alnum:]_.])go +(func|[[:alpha:]_][[:alnum:]_.]*[[(])|\.Go\(|sync\.|atomic\.|chan[[:space:]]|<-|AfterFunc|httptest\.|http\.Serve|ListenAndServe'
go list -f '{{.ImportPath}} {{.Dir}} {{join .GoFiles " "}} {{join .CgoFiles " "}} {{join .TestGoFiles " "}} {{join .XTestGoFiles " "}}' ./... |
  while read -r path dir files; do
    kind=plain
    for f in $files; do
      if grep -qE "$concurrent" "$dir/$f"; then
        kind=race
        break
      fi
    done
    [ "$kind" != "$want" ] || echo "$path"
  done
