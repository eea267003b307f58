//! How the program is started. drinit forks it and goes on with its loop; it learns of a
//! failed exec (SPEC §1: 126/127) when it reaps the child, from the child's report pipe.
//! A drinit that sleeps until its program has exec'd is, from then on, preempted by the
//! program on most signals it forwards on a shared CPU (README, Benchmarks). Only a start
//! that someone waits to hear about (`drinitctl start`, `restart`) waits for the exec, so
//! the answer says whether the program runs.

use crate::child::{self, Command, Role, SpawnError};
use crate::exit;
use crate::init::{Init, Origin};
use crate::log;
use crate::proto::{Outcome, State};
use crate::supervise::AfterExit;
use crate::sys::{self, ExitStatus, Fd};
use crate::waiters::Awaiting;

/// A program started without waiting for its exec: the pipe that will say whether the
/// exec failed, and where the start came from.
pub(crate) struct ExecReport {
    pipe: Fd,
    origin: Origin,
}

impl Init {
    /// Starts the program: `Err` (logged) when it could not be forked, or when a start
    /// that waits for the exec saw it fail.
    pub(crate) fn spawn_program(&mut self, origin: Origin) -> Result<(), SpawnError> {
        let env = self.notify.program_variable();
        let role = Role::Program { listen_fds: self.listen_fds };
        let command = Command { argv: self.args.tail_ptr(self.config.program), extra_env: env.as_slice(), role };
        let now = sys::now();
        match child::spawn(&command, &self.original_mask, origin == Origin::Request) {
            Ok((pid, pipe)) => {
                log::info().text(b"started ").text(self.program_name()).text(b" as pid ").num(pid as i64).emit();
                self.program.started(pid, now);
                self.health.program_started(now);
                self.notify.program_started();
                self.death.program_started();
                self.exec_report = Some(ExecReport { pipe, origin });
                self.answer_waiters(Awaiting::Running, Outcome::Done, None);
                Ok(())
            }
            Err(e) => {
                match e {
                    SpawnError::Exec(errno) => log::error().text(b"cannot run ").text(self.program_name()).errno(errno).emit(),
                    SpawnError::Resources(errno) => log::error().text(b"cannot start ").text(self.program_name()).text(b" (fork)").errno(errno).emit(),
                }
                Err(e)
            }
        }
    }

    pub(crate) fn start_program(&mut self, origin: Origin) {
        let Err(e) = self.spawn_program(origin) else { return };
        let code = match e {
            SpawnError::Exec(errno) => exit::for_exec_failure(errno),
            SpawnError::Resources(_) => exit::SYSTEM_ERROR,
        };
        self.start_failed(origin, code as u8);
    }

    /// The program's pid was reaped. True when its exec had failed and no stop was under
    /// way: that failed start is dealt with here, not as an exit of the program.
    pub(crate) fn program_never_ran(&mut self) -> bool {
        // Its write end is closed now (the child is gone): this read does not block.
        let Some(report) = self.exec_report.take() else { return false };
        let Some(errno) = child::exec_error(&report.pipe) else { return false };
        log::error().text(b"cannot run ").text(self.program_name()).errno(errno).emit();
        // During a stop it ends as stops do: as an exit, whose status says 126/127.
        if self.program.is_stopping() {
            return false;
        }
        self.program.pid = 0;
        self.health.program_stopped();
        self.start_failed(report.origin, exit::for_exec_failure(errno) as u8);
        true
    }

    /// A start that failed before the program ran, with the exit code it counts as.
    fn start_failed(&mut self, origin: Origin, code: u8) {
        match origin {
            // drinit's own start: it ends with that code whatever the restart policy.
            Origin::Startup => self.finish(code as i32),
            Origin::Request => {
                self.program.state = State::Stopped;
                self.program.last_status = Some(ExitStatus::Exited(code));
                self.answer_waiters(Awaiting::Running, Outcome::Failed, None);
            }
            Origin::Policy => match self.program.start_failed(code, sys::now(), &self.config) {
                AfterExit::Exit(code) => self.finish(code),
                // The backoff makes every later attempt wait (first restart: 1 s).
                AfterExit::StartNow | AfterExit::StartRequested => {
                    self.program.state = State::Restarting;
                    self.program.restart_at = Some(sys::now() + 1000);
                }
                AfterExit::StayStopped | AfterExit::StartLater => {}
            },
        }
    }

    fn program_name(&self) -> &[u8] {
        self.args.get(self.config.program).map_or(&b""[..], |a| a.to_bytes())
    }
}
