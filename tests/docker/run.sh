#!/usr/bin/env bash
# drinit against a real Docker engine: `bash tests/docker/run.sh RELEASE_DIR` (make e2e).
#
# Needs a running dockerd (.ci/docker.sh starts one). Images are built FROM scratch out of
# local files only (static drinit + Debian's busybox-static) with the legacy builder, so no
# registry is needed. Everything created carries the label drinit-e2e=$RUN and the name
# prefix drinit-e2e-$RUN, and is removed on exit. Prints `PASS name` / `FAIL name: reason`
# per scenario, then `N passed, M failed`; exits 1 if any failed.
#
# Scenario 10 (`docker run --init` with drinit as Docker's init) starts a second, private
# dockerd with --init-path on its own socket and data root, so the engine the other
# scenarios use is never restarted or reconfigured. DRINIT_E2E_SKIP_INIT=1 skips it.
set -uo pipefail

. "$(dirname "$0")/../e2e.sh" "$@"
DOCKER=${DOCKER:-docker}
export DOCKER_BUILDKIT=0
PREFIX=drinit-e2e-$RUN
WORK=$(mktemp -d /tmp/drinit-e2e.XXXXXX)
INIT_DAEMON_PID=
INIT_SOCK=

require_static_busybox
if ! timeout 20 "$DOCKER" info >/dev/null 2>&1; then
    echo "run.sh: no Docker engine answers (.ci/docker.sh starts one)" >&2
    exit 2
fi

# --- helpers ---------------------------------------------------------------------------

d() { timeout 60 "$DOCKER" "$@"; }

