//! Graceful stop with --grace, signal rewrites, restart policies with backoff and limits.
mod common;

use common::*;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn grace_kills_a_term_ignoring_program_and_exits_137() {
    let scratch = Scratch::new("grace-137");
    let program = scratch.term_ignorer("");
    let mut init = Init::start(&["--grace", "1", "--", &program]);
    assert!(scratch.term_is_ignored());
    let sent = Instant::now();
    init.signal(SIGTERM);
    assert_eq!(init.wait_exit(Duration::from_secs(3)), Some(137), "{}", init.stderr());
    assert!(sent.elapsed() >= Duration::from_millis(900), "killed before the grace ran out");
}

#[test]
fn without_grace_drinit_waits_for_the_program() {
    let scratch = Scratch::new("no-grace");
    let program = scratch.term_ignorer("");
    let mut init = Init::start(&["--", &program]);
    assert!(scratch.term_is_ignored());
    init.signal(SIGTERM);
    std::thread::sleep(Duration::from_secs(2));
    assert!(init.is_running(), "grace 0 means wait forever");
    assert!(init.program_pid() > 0);
}

#[test]
fn grace_sweeps_a_grandchild_in_its_own_session_as_subreaper() {
    // Not PID 1: the sweep must find the grandchild through /proc, and only drinit's own
    // descendants may be signalled.
    let scratch = Scratch::new("sweep");
    // Its grandchild in a session of its own, started once the program ignores TERM too.
    let program = scratch.term_ignorer(&format!(
        "setsid sh -c \"trap '' TERM; echo \\$\\$ > {}; while :; do sleep 0.1; done\" &",
        scratch.path("grandchild").display()
    ));
    let mut child = Command::new(drinit())
        .args(["--grace", "1", "--", &program])
        .env("DRINIT_SOCKET", format!("sweep-{}", std::process::id()))
        .spawn()
        .unwrap();
    assert!(scratch.term_is_ignored());
    assert!(eventually(Duration::from_secs(5), || scratch.read("grandchild").trim().parse::<i32>().is_ok()));
    let grandchild: i32 = scratch.read("grandchild").trim().parse().unwrap();
    assert!(kill(child.id() as i32, SIGTERM));
    let mut status = None;
    assert!(eventually(Duration::from_secs(5), || {
        status = child.try_wait().unwrap();
        status.is_some()
    }));
    assert_eq!(status.unwrap().code(), Some(137));
    let gone = || !std::path::Path::new(&format!("/proc/{grandchild}")).exists() || std::fs::read_to_string(format!("/proc/{grandchild}/stat")).map_or(true, |s| s.contains(") Z "));
    assert!(eventually(Duration::from_secs(3), gone), "grandchild {grandchild} survived the sweep");
}

#[test]
fn rewrite_delivers_the_mapped_signal_and_can_drop_one() {
    let scratch = Scratch::new("rewrite");
    let program = scratch.recorder("got", false);
    let mut init = Init::start(&["--rewrite", "TERM:USR1", "--rewrite", "HUP:0", "--", &program]);
    assert!(eventually(Duration::from_secs(5), || scratch.read("got").contains("ready")));
    init.signal(SIGHUP);
    init.signal(SIGTERM);
    assert!(eventually(Duration::from_secs(5), || scratch.read("got").contains("USR1")));
    std::thread::sleep(Duration::from_millis(300));
    let got = scratch.read("got");
    assert!(!got.contains("TERM") && !got.contains("HUP"), "{got}");
    // A rewritten stop signal still counts as one: the program now ends drinit.
    init.ctl(&["signal", "KILL"]);
    assert_eq!(init.wait_exit(Duration::from_secs(5)), Some(137));
}

fn starts(scratch: &Scratch) -> usize {
    scratch.lines("starts").len()
}

/// A program that logs its start (with a timestamp in ms) and exits with `code`.
fn crasher(scratch: &Scratch, code: i32) -> String {
    scratch.script("crash.sh", &format!("date +%s%3N >> {}\nexit {code}", scratch.path("starts").display()))
}

#[test]
fn on_failure_restarts_failures_and_gives_up_with_the_last_status() {
    let scratch = Scratch::new("on-failure");
    let program = crasher(&scratch, 3);
    let mut init = Init::start(&["--restart", "on-failure", "--max-restarts", "2/60", "--", &program]);
    assert_eq!(init.wait_exit(Duration::from_secs(10)), Some(3), "{}", init.stderr());
    assert_eq!(starts(&scratch), 3, "first start plus two restarts");

    let scratch = Scratch::new("on-failure-ok");
    let program = crasher(&scratch, 0);
    let mut init = Init::start(&["--restart", "on-failure", "--", &program]);
    assert_eq!(init.wait_exit(Duration::from_secs(10)), Some(0));
    assert_eq!(starts(&scratch), 1, "a clean exit is not restarted");
}

#[test]
fn always_restarts_clean_exits_too() {
    let scratch = Scratch::new("always");
    let program = crasher(&scratch, 0);
    let mut init = Init::start(&["--restart", "always", "--max-restarts", "1", "--", &program]);
    assert_eq!(init.wait_exit(Duration::from_secs(10)), Some(0));
    assert_eq!(starts(&scratch), 2);
}

