//! Readiness (SPEC §8), sd_notify both ways, socket activation (SPEC §2).
//!
//! The status fields are read with the protocol's own decoder (src/proto.rs) from a tiny
//! client that this test binary runs inside drinit's PID namespace (`raw_status_helper`),
//! so these tests assert what drinit answers, whatever drinitctl prints of it.
mod common;

#[path = "../src/proto.rs"]
#[allow(dead_code)]
mod proto;

use common::*;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::process::Stdio;
use std::time::Duration;

// ---- helpers run inside the namespace ------------------------------------------------

/// Not a test of its own: asks drinit (`DRINIT_SOCKET`) `DRINIT_TEST_VERB` (status or
/// ready) and prints the answer as `outcome=… ready=… …`, one field a line.
#[test]
#[ignore = "helper process for the readiness tests"]
fn raw_status_helper() {
    let verb = match std::env::var("DRINIT_TEST_VERB").expect("run by a test").as_str() {
        "ready" => proto::Verb::Ready,
        _ => proto::Verb::Status,
    };
    let name = std::env::var("DRINIT_SOCKET").unwrap();
    // Pids repeat across the tests' PID namespaces, socket names (one network namespace) must not.
    let me = format!("{name}-raw-{}", std::process::id());
    let socket = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(me.as_bytes()).unwrap()).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let frame = proto::encode_request(&proto::Request { verb, arg: 0, seq: 7 });
    socket.send_to_addr(&frame, &SocketAddr::from_abstract_name(name.as_bytes()).unwrap()).unwrap();
    let mut buf = [0u8; proto::REPLY_LEN + 1];
    let n = socket.recv(&mut buf).expect("no reply from drinit");
    let reply = proto::decode_reply(&buf[..n]).expect("a malformed reply");
    let s = reply.status;
    println!("outcome={:?}", reply.outcome);
    println!("state={}", String::from_utf8_lossy(s.state.name()));
    println!("ready={}", s.ready);
    println!("exit_reason={:?}", s.exit_reason);
    println!("oom_kills={}", s.oom_kills);
    println!("rejected={}", s.rejected_requests);
    println!("notify_status={}", String::from_utf8_lossy(s.notify_status.as_bytes()));
}

/// Not a test of its own: the program's tree sends `DRINIT_TEST_NOTIFY` to `NOTIFY_SOCKET`;
/// `GARBAGE` sends a flood of hostile datagrams instead.
#[test]
#[ignore = "helper process for the sd_notify tests"]
fn notify_send_helper() {
    let message = std::env::var("DRINIT_TEST_NOTIFY").expect("run by a test");
    let notify_socket = std::env::var("NOTIFY_SOCKET").expect("no NOTIFY_SOCKET");
    let name = notify_socket.strip_prefix('@').expect("an abstract name");
    let to = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let socket = UnixDatagram::unbound().unwrap();
    // `FDS<n>:MESSAGE`: MESSAGE with n copies of a pipe's write end attached, as
    // sd_notify_barrier(3) sends `BARRIER=1` with one; then, like it, waits until the
    // receiver has closed every copy (the read end sees EOF).
    if let Some((count, message)) = message.strip_prefix("FDS").and_then(|m| m.split_once(':')) {
        let (mut reader, writer) = std::io::pipe().unwrap();
        let fds = vec![std::os::fd::AsRawFd::as_raw_fd(&writer); count.parse().unwrap()];
        send_with_fds(&socket, name, message.as_bytes(), &fds).expect("sendmsg with SCM_RIGHTS");
        drop(writer);
        let _ = std::io::Read::read_to_end(&mut reader, &mut Vec::new());
        return;
    }
    if message != "GARBAGE" {
        socket.send_to_addr(message.as_bytes(), &to).unwrap();
        return;
    }
    let mut seed = 0x2545F4914F6CDD1Du64;
    for i in 0..GARBAGE {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let datagram: Vec<u8> = match i % 5 {
            0 => Vec::new(),
            // Too long for drinit's buffer, however right its first line is.
            1 => [&b"READY=1\n"[..], &[b'x'; 70_000][..]].concat(),
            2 => b"READY=1\0STATUS=hidden".to_vec(),
            3 => [&b"READY=1\n"[..], &[b'y'; 4100][..]].concat(),
            _ => (0..seed % 300).map(|k| (seed >> (k % 56)) as u8 | 0x80).collect(),
        };
        socket.send_to_addr(&datagram, &to).expect("send");
    }
}