# The private dockerd of the docker-init scenario, with whatever it still runs.
stop_init_daemon() {
    [ -n "$INIT_DAEMON_PID" ] || return 0
    if [ -n "$INIT_SOCK" ]; then
        local ids
        ids=$(DOCKER_HOST=unix://$INIT_SOCK timeout 30 "$DOCKER" ps -aq 2>/dev/null)
        [ -n "$ids" ] && DOCKER_HOST=unix://$INIT_SOCK timeout 30 "$DOCKER" rm -f $ids >/dev/null 2>&1
    fi
    kill -TERM "$INIT_DAEMON_PID" 2>/dev/null
    local i
    for i in $(seq 1 100); do
        kill -0 "$INIT_DAEMON_PID" 2>/dev/null || break
        sleep 0.2
    done
    kill -KILL "$INIT_DAEMON_PID" 2>/dev/null
    INIT_DAEMON_PID=
    rm -rf "/run/drinit-e2e-$$"
    # Its data root is under $WORK; unmount what an unclean stop may have left there.
    grep -o " $WORK/[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
}

cleanup() {
    local ids
    ids=$("$DOCKER" ps -aq --filter "label=$LABEL" 2>/dev/null)
    [ -n "$ids" ] && timeout 60 "$DOCKER" rm -f $ids >/dev/null 2>&1
    # Derived images first: a parent with children is not removed, so a few rounds.
    local round
    for round in 1 2 3 4; do
        ids=$("$DOCKER" images -q --filter "label=$LABEL" 2>/dev/null | sort -u)
        [ -z "$ids" ] && break
        timeout 60 "$DOCKER" rmi -f $ids >/dev/null 2>&1
    done
    stop_init_daemon
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# run_c NAME [docker run options...] IMAGE [args...]: a detached, labelled container.
# No network unless a scenario sets NET: nothing here needs one, and it keeps the tests
# working on an engine started with --bridge=none.
run_c() {
    local name=$1
    shift
    d run -d --label "$LABEL" --name "$PREFIX-$name" --network "${NET:-none}" "$@" >/dev/null
}
cname() { echo "$PREFIX-$1"; }
field() { d inspect -f "$2" "$(cname "$1")" 2>/dev/null; }
is_running() { [ "$(field "$1" '{{.State.Running}}')" = true ]; }
is_exited() { [ "$(field "$1" '{{.State.Status}}')" = exited ]; }
health_is() { [ "$(field "$1" '{{if .State.Health}}{{.State.Health.Status}}{{end}}')" = "$2" ]; }
exit_code() { field "$1" '{{.State.ExitCode}}'; }
# CTL: where the image keeps drinitctl.
ctl() { local c=$1; shift; d exec "$(cname "$c")" "${CTL:-/drinitctl}" "$@"; }

pid_changed() { local p; p=$(json_num "$1" pid); [ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != "$2" ]; }
restarts_above_zero() { local r; r=$(json_num "$1" restarts); [ -n "$r" ] && [ "$r" -gt 0 ]; }

logs_tail() { d logs --tail 5 "$(cname "$1")" 2>&1 | tr '\n' '|' | cut -c1-300; }

# build NAME DOCKERFILE CONTEXT [build-arg...]: image $PREFIX-NAME.
build() {
    local name=$1 dockerfile=$2 ctx=$3
    shift 3
    local args=()
    for a in "$@"; do args+=(--build-arg "$a"); done
    if ! d build -q --network none --label "$LABEL" -t "$PREFIX-$name" -f "$dockerfile" "${args[@]}" "$ctx" \
        >"$WORK/build-$name.log" 2>&1; then
        echo "build of $name failed:" >&2
        cat "$WORK/build-$name.log" >&2
        return 1
    fi
}

# --- images ----------------------------------------------------------------------------

ctx=$WORK/ctx
mkdir -p "$ctx"
cp "$HERE"/Dockerfile.* "$HERE"/*.sh "$ctx"/
rm -f "$ctx/run.sh"
cp "$DRINIT" "$ctx/drinit"
cp "$BUSYBOX" "$ctx/busybox"

# Examples get exactly the context their headers tell users to prepare.
example_ctx() {
    local dir=$WORK/example-$1
    mkdir -p "$dir"
    cp -p "$ROOT/examples/$1"/* "$dir"/
    cp "$DRINIT" "$dir/drinit"
    cp "$BUSYBOX" "$dir/busybox"
    echo "$dir"
}

images_ok=1
build base "$ctx/Dockerfile.base" "$ctx" || images_ok=0
build health "$ctx/Dockerfile.health" "$ctx" "BASE=$PREFIX-base" || images_ok=0
build trap "$ctx/Dockerfile.trap" "$ctx" "BASE=$PREFIX-base" || images_ok=0
for ex in minimal trap-hook healthcheck; do
    dir=$(example_ctx $ex)
    build "ex-$ex" "$dir/Dockerfile" "$dir" || images_ok=0
done
if [ $images_ok = 0 ]; then
    fail images "could not build the test images (see above)"
    echo "$PASSED passed, $FAILED failed"
    exit 1
fi

# --- scenarios -------------------------------------------------------------------------

# 1. The program's exit code becomes the container's.
s_exit_codes() {
    local bad=
    for code in 0 3 255; do
        run_c "exit$code" "$PREFIX-base" sh -c "exit $code" || { bad="$bad run($code) failed;"; continue; }
        if ! wait_until 20 is_exited "exit$code"; then
            bad="$bad exit $code: still running after 20 s;"
        elif [ "$(exit_code "exit$code")" != "$code" ]; then
            bad="$bad exit $code: container exited $(exit_code "exit$code");"
        fi
    done
    # Death by a signal is reported as 128+N, as a shell would.
    run_c exitsig "$PREFIX-base" sh -c 'kill -USR1 $$' || bad="$bad run(USR1) failed;"
    if wait_until 20 is_exited exitsig; then
        [ "$(exit_code exitsig)" = 138 ] || bad="$bad killed by USR1: exit $(exit_code exitsig), want 138;"
    else
        bad="$bad killed by USR1: still running;"
    fi
    [ -z "$bad" ] && pass exit-codes || fail exit-codes "$bad"
}

# 2. docker stop on a program that handles TERM: fast, with the program's own exit code.
s_stop_handled() {
    # `wait` (not a foreground sleep) so the shell runs its trap as soon as TERM arrives.
    run_c stopok "$PREFIX-base" sh -c 'trap "exit 42" TERM; sleep 100000 & wait' || { fail stop-term-handled "run failed"; return; }
    wait_until 10 is_running stopok || { fail stop-term-handled "never ran: $(logs_tail stopok)"; return; }
    sleep 0.5
    local t0 t
    t0=$(now_ms)
    d stop "$(cname stopok)" >/dev/null
    t=$(( $(now_ms) - t0 ))
    local code
    code=$(exit_code stopok)
    if [ "$code" != 42 ]; then
        fail stop-term-handled "exit code $code, want 42"
    elif [ $t -ge 5000 ]; then
        fail stop-term-handled "docker stop took ${t} ms (want < 5000)"
    else
        pass stop-term-handled
        echo "  (docker stop took ${t} ms, exit 42)"
    fi
}

# Other signals reach the program too (docker kill -s), and --rewrite maps Docker's TERM
# to the signal a program wants for a graceful stop.
s_signals() {
    local bad= code
    run_c sigusr1 "$PREFIX-base" sh -c 'trap "exit 41" USR1; sleep 100000 & wait' || bad="$bad run failed;"
    run_c rewrite --entrypoint /drinit "$PREFIX-base" --rewrite TERM:QUIT -- \
        sh -c 'trap "exit 44" QUIT; trap "exit 99" TERM; sleep 100000 & wait' || bad="$bad run failed;"
    [ -n "$bad" ] && { fail signal-forwarding "$bad"; return; }
    wait_until 10 is_running sigusr1 && wait_until 10 is_running rewrite || { fail signal-forwarding "never ran"; return; }
    sleep 0.5
    d kill -s USR1 "$(cname sigusr1)" >/dev/null
    if wait_until 10 is_exited sigusr1; then
        code=$(exit_code sigusr1)
        [ "$code" = 41 ] || bad="$bad docker kill -s USR1: exit $code, want 41;"
    else
        bad="$bad docker kill -s USR1: still running after 10 s;"
    fi
    d stop "$(cname rewrite)" >/dev/null
    code=$(exit_code rewrite)
    [ "$code" = 44 ] || bad="$bad --rewrite TERM:QUIT with docker stop: exit $code, want 44;"
    [ -z "$bad" ] && pass signal-forwarding || fail signal-forwarding "$bad"
}

# `docker run -it` and Ctrl-C: the program owns the terminal's foreground, so ^C reaches it.
# `script` supplies the terminal docker -it insists on; ^C is typed every second until the
# container ends, because the first ones may arrive before the program is up.
s_tty() {
    command -v script >/dev/null || { fail tty-ctrl-c "script(1) not found (util-linux)"; return; }
    local t0 t code
    t0=$(now_ms)
    (for i in $(seq 1 20); do sleep 1; printf '\003' || exit 0; done) 2>/dev/null \
        | timeout 30 script -qec "$DOCKER run -it --rm --label $LABEL --name $PREFIX-tty --network none $PREFIX-base \
            sh -c 'trap \"exit 9\" INT; sleep 100000 & wait'" /dev/null >"$WORK/tty.log" 2>&1
    code=$?
    t=$(( $(now_ms) - t0 ))
    # 9: the trap ran; 130: ^C came before the trap was set, and still reached the program.
    case $code in
        9|130) pass tty-ctrl-c; echo "  (docker run -it ended by ^C with $code after ${t} ms)";;
        124) fail tty-ctrl-c "^C did not end docker run -it in 30 s: $(tr -d '\r' <"$WORK/tty.log" | tr '\n' '|' | cut -c1-200)";;
        *) fail tty-ctrl-c "exit $code: $(tr -d '\r' <"$WORK/tty.log" | tr '\n' '|' | cut -c1-200)";;
    esac
}

# docker exec as another user cannot control drinit: requests are authenticated by uid.
s_auth() {
    local bad=
    run_c auth "$PREFIX-base" || { fail exec-auth "run failed"; return; }
    wait_until 10 is_running auth && wait_until 10 pid_changed auth 0 || { fail exec-auth "never ran"; return; }
    local pid1
    pid1=$(json_num auth pid)
    # Another uid: refused at once with a line naming who may (SPEC §3), not a timeout.
    local t0 t out
    t0=$(now_ms)
    out=$(d exec -u 1000 "$(cname auth)" /drinitctl stop 2>&1) && bad="$bad drinitctl stop as uid 1000 succeeded;"
    t=$(( $(now_ms) - t0 ))
    case "$out" in *refused*uid\ 0*) ;; *) bad="$bad refusal line is '$out';" ;; esac
    [ $t -lt 3000 ] || bad="$bad the refusal took ${t} ms;"
    d exec -u 1000 "$(cname auth)" /drinitctl status >/dev/null 2>&1 || bad="$bad status as uid 1000 failed;"
    [ "$(json_str auth state)" = running ] && [ "$(json_num auth pid)" = "$pid1" ] || bad="$bad program no longer the same after the refused stop;"
    [ -z "$bad" ] && pass exec-auth || fail exec-auth "$bad"
}

# 3. docker stop on a program that ignores TERM: --grace ends it; `docker stop -t 1` too.
s_stop_ignored() {
    local bad= t0 t code
    run_c graceful --entrypoint /drinit "$PREFIX-base" --grace 2 -- sh -c 'trap "" TERM; while :; do sleep 1; done' \
        || { fail stop-term-ignored "run failed"; return; }
    run_c dockerkill --entrypoint /drinit "$PREFIX-base" -- sh -c 'trap "" TERM; while :; do sleep 1; done' \
        || { fail stop-term-ignored "run failed"; return; }
    # The same option from the environment (docker run -e), for images one cannot rebuild.
    run_c envgrace -e DRINIT_GRACE=1 "$PREFIX-base" sh -c 'trap "" TERM; while :; do sleep 1; done' \
        || { fail stop-term-ignored "run failed"; return; }
    wait_until 10 is_running graceful && wait_until 10 is_running dockerkill && wait_until 10 is_running envgrace \
        || { fail stop-term-ignored "never ran"; return; }
    sleep 0.5

    t0=$(now_ms)
    d stop "$(cname graceful)" >/dev/null
    t=$(( $(now_ms) - t0 ))
    code=$(exit_code graceful)
    [ "$code" = 137 ] || bad="$bad --grace 2: exit $code, want 137;"
    [ $t -ge 1500 ] || bad="$bad --grace 2: stopped after ${t} ms, before the grace ran out;"
    [ $t -lt 6000 ] || bad="$bad --grace 2: docker stop took ${t} ms (want < 6000);"
    local t_grace=$t

    t0=$(now_ms)
    d stop -t 1 "$(cname dockerkill)" >/dev/null
    t=$(( $(now_ms) - t0 ))
    code=$(exit_code dockerkill)
    [ "$code" = 137 ] || bad="$bad docker stop -t 1: exit $code, want 137;"
    [ $t -lt 5000 ] || bad="$bad docker stop -t 1: took ${t} ms (want < 5000);"
    local t_docker=$t

    t0=$(now_ms)
    d stop "$(cname envgrace)" >/dev/null
    t=$(( $(now_ms) - t0 ))
    code=$(exit_code envgrace)
    [ "$code" = 137 ] || bad="$bad -e DRINIT_GRACE=1: exit $code, want 137;"
    [ $t -ge 700 ] && [ $t -lt 5000 ] || bad="$bad -e DRINIT_GRACE=1: docker stop took ${t} ms (want 1000..5000);"

    verdict stop-term-ignored "$bad" "--grace 2: ${t_grace} ms; docker stop -t 1: ${t_docker} ms; DRINIT_GRACE=1: ${t} ms; all exit 137"
}

# 4. Orphans are reaped: no process in state Z once they have ended. The same program as
# PID 1 without drinit is the control: there the zombies must show, or the check proves
# nothing.
proc_states() {
    # Field 3 of /proc/PID/stat is the state; comm (field 2) has no spaces here.
    d exec "$(cname "$1")" sh -c 'cat /proc/[0-9]*/stat 2>/dev/null'
}
count_zombies() { proc_states "$1" | awk '$3 == "Z"' | wc -l; }
s_zombies() {
    run_c zombies "$PREFIX-base" /orphans.sh || { fail zombies "run failed"; return; }
    run_c zombies-control --entrypoint /orphans.sh "$PREFIX-base" || { fail zombies "control run failed"; return; }
    wait_until 10 is_running zombies && wait_until 10 is_running zombies-control \
        || { fail zombies "never ran: $(logs_tail zombies)"; return; }
    sleep 2
    local z zc all
    z=$(count_zombies zombies)
    zc=$(count_zombies zombies-control)
    all=$(proc_states zombies | awk '{print $1 $2 $3}' | tr '\n' ' ')
    if [ "$zc" = 0 ]; then
        fail zombies "the control without drinit shows no zombies either: the check proves nothing"
    elif [ "$z" != 0 ]; then
        fail zombies "$z zombie(s) after 2 s under drinit: $all"
    elif ! is_running zombies; then
        fail zombies "container exited: $(logs_tail zombies)"
    else
        pass zombies
        echo "  (under drinit: $all; without drinit: $zc zombies)"
    fi
}

# 5. (and 8) HEALTHCHECK CMD ["/drinitctl","health"] follows drinitctl stop/start.
# health_cycle NAME [docker run options...]: empty output on success, else the reason.
health_cycle() {
    local name=$1
    shift
    run_c "$name" "$@" "$PREFIX-health" >/dev/null || { echo "run failed"; return; }
    wait_until 20 health_is "$name" healthy || { echo "never healthy: $(field "$name" '{{json .State.Health}}' | cut -c1-300)"; return; }
    ctl "$name" >/dev/null 2>&1 || { echo "plain drinitctl exit $? while running"; return; }
    ctl "$name" stop >/dev/null || { echo "drinitctl stop failed"; return; }
    [ "$(json_str "$name" state)" = stopped ] || { echo "state after stop: $(json_str "$name" state)"; return; }
    ctl "$name" health >/dev/null && { echo "drinitctl health exit 0 while stopped"; return; }
    # The seed's form: plain `drinitctl` is the health check.
    ctl "$name" >/dev/null 2>&1 && { echo "plain drinitctl exit 0 while stopped"; return; }
    wait_until 20 health_is "$name" unhealthy || { echo "not unhealthy 20 s after stop"; return; }
    is_running "$name" || { echo "container exited after drinitctl stop"; return; }
    ctl "$name" start >/dev/null || { echo "drinitctl start failed"; return; }
    wait_until 20 health_is "$name" healthy || { echo "not healthy again 20 s after start"; return; }
}
s_healthcheck() {
    local why
    why=$(health_cycle hc)
    [ -z "$why" ] && pass healthcheck || fail healthcheck "$why"
}

# 6. The seed's trap workflow: TERM is trapped, the hook cycles the program.
# trap_cycle NAME IMAGE: empty output on success, else the reason.
trap_cycle() {
    local name=$1 image=$2 pid1 pid2
    run_c "$name" "$image" >/dev/null || { echo "run failed"; return; }
    wait_until 10 is_running "$name" || { echo "never ran: $(logs_tail "$name")"; return; }
    wait_until 10 pid_changed "$name" 0 || { echo "no pid in status --json: $(ctl "$name" status --json 2>&1)"; return; }
    pid1=$(json_num "$name" pid)
    d kill -s TERM "$(cname "$name")" >/dev/null || { echo "docker kill failed"; return; }
    wait_until 15 pid_changed "$name" "$pid1" || { echo "pid still $pid1 15 s after TERM: $(ctl "$name" status --json 2>&1) logs: $(logs_tail "$name")"; return; }
    pid2=$(json_num "$name" pid)
    sleep 1
    is_running "$name" || { echo "container exited: $(logs_tail "$name")"; return; }
    [ "$(json_str "$name" state)" = running ] || { echo "state $(json_str "$name" state) after the cycle"; return; }
    echo "ok $pid1 $pid2"
}
s_trap() {
    local r
    r=$(trap_cycle trap "$PREFIX-trap")
    case $r in
        ok*) pass trap-restart; echo "  (program pid ${r#ok } after docker kill -s TERM)";;
        *) fail trap-restart "$r";;
    esac
}
# The same workflow from examples/trap-hook, written as the seed writes it (relative
# ./sigterm.sh, `./drinitctl -c3 -r dosomething.sh`).
s_trap_example() {
    local r CTL=/app/drinitctl
    r=$(trap_cycle extrap "$PREFIX-ex-trap-hook")
    case $r in
        ok*)
            if wait_until 10 sh -c "timeout 10 $DOCKER logs $(cname extrap) 2>&1 | grep -q 'dosomething.sh: cycled'"; then
                pass example-trap-hook
            else
                fail example-trap-hook "program cycled but dosomething.sh left no trace: $(logs_tail extrap)"
            fi;;
        *) fail example-trap-hook "$r";;
    esac
}

