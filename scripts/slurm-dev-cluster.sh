#!/usr/bin/env bash
# One-node Slurm cluster on this machine, for engine's tests and CI.
#
#   scripts/slurm-dev-cluster.sh up      install (if needed), configure, start; wait until the node is idle
#   scripts/slurm-dev-cluster.sh down    cancel all jobs, stop the daemons
#   scripts/slurm-dev-cluster.sh status  report daemons and node state; exit 0 if healthy, 1 otherwise
#
# Built from Debian 12's packages (Slurm 22.05) and run without systemd or
# cgroups: the daemons are started directly and tracked by their pid files.
# `up` is idempotent: on a healthy cluster with an unchanged config it does
# nothing; otherwise it repairs what is missing (packages, key, config,
# dead daemons, a drained or down node). Must run as root.
#
# Environment:
#   SLURM_DEV_TIMEOUT  seconds to wait for the node to become idle (default 60)
set -euo pipefail

readonly PACKAGES=(slurmctld slurmd slurm-client munge)
readonly CONF_DIR=/etc/slurm
readonly CONF=$CONF_DIR/slurm.conf
readonly MUNGE_KEY=/etc/munge/munge.key
readonly MUNGE_PID=/run/munge/munged.pid
readonly CTLD_PID=/run/slurmctld.pid
readonly SLURMD_PID=/run/slurmd.pid
readonly LOG_DIR=/var/log/slurm
readonly CTLD_SPOOL=/var/spool/slurmctld
readonly SLURMD_SPOOL=/var/spool/slurmd
readonly JOBCOMP_LOG=$LOG_DIR/jobcomp.log
readonly LOCK=/run/slurm-dev-cluster.lock
readonly TIMEOUT=${SLURM_DEV_TIMEOUT:-60}

usage() {
    cat <<EOF
usage: ${0##*/} up|down|status

  up      install missing packages, write munge key and slurm.conf, start
          munged, slurmctld and slurmd, wait until the node is idle
          (no-op when already healthy)
  down    cancel all jobs and stop the daemons (no-op when already down)
  status  print daemon and node state; exit 0 if healthy, 1 otherwise

environment: SLURM_DEV_TIMEOUT=<seconds> bring-up/shutdown timeout (default 60)
EOF
}

log() { printf 'slurm-dev-cluster: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

node_name() { hostname -s; }

# ---------------------------------------------------------------- processes

# Pid from a pid file if that process is alive and is the expected program
# (guards against a stale pid file whose pid was reused).
live_pid() {
    local file=$1 comm=$2 pid
    [[ -r $file ]] || return 1
    pid=$(<"$file") || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/comm && $(<"/proc/$pid/comm") == "$comm" ]] || return 1
    echo "$pid"
}

munge_ok() {
    live_pid "$MUNGE_PID" munged >/dev/null &&
        munge -n 2>/dev/null | unmunge >/dev/null 2>&1
}
slurmctld_ok() { live_pid "$CTLD_PID" slurmctld >/dev/null; }
slurmd_ok() { live_pid "$SLURMD_PID" slurmd >/dev/null; }

# Node state as sinfo prints it (e.g. idle, mixed, down*, drained), or empty.
node_state() {
    timeout 10 sinfo -h -N -n "$(node_name)" -o %T 2>/dev/null | head -n1 || true
}

# idle/mixed/allocated/completing without a flag suffix (* not responding,
# ~ powered off, # powering up, ! pending power down, % powering down, $ maintenance, @ reboot)
state_healthy() {
    [[ $1 =~ ^(idle|mixed|allocated|completing)$ ]]
}

stop_pid_file() {
    local file=$1 comm=$2 name=$3 pid i
    pid=$(live_pid "$file" "$comm") || { rm -f "$file"; return 0; }
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < TIMEOUT * 10; i++)); do
        [[ -d /proc/$pid ]] || { rm -f "$file"; return 0; }
        sleep 0.1
    done
    log "$name (pid $pid) ignored SIGTERM for ${TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
    [[ -d /proc/$pid ]] && die "could not stop $name (pid $pid)"
    rm -f "$file"
}

# ---------------------------------------------------------------- install

installed() {
    [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]
}

