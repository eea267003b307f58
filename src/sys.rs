//! The only module with `unsafe`: thin wrappers over libc and rustix.
//!
//! Each wrapper is one system call with a `SAFETY:` line saying which memory the kernel
//! touches and why it is valid. Everything else in drinit calls these safe functions.

use core::ffi::{c_char, c_int, c_void, CStr};
use core::mem::{size_of, zeroed, MaybeUninit};
use rustix::fd::{BorrowedFd, RawFd};

/// A raw errno value, kept as a number: errors are compared by value, never as text.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Errno(pub i32);

impl Errno {
    pub const INTR: Errno = Errno(libc::EINTR);
    pub const AGAIN: Errno = Errno(libc::EAGAIN);
    pub const NOENT: Errno = Errno(libc::ENOENT);
    pub const ACCES: Errno = Errno(libc::EACCES);
    pub const NOTDIR: Errno = Errno(libc::ENOTDIR);
    pub const ADDRINUSE: Errno = Errno(libc::EADDRINUSE);
    pub const NOSYS: Errno = Errno(libc::ENOSYS);

    fn from_rustix(e: rustix::io::Errno) -> Errno {
        Errno(e.raw_os_error())
    }

    /// The symbolic name of the errors drinit's messages meet most, for one-line log
    /// messages; others are logged by number (a table of every errno costs size).
    pub fn name(self) -> Option<&'static [u8]> {
        Some(match self.0 {
            libc::EPERM => b"EPERM",
            libc::ENOENT => b"ENOENT",
            libc::EAGAIN => b"EAGAIN",
            libc::ENOMEM => b"ENOMEM",
            libc::EACCES => b"EACCES",
            libc::EINVAL => b"EINVAL",
            libc::EMFILE => b"EMFILE",
            libc::ENOEXEC => b"ENOEXEC",
            libc::EADDRINUSE => b"EADDRINUSE",
            libc::ECONNREFUSED => b"ECONNREFUSED",
            libc::ENOSYS => b"ENOSYS",
            _ => return None,
        })
    }
}

pub type SysResult<T> = Result<T, Errno>;

fn last_errno() -> Errno {
    // SAFETY: __errno_location returns the calling thread's errno slot, always valid.
    Errno(unsafe { *libc::__errno_location() })
}

fn check(ret: c_int) -> SysResult<c_int> {
    if ret < 0 {
        Err(last_errno())
    } else {
        Ok(ret)
    }
}

// ---------------------------------------------------------------------------------------
// File descriptors

/// An fd that drinit opened and therefore closes. Unlike `OwnedFd` it has no assert that
/// could panic, and it is never built around fds drinit does not own (0, 1, 2).
pub struct Fd(RawFd);

impl Fd {
    pub fn raw(&self) -> RawFd {
        self.0
    }

    pub fn borrow(&self) -> BorrowedFd<'_> {
        // Every Fd is built from a successful syscall, so this never fires; saying so lets
        // the compiler drop rustix's `fd != -1` assert, a panic path in the release binary.
        if self.0 < 0 {
            abort();
        }
        // SAFETY: self.0 is open for as long as self lives (closed only in Drop).
        unsafe { BorrowedFd::borrow_raw(self.0) }
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: we own this fd and nothing uses it after drop; close errors are moot here.
        // Raw: musl's close() is a wrapper with asynchronous-I/O bookkeeping (size budget).
        unsafe { libc::syscall(libc::SYS_close, self.0) };
    }
}

/// Writes all of `buf` to a standard stream; errors (a closed stderr, a broken pipe) are
/// dropped on purpose: logging must never stop drinit. Does not touch errno (raw syscall).
pub fn write_stdio(fd: i32, mut buf: &[u8]) {
    let stream = standard_stream(if fd == 1 { 1 } else { 2 });
    while !buf.is_empty() {
        match rustix::io::write(stream, buf) {
            Ok(0) => return,
            Ok(n) => buf = buf.get(n..).unwrap_or(&[]),
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return,
        }
    }
}

/// How drinit's own log lines reach stderr (`log_without_blocking`): 0 a plain write (the
/// client, start-up, a regular file), 1 `send` with MSG_DONTWAIT (a socket: journald, a
/// log driver), 2 a private non-blocking reopening of fd 2 (`LOG_FD`), 3 poll, then write.
static LOG_MODE: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(0);
static LOG_FD: core::sync::atomic::AtomicI32 = core::sync::atomic::AtomicI32::new(2);

/// Makes drinit's log writes non-blocking without touching fd 2's own flags, which the
/// program shares (O_NONBLOCK there would make the program's writes fail with EAGAIN).
pub fn log_without_blocking() {
    use core::sync::atomic::Ordering::Relaxed;
    let Ok(stat) = rustix::fs::fstat(standard_stream(2)) else { return };
    let mode = match rustix::fs::FileType::from_raw_mode(stat.st_mode) {
        rustix::fs::FileType::RegularFile => 0,
        rustix::fs::FileType::Socket => 1,
        // A pipe or a terminal: a new open file description of the same object has flags
        // of its own. /proc/self/fd/2 opens one (for a pipe only while it has a reader).
        _ => match open(c"/proc/self/fd/2", libc::O_WRONLY | libc::O_NONBLOCK | libc::O_NOCTTY) {
            Ok(fd) => {
                LOG_FD.store(fd.0, Relaxed);
                core::mem::forget(fd); // lives as long as drinit
                2
            }
            Err(_) => 3,
        },
    };
    LOG_MODE.store(mode, Relaxed);
}

/// Writes one log line without blocking (once `log_without_blocking` ran); false when the
/// line, or what was left of it, was dropped because stderr could not take it at once.
pub fn write_log(mut buf: &[u8]) -> bool {
    use core::sync::atomic::Ordering::Relaxed;
    let mode = LOG_MODE.load(Relaxed);
    if mode == 0 {
        write_stdio(2, buf);
        return true;
    }
    let fd = LOG_FD.load(Relaxed);
    if fd < 0 {
        return false; // never: it holds 2 or an fd open() returned (and rustix asserts it)
    }
    // SAFETY: fd 2, or the reopened fd that drinit keeps open for its whole life.
    let stream = unsafe { BorrowedFd::borrow_raw(fd) };
    if mode == 3 {
        let mut fds = [rustix::event::PollFd::from_borrowed_fd(stream, PollFlags::OUT)];
        let zero = rustix::time::Timespec { tv_sec: 0, tv_nsec: 0 };
        if !matches!(rustix::event::poll(&mut fds, Some(&zero)), Ok(1)) {
            return false;
        }
    }
    while !buf.is_empty() {
        let sent = if mode == 1 {
            // SAFETY: the kernel reads buf.len() bytes of `buf`; fd is a socket (fstat said so).
            let n = unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) };
            if n < 0 { Err(last_errno()) } else { Ok(n as usize) }
        } else {
            rustix::io::write(stream, buf).map_err(Errno::from_rustix)
        };
        match sent {
            Ok(0) => return false,
            Ok(n) => buf = buf.get(n..).unwrap_or(&[]),
            Err(Errno::INTR) => continue,
            Err(_) => return false,
        }
    }
    true
}

pub fn read(fd: &Fd, buf: &mut [u8]) -> SysResult<usize> {
    rustix::io::read(fd.borrow(), buf).map_err(Errno::from_rustix)
}

pub fn write(fd: &Fd, buf: &[u8]) -> SysResult<usize> {
    rustix::io::write(fd.borrow(), buf).map_err(Errno::from_rustix)
}