#[test]
fn backoff_grows_0_1_2_seconds() {
    let scratch = Scratch::new("backoff");
    let program = crasher(&scratch, 1);
    let mut init = Init::start(&["--restart", "always", "--max-restarts", "3/60", "--", &program]);
    assert_eq!(init.wait_exit(Duration::from_secs(15)), Some(1));
    let times: Vec<i64> = scratch.lines("starts").iter().map(|l| l.parse().unwrap()).collect();
    assert_eq!(times.len(), 4);
    let gaps: Vec<i64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    // Expected 0, 1000, 2000 ms (plus process start-up); generous tolerance.
    assert!(gaps[0] < 500, "{gaps:?}");
    assert!((900..1800).contains(&gaps[1]), "{gaps:?}");
    assert!((1900..2800).contains(&gaps[2]), "{gaps:?}");
}

#[test]
fn a_stop_signal_during_backoff_ends_drinit_at_once() {
    let scratch = Scratch::new("backoff-term");
    let program = crasher(&scratch, 1);
    let mut init = Init::start(&["--restart", "always", "--max-restarts", "10/60", "--", &program]);
    assert!(eventually(Duration::from_secs(10), || json_string(&init.status_json(), "state").as_deref() == Some("restarting") && starts(&scratch) >= 3));
    let json = init.status_json();
    assert!(json_number(&json, "next_restart_ms").unwrap() > 0, "{json}");
    let sent = Instant::now();
    init.signal(SIGTERM);
    assert_eq!(init.wait_exit(Duration::from_secs(2)), Some(143));
    assert!(sent.elapsed() < Duration::from_millis(1500));
}

#[test]
fn drinitctl_stop_on_a_term_ignoring_program_returns_after_the_grace() {
    let scratch = Scratch::new("stop-grace");
    let program = scratch.term_ignorer("");
    let init = Init::start(&["--grace", "1", "--", &program]);
    assert!(scratch.term_is_ignored());
    let started = Instant::now();
    let out = init.ctl(&["stop"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(started.elapsed() >= Duration::from_millis(900), "returned before the program was gone");
    let json = init.status_json();
    assert_eq!(json_string(&json, "state").as_deref(), Some("stopped"));
    assert_eq!(json_number(&json, "last_signal"), Some(9), "{json}");
    // drinit stays up while stopped, and a stop signal now ends it with 128+N.
    let mut init = init;
    assert!(init.is_running());
    init.signal(SIGINT);
    assert_eq!(init.wait_exit(Duration::from_secs(2)), Some(130));
}

#[test]
fn stop_signal_option_changes_what_stop_sends() {
    let scratch = Scratch::new("stop-signal");
    let program = scratch.recorder("got", false);
    let init = Init::start(&["--stop-signal", "USR2", "--grace", "1", "--", &program]);
    assert!(eventually(Duration::from_secs(5), || scratch.read("got").contains("ready")));
    assert_eq!(code(&init.ctl(&["stop"])), 0);
    assert!(scratch.read("got").contains("USR2"));
    assert!(!scratch.read("got").contains("TERM"));
}

/// drinit does not wait for its program's exec (README, "Starting the program"): a restart
/// whose exec fails is found when the child is reaped, said in the same line as at
/// start-up, and counts as an exit with 127 against the restart limit.
#[test]
fn a_restart_that_cannot_exec_counts_as_an_exit_127() {
    let scratch = Scratch::new("exec-gone");
    let program = scratch.script("vanishes.sh", "rm -f \"$0\"\nexit 3");
    let (code, stderr) = run_to_end(&["--restart", "on-failure", "--max-restarts", "2/60", "--", &program]);
    assert_eq!(code, 127, "{stderr}");
    assert!(stderr.contains(&format!("cannot run {program} (ENOENT)")), "{stderr}");
    assert_eq!(stderr.matches("cannot run").count(), 2, "two restarts, both failed: {stderr}");
    assert!(!stderr.contains("exited with code 127"), "a failed exec is not the program's exit: {stderr}");
}

/// A start someone asked for waits for the exec, so the answer says whether it ran.
#[test]
fn a_requested_start_that_cannot_exec_fails_and_drinit_stays() {
    let scratch = Scratch::new("start-gone");
    let program = scratch.recorder("got", true);
    let mut init = Init::start(&["--", &program]);
    assert!(eventually(Duration::from_secs(5), || scratch.read("got").contains("ready")));
    assert_eq!(code(&init.ctl(&["stop"])), 0);
    std::fs::remove_file(&program).unwrap();
    let out = init.ctl(&["start"]);
    assert_eq!(code(&out), 1, "{}", String::from_utf8_lossy(&out.stdout));
    assert!(init.is_running(), "{}", init.stderr());
    let json = init.status_json();
    assert_eq!(json_string(&json, "state").as_deref(), Some("stopped"), "{json}");
    assert_eq!(json_number(&json, "last_exit_code"), Some(127), "{json}");
    assert!(init.stderr().contains(&format!("cannot run {program} (ENOENT)")), "{}", init.stderr());
}
