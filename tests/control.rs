//! drinitctl and the control socket: verbs, seed forms, exit codes, authentication,
//! and hostile datagrams.
mod common;

use common::*;
use std::process::Command;
use std::time::{Duration, Instant};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn status_and_health_of_a_running_program() {
    let scratch = Scratch::new("status");
    let init = running_recorder(&scratch, &[]);
    let out = init.ctl(&["status"]);
    assert_eq!(code(&out), 0);
    assert!(stdout(&out).contains("state:       running"), "{}", stdout(&out));
    let json = init.status_json();
    assert_eq!(json_string(&json, "state").as_deref(), Some("running"));
    assert_eq!(json_number(&json, "pid"), Some(2), "the program is the first child of PID 1: {json}");
    assert_eq!(json_string(&json, "socket").as_deref(), Some(init.socket.as_str()));
    assert_eq!(json_number(&json, "restarts"), Some(0));
    assert_eq!(json_string(&json, "health").as_deref(), Some("none"));
    let health = init.ctl(&["health"]);
    assert_eq!(code(&health), 0);
    // The seed's plain `drinitctl` is the health check.
    assert_eq!(code(&init.ctl(&[])), 0);
}

#[test]
fn stop_health_start_restart_with_verbs_and_seed_forms() {
    let scratch = Scratch::new("verbs");
    let init = running_recorder(&scratch, &[]);
    let first = init.program_pid();

    let out = init.ctl(&["stop"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json_string(&init.status_json(), "state").as_deref(), Some("stopped"));
    assert_eq!(init.program_pid(), 0);
    assert_eq!(json_number(&init.status_json(), "last_exit_code"), Some(0), "the recorder exits 0 on TERM");
    assert_eq!(code(&init.ctl(&["health"])), 1);
    assert_eq!(code(&init.ctl(&["stop"])), 0, "stopping a stopped program is done already");

    assert_eq!(code(&init.ctl(&["start"])), 0);
    let second = init.program_pid();
    assert!(second > 0 && second != first);
    assert_eq!(code(&init.ctl(&["health"])), 0);
    assert_eq!(code(&init.ctl(&["start"])), 0, "starting a running program is done already");

    let out = init.ctl(&["restart"]);
    assert_eq!(code(&out), 0);
    let third = init.program_pid();
    assert!(third > 0 && third != second);
    assert!(stdout(&out).contains(&format!("pid {third}")), "{}", stdout(&out));

    assert_eq!(code(&init.ctl(&["-c", "2"])), 0);
    assert_eq!(init.program_pid(), 0);
    assert_eq!(code(&init.ctl(&["-c", "1"])), 0);
    let fourth = init.program_pid();
    assert!(fourth > 0);
    assert_eq!(code(&init.ctl(&["-c3"])), 0);
    assert!(init.program_pid() > 0 && init.program_pid() != fourth);
    assert_eq!(json_number(&init.status_json(), "restarts"), Some(2), "restart and -c3");
}

#[test]
fn signal_verb_bypasses_traps() {
    let scratch = Scratch::new("signal");
    let init = running_recorder(&scratch, &["-t", "USR1,USR2,HUP"]);
    assert_eq!(code(&init.ctl(&["signal", "USR1"])), 0);
    assert_eq!(code(&init.ctl(&["-s", "SIGUSR2"])), 0);
    assert_eq!(code(&init.ctl(&["-sHUP"])), 0);
    assert!(eventually(Duration::from_secs(5), || {
        let got = scratch.read("got");
        got.contains("USR1") && got.contains("USR2") && got.contains("HUP")
    }));
    assert_eq!(code(&init.ctl(&["stop"])), 0);
    assert_eq!(code(&init.ctl(&["signal", "USR1"])), 1, "no program to signal");
}

#[test]
fn usage_errors_exit_2_but_the_health_forms_exit_1() {
    let scratch = Scratch::new("ctl-usage");
    let init = running_recorder(&scratch, &[]);
    for args in [&["bogus"][..], &["signal", "NOPE"], &["signal"], &["-c", "4"], &["status", "stop"], &["--timeout", "0", "status"], &["stop", "--json"]] {
        let out = init.ctl(args);
        assert_eq!(code(&out), 2, "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1, "{args:?}");
    }
    // Docker reserves 2: the health forms (plain drinitctl, health, ready) exit 1 instead.
    for args in [&["health", "--bogus"][..], &["--bogus"], &["ready", "--bogus"], &["--timeout", "0"], &["--bogus", "health"]] {
        let out = init.ctl(args);
        assert_eq!(code(&out), 1, "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1, "{args:?}");
    }
    assert_eq!(code(&init.ctl(&["stop", "--bogus"])), 2);
    assert_eq!(code(&init.ctl(&["ready"])), 0, "a running program without readiness protocol is ready");
    assert_eq!(code(&init.ctl(&["--help"])), 0);
    assert_eq!(code(&init.ctl(&["--version"])), 0);
}

#[test]
fn drinitctl_symlink_is_the_client() {
    let scratch = Scratch::new("symlink");
    let init = running_recorder(&scratch, &[]);
    let link = scratch.path("drinitctl");
    std::os::unix::fs::symlink(drinit(), &link).unwrap();
    let out = init.in_namespace().arg(&link).args(["status", "--json"]).output().unwrap();
    assert_eq!(code(&out), 0);
    assert_eq!(json_string(&stdout(&out), "state").as_deref(), Some("running"));
}

#[test]
fn run_script_after_a_successful_action_only() {
    let scratch = Scratch::new("then-run");
    let init = running_recorder(&scratch, &[]);
    let script = scratch.script("after.sh", &format!("echo ran >> {}\nexit 7", scratch.path("after").display()));
    let out = init.ctl(&["-c", "3", "-r", &script]);
    assert_eq!(code(&out), 7, "drinitctl execs the script, so its code is the script's");
    assert_eq!(scratch.read("after"), "ran\n");
    assert_eq!(code(&init.ctl(&["stop"])), 0);
    let out = init.ctl(&["signal", "USR1", "-r", &script]);
    assert_eq!(code(&out), 1);
    assert_eq!(scratch.read("after"), "ran\n", "a failed action must not run the script");
}

#[test]
fn seed_workflow_trap_hook_cycles_the_program_with_drinitctl() {
    // ENTRYPOINT ["drinit", "-t", "SIGTERM", "-r", "./mysigterm.sh", "--"] where the hook
    // runs `./drinitctl -c3 -r dosomething.sh`, as in the seed's README.
    let scratch = Scratch::new("seed");
    let ctl = scratch.path("drinitctl");
    std::os::unix::fs::symlink(drinit(), &ctl).unwrap();
    let something = scratch.script("dosomething.sh", &format!("echo cycled >> {}", scratch.path("something").display()));
    let hook = scratch.script(
        "mysigterm.sh",
        &format!("if [ \"$1\" = 15 ]\nthen\n    {} -c3 -r {}\nfi", ctl.display(), something),
    );
    let mut init = running_recorder(&scratch, &["-t", "SIGTERM", "-r", &hook]);
    let before = init.program_pid();
    init.signal(SIGTERM);
    assert!(eventually(Duration::from_secs(10), || scratch.read("something").contains("cycled")), "{}", init.stderr());
    let after = init.program_pid();
    assert!(after > 0 && after != before, "program was not restarted: {before} -> {after}");
    assert!(init.is_running(), "drinit must stay up");
    assert_eq!(scratch.read("got").matches("ready").count(), 2, "the program started twice");
}

#[test]
fn requests_are_served_while_a_hook_runs() {
    let scratch = Scratch::new("busy-hook");
    let hook = scratch.script("hook.sh", &format!("echo started > {}\nsleep 5", scratch.path("hook").display()));
    let init = running_recorder(&scratch, &["-t", "HUP", "-r", &hook]);
    init.signal(SIGHUP);
    assert!(eventually(Duration::from_secs(5), || scratch.read("hook").contains("started")));
    let started = Instant::now();
    assert_eq!(code(&init.ctl(&["status"])), 0);
    init.signal(SIGUSR1);
    assert!(eventually(Duration::from_secs(2), || scratch.read("got").contains("USR1")), "forwarding stalled behind the hook");
    assert!(started.elapsed() < Duration::from_secs(4), "answered only after the hook ended");
}

#[test]
fn nobody_listening_is_exit_1_at_once() {
    let started = Instant::now();
    let out = Command::new(drinit())
        .args(["ctl", "status"])
        .env("DRINIT_SOCKET", format!("nobody-here-{}", std::process::id()))
        .output()
        .unwrap();
    assert_eq!(code(&out), 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no drinit is listening"));
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
}

#[test]
fn a_request_from_outside_the_pid_namespace_is_refused() {
    let scratch = Scratch::new("outsider");
    let init = running_recorder(&scratch, &[]);
    let pid = init.program_pid();
    // Same network namespace (the abstract name is reachable), other PID namespace.
    let out = Command::new(drinit()).args(["ctl", "--timeout", "1", "stop"]).env("DRINIT_SOCKET", &init.socket).output().unwrap();
    assert_eq!(code(&out), 1);
    assert_eq!(init.program_pid(), pid, "the outsider's stop must not act");
    assert!(json_number(&init.status_json(), "rejected_requests").unwrap() >= 1);
}

/// Not a test of its own: `hostile_datagrams_are_counted_and_dropped` runs this inside
/// drinit's PID namespace (so the datagrams pass the credential check and reach the decoder).
#[test]
#[ignore = "helper process for hostile_datagrams_are_counted_and_dropped"]
fn send_garbage_helper() {
    send_garbage_from_env();
}

#[test]
fn hostile_datagrams_are_counted_and_dropped() {
    let scratch = Scratch::new("garbage");
    let init = running_recorder(&scratch, &[]);
    let pid = init.program_pid();
    let mut sender = init
        .in_namespace()
        .arg(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "send_garbage_helper", "--quiet"])
        .env("DRINIT_TEST_GARBAGE", "10000")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // A flood of valid requests at the same time: every one is answered.
    for _ in 0..200 {
        assert_eq!(code(&init.ctl(&["status"])), 0);
    }
    assert!(sender.wait().unwrap().success());
    let json = init.status_json();
    assert!(json_number(&json, "rejected_requests").unwrap() >= 10_000, "{json}");
    assert_eq!(json_number(&json, "pid"), Some(pid), "the program was touched");
    assert_eq!(code(&init.ctl(&["health"])), 0);
    assert!(!scratch.read("got").contains("TERM"));
}
