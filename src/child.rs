//! fork + exec of the program, the trap hooks and the exec health probe.
//!
//! Between fork and exec the child makes only raw, async-signal-safe calls. It reports an
//! exec failure's errno through a close-on-exec pipe, so the parent knows before it
//! reports anything whether the exec worked (EOF) or why it did not (4 bytes of errno).

use crate::sys::{self, Errno, Forked, SigMask};
use core::ffi::{c_char, CStr};

/// How the child relates to the terminal and to drinit's process group.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The supervised program: its own process group, in the foreground of the terminal
    /// when stdin is one (it stays in drinit's session so the terminal keeps working),
    /// otherwise its own session.
    Program,
    /// A hook or probe: its own session, so a timeout can kill its whole group.
    Helper,
}

pub struct Command<'a> {
    pub argv: *const *const c_char,
    /// `NAME=value` strings added to (and replacing) drinit's environment; helpers only.
    pub extra_env: &'a [&'a CStr],
    pub role: Role,
}

#[derive(Clone, Copy, Debug)]
pub enum SpawnError {
    /// fork or pipe failed (EAGAIN under a pids limit, EMFILE, ENOMEM).
    Resources(Errno),
    /// The child could not exec: ENOENT → 127, anything else → 126.
    Exec(Errno),
}

/// Room for the environment of a helper: drinit's own variables plus the extra ones.
const ENV_SLOTS: usize = 1024;

/// Starts `command` and returns its pid once the exec has succeeded.
pub fn spawn(command: &Command, original_mask: &SigMask) -> Result<i32, SpawnError> {
    let mut envp = [core::ptr::null::<c_char>(); ENV_SLOTS];
    let envp = if command.extra_env.is_empty() {
        sys::environment()
    } else {
        fill_environment(&mut envp, command.extra_env);
        envp.as_ptr()
    };
    let file = first_arg(command.argv);
    let (exec_status_read, exec_status_write) = sys::pipe_cloexec().map_err(SpawnError::Resources)?;
    match sys::fork().map_err(SpawnError::Resources)? {
        Forked::Child => {
            drop(exec_status_read);
            prepare_child(command.role, original_mask);
            let errno = sys::exec(file, command.argv, envp);
            // Best effort: if this write fails the parent sees EOF and the exit code says 126/127.
            let _ = sys::write(&exec_status_write, &errno.0.to_ne_bytes());
            sys::exit_now(crate::exit::for_exec_failure(errno))
        }
        Forked::Parent(pid) => {
            drop(exec_status_write);
            let mut report = [0u8; 4];
            let n = loop {
                match sys::read(&exec_status_read, &mut report) {
                    Err(Errno::INTR) => continue,
                    other => break other.unwrap_or(0),
                }
            };
            if n == 4 {
                // The child is exiting right now; collect it here so no one mistakes it
                // for an orphan.
                sys::wait_for(pid);
                return Err(SpawnError::Exec(Errno(i32::from_ne_bytes(report))));
            }
            Ok(pid)
        }
    }
}

fn first_arg(argv: *const *const c_char) -> *const c_char {
    // SAFETY: argv is a NULL-terminated array with at least one entry (callers pass a
    // program name first); reading slot 0 stays inside it.
    unsafe { *argv }
}

/// Runs in the forked child: session and terminal, then the signal state the program
/// expects (drinit's original mask, default dispositions).
fn prepare_child(role: Role, original_mask: &SigMask) {
    // Failures here are not fatal: the program runs, merely without its own group or
    // the terminal's foreground, which is what other inits do in the same case.
    match role {
        Role::Program if sys::stdin_is_tty() => {
            let _ = sys::setpgid_self();
            // SIGTTOU is still blocked (inherited mask), so this cannot stop us.
            let _ = sys::take_terminal_foreground();
        }
        Role::Program | Role::Helper => {
            let _ = sys::setsid();
        }
    }
    sys::reset_signal_dispositions();
    let _ = sys::set_signal_mask(original_mask);
}

/// Copies `extra` and then drinit's environment (minus variables `extra` replaces) into
/// `envp`, leaving a NULL at the end. Entries that do not fit are left out.
fn fill_environment(envp: &mut [*const c_char; ENV_SLOTS], extra: &[&CStr]) {
    let mut used = 0;
    let mut push = |entry: *const c_char| {
        // The last slot is never written: it is the terminating NULL.
        if used + 1 < ENV_SLOTS {
            if let Some(slot) = envp.get_mut(used) {
                *slot = entry;
                used += 1;
            }
        }
    };
    for var in extra {
        push(var.as_ptr());
    }
    sys::for_each_environment_entry(|entry| {
        let replaced = extra.iter().any(|var| same_variable(var.to_bytes(), entry.to_bytes()));
        if !replaced {
            push(entry.as_ptr());
        }
    });
}

/// Whether two `NAME=value` strings name the same variable.
fn same_variable(a: &[u8], b: &[u8]) -> bool {
    let name = |s: &[u8]| -> usize { s.iter().position(|&c| c == b'=').unwrap_or(s.len()) };
    a.get(..name(a)) == b.get(..name(b))
}

/// `NAME=<decimal>` in `buf`, NUL-terminated, for a helper's environment.
pub fn number_variable<'a>(buf: &'a mut [u8; 40], name: &[u8], value: i64) -> &'a CStr {
    let mut digits = [0u8; 20];
    let digits = crate::log::format_i64(value, &mut digits);
    let mut len = 0;
    for &b in name.iter().chain(b"=").chain(digits) {
        if let Some(slot) = buf.get_mut(len) {
            if len + 1 < 40 {
                *slot = b;
                len += 1;
            }
        }
    }
    if let Some(slot) = buf.get_mut(len) {
        *slot = 0;
    }
    sys::cstr_until_nul(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_variables_are_nul_terminated() {
        let mut buf = [0xffu8; 40];
        assert_eq!(number_variable(&mut buf, b"DRINIT_PID", 4242).to_bytes(), b"DRINIT_PID=4242");
    }

    #[test]
    fn variables_match_by_name_only() {
        assert!(same_variable(b"DRINIT_PID=1", b"DRINIT_PID=77"));
        assert!(!same_variable(b"DRINIT_PID=1", b"DRINIT_PIDX=1"));
        assert!(!same_variable(b"A=1", b"AB=1"));
    }
}
