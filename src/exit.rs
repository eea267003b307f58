//! drinit's own exit codes (one table, mirrored in the README), and how a program's end
//! becomes drinit's exit code.

use crate::args::ExitCodeSet;
use crate::sys::ExitStatus;

/// A start-up system call failed, or the control socket's name is taken.
pub const SYSTEM_ERROR: i32 = 1;
/// Bad option, unknown signal, missing PROGRAM.
pub const USAGE: i32 = 2;
/// `--on-unhealthy exit`: the liveness probe failed `--health-retries` times in a row.
pub const UNHEALTHY: i32 = 124;
/// PROGRAM exists but cannot be executed.
pub const CANNOT_EXECUTE: i32 = 126;
/// PROGRAM was not found.
pub const NOT_FOUND: i32 = 127;
/// Added to a signal number when the program was killed by that signal.
pub const SIGNAL_BASE: i32 = 128;

/// The exit code for an exec failure with `errno`, as a shell reports it.
pub fn for_exec_failure(errno: crate::sys::Errno) -> i32 {
    if errno == crate::sys::Errno::NOENT { NOT_FOUND } else { CANNOT_EXECUTE }
}

/// drinit's exit code for the program's end: its code (or 0 for an `-e` code), 128+N for
/// death by signal N.
pub fn code_for(status: ExitStatus, success_codes: &ExitCodeSet) -> i32 {
    match status {
        ExitStatus::Exited(code) if success_codes.contains(code) => 0,
        ExitStatus::Exited(code) => code as i32,
        ExitStatus::Signaled(signal) => SIGNAL_BASE + signal as i32,
    }
}

/// The wire form used by `drinitctl status`: 0..=255 exit code, 256+N signal, -1 none.
pub fn wire_status(status: Option<ExitStatus>) -> i32 {
    match status {
        None => -1,
        Some(ExitStatus::Exited(code)) => code as i32,
        Some(ExitStatus::Signaled(signal)) => 256 + signal as i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_exit_code_passes_through() {
        let none = ExitCodeSet::default();
        for code in 0..=255u8 {
            assert_eq!(code_for(ExitStatus::Exited(code), &none), code as i32);
        }
    }

    #[test]
    fn signals_become_128_plus_n() {
        let none = ExitCodeSet::default();
        assert_eq!(code_for(ExitStatus::Signaled(9), &none), 137);
        assert_eq!(code_for(ExitStatus::Signaled(15), &none), 143);
    }

    #[test]
    fn success_codes_map_to_zero_only_for_exits() {
        let mut set = ExitCodeSet::default();
        set.insert(143);
        set.insert(3);
        assert_eq!(code_for(ExitStatus::Exited(143), &set), 0);
        assert_eq!(code_for(ExitStatus::Exited(3), &set), 0);
        assert_eq!(code_for(ExitStatus::Exited(4), &set), 4);
        assert_eq!(code_for(ExitStatus::Signaled(15), &set), 143);
    }
}