/// A pipe whose ends close on exec: the exec-status channel between fork and exec.
pub fn pipe_cloexec() -> SysResult<(Fd, Fd)> {
    let mut fds = [0 as c_int; 2];
    // The raw syscall, as for open and signalfd: musl's wrappers carry fallbacks for kernels
    // older than 2.6.27 (size budget).
    // SAFETY: pipe2 writes two ints into `fds`, which has room for exactly two.
    check(unsafe { libc::syscall(libc::SYS_pipe2, fds.as_mut_ptr(), libc::O_CLOEXEC) } as c_int)?;
    Ok((Fd(fds[0]), Fd(fds[1])))
}

/// fd 0, 1 or 2, borrowed: drinit never closes them (and if the container started us
/// with one closed, calls on it fail with EBADF, which every caller tolerates).
fn standard_stream(fd: RawFd) -> BorrowedFd<'static> {
    // SAFETY: 0..=2 are never closed by drinit; a closed one only makes syscalls fail.
    unsafe { BorrowedFd::borrow_raw(fd) }
}

pub fn stdin_is_tty() -> bool {
    rustix::termios::isatty(standard_stream(0))
}

// ---------------------------------------------------------------------------------------
// Process identity and control

pub fn getpid() -> i32 {
    rustix::process::getpid().as_raw_nonzero().get()
}

pub fn geteuid() -> u32 {
    rustix::process::geteuid().as_raw()
}

pub fn set_child_subreaper() -> SysResult<()> {
    rustix::process::set_child_subreaper(Some(rustix::process::getpid())).map_err(Errno::from_rustix)
}

pub fn set_parent_death_signal(signal: i32) -> SysResult<()> {
    // SAFETY: PR_SET_PDEATHSIG takes a signal number by value; no memory is passed.
    // Raw: musl's prctl() unpacks variadic arguments (size budget).
    check(unsafe { libc::syscall(libc::SYS_prctl, libc::PR_SET_PDEATHSIG, signal as libc::c_ulong, 0, 0, 0) } as c_int).map(|_| ())
}

/// `kill(pid, sig)` for one process. `pid` must be > 0: no negative-pid tricks here.
pub fn kill_process(pid: i32, signal: i32) -> SysResult<()> {
    if pid <= 0 {
        return Err(Errno(libc::ESRCH));
    }
    // SAFETY: kill takes two integers; no memory is passed.
    check(unsafe { libc::kill(pid, signal) }).map(|_| ())
}

/// `kill(-pgid, sig)`: every process in the group `pgid` (> 0).
pub fn kill_process_group(pgid: i32, signal: i32) -> SysResult<()> {
    if pgid <= 0 {
        return Err(Errno(libc::ESRCH));
    }
    // SAFETY: kill takes two integers; no memory is passed.
    check(unsafe { libc::kill(-pgid, signal) }).map(|_| ())
}

/// `kill(-1, sig)`: everything this process may signal. Only for PID 1 of its own PID
/// namespace, where "everything" is exactly the container.
pub fn kill_everything_in_namespace(signal: i32) -> SysResult<()> {
    // SAFETY: kill takes two integers; no memory is passed.
    check(unsafe { libc::kill(-1, signal) }).map(|_| ())
}

/// How a child ended, decoded from the wait status bits only.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ExitStatus {
    Exited(u8),
    Signaled(u8),
}

/// What one `wait(WNOHANG)` found.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Reaped {
    Child(i32, ExitStatus),
    /// Children exist, none has ended.
    NoneReady,
    /// drinit has no children at all (ECHILD).
    NoChildren,
}

/// `wait(WNOHANG)` for any child.
pub fn reap_one() -> Reaped {
    loop {
        match rustix::process::wait(rustix::process::WaitOptions::NOHANG) {
            Ok(Some((pid, status))) => {
                let decoded = match (status.exit_status(), status.terminating_signal()) {
                    (Some(code), _) => ExitStatus::Exited(code as u8),
                    (None, Some(sig)) => ExitStatus::Signaled(sig as u8),
                    // Stopped/continued are not requested (no WUNTRACED); skip defensively.
                    (None, None) => continue,
                };
                return Reaped::Child(pid.as_raw_nonzero().get(), decoded);
            }
            Ok(None) => return Reaped::NoneReady,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return Reaped::NoChildren,
        }
    }
}

/// `pidfd_open`: a handle on one process; signals sent through it never reach a process
/// that reused the pid later (Linux 5.3+; ENOSYS before).
pub fn pidfd_open(pid: i32) -> SysResult<Fd> {
    // SAFETY: pidfd_open takes two integers; no memory is passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 { Err(last_errno()) } else { Ok(Fd(fd as RawFd)) }
}

/// `pidfd_send_signal(pidfd, signal)`: ESRCH once that process has ended.
pub fn pidfd_signal(pidfd: &Fd, signal: i32) -> SysResult<()> {
    // SAFETY: integers only; the siginfo pointer is NULL (the kernel fills in a kill()'s).
    let r = unsafe { libc::syscall(libc::SYS_pidfd_send_signal, pidfd.raw(), signal, core::ptr::null::<u8>(), 0) };
    if r < 0 { Err(last_errno()) } else { Ok(()) }
}

/// Blocking wait for one specific child that is known to be exiting right now.
pub fn wait_for(pid: i32) {
    let mut status: c_int = 0;
    loop {
        // SAFETY: wait4 writes one int into `status`, a valid local, and no rusage (null).
        let r = unsafe { libc::syscall(libc::SYS_wait4, pid, &mut status as *mut c_int, 0, core::ptr::null_mut::<u8>()) };
        if r >= 0 || last_errno() != Errno::INTR {
            return;
        }
    }
}

/// Stack of a child started by `spawn_child`: room for the PATH search's 4 KiB
/// candidate and a few small frames until exec, with margin.
const CHILD_STACK: usize = 32 * 1024;

/// Starts a child that runs `child` on a stack of its own and returns its pid. `child`
/// must make only raw system calls and exec or exit: it must not return, and it must not
/// move out of what it borrows (drinit still owns it).
///
/// `share_memory`: the child runs in drinit's memory while drinit waits; drinit resumes
/// once the child has exec'd or exited (vfork semantics: `clone(CLONE_VM | CLONE_VFORK)`,
/// as posix_spawn does). No page tables are copied and no page is copied on write, in the
/// child or after it in drinit: a start ~30 µs faster than a fork here (1,500 interleaved
/// starts). Otherwise a fork: the child has a copy of drinit's memory, STACK included,
/// and drinit goes on at once.
pub fn spawn_child<F: FnMut()>(child: &mut F, share_memory: bool) -> SysResult<i32> {
    extern "C" fn entry<F: FnMut()>(arg: *mut c_void) -> ! {
        // SAFETY: `arg` is the `&mut F` below, alive: in drinit's memory its owner is
        // suspended until the child execs or exits; in a copy, nothing else runs there.
        let child = unsafe { &mut *arg.cast::<F>() };
        child();
        exit_now(crate::exit::SYSTEM_ERROR)
    }
    // In .bss, not on drinit's stack: only the pages the child touches become resident
    // (a frame this large is probed page by page, which made all 32 KiB resident).
    static mut STACK: [u128; CHILD_STACK / 16] = [0; CHILD_STACK / 16];
    // SAFETY: one past the end of STACK (16-byte aligned); only a child uses it: one that
    // shares drinit's memory while drinit is suspended, or its own copy of it.
    let top = unsafe { (&raw mut STACK).cast::<u8>().add(CHILD_STACK) };
    let shared = if share_memory { libc::CLONE_VM | libc::CLONE_VFORK } else { 0 };
    // SAFETY: see clone_on_stack; with CLONE_VM, CLONE_VFORK keeps this thread (drinit's
    // only one) suspended while the child runs on STACK with `child`, so nothing else
    // touches either; without it, the child has copies of both. drinit installs no signal
    // handler that could run in the child.
    let pid = unsafe { clone_on_stack((shared | libc::SIGCHLD) as usize, top, entry::<F>, (child as *mut F).cast()) };
    if pid < 0 { Err(Errno(-pid as i32)) } else { Ok(pid as i32) }
}

