//! Shared harness: runs the built drinit as PID 1 of a fresh PID namespace
//! (`unshare --pid --fork --mount-proc`), each test with its own control socket name and
//! scratch directory, and cleans up with SIGKILL by pid (never by name).
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The binary under test: `DRINIT_BIN` (the release build `make test` passes), else the
/// one cargo built for this test run.
pub fn drinit() -> PathBuf {
    std::env::var_os("DRINIT_BIN").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_drinit")))
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc_geteuid() == 0 }
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

/// kill(2) on one positive pid; never 0, -1 or a group.
pub fn kill(pid: i32, signal: i32) -> bool {
    assert!(pid > 1, "refusing to signal pid {pid}");
    // SAFETY: plain syscall on a positive pid.
    unsafe { libc_kill(pid, signal) == 0 }
}

pub const SIGHUP: i32 = 1;
pub const SIGINT: i32 = 2;
pub const SIGQUIT: i32 = 3;
pub const SIGKILL: i32 = 9;
pub const SIGUSR1: i32 = 10;
pub const SIGUSR2: i32 = 12;
pub const SIGTERM: i32 = 15;
pub const SIGCHLD: i32 = 17;
pub const SIGCONT: i32 = 18;
pub const SIGTSTP: i32 = 20;
pub const SIGWINCH: i32 = 28;

