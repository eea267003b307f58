//! The only module with `unsafe`: thin wrappers over libc and rustix.
//!
//! Each wrapper is one system call with a `SAFETY:` line saying which memory the kernel
//! touches and why it is valid. Everything else in drinit calls these safe functions.

use core::ffi::{c_char, c_int, CStr};
use core::mem::{size_of, zeroed, MaybeUninit};
use rustix::fd::{BorrowedFd, RawFd};

/// A raw errno value, kept as a number: errors are compared by value, never as text.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Errno(pub i32);

impl Errno {
    pub const INTR: Errno = Errno(libc::EINTR);
    pub const AGAIN: Errno = Errno(libc::EAGAIN);
    pub const NOENT: Errno = Errno(libc::ENOENT);
    pub const ADDRINUSE: Errno = Errno(libc::EADDRINUSE);

    fn from_rustix(e: rustix::io::Errno) -> Errno {
        Errno(e.raw_os_error())
    }

    /// The symbolic name of the common errors, for one-line log messages.
    pub fn name(self) -> &'static [u8] {
        match self.0 {
            libc::EPERM => b"EPERM",
            libc::ENOENT => b"ENOENT",
            libc::ESRCH => b"ESRCH",
            libc::EINTR => b"EINTR",
            libc::EIO => b"EIO",
            libc::E2BIG => b"E2BIG",
            libc::ENOEXEC => b"ENOEXEC",
            libc::ECHILD => b"ECHILD",
            libc::EAGAIN => b"EAGAIN",
            libc::ENOMEM => b"ENOMEM",
            libc::EACCES => b"EACCES",
            libc::ENOTDIR => b"ENOTDIR",
            libc::EISDIR => b"EISDIR",
            libc::EINVAL => b"EINVAL",
            libc::ENFILE => b"ENFILE",
            libc::EMFILE => b"EMFILE",
            libc::ETXTBSY => b"ETXTBSY",
            libc::EPIPE => b"EPIPE",
            libc::ENAMETOOLONG => b"ENAMETOOLONG",
            libc::ELOOP => b"ELOOP",
            libc::EADDRINUSE => b"EADDRINUSE",
            libc::ECONNREFUSED => b"ECONNREFUSED",
            libc::ETIMEDOUT => b"ETIMEDOUT",
            _ => b"error",
        }
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
        unsafe { libc::close(self.0) };
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
    check(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong, 0, 0, 0) }).map(|_| ())
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

/// `wait(WNOHANG)` for any child: `None` when none is ready (or none exists).
pub fn reap_one() -> Option<(i32, ExitStatus)> {
    loop {
        match rustix::process::wait(rustix::process::WaitOptions::NOHANG) {
            Ok(Some((pid, status))) => {
                let decoded = match (status.exit_status(), status.terminating_signal()) {
                    (Some(code), _) => ExitStatus::Exited(code as u8),
                    (None, Some(sig)) => ExitStatus::Signaled(sig as u8),
                    // Stopped/continued are not requested (no WUNTRACED); skip defensively.
                    (None, None) => continue,
                };
                return Some((pid.as_raw_nonzero().get(), decoded));
            }
            Ok(None) => return None,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return None,
        }
    }
}

/// Blocking wait for one specific child that is known to be exiting right now.
pub fn wait_for(pid: i32) {
    let mut status: c_int = 0;
    loop {
        // SAFETY: waitpid writes one int into `status`, a valid local.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r >= 0 || last_errno() != Errno::INTR {
            return;
        }
    }
}

pub enum Forked {
    Child,
    Parent(i32),
}