# 7. Built-in liveness probe restarts the program inside the running container.
s_liveness() {
    run_c live --entrypoint /drinit "$PREFIX-base" \
        --health-cmd /bin/test --health-arg -f --health-arg /tmp/ok \
        --health-interval 1 --health-retries 2 \
        -- sh -c 'touch /tmp/ok; exec sleep 100000' || { fail liveness "run failed"; return; }
    wait_until 10 is_running live || { fail liveness "never ran: $(logs_tail live)"; return; }
    wait_until 10 ctl live health >/dev/null 2>&1 || { fail liveness "never healthy: $(ctl live status 2>&1)"; return; }
    # Several probe intervals with the flag present: the probe passes and nothing restarts.
    sleep 3
    if [ "$(json_num live restarts)" != 0 ] || [ "$(json_raw live last_probe_ok)" != true ] || ! ctl live health >/dev/null 2>&1; then
        fail liveness "restarted or unhealthy while /tmp/ok exists: $(ctl live status --json 2>&1)"
        return
    fi
    local pid1
    pid1=$(json_num live pid)
    d exec "$(cname live)" rm /tmp/ok || { fail liveness "could not remove /tmp/ok"; return; }
    if ! wait_until 15 restarts_above_zero live; then
        fail liveness "no restart 15 s after the probe started failing: $(ctl live status --json 2>&1)"
    elif ! is_running live; then
        fail liveness "container exited: $(logs_tail live)"
    elif ! wait_until 10 pid_changed live "$pid1"; then
        fail liveness "restart counted but pid still $pid1"
    elif ! wait_until 10 ctl live health >/dev/null 2>&1; then
        fail liveness "not healthy after the restart: $(ctl live status --json 2>&1)"
    else
        pass liveness
        echo "  (restarts=$(json_num live restarts), pid $pid1 -> $(json_num live pid))"
    fi
}

