#!/usr/bin/env bash
# CI for aarch64: cross-build with rust-lld and test under qemu-user (scripts/aarch64.sh
# installs qemu-user-static and the rustup target itself). Called from .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
make --no-print-directory aarch64
