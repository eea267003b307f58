//! How a stop is carried out (SPEC §6, §7): drain first when asked to, then the stop signal
//! and SIGCONT, then whatever is left of the program's tree once the program has exited, and
//! SIGKILL at the deadline. What follows a stop (stay stopped, start again, exit drinit)
//! waits until nothing of the old tree is left, so two generations never run side by side.
//! The decisions live in `supervise`; this is `init` carrying them out.

use crate::hooks;
use crate::init::{Init, Origin};
use crate::log;
use crate::proto::{Outcome, State, Verb};
use crate::sig::Signal;
use crate::supervise::{AfterExit, Drain, ThenStart};
use crate::sys::{self, Millis};
use crate::waiters::Awaiting;

/// How long leftovers of a program that ended get after TERM when `--grace` is 0.
const LEFTOVER_GRACE_SECS: u32 = 5;

impl Init {
    /// A stop signal reached drinit: the program stops (draining first, if configured) and
    /// drinit ends with it; a second one cuts a drain short.
    pub(crate) fn shutdown(&mut self, received: Signal, deliver: Option<Signal>) {
        let grace = if self.config.grace_secs > 0 { Some(self.config.grace_secs) } else { None };
        if self.program.is_alive() {
            self.program.shutting_down = true;
            match self.program.state {
                State::Draining => self.end_drain(),
                State::Running => {
                    self.request_stop(ThenStart::No, deliver, grace);
                }
                _ => {
                    if let Some(signal) = deliver {
                        self.deliver_stop(signal);
                    }
                    if let Some(secs) = grace {
                        self.program.arm_kill(sys::now(), secs);
                    }
                }
            }
            return;
        }
        let code = crate::exit::SIGNAL_BASE + received.number();
        if self.program.leftovers.is_some() {
            // The program has ended and its leftovers are on their way out: drinit follows.
            self.program.shutting_down = true;
            self.program.leftovers = Some(AfterExit::Exit(code));
            self.program.swept = false;
            self.on_reaped(true);
            return;
        }
        log::info().text(b"stop signal with no program running: exiting").emit();
        self.finish(code)
    }

    /// `start` (`running` true) or `stop` asked while the program runs, stops or is gone.
    pub(crate) fn want_running(&mut self, running: bool, by: Verb) -> Outcome {
        match self.program.state {
            State::Running if running => Outcome::Done,
            State::Running => self.request_stop(ThenStart::No, Some(self.config.stop_signal), Some(self.stop_timeout_secs())),
            State::Stopping | State::Draining => {
                match self.program.leftovers {
                    // drinit itself is on its way out.
                    Some(AfterExit::Exit(_)) => return Outcome::Failed,
                    Some(_) => self.program.leftovers = Some(if running { AfterExit::StartRequested } else { AfterExit::StayStopped }),
                    None if self.program.shutting_down => return Outcome::Failed,
                    None => self.program.then_start = if running { ThenStart::Yes { counted: false } } else { ThenStart::No },
                }
                // Whoever waited for the opposite learns at once that this request took its place.
                let overtaken = if running { Awaiting::Stopped } else { Awaiting::Running };
                self.answer_waiters(overtaken, Outcome::Superseded, Some(by));
                Outcome::InProgress
            }
            State::Restarting if !running => {
                self.program.restart_at = None;
                self.program.state = State::Stopped;
                Outcome::Done
            }
            State::Stopped | State::Exited if !running => Outcome::Done,
            State::Restarting | State::Stopped | State::Exited => {
                self.start_program(Origin::Request);
                if self.program.state == State::Running { Outcome::Done } else { Outcome::Failed }
            }
        }
    }