/// Polls `check` every 10 ms until it holds or `limit` passes.
pub fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if check() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique(name: &str) -> String {
    format!("{name}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A scratch directory for one test's scripts and output files, removed on drop.
pub struct Scratch {
    pub dir: PathBuf,
}

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("drinit-test-{}", unique(name)));
        fs::create_dir_all(&dir).unwrap();
        Scratch { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Writes an executable `#!/bin/sh` script and returns its path as a string.
    pub fn script(&self, name: &str, body: &str) -> String {
        let path = self.path(name);
        fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        path.to_string_lossy().into_owned()
    }

    pub fn read(&self, name: &str) -> String {
        fs::read_to_string(self.path(name)).unwrap_or_default()
    }

    /// A program that ignores SIGTERM and loops; `BODY` runs after its trap is set, and
    /// then it writes `trapped` to the file `trapped`. A test that signals it before that
    /// (its pid is known as soon as it is spawned) would end it with the TERM it is about
    /// to ignore: wait with `term_is_ignored` first.
    pub fn term_ignorer(&self, body: &str) -> String {
        let trapped = self.path("trapped");
        self.script("ignores-term.sh", &format!("trap '' TERM\n{body}\necho trapped > {}\nwhile :; do sleep 0.05; done", trapped.display()))
    }

    pub fn term_is_ignored(&self) -> bool {
        eventually(Duration::from_secs(5), || self.read("trapped").contains("trapped"))
    }

    pub fn lines(&self, name: &str) -> Vec<String> {
        self.read(name).lines().map(str::to_owned).collect()
    }

    /// A program that appends the name of every signal it receives to `file` (after
    /// writing `ready`), and exits 0 on TERM when `exit_on_term`.
    pub fn recorder(&self, file: &str, exit_on_term: bool) -> String {
        let out = self.path(file);
        let out = out.display();
        let mut body = String::new();
        for sig in ["HUP", "INT", "QUIT", "USR1", "USR2", "ALRM", "WINCH", "URG", "CONT", "TSTP", "TTIN", "TTOU", "PWR", "SYS"] {
            body += &format!("trap 'echo {sig} >> {out}' {sig}\n");
        }
        if exit_on_term {
            body += &format!("trap 'echo TERM >> {out}; exit 0' TERM\n");
        } else {
            body += &format!("trap 'echo TERM >> {out}' TERM\n");
        }
        body += &format!("echo ready >> {out}\nwhile :; do sleep 0.05 & wait $!; done\n");
        self.script(&format!("record-{file}.sh"), &body)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// drinit running as PID 1 of its own PID (and mount) namespace.
pub struct Init {
    unshare: Child,
    pub socket: String,
    stderr: PathBuf,
    exit: Option<i32>,
}

/// The namespace command: plain for root, with a user namespace otherwise.
fn namespace_command() -> Command {
    let mut cmd = Command::new("unshare");
    if !is_root() {
        cmd.args(["--user", "--map-root-user"]);
    }
    cmd.args(["--pid", "--fork", "--mount-proc"]);
    cmd
}

impl Init {
    /// `drinit ARGS...` as PID 1 with a fresh control socket name.
    pub fn start(args: &[&str]) -> Init {
        Init::start_with_env(args, &[])
    }

    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Init {
        Init::launch(
            |cmd| {
                cmd.arg(drinit()).args(args);
                for (k, v) in env {
                    cmd.env(k, v);
                }
            },
            false,
        )
    }

    /// Whatever `build` adds to the namespace command (a wrapper that execs drinit).
    pub fn start_command(build: impl FnOnce(&mut Command)) -> Init {
        Init::launch(build, false)
    }

    /// drinit with its stderr on a pipe that nobody reads (a stalled log driver).
    pub fn start_stalled_stderr(args: &[&str]) -> Init {
        Init::launch(|cmd| { cmd.arg(drinit()).args(args); }, true)
    }

    fn launch(build: impl FnOnce(&mut Command), stalled_stderr: bool) -> Init {
        let socket = unique("drinit-test");
        let stderr = std::env::temp_dir().join(format!("{socket}.stderr"));
        let mut cmd = namespace_command();
        build(&mut cmd);
        cmd.env("DRINIT_SOCKET", &socket).stdin(Stdio::null()).stdout(Stdio::null());
        if stalled_stderr {
            // The read end stays in the Child, open and never read, until the test ends.
            cmd.stderr(Stdio::piped());
        } else {
            cmd.stderr(fs::File::create(&stderr).unwrap());
        }
        let unshare = cmd.spawn().expect("unshare");
        Init { unshare, socket, stderr, exit: None }
    }

    /// drinit's pid as seen from the test (it is PID 1 inside its namespace).
    pub fn pid(&self) -> i32 {
        let me = self.unshare.id();
        let path = format!("/proc/{me}/task/{me}/children");
        let mut pid = 0;
        assert!(
            eventually(Duration::from_secs(5), || {
                pid = fs::read_to_string(&path).unwrap_or_default().split_whitespace().next().and_then(|p| p.parse().ok()).unwrap_or(0);
                pid > 0
            }),
            "drinit did not start under unshare"
        );
        pid
    }

    pub fn signal(&self, signal: i32) {
        assert!(kill(self.pid(), signal), "kill drinit");
    }

    /// Waits (bounded) for drinit to exit and returns its exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        if self.exit.is_some() {
            return self.exit;
        }
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.unshare.try_wait().unwrap() {
                // unshare passes on the exit code; it re-raises a fatal signal on itself.
                use std::os::unix::process::ExitStatusExt;
                self.exit = Some(status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0)));
                return self.exit;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }

    pub fn is_running(&mut self) -> bool {
        self.exit.is_none() && self.unshare.try_wait().unwrap().is_none()
    }

    pub fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// `drinit ctl ARGS...` run inside drinit's PID namespace.
    pub fn ctl(&self, args: &[&str]) -> Output {
        self.ctl_with_env(args, &[])
    }

    pub fn ctl_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = self.in_namespace();
        cmd.arg(drinit()).arg("ctl").args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("nsenter")
    }

    /// A command that runs inside drinit's PID namespace, with its socket name set.
    pub fn in_namespace(&self) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.arg("-t").arg(self.pid().to_string());
        if !is_root() {
            cmd.args(["-U", "--preserve-credentials"]);
        }
        // -m too: the namespace's own /proc mount shows its processes.
        cmd.args(["-p", "-m", "--"]).env("DRINIT_SOCKET", &self.socket).stdin(Stdio::null());
        cmd
    }

    /// The program's pid inside the namespace, from `status --json`.
    pub fn program_pid(&self) -> i64 {
        json_number(&self.status_json(), "pid").unwrap_or(-1)
    }

    pub fn status_json(&self) -> String {
        String::from_utf8_lossy(&self.ctl(&["status", "--json"]).stdout).into_owned()
    }

    /// Context switches of drinit so far (voluntary + involuntary).
    pub fn context_switches(&self) -> u64 {
        proc_status_field(self.pid(), "voluntary_ctxt_switches") + proc_status_field(self.pid(), "nonvoluntary_ctxt_switches")
    }

    /// The fds drinit has open now.
    pub fn open_fds(&self) -> usize {
        fs::read_dir(format!("/proc/{}/fd", self.pid())).unwrap().count()
    }
}