# --restart keeps the container up across program failures, until --max-restarts gives up
# and the container exits with the program's status.
s_restart_policy() {
    local bad= code
    run_c flaky --entrypoint /drinit "$PREFIX-base" --restart on-failure -- sh -c 'sleep 1; exit 3' || bad="$bad run failed;"
    run_c hopeless --entrypoint /drinit "$PREFIX-base" --restart on-failure --max-restarts 2/60 -- sh -c 'exit 3' \
        || bad="$bad run failed;"
    [ -n "$bad" ] && { fail restart-policy "$bad"; return; }
    wait_until 15 restarts_above_zero flaky || bad="$bad --restart on-failure: no restart counted in 15 s;"
    is_running flaky || bad="$bad --restart on-failure: container exited with $(exit_code flaky);"
    if wait_until 30 is_exited hopeless; then
        code=$(exit_code hopeless)
        [ "$code" = 3 ] || bad="$bad --max-restarts 2/60: exit $code, want 3;"
    else
        bad="$bad --max-restarts 2/60: still running after 30 s;"
    fi
    [ -z "$bad" ] && pass restart-policy || fail restart-policy "$bad"
}

# 8. Non-root and a read-only root filesystem.
s_nonroot_readonly() {
    local bad= why code
    run_c nr-exit --user 65534 --read-only "$PREFIX-base" sh -c 'exit 3' || bad="$bad run failed;"
    if wait_until 20 is_exited nr-exit; then
        code=$(exit_code nr-exit)
        [ "$code" = 3 ] || bad="$bad exit code $code, want 3: $(logs_tail nr-exit);"
    else
        bad="$bad exit 3: still running;"
    fi
    why=$(health_cycle nr-hc --user 65534 --read-only)
    [ -z "$why" ] || bad="$bad healthcheck: $why;"
    [ -z "$bad" ] && [ "$(d exec "$(cname nr-hc)" id -u)" != 65534 ] && bad="exec did not run as 65534"
    [ -z "$bad" ] && pass nonroot-readonly || fail nonroot-readonly "$bad"
}

