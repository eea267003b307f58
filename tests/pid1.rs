//! The PID-1 core: exit codes, signal forwarding, reaping, traps and hooks, idling.
mod common;

use common::*;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn every_exit_code_passes_through() {
    for n in 0..=255 {
        let (code, stderr) = run_to_end(&["--", "sh", "-c", &format!("exit {n}")]);
        assert_eq!(code, n, "program exit {n}; stderr: {stderr}");
    }
}

#[test]
fn death_by_signal_is_128_plus_n() {
    for (signal, expected) in [("KILL", 137), ("TERM", 143), ("USR1", 138), ("SEGV", 139)] {
        let (code, _) = run_to_end(&["--", "sh", "-c", &format!("kill -{signal} $$")]);
        assert_eq!(code, expected, "program killed by SIG{signal}");
    }
}

#[test]
fn exec_failures_are_126_and_127() {
    let scratch = Scratch::new("exec");
    let (code, stderr) = run_to_end(&["--", "/no/such/program"]);
    assert_eq!(code, 127);
    assert!(stderr.contains("cannot run /no/such/program (ENOENT)"), "{stderr}");
    let (code, _) = run_to_end(&["--", "no-such-program-on-path"]);
    assert_eq!(code, 127);
    let not_executable = scratch.path("data.txt");
    std::fs::write(&not_executable, "x").unwrap();
    let (code, stderr) = run_to_end(&["--", not_executable.to_str().unwrap()]);
    assert_eq!(code, 126);
    assert!(stderr.contains("EACCES"), "{stderr}");
}

/// A name without `/` is looked up in PATH as the shell does: a directory where the file
/// is not executable, or an entry that is no directory, is passed over for a later one
/// where it runs; an empty entry is the current directory; found but never runnable is
/// 126 (EACCES), found nowhere 127 (ENOENT), even when the last entry was not a directory.
#[test]
fn program_names_are_looked_up_in_path_like_the_shell() {
    use std::os::unix::fs::PermissionsExt;
    let scratch = Scratch::new("path");
    let (denied, runs) = (scratch.path("denied"), scratch.path("runs"));
    for (dir, mode, code) in [(&denied, 0o644, 5), (&runs, 0o755, 7)] {
        std::fs::create_dir(dir).unwrap();
        let file = dir.join("drinit-path-test");
        std::fs::write(&file, format!("#!/bin/sh\nexit {code}\n")).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let missing = scratch.path("missing");
    let not_a_dir = denied.join("drinit-path-test");
    let run = |path: String, cwd: &std::path::Path| {
        let mut init = Init::start_command(|cmd| {
            // unshare is found in the usual places, which have no drinit-path-test.
            cmd.arg(drinit()).args(["--", "drinit-path-test"]).env("PATH", format!("/usr/bin:/bin:{path}")).current_dir(cwd);
        });
        let code = init.wait_exit(Duration::from_secs(20)).expect("drinit did not exit");
        (code, init.stderr())
    };
    let here = std::env::current_dir().unwrap();
    let join = |dirs: &[&std::path::Path]| dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(":");
    assert_eq!(run(join(&[&missing, &denied, &not_a_dir, &runs]), &here).0, 7, "the runnable one, after the others");
    assert_eq!(run(format!("{}:", missing.display()), &runs).0, 7, "an empty entry is the current directory");
    let (code, stderr) = run(join(&[&missing, &denied]), &here);
    assert_eq!(code, 126, "{stderr}");
    assert!(stderr.contains("(EACCES)"), "{stderr}");
    let (code, stderr) = run(join(&[&missing, &not_a_dir]), &here);
    assert_eq!(code, 127, "not found, though the last entry said ENOTDIR: {stderr}");
    assert!(stderr.contains("(ENOENT)"), "{stderr}");
}

#[test]
fn usage_errors_exit_2_with_one_line_and_start_nothing() {
    let scratch = Scratch::new("usage");
    let marker = scratch.path("started");
    let program = format!("touch {}", marker.display());
    for args in [
        vec!["--bogus", "--", "sh", "-c", &program],
        vec!["-t", "SIGNOPE", "--", "sh", "-c", &program],
        vec!["-t", "65", "--", "sh", "-c", &program],
        vec!["--grace", "99999999999", "--", "sh", "-c", &program],
        vec!["-e", "300", "sh", "-c", &program],
        vec!["-v"],
        vec![],
    ] {
        let out = Command::new(drinit()).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("drinit: "), "{stderr}");
        assert!(!marker.exists(), "{args:?} started the program");
    }
}

#[test]
fn malformed_environment_is_a_usage_error() {
    let out = Command::new(drinit()).args(["--", "true"]).env("DRINIT_GRACE", "soon").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("DRINIT_GRACE"));
}

#[test]
fn version_line_is_parsable_by_docker() {
    let out = Command::new(drinit()).arg("--version").output().unwrap();
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    let (name_version, git) = line.trim().split_once(" - ").expect("NAME version V - git.HASH");
    assert!(name_version.starts_with("drinit version 0."), "{line}");
    assert!(git.starts_with("git."), "{line}");
}

