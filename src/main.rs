//! drinit: a tiny init and process supervisor for Linux containers.
//!
//! One static binary with two personalities chosen by `argv[0]`: `drinit` (the init, PID 1)
//! and `drinitctl` (its control client; also `drinit ctl ...`).
#![cfg_attr(not(test), no_std)]
#![cfg_attr(not(test), no_main)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]
// Unit tests compile the modules without `main`, so much of the init looks unused there.
#![cfg_attr(test, allow(dead_code))]

mod args;
mod child;
mod ctl;
mod ctl_client;
mod death;
mod exit;
mod health;
mod hooks;
mod init;
mod log;
mod notify;
mod proto;
mod reap;
mod sig;
mod starting;
mod stopping;
mod supervise;
mod sys;
mod tree;
mod waiters;
mod text;

/// The C runtime's entry point: dispatch on the name we were called by.
#[cfg(not(test))]
#[no_mangle]
extern "C" fn main(argc: core::ffi::c_int, argv: *const *const core::ffi::c_char) -> core::ffi::c_int {
    // SAFETY: the C runtime passes argc NUL-terminated strings, a NULL after them, all
    // living until exit.
    let args = unsafe { sys::Args::from_raw(argc, argv) };
    let called_as = args.get(0).map_or(&b""[..], |a| basename(a.to_bytes()));
    if called_as == b"drinitctl" {
        return ctl_client::main(args.skip(1));
    }
    if args.get(1).is_some_and(|a| a.to_bytes() == b"ctl") {
        return ctl_client::main(args.skip(2));
    }
    init::main(args.skip(1))
}

fn basename(path: &[u8]) -> &[u8] {
    path.rsplit(|&c| c == b'/').next().unwrap_or(path)
}

/// In a release build a reachable panic fails the link: the handler calls a function that
/// does not exist, and only LTO's proof that no panic can happen removes the call.
#[cfg(all(not(test), not(debug_assertions), not(drinit_find_panics)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    extern "C" {
        fn drinit_has_a_reachable_panic_see_main_rs() -> !;
    }
    // SAFETY: never executed: a build in which this is reachable does not link.
    unsafe { drinit_has_a_reachable_panic_see_main_rs() }
}

/// Debug builds keep their panics (overflow checks, asserts) and abort on them.
#[cfg(all(not(test), any(debug_assertions, drinit_find_panics)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    sys::write_stdio(2, b"drinit: internal error (panic)\n");
    sys::abort()
}

/// Precompiled `core` refers to this symbol even with panic=abort; nothing calls it.
#[cfg(not(test))]
#[no_mangle]
extern "C" fn rust_eh_personality() {}

#[cfg(test)]
mod tests {
    #[test]
    fn basename_of_paths() {
        assert_eq!(super::basename(b"/usr/local/bin/drinitctl"), b"drinitctl");
        assert_eq!(super::basename(b"drinit"), b"drinit");
        assert_eq!(super::basename(b""), b"");
    }
}