# 9. Two containers on the host network: each drinitctl talks to its own drinit only.
s_host_network() {
    local bad=
    NET=host run_c hostA "$PREFIX-health" || bad="$bad run A failed;"
    NET=host run_c hostB "$PREFIX-health" || bad="$bad run B failed;"
    [ -n "$bad" ] && { fail host-network "$bad"; return; }
    wait_until 20 health_is hostA healthy && wait_until 20 health_is hostB healthy \
        || { fail host-network "not both healthy: $(logs_tail hostA) / $(logs_tail hostB)"; return; }
    local sa sb
    sa=$(json_str hostA socket)
    sb=$(json_str hostB socket)
    [ -n "$sa" ] && [ "$sa" != "$sb" ] || bad="$bad same socket name '$sa' in both;"
    ctl hostA stop >/dev/null || bad="$bad drinitctl stop in A failed;"
    [ "$(json_str hostA state)" = stopped ] || bad="$bad A state $(json_str hostA state) after stop;"
    [ "$(json_str hostB state)" = running ] || bad="$bad B state $(json_str hostB state) after stop in A;"
    ctl hostB health >/dev/null || bad="$bad drinitctl health in B fails after stop in A;"
    wait_until 20 health_is hostA unhealthy || bad="$bad A not unhealthy;"
    sleep 3
    health_is hostB healthy || bad="$bad B is $(field hostB '{{.State.Health.Status}}');"
    is_running hostA && is_running hostB || bad="$bad a container exited;"
    # With the program stopped, Docker's TERM ends drinit itself at once (128+15).
    local t0 t
    t0=$(now_ms)
    d stop "$(cname hostA)" >/dev/null
    t=$(( $(now_ms) - t0 ))
    [ "$(exit_code hostA)" = 143 ] || bad="$bad docker stop of A with its program stopped: exit $(exit_code hostA), want 143;"
    [ $t -lt 5000 ] || bad="$bad docker stop of A with its program stopped took ${t} ms;"
    is_running hostB || bad="$bad B exited with A;"
    verdict host-network "$bad" "sockets: A $sa, B $sb"
}

