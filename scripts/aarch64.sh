#!/usr/bin/env bash
# Cross-builds drinit for aarch64 (rust-lld, no cross gcc: see .cargo/config.toml) and
# checks the binary's behaviour under qemu-user. Run by `make aarch64` and by CI.
#
# qemu-aarch64-static runs drinit as aarch64 code and execs the programs drinit starts
# (sh, sleep...) as native x86_64 processes, so the checks below use the host's tools.
#
# Environment: AARCH64_UNIT_TESTS=0 skips the unit tests under qemu (they add ~15 s plus
# the compile of the test binary).
set -uo pipefail
cd "$(dirname "$0")/.."

TARGET=aarch64-unknown-linux-musl
BIN=${CARGO_TARGET_DIR:-target}/$TARGET/release/drinit
QEMU=qemu-aarch64-static

say() { printf 'aarch64: %s\n' "$*"; }
die() { say "$*"; exit 1; }

# ---- Tools -----------------------------------------------------------------------------
need_packages=()
command -v "$QEMU" >/dev/null 2>&1 || need_packages+=(qemu-user-static)
command -v file >/dev/null 2>&1 || need_packages+=(file)
command -v unshare >/dev/null 2>&1 || need_packages+=(util-linux)
if ((${#need_packages[@]})); then
  say "installing ${need_packages[*]} (apt-get)"
  apt-get update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_packages[@]}" >/dev/null \
    || die "apt-get install ${need_packages[*]} failed"
fi
command -v "$QEMU" >/dev/null 2>&1 || die "$QEMU not found after installing qemu-user-static"
rustup target list --installed | grep -qx "$TARGET" || rustup target add "$TARGET" || die "rustup target add $TARGET failed"

# ---- Build -----------------------------------------------------------------------------
cargo build --release --target "$TARGET" || die "cargo build --target $TARGET failed"

# ---- Checks ----------------------------------------------------------------------------
passed=0
failed=0
pass() { passed=$((passed + 1)); printf 'PASS  %s\n' "$1"; }
fail() { failed=$((failed + 1)); printf 'FAIL  %s\n' "$1"; }

work=$(mktemp -d)
bg_pid=
cleanup() {
  # Only what this script started, by pid.
  [ -n "$bg_pid" ] && kill -KILL "$bg_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

kind=$(file -b "$BIN")
size=$(stat -c %s "$BIN")
say "$BIN: $size bytes; $kind"
case "$kind" in *"ARM aarch64"*) pass "binary is an aarch64 ELF" ;; *) fail "binary is an aarch64 ELF" ;; esac
case "$kind" in *"statically linked"*) pass "binary is statically linked" ;; *) fail "binary is statically linked" ;; esac
case "$kind" in *", stripped"*) pass "binary is stripped" ;; *) fail "binary is stripped" ;; esac

# expect NAME CODE COMMAND... : COMMAND must exit with CODE; its output is shown on failure.
expect() {
  local name=$1 want=$2
  shift 2
  timeout 30 "$@" >"$work/out" 2>"$work/err"
  local got=$?
  if [ "$got" -eq "$want" ]; then
    pass "$name"
  else
    fail "$name: exit $got, expected $want"
    sed 's/^/      | /' "$work/out" "$work/err" | tail -n 8
  fi
}

# Every exit code, as tini's tests do: one line, naming the codes that came back wrong.
wrong=
for code in $(seq 0 255); do
  timeout 30 "$QEMU" "$BIN" -- sh -c "exit $code" >/dev/null 2>&1
  got=$?
  [ "$got" -eq "$code" ] || wrong="$wrong $code->$got"
done
if [ -z "$wrong" ]; then pass "exit codes 0..255 pass through"; else fail "exit codes that did not pass through:$wrong"; fi
expect "program killed by SIGTERM gives 143" 143 "$QEMU" "$BIN" -- sh -c 'kill -TERM $$'
expect "missing program gives 127" 127 "$QEMU" "$BIN" -- /nonexistent/program
printf '#!/bin/sh\nexit 0\n' >"$work/not-executable"
chmod 644 "$work/not-executable"
expect "non-executable program gives 126" 126 "$QEMU" "$BIN" -- "$work/not-executable"
expect "PATH lookup finds the program" 0 "$QEMU" "$BIN" -- true
expect "unknown option is a usage error (2)" 2 "$QEMU" "$BIN" --no-such-option true
expect "missing PROGRAM is a usage error (2)" 2 "$QEMU" "$BIN"
expect "unknown signal is a usage error (2)" 2 "$QEMU" "$BIN" -t NOSUCHSIG -- true

