//! Reaping: one loop that collects every exited child, because SIGCHLDs coalesce — one
//! signal may stand for a thousand exits. The caller routes each pid (program, hook,
//! probe, orphan) inside the loop, so the program's status is never lost to an orphan's.

use crate::sys::{self, ExitStatus};

/// Calls `route(pid, status)` for every child that has exited, until none is left.
pub fn reap_all(mut route: impl FnMut(i32, ExitStatus)) {
    while let Some((pid, status)) = sys::reap_one() {
        route(pid, status);
    }
}
