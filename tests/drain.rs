//! Draining (SPEC §7), superseded requests and the one health verdict (SPEC §3).
mod common;

use common::*;
use std::process::Stdio;
use std::time::{Duration, Instant};

#[test]
fn a_stop_signal_drains_first_while_the_program_still_serves() {
    let scratch = Scratch::new("drain-signal");
    let mut init = running_recorder(&scratch, &["--stop-delay", "2"]);
    let sent = Instant::now();
    init.signal(SIGTERM);
    assert!(eventually(Duration::from_secs(2), || json_string(&init.status_json(), "state").as_deref() == Some("draining")));
    assert_eq!(code(&init.ctl(&["health"])), 1, "unhealthy at once");
    assert_eq!(code(&init.ctl(&["ready"])), 1, "not ready at once");
    assert!(!scratch.read("got").contains("TERM"), "the program has not seen the signal yet");
    assert!(init.stderr().contains("draining"), "a drain is logged without -v: {}", init.stderr());
    assert_eq!(init.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(sent.elapsed() >= Duration::from_millis(1800), "the delay was kept");
    assert!(scratch.read("got").contains("TERM"));
}

#[test]
fn a_second_stop_signal_cuts_the_delay_short() {
    let scratch = Scratch::new("drain-second");
    let mut init = running_recorder(&scratch, &["--stop-delay", "60"]);
    init.signal(SIGTERM);
    assert!(eventually(Duration::from_secs(2), || json_string(&init.status_json(), "state").as_deref() == Some("draining")));
    let second = Instant::now();
    init.signal(SIGTERM);
    assert_eq!(init.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(second.elapsed() < Duration::from_secs(5));
}

#[test]
fn the_pre_stop_hook_ends_before_the_program_gets_the_signal() {
    let scratch = Scratch::new("drain-hook");
    let got = scratch.path("got").display().to_string();
    let hook = scratch.script("pre-stop.sh", &format!("echo pre-stop-$1 >> {got}\nsleep 1\necho pre-stop-done >> {got}"));
    let mut init = running_recorder(&scratch, &["--pre-stop", hook.as_str()]);
    init.signal(SIGTERM);
    assert_eq!(init.wait_exit(Duration::from_secs(10)), Some(0), "{}", init.stderr());
    let lines = scratch.lines("got");
    let at = |what: &str| lines.iter().position(|l| l == what).unwrap_or_else(|| panic!("no {what} in {lines:?}"));
    assert!(at("pre-stop-15") < at("pre-stop-done") && at("pre-stop-done") < at("TERM"), "{lines:?}");
}

#[test]
fn drinitctl_stop_drains_too() {
    let scratch = Scratch::new("drain-ctl");
    let init = running_recorder(&scratch, &["--stop-delay", "2"]);
    let started = Instant::now();
    let mut stop = init.in_namespace().arg(drinit()).args(["ctl", "stop"]).stdout(Stdio::null()).spawn().unwrap();
    assert!(eventually(Duration::from_secs(2), || json_string(&init.status_json(), "state").as_deref() == Some("draining")));
    assert_eq!(code(&init.ctl(&["health"])), 1);
    assert!(!scratch.read("got").contains("TERM"));
    assert!(stop.wait().unwrap().success());
    assert!(started.elapsed() >= Duration::from_millis(1800));
    assert!(scratch.read("got").contains("TERM"));
    assert_eq!(json_string(&init.status_json(), "state").as_deref(), Some("stopped"));
}

#[test]
fn a_restart_overtaken_by_a_stop_is_answered_at_once() {
    let scratch = Scratch::new("superseded");
    // The program ignores TERM: the restart's stop takes the whole grace.
    let program = scratch.term_ignorer("");
    let init = Init::start(&["--grace", "3", "--", program.as_str()]);
    assert!(scratch.term_is_ignored());
    let restart = init.in_namespace().arg(drinit()).args(["ctl", "restart"]).stderr(Stdio::piped()).spawn().unwrap();
    assert!(eventually(Duration::from_secs(2), || json_string(&init.status_json(), "state").as_deref() == Some("stopping")));
    let mut stop = init.in_namespace().arg(drinit()).args(["ctl", "stop"]).stdout(Stdio::null()).spawn().unwrap();
    let overtaken = Instant::now();
    let out = restart.wait_with_output().unwrap();
    assert!(overtaken.elapsed() < Duration::from_millis(1500), "answered at once, not after the stop");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("superseded") && text.contains("stop"), "{text}");
    assert!(stop.wait().unwrap().success(), "the stop itself completes");
}

#[test]
fn health_and_status_agree_at_one_and_at_three_failures_of_three() {
    let scratch = Scratch::new("verdict");
    let flag = scratch.path("ok");
    std::fs::write(&flag, "").unwrap();
    let flag = flag.display().to_string();
    let args = [
        "--health-cmd", "test", "--health-arg", "-f", "--health-arg", flag.as_str(),
        "--health-interval", "1", "--health-retries", "3", "--on-unhealthy", "none", "--", "sleep", "1000",
    ];
    let init = Init::start(&args);
    let failures = || json_number(&init.status_json(), "consecutive_failures").unwrap_or(-1);
    assert!(eventually(Duration::from_secs(5), || json_string(&init.status_json(), "last_probe_ok").is_none() && init.status_json().contains("\"last_probe_ok\":true")));
    std::fs::remove_file(&flag).unwrap();
    assert!(eventually(Duration::from_secs(5), || failures() == 1));
    // One failure of three: healthy for both, and status says what happened.
    assert_eq!(code(&init.ctl(&["health"])), 0);
    assert_eq!(json_string(&init.status_json(), "health").as_deref(), Some("healthy"));
    let text = String::from_utf8_lossy(&init.ctl(&["status"]).stdout).into_owned();
    assert!(text.contains("healthy, last probe failed (1 of 3)"), "{text}");
    assert!(eventually(Duration::from_secs(6), || failures() >= 3));
    assert_eq!(code(&init.ctl(&["health"])), 1);
    assert_eq!(json_string(&init.status_json(), "health").as_deref(), Some("unhealthy"));
    assert!(init.stderr().contains("program is unhealthy"), "turning unhealthy is logged without -v");
}
