//! The control plane against hostile and careless clients (issue 13): passed fds,
//! clients that never read their replies, uids that may not act, `--timeout` as a bound,
//! and drinit running drinit (an engine's `--init` over an image whose ENTRYPOINT is drinit).
mod common;

use common::*;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A socket with an address of its own (the kernel autobinds a sender that asked for
/// credentials), so replies can come back to it: drinitctl's kind of client.
fn replyable_socket() -> UnixDatagram {
    let socket = UnixDatagram::unbound().unwrap();
    pass_credentials(&socket);
    socket
}

/// Not a test of its own: sends `DRINIT_TEST_FDS` status requests, each carrying four
/// open fds, to `DRINIT_SOCKET` (blocking: it waits for room in drinit's queue).
#[test]
#[ignore = "helper process for passed_fds_are_closed_at_once_and_never_reach_the_program"]
fn fd_sender_helper() {
    let count: u32 = std::env::var("DRINIT_TEST_FDS").expect("run by the fd test").parse().unwrap();
    let name = std::env::var("DRINIT_SOCKET").unwrap();
    let socket = UnixDatagram::unbound().unwrap();
    let null = std::fs::File::open("/dev/null").unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    let fds = [null.as_raw_fd(), reader.as_raw_fd(), writer.as_raw_fd(), socket.as_raw_fd()];
    for seq in 0..count {
        send_with_fds(&socket, &name, &status_frame(seq), &fds).expect("sendmsg with SCM_RIGHTS");
    }
}

fn send_fds(init: &Init, count: u32, inside: bool) {
    let mut cmd = if inside { init.in_namespace() } else { Command::new("env") };
    let out = cmd
        .arg(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "fd_sender_helper", "--quiet"])
        .env("DRINIT_TEST_FDS", count.to_string())
        .env("DRINIT_SOCKET", &init.socket)
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "fd sender failed: {}", stderr(&out));
}

/// The fds a process has open, as the namespace's own /proc shows them.
fn fds_of(init: &Init, pid: i64) -> Vec<String> {
    let out = init.in_namespace().args(["ls", &format!("/proc/{pid}/fd")]).output().unwrap();
    let mut fds: Vec<String> = stdout(&out).split_whitespace().map(str::to_owned).collect();
    fds.sort();
    fds
}

