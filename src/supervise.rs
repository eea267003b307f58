//! The program's life cycle: running → stopping → stopped, restarts with backoff and a
//! limit, and the deadline after which a stop becomes SIGKILL. Decisions only: `init`
//! carries them out (spawning, signalling), so this module is tested without processes.

use crate::args::{Config, RestartPolicy};
use crate::exit;
use crate::proto::State;
use crate::sig::Signal;
use crate::sys::{ExitStatus, Millis};

/// The longest wait between two restarts.
const MAX_BACKOFF_SECS: u32 = 30;
/// A program that ran this long is considered healthy again: its backoff starts over.
const BACKOFF_RESET_MS: Millis = 60_000;
/// `drinitctl stop` without `--grace`: how long the program gets before SIGKILL.
pub const DEFAULT_STOP_TIMEOUT_SECS: u32 = 10;

/// What follows when a stopping program has ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ThenStart {
    No,
    /// Start it again; `counted` restarts count against `--max-restarts`.
    Yes { counted: bool },
}

/// What drinit must do now that the program has ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AfterExit {
    /// drinit exits with this code.
    Exit(i32),
    StayStopped,
    /// Start again now by policy (a failure to start counts as another exit).
    StartNow,
    /// Start again now because `drinitctl restart` asked (a failure leaves it stopped).
    StartRequested,
    /// Start again when the restart deadline passes.
    StartLater,
}

/// A requested stop that first drains (SPEC §7): health and readiness fail while the
/// program keeps serving until `until` and the pre-stop hook has ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Drain {
    pub until: Millis,
    /// The pre-stop hook's pid while it runs.
    pub hook: Option<i32>,
    /// The signal delivered when the drain ends (`None`: a `--rewrite` dropped it).
    pub deliver: Option<Signal>,
    /// Seconds from the stop signal to SIGKILL (`None`: wait for the program forever).
    pub kill_after: Option<u32>,
}

impl Drain {
    pub fn is_over(&self, now: Millis) -> bool {
        now >= self.until && self.hook.is_none()
    }
}

pub struct Supervisor {
    pub state: State,
    /// 0 when no program is running.
    pub pid: i32,
    pub started_at: Millis,
    pub restarts: u32,
    pub last_status: Option<ExitStatus>,
    /// A stop signal reached the program: when it ends, drinit ends.
    pub shutting_down: bool,
    /// drinit's exit code when shutting down for a reason of its own (`--on-unhealthy exit`).
    pub exit_override: Option<i32>,
    pub then_start: ThenStart,
    pub kill_at: Option<Millis>,
    pub restart_at: Option<Millis>,
    pub drain: Option<Drain>,
    /// The program has ended but processes of its tree are left: this follows once they
    /// are gone (or killed at `kill_at`), so two generations never run side by side.
    pub leftovers: Option<AfterExit>,
    /// The restart limit was reached: the last exit ends drinit.
    pub gave_up: bool,
    /// The leftovers of the ended program have been signalled once.
    pub swept: bool,
    /// The program ended during a stop that was asked for (not a shutdown, not on its own).
    pub stop_was_requested: bool,
    backoff_secs: u32,
    window_started: Millis,
    restarts_in_window: u32,
}

impl Supervisor {
    pub fn new() -> Supervisor {
        Supervisor {
            state: State::Stopped,
            pid: 0,
            started_at: 0,
            restarts: 0,
            last_status: None,
            shutting_down: false,
            exit_override: None,
            then_start: ThenStart::No,
            kill_at: None,
            restart_at: None,
            drain: None,
            leftovers: None,
            gave_up: false,
            swept: false,
            stop_was_requested: false,
            backoff_secs: 0,
            window_started: 0,
            restarts_in_window: 0,
        }
    }

    pub fn started(&mut self, pid: i32, now: Millis) {
        self.state = State::Running;
        self.pid = pid;
        self.started_at = now;
        self.restart_at = None;
        self.then_start = ThenStart::No;
    }

    pub fn is_alive(&self) -> bool {
        self.pid != 0
    }

    /// The program is asked to stop; with `kill_after` it gets that long before SIGKILL.
    pub fn stopping(&mut self, now: Millis, kill_after: Option<u32>, then: ThenStart) {
        self.state = State::Stopping;
        self.then_start = then;
        if let Some(secs) = kill_after {
            self.arm_kill(now, secs);
        }
    }

    /// Keeps the earlier of an existing and a new SIGKILL deadline.
    pub fn arm_kill(&mut self, now: Millis, timeout_secs: u32) {
        let at = now.saturating_add(timeout_secs as Millis * 1000);
        self.kill_at = Some(self.kill_at.map_or(at, |earlier| earlier.min(at)));
    }

    /// A stop was asked for: drinitctl stop/restart, a stop signal, a liveness restart.
    pub fn is_stopping(&self) -> bool {
        matches!(self.state, State::Stopping | State::Draining)
    }

