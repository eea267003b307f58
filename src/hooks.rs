//! Trap hooks: `-r SCRIPT` run as `SCRIPT SIGNUM` for each trapped signal, asynchronously.
//!
//! Each trapped signal gets its own hook process (up to `SLOTS` at once; more are logged
//! and dropped), so two traps in quick succession both run. A hook still running after
//! its timeout (`--hook-timeout`, 30 s) is killed with its whole process group.

use crate::child::{self, Command, Role, SpawnError};
use crate::log;
use crate::sig::Signal;
use crate::sys::{self, Millis, SigMask};
use core::ffi::{c_char, CStr};

pub const SLOTS: usize = 8;

#[derive(Clone, Copy)]
struct Running {
    pid: i32,
    deadline: Millis,
}

pub struct Hooks {
    running: [Option<Running>; SLOTS],
}

impl Hooks {
    pub fn new() -> Hooks {
        Hooks { running: [None; SLOTS] }
    }

    /// Runs `script SIGNUM` with `DRINIT_PID` and `DRINIT_SIGNAL` in its environment;
    /// returns its pid once it runs.
    pub fn start(&mut self, script: &CStr, signal: Signal, program_pid: i32, mask: &SigMask, deadline: Millis) -> Option<i32> {
        let Some(slot) = self.running.iter_mut().find(|s| s.is_none()) else {
            log::error().text(b"hook not run for signal ").num(signal.number() as i64).text(b": 8 hooks are already running").emit();
            return None;
        };
        let mut signum = [0u8; 40];
        let mut arg = [0u8; 20];
        let arg = log::format_i64(signal.number() as i64, &mut arg);
        let mut arg_buf = [0u8; 4];
        for (dst, src) in arg_buf.iter_mut().zip(arg) {
            *dst = *src;
        }
        let argv: [*const c_char; 3] = [script.as_ptr(), arg_buf.as_ptr().cast(), core::ptr::null()];
        let mut pid_var = [0u8; 40];
        let env = [
            child::number_variable(&mut pid_var, b"DRINIT_PID", program_pid as i64),
            child::number_variable(&mut signum, b"DRINIT_SIGNAL", signal.number() as i64),
        ];
        match child::spawn(&Command { argv: argv.as_ptr(), extra_env: &env, role: Role::Helper }, mask, true) {
            Ok((pid, _)) => {
                log::info().text(b"hook started for signal ").num(signal.number() as i64).text(b", pid ").num(pid as i64).emit();
                *slot = Some(Running { pid, deadline });
                Some(pid)
            }
            Err(SpawnError::Exec(e)) => {
                log::error().text(b"cannot run hook ").text(script.to_bytes()).errno(e).emit();
                None
            }
            Err(SpawnError::Resources(e)) => {
                log::error().text(b"cannot start hook (fork)").errno(e).emit();
                None
            }
        }
    }

    /// The pids of the hooks that run (0 in free slots): not part of the program's tree.
    pub fn pids(&self) -> [i32; SLOTS] {
        let mut pids = [0; SLOTS];
        for (pid, hook) in pids.iter_mut().zip(self.running.iter()) {
            *pid = hook.map_or(0, |h| h.pid);
        }
        pids
    }

    /// Whether `pid` was a hook (and forgets it).
    pub fn finished(&mut self, pid: i32, status: sys::ExitStatus) -> bool {
        for slot in self.running.iter_mut() {
            if slot.is_some_and(|h| h.pid == pid) {
                *slot = None;
                let mut line = log::info();
                line.text(b"hook pid ").num(pid as i64);
                match status {
                    sys::ExitStatus::Exited(code) => line.text(b" exited with ").num(code as i64).emit(),
                    sys::ExitStatus::Signaled(sig) => line.text(b" killed by signal ").num(sig as i64).emit(),
                }
                return true;
            }
        }
        false
    }

    pub fn next_deadline(&self) -> Option<Millis> {
        self.running.iter().flatten().map(|h| h.deadline).filter(|&d| d != Millis::MAX).min()
    }

    /// Kills the process group of every hook past its deadline (it is reaped as usual).
    pub fn kill_overdue(&mut self, now: Millis) {
        for hook in self.running.iter_mut().flatten() {
            if hook.deadline <= now {
                log::error().text(b"hook pid ").num(hook.pid as i64).text(b" overran its timeout: killed").emit();
                // The hook leads its own session and group; ESRCH only means it just ended.
                let _ = sys::kill_process_group(hook.pid, Signal::KILL.number());
                // No second kill: it is forgotten when reaped.
                hook.deadline = Millis::MAX;
            }
        }
    }
}