/// How many hostile datagrams `notify_send_helper` sends; each one is dropped and counted.
const GARBAGE: u32 = 2000;

// ---- the test side --------------------------------------------------------------------

fn raw(init: &Init, verb: &str) -> String {
    let out = init
        .in_namespace()
        .arg(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "raw_status_helper", "--quiet", "--nocapture"])
        .env("DRINIT_TEST_VERB", verb)
        .stderr(Stdio::null())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn field(answer: &str, key: &str) -> String {
    answer.lines().find_map(|l| l.strip_prefix(&format!("{key}="))).unwrap_or("?").to_owned()
}

fn ready(init: &Init) -> bool {
    let status = raw(init, "status");
    let verb = raw(init, "ready");
    let (said, answered) = (field(&status, "ready"), field(&verb, "outcome"));
    // `status.ready` and the answer to `ready` come from one function: they agree.
    match (said.as_str(), answered.as_str()) {
        ("true", "Done") => true,
        ("false", "Failed") => false,
        _ if said != field(&verb, "ready") => ready(init), // the state changed in between
        _ => panic!("status says ready={said}, ready answers {answered}:\n{status}\n{verb}"),
    }
}

fn status_field(init: &Init, key: &str) -> String {
    field(&raw(init, "status"), key)
}

/// A --notify program that sends the contents of `send0`, `send1`, … (written by the test)
/// through `notify_send_helper` as they appear, noting each in `sent`.
fn notifying_program(scratch: &Scratch) -> String {
    let dir = scratch.dir.display();
    let helper = std::env::current_exe().unwrap();
    let helper = helper.display();
    scratch.script(
        "notifier.sh",
        &format!(
            "env > {dir}/env
i=0
while :; do
  if [ -e {dir}/send$i ]; then
    DRINIT_TEST_NOTIFY=\"$(cat {dir}/send$i)\" {helper} --ignored --exact notify_send_helper --quiet >/dev/null 2>&1
    echo $i >> {dir}/sent
    i=$((i + 1))
  fi
  sleep 0.05 & wait $!
done"
        ),
    )
}

/// Has the notifier send `message` as step `step`, and waits until it has.
fn send(scratch: &Scratch, step: usize, message: &str) {
    let tmp = scratch.path("tmp");
    std::fs::write(&tmp, message).unwrap();
    std::fs::rename(&tmp, scratch.path(&format!("send{step}"))).unwrap();
    assert!(
        eventually(Duration::from_secs(20), || scratch.lines("sent").contains(&step.to_string())),
        "the program did not send step {step}"
    );
}

