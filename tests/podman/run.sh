#!/usr/bin/env bash
# drinit against podman, a second real engine: `bash tests/podman/run.sh RELEASE_DIR`
# (make e2e-podman; .ci/podman.sh installs podman first).
#
# Rootful podman, `--network none`, images built FROM scratch out of local files only
# (static drinit + Debian's busybox-static), so no registry is needed. Prints `PASS name` /
# `FAIL name: reason` per scenario and `SKIP name: reason` for what cannot run on this
# machine, then `N passed, M failed`; exits 1 if any failed. When podman itself cannot run
# here it prints `SKIP podman e2e: reason` and exits 0 (1 with DRINIT_E2E_REQUIRED=1).
#
# What this kind of machine needs, found by trying (and said in the README):
# - `--ulimit nofile=20000:20000 --ulimit nproc=4096:4096` on every container: podman's
#   default rlimits are higher than the sandbox allows (runc: "error setting rlimits").
# - crun, podman's default runtime, refuses a hybrid cgroup layout whose v2 hierarchy has
#   controllers ("cgroups in hybrid mode not supported"): then runc is used.
# - No systemd: podman cannot start health-check timers, so `podman healthcheck run` is run
#   by hand, as the timer would.
# Everything created carries the label drinit-e2e=$RUN or the name prefix drinit-e2e-$RUN
# and is removed on exit (podman's own infra image for pods, localhost/podman-pause, stays).
set -uo pipefail

. "$(dirname "$0")/../e2e.sh" "$@"
NAME=drinit-e2e-$RUN
# Local images need the localhost/ prefix: podman resolves short names through registries.
PREFIX=localhost/$NAME
WORK=$(mktemp -d /tmp/drinit-podman-e2e.XXXXXX)
LIMITS=(--ulimit nofile=20000:20000 --ulimit nproc=4096:4096)
POD=
LISTENER_PID=

skip_all() {
    echo "SKIP podman e2e: $1"
    rm -rf "$WORK"
    [ "${DRINIT_E2E_REQUIRED:-0}" = 1 ] && exit 1
    exit 0
}

command -v podman >/dev/null 2>&1 || skip_all "podman not found (apt-get install podman; .ci/podman.sh does)"
[ "$(id -u)" = 0 ] || skip_all "the scenarios use rootful podman: run as root"
require_static_busybox

# --- helpers ---------------------------------------------------------------------------

PODMAN=(podman)
p() { timeout 120 "${PODMAN[@]}" "$@"; }

