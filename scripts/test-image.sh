#!/usr/bin/env bash
# The image test (`make test-image`, part of `make test`): builds the repository's Dockerfile in both
# flavours and checks what users do with the image, on a real Docker engine.
#
#   scripts/test-image.sh        from the repository root, after `make build` (bin/tfsweep submits from the host)
#
# It starts the engine when none runs (scripts/setup-docker.sh, which installs it when missing) and makes
# local bases where no registry can be reached (scripts/docker-bases.sh). Checked:
#   - both flavours build; `--version` names the commit and TensorFlow 2.18.0; the labels name them too;
#   - `docker run --user UID:GID -v DIR:/runs IMAGE run ...` (UID: the invoking user, 4321 for root) trains a small sweep whose event files a real
#     TensorBoard (scripts/tb_check.py, both loaders) serves with the losses the run reported, every file
#     owned by UID;
#   - `serve` behind `-p 127.0.0.1:PORT:8080` with a token: 401 without it, healthy by the image's
#     HEALTHCHECK, a sweep submitted with the host's `tfsweep submit` succeeds; `docker stop` during a
#     second sweep ends the container within 10 s with exit status 0, and the next container on the same
#     volume finishes that sweep;
#   - docker/compose.yaml with docker/compose.cpu.yaml brings up serve and TensorBoard; TensorBoard lists the
#     runs of a sweep the service trained; `down` leaves no container, network or volume of the project;
#   - the GPU flavour started with --gpus on a host without the NVIDIA toolkit fails with the engine's
#     message (exit 125) and leaves no container; asked for a GPU it has not got, tfsweep says so (exit 2);
#     without --device gpu it trains on the CPU.
# Every check either passes or fails the test; nothing is skipped. What it built and started (containers,
# networks, volumes, the test images, the engine when it started it) is removed at the end; the bases and
# the build cache stay, so the next run rebuilds only what changed. Prints each step's time and, last,
# "N passed, N failed".
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
tfsweep=${TFSWEEP:-$root/bin/tfsweep}
python=${TFSWEEP_PYTHON:-${TFSWEEP_CACHE:-$HOME/.cache/tfsweep}/venv/bin/python}
id=tfsweep-test-$$
project=tfsweeptest$$ # Compose v1 keeps only letters and digits of a project name
image="tfsweep-test"
# The invoking user's uid; as root (CI), a stand-in user, so that the owner proves --user and not root.
user_uid=$(id -u)
[ "$user_uid" != 0 ] || user_uid=4321
passed=0

log() { printf 'test-image: %s\n' "$*" >&2; }
fail() {
  log "FAIL: $*"
  echo "$passed passed, 1 failed"
  exit 1
}
pass() {
  passed=$((passed + 1))
  log "ok: $*"
}
step_start=$SECONDS
timed() { # DESCRIPTION: print the time since the last step
  log "$1: $((SECONDS - step_start)) s"
  step_start=$SECONDS
}