# The examples build and run as their headers say.
s_example_minimal() {
    local code
    run_c exmin "$PREFIX-ex-minimal" /bin/busybox sh -c 'exit 5' || { fail example-minimal "run failed"; return; }
    if ! wait_until 20 is_exited exmin; then
        fail example-minimal "still running after 20 s"
    elif code=$(exit_code exmin) && [ "$code" != 5 ]; then
        fail example-minimal "exit $code, want 5: $(logs_tail exmin)"
    else
        pass example-minimal
    fi
}
probe_passing() { [ "$(json_raw "$1" last_probe_ok)" = true ] && [ "$(json_str "$1" health)" = healthy ]; }
s_example_healthcheck() {
    run_c exhc "$PREFIX-ex-healthcheck" || { fail example-healthcheck "run failed"; return; }
    wait_until 30 health_is exhc healthy || { fail example-healthcheck "never healthy: $(logs_tail exhc)"; return; }
    # drinit's own HTTP probe must pass too, not merely not have failed often enough yet.
    wait_until 10 probe_passing exhc || { fail example-healthcheck "HTTP probe not passing: $(ctl exhc status --json 2>&1)"; return; }
    local pid1
    pid1=$(json_num exhc pid)
    # A hung server: the probe times out until drinit restarts it (3 failures, then --grace 5).
    ctl exhc signal STOP >/dev/null || { fail example-healthcheck "drinitctl signal STOP failed"; return; }
    if ! wait_until 40 restarts_above_zero exhc; then
        fail example-healthcheck "hung server not restarted in 40 s: $(ctl exhc status --json 2>&1)"
    elif ! wait_until 20 probe_passing exhc; then
        fail example-healthcheck "not healthy after the restart: $(ctl exhc status --json 2>&1)"
    elif ! is_running exhc; then
        fail example-healthcheck "container exited"
    else
        pass example-healthcheck
        echo "  (hung httpd pid $pid1 restarted as $(json_num exhc pid))"
    fi
}