cleanup() {
    [ -n "$LISTENER_PID" ] && kill "$LISTENER_PID" 2>/dev/null
    [ -n "$POD" ] && p pod rm -f -t 0 "$POD" >/dev/null 2>&1
    local ids
    ids=$(p ps -aq --filter "label=$LABEL" 2>/dev/null)
    [ -n "$ids" ] && p rm -f -t 0 $ids >/dev/null 2>&1
    local round
    for round in 1 2 3 4; do
        ids=$(p images -q --filter "label=$LABEL" 2>/dev/null | sort -u)
        [ -z "$ids" ] && break
        p rmi -f $ids >/dev/null 2>&1
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cname() { echo "$NAME-$1"; }
# run_c NAME [podman run options...] IMAGE [args...]: a detached, labelled container.
run_c() {
    local name=$1
    shift
    p run -d --label "$LABEL" --name "$(cname "$name")" --network none "${LIMITS[@]}" "$@" >/dev/null
}
field() { p inspect -f "$2" "$1" 2>/dev/null; }
is_running() { [ "$(field "$1" '{{.State.Running}}')" = true ]; }
not_running() { ! is_running "$1"; }
health_is() { [ "$(field "$1" '{{.State.Health.Status}}')" = "$2" ]; }
exit_code() { field "$1" '{{.State.ExitCode}}'; }
ctl() { local c=$1; shift; p exec "$c" /drinitctl "$@"; }
logs_tail() { p logs --tail 5 "$1" 2>&1 | grep -v 'level=error msg="unable to get systemd' | tr '\n' '|' | cut -c1-300; }
# podman logs a systemd error for every health-check timer it cannot create; not ours.
quiet() { grep -v 'systemd connection to' >&2; }
healthcheck() { p healthcheck run "$1" >/dev/null 2> >(quiet); }

# build NAME CONTEXT [options...]: image $PREFIX-NAME, Docker format so HEALTHCHECK is kept.
build() {
    local name=$1 ctx=$2
    shift 2
    if ! p build -q --format docker --network none "${LIMITS[@]}" --label "$LABEL" -t "$PREFIX-$name" "$@" "$ctx" \
        >"$WORK/build-$name.log" 2>&1; then
        echo "build of $name failed:" >&2
        cat "$WORK/build-$name.log" >&2
        return 1
    fi
}

# --- engine ----------------------------------------------------------------------------

ctx=$WORK/ctx
mkdir -p "$ctx"
cp "$ROOT"/tests/docker/Dockerfile.* "$ROOT"/tests/docker/*.sh "$ctx"/
rm -f "$ctx/run.sh"
cp "$DRINIT" "$ctx/drinit"
cp "$BUSYBOX" "$ctx/busybox"
printf 'FROM scratch\nCOPY busybox /bin/busybox\n' >"$ctx/Dockerfile.probe"

# Which runtime runs a container here: podman's default (crun), else runc.
build probe "$ctx" -f "$ctx/Dockerfile.probe" || skip_all "podman cannot build an image here: $(tail -2 "$WORK/build-probe.log" | tr '\n' ' ')"
runtime_works() { p "$@" run --rm --network none "${LIMITS[@]}" "$PREFIX-probe" /bin/busybox true >"$WORK/runtime.log" 2>&1; }
if runtime_works; then
    runtime=default
elif command -v runc >/dev/null && runtime_works --runtime runc; then
    runtime=runc
    PODMAN+=(--runtime runc)
else
    skip_all "podman cannot run a container here: $(tail -2 "$WORK/runtime.log" | tr '\n' ' ')"
fi

images_ok=1
build base "$ctx" -f "$ctx/Dockerfile.base" || images_ok=0
build health "$ctx" -f "$ctx/Dockerfile.health" --build-arg "BASE=$PREFIX-base" || images_ok=0
kube_ctx=$WORK/kube
mkdir -p "$kube_ctx"
cp -p "$ROOT"/examples/kubernetes/* "$kube_ctx"/
cp "$DRINIT" "$kube_ctx/drinit"
cp "$BUSYBOX" "$kube_ctx/busybox"
build kube "$kube_ctx" || images_ok=0
if [ $images_ok = 0 ]; then
    fail images "could not build the test images (see above)"
    echo "$PASSED passed, $FAILED failed"
    exit 1
fi

# --- scenarios -------------------------------------------------------------------------

# drinit as the image's ENTRYPOINT: exit codes pass through, `podman stop` reaches the program.
s_entrypoint() {
    local bad= code c t0 t
    for code in 0 3; do
        p run --rm --label "$LABEL" --network none "${LIMITS[@]}" "$PREFIX-base" sh -c "exit $code" >/dev/null 2>&1
        local got=$?
        [ "$got" = "$code" ] || bad="$bad sh -c 'exit $code' gave $got;"
    done
    c=$(cname stop)
    run_c stop "$PREFIX-base" sh -c 'trap "exit 42" TERM; sleep 100000 & wait' || bad="$bad run failed;"
    wait_until 10 is_running "$c" || bad="$bad never ran: $(logs_tail "$c");"
    sleep 0.5
    t0=$(now_ms)
    p stop "$c" >/dev/null
    t=$(( $(now_ms) - t0 ))
    code=$(exit_code "$c")
    [ "$code" = 42 ] || bad="$bad podman stop: exit $code, want 42;"
    [ $t -lt 5000 ] || bad="$bad podman stop took ${t} ms;"
    verdict podman-entrypoint "$bad" "exit codes 0 and 3 pass through; podman stop took ${t} ms, exit 42"
}

# Health: `--health-cmd` and the image's own HEALTHCHECK, both answered by `drinitctl health`,
# run by hand (`podman healthcheck run`) since there is no systemd timer here.
s_healthcheck() {
    local bad= c
    c=$(cname hc)
    run_c hc --health-cmd '["/drinitctl", "health"]' --health-interval 1s --health-retries 1 "$PREFIX-base" \
        2> >(quiet) || { fail podman-healthcheck "run failed"; return; }
    wait_until 10 is_running "$c" || { fail podman-healthcheck "never ran: $(logs_tail "$c")"; return; }
    wait_until 10 healthcheck "$c" || bad="$bad healthcheck run never passed: $(ctl "$c" status 2>&1 | tr '\n' ' ');"
    health_is "$c" healthy || bad="$bad status $(field "$c" '{{.State.Health.Status}}') after a passing check;"
    ctl "$c" stop >/dev/null || bad="$bad drinitctl stop failed;"
    healthcheck "$c" && bad="$bad healthcheck run passed with the program stopped;"
    health_is "$c" unhealthy || bad="$bad status $(field "$c" '{{.State.Health.Status}}') with the program stopped;"
    is_running "$c" || bad="$bad container exited after drinitctl stop;"
    ctl "$c" start >/dev/null || bad="$bad drinitctl start failed;"
    wait_until 10 healthcheck "$c" || bad="$bad not healthy after drinitctl start;"
    health_is "$c" healthy || bad="$bad status $(field "$c" '{{.State.Health.Status}}') after start;"
    # The image's HEALTHCHECK instruction (tests/docker/Dockerfile.health), kept by --format docker.
    local h
    h=$(cname hc-image)
    run_c hc-image "$PREFIX-health" 2> >(quiet) || bad="$bad run of the HEALTHCHECK image failed;"
    case $(field "$h" '{{json .Config.Healthcheck.Test}}') in
        *drinitctl*health*) ;;
        *) bad="$bad the image's HEALTHCHECK is not in the container: $(field "$h" '{{json .Config.Healthcheck}}');";;
    esac
    wait_until 10 healthcheck "$h" || bad="$bad the image's HEALTHCHECK never passed;"
    [ -z "$bad" ] && pass podman-healthcheck || fail podman-healthcheck "$bad"
}

# `podman run --init --init-path drinit` over an image whose ENTRYPOINT is drinit too: the
# container runs, and drinitctl reaches the inner drinit, the one running the user's program.
s_init_nested() {
    local bad= c pid1 pid cmdline code t0 t
    c=$(cname init)
    run_c init --init --init-path "$DRINIT" "$PREFIX-base" sh -c 'trap "exit 42" TERM; sleep 100000 & wait' \
        || { fail podman-init-nested "run failed"; return; }
    sleep 2
    if ! is_running "$c"; then
        fail podman-init-nested "container exited $(exit_code "$c"): $(logs_tail "$c")"
        return
    fi
    pid1=$(p exec "$c" cat /proc/1/cmdline 2>/dev/null | tr '\0' ' ')
    case $pid1 in
        /run/podman-init\ --\ /drinit\ --\ sh*) ;;
        *) bad="$bad PID 1 is '$pid1', want /run/podman-init -- /drinit -- sh ...;";;
    esac
    pid=$(json_num "$c" pid)
    cmdline=$(p exec "$c" cat "/proc/${pid:-0}/cmdline" 2>/dev/null | tr '\0' ' ')
    case $cmdline in
        sh\ -c\ trap*) ;;
        *) bad="$bad drinitctl status names pid '$pid' ('$cmdline'), not the user's program;";;
    esac
    [ "$(json_str "$c" state)" = running ] || bad="$bad state '$(json_str "$c" state)';"
    t0=$(now_ms)
    p stop "$c" >/dev/null
    t=$(( $(now_ms) - t0 ))
    code=$(exit_code "$c")
    [ "$code" = 42 ] || bad="$bad podman stop: exit $code, want 42;"
    [ $t -lt 5000 ] || bad="$bad podman stop took ${t} ms;"
    verdict podman-init-nested "$bad" "PID 1: $pid1; drinitctl reaches the inner drinit, program pid $pid; podman stop ${t} ms"
}

# `--sdnotify=container`: podman hands the container NOTIFY_SOCKET and passes what arrives
# there on to its own NOTIFY_SOCKET (here a listener of ours); drinit sends READY=1.
s_sdnotify() {
    local sock=$WORK/notify.sock log=$WORK/notify.log c
    c=$(cname notify)
    python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
    print(s.recv(4096).decode(errors="replace").replace("\n", " "), flush=True)
' "$sock" >"$log" 2>&1 &
    LISTENER_PID=$!
    wait_until 5 test -S "$sock" || { fail podman-sdnotify "the test's listener did not start: $(cat "$log")"; return; }
    NOTIFY_SOCKET=$sock run_c notify --sdnotify=container "$PREFIX-base" sleep 100000 || { fail podman-sdnotify "run failed"; return; }
    if ! wait_until 10 grep -q MAINPID "$log"; then
        skip podman-sdnotify "podman passed nothing from --sdnotify=container to NOTIFY_SOCKET (no MAINPID in 10 s)"
    elif wait_until 20 grep -q 'READY=1' "$log"; then
        p stop -t 5 "$c" >/dev/null
        local stopping=no
        wait_until 5 grep -q 'STOPPING=1' "$log" && stopping=yes
        pass podman-sdnotify
        echo "  (received: $(tr '\n' ';' <"$log" | cut -c1-200); STOPPING=1 after podman stop: $stopping)"
    else
        fail podman-sdnotify "no READY=1 from drinit in 20 s; received: $(tr '\n' ';' <"$log" | cut -c1-200)"
    fi
    kill "$LISTENER_PID" 2>/dev/null
    LISTENER_PID=
}

# examples/kubernetes/pod.yaml with `podman kube play`: the liveness probe (podman turns it
# into a health check) and the readiness command answer from drinit, and a stop as the
# kubelet does it (TERM, terminationGracePeriodSeconds) drains for --stop-delay, then stops
# the program inside the budget.
s_kube() {
    local manifest=$WORK/pod.yaml bad= c
    POD=$NAME-pod
    c=$POD-web
    sed -e "s|image: .*|image: $PREFIX-kube:latest|" -e "s|^  name: .*|  name: $POD|" \
        "$ROOT/examples/kubernetes/pod.yaml" >"$manifest"
    local tgps delay grace
    tgps=$(sed -n 's/^ *terminationGracePeriodSeconds: *\([0-9]*\).*/\1/p' "$manifest")
    delay=$(tr -d '\n' <"$manifest" | sed -n 's/.*"--stop-delay", *"\([0-9]*\)".*/\1/p')
    grace=$(tr -d '\n' <"$manifest" | sed -n 's/.*"--grace", *"\([0-9]*\)".*/\1/p')
    if [ -z "$tgps" ] || [ -z "$delay" ] || [ -z "$grace" ]; then
        fail podman-kube "pod.yaml lacks terminationGracePeriodSeconds, --stop-delay or --grace"
        return
    fi
    [ $((delay + grace)) -lt "$tgps" ] || bad="$bad --stop-delay $delay + --grace $grace does not fit terminationGracePeriodSeconds $tgps;"
    # kube play has no --ulimit and no --runtime: both through a containers.conf of our own.
    local conf=$WORK/containers.conf
    {
        echo '[containers]'
        echo 'default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]'
        [ "$runtime" = runc ] && printf '[engine]\nruntime = "runc"\n'
    } >"$conf"
    if ! CONTAINERS_CONF=$conf p kube play --network none "$manifest" >"$WORK/kube.log" 2>&1; then
        fail podman-kube "kube play failed: $(grep -v 'systemd connection' "$WORK/kube.log" | tail -3 | tr '\n' '|')"
        return
    fi
    wait_until 20 is_running "$c" || { fail podman-kube "container never ran: $(logs_tail "$c")"; return; }
    case $(field "$c" '{{json .Config.Healthcheck.Test}}') in
        *drinitctl*health*) ;;
        *) bad="$bad livenessProbe did not become the health check: $(field "$c" '{{json .Config.Healthcheck}}');";;
    esac
    # Readiness as the kubelet would ask it (podman does not run readinessProbe itself).
    wait_until 30 ctl "$c" ready >/dev/null 2>&1 || bad="$bad drinitctl ready never answered 0: $(ctl "$c" ready 2>&1 | head -1);"
    healthcheck "$c" || bad="$bad liveness (podman healthcheck run) failed: $(ctl "$c" status 2>&1 | tr '\n' ' ');"
    local stop_timeout
    stop_timeout=$(field "$c" '{{.Config.StopTimeout}}')
    if [ "$stop_timeout" != "$tgps" ]; then
        skip podman-kube-grace-period "podman $(podman --version | cut -d' ' -f3) does not apply terminationGracePeriodSeconds $tgps (the container's stop timeout is $stop_timeout s); the stop below passes -t $tgps as the kubelet would"
    fi
    [ -n "$bad" ] && { fail podman-kube "$bad"; return; }
    # The kubelet's stop: TERM, then SIGKILL after terminationGracePeriodSeconds. podman
    # refuses `exec` into a container that is stopping, so the drain shows in drinit's log
    # line and in the time the stop takes (tests/*.rs show `ready` failing during it).
    local t0 t
    t0=$(now_ms)
    p pod stop -t "$tgps" "$POD" >"$WORK/pod-stop.log" 2>&1
    t=$(( $(now_ms) - t0 ))
    local code
    code=$(exit_code "$c")
    case $(p logs "$c" 2>&1) in *draining*) ;; *) bad="$bad no 'draining' line from drinit in the logs;" ;; esac
    [ $t -ge $((delay * 1000)) ] || bad="$bad the stop took ${t} ms, less than --stop-delay $delay s;"
    [ $t -lt $((tgps * 1000)) ] || bad="$bad the stop took ${t} ms, the whole grace period;"
    [ "$code" != 137 ] || bad="$bad the container was SIGKILLed (137);"
    if [ -z "$bad" ]; then
        pass podman-kube
        echo "  (ready and live; the stop drained ${delay} s and took ${t} ms of terminationGracePeriodSeconds ${tgps}; exit $code)"
    else
        fail podman-kube "$bad (logs: $(logs_tail "$c"))"
    fi
    p pod rm -f -t 0 "$POD" >/dev/null 2>&1 && POD=
}

