#!/usr/bin/env bash
# A real one-node Slurm cluster on this machine, for the tests and for trying deploy/slurm/ by hand.
#
#   scripts/setup-slurm.sh [start]   install (only if missing), configure and start; idempotent
#   scripts/setup-slurm.sh stop      stop the daemons this script started (scripts/slurm-down.sh does the same)
#   scripts/setup-slurm.sh status    exit 0 when munged, slurmctld and slurmd run and the node takes jobs
#   scripts/setup-slurm.sh env       print `export SLURM_CONF=...`: eval it before sbatch, squeue, scancel ...
#
# Needs root (apt-get, and slurmd runs jobs as any user). Installs Debian's slurmctld, slurmd, slurm-client and
# munge; runs `apt-get update` first only when one of them is missing. Nothing under /etc is configured or
# started: a private munged (own key and socket), slurmctld and slurmd run from $TFSWEEP_SLURM_DIR
# (default /var/lib/tfsweep-slurm) on their own ports (TFSWEEP_SLURM_PORT, default 16817, and the next one), so
# a system Slurm or munge on the same machine is never touched. No systemd and no cgroups are needed
# (proctrack/linuxproc, task/none). A second call with everything running returns at once.
# Prints nothing on stdout (but for `env`); short status lines and errors go to stderr.
set -euo pipefail

cmd=${1:-start}
dir=${TFSWEEP_SLURM_DIR:-/var/lib/tfsweep-slurm}
port=${TFSWEEP_SLURM_PORT:-16817}
packages=(slurmctld slurmd slurm-client munge)

log() { printf 'setup-slurm: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

conf=$dir/etc/slurm.conf
mungedir=$dir/munge        # key, seed, log and pid: the munge user's, mode 0700
mungesock=$dir/munge-run/munge.socket.2
export SLURM_CONF=$conf

# is_daemon PID NAME: PID runs the program NAME (and is no zombie).
is_daemon() {
  [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# alive PIDFILE: the daemon named in PIDFILE is running: that pid is alive and is the program the file is
# named for (munged.pid: munged), so a stale file whose pid was reused by another process never counts.
alive() { [ -s "$1" ] && is_daemon "$(cat "$1")" "$(basename "$1" .pid)"; }

node_state() { sinfo -h -N -n "$node" -o %t 2>/dev/null | head -n1; }

running() {
  alive "$mungedir/munged.pid" && alive "$dir/run/slurmctld.pid" && alive "$dir/run/slurmd.pid" &&
    case $(node_state) in idle | mix | alloc | comp) true ;; *) false ;; esac
}

stop() {
  local f pid name i
  for f in "$dir/run/slurmd.pid" "$dir/run/slurmctld.pid" "$mungedir/munged.pid"; do
    if alive "$f"; then
      # Wait on the pid itself: a daemon may remove its pid file before it has exited.
      pid=$(cat "$f")
      name=$(basename "$f" .pid)
      kill "$pid" 2>/dev/null || true
      for ((i = 0; i < 100; i++)); do is_daemon "$pid" "$name" || break; sleep 0.1; done
      if is_daemon "$pid" "$name"; then kill -9 "$pid" 2>/dev/null || true; fi
    fi
    rm -f "$f"
  done
}

install_packages() {
  local missing=() p
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "needs root to install ${missing[*]}"
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  local out
  out=$(mktemp)
  # apt's chatter (debconf notes included) is shown only when a step fails.
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$out" 2>&1; then
    cat "$out" >&2
    rm -f "$out"
    die "apt-get install ${missing[*]} failed"
  fi
  rm -f "$out"
}

# The whole configuration as one text, so that a change (host name, CPUs, port) is seen and applied.
render_conf() {
  cat <<EOF
# Written by scripts/setup-slurm.sh: a one-node test cluster. Edits are overwritten.
ClusterName=tfsweep
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire: a requeued job waits cred_expire+1 s before it may start again (121 s by default).
AuthInfo=socket=$mungesock,cred_expire=10
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/slurmd
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
# Look for startable jobs every 2 s (defaults 60 and 30 s): a requeued task restarts as soon as it may.
SchedulerParameters=sched_interval=2,bf_interval=2
ReturnToService=2
JobRequeue=1
KillWait=5
MinJobAge=600
SlurmdTimeout=60
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munged() {
  alive "$mungedir/munged.pid" && return 0
  install -d -o munge -g munge -m 0700 "$mungedir"
  install -d -o munge -g munge -m 0755 "$dir/munge-run"
  if [ ! -s "$mungedir/munge.key" ]; then
    dd if=/dev/urandom bs=1 count=1024 of="$mungedir/munge.key" status=none
    chown munge:munge "$mungedir/munge.key"
    chmod 0400 "$mungedir/munge.key"
  fi
  runuser -u munge -- munged --key-file="$mungedir/munge.key" --socket="$mungesock" \
    --pid-file="$mungedir/munged.pid" --log-file="$mungedir/munged.log" --seed-file="$mungedir/munged.seed" ||
    die "munged did not start (see $mungedir/munged.log)"
}

wait_for() { # SECONDS WHAT COMMAND...: run COMMAND every 0.2 s until it succeeds
  local secs=$1 what=$2 i f
  shift 2
  for ((i = 0; i < secs * 5; i++)); do "$@" && return 0; sleep 0.2; done
  # The daemons' last error lines say why (a port in use, a bad key, ...).
  for f in "$dir"/log/*.log "$mungedir/munged.log"; do
    if [ -f "$f" ]; then grep -hE 'error|fatal|Error' "$f" | tail -n 3 | sed "s|^|  ${f##*/}: |" >&2 || true; fi
  done
  die "$what not ready after ${secs}s (logs in $dir/log)"
}

ctld_up() { scontrol ping 2>/dev/null | grep -q 'is UP'; }

node_up() { case $(node_state) in idle | mix | alloc | comp) true ;; *) false ;; esac; }