version_want=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
version=$("$QEMU" "$BIN" --version 2>&1)
if [[ "$version" =~ ^drinit\ version\ ([0-9]+\.[0-9]+\.[0-9]+)\ -\ git\.[0-9a-f]{7,}$ ]] \
  && [ "${BASH_REMATCH[1]}" = "$version_want" ]; then
  pass "--version prints '$version'"
else
  fail "--version prints '$version', expected 'drinit version $version_want - git.HASH'"
fi

# A signal sent to drinit (the qemu process) reaches the program, which exits 42 on it.
ready="$work/ready"
"$QEMU" "$BIN" -- sh -c 'trap "exit 42" USR1; : > "$1"; while :; do sleep 0.05; done' sh "$ready" \
  >"$work/out" 2>"$work/err" &
bg_pid=$!
for _ in $(seq 200); do [ -e "$ready" ] && break; sleep 0.05; done
kill -USR1 "$bg_pid"
for _ in $(seq 200); do kill -0 "$bg_pid" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$bg_pid" 2>/dev/null; then
  fail "SIGUSR1 is forwarded to the program: drinit still running after 10 s"
else
  wait "$bg_pid"
  code=$?
  if [ "$code" -eq 42 ]; then pass "SIGUSR1 is forwarded to the program"; else fail "SIGUSR1 is forwarded: exit $code, expected 42"; fi
fi
bg_pid=

# The control client, both sides aarch64, through SCM_CREDENTIALS as qemu translates them.
socket="drinit-aarch64-test-$$"
DRINIT_SOCKET=$socket "$QEMU" "$BIN" -- sleep 60 >"$work/init.out" 2>"$work/init.err" &
bg_pid=$!
for _ in $(seq 100); do DRINIT_SOCKET=$socket "$QEMU" "$BIN" ctl health >/dev/null 2>&1 && break; sleep 0.1; done
DRINIT_SOCKET=$socket expect "drinit ctl health answers 0" 0 "$QEMU" "$BIN" ctl health
DRINIT_SOCKET=$socket expect "drinit ctl status answers 0" 0 "$QEMU" "$BIN" ctl status
if grep -q running "$work/out"; then pass "status says running"; else fail "status says running: $(head -c 200 "$work/out")"; fi
DRINIT_SOCKET=$socket expect "drinit ctl stop answers 0" 0 "$QEMU" "$BIN" ctl stop
DRINIT_SOCKET=$socket expect "health after stop answers 1" 1 "$QEMU" "$BIN" ctl health
kill -TERM "$bg_pid"
wait "$bg_pid"
code=$?
# Stopped with drinitctl, drinit stays up; a stop signal then ends it with 128+15.
if [ "$code" -eq 143 ]; then pass "SIGTERM ends a stopped drinit with 143"; else fail "SIGTERM ends a stopped drinit: exit $code, expected 143"; fi
bg_pid=

# As PID 1 of a new PID namespace: qemu-user runs the guest in the same process, so the
# aarch64 drinit really is PID 1 (qemu's own helper thread takes pid 2).
expect "PID 1: exit code passes through" 7 unshare --pid --fork --mount-proc "$QEMU" "$BIN" -- sh -c 'exit 7'
expect "PID 1: SIGTERM to PID 1 is forwarded (143)" 143 \
  unshare --pid --fork --mount-proc "$QEMU" "$BIN" -- sh -c 'kill -TERM 1; sleep 10'
# An orphan that exits becomes PID 1's zombie; none may be left a moment later.
expect "PID 1: an orphan's zombie is reaped" 0 \
  unshare --pid --fork --mount-proc "$QEMU" "$BIN" -- sh -c \
  'sh -c "sleep 0.1 &"; sleep 1; ! grep -qs "^[0-9]* ([^)]*) Z" /proc/[0-9]*/stat'

# ---- Unit tests under qemu ---------------------------------------------------------------
if [ "${AARCH64_UNIT_TESTS:-1}" != 0 ]; then
  # The runner is set here rather than in .cargo/config.toml: only this script needs it.
  if CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_RUNNER=$QEMU cargo test --target "$TARGET" --bins >"$work/unit" 2>&1; then
    pass "unit tests under qemu ($(grep -o '[0-9]* passed' "$work/unit" | head -n 1))"
  else
    fail "unit tests under qemu"
    tail -n 30 "$work/unit"
  fi
fi

say "$BIN is $size bytes"
echo "aarch64: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