/// A numeric field of /proc/PID/status (`VmRSS`, `voluntary_ctxt_switches`…), in its unit.
pub fn proc_status_field(pid: i32, field: &str) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.strip_prefix(field).is_some_and(|rest| rest.starts_with(':')));
    line.and_then(|l| l.split_whitespace().nth(1)?.parse().ok()).unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

impl Drop for Init {
    fn drop(&mut self) {
        if self.is_running() {
            // Killing PID 1 of the namespace takes everything in it along.
            let me = self.unshare.id();
            let children = fs::read_to_string(format!("/proc/{me}/task/{me}/children")).unwrap_or_default();
            for pid in children.split_whitespace().filter_map(|p| p.parse::<i32>().ok()) {
                kill(pid, SIGKILL);
            }
            let _ = self.unshare.kill();
        }
        let _ = self.unshare.wait();
        let _ = fs::remove_file(&self.stderr);
    }
}

/// drinit as PID 1 over the signal recorder (file `got`), once the recorder runs.
pub fn running_recorder(scratch: &Scratch, extra: &[&str]) -> Init {
    let program = scratch.recorder("got", true);
    let mut args: Vec<&str> = extra.to_vec();
    args.extend(["--", program.as_str()]);
    let init = Init::start(&args);
    assert!(eventually(Duration::from_secs(5), || scratch.read("got").contains("ready")));
    init
}

/// Runs drinit as PID 1 to completion and returns (exit code, stderr).
pub fn run_to_end(args: &[&str]) -> (i32, String) {
    let mut init = Init::start(args);
    let code = init.wait_exit(Duration::from_secs(20)).expect("drinit did not exit");
    (code, init.stderr())
}

/// Reads `"key":NUMBER` from a flat JSON object.
pub fn json_number(json: &str, key: &str) -> Option<i64> {
    let at = json.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = &json[at..];
    let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '-')).unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Reads `"key":"STRING"` from a flat JSON object.
pub fn json_string(json: &str, key: &str) -> Option<String> {
    let at = json.find(&format!("\"{key}\":\""))? + key.len() + 4;
    let rest = &json[at..];
    Some(rest[..rest.find('"')?].to_owned())
}

pub fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