/// The clone system call with a new stack, where the child calls `entry(arg)`, which
/// never returns. Hand-written because the child cannot return through any function
/// frame (it has none on its new stack), and musl's clone() would bring ~800 bytes of
/// fork bookkeeping (size budget). Returns the pid, or -errno.
///
/// SAFETY (callers): `top` is the 16-byte aligned top of memory the child may use as its
/// stack until it execs or exits; `entry` does not return.
#[cfg(target_arch = "x86_64")]
unsafe fn clone_on_stack(flags: usize, top: *mut u8, entry: extern "C" fn(*mut c_void) -> !, arg: *mut c_void) -> isize {
    let ret: isize;
    // SAFETY: clone(flags, newsp, ptid, ctid, tls) with no tid or TLS pointers. The
    // parent gets the pid in rax (the syscall clobbers rcx and r11); the child starts on
    // `top` with rax = 0, clears the frame pointer and calls entry(arg), 16-aligned (the
    // call's return address makes rsp 8 mod 16, as at any function entry), and exits
    // should it ever come back.
    unsafe {
        core::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "xor ebp, ebp",
            "mov rdi, r13",
            "call r12",
            "mov eax, 60",
            "xor edi, edi",
            "syscall",
            "ud2",
            "2:",
            inlateout("rax") libc::SYS_clone as isize => ret,
            in("rdi") flags,
            in("rsi") top,
            in("rdx") 0usize,
            in("r10") 0usize,
            in("r8") 0usize,
            in("r12") entry,
            in("r13") arg,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

#[cfg(target_arch = "aarch64")]
unsafe fn clone_on_stack(flags: usize, top: *mut u8, entry: extern "C" fn(*mut c_void) -> !, arg: *mut c_void) -> isize {
    let ret: isize;
    // SAFETY: clone(flags, newsp, ptid, tls, ctid) with no tid or TLS pointers; the
    // parent gets the pid in x0. The child starts on `top` (16-byte aligned, as sp must
    // be) with x0 = 0, clears the frame and link registers, calls entry(arg), and exits
    // should it ever come back.
    unsafe {
        core::arch::asm!(
            "svc #0",
            "cbnz x0, 2f",
            "mov x29, xzr",
            "mov x30, xzr",
            "mov x0, x10",
            "blr x9",
            "mov x8, #93",
            "mov x0, xzr",
            "svc #0",
            "udf #0",
            "2:",
            inlateout("x0") flags as isize => ret,
            in("x1") top,
            in("x2") 0usize,
            in("x3") 0usize,
            in("x4") 0usize,
            in("x8") libc::SYS_clone,
            in("x9") entry,
            in("x10") arg,
            options(nostack),
        );
    }
    ret
}

/// `_exit`: leave without running atexit handlers (a forked child must not flush anything).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no memory of ours.
    unsafe { libc::_exit(code) }
}

pub fn setsid() -> SysResult<()> {
    // SAFETY: setsid takes no arguments.
    check(unsafe { libc::setsid() }).map(|_| ())
}

pub fn setpgid_self() -> SysResult<()> {
    // SAFETY: setpgid takes two integers.
    check(unsafe { libc::setpgid(0, 0) }).map(|_| ())
}

/// Makes our own process group the terminal's foreground group (stdin is the terminal).
pub fn take_terminal_foreground() -> SysResult<()> {
    rustix::termios::tcsetpgrp(standard_stream(0), rustix::process::getpid()).map_err(Errno::from_rustix)
}

/// Where a name without `/` is looked up when drinit has no PATH (what the shell uses).
const DEFAULT_PATH: &[u8] = b"/usr/local/bin:/bin:/usr/bin";

/// Runs `file` like the shell: a name with a `/` as it is, any other in each directory of
/// drinit's PATH in turn (an empty entry is the current directory). Returns only on
/// failure: EACCES if some candidate existed but could not be run and none could, ENOENT
/// if none existed, or the first other error (ENOEXEC, E2BIG…), which ends the search.
/// Not musl's execvpe: this one is smaller (size budget), and reports "not found" (127)
/// whatever the last directory's error, ENOENT or ENOTDIR.
pub fn exec(file: &CStr, argv: *const *const c_char, envp: *const *const c_char) -> Errno {
    let name = file.to_bytes();
    // An empty name is no file anywhere: the kernel's ENOENT says so.
    if name.contains(&b'/') || name.is_empty() {
        return execve(file, argv, envp);
    }
    let mut path = getenv(c"PATH").map_or(DEFAULT_PATH, |p| p.to_bytes());
    // PATH_MAX: no longer candidate can be run (the kernel would say ENAMETOOLONG).
    let mut candidate = [0u8; 4096];
    let mut denied = false;
    // Not text::Fields: a trailing `:` is one more entry here (the current directory).
    loop {
        let end = path.iter().position(|&c| c == b':').unwrap_or(path.len());
        let dir = path.get(..end).unwrap_or(&[]);
        let slash: &[u8] = if dir.is_empty() { b"" } else { b"/" };
        // A candidate cut to fit would be another file: one that does not fit is skipped.
        if crate::text::join(&mut candidate, &[dir, slash, name]) == dir.len() + slash.len() + name.len() {
            match execve(cstr_until_nul(&candidate), argv, envp) {
                Errno::ACCES => denied = true,
                Errno::NOENT | Errno::NOTDIR => {}
                other => return other,
            }
        }
        match path.get(end + 1..) {
            Some(rest) => path = rest,
            None => return if denied { Errno::ACCES } else { Errno::NOENT },
        }
    }
}

fn execve(file: &CStr, argv: *const *const c_char, envp: *const *const c_char) -> Errno {
    // SAFETY: file is NUL-terminated; argv and envp are NULL-terminated arrays that
    // outlive this call (argv is the process's own, envp is built by the caller).
    unsafe { libc::execve(file.as_ptr(), argv, envp) };
    last_errno()
}

extern "C" {
    static environ: *const *const c_char;
}

/// The process environment as a NULL-terminated array.
pub fn environment() -> *const *const c_char {
    // SAFETY: reading the pointer value of `environ`; drinit never modifies its environment.
    unsafe { environ }
}

/// One environment variable, if set. The bytes live as long as the process.
pub fn getenv(name: &CStr) -> Option<&'static CStr> {
    // Not musl's getenv(), which brings a word-at-a-time strchrnul (size budget); and no
    // strlen per entry either: ~25 lookups at start-up, each over the whole environment.
    let name = name.to_bytes();
    let mut entry = environment();
    // SAFETY: `environ` is a NULL-terminated array of NUL-terminated strings, which drinit
    // never changes. Each entry is read byte by byte only while it matches `name` (which
    // has no NUL), so never past its NUL; the value after `NAME=` lives as long as the
    // environment.
    unsafe {
        while !entry.is_null() && !(*entry).is_null() {
            let p = (*entry).cast::<u8>();
            if name.iter().enumerate().all(|(i, &c)| *p.add(i) == c) && *p.add(name.len()) == b'=' {
                return Some(CStr::from_ptr(p.add(name.len() + 1).cast()));
            }
            entry = entry.add(1);
        }
    }
    None
}

// ---------------------------------------------------------------------------------------
// Signals

/// A set of signals as the kernel sees it.
#[derive(Clone, Copy)]
pub struct SigMask(libc::sigset_t);

impl SigMask {
    /// Every signal, 32-34 included: libc's sigfillset leaves out the three it reserves for
    /// its threads, and one of those unblocked would kill drinit (SIGRTMIN is 34) where
    /// it should be forwarded, and would bypass the one wait that drinit's sockets and
    /// timer signal through.
    pub fn full() -> SigMask {
        // SAFETY: sigset_t is plain data; all-zero is valid.
        let mut set: libc::sigset_t = unsafe { zeroed() };
        // SAFETY: sigset_t is at least 8 bytes; its first 8 are the kernel's 64 signals.
        unsafe { (&mut set as *mut libc::sigset_t).cast::<u64>().write_unaligned(u64::MAX) };
        SigMask(set)
    }
}