/// fork(2) as the bare system call (clone with SIGCHLD: aarch64 has no fork syscall).
/// musl's fork() adds bookkeeping for threads (atfork handlers, the thread-list lock, the
/// tid cached for raise/pthread_*) that single-threaded drinit does not need, and pulls in
/// ~1,900 bytes of locking and vDSO code with it (size budget). The child only makes raw
/// system calls until exec (child.rs), none of which reads that cached tid.
pub fn fork() -> SysResult<Forked> {
    // SAFETY: clone with only SIGCHLD and no stack is fork: no memory is passed, and the
    // child runs on a copy of our address space.
    let pid = unsafe { libc::syscall(libc::SYS_clone, libc::SIGCHLD, 0, 0, 0, 0) };
    let pid = check(pid as c_int)?;
    Ok(if pid == 0 { Forked::Child } else { Forked::Parent(pid) })
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

/// `execvpe`: PATH lookup like the shell; returns only on failure.
pub fn exec(file: *const c_char, argv: *const *const c_char, envp: *const *const c_char) -> Errno {
    // SAFETY: file, argv and envp are NUL-terminated strings / NULL-terminated arrays that
    // outlive this call (argv is the process's own, envp is built by the caller).
    unsafe { libc::execvpe(file, argv as *const *mut c_char as _, envp as *const *mut c_char as _) };
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
    // SAFETY: getenv reads a NUL-terminated name; the result points into the environment,
    // which drinit never changes, so it stays valid.
    let p = unsafe { libc::getenv(name.as_ptr()) };
    if p.is_null() {
        None
    } else {
        // SAFETY: non-null results of getenv are NUL-terminated strings.
        Some(unsafe { CStr::from_ptr(p) })
    }
}

// ---------------------------------------------------------------------------------------
// Signals

/// A set of signals as the kernel sees it.
#[derive(Clone, Copy)]
pub struct SigMask(libc::sigset_t);

impl SigMask {
    pub fn full() -> SigMask {
        // SAFETY: sigset_t is plain data; sigfillset initialises all of it.
        let mut set: libc::sigset_t = unsafe { zeroed() };
        // SAFETY: `set` is a valid sigset_t.
        unsafe { libc::sigfillset(&mut set) };
        SigMask(set)
    }
}

/// Blocks every signal and returns the mask drinit was started with.
pub fn block_all_signals() -> SysResult<SigMask> {
    let all = SigMask::full();
    // SAFETY: sigset_t is plain data; sigprocmask overwrites it with the old mask.
    let mut old: libc::sigset_t = unsafe { zeroed() };
    // SAFETY: both pointers refer to valid sigset_t values that outlive the call.
    check(unsafe { libc::sigprocmask(libc::SIG_SETMASK, &all.0, &mut old) })?;
    Ok(SigMask(old))
}

pub fn set_signal_mask(mask: &SigMask) -> SysResult<()> {
    // SAFETY: `mask` points to a valid sigset_t; the old mask is not requested.
    check(unsafe { libc::sigprocmask(libc::SIG_SETMASK, &mask.0, core::ptr::null_mut()) }).map(|_| ())
}

/// Sets every signal's disposition back to the default (for a child before exec).
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

pub fn signalfd(mask: &SigMask) -> SysResult<Fd> {
    // SAFETY: the kernel reads its 8-byte signal set from `mask`, a valid sigset_t (larger).
    let fd = check(unsafe { libc::syscall(libc::SYS_signalfd4, -1, &mask.0, 8usize, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) } as c_int)?;
    Ok(Fd(fd))
}

/// One signal as read from the signalfd.
#[derive(Clone, Copy)]
pub struct SignalInfo {
    pub signal: i32,
    pub sender_pid: i32,
}

/// Reads the signals that are pending on the signalfd into `out`; returns how many.
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
        *slot = SignalInfo { signal: info.ssi_signo as i32, sender_pid: info.ssi_pid as i32 };
    }
    count
}

// ---------------------------------------------------------------------------------------
// Time: one monotonic clock in milliseconds, and a timerfd armed at absolute deadlines.

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

pub fn timerfd() -> SysResult<Fd> {
    // SAFETY: timerfd_create takes two integers.
    let fd = check(unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_CLOEXEC | libc::TFD_NONBLOCK) })?;
    Ok(Fd(fd))
}