/// A notifier that sends and exits at once (systemd-notify, socat) may be gone, reaped by
/// its parent, before drinit reads its datagram; or caught being reaped, when its
/// `/proc/PID/stat` still opens but names parent 0, as for a process entered from outside
/// the namespace. Both were dropped as "not of the tree" at random. Two loops of senders
/// side by side keep reaps in flight while drinit reads.
#[test]
fn notifiers_that_exit_at_once_are_heard() {
    const SENDERS: usize = 1000;
    let scratch = Scratch::new("notify-short");
    let helper = std::env::current_exe().unwrap();
    let program = scratch.script(
        "short-lived.sh",
        &format!(
            "send() {{ DRINIT_TEST_NOTIFY=\"$1\" {helper} --ignored --exact notify_send_helper --quiet >/dev/null 2>&1; }}
senders() {{
  i=0
  while [ $i -lt {SENDERS} ]; do i=$((i + 1)); send \"STATUS=$1 $i\"; done
}}
senders a & senders b & wait
send STATUS=done
echo done > {done}
exec sleep 100
",
            helper = helper.display(),
            done = scratch.path("done").display()
        ),
    );
    let init = Init::start(&["--notify", "--", &program]);
    assert!(eventually(Duration::from_secs(120), || scratch.read("done").contains("done")), "the senders did not finish");
    assert!(eventually(Duration::from_secs(5), || status_field(&init, "notify_status") == "done"), "{}", raw(&init, "status"));
    assert_eq!(status_field(&init, "rejected"), "0", "datagrams of exited senders were dropped: {}", raw(&init, "status"));
}

#[test]
fn ready_once_started_without_a_probe() {
    let init = Init::start(&["--", "sleep", "100"]);
    assert!(eventually(Duration::from_secs(5), || ready(&init)), "{}", raw(&init, "status"));
    assert_eq!(code(&init.ctl(&["stop"])), 0);
    assert!(!ready(&init), "a stopped program is not ready");
    assert_eq!(code(&init.ctl(&["start"])), 0);
    assert!(eventually(Duration::from_secs(5), || ready(&init)));
}

#[test]
fn ready_only_after_a_probe_passed() {
    let scratch = Scratch::new("ready-probe");
    let flag = scratch.path("ok").to_string_lossy().into_owned();
    let init = Init::start(&[
        "--health-cmd", "test", "--health-arg", "-f", "--health-arg", &flag,
        "--health-interval", "1", "--health-retries", "1", "--on-unhealthy", "none", "--", "sleep", "100",
    ]);
    // Probes run and fail for a while: running, but never ready.
    assert!(eventually(Duration::from_secs(8), || status_field(&init, "state") == "running"));
    for _ in 0..10 {
        assert!(!ready(&init), "ready before any probe passed: {}", raw(&init, "status"));
        std::thread::sleep(Duration::from_millis(250));
    }
    std::fs::write(&flag, "").unwrap();
    assert!(eventually(Duration::from_secs(8), || ready(&init)), "{}", raw(&init, "status"));
    std::fs::remove_file(&flag).unwrap();
    assert!(eventually(Duration::from_secs(8), || !ready(&init)), "still ready once unhealthy");
    // The liveness answer follows the same verdict.
    assert_eq!(code(&init.ctl(&["health"])), 1);
}

#[test]
fn notify_ready_stopping_and_status_come_from_the_program() {
    let scratch = Scratch::new("notify");
    let program = notifying_program(&scratch);
    let init = Init::start(&["--notify", "--", &program]);
    assert!(eventually(Duration::from_secs(5), || scratch.read("env").contains("NOTIFY_SOCKET=")));
    let env = scratch.read("env");
    assert!(env.lines().any(|l| l == format!("NOTIFY_SOCKET=@{}.notify", init.socket)), "{env}");
    assert!(!ready(&init), "--notify: not ready before READY=1");
    send(&scratch, 0, "STATUS=warming up");
    assert!(eventually(Duration::from_secs(5), || status_field(&init, "notify_status") == "warming up"));
    assert!(!ready(&init), "STATUS= alone is not READY=1");
    send(&scratch, 1, "READY=1\nSTATUS=serving");
    assert!(eventually(Duration::from_secs(5), || ready(&init)), "{}", raw(&init, "status"));
    assert_eq!(status_field(&init, "notify_status"), "serving");
    send(&scratch, 2, "STOPPING=1");
    assert!(eventually(Duration::from_secs(5), || !ready(&init)), "STOPPING=1 ends readiness");
    send(&scratch, 3, "READY=1");
    std::thread::sleep(Duration::from_millis(300));
    assert!(!ready(&init), "not ready again after STOPPING=1 until the program restarts");
    assert_eq!(status_field(&init, "rejected"), "0", "nothing here was hostile");
}