/// Blocks every signal and returns the mask drinit was started with.
pub fn block_all_signals() -> SysResult<SigMask> {
    let all = SigMask::full();
    // SAFETY: sigset_t is plain data; the kernel overwrites it with the old mask.
    let mut old: libc::sigset_t = unsafe { zeroed() };
    sigprocmask(&all, &mut old)?;
    Ok(SigMask(old))
}

pub fn set_signal_mask(mask: &SigMask) -> SysResult<()> {
    // SAFETY: sigset_t is plain data; the old mask is written here and dropped.
    let mut old: libc::sigset_t = unsafe { zeroed() };
    sigprocmask(mask, &mut old)
}

/// The raw syscall: libc's wrapper hides 32-34 from the old mask it returns.
fn sigprocmask(mask: &SigMask, old: &mut libc::sigset_t) -> SysResult<()> {
    // SAFETY: the kernel reads 8 bytes from `mask` and writes 8 into `old`, both sigset_t
    // values (larger) that outlive the call.
    let r = unsafe { libc::syscall(libc::SYS_rt_sigprocmask, libc::SIG_SETMASK, &mask.0, old as *mut libc::sigset_t, 8usize) };
    check(r as c_int).map(|_| ())
}

/// Sets every signal's disposition back to the default, once at start-up: every child
/// inherits them, and drinit never changes one again.
/// The raw syscall, because libc refuses to touch the signals it reserves (32-34), and a
/// program must not inherit those ignored either.
pub fn reset_signal_dispositions() {
    // A zeroed kernel `struct sigaction` (handler, flags, restorer, mask) is SIG_DFL.
    let default_action = [0u64; 4];
    for signal in 1..=64 {
        if signal == libc::SIGKILL || signal == libc::SIGSTOP {
            continue;
        }
        // SAFETY: the kernel reads one struct sigaction (at most 32 bytes) from a valid
        // zeroed buffer; the old action is not requested. Errors are harmless here.
        unsafe { libc::syscall(libc::SYS_rt_sigaction, signal, default_action.as_ptr(), core::ptr::null_mut::<u8>(), 8usize) };
    }
}

/// A blocking signalfd: the event loop's one wait is a `read` of it.
pub fn signalfd(mask: &SigMask) -> SysResult<Fd> {
    // SAFETY: the kernel reads its 8-byte signal set from `mask`, a valid sigset_t (larger).
    let fd = check(unsafe { libc::syscall(libc::SYS_signalfd4, -1, &mask.0, 8usize, libc::SFD_CLOEXEC) } as c_int)?;
    Ok(Fd(fd))
}

/// One signal as the kernel dequeued it.
#[derive(Clone, Copy)]
pub struct SignalInfo {
    pub signal: i32,
    pub sender_pid: i32,
    /// `si_code`: > 0 only when the kernel generated the signal (a process cannot
    /// queue a positive code to another), `SI_TIMER` from a POSIX timer.
    pub code: i32,
}

/// siginfo_t on 64-bit Linux as 32-bit words: signo, errno, code, padding, then the union,
/// whose first field is the sender's pid for kill, sigqueue and SIGCHLD (128 bytes in all).
const SIGINFO_WORDS: usize = 32;
const SI_SIGNO: usize = 0;
const SI_CODE: usize = 2;
const SI_PID: usize = 4;

/// Blocks until a signal of `set` (all blocked) is pending and dequeues it, the lowest
/// first: the raw rt_sigtimedwait, as musl's sigwaitinfo retries on EINTR with a loop
/// drinit does not need (no handler is installed). Writes it to `out[0]`; returns 1, or
/// 0 on an error.
pub fn take_signal(set: &SigMask, out: &mut [SignalInfo; 16]) -> usize {
    // Not zeroed first (once per forwarded signal): the kernel writes all of it.
    let mut info = MaybeUninit::<[i32; SIGINFO_WORDS]>::uninit();
    // SAFETY: the kernel reads an 8-byte signal set from `set` (a larger sigset_t), no
    // timeout (NULL), and writes one 128-byte siginfo into `info`.
    let r = unsafe { libc::syscall(libc::SYS_rt_sigtimedwait, &set.0, info.as_mut_ptr(), core::ptr::null::<libc::timespec>(), 8usize) };
    if r <= 0 {
        return 0;
    }
    // SAFETY: a signal was dequeued, so the kernel wrote the whole siginfo.
    let info = unsafe { info.assume_init() };
    out[0] = SignalInfo { signal: info[SI_SIGNO], sender_pid: info[SI_PID], code: info[SI_CODE] };
    1
}

/// Blocks until a signal is pending, then reads up to 16 into `out`; returns how many.
pub fn read_signals(fd: &Fd, out: &mut [SignalInfo; 16]) -> usize {
    const INFO: usize = size_of::<libc::signalfd_siginfo>();
    let mut raw = [MaybeUninit::<libc::signalfd_siginfo>::uninit(); 16];
    // SAFETY: the kernel writes whole signalfd_siginfo records into `raw`, at most its size.
    let n = unsafe { libc::read(fd.raw(), raw.as_mut_ptr().cast(), INFO * 16) };
    if n <= 0 {
        return 0;
    }
    let count = (n as usize / INFO).min(16);
    for (slot, info) in out.iter_mut().zip(raw.iter()).take(count) {
        // SAFETY: the first `count` records were written by the kernel above.
        let info = unsafe { info.assume_init_ref() };
        *slot = SignalInfo { signal: info.ssi_signo as i32, sender_pid: info.ssi_pid as i32, code: info.ssi_code };
    }
    count
}

// ---------------------------------------------------------------------------------------
// Time: one monotonic clock in milliseconds, and a POSIX timer armed at absolute deadlines.

/// Milliseconds on CLOCK_MONOTONIC.
pub type Millis = u64;

pub fn now() -> Millis {
    // SAFETY: timespec is plain data; clock_gettime fills it.
    let mut t: libc::timespec = unsafe { zeroed() };
    // The raw syscall, not libc's vDSO lookup: a few hundred ns slower per event, and
    // ~600 bytes smaller (size budget); drinit reads the clock a handful of times per event.
    // SAFETY: the kernel writes one timespec into `t`, a valid local.
    unsafe { libc::syscall(libc::SYS_clock_gettime, libc::CLOCK_MONOTONIC, &mut t as *mut libc::timespec) };
    (t.tv_sec as u64).saturating_mul(1000).saturating_add(t.tv_nsec as u64 / 1_000_000)
}

/// A POSIX timer on CLOCK_MONOTONIC that queues `signal` (code `SI_TIMER`) when it
/// fires: deadlines arrive in the one wait like everything else. Its signal is allocated
/// with the timer, so a full signal queue cannot lose it.
pub struct Timer(c_int);

impl Timer {
    pub fn create(signal: i32) -> SysResult<Timer> {
        // struct sigevent: value (8 bytes), signo, notify (SIGEV_SIGNAL = 0), then padding.
        let mut event = [0i32; 16];
        event[2] = signal;
        let mut id: c_int = 0;
        // SAFETY: the kernel reads one 64-byte sigevent from `event` and writes the timer id
        // into `id`; both are valid locals.
        let r = unsafe { libc::syscall(libc::SYS_timer_create, libc::CLOCK_MONOTONIC, event.as_ptr(), &mut id as *mut c_int) };
        check(r as c_int).map(|_| Timer(id))
    }