/// Arms the timer to fire once at `deadline` (absolute), or disarms it with `None`.
pub fn timerfd_arm(fd: &Fd, deadline: Option<Millis>) -> SysResult<()> {
    use rustix::time::{Itimerspec, TimerfdTimerFlags, Timespec};
    let value = match deadline {
        // A deadline of 0 would disarm the timer: fire at 1 ns instead (already past).
        Some(ms) => Timespec { tv_sec: (ms / 1000) as _, tv_nsec: ((ms % 1000) * 1_000_000).max(1) as _ },
        None => Timespec { tv_sec: 0, tv_nsec: 0 },
    };
    let spec = Itimerspec { it_interval: Timespec { tv_sec: 0, tv_nsec: 0 }, it_value: value };
    rustix::time::timerfd_settime(fd.borrow(), TimerfdTimerFlags::ABSTIME, &spec)
        .map(|_| ())
        .map_err(Errno::from_rustix)
}

/// Consumes the timer's expiration count so the fd stops being readable.
pub fn timerfd_drain(fd: &Fd) {
    let mut buf = [0u8; 8];
    // Drained on purpose: the deadlines themselves say what is due, not the count.
    let _ = read(fd, &mut buf);
}

// ---------------------------------------------------------------------------------------
// poll

pub use rustix::event::PollFlags;

pub struct PollSet<'a, const N: usize> {
    fds: [rustix::event::PollFd<'a>; N],
    len: usize,
}

impl<'a, const N: usize> PollSet<'a, N> {
    pub fn new(first: &'a Fd) -> Self {
        let fd = rustix::event::PollFd::from_borrowed_fd(first.borrow(), PollFlags::IN);
        PollSet { fds: core::array::from_fn(|_| fd.clone()), len: 1 }
    }

    /// Adds an fd and returns its index for `ready`.
    pub fn add(&mut self, fd: &'a Fd, events: PollFlags) -> usize {
        let index = self.len;
        if let Some(slot) = self.fds.get_mut(index) {
            *slot = rustix::event::PollFd::from_borrowed_fd(fd.borrow(), events);
            self.len += 1;
        }
        index
    }

    /// Blocks until at least one fd is ready. No timeout: timers are fds too.
    pub fn wait(&mut self) -> SysResult<()> {
        let fds = self.fds.get_mut(..self.len).unwrap_or(&mut []);
        rustix::event::poll(fds, None).map(|_| ()).map_err(Errno::from_rustix)
    }

    pub fn ready(&self, index: usize) -> bool {
        self.fds.get(index).map(|fd| !fd.revents().is_empty()).unwrap_or(false)
    }
}

/// Waits up to `timeout_ms` for `fd` to become ready for `events`: the control client's
/// reply wait and the health probe's connect (never used by the init's event loop).
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