    /// A stop that was asked for: drains first with `--stop-delay` or `--pre-stop` (health
    /// and readiness fail at once, the program keeps serving), then the stop signal.
    pub(crate) fn request_stop(&mut self, then: ThenStart, deliver: Option<Signal>, kill_after: Option<u32>) -> Outcome {
        let delay = self.config.stop_delay_secs;
        if delay == 0 && self.config.pre_stop.is_none() {
            return self.stop_program(then, deliver, kill_after);
        }
        let now = sys::now();
        self.program.state = State::Draining;
        self.program.then_start = then;
        let signal = deliver.unwrap_or(self.config.stop_signal);
        let hook_deadline = now + self.config.hook_timeout_secs as Millis * 1000;
        let hook = self.config.pre_stop.and_then(|script| self.hooks.start(script, signal, self.program.pid, &self.original_mask, hook_deadline));
        self.program.drain = Some(Drain { until: now + delay as Millis * 1000, hook, deliver, kill_after });
        let mut line = log::event();
        line.text(b"draining: health and readiness fail, ").signal(signal).text(b" follows in ").num(delay as i64).text(b" s");
        if hook.is_some() {
            line.text(b" and after the pre-stop hook");
        }
        line.emit();
        Outcome::InProgress
    }

    /// The stop signal (and SIGCONT) now; SIGKILL after `kill_after` seconds.
    pub(crate) fn stop_program(&mut self, then: ThenStart, deliver: Option<Signal>, kill_after: Option<u32>) -> Outcome {
        if self.program.shutting_down && deliver.is_some() {
            // Up: drinit's own end begins (a stop that drinit outlives is no unit going down).
            self.notify.tell_engine_stopping();
        }
        self.program.stopping(sys::now(), kill_after, then);
        if let Some(signal) = deliver {
            self.deliver_stop(signal);
        }
        Outcome::InProgress
    }

    /// A stop signal, then SIGCONT to the same target, so a stopped program can act on it.
    fn deliver_stop(&mut self, signal: Signal) {
        self.deliver(signal);
        self.deliver(Signal::CONT);
    }

    pub(crate) fn end_drain_if_over(&mut self, now: Millis) {
        if self.program.drain.is_some_and(|d| d.is_over(now)) {
            self.end_drain();
        }
    }

    fn end_drain(&mut self) {
        let Some(drain) = self.program.drain.take() else { return };
        self.stop_program(self.program.then_start, drain.deliver, drain.kill_after);
    }

    /// A hook ended: if it was the pre-stop hook, the drain may be over.
    pub(crate) fn on_hook_exit(&mut self, pid: i32) {
        if let Some(drain) = self.program.drain.as_mut().filter(|d| d.hook == Some(pid)) {
            drain.hook = None;
            self.end_drain_if_over(sys::now());
        }
    }

    /// After a batch of reaping: once the program has ended, what follows waits until
    /// nothing of its tree is left; the first time, the leftovers get a signal of their own.
    pub(crate) fn on_reaped(&mut self, children_remain: bool) {
        let Some(after) = self.program.leftovers else { return };
        let helpers = self.helpers();
        let helpers_run = helpers.iter().any(|&pid| pid != 0);
        let gone = !children_remain || (helpers_run && self.tree.has_children_besides(&helpers) == Some(false));
        if gone {
            self.program.leftovers = None;
            self.carry_out(after);
            return;
        }
        if self.program.swept {
            return;
        }
        self.program.swept = true;
        self.program.state = State::Stopping;
        let exiting = matches!(after, AfterExit::Exit(_));
        // A requested stop sends its stop signal; an exit (of the program or of drinit) TERM.
        let signal = if exiting || !self.program.stop_was_requested { Signal::TERM } else { self.config.stop_signal };
        let found = if exiting && self.namespace_init && !self.tree.proc_is_ours() {
            // PID 1 on its way out may signal everything in its namespace.
            let _ = sys::kill_everything_in_namespace(signal.number());
            let _ = sys::kill_everything_in_namespace(Signal::CONT.number());
            0
        } else {
            self.tree.signal_all(signal, &helpers)
        };
        log::info().text(b"the program has ended; ").num(found as i64).text(b" processes of its tree are left: ").signal(signal).emit();
        if self.program.kill_at.is_none() {
            let secs = if self.config.grace_secs > 0 { self.config.grace_secs } else { LEFTOVER_GRACE_SECS };
            self.program.arm_kill(sys::now(), secs);
        }
    }