# --- helpers of the checks ---
free_port() { "$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# start_serve: the serve container on the volume $id-serve and 127.0.0.1:$port, once healthy.
start_serve() {
  "$docker" run -d --label "$id" --name "$id-serve" --health-interval 2s -p "127.0.0.1:$port:8080" \
    -v "$id-serve:/runs" -v "$token:/run/secrets/token:ro" "$image:cpu" \
    serve --addr 0.0.0.0:8080 --token-file /run/secrets/token >/dev/null
  local i
  for ((i = 0; i < 150; i++)); do
    [ "$("$docker" inspect -f '{{.State.Health.Status}}' "$id-serve" 2>/dev/null)" = healthy ] && return 0
    [ "$("$docker" inspect -f '{{.State.Running}}' "$id-serve" 2>/dev/null)" = true ] ||
      { "$docker" logs "$id-serve" 2>&1 | tail -n 20 >&2; fail "the serve container exited"; }
    sleep 0.2
  done
  "$docker" logs "$id-serve" 2>&1 | tail -n 20 >&2
  fail "the serve container is not healthy after 30 s: $("$docker" inspect -f '{{json .State.Health}}' "$id-serve")"
}
sweep_state() { # ID: the sweep's state, as the API tells it
  curl -sf -H "Authorization: Bearer $(cat "$token")" "$url/api/v1/sweeps/$1" |
    "$python" -c 'import json,sys; print(json.load(sys.stdin)["state"])'
}
# compose ARGS...: docker-compose on the project's files with the CPU override, configured by compose.env.
compose() { docker-compose --env-file "$work/compose.env" -p "$project" -f docker/compose.yaml -f docker/compose.cpu.yaml "$@"; }

[ -x "$tfsweep" ] || fail "$tfsweep is missing: run \`make build\` first"
"$python" scripts/tb_check.py --python-only-check >/dev/null || fail "$python cannot run TensorBoard (scripts/setup-python.sh tensorboard)"

work=$(mktemp -d)
engine_started=0
docker=docker
cleanup() {
  local status=$?
  set +e
  if "$docker" info >/dev/null 2>&1; then
    "$docker" ps -aq --filter "label=$id" | xargs -r "$docker" rm -f >/dev/null
    if [ -f "$work/compose.env" ]; then
      compose down -v --remove-orphans >/dev/null 2>&1
    fi
    "$docker" volume ls -q --filter "label=$id" | xargs -r "$docker" volume rm >/dev/null
    "$docker" image rm "$image:cpu" "$image:gpu" "$image-tensorboard:latest" >/dev/null 2>&1
  fi
  [ "$engine_started" = 1 ] && scripts/setup-docker.sh stop
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! scripts/setup-docker.sh status; then
  scripts/setup-docker.sh start
  engine_started=1
fi
docker=$(scripts/setup-docker.sh client)
export DOCKER_BUILDKIT=1
timed "engine"

mapfile -t bases < <(DOCKER=$docker scripts/docker-bases.sh)
[ ${#bases[@]} -eq 4 ] || fail "scripts/docker-bases.sh printed ${#bases[@]} build arguments, want 4"
read -ra base_args <<<"${bases[*]}"
timed "bases"

version=$(git describe --tags --always --dirty 2>/dev/null || echo devel)
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)

build() { # TAG DOCKERFILE ARGS...: build it, showing the log's end when it fails
  local tag=$1 file=$2
  shift 2
  "$docker" build --progress=plain "${base_args[@]}" --build-arg VERSION="$version" --build-arg REVISION="$revision" \
    --label "$id" -f "$file" -t "$tag" "$@" . >"$work/build.log" 2>&1 || {
    tail -n 40 "$work/build.log" >&2
    fail "docker build -t $tag failed"
  }
}
build "$image:cpu" Dockerfile --build-arg TF_FLAVOUR=cpu
timed "build cpu flavour"
build "$image:gpu" Dockerfile
timed "build gpu flavour"
build "$image-tensorboard:latest" docker/tensorboard.Dockerfile
timed "build tensorboard image"
for flavour in cpu gpu; do
  size=$("$docker" image inspect -f '{{.Size}}' "$image:$flavour")
  log "image $image:$flavour: $((size / 1000000)) MB"
done

# --- --version and labels ---
check_versions() {
  for flavour in cpu gpu; do
    out=$("$docker" run --rm --label "$id" "$image:$flavour" --version 2>&1) || fail "$flavour --version: $out"
    grep -qx "tfsweep $version" <<<"$out" || fail "$flavour --version does not name $version: $out"
    grep -qx "tensorflow 2.18.0" <<<"$out" || fail "$flavour --version does not name TensorFlow 2.18.0: $out"
    labels=$("$docker" image inspect -f '{{json .Config.Labels}}' "$image:$flavour")
    for want in "\"org.opencontainers.image.revision\":\"$revision\"" "\"org.opencontainers.image.version\":\"$version\"" \
      '"io.github.tfsweep.tensorflow.version":"2.18.0"' "\"io.github.tfsweep.tensorflow.flavour\":\"$flavour\""; do
      grep -qF "$want" <<<"$labels" || fail "$flavour image labels lack $want: $labels"
    done
    [ "$("$docker" image inspect -f '{{.Config.User}}' "$image:$flavour")" = 10001:10001 ] || fail "$flavour image does not run as 10001:10001"
    pass "$flavour: --version names $version and TensorFlow 2.18.0; OCI labels; non-root user"
  done
  timed "versions"
}

# --- docker run with a volume, as another user: TensorBoard reads what it wrote ---
check_docker_run() {
  runs=$work/runs
  install -d -o "$user_uid" -g "$user_uid" "$runs"
  "$docker" run --rm --label "$id" --user "$user_uid:$user_uid" -v "$runs:/runs" "$image:cpu" \
    run --limit 2000 --epochs 1 --json >"$work/run.json" 2>"$work/run.err" ||
    { tail -n 20 "$work/run.err" >&2; fail "docker run $image:cpu run --limit 2000 --epochs 1 failed"; }
  not_owned=$(find "$runs" -mindepth 1 ! -user "$user_uid" | head -n 5)
  [ -z "$not_owned" ] || fail "files under the volume not owned by $user_uid: $not_owned"
  "$python" - "$work/run.json" "$runs" "$work/expect.json" <<'PY' || fail "the run's --json output is not what a preset sweep gives"
import json, os, sys
res = json.load(open(sys.argv[1]))
names = ["xavier-%s-b%d" % (bn, b) for b in (64, 128, 256, 512, 1024) for bn in ("nobn", "bn")]
names += ["uniform-nobn-b128", "uniform-bn-b128"]
assert res["status"] == "succeeded", res["status"]
assert sorted(r["name"] for r in res["runs"]) == sorted(names), [r["name"] for r in res["runs"]]
sweep = os.path.join(sys.argv[2], os.path.basename(res["sweep_dir"]))
assert os.path.isdir(sweep), sweep
runs = [".", "charts"] + [n + s for n in names for s in ("", "/train", "/validation", "/pictures")]
scalars = []
for r in res["runs"]:
    for sub, key in (("train", "train_loss"), ("validation", "val_loss")):
        scalars.append({"run": r["name"] + "/" + sub, "tag": "epoch_loss", "steps": [0], "values": r["history"][key],
                        "rtol": 1e-5})
json.dump({"runs": runs, "scalars": scalars}, open(sys.argv[3], "w"))
PY
  sweep_dir=$("$python" -c 'import json,os,sys; print(os.path.basename(json.load(open(sys.argv[1]))["sweep_dir"]))' "$work/run.json")
  "$python" scripts/tb_check.py --logdir "$runs/$sweep_dir" --expect "$work/expect.json" --timeout 90 >&2 ||
    fail "TensorBoard does not serve the sweep the container wrote"
  pass "docker run --user $user_uid -v DIR:/runs trains 12 runs; TensorBoard serves their losses; files owned by $user_uid"
  timed "docker run"
}

# --- serve behind a published port, with a token ---
check_serve() {
  token=$work/token
  head -c 24 /dev/urandom | base64 >"$token"
  chmod 0644 "$token" # the container's user (10001) reads it through the bind mount
  "$docker" volume create --label "$id" "$id-serve" >/dev/null
  port=$(free_port)
  url=http://127.0.0.1:$port
  start_serve
  code=$(curl -s -o /dev/null -w '%{http_code}' "$url/api/v1/sweeps")
  [ "$code" = 401 ] || fail "GET /api/v1/sweeps without the token: $code, want 401"
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(cat "$token")" "$url/healthz")
  [ "$code" = 200 ] || fail "GET /healthz with the token: $code, want 200"
  pass "serve: healthy by the image's HEALTHCHECK; 401 without the token, 200 with it"

  # The health check must be able to fail: a server that accepts connections but answers nothing (stopped
  # with SIGSTOP, as a hung process would be) is reported, and healthy again once it runs on.
  serve_pid=$("$docker" top "$id-serve" -eo pid,args | awk '$2 ~ /(^|\/)tfsweep$/ && $3 == "serve" { print $1 }')
  [ -n "$serve_pid" ] || fail "no tfsweep serve process in the container: $("$docker" top "$id-serve")"
  kill -STOP "$serve_pid"
  set +e
  health_out=$("$docker" exec "$id-serve" tfsweep-healthcheck 2>&1)
  code=$?
  set -e
  kill -CONT "$serve_pid"
  [ "$code" = 1 ] || fail "the health check of a stopped server: exit $code, want 1: $health_out"
  log "the health check of a stopped server says: $health_out"
  "$docker" exec "$id-serve" tfsweep-healthcheck >/dev/null || fail "the health check fails once the server runs again"
  pass "serve: the health check reports a server that does not answer"

  cat >"$work/small.yaml" <<'EOF'
grids:
  - init: xavier
    batchnorm: [off, on]
    batch_size: 128
    epochs: 1
    limit: 2000
EOF
  "$tfsweep" submit "$work/small.yaml" --server "$url" --token-file "$token" >"$work/submit.log" 2>&1 ||
    { tail -n 20 "$work/submit.log" >&2; fail "tfsweep submit to the container failed"; }
  pass "tfsweep submit from the host: the sweep succeeded in the container"
  timed "serve and submit"
}

# A sweep long enough to be running when docker stop comes (four runs of ten full-MNIST epochs: about
# 15 s on an idle machine of 2 cores, several times that on a busy one); its state is asked of the API.
check_stop_and_restart() {
  cat >"$work/long.yaml" <<'EOF'
grids:
  - init: xavier
    batchnorm: [off, on]
    batch_size: [64, 128]
    epochs: 10
EOF
  response=$(curl -s -w '\n%{http_code}' -H "Authorization: Bearer $(cat "$token")" -H 'Content-Type: application/yaml' \
    --data-binary @"$work/long.yaml" "$url/api/v1/sweeps")
  [ "${response##*$'\n'}" = 201 ] || fail "POST /api/v1/sweeps: ${response##*$'\n'} ${response%$'\n'*}"
  long_id=$("$python" -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "${response%$'\n'*}")
  for ((i = 0; i < 300; i++)); do
    [ "$(sweep_state "$long_id")" = running ] && break
    sleep 0.2
  done
  [ "$(sweep_state "$long_id")" = running ] || fail "sweep $long_id is not running after 60 s"
  sleep 3 # into its first run's training
  state=$(sweep_state "$long_id")
  [ "$state" = running ] || fail "sweep $long_id is $state before docker stop, want running"
  before=$SECONDS
  "$docker" stop -t 10 "$id-serve" >/dev/null
  took=$((SECONDS - before))
  exit_code=$("$docker" inspect -f '{{.State.ExitCode}}' "$id-serve")
  [ "$took" -lt 10 ] || fail "docker stop took $took s (10 s is when docker kills)"
  [ "$exit_code" = 0 ] || { "$docker" logs "$id-serve" 2>&1 | tail -n 20 >&2; fail "serve exited with $exit_code on docker stop, want 0"; }
  pass "docker stop ended serve in $took s with exit status 0"
  "$docker" rm "$id-serve" >/dev/null
  start_serve
  for ((i = 0; i < 600; i++)); do
    state=$(sweep_state "$long_id")
    case $state in succeeded) break ;; failed | cancelled) fail "sweep $long_id $state after the restart" ;; esac
    sleep 0.5
  done
  [ "$state" = succeeded ] || fail "sweep $long_id is $state 5 minutes after the restart"
  states=$(curl -sf -H "Authorization: Bearer $(cat "$token")" "$url/api/v1/sweeps" |
    "$python" -c 'import json,sys; print(" ".join(sorted(s["id"] + "=" + s["state"] for s in json.load(sys.stdin)["sweeps"])))')
  [ "$states" = "s-000001=succeeded $long_id=succeeded" ] || fail "the queue after the restart: $states, want s-000001 and $long_id succeeded"
  "$docker" stop -t 10 "$id-serve" >/dev/null
  pass "the next serve on the same volume finished the sweep docker stop interrupted"
  timed "docker stop and restart"
}

# --- compose: serve and TensorBoard, with the CPU override ---
check_compose() {
  tb_port=$(free_port)
  port=$(free_port)
  url=http://127.0.0.1:$port
  cat >"$work/compose.env" <<EOF
TFSWEEP_IMAGE=$image:cpu
TENSORBOARD_IMAGE=$image-tensorboard:latest
TFSWEEP_PORT=127.0.0.1:$port
TENSORBOARD_PORT=127.0.0.1:$tb_port
TFSWEEP_TOKEN_FILE=$token
EOF
  compose up -d --no-build >"$work/compose.log" 2>&1 || { cat "$work/compose.log" >&2; fail "docker-compose up failed"; }
  for ((i = 0; i < 150; i++)); do
    curl -sf -o /dev/null -H "Authorization: Bearer $(cat "$token")" "$url/healthz" && break
    sleep 0.2
  done
  "$tfsweep" submit "$work/small.yaml" --server "$url" --token-file "$token" >"$work/submit.log" 2>&1 ||
    { tail -n 20 "$work/submit.log" >&2; compose logs --tail 20 >&2; fail "tfsweep submit to the compose service failed"; }
  want_runs='["s-000001/xavier-bn-b128/train", "s-000001/xavier-bn-b128/validation", "s-000001/xavier-nobn-b128/train", "s-000001/xavier-nobn-b128/validation"]'
  for ((i = 0; i < 150; i++)); do
    served=$(curl -sf "http://127.0.0.1:$tb_port/data/runs" || true)
    "$python" -c 'import json,sys; sys.exit(not set(json.loads(sys.argv[1])) <= set(json.loads(sys.argv[2] or "[]")))' \
      "$want_runs" "$served" && break
    sleep 0.5
  done
  "$python" -c 'import json,sys; sys.exit(not set(json.loads(sys.argv[1])) <= set(json.loads(sys.argv[2] or "[]")))' \
    "$want_runs" "$served" || fail "TensorBoard in compose lists $served, want $want_runs among them"
  pass "compose: TensorBoard lists the runs the service trained"
  compose down -v >"$work/compose.log" 2>&1 || { cat "$work/compose.log" >&2; fail "docker-compose down failed"; }
  left=$("$docker" ps -aq --filter "label=com.docker.compose.project=$project")
  left+=$("$docker" network ls -q --filter "label=com.docker.compose.project=$project")
  left+=$("$docker" volume ls -q --filter "label=com.docker.compose.project=$project")
  [ -z "$left" ] || fail "docker-compose down left containers, networks or volumes: $left"
  rm "$work/compose.env"
  pass "compose: down leaves no container, network or volume"
  timed "compose"
}

# --- the GPU flavour without a GPU ---
check_gpu_flavour() {
  before=$("$docker" ps -aq | wc -l)
  set +e
  gpus_out=$("$docker" run --rm --label "$id" --gpus all "$image:gpu" --version 2>&1)
  code=$?
  set -e
  [ "$code" = 125 ] || fail "docker run --gpus all on a host without the NVIDIA toolkit: exit $code, want 125: $gpus_out"
  grep -q 'could not select device driver' <<<"$gpus_out" || fail "docker run --gpus all: unexpected message: $gpus_out"
  [ "$("$docker" ps -aq | wc -l)" = "$before" ] || fail "docker run --gpus all left a container behind"
  set +e
  out=$("$docker" run --rm --label "$id" "$image:gpu" run --device gpu --limit 2000 --epochs 1 2>&1)
  code=$?
  set -e
  [ "$code" = 2 ] || fail "the GPU image asked for a GPU it has not got: exit $code, want 2: $out"
  grep -q 'no GPU' <<<"$out" || fail "the GPU image asked for a GPU it has not got says: $out"
  log "docker run --gpus all says: $(grep -m1 'could not select device driver' <<<"$gpus_out")"
  log "tfsweep run --device gpu says: $(tail -n 1 <<<"$out")"
  pass "gpu flavour: --gpus without the toolkit fails with the engine's message (125); --device gpu says no GPU (2)"
  # Without a GPU (and without CUDA's libraries, on the local base) the GPU build of TensorFlow trains on the CPU.
  out=$("$docker" run --rm --label "$id" "$image:gpu" run --init xavier --batchnorm off --batch-size 128 \
    --limit 2000 --epochs 1 --json 2>"$work/gpu-run.err") ||
    { tail -n 20 "$work/gpu-run.err" >&2; fail "the GPU image without a GPU did not train"; }
  "$python" -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(not (r["status"] == "succeeded" and len(r["runs"]) == 1))' "$out" ||
    fail "the GPU image without a GPU: $out"
  pass "gpu flavour: without a GPU it trains on the CPU"
  timed "gpu flavour"
}

check_versions
check_docker_run
check_serve
check_stop_and_restart
check_compose
check_gpu_flavour
echo "$passed passed, 0 failed"
