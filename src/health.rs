//! The built-in liveness probe (exec, tcp or http), scheduled like a Kubernetes liveness
//! probe on deadlines that `init` folds into its one timer, and the cached verdict that
//! `drinitctl health` answers from. Without a probe there is no deadline at all.

use crate::args::{HealthConfig, Probe, HTTP_REQUEST_MAX, HTTP_REQUEST_PARTS, MAX_PROBE_ARGS};
use crate::child::{self, Command, Role, SpawnError};
use crate::log;
use crate::proto;
use crate::sig::Signal;
use crate::sys::{self, ExitStatus, Fd, Millis, PollFlags, SigMask};
use core::ffi::c_char;

/// A probe in flight.
enum Running {
    Exec { pid: i32 },
    /// A TCP connect, or an HTTP exchange over one.
    Socket { fd: Fd, stage: Stage },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Connecting,
    /// Sending the HTTP request; `sent` bytes are out.
    Sending { sent: usize },
    /// Reading the status line; `len` bytes are in `response`.
    Reading { len: usize },
}

/// Raised when the failures in a row reach `--health-retries`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct BecameUnhealthy;

pub struct Health {
    config: HealthConfig,
    pub verdict: proto::Health,
    pub consecutive_failures: u32,
    pub last_result: Option<(Millis, bool)>,
    next_probe_at: Option<Millis>,
    probe_deadline: Millis,
    start_period_ends: Millis,
    running: Option<Running>,
    response: [u8; 16],
}

impl Health {
    pub fn new(config: HealthConfig) -> Health {
        Health {
            config,
            verdict: proto::Health::None,
            consecutive_failures: 0,
            last_result: None,
            next_probe_at: None,
            probe_deadline: 0,
            start_period_ends: 0,
            running: None,
            response: [0; 16],
        }
    }

    fn enabled(&self) -> bool {
        self.config.probe != Probe::None
    }

    /// A (new) program runs: start over, first probe after one interval.
    pub fn program_started(&mut self, now: Millis) {
        self.cancel();
        if self.enabled() {
            self.last_result = None;
            self.verdict = proto::Health::Starting;
            self.consecutive_failures = 0;
            self.start_period_ends = now + self.config.start_period_secs as Millis * 1000;
            self.next_probe_at = Some(now + self.interval());
        }
    }

    /// The exec probe's pid while one runs (0 otherwise): not part of the program's tree.
    pub fn probe_pid(&self) -> i32 {
        match self.running {
            Some(Running::Exec { pid }) => pid,
            _ => 0,
        }
    }

    /// Readiness (SPEC §8) of a program that runs and is not unhealthy: the program's own
    /// word when it gives one (`notified`, with `--notify`), else a probe that passed since
    /// it started (the verdict stays healthy until the probe fails `retries` times), else
    /// nothing more.
    pub fn ready(&self, notified: Option<bool>) -> bool {
        notified.unwrap_or(!self.enabled() || self.verdict == proto::Health::Healthy)
    }

    /// The program is gone: no probing until it runs again.
    pub fn program_stopped(&mut self) {
        self.cancel();
        self.next_probe_at = None;
    }

    fn interval(&self) -> Millis {
        self.config.interval_secs as Millis * 1000
    }

    fn cancel(&mut self) {
        if let Some(Running::Exec { pid }) = self.running {
            // It leads its own group; it is reaped as an ordinary child afterwards.
            let _ = sys::kill_process_group(pid, Signal::KILL.number());
        }
        self.running = None;
    }

    pub fn next_deadline(&self) -> Option<Millis> {
        if self.running.is_some() { Some(self.probe_deadline) } else { self.next_probe_at }
    }

    /// The probe's socket and what to wait for on it, while one is in flight.
    pub fn socket(&self) -> Option<(&Fd, PollFlags)> {
        match &self.running {
            Some(Running::Socket { fd, stage: Stage::Reading { .. } }) => Some((fd, PollFlags::IN)),
            Some(Running::Socket { fd, .. }) => Some((fd, PollFlags::OUT)),
            _ => None,
        }
    }

    /// Timer: start a due probe, or fail one that overran its timeout.
    pub fn on_deadline(&mut self, now: Millis, mask: &SigMask, program_pid: i32) -> Option<BecameUnhealthy> {
        if self.running.is_some() {
            if now >= self.probe_deadline {
                log::info().text(b"health probe timed out").emit();
                self.cancel();
                return self.record(false, now);
            }
            return None;
        }
        match self.next_probe_at {
            Some(at) if at <= now => self.start_probe(now, mask, program_pid),
            _ => None,
        }
    }