/// `systemd-notify` follows every message with a barrier (sd_notify_barrier(3)):
/// `BARRIER=1` with the write end of a pipe, and it waits until the receiver has closed
/// that fd. drinit closes every passed fd at once; a barrier is the program's own and is
/// not counted as hostile (it was, each time: `rejected` grew with every systemd-notify).
#[test]
fn a_barrier_is_released_and_not_counted_as_hostile() {
    let scratch = Scratch::new("notify-barrier");
    let program = notifying_program(&scratch);
    let init = Init::start(&["--notify", "--", &program]);
    // `send` returns once the sender is done: only after drinit has closed the fd.
    send(&scratch, 0, "FDS1:BARRIER=1");
    send(&scratch, 1, "STATUS=after the barrier");
    assert!(eventually(Duration::from_secs(5), || status_field(&init, "notify_status") == "after the barrier"));
    assert_eq!(status_field(&init, "rejected"), "0", "a barrier is not hostile: {}", raw(&init, "status"));
    // Any other message with an fd, or a barrier with two, is still dropped (fds closed).
    send(&scratch, 2, "FDS1:READY=1");
    send(&scratch, 3, "FDS2:BARRIER=1");
    assert!(eventually(Duration::from_secs(5), || status_field(&init, "rejected") == "2"), "{}", raw(&init, "status"));
    assert!(!ready(&init), "READY=1 with an fd attached is not heard");
}

#[test]
fn the_program_never_sees_drinits_own_notify_socket() {
    let scratch = Scratch::new("notify-env");
    let out = scratch.path("env").display().to_string();
    let program = format!("env > {out}; exec sleep 100");
    let inherited = [("NOTIFY_SOCKET", "@drinit-test-engine-nobody-listens")];
    let init = Init::start_with_env(&["--", "sh", "-c", &program], &inherited);
    assert!(eventually(Duration::from_secs(5), || scratch.read("env").contains("PATH=")));
    assert!(!scratch.read("env").contains("NOTIFY_SOCKET"), "{}", scratch.read("env"));
    drop(init);
    std::fs::remove_file(scratch.path("env")).unwrap();
    let init = Init::start_with_env(&["--notify", "--", "sh", "-c", &program], &inherited);
    assert!(eventually(Duration::from_secs(5), || scratch.read("env").contains("PATH=")));
    let sockets: Vec<String> = scratch.lines("env").into_iter().filter(|l| l.starts_with("NOTIFY_SOCKET=")).collect();
    assert_eq!(sockets, [format!("NOTIFY_SOCKET=@{}.notify", init.socket)]);
}

/// A socket the test listens on as the engine would (podman, systemd).
fn engine(name: &str) -> (UnixDatagram, String) {
    let name = format!("drinit-test-engine-{name}-{}", std::process::id());
    let socket = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap()).unwrap();
    (socket, format!("@{name}"))
}