install_packages() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
    ((${#missing[@]})) || return 0
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Refresh the package lists only if they do not offer a package yet.
    for p in "${missing[@]}"; do
        if ! apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [^(]'; then
            apt-get update -qq
            break
        fi
    done
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
        { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
}

# ---------------------------------------------------------------- munge

setup_munge() {
    install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
    install -d -o munge -g munge -m 0755 /run/munge
    # Never replace an existing key: a running munged (and any other node
    # sharing it) would stop accepting our credentials.
    if [[ ! -s $MUNGE_KEY ]]; then
        log "creating $MUNGE_KEY"
        (umask 077 && head -c 1024 /dev/urandom >"$MUNGE_KEY")
    fi
    chown munge:munge "$MUNGE_KEY"
    chmod 0400 "$MUNGE_KEY"
}

start_munge() {
    munge_ok && return 0
    stop_pid_file "$MUNGE_PID" munged munged
    rm -f /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock
    log "starting munged"
    # 9>&-: daemons must not inherit the lock fd (see main), or they hold
    # the lock for their whole life and the next up/down blocks forever.
    runuser -u munge -- /usr/sbin/munged 9>&-
    local i
    for ((i = 0; i < 50; i++)); do
        munge_ok && return 0
        sleep 0.1
    done
    die "munged did not come up (see /var/log/munge/munged.log)"
}

# ---------------------------------------------------------------- slurm.conf

# "CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1" as
# slurmd detects this machine, so the node line matches the hardware.
node_topology() {
    local line field out=()
    line=$(slurmd -C | head -n1)
    for field in CPUs Boards SocketsPerBoard CoresPerSocket ThreadsPerCore; do
        [[ $line =~ (^|[[:space:]])$field=([0-9]+) ]] || die "slurmd -C did not report $field: $line"
        out+=("$field=${BASH_REMATCH[2]}")
    done
    echo "${out[*]}"
}

real_memory_mb() {
    local kb
    kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
    echo $((kb * 9 / 10 / 1024))
}

render_conf() {
    local node
    node=$(node_name)
    cat <<EOF
# Written by scripts/slurm-dev-cluster.sh; changes are overwritten by "up".
# One-node development cluster for engine's tests. No slurmdbd, no cgroups.
ClusterName=engine-dev
SlurmctldHost=$node(127.0.0.1)
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
# Daemons run as root: a throwaway dev cluster, no spool-ownership dance.
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$CTLD_SPOOL
SlurmdSpoolDir=$SLURMD_SPOOL
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log

# No cgroup delegation on these machines (containers, CI): track job
# processes by parent pid and do no CPU binding. --cpus-per-task is thus
# accounted for but not enforced.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none

# Allocate CPUs and memory separately so several jobs share the node.
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
# Without a default every job without --mem reserves the whole node's
# memory, and jobs run one at a time.
DefMemPerCPU=512
# Reject at submission (sbatch exits non-zero) a job the partition can never
# run, e.g. more CPUs than the node has; otherwise it pends forever.
EnforcePartLimits=ALL
# Kill a job whose dependency can never be satisfied (afterok on a failed
# job) instead of leaving it pending forever. Only honoured here, not in
# SchedulerParameters.
DependencyParameters=kill_invalid_depend
# Default batch_sched_delay delays job starts by up to 3 s.
SchedulerParameters=batch_sched_delay=0

# --mem is only enforced by polling job memory: an over-limit job is killed
# and ends FAILED with ExitCode 0:9.
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherParams=OverMemoryKill
JobAcctGatherFrequency=task=5
# No slurmdbd, so sacct does not work: keep one durable line per finished job.
JobCompType=jobcomp/filetxt
JobCompLoc=$JOBCOMP_LOG
# Finished jobs stay visible to squeue/scontrol for 10 minutes (default 5),
# enough for a poller to see the final state. Retained jobs count against
# MaxJobCount (default 10000), so raise it for large fan-outs.
MinJobAge=600
MaxJobCount=100000

# A node that went DOWN (e.g. slurmd restarted) returns to service as soon
# as it registers with a valid configuration.
ReturnToService=2
# Trust the node line below rather than the detected hardware, so a small
# mismatch does not drain the node.
SlurmdParameters=config_overrides
SlurmdTimeout=60
SlurmctldTimeout=60

# RealMemory is ~90% of MemTotal: declaring more than the machine has
# drains the node ("Low RealMemory").
NodeName=$node NodeAddr=127.0.0.1 $(node_topology) RealMemory=$(real_memory_mb) State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
}

# Writes slurm.conf; returns 0 if it changed, 1 if it was already current.
write_conf() {
    local new
    install -d -m 0755 "$CONF_DIR"
    new=$(render_conf)
    if [[ -r $CONF && $(<"$CONF") == "$new" ]]; then
        return 1
    fi
    log "writing $CONF"
    printf '%s\n' "$new" >"$CONF.tmp"
    mv "$CONF.tmp" "$CONF"
    return 0
}

# ---------------------------------------------------------------- slurm daemons

start_slurm() {
    install -d -m 0755 "$LOG_DIR" "$CTLD_SPOOL" "$SLURMD_SPOOL"
    touch "$JOBCOMP_LOG"
    if ! slurmctld_ok; then
        rm -f "$CTLD_PID"
        log "starting slurmctld"
        slurmctld 9>&- || die "slurmctld failed to start (see $LOG_DIR/slurmctld.log)"
    fi
    if ! slurmd_ok; then
        rm -f "$SLURMD_PID"
        log "starting slurmd"
        slurmd 9>&- || die "slurmd failed to start (see $LOG_DIR/slurmd.log)"
    fi
}

wait_idle() {
    local node state deadline resumed=0
    node=$(node_name)
    deadline=$((SECONDS + TIMEOUT))
    while ((SECONDS < deadline)); do
        state=$(node_state)
        state_healthy "$state" && { log "node $node is $state"; return 0; }
        slurmctld_ok || die "slurmctld died (see $LOG_DIR/slurmctld.log)"
        slurmd_ok || die "slurmd died (see $LOG_DIR/slurmd.log)"
        # drained/drain/down without '*': the controller hears slurmd but
        # keeps the node out of service (left over from an earlier run);
        # put it back. 'down*' only means slurmd has not registered yet.
        if ((!resumed)) && [[ $state =~ ^(down|drain|drained|draining|fail)$ ]]; then
            log "node $node is $state; resuming"
            scontrol update nodename="$node" state=resume 2>/dev/null || true
            resumed=1
        fi
        sleep 0.2
    done
    log "error: node $node not idle after ${TIMEOUT}s (state: ${state:-unknown})"
    timeout 10 sinfo -N -n "$node" -o '%N %T %E' >&2 || true
    tail -n 5 "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log" >&2 2>/dev/null || true
    exit 1
}

# ---------------------------------------------------------------- commands

healthy() {
    munge_ok && slurmctld_ok && slurmd_ok && state_healthy "$(node_state)"
}

cmd_up() {
    [[ $EUID -eq 0 ]] || die "must run as root"
    local changed=0
    if installed slurmctld && installed slurmd && installed slurm-client && installed munge &&
        [[ -r $CONF && -s $MUNGE_KEY ]]; then
        write_conf && changed=1
        if ((!changed)) && healthy; then
            log "already up"
            return 0
        fi
    else
        install_packages
        write_conf && changed=1
    fi
    setup_munge
    # A changed config needs a restart of both daemons (a reconfigure does
    # not pick up node or select-plugin changes).
    if ((changed)); then
        stop_pid_file "$SLURMD_PID" slurmd slurmd
        stop_pid_file "$CTLD_PID" slurmctld slurmctld
    fi
    start_munge
    start_slurm
    wait_idle
}

cmd_down() {
    [[ $EUID -eq 0 ]] || die "must run as root"
    local i
    if slurmctld_ok; then
        # Job processes outlive slurmd, so cancel them while slurmd can
        # still signal them, then give them a moment to exit.
        if [[ -n $(timeout 10 squeue -h -o %i 2>/dev/null) ]]; then
            log "cancelling all jobs"
            timeout 10 squeue -h -o %i 2>/dev/null | xargs -r timeout 10 scancel >/dev/null 2>&1 || true
            for ((i = 0; i < TIMEOUT * 5; i++)); do
                [[ -z $(timeout 10 squeue -h -t running,completing,pending -o %i 2>/dev/null) ]] && break
                sleep 0.2
            done
        fi
    fi
    stop_pid_file "$SLURMD_PID" slurmd slurmd
    stop_pid_file "$CTLD_PID" slurmctld slurmctld
    stop_pid_file "$MUNGE_PID" munged munged
    # Wait for job steps that were still finishing when slurmd stopped.
    for ((i = 0; i < TIMEOUT * 5; i++)); do
        pgrep -x slurmstepd >/dev/null || break
        sleep 0.2
    done
    pgrep -x slurmstepd >/dev/null && log "warning: slurmstepd processes still running"
    log "down"
}

cmd_status() {
    local ok=0 name state
    for name in munge slurmctld slurmd; do
        if "${name}_ok"; then
            printf '%-10s running\n' "$name"
        else
            printf '%-10s stopped\n' "$name"
            ok=1
        fi
    done
    state=""
    if command -v sinfo >/dev/null && slurmctld_ok; then state=$(node_state); fi
    printf '%-10s %s\n' node "${state:-unknown}"
    state_healthy "$state" || ok=1
    return "$ok"
}

main() {
    (($# == 1)) || { usage >&2; exit 2; }
    case $1 in
        up | down)
            # Serialise concurrent up/down (parallel CI jobs).
            exec 9>"$LOCK"
            flock 9
            "cmd_$1"
            ;;
        status) cmd_status ;;
        -h | --help | help) usage ;;
        *) usage >&2; exit 2 ;;
    esac
}

main "$@"
