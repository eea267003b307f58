//! The program is a process tree (SPEC §6) and PID 1's own state (SPEC §2): stops and exits
//! leave nothing of the tree behind and kill nothing else; a foreign /proc, thousands of
//! descendants, an ignored SIGCHLD, a stalled stderr and a stopped program change nothing.
mod common;

use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Processes named `name` in the PID namespace of `init` (its own /proc mount).
fn count_named(init: &Init, name: &str) -> usize {
    let script = format!("grep -l '^Name:[[:space:]]*{name}$' /proc/[0-9]*/status 2>/dev/null | wc -l");
    let out = init.in_namespace().args(["sh", "-c", &script]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(usize::MAX)
}

#[test]
fn stop_ends_the_whole_tree_and_restart_never_runs_two_generations() {
    // The seed of issue 14: `sleep` in the program's group outlived "stopped".
    let init = Init::start(&["--", "sh", "-c", "sleep 1000 & wait"]);
    assert!(eventually(Duration::from_secs(5), || count_named(&init, "sleep") == 1));
    let out = init.ctl(&["stop"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(count_named(&init, "sleep"), 0, "stopped means nothing of the tree is left");
    assert_eq!(code(&init.ctl(&["start"])), 0);
    assert!(eventually(Duration::from_secs(5), || count_named(&init, "sleep") == 1));
    assert_eq!(code(&init.ctl(&["restart"])), 0);
    assert!(eventually(Duration::from_secs(5), || count_named(&init, "sleep") == 1));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(count_named(&init, "sleep"), 1, "one generation at a time");
}

#[test]
fn a_stop_reaches_leftovers_in_other_sessions_and_kills_them_at_the_deadline() {
    let scratch = Scratch::new("tree-stop");
    let got = scratch.path("got").display().to_string();
    // A worker that left the program's session and ignores the stop signal.
    let worker = scratch.script("worker.sh", &format!("trap 'echo TERM >> {got}' TERM\necho ready >> {got}\nwhile :; do sleep 0.05; done"));
    let program = scratch.script("program.sh", &format!("setsid {worker} &\nwait"));
    let init = Init::start(&["--grace", "2", "--", program.as_str()]);
    assert!(eventually(Duration::from_secs(5), || scratch.read("got").contains("ready")));
    let started = Instant::now();
    let out = init.ctl(&["stop"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(started.elapsed() >= Duration::from_millis(1500), "stopped only after the deadline");
    assert!(scratch.read("got").contains("TERM"), "the leftover got the stop signal: {}", scratch.read("got"));
    assert_eq!(count_named(&init, "worker.sh"), 0, "{}", init.stderr());
    assert!(init.stderr().contains("grace period over: SIGKILL"), "logged without -v: {}", init.stderr());
}

#[test]
fn leftovers_get_term_and_time_to_clean_up_before_drinit_exits() {
    let scratch = Scratch::new("tree-exit");
    let done = scratch.path("cleaned").display().to_string();
    let worker = scratch.script("worker.sh", &format!("trap 'sleep 0.3; echo cleaned > {done}; exit 0' TERM\nwhile :; do sleep 0.05; done"));
    let program = scratch.script("program.sh", &format!("setsid {worker} &\nsleep 0.5\nexit 3"));
    let (code, stderr) = run_to_end(&["--", program.as_str()]);
    assert_eq!(code, 3, "drinit exits with the program's status: {stderr}");
    assert_eq!(scratch.read("cleaned").trim(), "cleaned", "the leftover ran its TERM handler: {stderr}");
}

#[test]
fn a_restart_policy_starts_again_only_once_the_old_tree_is_gone() {
    let scratch = Scratch::new("tree-policy");
    let log = scratch.path("log").display().to_string();
    let worker = scratch.script("worker.sh", &format!("trap 'sleep 0.5; echo worker-gone >> {log}; exit 0' TERM\nwhile :; do sleep 0.05; done"));
    let program = scratch.script("program.sh", &format!("echo start >> {log}\nsetsid {worker} &\nsleep 0.3\nexit 1"));
    let mut init = Init::start(&["--restart", "on-failure", "--max-restarts", "1", "--", program.as_str()]);
    assert!(init.wait_exit(Duration::from_secs(20)).is_some(), "{}", init.stderr());
    let lines = scratch.lines("log");
    assert_eq!(lines, ["start", "worker-gone", "start", "worker-gone"], "{}", init.stderr());
    assert!(init.stderr().contains("restarting the program"), "restarts are logged without -v: {}", init.stderr());
    assert!(init.stderr().contains("giving up"), "{}", init.stderr());
}

/// The namespace's init is a shell that starts drinit first (pid 2) and then unrelated
/// siblings; /proc is the host's (`unshare --pid --fork`, no `--mount-proc`).
#[test]
fn a_foreign_proc_is_never_trusted_for_a_sweep() {
    if !is_root() {
        eprintln!("SKIP: needs root for a PID namespace with the host's /proc");
        return;
    }
    let scratch = Scratch::new("foreign-proc");
    let alive = scratch.path("alive").display().to_string();
    let script = format!(
        "{} --grace 1 -- sh -c \"trap '' TERM; sleep 1000\" & \n\
         for i in 1 2 3 4 5 6; do sleep 1000 & done\n\
         wait $!\n",
        drinit().display()
    );
    let shell = scratch.script("ns-init.sh", &script);
    let mut unshare = Command::new("unshare")
        .args(["--pid", "--fork", shell.as_str()])
        .env("DRINIT_SOCKET", format!("foreign-proc-{}", std::process::id()))
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let ns_init_children = || -> Vec<i32> {
        let me = unshare.id();
        let inits = std::fs::read_to_string(format!("/proc/{me}/task/{me}/children")).unwrap_or_default();
        let Some(ns_init) = inits.split_whitespace().next() else { return vec![] };
        std::fs::read_to_string(format!("/proc/{ns_init}/task/{ns_init}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    };
    assert!(eventually(Duration::from_secs(5), || ns_init_children().len() == 7), "drinit and six siblings");
    let drinit_pid = ns_init_children()[0];
    let siblings: Vec<i32> = ns_init_children()[1..].to_vec();
    kill(drinit_pid, SIGTERM);
    assert!(eventually(Duration::from_secs(10), || !std::path::Path::new(&format!("/proc/{drinit_pid}")).exists()
        || std::fs::read_to_string(format!("/proc/{drinit_pid}/stat")).unwrap_or_default().contains(") Z")));
    std::thread::sleep(Duration::from_millis(300));
    let survivors = siblings.iter().filter(|&&p| std::path::Path::new(&format!("/proc/{p}")).exists()).count();
    std::fs::write(&alive, survivors.to_string()).unwrap();
    for &p in &siblings {
        kill(p, SIGKILL);
    }
    let _ = unshare.kill();
    let _ = unshare.wait();
    assert_eq!(survivors, siblings.len(), "the grace sweep killed processes drinit did not start");
}

/// A namespace init (a shell) outlives drinit, so whatever drinit's sweep missed stays visible.
#[test]
fn a_sweep_has_no_cap() {
    if !is_root() {
        eprintln!("SKIP: needs root for thousands of processes in a PID namespace");
        return;
    }
    const WORKERS: usize = 2200;
    let scratch = Scratch::new("no-cap");
    let ready = scratch.path("ready").display().to_string();
    let program = scratch.script(
        "program.sh",
        &format!("i=0; while [ $i -lt {WORKERS} ]; do setsid sleep 1000 & i=$((i+1)); done\necho ok > {ready}\nwait"),
    );
    let shell = scratch.script("ns-init.sh", &format!("{} --grace 3 -- {program} &\nwait $!\nexec tail -f /dev/null", drinit().display()));
    let mut unshare = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", shell.as_str()])
        .env("DRINIT_SOCKET", format!("no-cap-{}", std::process::id()))
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let ns_init = || -> i32 {
        let me = unshare.id();
        std::fs::read_to_string(format!("/proc/{me}/task/{me}/children")).unwrap_or_default().split_whitespace().next().and_then(|p| p.parse().ok()).unwrap_or(0)
    };
    if !eventually(Duration::from_secs(60), || std::path::Path::new(&ready).exists()) {
        kill(ns_init(), SIGKILL);
        panic!("workers did not start");
    }
    let in_ns = |script: &str| -> String {
        let out = Command::new("nsenter").args(["-t", &ns_init().to_string(), "-p", "-m", "--", "sh", "-c", script]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let sleeps = || in_ns("grep -l '^Name:[[:space:]]*sleep$' /proc/[0-9]*/status 2>/dev/null | wc -l").parse::<usize>().unwrap_or(usize::MAX);
    assert!(eventually(Duration::from_secs(30), || sleeps() >= WORKERS));
    in_ns("kill -TERM 2");
    let drinit_gone = || in_ns("test -e /proc/2 && echo yes || echo no") == "no";
    assert!(eventually(Duration::from_secs(30), drinit_gone), "drinit exited");
    let left = sleeps();
    // SIGKILL to the namespace's init (by pid) ends everything in it.
    kill(ns_init(), SIGKILL);
    let _ = unshare.wait();
    assert_eq!(left, 0, "every one of {WORKERS} descendants was swept");
}

#[test]
fn an_ignored_sigchld_inherited_from_the_parent_changes_nothing() {
    let perl = Command::new("perl").arg("-e").arg("1").status();
    if !perl.is_ok_and(|s| s.success()) {
        eprintln!("SKIP: perl is not installed");
        return;
    }
    let mut init = Init::start_command(|cmd| {
        cmd.arg("perl").arg("-e").arg("$SIG{CHLD} = 'IGNORE'; exec @ARGV or die").arg(drinit()).args(["--", "sh", "-c", "sleep 0.2; exit 7"]);
    });
    assert_eq!(init.wait_exit(Duration::from_secs(10)), Some(7), "drinit saw the program exit: {}", init.stderr());
}

#[test]
fn a_stalled_stderr_never_blocks_pid1() {
    let scratch = Scratch::new("stalled-stderr");
    // The program fills the pipe that is also drinit's stderr, and nobody reads it.
    let program = scratch.script("program.sh", "trap : USR1\nhead -c 1000000 /dev/zero >&2 &\nwhile :; do sleep 0.05; done");
    let mut init = Init::start_stalled_stderr(&["-vv", "--", program.as_str()]);
    std::thread::sleep(Duration::from_millis(500));
    for _ in 0..50 {
        init.signal(SIGUSR1);
    }
    let started = Instant::now();
    let out = init.ctl(&["status", "--json"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(started.elapsed() < Duration::from_secs(2), "status answered at once");
    let json = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(json_number(&json, "dropped_log_lines").unwrap_or(0) > 0, "dropped lines are counted: {json}");
    init.signal(SIGTERM);
    assert!(init.wait_exit(Duration::from_secs(10)).is_some(), "SIGTERM still ends drinit");
}

#[test]
fn a_stopped_program_gets_sigcont_after_the_stop_signal() {
    let scratch = Scratch::new("stopped-program");
    let program = scratch.recorder("got", true);
    let mut init = Init::start(&["--", program.as_str()]);
    assert!(eventually(Duration::from_secs(5), || scratch.read("got").contains("ready")));
    let pid = init.program_pid().to_string();
    assert!(init.in_namespace().args(["kill", "-STOP", pid.as_str()]).status().unwrap().success());
    std::thread::sleep(Duration::from_millis(200));
    init.signal(SIGTERM);
    assert_eq!(init.wait_exit(Duration::from_secs(5)), Some(0), "the program acted on TERM: {}", scratch.read("got"));
    assert!(scratch.lines("got").iter().any(|l| l == "TERM"));
}