fn next_message(engine: &UnixDatagram, wait: Duration) -> Option<String> {
    engine.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 256];
    engine.recv(&mut buf).ok().map(|n| String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[test]
fn the_engine_hears_ready_once_and_stopping_when_drinit_stops() {
    let scratch = Scratch::new("engine");
    let (engine, address) = engine("abstract");
    let program = scratch.recorder("got", true);
    let mut init = Init::start_with_env(&["--", &program], &[("NOTIFY_SOCKET", &address)]);
    assert_eq!(next_message(&engine, Duration::from_secs(10)).as_deref(), Some("READY=1"), "{}", init.stderr());
    // A restart inside the container is not the unit stopping, nor a second start.
    assert_eq!(code(&init.ctl(&["restart"])), 0);
    assert!(eventually(Duration::from_secs(5), || ready(&init)));
    assert_eq!(next_message(&engine, Duration::from_millis(500)), None);
    init.signal(SIGTERM);
    assert_eq!(next_message(&engine, Duration::from_secs(10)).as_deref(), Some("STOPPING=1"));
    assert_eq!(init.wait_exit(Duration::from_secs(10)), Some(0), "{}", init.stderr());
}

#[test]
fn the_engine_at_a_path_hears_ready_only_once_the_probe_passed() {
    let scratch = Scratch::new("engine-path");
    let path = scratch.path("notify.sock");
    let engine = UnixDatagram::bind(&path).unwrap();
    let flag = scratch.path("ok").to_string_lossy().into_owned();
    let init = Init::start_with_env(
        &["--health-cmd", "test", "--health-arg", "-f", "--health-arg", &flag, "--health-interval", "1", "--", "sleep", "100"],
        &[("NOTIFY_SOCKET", path.to_str().unwrap())],
    );
    assert_eq!(next_message(&engine, Duration::from_millis(2500)), None, "READY=1 before the probe passed");
    std::fs::write(&flag, "").unwrap();
    assert_eq!(next_message(&engine, Duration::from_secs(10)).as_deref(), Some("READY=1"), "{}", init.stderr());
}

#[test]
fn notify_datagrams_from_outside_the_namespace_are_dropped() {
    let init = Init::start(&["--notify", "--", "sleep", "100"]);
    assert!(eventually(Duration::from_secs(5), || status_field(&init, "state") == "running"));
    // Same network namespace (the abstract name is reachable), other PID namespace.
    let outsider = UnixDatagram::unbound().unwrap();
    let to = SocketAddr::from_abstract_name(format!("{}.notify", init.socket).as_bytes()).unwrap();
    outsider.send_to_addr(b"READY=1\nSTATUS=forged", &to).unwrap();
    assert!(eventually(Duration::from_secs(5), || status_field(&init, "rejected") == "1"), "{}", raw(&init, "status"));
    assert!(!ready(&init), "a READY=1 from outside counted");
    assert_eq!(status_field(&init, "notify_status"), "");
}

#[test]
fn hostile_notify_datagrams_are_counted_and_harmless() {
    let scratch = Scratch::new("notify-garbage");
    let program = notifying_program(&scratch);
    let init = Init::start(&["--notify", "--", &program]);
    assert!(eventually(Duration::from_secs(5), || scratch.read("env").contains("NOTIFY_SOCKET=")));
    // An answer comes from the event loop, so the start (and its exec-status pipe) is over.
    assert_eq!(status_field(&init, "state"), "running");
    let fds = init.open_fds();
    let tmp = scratch.path("tmp");
    std::fs::write(&tmp, "GARBAGE").unwrap();
    std::fs::rename(&tmp, scratch.path("send0")).unwrap();
    // drinit keeps answering while the flood arrives.
    while !scratch.lines("sent").contains(&"0".to_owned()) {
        assert_eq!(status_field(&init, "state"), "running");
    }
    assert!(
        eventually(Duration::from_secs(10), || status_field(&init, "rejected").parse::<u32>().unwrap_or(0) >= GARBAGE),
        "{}",
        raw(&init, "status")
    );
    assert!(!ready(&init), "a dropped datagram made the program ready");
    assert_eq!(status_field(&init, "notify_status"), "");
    assert_eq!(init.open_fds(), fds, "drinit's fd count changed");
    // And the socket still works for the program.
    send(&scratch, 1, "READY=1");
    assert!(eventually(Duration::from_secs(5), || ready(&init)));
}

/// What a socket-activated program sees: `$$ $LISTEN_PID`, then fd 3's contents.
fn activated_program(scratch: &Scratch) -> String {
    let out = scratch.path("seen").display().to_string();
    format!("echo $$ $LISTEN_PID > {out}.tmp; cat <&3 >> {out}.tmp; mv {out}.tmp {out}; exec sleep 100")
}

#[test]
fn socket_activation_hands_fds_and_its_own_pid_to_the_program() {
    let scratch = Scratch::new("activation");
    std::fs::write(scratch.path("passed"), "the passed fd\n").unwrap();
    let drinit = drinit().display().to_string();
    // drinit (not PID 1 here) started the way an activator starts it: fd 3 open, LISTEN_PID
    // its own pid, LISTEN_FDS=1. It opens its own fds (signalfd, sockets) first.
    let wrapper = format!(
        "exec 3<{passed}; LISTEN_PID=$$ LISTEN_FDS=1 DRINIT_SOCKET=$DRINIT_SOCKET.inner exec {drinit} --notify --health-tcp 1 \
         --on-unhealthy none -- sh -c '{program}'",
        passed = scratch.path("passed").display(),
        program = activated_program(&scratch),
    );
    let init = Init::start(&["--", "sh", "-c", &wrapper]);
    assert!(eventually(Duration::from_secs(10), || scratch.read("seen").contains("passed")), "{}", init.stderr());
    let seen = scratch.lines("seen");
    let pids: Vec<&str> = seen[0].split(' ').collect();
    assert_eq!(pids[0], pids[1], "LISTEN_PID is not the program's own pid: {seen:?}");
    assert_eq!(seen[1], "the passed fd", "fd 3 is not the passed one: {seen:?}");
}

#[test]
fn socket_activation_for_another_process_is_left_alone() {
    let scratch = Scratch::new("activation-other");
    let drinit = drinit().display().to_string();
    // LISTEN_PID names PID 1 (the outer drinit), not the inner one: not ours to touch.
    let wrapper = format!(
        "exec 3</dev/null; LISTEN_PID=1 LISTEN_FDS=1 DRINIT_SOCKET=$DRINIT_SOCKET.inner exec {drinit} -- sh -c '{program}'",
        program = activated_program(&scratch),
    );
    let init = Init::start(&["--", "sh", "-c", &wrapper]);
    assert!(eventually(Duration::from_secs(10), || scratch.path("seen").exists()), "{}", init.stderr());
    let seen = scratch.lines("seen");
    assert_eq!(seen[0].split(' ').nth(1), Some("1"), "{seen:?}");
}

#[test]
fn systemd_socket_activate_reaches_the_program() {
    let activator = "/usr/bin/systemd-socket-activate";
    if !std::path::Path::new(activator).exists() {
        eprintln!("SKIP systemd_socket_activate_reaches_the_program: {activator} not installed (Debian's systemd)");
        return;
    }
    let scratch = Scratch::new("activate");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let inner_socket = format!("DRINIT_SOCKET=activate-{}-{port}", std::process::id());
    let program = activated_program(&scratch).replace("cat <&3", "readlink /proc/self/fd/3");
    let init = Init::start(&["--", activator, "-l", &listen, "-E", &inner_socket, &drinit().display().to_string(), "--", "sh", "-c", &program]);
    // It execs drinit at the first connection.
    assert!(
        eventually(Duration::from_secs(10), || std::net::TcpStream::connect(&listen).is_ok()),
        "systemd-socket-activate never listened: {}",
        init.stderr()
    );
    assert!(eventually(Duration::from_secs(10), || scratch.path("seen").exists()), "{}", init.stderr());
    let seen = scratch.lines("seen");
    let pids: Vec<&str> = seen[0].split(' ').collect();
    assert_eq!(pids[0], pids[1], "LISTEN_PID is not the program's own pid: {seen:?}");
    assert!(seen[1].starts_with("socket:"), "fd 3 is not the listening socket: {seen:?}");
}

/// A memory cgroup of its own under the test's, limited to 64 MiB, removed on drop; `None`
/// (the test says SKIP) where the test may not create one.
struct MemoryCgroup(std::path::PathBuf);

impl MemoryCgroup {
    fn new(name: &str) -> Result<MemoryCgroup, String> {
        let cgroup = std::fs::read_to_string("/proc/self/cgroup").map_err(|e| format!("no /proc/self/cgroup: {e}"))?;
        let (path, v1) = match cgroup.lines().find_map(|l| l.split_once(":memory:")) {
            Some((_, path)) => (format!("/sys/fs/cgroup/memory{path}"), true),
            None => (format!("/sys/fs/cgroup{}", cgroup.lines().find_map(|l| l.strip_prefix("0::")).ok_or("no memory cgroup")?), false),
        };
        let dir = std::path::Path::new(&path).join(format!("drinit-test-{name}-{}", std::process::id()));
        std::fs::create_dir(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let cgroup = MemoryCgroup(dir);
        let limit = if v1 { "memory.limit_in_bytes" } else { "memory.max" };
        std::fs::write(cgroup.0.join(limit), "67108864").map_err(|e| format!("cannot limit {}: {e}", cgroup.0.display()))?;
        // No swap to escape to (v1 without memsw accounting has none to set).
        let _ = std::fs::write(cgroup.0.join(if v1 { "memory.memsw.limit_in_bytes" } else { "memory.swap.max" }), if v1 { "67108864" } else { "0" });
        Ok(cgroup)
    }
}

impl Drop for MemoryCgroup {
    fn drop(&mut self) {
        // Its processes are gone once the Init that ran them is dropped; rmdir may lag.
        eventually(Duration::from_secs(5), || std::fs::remove_dir(&self.0).is_ok());
    }
}

#[test]
fn an_oom_kill_is_told_apart_from_other_sigkills() {
    let cgroup = match MemoryCgroup::new("oom") {
        Ok(cgroup) => cgroup,
        Err(why) => {
            eprintln!("SKIP an_oom_kill_is_told_apart_from_other_sigkills: {why}");
            return;
        }
    };
    let scratch = Scratch::new("oom");
    let once = scratch.path("hogged").display().to_string();
    // A drinit that starts inside the limited cgroup; its program hogs memory once, then
    // (restarted by the policy) sleeps.
    let hog = format!("if [ -e {once} ]; then exec sleep 100; fi; touch {once}; exec python3 -c \"b = b\\\"x\\\" * (256 << 20)\"");
    let wrapper = format!(
        "echo $$ > {procs} && DRINIT_SOCKET=$DRINIT_SOCKET.inner exec {drinit} --restart on-failure -- sh -c '{hog}'",
        procs = cgroup.0.join("cgroup.procs").display(),
        drinit = drinit().display(),
    );
    let init = Init::start(&["--", "sh", "-c", &wrapper]);
    let inner_socket = format!("{}.inner", init.socket);
    let inner_status = |init: &Init| -> String {
        let out = init
            .in_namespace()
            .env("DRINIT_SOCKET", &inner_socket)
            .arg(std::env::current_exe().unwrap())
            .args(["--ignored", "--exact", "raw_status_helper", "--quiet", "--nocapture"])
            .env("DRINIT_TEST_VERB", "status")
            .stderr(Stdio::null())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(
        eventually(Duration::from_secs(20), || field(&inner_status(&init), "exit_reason") == "Oom"),
        "{}\n{}",
        inner_status(&init),
        init.stderr()
    );
    assert_eq!(field(&inner_status(&init), "oom_kills"), "1");
    assert!(init.stderr().contains("was killed by the kernel's OOM killer"), "{}", init.stderr());
    // Any other SIGKILL is a signal.
    assert!(eventually(Duration::from_secs(10), || field(&inner_status(&init), "state") == "running"));
    assert_eq!(code(&init.ctl_with_env(&["signal", "KILL"], &[("DRINIT_SOCKET", &inner_socket)])), 0);
    assert!(
        eventually(Duration::from_secs(10), || field(&inner_status(&init), "exit_reason") == "Signal"),
        "{}",
        inner_status(&init)
    );
    assert_eq!(field(&inner_status(&init), "oom_kills"), "1");
    drop(init);
}