    /// The restarts counted in the current window, and the window's length.
    pub fn restarts_in_window(&self) -> u32 {
        self.restarts_in_window
    }

    /// Records the end of the program and decides what follows.
    pub fn exited(&mut self, status: ExitStatus, now: Millis, config: &Config) -> AfterExit {
        self.stop_was_requested = self.is_stopping() && !self.shutting_down;
        self.pid = 0;
        self.last_status = Some(status);
        self.drain = None;
        let code = exit::code_for(status, &config.success_codes);
        if self.shutting_down {
            self.state = State::Exited;
            return AfterExit::Exit(self.exit_override.unwrap_or(code));
        }
        if self.is_stopping() {
            self.state = State::Stopped;
            return match self.then_start {
                ThenStart::No => AfterExit::StayStopped,
                ThenStart::Yes { counted: false } => {
                    self.restarts += 1;
                    AfterExit::StartRequested
                }
                ThenStart::Yes { counted: true } => self.schedule_restart(now, code, config),
            };
        }
        let wanted = match config.restart {
            RestartPolicy::Never => false,
            RestartPolicy::OnFailure => code != 0,
            RestartPolicy::Always => true,
        };
        if !wanted {
            self.state = State::Exited;
            return AfterExit::Exit(code);
        }
        self.schedule_restart(now, code, config)
    }

    /// A policy or liveness restart: counted against the limit, with backoff.
    fn schedule_restart(&mut self, now: Millis, code: i32, config: &Config) -> AfterExit {
        if !self.within_restart_limit(now, config) {
            self.state = State::Exited;
            self.gave_up = true;
            return AfterExit::Exit(code);
        }
        self.restarts += 1;
        if now.saturating_sub(self.started_at) >= BACKOFF_RESET_MS {
            self.backoff_secs = 0;
        }
        let delay = self.backoff_secs;
        self.backoff_secs = if delay == 0 { 1 } else { (delay * 2).min(MAX_BACKOFF_SECS) };
        if delay == 0 {
            self.state = State::Stopped;
            AfterExit::StartNow
        } else {
            self.state = State::Restarting;
            self.restart_at = Some(now + delay as Millis * 1000);
            AfterExit::StartLater
        }
    }

    /// At most `max_restarts` within one window of `restart_window_secs`, counted from
    /// the first restart of the window.
    fn within_restart_limit(&mut self, now: Millis, config: &Config) -> bool {
        let window = config.restart_window_secs as Millis * 1000;
        if self.restarts_in_window == 0 || now.saturating_sub(self.window_started) >= window {
            self.window_started = now;
            self.restarts_in_window = 0;
        }
        if self.restarts_in_window >= config.max_restarts {
            return false;
        }
        self.restarts_in_window += 1;
        true
    }

