#!/usr/bin/env bash
# CI stage for podman, the second real engine: install it the way .ci/docker.sh installs
# Docker, then run `make e2e-podman` (tests/podman/run.sh).
#
# Installs podman (Debian's, rootful: no daemon to start), catatonit (the pause image of
# `podman kube play`), runc (the e2e falls back to it where podman's default runtime, crun,
# cannot run containers), busybox-static, python3 and file when missing. When they cannot
# be installed, or podman cannot run a container here, it prints `SKIP podman e2e: …` with
# the reason and exits 0, so CI on such a machine stays green but says so;
# DRINIT_E2E_REQUIRED=1 makes that a failure (exit 1) instead.
set -euo pipefail
cd "$(dirname "$0")/.."

skip() {
    echo "SKIP podman e2e: $1"
    [ "${DRINIT_E2E_REQUIRED:-0}" = 1 ] && exit 1
    exit 0
}

[ "$(id -u)" = 0 ] || skip "installing podman and running it rootful needs root"

need=()
command -v podman >/dev/null 2>&1 || need+=(podman)
command -v runc >/dev/null 2>&1 || need+=(runc)
# `podman kube play` builds its pause image around catatonit (only Recommended by podman).
command -v catatonit >/dev/null 2>&1 || [ -x /usr/libexec/podman/catatonit ] || need+=(catatonit)
file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' || need+=(busybox-static)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v file >/dev/null 2>&1 || need+=(file)
if ((${#need[@]})); then
    echo "podman.sh: installing ${need[*]}"
    log=$(mktemp /tmp/drinit-podman-apt.XXXXXX)
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"; } >"$log" 2>&1; then
        skip "could not install ${need[*]}: $(tail -3 "$log" | tr '\n' ' ')"
    fi
    rm -f "$log"
fi
echo "podman.sh: $(podman --version)"
# tests/podman/run.sh says SKIP itself when podman cannot run a container here.
make e2e-podman