    fn start_probe(&mut self, now: Millis, mask: &SigMask, program_pid: i32) -> Option<BecameUnhealthy> {
        self.next_probe_at = None;
        self.probe_deadline = now + self.config.timeout_secs as Millis * 1000;
        let started = match self.config.probe {
            Probe::None => return None,
            Probe::Exec { argv } => spawn_exec_probe(&argv, mask, program_pid).map(|pid| Running::Exec { pid }),
            Probe::Tcp { ip, port } | Probe::Http { ip, port, .. } => sys::tcp_connect_start(ip, port)
                .map(|fd| Running::Socket { fd, stage: Stage::Connecting })
                .map_err(|e| log::error().text(b"health probe: cannot open a socket").errno(e).emit()),
        };
        match started {
            Ok(running) => {
                self.running = Some(running);
                None
            }
            Err(()) => self.record(false, now),
        }
    }

    /// A child was reaped: if it was the exec probe, its exit status is the result.
    /// (The clock is read only then: orphans are reaped by the thousand.)
    pub fn on_exit(&mut self, pid: i32, status: ExitStatus) -> Option<Option<BecameUnhealthy>> {
        match self.running {
            Some(Running::Exec { pid: probe }) if probe == pid => {
                self.running = None;
                Some(self.record(status == ExitStatus::Exited(0), sys::now()))
            }
            _ => None,
        }
    }

    /// The probe's socket is ready: advance the connect / HTTP exchange.
    pub fn on_socket_ready(&mut self, now: Millis) -> Option<BecameUnhealthy> {
        let Some(Running::Socket { fd, stage }) = &mut self.running else { return None };
        let result = match *stage {
            Stage::Connecting => match (sys::socket_error(fd), self.config.probe) {
                (Err(_), _) => Some(false),
                (Ok(()), Probe::Http { .. }) => {
                    *stage = Stage::Sending { sent: 0 };
                    None
                }
                (Ok(()), _) => Some(true),
            },
            Stage::Sending { sent } => {
                let mut request = [0u8; HTTP_REQUEST_MAX];
                let len = http_request(&self.config.probe, &mut request);
                match sys::write(fd, request.get(sent..len).unwrap_or(&[])) {
                    Ok(n) if sent + n >= len => {
                        *stage = Stage::Reading { len: 0 };
                        None
                    }
                    Ok(n) => {
                        *stage = Stage::Sending { sent: sent + n };
                        None
                    }
                    Err(sys::Errno::AGAIN) | Err(sys::Errno::INTR) => None,
                    Err(_) => Some(false),
                }
            }
            Stage::Reading { len } => match sys::read(fd, self.response.get_mut(len..).unwrap_or(&mut [])) {
                Ok(0) => Some(http_status_ok(self.response.get(..len).unwrap_or(&[]))),
                Ok(n) if len + n >= self.response.len() => Some(http_status_ok(&self.response)),
                Ok(n) => {
                    *stage = Stage::Reading { len: len + n };
                    None
                }
                Err(sys::Errno::AGAIN) | Err(sys::Errno::INTR) => None,
                Err(_) => Some(false),
            },
        };
        let ok = result?;
        self.running = None;
        self.record(ok, now)
    }

    /// Counts one probe result; failures inside the start period do not count.
    fn record(&mut self, ok: bool, now: Millis) -> Option<BecameUnhealthy> {
        self.last_result = Some((now, ok));
        self.next_probe_at = Some(now + self.interval());
        if ok {
            self.consecutive_failures = 0;
            self.verdict = proto::Health::Healthy;
            return None;
        }
        log::info().text(b"health probe failed").emit();
        if now < self.start_period_ends {
            return None;
        }
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        if self.consecutive_failures >= self.config.retries {
            let first_time = self.verdict != proto::Health::Unhealthy;
            self.verdict = proto::Health::Unhealthy;
            if first_time {
                return Some(BecameUnhealthy);
            }
        }
        None
    }
}