    /// Fires once at `deadline` (absolute; at once if it has passed), or disarms with `None`.
    pub fn arm(&self, deadline: Option<Millis>) -> SysResult<()> {
        // it_interval (0: one shot), then it_value; a value of 0 would disarm: 1 ns instead.
        let spec: [i64; 4] = match deadline {
            Some(ms) => [0, 0, (ms / 1000) as i64, ((ms % 1000) * 1_000_000).max(1) as i64],
            None => [0; 4],
        };
        // SAFETY: the kernel reads one itimerspec (four 64-bit words) from `spec`; the old
        // value is not requested.
        let r = unsafe { libc::syscall(libc::SYS_timer_settime, self.0, libc::TIMER_ABSTIME, spec.as_ptr(), core::ptr::null_mut::<u8>()) };
        check(r as c_int).map(|_| ())
    }
}

/// The signal of the deadline timer: 33, which no user names (libc's SIGRTMIN is 34).
pub const TIMER_SIGNAL: i32 = 33;
pub const SI_TIMER: i32 = -2;
const POLL_IN: i32 = 1;

/// Makes the kernel send drinit SIGIO whenever `fd` becomes ready (O_ASYNC), so the one
/// wait for signals covers the socket too. SIGIO, not a realtime signal: one is
/// pending at most, so a flood of datagrams cannot pile up a queue of stale signals
/// (the socket is read to the end on each). Raw fcntl: musl's wrapper is 341 bytes of
/// cases drinit does not use.
pub fn signal_when_ready(fd: &Fd) -> SysResult<()> {
    for (command, arg) in [(libc::F_SETOWN, getpid()), (libc::F_SETFL, libc::O_NONBLOCK | libc::O_ASYNC)] {
        // SAFETY: these fcntl commands take an int by value; no memory is passed.
        check(unsafe { libc::syscall(libc::SYS_fcntl, fd.raw(), command, arg) } as c_int)?;
    }
    Ok(())
}

/// Queues SIGIO to drinit itself, as the kernel would: "look at the sockets again" after
/// a bounded batch, behind the signals already waiting.
pub fn queue_readable_to_self() -> SysResult<()> {
    let mut info = [0i32; SIGINFO_WORDS];
    info[SI_SIGNO] = libc::SIGIO;
    info[SI_CODE] = POLL_IN;
    // SAFETY: the kernel reads one 128-byte siginfo from `info`, a valid local. A process
    // may queue any code to itself.
    let r = unsafe { libc::syscall(libc::SYS_rt_sigqueueinfo, getpid(), libc::SIGIO, info.as_ptr()) };
    check(r as c_int).map(|_| ())
}

// ---------------------------------------------------------------------------------------
// poll

pub use rustix::event::PollFlags;

/// Waits up to `timeout_ms` for `fd` to become ready for `events`: the control client's
/// reply wait; with 0, whether the health probe's socket is ready (never a wait in the
/// init's event loop).
pub fn poll_one(fd: &Fd, events: PollFlags, timeout_ms: u64) -> bool {
    let mut fds = [rustix::event::PollFd::from_borrowed_fd(fd.borrow(), events)];
    let timeout = rustix::time::Timespec {
        tv_sec: (timeout_ms / 1000) as _,
        tv_nsec: ((timeout_ms % 1000) * 1_000_000) as _,
    };
    matches!(rustix::event::poll(&mut fds, Some(&timeout)), Ok(n) if n > 0)
}

// ---------------------------------------------------------------------------------------
// The control socket: abstract AF_UNIX datagrams with kernel credentials.

/// An abstract socket address (the name without the leading NUL), as the kernel stores it.
#[derive(Clone, Copy)]
pub struct UnixAddr {
    addr: libc::sockaddr_un,
    len: libc::socklen_t,
}

impl UnixAddr {
    pub const MAX_NAME: usize = 107;

    pub fn abstract_name(name: &[u8]) -> Option<UnixAddr> {
        if name.is_empty() || name.len() > Self::MAX_NAME {
            return None;
        }
        // SAFETY: sockaddr_un is plain data; all-zero is a valid (empty) address.
        let mut addr: libc::sockaddr_un = unsafe { zeroed() };
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        // sun_path[0] stays 0: that is what makes the name abstract.
        for (dst, src) in addr.sun_path.iter_mut().skip(1).zip(name) {
            *dst = *src as c_char;
        }
        let len = (size_of::<libc::sa_family_t>() + 1 + name.len()) as libc::socklen_t;
        Some(UnixAddr { addr, len })
    }

    fn empty() -> UnixAddr {
        // SAFETY: sockaddr_un is plain data; all-zero is a valid (empty) address.
        UnixAddr { addr: unsafe { zeroed() }, len: size_of::<libc::sockaddr_un>() as libc::socklen_t }
    }
}

/// A datagram socket; drinit's own never block (`nonblocking`), the client's may wait for
/// room in drinit's queue (bounded by `set_send_timeout`).
pub fn unix_dgram_socket(nonblocking: bool) -> SysResult<Fd> {
    let flags = if nonblocking { libc::SOCK_NONBLOCK } else { 0 };
    socket(libc::AF_UNIX, libc::SOCK_DGRAM | flags)
}

pub fn bind(fd: &Fd, addr: &UnixAddr) -> SysResult<()> {
    // SAFETY: addr.addr is a valid sockaddr_un of which the kernel reads addr.len bytes.
    check(unsafe { libc::bind(fd.raw(), (&addr.addr as *const libc::sockaddr_un).cast(), addr.len) }).map(|_| ())
}

/// Binds to a fresh kernel-chosen abstract name, so the other side can reply.
pub fn bind_autobind(fd: &Fd) -> SysResult<()> {
    let addr = UnixAddr::empty();
    let family_only = size_of::<libc::sa_family_t>() as libc::socklen_t;
    let mut with_family = addr;
    with_family.addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    // SAFETY: the kernel reads only the family field (family_only bytes) of a valid sockaddr_un.
    check(unsafe { libc::bind(fd.raw(), (&with_family.addr as *const libc::sockaddr_un).cast(), family_only) })
        .map(|_| ())
}

fn set_socket_option<T>(fd: &Fd, option: c_int, value: &T) -> SysResult<()> {
    // SAFETY: the kernel reads size_of::<T>() bytes from `value`, a valid reference.
    check(unsafe { libc::setsockopt(fd.raw(), libc::SOL_SOCKET, option, (value as *const T).cast(), size_of::<T>() as _) })
        .map(|_| ())
}

/// Asks the kernel to attach the sender's pid/uid/gid to every datagram we receive.
pub fn enable_passcred(fd: &Fd) -> SysResult<()> {
    set_socket_option(fd, libc::SO_PASSCRED, &(1 as c_int))
}

/// How long a blocking send may wait for room in the receiver's queue (at least 1 ms:
/// 0 would mean forever).
pub fn set_send_timeout(fd: &Fd, ms: Millis) -> SysResult<()> {
    let ms = ms.max(1);
    let timeout = libc::timeval { tv_sec: (ms / 1000) as _, tv_usec: ((ms % 1000) * 1000) as _ };
    set_socket_option(fd, libc::SO_SNDTIMEO, &timeout)
}

/// One datagram to `to`; waits only if `fd` is a blocking socket.
pub fn send_to(fd: &Fd, buf: &[u8], to: &UnixAddr) -> SysResult<usize> {
    // SAFETY: the kernel reads buf.len() bytes of `buf` and to.len bytes of the address.
    let n = unsafe {
        libc::sendto(fd.raw(), buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL, (&to.addr as *const libc::sockaddr_un).cast(), to.len)
    };
    if n < 0 { Err(last_errno()) } else { Ok(n as usize) }
}

/// Makes `target` refer to `with`'s socket, closing what `target` was (dup3 onto its
/// number, so every holder of `target` sees the new socket at once).
pub fn replace_fd(target: &Fd, with: Fd) -> SysResult<()> {
    // The raw syscall: libc's dup3 wrapper costs ~150 bytes more (size budget).
    // SAFETY: dup3 takes three integers; both fds are open and owned by us.
    check(unsafe { libc::syscall(libc::SYS_dup3, with.raw(), target.raw(), libc::O_CLOEXEC) } as c_int).map(|_| ())
}