# Every ```dockerfile block of README.md builds, and drinit starts where the block puts it.
# readme_dockerfiles.py prints `ok NAME` / `fail NAME REASON` per block (and variant).
readme_dockerfiles() {
    local engine=$1 base=$2 work=$3
    shift 3
    if ! command -v python3 >/dev/null; then
        fail readme-dockerfiles "python3 not found (apt-get install python3)"
        return
    fi
    local status name reason n=0 bad=0
    while read -r status name reason; do
        n=$((n + 1))
        [ "$status" = ok ] || { bad=$((bad + 1)); fail "readme-dockerfiles ($name)" "$reason"; }
    done < <(python3 "$HERE/readme_dockerfiles.py" --engine "$engine" --readme "$ROOT/README.md" \
        --drinit "$DRINIT" --busybox "$BUSYBOX" --base "$base" --work "$work" \
        --prefix "$PREFIX" --label "$LABEL" "$@")
    if [ $n = 0 ]; then
        fail readme-dockerfiles "readme_dockerfiles.py reported nothing"
    elif [ $bad = 0 ]; then
        pass readme-dockerfiles
        echo "  ($n Dockerfiles from README.md built and started)"
    fi
}
s_readme_dockerfiles() { readme_dockerfiles "$DOCKER" "$PREFIX-base" "$WORK/readme"; }

