//! One logger: stderr only, unbuffered, one `write` per line so lines from drinit, its
//! hooks and the program do not interleave mid-line. No allocation, errno untouched
//! (the write is a raw syscall).

use crate::sys;
use core::sync::atomic::{AtomicU32, AtomicU8, Ordering};

/// How much drinit says: 0 errors only, 1 lifecycle events, 2 every signal and reap.
/// A global because every module logs, including the forked child before exec.
static VERBOSITY: AtomicU8 = AtomicU8::new(0);

pub fn set_verbosity(level: u8) {
    VERBOSITY.store(level, Ordering::Relaxed);
}

pub fn verbosity() -> u8 {
    VERBOSITY.load(Ordering::Relaxed)
}

/// Whether debug lines are written: the per-signal and per-orphan paths ask first, so
/// that a line nobody sees is not even built (a 512-byte buffer, on a path that runs
/// once per forwarded signal and per reaped orphan).
pub fn debugging() -> bool {
    verbosity() >= 2
}

/// Lines stderr could not take at once (a full pipe, a stalled log driver): dropped, never
/// waited for, and counted for `drinitctl status`.
static DROPPED: AtomicU32 = AtomicU32::new(0);

pub fn dropped_lines() -> u32 {
    DROPPED.load(Ordering::Relaxed)
}

/// One line of output, built in a fixed buffer and written at once by `emit`.
/// Text past the buffer is cut, never an error. The builder methods take `&mut self`
/// (not `self`): moving the 512-byte buffer at every call cost kilobytes of code.
pub struct Line {
    buf: [u8; 512],
    len: usize,
    fd: i32,
    enabled: bool,
}

impl Line {
    #[inline(never)] // called from ~150 places: one copy instead of ~150 (size budget)
    fn new(fd: i32, enabled: bool, prefix: &[u8]) -> Line {
        let mut line = Line { buf: [0; 512], len: 0, fd, enabled };
        line.text(prefix);
        line
    }

    /// Plain output to stdout (the control client's answers).
    pub fn stdout() -> Line {
        Line::new(1, true, b"")
    }

    #[inline(never)]
    pub fn text(&mut self, s: &[u8]) -> &mut Line {
        if self.enabled {
            // Keep one byte free for the newline `emit` adds.
            let room = self.buf.len() - 1;
            for &b in s {
                match self.buf.get_mut(self.len) {
                    Some(slot) if self.len < room => {
                        *slot = b;
                        self.len += 1;
                    }
                    _ => break,
                }
            }
        }
        self
    }

    #[inline(never)]
    pub fn num(&mut self, n: i64) -> &mut Line {
        let mut digits = [0u8; 20];
        self.text(format_i64(n, &mut digits))
    }

    /// `TERM` for named signals, the number for realtime ones.
    pub fn signal(&mut self, signal: crate::sig::Signal) -> &mut Line {
        match signal.name() {
            Some(name) => self.text(b"SIG").text(name),
            None => self.num(signal.number() as i64),
        }
    }

    pub fn errno(&mut self, e: sys::Errno) -> &mut Line {
        self.text(b" (");
        match e.name() {
            Some(name) => self.text(name),
            None => self.text(b"errno ").num(e.0 as i64),
        };
        self.text(b")")
    }

    #[inline(never)]
    pub fn emit(&mut self) {
        if !self.enabled {
            return;
        }
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b'\n';
            self.len += 1;
        }
        let line = self.buf.get(..self.len).unwrap_or(&[]);
        if self.fd == 1 {
            sys::write_stdio(1, line);
        } else if !sys::write_log(line) {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A problem drinit reports whatever the verbosity.
pub fn error() -> Line {
    Line::new(2, true, b"drinit: ")
}

/// A supervision event (a restart, giving up, turning unhealthy, a drain, a grace-period
/// SIGKILL, an OOM kill): always printed, one line each (SPEC §2).
pub fn event() -> Line {
    Line::new(2, true, b"drinit: ")
}

/// A lifecycle event (start, exit, hook), shown with `-v`.
pub fn info() -> Line {
    Line::new(2, verbosity() >= 1, b"drinit: ")
}

/// Every signal and reap, shown with `-vv`.
pub fn debug() -> Line {
    Line::new(2, verbosity() >= 2, b"drinit: ")
}

/// The control client's messages.
pub fn client_error() -> Line {
    Line::new(2, true, b"drinitctl: ")
}

/// Formats `n` in decimal into `out`, returning the digits (with a leading '-').
pub fn format_i64(n: i64, out: &mut [u8; 20]) -> &[u8] {
    // Work in u64 so i64::MIN's magnitude fits.
    let mut magnitude = n.unsigned_abs();
    let mut start = out.len();
    loop {
        start -= 1;
        if let Some(slot) = out.get_mut(start) {
            *slot = b'0' + (magnitude % 10) as u8;
        }
        magnitude /= 10;
        if magnitude == 0 || start == 1 {
            break;
        }
    }
    if n < 0 && start > 0 {
        start -= 1;
        if let Some(slot) = out.get_mut(start) {
            *slot = b'-';
        }
    }
    out.get(start..).unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_std() {
        let cases = [0, 1, -1, 9, 10, -10, 42, 255, 65535, -123456789, i32::MIN as i64, i32::MAX as i64, i64::MAX, i64::MIN];
        for n in cases {
            let mut buf = [0u8; 20];
            assert_eq!(format_i64(n, &mut buf), format!("{n}").as_bytes(), "formatting {n}");
        }
    }

    #[test]
    fn line_truncates_instead_of_overflowing() {
        let long = [b'x'; 2000];
        let mut line = Line::new(2, true, b"");
        line.text(&long);
        assert_eq!(line.len, 511);
    }
}
