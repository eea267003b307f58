#!/usr/bin/env bash
# CI stage for real Docker: make sure an engine answers, run `make e2e-docker`, clean up.
#
# Installs docker.io, busybox-static and python3 when missing. Uses the engine that already answers
# `docker info`; otherwise starts dockerd itself, trying the flags this kind of machine may
# need (overlay2 then vfs storage; then no iptables/bridge, which every scenario tolerates
# because they use --network none or host), and stops that dockerd again on exit.
#
# When no engine can run here it prints `SKIP docker e2e: …` with the reason and exits 0,
# so CI on a machine without Docker support stays green but says so; set
# DRINIT_E2E_REQUIRED=1 to make that a failure (exit 1) instead. DRINIT_DOCKERD_FLAGS
# replaces the list of flag sets to try with one (e.g. "--storage-driver=vfs").
set -euo pipefail
cd "$(dirname "$0")/.."

START_TIMEOUT=${DRINIT_DOCKERD_TIMEOUT:-60}
LOG_DIR=$(mktemp -d /tmp/drinit-dockerd.XXXXXX)
DOCKERD_PID=

KEEP_LOGS=0

skip() {
    KEEP_LOGS=1
    echo "SKIP docker e2e: $1"
    [ "${DRINIT_E2E_REQUIRED:-0}" = 1 ] && exit 1
    exit 0
}

stop_dockerd() {
    [ -n "$DOCKERD_PID" ] || return 0
    local pid=$DOCKERD_PID containerd_pid=
    DOCKERD_PID=
    containerd_pid=$(cat /var/run/docker/containerd/containerd.pid 2>/dev/null || true)
    kill -TERM "$pid" 2>/dev/null || return 0
    # dockerd stops its containers and its containerd on TERM; that can take a while.
    local i
    for i in $(seq 1 150); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "docker.sh: dockerd $pid ignored TERM for 30 s; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
        # Its containerd would outlive it: that one was started by our dockerd too.
        [ -n "$containerd_pid" ] && kill -TERM "$containerd_pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}
# The dockerd logs are kept when something went wrong, for the messages that point at them.
finish() {
    local rc=$?
    stop_dockerd
    [ $rc = 0 ] && [ $KEEP_LOGS = 0 ] && rm -rf "$LOG_DIR"
    return $rc
}
trap finish EXIT
trap 'exit 130' INT TERM

# --- packages --------------------------------------------------------------------------

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v docker >/dev/null 2>&1 || need+=(docker.io)
file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' || need+=(busybox-static)
command -v file >/dev/null 2>&1 || need+=(file)
# The README's Dockerfiles are extracted and checked by tests/docker/readme_dockerfiles.py.
command -v python3 >/dev/null 2>&1 || need+=(python3)
if ((${#need[@]})); then
    echo "docker.sh: installing ${need[*]}"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"; } \
        >"$LOG_DIR/apt.log" 2>&1; then
        skip "could not install ${need[*]}: $(tail -3 "$LOG_DIR/apt.log" | tr '\n' ' ')"
    fi
fi

# --- engine ----------------------------------------------------------------------------

# why_failed LOG...: the lines of dockerd logs that say why it did not start.
why_failed() {
    local lines
    lines=$(grep -hiE 'level=(fatal|error)|^failed' "$@" 2>/dev/null | tail -n 3)
    [ -n "$lines" ] || lines=$(tail -q -n 2 "$@" 2>/dev/null)
    echo "$lines" | tr '\n' ' ' | cut -c1-800
}

engine_answers() { timeout 10 docker info >/dev/null 2>&1; }

# try_dockerd NAME FLAGS...: starts dockerd; 0 once `docker info` answers, else stops it.
try_dockerd() {
    local name=$1
    shift
    local log=$LOG_DIR/dockerd-$name.log
    echo "docker.sh: starting dockerd ${*:-(default flags)}; log $log"
    dockerd "$@" >"$log" 2>&1 &
    DOCKERD_PID=$!
    local deadline=$((SECONDS + START_TIMEOUT))
    while [ $SECONDS -lt $deadline ]; do
        if ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
            echo "docker.sh: dockerd ${*:-(default flags)} exited: $(why_failed "$log")"
            wait "$DOCKERD_PID" 2>/dev/null || true
            DOCKERD_PID=
            return 1
        fi
        engine_answers && return 0
        sleep 1
    done
    echo "docker.sh: dockerd ${*:-(default flags)} did not answer in $START_TIMEOUT s"
    stop_dockerd
    return 1
}

if engine_answers; then
    echo "docker.sh: using the running engine ($(docker info -f '{{.ServerVersion}}, storage {{.Driver}}' 2>/dev/null))"
else
    [ $(id -u) = 0 ] || skip "no engine answers and starting dockerd needs root"
    # A stale pidfile or socket from an engine that died would stop a new one starting.
    if [ -e /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
        rm -f /var/run/docker.pid
    fi
    if [ -n "${DRINIT_DOCKERD_FLAGS:-}" ]; then
        # shellcheck disable=SC2086 # word splitting is the point: a list of flags
        try_dockerd custom $DRINIT_DOCKERD_FLAGS \
            || skip "dockerd $DRINIT_DOCKERD_FLAGS does not run here (log $LOG_DIR/dockerd-custom.log): $(why_failed "$LOG_DIR"/dockerd-custom.log)"
    else
        try_dockerd default \
            || try_dockerd vfs --storage-driver=vfs \
            || try_dockerd vfs-nonet --storage-driver=vfs --iptables=false --ip-masq=false --bridge=none \
            || skip "dockerd does not run here (logs in $LOG_DIR): $(why_failed "$LOG_DIR"/dockerd-*.log)"
    fi
    echo "docker.sh: dockerd $DOCKERD_PID answers ($(docker info -f '{{.ServerVersion}}, storage {{.Driver}}' 2>/dev/null))"
fi

# Not exec: the trap has to stop our dockerd afterwards.
make e2e-docker
