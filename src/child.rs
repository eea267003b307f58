//! Start + exec of the program, the trap hooks and the exec health probe.
//!
//! A hook, the probe, or a start a client waits for runs in drinit's memory until it
//! execs, while drinit waits (vfork semantics, `sys::spawn_child`): no page tables to
//! copy, no copy-on-write faults on either side. Otherwise the program gets a memory of
//! its own and drinit does not wait: a drinit that sleeps until its program has exec'd
//! is, from then on, preempted by the program on most signals it forwards on a shared
//! CPU (see the README's Benchmarks).
//! Until exec the child makes only raw, async-signal-safe calls. It reports an exec
//! failure's errno through a close-on-exec pipe: EOF there means the exec worked.

use crate::sys::{self, Errno, Fd, SigMask};
use core::ffi::{c_char, CStr};

/// How the child relates to the terminal and to drinit's process group.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The supervised program: its own process group, in the foreground of the terminal
    /// when stdin is one (it stays in drinit's session so the terminal keeps working),
    /// otherwise its own session. `listen_fds`: fds 3… passed by socket activation, which
    /// it gets with `LISTEN_PID` set to its own pid (0: none).
    Program { listen_fds: u32 },
    /// A hook or probe: its own session, so a timeout can kill its whole group.
    Helper,
}

pub struct Command<'a> {
    pub argv: *const *const c_char,
    /// `NAME=value` strings added to (and replacing) drinit's environment; a bare `NAME`
    /// only removes the variable.
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

/// The errno of a child's failed exec, from its report pipe; `None` once it exec'd (EOF,
/// also when it died before: its status then tells). Blocks until one or the other;
/// never interrupted: drinit blocks every signal.
pub fn exec_error(report: &Fd) -> Option<Errno> {
    let mut errno = [0u8; 4];
    matches!(sys::read(report, &mut errno), Ok(4)).then(|| Errno(i32::from_ne_bytes(errno)))
}

/// Starts `command`: its pid, and the pipe on which it reports a failed exec (for
/// `exec_error`). `wait`: a hook, the probe, or a start someone waits to hear about; it
/// runs in drinit's memory, and this returns once the exec has succeeded. Otherwise (the
/// program) the child gets a copy of drinit's memory and this returns at once: the pipe
/// is read when the child has been reaped.
pub fn spawn(command: &Command, original_mask: &SigMask, wait: bool) -> Result<(i32, Fd), SpawnError> {
    let listen_fds = match command.role {
        Role::Program { listen_fds } => listen_fds,
        Role::Helper => 0,
    };
    let copy = !command.extra_env.is_empty() || listen_fds > 0;
    let mut envp = [core::ptr::null::<c_char>(); ENV_SLOTS];
    let listen_pid = if copy { fill_environment(&mut envp, command.extra_env) } else { None };
    let file = first_arg(command);
    let (exec_status_read, exec_status_write) = sys::pipe_cloexec().map_err(SpawnError::Resources)?;
    let mut child = || {
        let mut pid_variable = [0u8; 40];
        if listen_fds > 0 {
            // Only the child knows its pid. Async-signal-safe: a raw getpid, digits
            // into a buffer that exists already.
            if let Some(slot) = listen_pid.and_then(|at| envp.get_mut(at)) {
                *slot = number_variable(&mut pid_variable, b"LISTEN_PID", sys::getpid() as i64).as_ptr();
            }
            // Stops at the first fd that is not open: the range ends there anyway.
            // (At most 999,999,999 of them: parse_small_number's limit.)
            for fd in 3..3 + listen_fds as i32 {
                if sys::keep_open_on_exec(fd).is_err() {
                    break;
                }
            }
        }
        prepare_child(command.role, original_mask);
        let errno = sys::exec(file, command.argv, if copy { envp.as_ptr() } else { sys::environment() });
        // Best effort: if this write fails the parent sees EOF and the exit code says 126/127.
        let _ = sys::write(&exec_status_write, &errno.0.to_ne_bytes());
        sys::exit_now(crate::exit::for_exec_failure(errno))
    };
    // With `wait`, back here once the child has exec'd or exited: the pipe has its report,
    // or EOF (its write end closed on exec). The pipe, not the shared memory, carries it:
    // qemu-user runs a vfork as a fork, where the child's memory is its own.
    let pid = sys::spawn_child(&mut child, wait).map_err(SpawnError::Resources)?;
    drop(exec_status_write);
    if wait {
        if let Some(errno) = exec_error(&exec_status_read) {
            // The child is exiting right now; collect it here so no one mistakes it
            // for an orphan.
            sys::wait_for(pid);
            return Err(SpawnError::Exec(errno));
        }
    }
    Ok((pid, exec_status_read))
}