pub fn unix_dgram_socket() -> SysResult<Fd> {
    socket(libc::AF_UNIX, libc::SOCK_DGRAM)
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

/// Asks the kernel to attach the sender's pid/uid/gid to every datagram we receive.
pub fn enable_passcred(fd: &Fd) -> SysResult<()> {
    let on: c_int = 1;
    // SAFETY: the kernel reads one int from `on`, a valid local.
    check(unsafe {
        libc::setsockopt(fd.raw(), libc::SOL_SOCKET, libc::SO_PASSCRED, (&on as *const c_int).cast(), size_of::<c_int>() as _)
    })
    .map(|_| ())
}

pub fn send_to(fd: &Fd, buf: &[u8], to: &UnixAddr) -> SysResult<usize> {
    // SAFETY: the kernel reads buf.len() bytes of `buf` and to.len bytes of the address.
    let n = unsafe {
        libc::sendto(fd.raw(), buf.as_ptr().cast(), buf.len(), libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            (&to.addr as *const libc::sockaddr_un).cast(), to.len)
    };
    if n < 0 { Err(last_errno()) } else { Ok(n as usize) }
}

/// Fixes the peer of a datagram socket: sends go there, and poll's POLLOUT then reports
/// whether the peer's queue has room.
pub fn connect(fd: &Fd, to: &UnixAddr) -> SysResult<()> {
    // SAFETY: the kernel reads to.len bytes of a valid sockaddr_un.
    check(unsafe { libc::connect(fd.raw(), (&to.addr as *const libc::sockaddr_un).cast(), to.len) }).map(|_| ())
}

/// Sends one datagram to the connected peer without blocking.
pub fn send(fd: &Fd, buf: &[u8]) -> SysResult<usize> {
    // SAFETY: the kernel reads buf.len() bytes of `buf`.
    let n = unsafe { libc::send(fd.raw(), buf.as_ptr().cast(), buf.len(), libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) };
    if n < 0 { Err(last_errno()) } else { Ok(n as usize) }
}

/// The sender's identity as the kernel vouches for it (pid 0: outside our PID namespace).
#[derive(Clone, Copy)]
pub struct Credentials {
    pub pid: i32,
    pub uid: u32,
}

pub struct Received {
    pub len: usize,
    pub truncated: bool,
    pub from: UnixAddr,
    pub credentials: Option<Credentials>,
}

/// Receives one datagram without blocking, with the sender's address and credentials.
pub fn recv_with_credentials(fd: &Fd, buf: &mut [u8]) -> SysResult<Received> {
    // Room for one SCM_CREDENTIALS message, aligned as cmsghdr wants.
    let mut control = [0u64; 8];
    let mut from = UnixAddr::empty();
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    // SAFETY: msghdr is plain data; all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_name = (&mut from.addr as *mut libc::sockaddr_un).cast();
    msg.msg_namelen = from.len;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = size_of::<[u64; 8]>() as _;
    // SAFETY: every pointer in `msg` refers to a live local buffer of the stated length.
    let n = unsafe { libc::recvmsg(fd.raw(), &mut msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(last_errno());
    }
    from.len = msg.msg_namelen;
    let mut credentials = None;
    // SAFETY: msg was filled by recvmsg; the CMSG helpers stay within msg_controllen.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    while !cmsg.is_null() {
        // SAFETY: cmsg is non-null and inside `control`, as CMSG_FIRSTHDR/NXTHDR guarantee.
        let header = unsafe { &*cmsg };
        if header.cmsg_level == libc::SOL_SOCKET && header.cmsg_type == libc::SCM_CREDENTIALS {
            // SAFETY: an SCM_CREDENTIALS payload is one struct ucred; read unaligned to be safe.
            let cred: libc::ucred = unsafe { core::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast()) };
            credentials = Some(Credentials { pid: cred.pid, uid: cred.uid });
        }
        // SAFETY: as above; returns null past the end of the control buffer.
        cmsg = unsafe { libc::CMSG_NXTHDR(&msg, cmsg) };
    }
    Ok(Received { len: n as usize, truncated: msg.msg_flags & libc::MSG_TRUNC != 0, from, credentials })
}

// ---------------------------------------------------------------------------------------
// TCP for the health probe: a non-blocking IPv4 connect.

pub fn tcp_connect_start(ip: [u8; 4], port: u16) -> SysResult<Fd> {
    let fd = socket(libc::AF_INET, libc::SOCK_STREAM)?;
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

/// The inode of a namespace link such as `/proc/self/ns/pid`: its identity.
pub fn namespace_inode(path: &CStr) -> Option<u64> {
    rustix::fs::stat(path).ok().map(|st| st.st_ino as u64)
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

    pub fn len(&self) -> usize {
        self.argc
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
pub fn for_each_environment_entry(mut each: impl FnMut(&CStr)) {
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
        // SAFETY: non-null entries are NUL-terminated strings owned by the environment.
        each(unsafe { CStr::from_ptr(p) });
        // SAFETY: the current slot was not the NULL terminator, so the next slot exists.
        entry = unsafe { entry.add(1) };
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

/// A non-blocking, close-on-exec socket. The raw syscall: musl's socket() carries a
/// fallback for kernels older than 2.6.27 (size budget).
fn socket(domain: c_int, kind: c_int) -> SysResult<Fd> {
    // SAFETY: socket takes three integers.
    let fd = unsafe { libc::syscall(libc::SYS_socket, domain, kind | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK, 0) };
    Ok(Fd(check(fd as c_int)?))
}

/// Clears FD_CLOEXEC on an inherited fd: socket activation hands fds 3… on to the program.
pub fn keep_open_on_exec(fd: RawFd) -> SysResult<()> {
    // The raw syscall: musl's fcntl wrapper is 341 bytes of cases drinit does not use.
    // SAFETY: F_SETFD takes an int flag by value; no memory is passed.
    check(unsafe { libc::syscall(libc::SYS_fcntl, fd, libc::F_SETFD, 0) } as c_int).map(|_| ())
}