    /// A start that failed (exec or fork error) counts as an immediate exit.
    pub fn start_failed(&mut self, code: u8, now: Millis, config: &Config) -> AfterExit {
        self.state = State::Running;
        self.started_at = now;
        self.exited(ExitStatus::Exited(code), now, config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{parse, Parsed};

    fn config(extra: &[&str]) -> Config {
        use std::ffi::CString;
        let mut list: Vec<&str> = extra.to_vec();
        list.push("prog");
        let owned: Vec<CString> = list.iter().map(|s| CString::new(*s).unwrap()).collect();
        let owned = Box::leak(owned.into_boxed_slice());
        let mut ptrs: Vec<*const core::ffi::c_char> = owned.iter().map(|c| c.as_ptr()).collect();
        ptrs.push(core::ptr::null());
        let ptrs = Box::leak(ptrs.into_boxed_slice());
        // SAFETY: leaked, NULL-terminated.
        let args = unsafe { crate::sys::Args::from_raw(list.len() as i32, ptrs.as_ptr()) };
        match parse(args, &|_| None) {
            Ok(Parsed::Run(c)) => c,
            _ => panic!(),
        }
    }

    #[test]
    fn never_policy_exits_with_the_program_status() {
        let c = config(&[]);
        let mut s = Supervisor::new();
        s.started(10, 0);
        assert_eq!(s.exited(ExitStatus::Exited(3), 5, &c), AfterExit::Exit(3));
        assert_eq!(s.state, State::Exited);
    }

    #[test]
    fn on_failure_restarts_failures_only() {
        let c = config(&["--restart", "on-failure"]);
        let mut s = Supervisor::new();
        s.started(10, 0);
        assert_eq!(s.exited(ExitStatus::Exited(1), 5, &c), AfterExit::StartNow);
        s.started(11, 5);
        assert_eq!(s.exited(ExitStatus::Signaled(9), 10, &c), AfterExit::StartLater);
        s.started(12, 1000);
        assert_eq!(s.exited(ExitStatus::Exited(0), 2000, &c), AfterExit::Exit(0));
    }

    #[test]
    fn backoff_doubles_to_the_cap_and_resets_after_a_long_run() {
        let c = config(&["--restart", "always", "--max-restarts", "100/1000"]);
        let mut s = Supervisor::new();
        let mut now = 0;
        let mut delays = Vec::new();
        for _ in 0..8 {
            s.started(1, now);
            match s.exited(ExitStatus::Exited(1), now + 10, &c) {
                AfterExit::StartNow => delays.push(0),
                AfterExit::StartLater => delays.push((s.restart_at.unwrap() - (now + 10)) / 1000),
                other => panic!("{other:?}"),
            }
            now += 20; // every run is short, so the backoff keeps growing
        }
        assert_eq!(delays, vec![0, 1, 2, 4, 8, 16, 30, 30]);
        s.started(1, now);
        assert_eq!(s.exited(ExitStatus::Exited(1), now + 61_000, &c), AfterExit::StartNow);
    }

    #[test]
    fn gives_up_after_max_restarts_in_the_window() {
        let c = config(&["--restart", "always", "--max-restarts", "2/60"]);
        let mut s = Supervisor::new();
        s.started(1, 0);
        assert_ne!(s.exited(ExitStatus::Exited(7), 1, &c), AfterExit::Exit(7));
        s.started(2, 2);
        assert_ne!(s.exited(ExitStatus::Exited(7), 3, &c), AfterExit::Exit(7));
        s.started(3, 4);
        assert_eq!(s.exited(ExitStatus::Exited(7), 5, &c), AfterExit::Exit(7));
        assert_eq!(s.restarts, 2);
    }

    #[test]
    fn window_starts_over_after_it_passes() {
        let c = config(&["--restart", "always", "--max-restarts", "1/10"]);
        let mut s = Supervisor::new();
        s.started(1, 0);
        assert_eq!(s.exited(ExitStatus::Exited(1), 1, &c), AfterExit::StartNow);
        s.started(2, 20_000);
        assert_ne!(s.exited(ExitStatus::Exited(1), 20_001, &c), AfterExit::Exit(1));
    }

    #[test]
    fn a_requested_stop_stays_stopped_and_a_stop_signal_ends_drinit() {
        let c = config(&["--restart", "always"]);
        let mut s = Supervisor::new();
        s.started(1, 0);
        s.stopping(0, Some(10), ThenStart::No);
        assert_eq!(s.kill_at, Some(10_000));
        assert_eq!(s.exited(ExitStatus::Signaled(15), 5, &c), AfterExit::StayStopped);
        assert_eq!(s.state, State::Stopped);
        s.started(2, 10);
        s.shutting_down = true;
        assert_eq!(s.exited(ExitStatus::Signaled(15), 20, &c), AfterExit::Exit(143));
    }

    #[test]
    fn restart_request_starts_again_uncounted() {
        let c = config(&["--max-restarts", "0"]);
        let mut s = Supervisor::new();
        s.started(1, 0);
        s.stopping(0, Some(10), ThenStart::Yes { counted: false });
        assert_eq!(s.exited(ExitStatus::Signaled(15), 5, &c), AfterExit::StartRequested);
        assert_eq!(s.restarts, 1);
    }

    #[test]
    fn kill_deadline_keeps_the_earlier_time() {
        let mut s = Supervisor::new();
        s.arm_kill(0, 10);
        s.arm_kill(1000, 2);
        assert_eq!(s.kill_at, Some(3000));
        s.arm_kill(0, 1);
        assert_eq!(s.kill_at, Some(1000));
    }

    #[test]
    fn a_draining_program_that_exits_counts_as_stopped() {
        let c = config(&["--restart", "always"]);
        let mut s = Supervisor::new();
        s.started(1, 0);
        s.state = State::Draining;
        s.drain = Some(Drain { until: 5000, hook: None, deliver: Some(Signal::TERM), kill_after: Some(10) });
        assert_eq!(s.exited(ExitStatus::Exited(0), 10, &c), AfterExit::StayStopped);
        assert_eq!(s.drain, None);
    }

    #[test]
    fn a_drain_is_over_after_its_delay_and_its_hook() {
        let mut d = Drain { until: 1000, hook: Some(7), deliver: None, kill_after: None };
        assert!(!d.is_over(2000), "the pre-stop hook still runs");
        d.hook = None;
        assert!(!d.is_over(999));
        assert!(d.is_over(1000));
    }

    #[test]
    fn giving_up_is_recorded() {
        let c = config(&["--restart", "always", "--max-restarts", "0"]);
        let mut s = Supervisor::new();
        s.started(1, 0);
        assert_eq!(s.exited(ExitStatus::Exited(3), 1, &c), AfterExit::Exit(3));
        assert!(s.gave_up);
    }
}