fn first_arg<'a>(command: &'a Command) -> &'a CStr {
    // SAFETY: argv is a NULL-terminated array with at least one entry (callers pass a
    // program name first) of NUL-terminated strings that outlive the command.
    unsafe { CStr::from_ptr(*command.argv) }
}

/// Runs in the child: session and terminal, then drinit's original mask. The dispositions
/// are all the default already: drinit reset them at start-up, installs no handler and
/// ignores nothing, and the child inherits them (62 calls fewer before every exec).
fn prepare_child(role: Role, original_mask: &SigMask) {
    // Failures here are not fatal: the program runs, merely without its own group or
    // the terminal's foreground, which is what other inits do in the same case.
    match role {
        Role::Program { .. } if sys::stdin_is_tty() => {
            let _ = sys::setpgid_self();
            // SIGTTOU is still blocked (inherited mask), so this cannot stop us.
            let _ = sys::take_terminal_foreground();
        }
        Role::Program { .. } | Role::Helper => {
            let _ = sys::setsid();
        }
    }
    let _ = sys::set_signal_mask(original_mask);
}

/// Copies `extra` and then drinit's environment (minus the variables `extra` names) into
/// `envp`, leaving a NULL at the end; returns the slot of drinit's `LISTEN_PID`. Entries
/// that do not fit are left out.
fn fill_environment(envp: &mut [*const c_char; ENV_SLOTS], extra: &[&CStr]) -> Option<usize> {
    let mut used = 0;
    let mut listen_pid = None;
    for var in extra {
        push(envp, &mut used, var);
    }
    sys::for_each_environment_entry(|entry| {
        if !extra.iter().any(|var| same_variable(var.to_bytes(), entry.to_bytes())) {
            if same_variable(b"LISTEN_PID=", entry.to_bytes()) {
                listen_pid = Some(used);
            }
            push(envp, &mut used, entry);
        }
    });
    listen_pid
}

/// Appends `entry` to `envp` unless full; the last slot is never written: it is the
/// terminating NULL. A bare `NAME` (no `=`) only removes NAME.
fn push(envp: &mut [*const c_char; ENV_SLOTS], used: &mut usize, entry: &CStr) {
    if *used + 1 < ENV_SLOTS && entry.to_bytes().contains(&b'=') {
        if let Some(slot) = envp.get_mut(*used) {
            *slot = entry.as_ptr();
            *used += 1;
        }
    }
}

/// Socket activation (SPEC §2): how many fds from 3 on were passed to drinit itself
/// (`LISTEN_PID` is `own_pid`). When it names another process, they are not ours: 0.
pub fn listen_fds(own_pid: i32) -> u32 {
    let number = |name| sys::getenv(name).and_then(|v| crate::sig::parse_small_number(v.to_bytes()));
    match (number(c"LISTEN_PID"), number(c"LISTEN_FDS")) {
        (Some(pid), Some(fds)) if pid == own_pid => fds as u32,
        _ => 0,
    }
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
    fn the_environment_replaces_removes_and_finds_listen_pid() {
        // Only this test touches these variables.
        std::env::set_var("NOTIFY_SOCKET", "/run/inherited");
        std::env::set_var("LISTEN_PID", "1");
        std::env::set_var("DRINIT_TEST_ENV_A", "old");
        let mut envp = [core::ptr::null::<c_char>(); ENV_SLOTS];
        let listen_pid = fill_environment(&mut envp, &[c"DRINIT_TEST_ENV_A=new", c"NOTIFY_SOCKET"]);
        let entries: Vec<String> = envp
            .iter()
            .take_while(|p| !p.is_null())
            // SAFETY: fill_environment stores pointers to live NUL-terminated strings.
            .map(|&p| unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned())
            .collect();
        assert_eq!(entries[0], "DRINIT_TEST_ENV_A=new");
        assert!(!entries.iter().any(|e| e.starts_with("NOTIFY_SOCKET")), "a bare name removes the variable");
        assert!(!entries.iter().any(|e| e == "DRINIT_TEST_ENV_A=old"));
        assert_eq!(entries[listen_pid.unwrap()], "LISTEN_PID=1");
        assert!(envp[entries.len()].is_null());
    }

    #[test]
    fn variables_match_by_name_only() {
        assert!(same_variable(b"DRINIT_PID=1", b"DRINIT_PID=77"));
        assert!(!same_variable(b"DRINIT_PID=1", b"DRINIT_PIDX=1"));
        assert!(!same_variable(b"A=1", b"AB=1"));
    }
}
