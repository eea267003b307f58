#!/usr/bin/env bash
# Release binaries: static, stripped drinit for x86_64 and aarch64 in dist/, with SHA256SUMS.
# Run by `make dist`. Names: dist/drinit-<version>-x86_64 and dist/drinit-<version>-aarch64
# (Docker calls these amd64 and arm64: see the README for a Dockerfile that maps them).
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
[ -n "$version" ] || { echo "dist: no version in Cargo.toml" >&2; exit 1; }
command -v file >/dev/null 2>&1 || { echo "dist: 'file' is needed to check the binaries (apt-get install file)" >&2; exit 1; }

mkdir -p dist
status=0
for arch in x86_64 aarch64; do
  target=$arch-unknown-linux-musl
  rustup target list --installed | grep -qx "$target" || rustup target add "$target"
  cargo build --release --target "$target"
  out=dist/drinit-$version-$arch
  cp "${CARGO_TARGET_DIR:-target}/$target/release/drinit" "$out"
  kind=$(file -b "$out")
  # `file` names the architectures x86-64 and aarch64.
  want_arch=${arch/_/-}
  [ "$arch" = aarch64 ] && want_arch="ARM aarch64"
  for want in "$want_arch" "statically linked" ", stripped"; do
    case "$kind" in
      *"$want"*) ;;
      *) echo "dist: $out is not '$want': $kind" >&2; status=1 ;;
    esac
  done
  echo "dist: $out $(stat -c %s "$out") bytes ($kind)"
done
[ "$status" -eq 0 ] || exit "$status"

# Relative names, so `cd dist && sha256sum -c SHA256SUMS` checks a downloaded copy.
(cd dist && sha256sum "drinit-$version-x86_64" "drinit-$version-aarch64" >SHA256SUMS)
echo "dist: dist/SHA256SUMS"
sed 's/^/  /' dist/SHA256SUMS
