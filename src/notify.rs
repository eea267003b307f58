//! The systemd notification protocol (sd_notify, SPEC §8), both ways:
//! - down (`--notify`): the program gets `NOTIFY_SOCKET` naming an abstract datagram socket
//!   of drinit's, and drinit takes `READY=1`, `STOPPING=1` and `STATUS=…` on it from the
//!   program's tree, authenticated by kernel credentials like the control socket;
//! - up: when drinit itself was started with `NOTIFY_SOCKET` (podman `--sdnotify=container`,
//!   a systemd `Type=notify` unit), it tells that socket `READY=1` when the program first
//!   becomes ready and `STOPPING=1` when drinit's own stop begins.
//!
//! Received datagrams are hostile input: a fixed buffer, never blocking, anything that is
//! not a plain sd_notify message is counted and dropped.

use crate::log;
use crate::proto::NotifyStatus;
use crate::sys::{self, Fd, UnixAddr};
use crate::text::{join, Fields};
use core::ffi::CStr;

const VARIABLE: &[u8] = b"NOTIFY_SOCKET=@";
const SUFFIX: &[u8] = b".notify";
/// The longest datagram taken; longer ones are dropped (systemd's own limit is 4 KiB too).
const MAX_DATAGRAM: usize = 4096;
/// Datagrams taken per wakeup: a flood cannot starve signals and requests.
const PER_WAKEUP: usize = 64;

/// What the program has told drinit since it started.
#[derive(Clone, Copy)]
struct Said {
    ready: bool,
    stopping: bool,
    status: NotifyStatus,
}

const NOTHING: Said = Said { ready: false, stopping: false, status: NotifyStatus::EMPTY };

impl Said {
    /// One sd_notify datagram: newline-separated `NAME=value` assignments. `READY=1`,
    /// `STOPPING=1` and `STATUS=…` count, other assignments are ignored. A datagram that is
    /// empty, has a NUL byte (as systemd has it) or a line that is no assignment is garbage:
    /// false, and none of it counts.
    fn hear(&mut self, datagram: &[u8]) -> bool {
        if datagram.is_empty() || Fields(datagram).next(0).len() < datagram.len() {
            return false;
        }
        let mut said = *self;
        let mut lines = Fields(datagram);
        while !lines.is_empty() {
            let line = lines.next(b'\n');
            if !line.is_empty() && Fields(line).next(b'=').len() == line.len() {
                return false;
            }
            said.ready |= line == b"READY=1";
            said.stopping |= line == b"STOPPING=1";
            if let Some(text) = line.strip_prefix(b"STATUS=") {
                said.status = NotifyStatus::EMPTY;
                for (dst, &c) in said.status.text.iter_mut().zip(text) {
                    // Shown on operators' terminals: no control characters.
                    *dst = if c < b' ' || c == 0x7f { b'?' } else { c };
                    said.status.len += 1;
                }
            }
        }
        *self = said;
        true
    }
}

pub struct Notify {
    /// Takes the program's datagrams (`--notify`: `downward`), and sends drinit's own to
    /// the engine.
    socket: Option<Fd>,
    downward: bool,
    /// `NOTIFY_SOCKET=@name` for the program's environment, NUL-terminated (room for the
    /// longest control socket name).
    variable: [u8; 136],
    /// drinit inherited a `NOTIFY_SOCKET`: the program must not see it.
    inherited: bool,
    /// Where the engine (podman, systemd) listens: drinit's inherited `NOTIFY_SOCKET`.
    engine: Option<UnixAddr>,
    told_ready: bool,
    told_stopping: bool,
    warned: bool,
    said: Said,
    /// Datagrams dropped (not from the program's tree, oversized, garbage).
    pub rejected: u32,
}