#[test]
fn passed_fds_are_closed_at_once_and_never_reach_the_program() {
    let init = Init::start(&["--", "sleep", "1000"]);
    assert!(eventually(Duration::from_secs(5), || init.program_pid() > 0));
    let before = init.open_fds();
    // 0, 1, 2, and whatever the test runner itself passed down (cargo's jobserver pipe).
    let inherited = fds_of(&init, init.program_pid());
    // From inside the PID namespace (authenticated, but hostile) and from outside (pid 0).
    send_fds(&init, 1000, true);
    send_fds(&init, 1000, false);
    assert!(
        eventually(Duration::from_secs(10), || json_number(&init.status_json(), "rejected_requests").unwrap_or(0) >= 2000),
        "every datagram with passed fds is counted as rejected: {}",
        init.status_json()
    );
    assert_eq!(init.open_fds(), before, "drinit's fd table grew");
    let out = init.ctl(&["restart"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let pid = init.program_pid();
    assert!(pid > 0);
    assert_eq!(fds_of(&init, pid), inherited, "the restarted program inherited passed fds");
    assert_eq!(init.open_fds(), before);
}

// ---- Hoarders ---------------------------------------------------------------------------

/// Not a test of its own: `DRINIT_TEST_HOARDERS` sockets that keep sending status
/// requests and never read a reply, until killed; writes `DRINIT_TEST_READY` after the
/// first round.
#[test]
#[ignore = "helper process for clients_that_never_read_cannot_starve_status"]
fn hoarder_helper() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::SocketAddr;
    let count: usize = std::env::var("DRINIT_TEST_HOARDERS").expect("run by the hoarder test").parse().unwrap();
    let to = SocketAddr::from_abstract_name(std::env::var("DRINIT_SOCKET").unwrap().as_bytes()).unwrap();
    let hoarders: Vec<UnixDatagram> = (0..count).map(|_| replyable_socket()).collect();
    for round in 0u32.. {
        for socket in &hoarders {
            // Blocking: waits for room in drinit's queue. Never reads.
            socket.send_to_addr(&status_frame(round), &to).unwrap();
        }
        if round == 20 {
            std::fs::write(std::env::var("DRINIT_TEST_READY").unwrap(), "hoarding").unwrap();
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn clients_that_never_read_cannot_starve_status() {
    let scratch = Scratch::new("hoard");
    let init = Init::start(&["--", "sleep", "1000"]);
    assert!(eventually(Duration::from_secs(5), || init.program_pid() > 0));
    // Counted while nothing is sent: during the flood a snapshot can catch the fresh reply
    // socket that exists for one system call before it replaces the full one.
    let fds = init.open_fds();
    let ready = scratch.path("ready");
    let mut hoarders = init
        .in_namespace()
        .arg(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "hoarder_helper", "--quiet"])
        .env("DRINIT_TEST_HOARDERS", "60")
        .env("DRINIT_TEST_READY", &ready)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    assert!(eventually(Duration::from_secs(20), || ready.exists()), "the hoarders did not get going");
    let mut slowest = Duration::ZERO;
    for _ in 0..10 {
        let started = Instant::now();
        let out = init.ctl(&["--timeout", "1", "status", "--json"]);
        slowest = slowest.max(started.elapsed());
        assert_eq!(code(&out), 0, "status starved by hoarders: {}", stderr(&out));
        assert_eq!(json_string(&stdout(&out), "state").as_deref(), Some("running"));
    }
    eprintln!("slowest status (nsenter + drinitctl) with 60 hoarders: {slowest:?}");
    let _ = hoarders.kill();
    let _ = hoarders.wait();
    assert!(eventually(Duration::from_secs(5), || init.open_fds() == fds), "replacing the reply socket must not leak fds: {} then {}", fds, init.open_fds());
}

// ---- uids ------------------------------------------------------------------------------

/// `drinit ctl ARGS` as uid 65534 inside drinit's PID namespace.
fn ctl_as_nobody(init: &Init, args: &[&str]) -> Output {
    init.in_namespace()
        .args(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .arg(drinit())
        .arg("ctl")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn another_uid_may_read_but_is_refused_at_once_for_actions() {
    if !is_root() {
        eprintln!("skipped: uid 65534 exists inside the namespace only when the tests run as root");
        return;
    }
    let init = Init::start(&["--", "sleep", "1000"]);
    assert!(eventually(Duration::from_secs(5), || init.program_pid() > 0));
    let pid = init.program_pid();
    for verb in ["stop", "restart", "start"] {
        let started = Instant::now();
        let out = ctl_as_nobody(&init, &["--timeout", "8", verb]);
        assert_eq!(code(&out), 1, "{verb}: {}", stderr(&out));
        assert_eq!(
            stderr(&out),
            format!("drinitctl: {verb} refused: only uid 0 may start, stop, restart or signal\n"),
            "one line naming who may"
        );
        assert!(started.elapsed() < Duration::from_secs(5), "{verb}: refused only after {:?}", started.elapsed());
    }
    assert_eq!(code(&ctl_as_nobody(&init, &["signal", "TERM"])), 1);
    assert_eq!(init.program_pid(), pid, "the program was touched");
    let out = ctl_as_nobody(&init, &["status", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json_number(&stdout(&out), "pid"), Some(pid));
    assert_eq!(code(&ctl_as_nobody(&init, &["health"])), 0);
    assert_eq!(json_number(&init.status_json(), "rejected_requests"), Some(0), "a refusal is an answer, not a drop");
}

// ---- --timeout ----------------------------------------------------------------------------

#[test]
fn timeout_bounds_the_whole_wait_of_a_stop() {
    let scratch = Scratch::new("timeout");
    let stubborn = scratch.term_ignorer("");
    let init = Init::start(&["--grace", "30", "--", &stubborn]);
    assert!(scratch.term_is_ignored());
    let started = Instant::now();
    let out = init.ctl(&["--timeout", "1", "stop"]);
    let took = started.elapsed();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("stop still in progress after 1 s"), "{}", stderr(&out));
    assert!(took < Duration::from_secs(5), "--timeout 1 returned after {took:?}");
    let json = init.status_json();
    assert_eq!(json_string(&json, "state").as_deref(), Some("stopping"), "{json}");
}

// ---- Nesting -------------------------------------------------------------------------------

#[test]
fn drinit_running_drinit_leaves_the_socket_to_the_inner_one() {
    let scratch = Scratch::new("nested");
    let hook = scratch.script("hook.sh", &format!("echo \"hook $1 $DRINIT_PID\" >> {}", scratch.path("hook").display()));
    let program = scratch.recorder("got", true);
    let inner = drinit();
    let inner = inner.to_str().unwrap();
    let mut init = Init::start(&["--", inner, "-t", "USR1", "-r", &hook, "--", &program]);
    assert!(eventually(Duration::from_secs(5), || scratch.read("got").contains("ready")), "{}", init.stderr());
    // PID 1 is the outer drinit, then the inner one, then the user's program (usually 2
    // and 3; a drinitctl entering the namespace early may have taken one of them). The
    // outer one listens on NAME.outer, where its program is the inner drinit.
    let outer = init.ctl_with_env(&["status", "--json"], &[("DRINIT_SOCKET", &format!("{}.outer", init.socket))]);
    let inner = json_number(&stdout(&outer), "pid").unwrap_or(0);
    assert!(inner > 1, "{}", stdout(&outer));
    let json = init.status_json();
    let program = json_number(&json, "pid").unwrap_or(0);
    assert!(program > inner, "drinitctl must reach the inner drinit: {json}");
    assert_eq!(json_string(&json, "state").as_deref(), Some("running"));
    // A USR1 to the outer drinit reaches the inner one, which traps it and runs the hook.
    init.signal(SIGUSR1);
    let hooked = format!("hook 10 {program}");
    assert!(eventually(Duration::from_secs(5), || scratch.read("hook").contains(&hooked)), "{}", init.stderr());
    assert!(!scratch.read("got").contains("USR1"), "the trapped signal reached the program");
    // A stop signal ends all three with the program's status.
    init.signal(SIGTERM);
    assert_eq!(init.wait_exit(Duration::from_secs(10)), Some(0), "{}", init.stderr());
}

#[test]
fn drinit_under_another_name_is_recognised_as_drinit() {
    let scratch = Scratch::new("nested-link");
    let entry = scratch.path("entrypoint");
    std::os::unix::fs::symlink(drinit(), &entry).unwrap();
    let init = Init::start(&["--", entry.to_str().unwrap(), "--", "sleep", "1000"]);
    // The outer drinit answers on NAME.outer with the inner one as its program, and the
    // inner one on NAME with the user's. Usually pids 2 and 3; a drinitctl that entered
    // the namespace early may have taken one of them.
    let outer_name = format!("{}.outer", init.socket);
    let outer_pid = || json_number(&stdout(&init.ctl_with_env(&["status", "--json"], &[("DRINIT_SOCKET", &outer_name)])), "pid");
    assert!(eventually(Duration::from_secs(5), || outer_pid().is_some_and(|p| p > 1)), "{}", init.stderr());
    let inner = outer_pid().unwrap_or(0);
    assert!(eventually(Duration::from_secs(5), || init.program_pid() > inner), "{} / {}", init.stderr(), init.status_json());
}

#[test]
fn a_second_drinit_on_a_taken_name_says_how_to_reach_the_first() {
    let init = Init::start(&["--", "sleep", "1000"]);
    assert!(eventually(Duration::from_secs(5), || init.program_pid() > 0));
    // Someone typed `drinit status` for `drinit ctl status`.
    let out = init.in_namespace().arg(drinit()).arg("status").output().unwrap();
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("`drinitctl COMMAND` or `drinit ctl COMMAND`") && err.contains("DRINIT_SOCKET"), "{err}");
}