/// The sender's identity as the kernel vouches for it (pid 0: outside our PID namespace).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Credentials {
    pub pid: i32,
    pub uid: u32,
}

pub struct Received {
    pub len: usize,
    /// Anything beyond one frame, the credentials and one record of passed fds: a datagram
    /// longer than `buf`, other ancillary data, a truncated control buffer.
    pub hostile: bool,
    /// How many fds came along (SCM_RIGHTS), all closed already.
    pub passed_fds: usize,
    pub from: UnixAddr,
    pub credentials: Option<Credentials>,
}

impl Received {
    /// Nothing but a frame and the credentials: what a control request or reply must be.
    pub fn is_plain(&self) -> bool {
        !self.hostile && self.passed_fds == 0
    }
}

/// Receives one datagram without blocking, with the sender's address and credentials.
/// The only receive on the control sockets: any fd passed along (SCM_RIGHTS) is closed
/// here, before this returns, so nothing else in drinit ever holds one.
pub fn receive_datagram(fd: &Fd, buf: &mut [u8]) -> SysResult<Received> {
    // Room for the credentials and a few passed fds (cmsghdr-aligned). More fds than fit
    // never reach our fd table: the kernel drops them and sets MSG_CTRUNC.
    #[repr(align(8))]
    struct Control([u8; 64]);
    let mut control = Control([0; 64]);
    let mut from = UnixAddr::empty();
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    // SAFETY: msghdr is plain data; all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_name = (&mut from.addr as *mut libc::sockaddr_un).cast();
    msg.msg_namelen = from.len;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast();
    msg.msg_controllen = control.0.len() as _;
    // MSG_CMSG_CLOEXEC: a passed fd is close-on-exec from its first instant, so not even
    // a fork racing this function could hand it to a child.
    // Raw: musl's recvmsg() copies the header to zero its padding (zeroed above already)
    // and converts old timestamps drinit never asks for (size budget).
    // SAFETY: every pointer in `msg` refers to a live local buffer of the stated length.
    let n = unsafe { libc::syscall(libc::SYS_recvmsg, fd.raw(), &mut msg as *mut libc::msghdr, libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(last_errno());
    }
    from.len = msg.msg_namelen;
    let written = control.0.get(..msg.msg_controllen as usize).unwrap_or(&control.0);
    let ancillary = parse_ancillary(written, |passed| {
        // SAFETY: the kernel just installed `passed` in our fd table for us; nothing else
        // knows the number, and it is closed exactly once, here.
        drop(Fd(passed));
    });
    Ok(Received {
        len: n as usize,
        hostile: ancillary.hostile || msg.msg_flags & (libc::MSG_TRUNC | libc::MSG_CTRUNC) != 0,
        passed_fds: ancillary.passed_fds,
        from,
        credentials: ancillary.credentials,
    })
}

/// What `recvmsg` put in a control buffer, as `parse_ancillary` reads it.
#[derive(PartialEq, Eq, Debug)]
pub struct Ancillary {
    pub credentials: Option<Credentials>,
    /// The fds of the SCM_RIGHTS record, all handed to `passed_fd`.
    pub passed_fds: usize,
    /// Anything but one SCM_CREDENTIALS and one SCM_RIGHTS record: a second one, an empty
    /// one, records of other kinds, a bad layout.
    pub hostile: bool,
}

/// Reads a control buffer (`cmsghdr` records: a word-sized length, level, type, data,
/// each padded to a word). Pure, for any bytes: every fd of every SCM_RIGHTS record is
/// handed to `passed_fd`, whatever else the buffer holds (the kernel truncates a record
/// that does not fit, with MSG_CTRUNC, rather than overrun the buffer).
pub fn parse_ancillary(control: &[u8], mut passed_fd: impl FnMut(RawFd)) -> Ancillary {
    const WORD: usize = size_of::<usize>();
    const HEADER: usize = WORD + 8;
    let int_at = |bytes: &[u8], at: usize| bytes.get(at..at + 4).and_then(|b| b.try_into().ok()).map_or(0, i32::from_ne_bytes);
    let mut out = Ancillary { credentials: None, passed_fds: 0, hostile: false };
    let mut at = 0usize;
    while let Some(header) = control.get(at..at.saturating_add(HEADER)) {
        let len = header.get(..WORD).and_then(|b| b.try_into().ok()).map_or(0, usize::from_ne_bytes);
        if len < HEADER {
            out.hostile = true;
            break;
        }
        // A record past the end of what the kernel wrote cannot come from the kernel: its
        // "fds" could be any of ours, so none of them is closed.
        let Some(data) = control.get(at + HEADER..at.saturating_add(len)) else {
            out.hostile = true;
            break;
        };
        match (int_at(header, WORD), int_at(header, WORD + 4)) {
            (libc::SOL_SOCKET, libc::SCM_CREDENTIALS) if out.credentials.is_none() && data.len() >= 12 => {
                out.credentials = Some(Credentials { pid: int_at(data, 0), uid: int_at(data, 4) as u32 });
            }
            (libc::SOL_SOCKET, libc::SCM_RIGHTS) => {
                out.hostile |= out.passed_fds != 0 || data.len() < 4;
                out.passed_fds += data.len() / 4;
                data.chunks_exact(4).for_each(|fd| passed_fd(int_at(fd, 0)));
            }
            _ => out.hostile = true,
        }
        at = at.saturating_add(len.saturating_add(WORD - 1) & !(WORD - 1));
    }
    out
}

// ---------------------------------------------------------------------------------------
// TCP for the health probe: a non-blocking IPv4 connect.

pub fn tcp_connect_start(ip: [u8; 4], port: u16) -> SysResult<Fd> {
    let fd = socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_NONBLOCK)?;
    // Connected, refused, readable: each sends SIGIO (tcp_input.c wakes
    // async waiters with POLL_OUT on connect, POLL_ERR on reset, POLL_IN on data and FIN).
    signal_when_ready(&fd)?;
    // SAFETY: sockaddr_in is plain data; all-zero is valid.
    let mut addr: libc::sockaddr_in = unsafe { zeroed() };
    addr.sin_family = libc::AF_INET as libc::sa_family_t;
    addr.sin_port = port.to_be();
    addr.sin_addr.s_addr = u32::from_ne_bytes(ip);
    // SAFETY: the kernel reads a valid sockaddr_in of the given size.
    let r = unsafe { libc::connect(fd.raw(), (&addr as *const libc::sockaddr_in).cast(), size_of::<libc::sockaddr_in>() as _) };
    if r < 0 && last_errno().0 != libc::EINPROGRESS {
        return Err(last_errno());
    }
    Ok(fd)
}

/// The result of a non-blocking connect once the socket became writable.
pub fn socket_error(fd: &Fd) -> SysResult<()> {
    let mut err: c_int = 0;
    let mut len = size_of::<c_int>() as libc::socklen_t;
    // SAFETY: the kernel writes one int into `err` and its size into `len`, both valid locals.
    check(unsafe { libc::getsockopt(fd.raw(), libc::SOL_SOCKET, libc::SO_ERROR, (&mut err as *mut c_int).cast(), &mut len) })?;
    if err == 0 { Ok(()) } else { Err(Errno(err)) }
}

// ---------------------------------------------------------------------------------------
// /proc: namespace identity and the process tree, both optional (it may not be mounted).

