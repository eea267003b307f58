//! Settings from the environment: tini's variables carry over, `DRINIT_*` wins over them,
//! an option replaces what a variable set, and a bad or unusable value is a usage error
//! that echoes it.
mod common;

use common::*;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

static RUNS: AtomicU32 = AtomicU32::new(0);

/// drinit (not PID 1) run to its end with `env`, its own socket name, stdin closed.
fn drinit_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(drinit());
    // Tests run in parallel: each drinit gets a socket name of its own.
    let n = RUNS.fetch_add(1, Ordering::Relaxed);
    cmd.args(args).env("DRINIT_SOCKET", format!("environment-{}-{n}", std::process::id()));
    for name in ["TINI_SUBREAPER", "TINI_KILL_PROCESS_GROUP", "TINI_VERBOSITY"] {
        cmd.env_remove(name);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn tini_kill_process_group_sends_signals_to_the_programs_group() {
    // Set but empty counts, as in tini; DRINIT_KILL_GROUP=0 wins over it.
    for (env, expect_helper) in [
        (vec![("TINI_KILL_PROCESS_GROUP", "")], true),
        (vec![("TINI_KILL_PROCESS_GROUP", "1"), ("DRINIT_KILL_GROUP", "0")], false),
    ] {
        let scratch = Scratch::new("tini-group");
        let helper = scratch.recorder("helper", false);
        let main = scratch.recorder("main", true);
        // A second process of the program's process group: a background job of its shell.
        let program = scratch.script("program.sh", &format!("{helper} &\nexec {main}"));
        let mut init = Init::start_with_env(&["--", &program], &env);
        assert!(eventually(Duration::from_secs(10), || scratch.read("helper").contains("ready") && scratch.read("main").contains("ready")));
        init.signal(SIGUSR1);
        assert!(eventually(Duration::from_secs(10), || scratch.read("main").contains("USR1")), "{env:?}: {}", scratch.read("main"));
        if expect_helper {
            assert!(eventually(Duration::from_secs(10), || scratch.read("helper").contains("USR1")), "{env:?}: the group's second process got nothing");
        } else {
            std::thread::sleep(Duration::from_millis(300));
            assert!(!scratch.read("helper").contains("USR1"), "{env:?}: {}", scratch.read("helper"));
        }
        init.signal(SIGTERM);
        assert!(init.wait_exit(Duration::from_secs(10)).is_some());
    }
}

#[test]
fn tini_verbosity_turns_on_lifecycle_logging() {
    // tini's 2 is its -v: drinit's lifecycle lines. tini's 1 is its quiet default.
    let out = drinit_with(&["--", "sh", "-c", "exit 3"], &[("TINI_VERBOSITY", "2")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr.contains("drinit: started sh as pid"), "{stderr}");
    assert!(stderr.contains("drinit: exiting with code 3"), "{stderr}");
    for env in [vec![("TINI_VERBOSITY", "1")], vec![("TINI_VERBOSITY", "2"), ("DRINIT_VERBOSITY", "0")]] {
        let out = drinit_with(&["--", "sh", "-c", "exit 3"], &env);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("started sh"), "{env:?}: {stderr}");
    }
}

#[test]
fn tini_subreaper_registers_pid_1_as_a_subreaper() {
    for (env, expect) in [(vec![("TINI_SUBREAPER", "")], true), (vec![], false)] {
        let mut init = Init::start_with_env(&["-v", "--", "true"], &env);
        assert_eq!(init.wait_exit(Duration::from_secs(20)), Some(0));
        let stderr = init.stderr();
        assert_eq!(stderr.contains("registered as child subreaper (pid 1)"), expect, "{env:?}: {stderr}");
    }
}

#[test]
fn a_probe_option_replaces_the_probe_a_variable_set() {
    // Was a usage error ("only one health probe can be set"): the command line wins.
    let out = drinit_with(&["--health-http", "http://127.0.0.1:1/", "--", "true"], &[("DRINIT_HEALTH_TCP", "8080")]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let out = drinit_with(&["--health-http", "http://127.0.0.1:1/", "--health-tcp", "1", "--", "true"], &[]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_probe_url_too_long_for_the_request_is_a_usage_error() {
    let scratch = Scratch::new("long-url");
    let marker = scratch.path("started");
    let program = format!("touch {}", marker.display());
    // 448 bytes of host and path fit the 512-byte request; one more does not.
    let fits = format!("http://127.0.0.1/{}", "a".repeat(448 - 10));
    let out = drinit_with(&["--health-http", &fits, "--", "true"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let too_long = format!("{fits}a");
    for (args, env) in [
        (vec!["--health-http", too_long.as_str(), "--", "sh", "-c", &program], vec![]),
        (vec!["--", "sh", "-c", &program], vec![("DRINIT_HEALTH_HTTP", too_long.as_str())]),
    ] {
        let out = drinit_with(&args, &env);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("too long"), "{stderr}");
        assert!(!marker.exists(), "the program started");
    }
}

#[test]
fn a_malformed_variable_is_echoed_with_its_value() {
    for (name, value) in [("DRINIT_GRACE", "soon"), ("DRINIT_RESTART", "sometimes"), ("TINI_VERBOSITY", "loud"), ("DRINIT_KILL_GROUP", "")] {
        let out = drinit_with(&["--", "true"], &[(name, value)]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(&format!("'{name}={value}'")), "{stderr}");
    }
}