fn spawn_exec_probe(argv: &[Option<&'static core::ffi::CStr>; MAX_PROBE_ARGS], mask: &SigMask, program_pid: i32) -> Result<i32, ()> {
    let mut pointers = [core::ptr::null::<c_char>(); MAX_PROBE_ARGS];
    for (dst, arg) in pointers.iter_mut().zip(argv.iter()) {
        *dst = arg.map_or(core::ptr::null(), |a| a.as_ptr());
    }
    let mut pid_var = [0u8; 40];
    let env = [child::number_variable(&mut pid_var, b"DRINIT_PID", program_pid as i64)];
    match child::spawn(&Command { argv: pointers.as_ptr(), extra_env: &env, role: Role::Helper }, mask, true) {
        Ok((pid, _)) => Ok(pid),
        Err(SpawnError::Exec(e)) => {
            log::error().text(b"health probe command cannot run").errno(e).emit();
            Err(())
        }
        Err(SpawnError::Resources(e)) => {
            log::error().text(b"health probe: cannot fork").errno(e).emit();
            Err(())
        }
    }
}

/// `GET PATH HTTP/1.0` with a Host header; returns its length in `out`.
fn http_request(probe: &Probe, out: &mut [u8; HTTP_REQUEST_MAX]) -> usize {
    let Probe::Http { host, path, .. } = probe else { return 0 };
    let mut len = 0;
    let [get, version_host, tail] = HTTP_REQUEST_PARTS;
    for part in [get, path, version_host, host, tail] {
        for &b in part {
            if let Some(slot) = out.get_mut(len) {
                *slot = b;
                len += 1;
            }
        }
    }
    len
}

/// Healthy when the status line says 200..=399.
fn http_status_ok(response: &[u8]) -> bool {
    // "HTTP/1.x NNN"
    let code = response.get(9..12).and_then(crate::sig::parse_small_number);
    response.starts_with(b"HTTP/1.") && matches!(code, Some(200..=399))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_status_lines() {
        assert!(http_status_ok(b"HTTP/1.1 200 OK"));
        assert!(http_status_ok(b"HTTP/1.0 302 Found"));
        assert!(http_status_ok(b"HTTP/1.0 399 "));
        assert!(!http_status_ok(b"HTTP/1.0 404 Not Found"));
        assert!(!http_status_ok(b"HTTP/1.1 500 Oops"));
        assert!(!http_status_ok(b"HTTP/1.1 199 x"));
        assert!(!http_status_ok(b"SSH-2.0-OpenSSH"));
        assert!(!http_status_ok(b""));
        assert!(!http_status_ok(b"HTTP/1.1 2"));
    }

    #[test]
    fn http_request_line() {
        let probe = Probe::Http { ip: [127, 0, 0, 1], port: 80, host: b"127.0.0.1:8080", path: b"/healthz" };
        let mut out = [0u8; HTTP_REQUEST_MAX];
        let len = http_request(&probe, &mut out);
        assert!(out[..len].starts_with(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1:8080\r\n"));
        assert!(out[..len].ends_with(b"\r\n\r\n"));
    }

    fn health(retries: u32, start_period: u32) -> Health {
        Health::new(HealthConfig {
            probe: Probe::Tcp { ip: [127, 0, 0, 1], port: 1 },
            interval_secs: 1,
            timeout_secs: 1,
            retries,
            start_period_secs: start_period,
            on_unhealthy: crate::args::OnUnhealthy::Restart,
        })
    }

    #[test]
    fn unhealthy_after_retries_consecutive_failures_once() {
        let mut h = health(3, 0);
        h.program_started(0);
        assert_eq!(h.verdict, proto::Health::Starting);
        assert_eq!(h.record(false, 1000), None);
        assert_eq!(h.record(true, 2000), None);
        assert_eq!(h.verdict, proto::Health::Healthy);
        assert_eq!(h.record(false, 3000), None);
        assert_eq!(h.record(false, 4000), None);
        assert_eq!(h.record(false, 5000), Some(BecameUnhealthy));
        assert_eq!(h.verdict, proto::Health::Unhealthy);
        assert_eq!(h.record(false, 6000), None, "raised once, not on every later failure");
    }

    #[test]
    fn start_period_failures_do_not_count() {
        let mut h = health(1, 5);
        h.program_started(0);
        assert_eq!(h.record(false, 1000), None);
        assert_eq!(h.verdict, proto::Health::Starting);
        assert_eq!(h.record(false, 6000), Some(BecameUnhealthy));
    }

    #[test]
    fn ready_after_a_passed_probe_or_the_programs_word() {
        let mut h = health(2, 0);
        h.program_started(0);
        assert!(!h.ready(None), "no probe has passed yet");
        assert!(h.ready(Some(true)), "--notify: the program's READY=1 decides");
        h.record(true, 1000);
        assert!(h.ready(None));
        assert!(!h.ready(Some(false)));
        h.record(false, 2000);
        assert!(h.ready(None), "one failure of two allowed: still ready");
        h.program_started(3000);
        assert!(!h.ready(None), "a new program waits for its own probe");
        let none = Health::new(HealthConfig { probe: Probe::None, ..health(1, 0).config });
        assert!(none.ready(None), "without a probe: ready once started");
    }

    #[test]
    fn no_probe_means_no_deadline() {
        let mut h = Health::new(HealthConfig { probe: Probe::None, ..health(1, 0).config });
        h.program_started(0);
        assert_eq!(h.next_deadline(), None);
        assert_eq!(h.verdict, proto::Health::None);
    }
}