    /// The SIGKILL deadline: the program (and its group), then everything left of its tree.
    pub(crate) fn on_kill_deadline(&mut self) {
        let exiting = self.program.shutting_down || matches!(self.program.leftovers, Some(AfterExit::Exit(_)));
        if !self.program.is_alive() && self.program.leftovers.is_none() {
            return;
        }
        let mut killed = 0;
        if self.program.is_alive() {
            // The program is not reaped yet, so its pid and group id cannot have been reused.
            let _ = sys::kill_process_group(self.program.pid, Signal::KILL.number());
            let _ = sys::kill_process(self.program.pid, Signal::KILL.number());
            killed += 1;
        }
        if exiting && self.namespace_init {
            let _ = sys::kill_everything_in_namespace(Signal::KILL.number());
        } else {
            killed += self.tree.signal_all(Signal::KILL, &self.helpers());
        }
        log::event().text(b"grace period over: SIGKILL to ").num(killed as i64).text(b" processes of the program's tree").emit();
        // drinit's exit need not wait for the killed to be reaped; without a /proc of our
        // own namespace, the leftovers cannot be told from hooks, so waiting could be forever.
        if let Some(after) = self.program.leftovers {
            if exiting || !self.tree.proc_is_ours() {
                self.program.leftovers = None;
                self.carry_out(after);
            }
        }
    }

    /// Nothing of the old tree is left: the stop is done, and what follows it happens.
    fn carry_out(&mut self, after: AfterExit) {
        self.program.kill_at = None;
        match after {
            AfterExit::Exit(code) => {
                if self.program.gave_up {
                    log::event().text(b"giving up after ").num(self.program.restarts_in_window() as i64).text(b" restarts within ").num(self.config.restart_window_secs as i64).text(b" s: exiting with code ").num(code as i64).emit();
                }
                self.finish(code)
            }
            AfterExit::StayStopped => {
                self.program.state = State::Stopped;
                self.answer_waiters(Awaiting::Stopped, Outcome::Done, None);
            }
            AfterExit::StartRequested => {
                self.program.state = State::Stopped;
                self.answer_waiters(Awaiting::Stopped, Outcome::Done, None);
                self.start_program(Origin::Request);
            }
            AfterExit::StartNow => {
                self.log_restart(0);
                self.program.state = State::Stopped;
                self.start_program(Origin::Policy);
            }
            AfterExit::StartLater => {
                let now = sys::now();
                let wait = self.program.restart_at.unwrap_or(now).saturating_sub(now);
                self.log_restart(wait);
                self.program.state = State::Restarting;
            }
        }
    }

    fn log_restart(&self, wait_ms: Millis) {
        log::event()
            .text(b"restarting the program (restart ")
            .num(self.program.restarts_in_window() as i64)
            .text(b" of ")
            .num(self.config.max_restarts as i64)
            .text(b" within ")
            .num(self.config.restart_window_secs as i64)
            .text(b" s) in ")
            .num(wait_ms as i64)
            .text(b" ms")
            .emit();
    }

    /// Hooks and the exec probe: drinit's children, but not the program's tree.
    pub(crate) fn helpers(&self) -> [i32; hooks::SLOTS + 1] {
        let mut helpers = [0; hooks::SLOTS + 1];
        for (slot, pid) in helpers.iter_mut().zip(self.hooks.pids()) {
            *slot = pid;
        }
        if let Some(last) = helpers.last_mut() {
            *last = self.health.probe_pid();
        }
        helpers
    }

    /// The longest a stop may take, drain and pre-stop hook included: what a client
    /// without `--timeout` waits for.
    pub(crate) fn whole_stop_secs(&self) -> u32 {
        let hook = if self.config.pre_stop.is_some() { self.config.hook_timeout_secs } else { 0 };
        self.config.stop_delay_secs.max(hook).saturating_add(self.stop_timeout_secs())
    }
}