/// Processes in state Z among the pids in `/proc` of the namespace `init` runs, as seen
/// through `nsenter` (the namespace has its own /proc mount).
pub fn zombies_in(init: &Init) -> usize {
    let out = init
        .in_namespace()
        .args(["sh", "-c", "grep -l '^State:.*Z' /proc/[0-9]*/status 2>/dev/null | wc -l"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(usize::MAX)
}

pub fn exists(path: &Path) -> bool {
    path.exists()
}

/// Sends `DRINIT_TEST_GARBAGE` hostile datagrams (random, empty, 64 KiB, wrong version) to
/// `DRINIT_SOCKET`; run inside drinit's PID namespace by the tests' helper processes so the
/// datagrams pass the credential check and reach the decoder.
pub fn send_garbage_from_env() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let count: u32 = std::env::var("DRINIT_TEST_GARBAGE").expect("run by the flood test").parse().unwrap();
    let name = std::env::var("DRINIT_SOCKET").unwrap();
    let to = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let socket = UnixDatagram::unbound().unwrap();
    let mut seed = 0x9E3779B97F4A7C15u64;
    let mut buf = vec![0u8; 65536];
    for i in 0..count {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = match i % 5 {
            0 => 0,
            1 => 65536,
            2 => 16,
            _ => (seed % 80) as usize,
        };
        for b in buf.iter_mut().take(len) {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            *b = (seed >> 33) as u8;
        }
        if i % 5 == 2 {
            // A plausible frame with a wrong protocol version.
            buf[..6].copy_from_slice(b"DRNT\x09\x01");
        }
        socket.send_to_addr(&buf[..len], &to).expect("send");
    }
}

// ---- Raw control-plane clients (the tests have no libc crate) ------------------------

/// A valid protocol-v2 `status` request with sequence number `seq`.
pub fn status_frame(seq: u32) -> [u8; 16] {
    let mut frame = [0u8; 16];
    frame[..8].copy_from_slice(b"DRNT\x02\x01\x00\x00");
    frame[12..].copy_from_slice(&seq.to_le_bytes());
    frame
}

/// Asks for SO_PASSCRED: the kernel then autobinds the socket to an address of its own, so
/// replies can come back to it (drinitctl's kind of client).
pub fn pass_credentials(socket: &std::os::unix::net::UnixDatagram) {
    // SAFETY: plain setsockopt(SOL_SOCKET, SO_PASSCRED) reading one int.
    assert_eq!(unsafe { setsockopt(std::os::fd::AsRawFd::as_raw_fd(socket), 1, 16, &1, 4) }, 0);
}

#[repr(C)]
struct IoVec {
    base: *const u8,
    len: usize,
}

/// The kernel's `struct msghdr` on 64-bit Linux.
#[repr(C)]
struct MsgHdr {
    name: *const u8,
    name_len: u32,
    iov: *const IoVec,
    iov_len: usize,
    control: *const u8,
    control_len: usize,
    flags: i32,
}

extern "C" {
    fn sendmsg(fd: i32, msg: *const MsgHdr, flags: i32) -> isize;
    fn setsockopt(fd: i32, level: i32, name: i32, value: *const i32, len: u32) -> i32;
}

/// Sends `frame` to the abstract name `to` with `fds` attached as one SCM_RIGHTS record.
pub fn send_with_fds(socket: &std::os::unix::net::UnixDatagram, to: &str, frame: &[u8], fds: &[i32]) -> std::io::Result<()> {
    let mut addr = vec![1u8, 0, 0]; // AF_UNIX (little-endian u16), then the abstract NUL
    addr.extend_from_slice(to.as_bytes());
    // cmsghdr: u64 length, i32 level (SOL_SOCKET = 1), i32 type (SCM_RIGHTS = 1), fds.
    let mut control = Vec::new();
    control.extend_from_slice(&((16 + 4 * fds.len()) as u64).to_ne_bytes());
    control.extend_from_slice(&1i32.to_ne_bytes());
    control.extend_from_slice(&1i32.to_ne_bytes());
    for fd in fds {
        control.extend_from_slice(&fd.to_ne_bytes());
    }
    while control.len() % 8 != 0 {
        control.push(0);
    }
    let iov = IoVec { base: frame.as_ptr(), len: frame.len() };
    let msg = MsgHdr {
        name: addr.as_ptr(),
        name_len: addr.len() as u32,
        iov: &iov,
        iov_len: 1,
        control: control.as_ptr(),
        control_len: control.len(),
        flags: 0,
    };
    // SAFETY: every pointer refers to a live buffer of the stated length.
    if unsafe { sendmsg(std::os::fd::AsRawFd::as_raw_fd(socket), &msg, 0x4000 /* MSG_NOSIGNAL */) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