impl Notify {
    /// Opens the socket: bound to the control socket's name plus a suffix (as unique as
    /// that one) with `downward`, unbound when only the engine is told.
    pub fn open(downward: bool, control_name: &[u8]) -> Result<Notify, sys::Errno> {
        let inherited = sys::getenv(c"NOTIFY_SOCKET").map(CStr::to_bytes);
        let engine = inherited.and_then(UnixAddr::notify_socket);
        if let (Some(value), None) = (inherited, engine) {
            log::info().text(b"NOTIFY_SOCKET not supported: ").text(value).emit();
        }
        let mut notify = Notify {
            socket: None,
            downward,
            variable: [0; 136],
            inherited: inherited.is_some(),
            engine,
            told_ready: false,
            told_stopping: false,
            warned: false,
            said: NOTHING,
            rejected: 0,
        };
        if downward || engine.is_some() {
            let fd = sys::unix_dgram_socket(true)?;
            if downward {
                join(&mut notify.variable, &[VARIABLE, control_name, SUFFIX]);
                let name = notify.variable.get(VARIABLE.len()..VARIABLE.len() + control_name.len() + SUFFIX.len());
                sys::enable_passcred(&fd)?;
                sys::signal_when_ready(&fd)?;
                sys::bind(&fd, &name.and_then(UnixAddr::abstract_name).ok_or(sys::Errno(libc::ENAMETOOLONG))?)?;
            }
            notify.socket = Some(fd);
        }
        Ok(notify)
    }

    /// What the program's environment gets: drinit's own `NOTIFY_SOCKET` with `--notify`;
    /// else, when drinit inherited one, the bare name, which removes it (child.rs).
    pub fn program_variable(&self) -> Option<&CStr> {
        match (self.downward, self.inherited) {
            (true, _) => Some(sys::cstr_until_nul(&self.variable)),
            (false, true) => Some(c"NOTIFY_SOCKET"),
            (false, false) => None,
        }
    }

    /// A new program runs: it has said nothing yet.
    pub fn program_started(&mut self) {
        self.said = NOTHING;
    }

    /// With `--notify`: whether the program has said `READY=1` and not `STOPPING=1` since
    /// it started. `None` without `--notify` (readiness then comes from elsewhere).
    pub fn program_ready(&self) -> Option<bool> {
        self.downward.then_some(self.said.ready && !self.said.stopping)
    }

    /// The program's last `STATUS=`, for `drinitctl status`.
    pub fn status(&self) -> NotifyStatus {
        self.said.status
    }

    /// Takes the queued datagrams (a bounded number), heeding those from a sender that
    /// `in_tree` accepts (the kernel's pid for it; 0 from outside our PID namespace), and
    /// counting and dropping the rest. Never blocks.
    pub fn on_readable(&mut self, in_tree: impl Fn(i32) -> bool) -> bool {
        let Some(socket) = self.socket.as_ref() else { return false };
        let mut buf = [0u8; MAX_DATAGRAM];
        for _ in 0..PER_WAKEUP {
            let received = match sys::receive_datagram(socket, &mut buf) {
                Ok(received) => received,
                Err(sys::Errno::INTR) => continue,
                // EAGAIN: the queue is empty; any other error is waited out the same way.
                Err(_) => return false,
            };
            let sender = received.credentials.map_or(0, |c| c.pid);
            let datagram = buf.get(..received.len).unwrap_or(&[]);
            // sd_notify_barrier(3), which systemd-notify sends after each message: the
            // write end of a pipe, released once the receiver closes it (done, above).
            let barrier = received.passed_fds == 1 && datagram == b"BARRIER=1";
            let fds_ok = received.passed_fds == 0 || barrier;
            if received.hostile || !fds_ok || !in_tree(sender) || !self.said.hear(datagram) {
                self.rejected = self.rejected.saturating_add(1);
            }
        }
        true
    }

    /// Up: whether the engine still waits for drinit's `READY=1`.
    pub fn engine_waits(&self) -> bool {
        self.engine.is_some() && !self.told_ready
    }

    /// Up: the program is ready for the first time.
    pub fn tell_engine_ready(&mut self) {
        self.told_ready = true;
        self.tell_engine(b"READY=1");
    }

    /// Up: drinit's own stop begins (a stop signal, `--on-unhealthy exit`). Not for a stop
    /// or restart that drinit outlives: systemd takes `STOPPING=1` as the unit going down
    /// and kills what is left of it once its stop timeout has passed.
    pub fn tell_engine_stopping(&mut self) {
        if !self.told_stopping {
            self.told_stopping = true;
            self.tell_engine(b"STOPPING=1");
        }
    }