/// The pid that `/proc/self` names: drinit's own pid only when /proc belongs to
/// drinit's PID namespace (`unshare --pid` without a new /proc mount shows the host's).
pub fn proc_self_pid() -> Option<i32> {
    let mut buf = [0u8; 16];
    // SAFETY: the kernel writes at most buf.len() bytes into `buf`, a valid local.
    // readlinkat: aarch64 has no readlink; raw, as musl's wrapper adds a case drinit avoids.
    let n = unsafe { libc::syscall(libc::SYS_readlinkat, libc::AT_FDCWD, c"/proc/self".as_ptr(), buf.as_mut_ptr(), buf.len()) };
    crate::sig::parse_small_number(buf.get(..usize::try_from(n).ok()?)?)
}

/// The inode of a namespace link such as `/proc/self/ns/pid`: its identity.
pub fn namespace_inode(path: &CStr) -> Option<u64> {
    rustix::fs::stat(path).ok().map(|st| st.st_ino as u64)
}

/// Both paths name the same file (after symlinks).
pub fn same_file(a: &CStr, b: &CStr) -> bool {
    match (rustix::fs::stat(a), rustix::fs::stat(b)) {
        (Ok(a), Ok(b)) => a.st_dev == b.st_dev && a.st_ino == b.st_ino,
        _ => false,
    }
}

fn open(path: &CStr, flags: c_int) -> SysResult<Fd> {
    // SAFETY: path is NUL-terminated and outlives the call.
    let fd = check(unsafe { libc::syscall(libc::SYS_openat, libc::AT_FDCWD, path.as_ptr(), flags | libc::O_CLOEXEC, 0) } as c_int)?;
    Ok(Fd(fd))
}

pub fn open_dir(path: &CStr) -> SysResult<Fd> {
    open(path, libc::O_RDONLY | libc::O_DIRECTORY)
}

/// Calls `each` with the name of every entry of the directory `dir` (getdents64).
pub fn for_each_dir_entry(dir: &Fd, mut each: impl FnMut(&[u8])) {
    // u64s for the alignment linux_dirent64 wants.
    let mut buf = [0u64; 512];
    loop {
        // SAFETY: the kernel writes at most size_of_val(&buf) bytes of dirent records into buf.
        let n = unsafe { libc::syscall(libc::SYS_getdents64, dir.raw(), buf.as_mut_ptr(), size_of::<[u64; 512]>()) };
        if n <= 0 {
            return;
        }
        // SAFETY: viewing the u64 buffer as the bytes the kernel wrote (n <= its size).
        let bytes = unsafe { core::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), n as usize) };
        let mut at = 0;
        // linux_dirent64: u64 inode, i64 offset, u16 record length, u8 type, name + NUL.
        while let Some(record) = bytes.get(at..) {
            let Some(&[lo, hi]) = record.get(16..18) else { break };
            let len = u16::from_ne_bytes([lo, hi]) as usize;
            if len == 0 {
                break;
            }
            if let Some(name) = record.get(19..len) {
                let end = name.iter().position(|&c| c == 0).unwrap_or(name.len());
                each(name.get(..end).unwrap_or(&[]));
            }
            at += len;
        }
    }
}

/// Reads a small file whole into `buf` (e.g. `/proc/PID/stat`); returns its length.
pub fn read_small_file(path: &CStr, buf: &mut [u8]) -> SysResult<usize> {
    let fd = open(path, libc::O_RDONLY)?;
    let mut len = 0;
    while let Some(rest) = buf.get_mut(len..) {
        if rest.is_empty() {
            break;
        }
        match read(&fd, rest) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(len)
}

/// Argument vector as the C runtime handed it over: NUL-terminated strings that live as
/// long as the process, with a NULL after the last one (so any tail is a valid exec argv).
#[derive(Clone, Copy)]
pub struct Args {
    argv: *const *const c_char,
    argc: usize,
}

impl Args {
    /// # Safety
    /// `argv` must point to `argc` valid NUL-terminated strings followed by a NULL pointer,
    /// all living until the process exits.
    pub unsafe fn from_raw(argc: c_int, argv: *const *const c_char) -> Args {
        Args { argv, argc: argc.max(0) as usize }
    }

    pub fn get(&self, index: usize) -> Option<&'static CStr> {
        if index >= self.argc {
            return None;
        }
        // SAFETY: index < argc, so the slot holds a valid NUL-terminated string (from_raw's contract).
        let p = unsafe { *self.argv.add(index) };
        if p.is_null() {
            return None;
        }
        // SAFETY: as above; the string lives for the whole process.
        Some(unsafe { CStr::from_ptr(p) })
    }

    /// The arguments from `index` on, as a NULL-terminated `argv` for exec.
    pub fn tail_ptr(&self, index: usize) -> *const *const c_char {
        // SAFETY: index <= argc keeps the pointer inside the array (argv[argc] is NULL).
        unsafe { self.argv.add(index.min(self.argc)) }
    }

    pub fn skip(self, n: usize) -> Args {
        let n = n.min(self.argc);
        Args { argv: self.tail_ptr(n), argc: self.argc - n }
    }
}

/// Ends drinit at once on what cannot happen (a negative fd, a debug build's panic), with
/// SIGABRT's exit status. Not libc's abort(): its locks and raise() cost ~400 bytes, and
/// PID 1 ignores its own SIGABRT anyway.
pub fn abort() -> ! {
    exit_now(134)
}