# Every ```dockerfile block of README.md builds and starts under podman too.
s_readme_dockerfiles() {
    local status name reason n=0 bad=0
    while read -r status name reason; do
        n=$((n + 1))
        [ "$status" = ok ] || { bad=$((bad + 1)); fail "podman-readme-dockerfiles ($name)" "$reason"; }
    done < <(python3 "$ROOT/tests/docker/readme_dockerfiles.py" --engine "${PODMAN[*]}" --readme "$ROOT/README.md" \
        --drinit "$DRINIT" --busybox "$BUSYBOX" --base "$PREFIX-base" --work "$WORK/readme" \
        --prefix "$PREFIX" --label "$LABEL" --build-flag=--format=docker \
        --build-flag=--ulimit=nofile=20000:20000 --build-flag=--ulimit=nproc=4096:4096 \
        --run-flag=--ulimit=nofile=20000:20000 --run-flag=--ulimit=nproc=4096:4096)
    if [ $n = 0 ]; then
        fail podman-readme-dockerfiles "readme_dockerfiles.py reported nothing"
    elif [ $bad = 0 ]; then
        pass podman-readme-dockerfiles
        echo "  ($n Dockerfiles from README.md built and started)"
    fi
}

echo "engine: $(podman --version), runtime $runtime$([ "$runtime" = runc ] && echo ' (crun cannot run containers here)'); $("$DRINIT" --version)"
started=$(now_ms)
s_entrypoint
s_healthcheck
s_init_nested
if command -v python3 >/dev/null; then
    s_sdnotify
    s_readme_dockerfiles
else
    fail podman-python3 "python3 not found: the sd_notify listener and the README check need it"
fi
s_kube
echo "(podman e2e took $(( ($(now_ms) - started) / 1000 )) s)"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
