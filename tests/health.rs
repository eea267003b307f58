//! Built-in liveness probes (exec, tcp, http), what happens when they fail, and
//! `drinitctl health` / `status` reflecting them.
mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn health_of(init: &Init) -> Option<String> {
    json_string(&init.status_json(), "health")
}

fn flag_probe<'a>(flag: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["--health-cmd", "test", "--health-arg", "-f", "--health-arg", flag, "--health-interval", "1", "--health-retries", "2"];
    args.extend_from_slice(extra);
    args
}

#[test]
fn exec_probe_failure_restarts_the_program() {
    let scratch = Scratch::new("probe-restart");
    let flag = scratch.path("ok");
    std::fs::write(&flag, "").unwrap();
    let program = scratch.recorder("got", true);
    let flag = flag.to_string_lossy().into_owned();
    let mut args = flag_probe(&flag, &[]);
    args.extend(["--", program.as_str()]);
    let init = Init::start(&args);
    assert!(eventually(Duration::from_secs(5), || health_of(&init).as_deref() == Some("healthy")), "{}", init.status_json());
    assert_eq!(code(&init.ctl(&["health"])), 0);
    let before = init.program_pid();
    std::fs::remove_file(&flag).unwrap();
    // interval 1 s × retries 2, then a graceful stop and a start: well inside 8 s.
    assert!(eventually(Duration::from_secs(8), || { let p = init.program_pid(); p > 0 && p != before }), "{}", init.stderr());
    let json = init.status_json();
    assert!(json_number(&json, "restarts").unwrap() >= 1, "{json}");
    assert!(scratch.read("got").contains("TERM"), "the restart is graceful: stop signal first");
}

#[test]
fn on_unhealthy_none_only_reports() {
    let scratch = Scratch::new("probe-none");
    let flag = scratch.path("ok").to_string_lossy().into_owned();
    let mut args = flag_probe(&flag, &["--on-unhealthy", "none"]);
    args.extend(["--", "sleep", "100"]);
    let init = Init::start(&args);
    assert!(eventually(Duration::from_secs(8), || health_of(&init).as_deref() == Some("unhealthy")));
    assert_eq!(code(&init.ctl(&["health"])), 1);
    let json = init.status_json();
    // Not restarted. (Not pid 2 for sure: a status request that nsenters the namespace while
    // drinit is still starting may take that pid first.)
    assert!(json_number(&json, "pid").unwrap_or(0) > 1, "{json}");
    assert_eq!(json_number(&json, "restarts"), Some(0));
    assert!(json_number(&json, "consecutive_failures").unwrap() >= 2);
    assert_eq!(json.contains("\"last_probe_ok\":false"), true, "{json}");
    // Back to healthy once the probe passes again.
    std::fs::write(&flag, "").unwrap();
    assert!(eventually(Duration::from_secs(5), || health_of(&init).as_deref() == Some("healthy")));
    assert_eq!(code(&init.ctl(&["health"])), 0);
}

#[test]
fn on_unhealthy_exit_ends_drinit_with_124() {
    let scratch = Scratch::new("probe-exit");
    let program = scratch.recorder("got", true);
    let mut init = Init::start(&["--health-cmd", "false", "--health-interval", "1", "--health-retries", "1", "--on-unhealthy", "exit", "--", &program]);
    assert_eq!(init.wait_exit(Duration::from_secs(8)), Some(124), "{}", init.stderr());
    assert!(scratch.read("got").contains("TERM"), "the program is stopped gracefully first");
}