# 10. drinit as Docker's own init (`docker run --init`), via a private second dockerd.
s_docker_init() {
    if [ "${DRINIT_E2E_SKIP_INIT:-0}" = 1 ]; then
        echo "SKIP docker-init (DRINIT_E2E_SKIP_INIT=1)"
        return
    fi
    command -v dockerd >/dev/null || { fail docker-init "dockerd not found"; return; }
    local state=/run/drinit-e2e-$$
    INIT_SOCK=$state/docker.sock
    mkdir -p "$state" "$WORK/d2"
    local driver
    driver=$(d info -f '{{.Driver}}' 2>/dev/null)
    # Own socket, data root, exec root and pidfile: it shares nothing with the main engine.
    # No bridge and no iptables: the containers here need no network.
    dockerd --host "unix://$INIT_SOCK" --data-root "$WORK/d2/root" --exec-root "$state/exec" \
        --pidfile "$state/dockerd.pid" --bridge=none --iptables=false --ip-masq=false \
        ${driver:+--storage-driver="$driver"} --init-path="$DRINIT" \
        >"$WORK/d2/dockerd.log" 2>&1 &
    INIT_DAEMON_PID=$!
    local D2=(env DOCKER_HOST="unix://$INIT_SOCK" timeout 60 "$DOCKER")
    if ! wait_until 60 "${D2[@]}" info >/dev/null 2>&1; then
        fail docker-init "second dockerd did not answer in 60 s: $(tail -3 "$WORK/d2/dockerd.log" | tr '\n' '|')"
        stop_init_daemon
        return
    fi
    local bad= info
    info=$("${D2[@]}" info 2>/dev/null | grep -iE 'init' | sed 's/^ *//' | tr '\n' ';')
    local commit
    commit=$("${D2[@]}" info -f '{{.InitCommit.ID}}' 2>/dev/null)
    local want
    want=$("$DRINIT" --version | sed -n 's/.* - git\.\([0-9a-f]*\).*/\1/p')
    [ -n "$want" ] && [ "$commit" = "$want" ] || bad="$bad docker info init commit '$commit', want '$want';"

    if ! "${D2[@]}" build -q --network none -t "$PREFIX-plain" -f "$ctx/Dockerfile.plain" "$ctx" >"$WORK/d2/build.log" 2>&1; then
        fail docker-init "build on the second dockerd failed: $(tail -3 "$WORK/d2/build.log" | tr '\n' '|')"
        stop_init_daemon
        return
    fi
    local c=$PREFIX-init t0 t code
    "${D2[@]}" run -d --init --network none --name "$c" "$PREFIX-plain" \
        sh -c 'trap "exit 42" TERM; sleep 100000 & wait' >/dev/null || bad="$bad run --init failed;"
    local i
    for i in $(seq 1 50); do
        [ "$("${D2[@]}" inspect -f '{{.State.Running}}' "$c" 2>/dev/null)" = true ] && break
        sleep 0.2
    done
    local pid1
    pid1=$("${D2[@]}" exec "$c" cat /proc/1/cmdline 2>/dev/null | tr '\0' ' ')
    case $pid1 in
        /sbin/docker-init\ --\ sh*) ;;
        *) bad="$bad PID 1 is '$pid1', want /sbin/docker-init -- sh ...;";;
    esac
    # It is drinit behind the name: its control socket answers.
    "${D2[@]}" exec "$c" /sbin/docker-init ctl health >/dev/null 2>&1 || bad="$bad 'docker-init ctl health' did not answer;"
    sleep 0.3
    t0=$(now_ms)
    "${D2[@]}" stop "$c" >/dev/null
    t=$(( $(now_ms) - t0 ))
    code=$("${D2[@]}" inspect -f '{{.State.ExitCode}}' "$c" 2>/dev/null)
    [ "$code" = 42 ] || bad="$bad docker stop: exit $code, want 42 (TERM not forwarded?);"
    [ $t -lt 5000 ] || bad="$bad docker stop took ${t} ms;"
    "${D2[@]}" run --rm --init --network none "$PREFIX-plain" sh -c 'exit 7' >/dev/null 2>&1
    code=$?
    [ "$code" = 7 ] || bad="$bad run --init sh -c 'exit 7' exited $code;"
    # Orphans are reaped by the drop-in as well.
    "${D2[@]}" run -d --init --network none --name "$c-z" "$PREFIX-plain" \
        sh -c 'for i in 1 2 3 4 5; do (sleep 0.2 &); done; exec sleep 100000' >/dev/null || bad="$bad run --init (orphans) failed;"
    sleep 2
    local z
    z=$("${D2[@]}" exec "$c-z" sh -c 'cat /proc/[0-9]*/stat' 2>/dev/null | awk '$3 == "Z"' | wc -l)
    [ "$z" = 0 ] || bad="$bad $z zombie(s) under docker run --init;"

    stop_init_daemon
    if [ -z "$bad" ]; then
        pass docker-init
        echo "  (docker info: $info)"
    else
        fail docker-init "$bad (docker info: $info)"
    fi
}

echo "engine: $(d version -f 'server {{.Server.Version}}, client {{.Client.Version}}' 2>/dev/null), storage $(d info -f '{{.Driver}}' 2>/dev/null); $("$DRINIT" --version)"
started=$(now_ms)
s_exit_codes
s_stop_handled
s_signals
s_tty
s_stop_ignored
s_zombies
s_healthcheck
s_trap
s_trap_example
s_liveness
s_restart_policy
s_nonroot_readonly
s_host_network
s_auth
s_example_minimal
s_example_healthcheck
s_readme_dockerfiles
source "$HERE/oom.sh"
source "$HERE/tree.sh"
s_docker_init
echo "(e2e took $(( ($(now_ms) - started) / 1000 )) s)"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