    fn tell_engine(&mut self, message: &[u8]) {
        let (Some(fd), Some(to)) = (&self.socket, &self.engine) else { return };
        // Never blocks (MSG_DONTWAIT): an engine that does not read loses the message.
        if let Err(e) = sys::send_to(fd, message, to) {
            if !self.warned {
                self.warned = true;
                log::info().text(b"cannot notify NOTIFY_SOCKET").errno(e).emit();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hear(datagram: &[u8]) -> Option<Said> {
        let mut said = NOTHING;
        said.hear(datagram).then_some(said)
    }

    fn status_of(datagram: &[u8]) -> Vec<u8> {
        hear(datagram).unwrap().status.as_bytes().to_vec()
    }

    #[test]
    fn assignments_are_read_line_by_line() {
        let said = hear(b"READY=1\nSTATUS=serving 3 clients\nMAINPID=7").unwrap();
        assert!(said.ready && !said.stopping);
        assert_eq!(said.status.as_bytes(), b"serving 3 clients");
        assert!(hear(b"STOPPING=1\n").unwrap().stopping);
        let other = hear(b"WATCHDOG=1").unwrap();
        assert!(!other.ready && !other.stopping && other.status.len == 0, "other assignments are ignored");
    }

    #[test]
    fn near_misses_do_not_count() {
        for datagram in [&b"READY=0"[..], b"READY=1 ", b" READY=1", b"ready=1", b"READY=11", b"XREADY=1", b"READY=1\r"] {
            assert!(!hear(datagram).unwrap().ready, "{:?}", String::from_utf8_lossy(datagram));
        }
    }

    #[test]
    fn garbage_is_refused_whole() {
        assert!(hear(b"").is_none());
        assert!(hear(b"READY=1\0").is_none());
        assert!(hear(b"\0\0\0").is_none());
        assert!(hear(b"\xff\xfe\x80").is_none());
        let mut said = NOTHING;
        assert!(!said.hear(b"READY=1\nSTATUS=x\nnot an assignment"));
        assert!(!said.ready && said.status.len == 0, "nothing of a garbage datagram counts");
        assert!(hear(b"READY=1\n\n").unwrap().ready, "empty lines are fine");
    }

    #[test]
    fn status_is_cut_and_cleaned() {
        let mut datagram = b"STATUS=".to_vec();
        datagram.extend_from_slice(&[b'x'; 300]);
        assert_eq!(status_of(&datagram).len(), crate::proto::NOTIFY_STATUS_LEN);
        assert_eq!(status_of(b"STATUS=a\x1b[2Jb\tc"), b"a?[2Jb?c");
        assert_eq!(status_of(b"STATUS=one\nSTATUS=two"), b"two", "the last one counts");
        let mut said = NOTHING;
        assert!(said.hear(b"STATUS=long text here") && said.hear(b"STATUS=x"));
        assert_eq!(said.status.text[1], 0, "a shorter status leaves no rest of the longer one");
    }

    #[test]
    fn the_program_variable_names_the_socket_and_readiness_resets() {
        let name = format!("drinit-notify-unit-{}", std::process::id());
        let mut notify = Notify::open(true, name.as_bytes()).unwrap();
        let variable = notify.program_variable().unwrap().to_str().unwrap().to_owned();
        assert_eq!(variable, format!("NOTIFY_SOCKET=@{name}.notify"));
        assert_eq!(notify.program_ready(), Some(false));
        assert!(notify.said.hear(b"READY=1"));
        assert_eq!(notify.program_ready(), Some(true));
        assert!(notify.said.hear(b"READY=1\nSTOPPING=1"));
        assert_eq!(notify.program_ready(), Some(false), "STOPPING=1 wins");
        notify.program_started();
        assert!(notify.said.hear(b"READY=1"));
        assert_eq!(notify.program_ready(), Some(true));
        let without = Notify::open(false, b"unused").unwrap();
        assert_eq!(without.program_ready(), None);
        assert!(!without.downward, "no datagrams taken from the program without --notify");
    }

    #[test]
    fn a_name_too_long_for_an_address_fails() {
        assert!(Notify::open(true, &[b'n'; 101]).is_err());
        assert!(Notify::open(true, format!("drinit-unit-{}-{}", std::process::id(), "n".repeat(70)).as_bytes()).is_ok());
    }
}
