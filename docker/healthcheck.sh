#!/usr/bin/env bash
# The image's HEALTHCHECK. A container running `tfsweep serve` is healthy while the server answers on its
# --addr; one running anything else (a sweep, --version) is healthy while it runs, since it serves nothing.
# It asks for the public page `/`, which needs no token (every /api/v1 route, /healthz and /metrics do,
# and the token file's path is the user's to choose). bash's /dev/tcp: the image needs no curl.
set -euo pipefail

# serve_addr: the --addr of the tfsweep serve process in this container; status 1 when none runs.
serve_addr() {
  local f args i
  for f in /proc/[0-9]*/cmdline; do
    mapfile -d '' -t args <"$f" 2>/dev/null || continue
    [ "${#args[@]}" -ge 2 ] && [ "${args[0]##*/}" = tfsweep ] && [ "${args[1]}" = serve ] || continue
    local addr=127.0.0.1:8080
    for ((i = 2; i < ${#args[@]}; i++)); do
      case ${args[i]} in
        --addr=* | -addr=*) addr=${args[i]#*=} ;;
        --addr | -addr) addr=${args[i + 1]:-$addr} ;;
      esac
    done
    echo "$addr"
    return 0
  done
  return 1
}

addr=$(serve_addr) || exit 0
port=${addr##*:}
host=${addr%:*}
host=${host#[}
host=${host%]}
case $host in "" | 0.0.0.0 | "::") host=127.0.0.1 ;; esac

exec 3<>"/dev/tcp/$host/$port" || { echo "tfsweep serve does not accept connections on $host:$port"; exit 1; }
printf 'GET / HTTP/1.0\r\nHost: %s\r\n\r\n' "$host" >&3
read -r -t 4 status <&3 || { echo "tfsweep serve on $host:$port did not answer"; exit 1; }
case $status in
  "HTTP/1."?" 200 "*) exit 0 ;;
  *) echo "tfsweep serve on $host:$port answered: $status"; exit 1 ;;
esac
