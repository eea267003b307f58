//! Links libc into the binaries and embeds the git commit for `--version`.
use std::process::Command;

fn main() {
    // no_std + no_main: the C runtime's start files call our `main`, and libc must be
    // linked explicitly because nothing from std pulls it in.
    println!("cargo:rustc-link-arg-bins=-lc");
    // Release builds for musl drop the unwind tables nothing reads (see the script).
    let target = std::env::var("TARGET").unwrap_or_default();
    let profile = std::env::var("PROFILE").unwrap_or_default();
    if target.ends_with("linux-musl") && profile == "release" {
        let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
        println!("cargo:rustc-link-arg-bins=--no-eh-frame-hdr");
        println!("cargo:rustc-link-arg-bins={dir}/link/discard-unwind-tables.ld");
        println!("cargo:rerun-if-changed=link/discard-unwind-tables.ld");
    }
    let hash = Command::new("git")
        .args(["rev-parse", "--short=7", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=DRINIT_GIT_HASH={hash}");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
}