start() {
  install_packages
  node=$(hostname -s)
  cpus=$(nproc)
  local want
  want=$(render_conf)
  if [ -f "$conf" ] && [ "$(cat "$conf")" = "$want" ] && running; then
    return 0
  fi
  [ "$(id -u)" = 0 ] || die "needs root to start slurmctld and slurmd"
  install -d -m 0755 "$dir" "$dir/etc" "$dir/state" "$dir/spool/slurmd" "$dir/run" "$dir/log"
  if [ ! -f "$conf" ] || [ "$(cat "$conf")" != "$want" ]; then
    stop
    # A new configuration starts from clean state: slurmctld refuses a state directory of another cluster.
    rm -rf "${dir:?}/state" "${dir:?}/spool/slurmd"
    install -d -m 0755 "$dir/state" "$dir/spool/slurmd"
    printf '%s\n' "$want" >"$conf"
  fi
  start_munged
  wait_for 10 munged test -S "$mungesock"
  if ! alive "$dir/run/slurmctld.pid"; then
    slurmctld -f "$conf" || die "slurmctld did not start (see $dir/log/slurmctld.log)"
  fi
  wait_for 20 slurmctld ctld_up
  if ! alive "$dir/run/slurmd.pid"; then
    slurmd -f "$conf" -N "$node" || die "slurmd did not start (see $dir/log/slurmd.log)"
  fi
  # A node that an earlier run left DOWN or DRAINED (a killed slurmd, say) is put back in service.
  local state
  state=$(node_state)
  case $state in
    down* | drain* | fail*) scontrol update NodeName="$node" State=RESUME >/dev/null 2>&1 || true ;;
  esac
  wait_for 30 "node $node" node_up
  log "running: $(sinfo -h -o '%P %D %t' | head -n1) (SLURM_CONF=$conf)"
}

case $cmd in
  start) start ;;
  stop) stop ;;
  status)
    node=$(hostname -s)
    running
    ;;
  env) printf 'export SLURM_CONF=%q\n' "$conf" ;;
  -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) die "unknown command '$cmd' (start, stop, status, env)" ;;
esac
