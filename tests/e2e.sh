# Shared by the real-engine scenarios (sourced: `. tests/e2e.sh "$@"` from
# tests/docker/run.sh and tests/podman/run.sh): the RELEASE_DIR argument and the paths,
# PASS/FAIL/SKIP counting, a millisecond clock and polling, and readers of `drinitctl
# status --json`. The sourcing script defines `ctl NAME ARGS...` (how drinitctl is run in
# one of its containers) before it calls a json_* reader.

if [ $# -ne 1 ] || [ ! -x "$1/drinit" ]; then
    echo "usage: $0 RELEASE_DIR   (the directory holding a built drinit)" >&2
    exit 2
fi
RELEASE=$(cd "$1" && pwd)
DRINIT=$RELEASE/drinit
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUSYBOX=${BUSYBOX:-/bin/busybox}
RUN=$$-$(date +%s)
LABEL=drinit-e2e=$RUN
PASSED=0
FAILED=0

# The images are FROM scratch: busybox must run without a C library.
require_static_busybox() {
    file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' || {
        echo "$0: $BUSYBOX is not a static busybox (apt-get install busybox-static)" >&2
        exit 2
    }
}

pass() { echo "PASS $1"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $1: $2"; FAILED=$((FAILED + 1)); }
skip() { echo "SKIP $1: $2"; }
# verdict NAME BAD DETAIL: PASS with DETAIL on the next line when BAD (the reasons found,
# each ending in `;`) is empty, else FAIL with them.
verdict() {
    if [ -z "$2" ]; then
        pass "$1"
        echo "  ($3)"
    else
        fail "$1" "$2"
    fi
}

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# wait_until SECONDS COMMAND...: polls COMMAND every 0.2 s; 0 once it succeeds, 1 on timeout.
wait_until() {
    local deadline=$(( $(now_ms) + $1 * 1000 ))
    shift
    while :; do
        "$@" && return 0
        [ "$(now_ms)" -ge "$deadline" ] && return 1
        sleep 0.2
    done
}

# json_num NAME KEY: a numeric key of `drinitctl status --json` (no jq in the test images);
# json_raw any value as it is written, json_str a string's contents.
json_num() { ctl "$1" status --json 2>/dev/null | sed -n "s/.*\"$2\": *\([0-9-]*\).*/\1/p"; }
json_raw() { ctl "$1" status --json 2>/dev/null | sed -n "s/.*\"$2\": *\([^,}]*\).*/\1/p"; }
json_str() { ctl "$1" status --json 2>/dev/null | sed -n "s/.*\"$2\": *\"\([^\"]*\)\".*/\1/p"; }
