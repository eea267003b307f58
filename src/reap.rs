//! Reaping: one loop that collects every exited child, because SIGCHLDs coalesce — one
//! signal may stand for a thousand exits. The caller routes each pid (program, hook,
//! probe, orphan) inside the loop, so the program's status is never lost to an orphan's.

use crate::sys::{self, ExitStatus, Reaped};

/// Calls `route(pid, status)` for every child that has exited, until none is left;
/// returns whether drinit still has children (running ones).
pub fn reap_all(mut route: impl FnMut(i32, ExitStatus)) -> bool {
    loop {
        match sys::reap_one() {
            Reaped::Child(pid, status) => route(pid, status),
            Reaped::NoneReady => return true,
            Reaped::NoChildren => return false,
        }
    }
}