#[test]
fn start_period_failures_do_not_count() {
    let init = Init::start(&["--health-cmd", "false", "--health-interval", "1", "--health-retries", "1", "--health-start-period", "3", "--on-unhealthy", "none", "--", "sleep", "100"]);
    assert!(eventually(Duration::from_secs(5), || json_number(&init.status_json(), "last_probe_age").is_some()));
    // A failed probe inside the start period does not count: healthy (SPEC §3 lists only
    // healthy, unhealthy and none), for Docker too.
    assert_eq!(health_of(&init).as_deref(), Some("healthy"), "{}", init.status_json());
    assert_eq!(code(&init.ctl(&["health"])), 0);
    assert!(eventually(Duration::from_secs(6), || health_of(&init).as_deref() == Some("unhealthy")));
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn tcp_probe_follows_a_listener_that_opens_and_closes() {
    let scratch = Scratch::new("probe-tcp");
    let port = free_port();
    let open = scratch.path("open");
    std::fs::write(&open, "").unwrap();
    // The program listens while the flag file exists.
    let program = scratch.script(
        "listen.py",
        &format!(
            "exec python3 -c '
import os, socket, time
s = None
while True:
    if os.path.exists(\"{open}\") and s is None:
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((\"127.0.0.1\", {port})); s.listen(16)
    if not os.path.exists(\"{open}\") and s is not None:
        s.close(); s = None
    time.sleep(0.05)
'",
            open = open.display()
        ),
    );
    let target = port.to_string();
    let init = Init::start(&["--health-tcp", &target, "--health-interval", "1", "--health-retries", "1", "--on-unhealthy", "none", "--", &program]);
    assert!(eventually(Duration::from_secs(6), || health_of(&init).as_deref() == Some("healthy")), "{}", init.status_json());
    std::fs::remove_file(&open).unwrap();
    assert!(eventually(Duration::from_secs(6), || health_of(&init).as_deref() == Some("unhealthy")));
    std::fs::write(&open, "").unwrap();
    assert!(eventually(Duration::from_secs(6), || health_of(&init).as_deref() == Some("healthy")));
}

/// A tiny HTTP server in the test: answers with the status in `mode` (0 = never answer).
fn http_server() -> (u16, Arc<AtomicU16>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mode = Arc::new(AtomicU16::new(200));
    let shared = mode.clone();
    std::thread::spawn(move || {
        let mut hung = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 1024];
            let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
            let n = stream.read(&mut request).unwrap_or(0);
            assert!(request[..n].starts_with(b"GET /healthz HTTP/1.0\r\n"), "{:?}", String::from_utf8_lossy(&request[..n]));
            match shared.load(Ordering::SeqCst) {
                0 => hung.push(stream),
                code => {
                    let _ = write!(stream, "HTTP/1.0 {code} X\r\nContent-Length: 0\r\n\r\n");
                }
            }
        }
    });
    (port, mode)
}

#[test]
fn http_probe_reads_the_status_code_and_times_out_a_hung_server() {
    let (port, mode) = http_server();
    let url = format!("http://127.0.0.1:{port}/healthz");
    let init = Init::start(&["--health-http", &url, "--health-interval", "1", "--health-retries", "1", "--on-unhealthy", "none", "--", "sleep", "100"]);
    assert!(eventually(Duration::from_secs(5), || health_of(&init).as_deref() == Some("healthy")), "{}", init.status_json());
    mode.store(500, Ordering::SeqCst);
    assert!(eventually(Duration::from_secs(5), || health_of(&init).as_deref() == Some("unhealthy")));
    mode.store(302, Ordering::SeqCst);
    assert!(eventually(Duration::from_secs(5), || health_of(&init).as_deref() == Some("healthy")));
    mode.store(0, Ordering::SeqCst);
    assert!(eventually(Duration::from_secs(6), || health_of(&init).as_deref() == Some("unhealthy")), "a hung server must count as a failure");
    assert!(init.stderr().is_empty() || !init.stderr().contains("panic"));
}

#[test]
fn a_hanging_probe_is_killed_and_reaped() {
    let init = Init::start(&["-v", "--health-cmd", "sleep", "--health-arg", "100", "--health-interval", "1", "--health-timeout", "1", "--health-retries", "1", "--on-unhealthy", "none", "--", "tail", "-f", "/dev/null"]);
    assert!(eventually(Duration::from_secs(8), || health_of(&init).as_deref() == Some("unhealthy")), "{}", init.stderr());
    assert!(init.stderr().contains("health probe timed out"));
    let sleepers = || -> Vec<String> {
        let out = init.in_namespace().args(["sh", "-c", "grep -l '^sleep$' /proc/[0-9]*/comm 2>/dev/null"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
    };
    // At most one probe at a time, and every timed-out one is gone (killed and reaped).
    let first = sleepers();
    assert!(first.len() <= 1, "{first:?}");
    std::thread::sleep(Duration::from_millis(2500));
    let later = sleepers();
    assert!(later.len() <= 1, "{later:?}");
    for probe in &first {
        assert!(!later.contains(probe), "probe {probe} outlived its timeout");
    }
    assert_eq!(zombies_in(&init), 0);
}

#[test]
fn no_probe_means_health_follows_the_program_only() {
    let init = Init::start(&["--", "sleep", "100"]);
    assert!(eventually(Duration::from_secs(5), || init.program_pid() > 0));
    assert_eq!(health_of(&init).as_deref(), Some("none"));
    assert_eq!(code(&init.ctl(&["health"])), 0);
}