/// The rest of a C string from byte `from` on (clamped to its end), still NUL-terminated.
pub fn cstr_tail(s: &'static CStr, from: usize) -> &'static CStr {
    let bytes = s.to_bytes_with_nul();
    let from = from.min(bytes.len() - 1);
    // SAFETY: `from` is at most the index of the terminating NUL, and a C string has no
    // interior NUL, so the tail is exactly one NUL-terminated string.
    unsafe { CStr::from_bytes_with_nul_unchecked(bytes.get(from..).unwrap_or(b"\0")) }
}

/// `bytes` up to its first NUL as a C string; `bytes` must contain a NUL (else empty).
pub fn cstr_until_nul(bytes: &[u8]) -> &CStr {
    match bytes.iter().position(|&c| c == 0) {
        // SAFETY: bytes[..=end] ends with its first and only NUL.
        Some(end) => unsafe { CStr::from_bytes_with_nul_unchecked(bytes.get(..=end).unwrap_or(b"\0")) },
        None => c"",
    }
}

/// Calls `each` with every `NAME=value` entry of the environment.
pub fn for_each_environment_entry(mut each: impl FnMut(&'static CStr)) {
    let mut entry = environment();
    if entry.is_null() {
        return;
    }
    loop {
        // SAFETY: `environ` is a NULL-terminated array of C strings; we stop at the NULL.
        let p = unsafe { *entry };
        if p.is_null() {
            return;
        }
        // SAFETY: non-null entries are NUL-terminated strings owned by the environment,
        // which drinit never changes, so they stay valid.
        each(unsafe { CStr::from_ptr(p) });
        // SAFETY: the current slot was not the NULL terminator, so the next slot exists.
        entry = unsafe { entry.add(1) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getenv_matches_the_whole_name_only() {
        // Only this test touches these variables.
        std::env::set_var("DRINIT_TEST_GETENVX", "longer name");
        std::env::set_var("DRINIT_TEST_GETEN", "shorter name");
        assert_eq!(getenv(c"DRINIT_TEST_GETENV"), None);
        std::env::set_var("DRINIT_TEST_GETENV", "a=b");
        assert_eq!(getenv(c"DRINIT_TEST_GETENV"), Some(c"a=b"));
        std::env::set_var("DRINIT_TEST_GETENV", "");
        assert_eq!(getenv(c"DRINIT_TEST_GETENV"), Some(c""));
        assert_eq!(getenv(c"DRINIT_TEST_GETEN"), Some(c"shorter name"));
    }

    /// One cmsghdr record as the kernel lays it out, padded to a word.
    fn record(level: i32, kind: i32, data: &[u8]) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend_from_slice(&(16 + data.len()).to_ne_bytes());
        r.extend_from_slice(&level.to_ne_bytes());
        r.extend_from_slice(&kind.to_ne_bytes());
        r.extend_from_slice(data);
        while r.len() % 8 != 0 {
            r.push(0);
        }
        r
    }

    fn credentials(pid: i32, uid: u32) -> Vec<u8> {
        let mut data = Vec::new();
        for n in [pid as u32, uid, 0] {
            data.extend_from_slice(&n.to_ne_bytes());
        }
        record(libc::SOL_SOCKET, libc::SCM_CREDENTIALS, &data)
    }

    fn rights(fds: &[i32]) -> Vec<u8> {
        let data: Vec<u8> = fds.iter().flat_map(|fd| fd.to_ne_bytes()).collect();
        record(libc::SOL_SOCKET, libc::SCM_RIGHTS, &data)
    }

    fn parse(control: &[u8]) -> (Ancillary, Vec<i32>) {
        let mut passed = Vec::new();
        let ancillary = parse_ancillary(control, |fd| passed.push(fd));
        (ancillary, passed)
    }

    #[test]
    fn credentials_alone_are_clean() {
        let (a, fds) = parse(&credentials(42, 1000));
        assert_eq!(a, Ancillary { credentials: Some(Credentials { pid: 42, uid: 1000 }), passed_fds: 0, hostile: false });
        assert!(fds.is_empty());
        assert_eq!(parse(&[]).0, Ancillary { credentials: None, passed_fds: 0, hostile: false });
    }

    #[test]
    fn passed_fds_are_all_handed_over_and_counted() {
        let mut control = credentials(7, 0);
        control.extend(rights(&[5, 6, 7]));
        let (a, fds) = parse(&control);
        assert_eq!(a, Ancillary { credentials: Some(Credentials { pid: 7, uid: 0 }), passed_fds: 3, hostile: false });
        assert_eq!(fds, [5, 6, 7]);
        // A second rights record, or an empty one, is not what the kernel makes of one send.
        control.extend(rights(&[8]));
        let (a, fds) = parse(&control);
        assert!(a.hostile);
        assert_eq!((a.passed_fds, fds), (4, vec![5, 6, 7, 8]));
        assert!(parse(&rights(&[])).0.hostile);
        // Rights first, a record of another kind, a second credentials record.
        let mut control = rights(&[9]);
        control.extend(record(libc::SOL_SOCKET, 0x4f /* SCM_PIDFD */, &3i32.to_ne_bytes()));
        control.extend(credentials(1, 1));
        control.extend(credentials(2, 2));
        let (a, fds) = parse(&control);
        assert!(a.hostile);
        assert_eq!(fds, [9]);
        assert_eq!(a.credentials, Some(Credentials { pid: 1, uid: 1 }), "the first one counts");
    }

    #[test]
    fn bad_layouts_are_hostile() {
        let mut short = credentials(1, 1);
        short[0] = 4; // a length shorter than the header
        assert!(parse(&short).0.hostile);
        // A rights record that claims more than the buffer holds: not the kernel's, so
        // nothing in it is taken for an fd (it could name one of ours).
        let mut control = rights(&[3, 4]);
        control.extend(rights(&[5]));
        control[24..32].copy_from_slice(&200usize.to_ne_bytes());
        let (a, fds) = parse(&control);
        assert!(a.hostile);
        assert_eq!(fds, [3, 4]);
        let mut huge = rights(&[3]);
        huge[..8].copy_from_slice(&usize::MAX.to_ne_bytes());
        assert_eq!(parse(&huge), (Ancillary { credentials: None, passed_fds: 0, hostile: true }, vec![]));
    }

    /// Property test: random sequences of records (credentials, rights with random fds,
    /// other kinds), optionally cut short or with random bytes flipped, never panic; an
    /// intact buffer hands over and counts exactly its fds, and is clean only for at most
    /// one credentials record and one non-empty rights record.
    #[test]
    fn fuzz_ancillary_parser() {
        let mut seed = 0x9E3779B97F4A7C15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..200_000u32 {
            let mut control = Vec::new();
            let mut expected_fds = Vec::new();
            let (mut creds, mut rights_records, mut empty_rights, mut others) = (0, 0, false, 0);
            for _ in 0..next() % 4 {
                match next() % 3 {
                    0 => {
                        control.extend(credentials(next() as i32, next() as u32));
                        creds += 1;
                    }
                    1 => {
                        let fds: Vec<i32> = (0..next() % 6).map(|_| next() as i32).collect();
                        expected_fds.extend(&fds);
                        empty_rights |= fds.is_empty();
                        control.extend(rights(&fds));
                        rights_records += 1;
                    }
                    _ => {
                        let data: Vec<u8> = (0..next() % 20).map(|_| next() as u8).collect();
                        // Any level but SOL_SOCKET, or SOL_SOCKET with another type.
                        let (level, kind) = if next() % 2 == 0 { (libc::SOL_SOCKET, (next() % 100 + 3) as i32) } else { ((next() % 300 + 2) as i32, next() as i32) };
                        control.extend(record(level, kind, &data));
                        others += 1;
                    }
                }
            }
            let (a, fds) = parse(&control);
            assert_eq!(fds, expected_fds, "round {round}");
            assert_eq!(a.passed_fds, expected_fds.len(), "round {round}");
            assert_eq!(a.hostile, others > 0 || creds > 1 || rights_records > 1 || empty_rights, "round {round}");
            // Damaged: cut anywhere, or a byte flipped anywhere.
            if !control.is_empty() {
                let cut = (next() as usize) % control.len();
                let _ = parse(&control[..cut]);
                let i = (next() as usize) % control.len();
                control[i] = next() as u8;
                let _ = parse(&control);
            }
            let random: Vec<u8> = (0..next() % 80).map(|_| next() as u8).collect();
            let _ = parse(&random);
        }
    }
}
// ---------------------------------------------------------------------------------------
// sd_notify and socket activation (notify.rs, child.rs)

impl UnixAddr {
    /// The address a `NOTIFY_SOCKET` value names: `@name` (abstract) or `/path`.
    pub fn notify_socket(value: &[u8]) -> Option<UnixAddr> {
        let mut addr = UnixAddr::empty();
        if !matches!(value.first(), Some(b'@' | b'/')) || value.len() >= addr.addr.sun_path.len() {
            return None;
        }
        addr.addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (dst, src) in addr.addr.sun_path.iter_mut().zip(value) {
            *dst = *src as c_char;
        }
        // '@' stands for the NUL that makes a name abstract; a path's NUL need not be counted.
        if let (Some(b'@'), Some(first)) = (value.first(), addr.addr.sun_path.first_mut()) {
            *first = 0;
        }
        addr.len = (size_of::<libc::sa_family_t>() + value.len()) as libc::socklen_t;
        Some(addr)
    }
}

/// A close-on-exec socket (`kind` carries SOCK_NONBLOCK where wanted). The raw syscall: musl's socket() carries a
/// fallback for kernels older than 2.6.27 (size budget).
fn socket(domain: c_int, kind: c_int) -> SysResult<Fd> {
    // SAFETY: socket takes three integers.
    let fd = unsafe { libc::syscall(libc::SYS_socket, domain, kind | libc::SOCK_CLOEXEC, 0) };
    Ok(Fd(check(fd as c_int)?))
}

/// Clears FD_CLOEXEC on an inherited fd: socket activation hands fds 3… on to the program.
pub fn keep_open_on_exec(fd: RawFd) -> SysResult<()> {
    // The raw syscall: musl's fcntl wrapper is 341 bytes of cases drinit does not use.
    // SAFETY: F_SETFD takes an int flag by value; no memory is passed.
    check(unsafe { libc::syscall(libc::SYS_fcntl, fd, libc::F_SETFD, 0) } as c_int).map(|_| ())
}