#[test]
fn forwards_signals_but_not_job_control_and_exits_with_the_program() {
    let scratch = Scratch::new("forward");
    let program = scratch.recorder("got", true);
    let mut init = Init::start(&["--", &program]);
    assert!(eventually(Duration::from_secs(5), || scratch.read("got").contains("ready")));
    for signal in [SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH, SIGTSTP, SIGCONT] {
        init.signal(signal);
        // One at a time: the shell handles traps one by one.
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(eventually(Duration::from_secs(5), || scratch.read("got").contains("CONT")), "{}", scratch.read("got"));
    let got = scratch.lines("got");
    for name in ["HUP", "USR1", "USR2", "WINCH", "CONT"] {
        assert!(got.iter().any(|l| l == name), "program did not get SIG{name}: {got:?}");
    }
    assert!(!got.iter().any(|l| l == "TSTP"), "SIGTSTP must not be forwarded: {got:?}");
    init.signal(SIGTERM);
    assert_eq!(init.wait_exit(Duration::from_secs(5)), Some(0));
    assert!(scratch.lines("got").iter().any(|l| l == "TERM"));
}

#[test]
fn group_delivery_with_g_reaches_the_whole_process_group() {
    for (flag, expect_grandchild) in [(Some("-g"), true), (None, false)] {
        let scratch = Scratch::new("group");
        let helper = scratch.recorder("child", false);
        let main = scratch.recorder("main", true);
        // The program starts a helper in its own process group, then becomes the recorder.
        let program = scratch.script("program.sh", &format!("{helper} &\nexec {main}"));
        let mut args = vec![];
        args.extend(flag);
        args.extend(["--", program.as_str()]);
        let mut init = Init::start(&args);
        assert!(eventually(Duration::from_secs(5), || scratch.read("child").contains("ready") && scratch.read("main").contains("ready")));
        init.signal(SIGUSR1);
        assert!(eventually(Duration::from_secs(5), || scratch.read("main").contains("USR1")));
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(scratch.read("child").contains("USR1"), expect_grandchild, "flag {flag:?}: {}", scratch.read("child"));
        init.signal(SIGTERM);
        // The helper ignores TERM: it is the program's leftover, TERMed once the program has
        // exited (with -g already with it), then SIGKILLed 5 s later (--grace is 0).
        assert!(init.wait_exit(Duration::from_secs(15)).is_some());
        assert!(scratch.read("child").contains("TERM"), "flag {flag:?}: the leftover got TERM: {}", scratch.read("child"));
    }
}

#[test]
fn reaps_a_burst_of_500_orphans_and_keeps_the_program_status() {
    let scratch = Scratch::new("orphans");
    let count = scratch.path("zombies");
    let program = scratch.script(
        "program.sh",
        &format!(
            "i=0; while [ $i -lt 500 ]; do ( sleep 0.2 & ) ; i=$((i+1)); done
             sleep 1.5
             grep -l '^State:.*Z' /proc/[0-9]*/status 2>/dev/null | wc -l > {}
             exit 42",
            count.display()
        ),
    );
    let mut init = Init::start(&["--", &program]);
    assert_eq!(init.wait_exit(Duration::from_secs(30)), Some(42), "{}", init.stderr());
    assert_eq!(scratch.read("zombies").trim(), "0", "zombies left while the program ran");
}

#[test]
fn orphans_exiting_with_the_program_do_not_steal_its_status() {
    // The program and its orphans exit at the same moment: the SIGCHLDs coalesce, and
    // the program's status must still come out of the one reaping loop.
    for _ in 0..20 {
        let (code, _) = run_to_end(&["--", "sh", "-c", "for i in 1 2 3 4 5 6 7 8; do (sleep 0.05 &) ; done; sleep 0.05; exit 9"]);
        assert_eq!(code, 9);
    }
}

#[test]
fn trapped_signal_runs_the_hook_and_is_not_forwarded() {
    let scratch = Scratch::new("trap");
    let program = scratch.recorder("got", true);
    let hook = scratch.script("hook.sh", &format!("echo \"$1 $DRINIT_SIGNAL $DRINIT_PID\" >> {}", scratch.path("hook").display()));
    let mut init = Init::start(&["-t", "SIGUSR1,usr2", "-r", &hook, "--", &program]);
    assert!(eventually(Duration::from_secs(5), || scratch.read("got").contains("ready")));
    // Two different trapped signals in quick succession: one hook each.
    init.signal(SIGUSR1);
    init.signal(SIGUSR2);
    assert!(eventually(Duration::from_secs(5), || scratch.lines("hook").len() == 2), "{:?}", scratch.lines("hook"));
    let pid = init.program_pid();
    let mut hooks = scratch.lines("hook");
    hooks.sort();
    assert_eq!(hooks, vec![format!("10 10 {pid}"), format!("12 12 {pid}")]);
    std::thread::sleep(Duration::from_millis(200));
    let got = scratch.read("got");
    assert!(!got.contains("USR1") && !got.contains("USR2"), "trapped signals reached the program: {got}");
    init.signal(SIGTERM);
    assert_eq!(init.wait_exit(Duration::from_secs(5)), Some(0));
}

#[test]
fn trap_without_hook_swallows_the_signal() {
    let scratch = Scratch::new("swallow");
    let program = scratch.recorder("got", true);
    let mut init = Init::start(&["-t", "HUP", "--", &program]);
    assert!(eventually(Duration::from_secs(5), || scratch.read("got").contains("ready")));
    init.signal(SIGHUP);
    init.signal(SIGUSR1);
    assert!(eventually(Duration::from_secs(5), || scratch.read("got").contains("USR1")));
    std::thread::sleep(Duration::from_millis(200));
    assert!(!scratch.read("got").contains("HUP"));
    assert!(init.is_running());
}

#[test]
fn a_hook_that_overruns_its_timeout_is_killed_with_its_children_and_reaped() {
    let scratch = Scratch::new("hook-timeout");
    let hook = scratch.script("hook.sh", &format!("echo started > {}\nsleep 100 &\nsleep 100", scratch.path("hook").display()));
    let init = Init::start(&["-v", "--hook-timeout", "1", "-t", "USR1", "-r", &hook, "--", "sleep", "100"]);
    assert!(eventually(Duration::from_secs(5), || init.program_pid() > 0));
    init.signal(SIGUSR1);
    assert!(eventually(Duration::from_secs(5), || scratch.read("hook").contains("started")));
    assert!(eventually(Duration::from_secs(5), || init.stderr().contains("overran its timeout: killed")), "{}", init.stderr());
    // Nothing of the hook is left: no sleep 100 but the program, no zombie.
    let only_program = || {
        let out = init.in_namespace().args(["sh", "-c", "grep -l 'sleep' /proc/[0-9]*/comm 2>/dev/null | wc -l"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim() == "1"
    };
    assert!(eventually(Duration::from_secs(5), only_program));
    assert!(eventually(Duration::from_secs(5), || zombies_in(&init) == 0));
}

#[test]
fn idle_drinit_makes_no_wakeups() {
    let init = Init::start(&["--", "sleep", "100"]);
    assert!(eventually(Duration::from_secs(5), || init.program_pid() > 0));
    std::thread::sleep(Duration::from_millis(200));
    let before = init.context_switches();
    std::thread::sleep(Duration::from_secs(2));
    let after = init.context_switches();
    assert_eq!(after, before, "drinit woke up {} times while idle", after - before);
}

#[test]
fn the_program_gets_the_original_signal_mask_and_default_dispositions() {
    let scratch = Scratch::new("mask");
    let out = scratch.path("status");
    // The parent ignores USR1 and blocks nothing; drinit blocks everything for itself.
    let program = format!("grep -E '^Sig(Blk|Ign)' /proc/self/status > {}", out.display());
    let status = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "sh", "-c"])
        .arg(format!("trap '' USR1; exec {} -- sh -c \"{program}\"", drinit().display()))
        .env("DRINIT_SOCKET", format!("mask-{}", std::process::id()))
        .status()
        .unwrap();
    assert!(status.success());
    let text = scratch.read("status");
    assert!(text.contains("SigBlk:\t0000000000000000"), "{text}");
    assert!(text.contains("SigIgn:\t0000000000000000"), "{text}");
}

#[test]
fn as_a_subreaper_it_reaps_orphans_and_says_so() {
    // Not PID 1: drinit registers itself as child subreaper.
    let scratch = Scratch::new("subreaper");
    let program = scratch.script(
        "program.sh",
        &format!("( sleep 0.1 & echo $! > {} )\nsleep 0.5\nexit 5", scratch.path("orphan").display()),
    );
    let out = Command::new(drinit())
        .args(["-v", "--", &program])
        .env("DRINIT_SOCKET", format!("subreaper-{}", std::process::id()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("registered as child subreaper"), "{stderr}");
    let orphan: i32 = scratch.read("orphan").trim().parse().unwrap();
    assert!(!std::path::Path::new(&format!("/proc/{orphan}")).exists(), "orphan {orphan} was not reaped");
}

#[test]
fn a_taken_socket_name_is_an_error_before_the_program_starts() {
    let scratch = Scratch::new("taken");
    let first = Init::start(&["--", "sleep", "100"]);
    assert!(eventually(Duration::from_secs(5), || first.program_pid() > 0));
    let marker = scratch.path("started");
    let started = Instant::now();
    let out = first
        .in_namespace()
        .arg(drinit())
        .args(["--", "sh", "-c", &format!("touch {}", marker.display())])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is taken by a running drinit") && stderr.contains("DRINIT_SOCKET"), "{stderr}");
    assert!(!marker.exists());
    assert!(started.elapsed() < Duration::from_secs(5));
}
