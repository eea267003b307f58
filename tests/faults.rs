//! Fault tolerance: PID 1 keeps its promises under signal storms, zombie bursts during
//! control floods, resource exhaustion, a closed stderr, a missing /proc and hostile input.
mod common;

use common::*;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn a_storm_of_100000_signals_keeps_drinit_responsive_and_the_status_exact() {
    let scratch = Scratch::new("storm");
    // The program ignores the storm's signals and exits 7 on TERM; orphans keep exiting.
    let program = scratch.script(
        "program.sh",
        &format!(
            "trap '' USR1 USR2 HUP WINCH ALRM URG\ntrap 'exit 7' TERM\necho ready > {}\nwhile :; do ( sleep 0.01 & ) ; sleep 0.02 & wait $!; done",
            scratch.path("ready").display()
        ),
    );
    let mut init = Init::start(&["--", &program]);
    assert!(eventually(Duration::from_secs(5), || scratch.read("ready").contains("ready")));
    let pid = init.pid();
    let signals = [SIGUSR1, SIGUSR2, SIGHUP, SIGWINCH, 14, 23, SIGCHLD, SIGTSTP];
    for i in 0..100_000 {
        kill(pid, signals[i % signals.len()]);
        if i % 20_000 == 0 {
            assert_eq!(code(&init.ctl(&["status"])), 0, "status during the storm");
        }
    }
    assert_eq!(code(&init.ctl(&["health"])), 0);
    assert!(init.program_pid() > 0);
    init.signal(SIGTERM);
    assert_eq!(init.wait_exit(Duration::from_secs(10)), Some(7), "{}", init.stderr());
}

#[test]
fn ten_thousand_orphans_during_a_control_flood_leave_no_zombie_and_no_growth() {
    let scratch = Scratch::new("burst");
    let go = scratch.path("go");
    let done = scratch.path("done");
    let program = scratch.script(
        "program.sh",
        &format!(
            "while [ ! -e {go} ]; do sleep 0.05; done
             i=0; while [ $i -lt 10000 ]; do ( : & ) ; i=$((i+1)); done
             echo > {done}
             while :; do sleep 1; done",
            go = go.display(),
            done = done.display()
        ),
    );
    let init = Init::start(&["--", &program]);
    assert!(eventually(Duration::from_secs(5), || init.program_pid() > 0));
    let pid = init.pid();
    // Warm up every code path once, then take the baseline.
    for _ in 0..20 {
        init.ctl(&["status", "--json"]);
    }
    let rss_before = proc_status_field(pid, "VmRSS");
    let fds_before = init.open_fds();
    std::fs::write(&go, "").unwrap();
    let mut garbage = init
        .in_namespace()
        .arg(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "send_garbage_helper", "--quiet"])
        .env("DRINIT_TEST_GARBAGE", "5000")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut answered = 0;
    while !done.exists() {
        assert_eq!(code(&init.ctl(&["status"])), 0, "a status request went unanswered");
        answered += 1;
        assert!(answered < 100_000);
    }
    assert!(garbage.wait().unwrap().success());
    assert!(eventually(Duration::from_secs(10), || zombies_in(&init) == 0), "zombies left");
    let rss_after = proc_status_field(pid, "VmRSS");
    let fds_after = init.open_fds();
    assert_eq!(fds_after, fds_before, "fd count changed");
    assert!(rss_after <= rss_before + 8, "VmRSS grew from {rss_before} kB to {rss_after} kB");
    assert!(json_number(&init.status_json(), "rejected_requests").unwrap() >= 5000);
}

/// Sends hostile datagrams from inside drinit's namespace (`common::send_garbage_from_env`).
#[test]
#[ignore = "helper process for ten_thousand_orphans_during_a_control_flood_leave_no_zombie_and_no_growth"]
fn send_garbage_helper() {
    send_garbage_from_env();
}

#[test]
fn a_closed_or_broken_stderr_does_not_stop_drinit() {
    // Closed: every log write fails with EBADF.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("exec {} -vv -- sh -c 'exit 3' 2>&-", drinit().display()))
        .env("DRINIT_SOCKET", format!("closed-{}", std::process::id()))
        .status()
        .unwrap();
    assert_eq!(out.code(), Some(3));
    // Broken pipe: the reader is gone, so drinit's writes raise SIGPIPE at itself, which
    // must neither kill it nor be forwarded to the program.
    let scratch = Scratch::new("broken-pipe");
    let program = scratch.script("program.sh", &format!("trap 'echo PIPE >> {}' PIPE\nsleep 0.5\nexit 4", scratch.path("got").display()));
    let mut child = Command::new(drinit())
        .args(["-vv", "--", &program])
        .env("DRINIT_SOCKET", format!("pipe-{}", std::process::id()))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(4));
    assert!(!scratch.read("got").contains("PIPE"), "drinit forwarded its own SIGPIPE");
}

#[test]
fn without_proc_the_socket_falls_back_to_a_fixed_name_and_works() {
    let scratch = Scratch::new("no-proc");
    let program = scratch.script(
        "program.sh",
        &format!("{} ctl status --json > {}\nexit 6", drinit().display(), scratch.path("status").display()),
    );
    let out = Command::new("unshare")
        .args(["--pid", "--fork", "--mount", "sh", "-c"])
        .arg(format!("umount -l /proc && exec {} -v -- {program}", drinit().display()))
        .env_remove("DRINIT_SOCKET")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(stderr.contains("/proc not mounted: control socket uses the fixed name @drinit"), "{stderr}");
    assert_eq!(json_string(&scratch.read("status"), "socket").as_deref(), Some("drinit"), "{}", scratch.read("status"));
}

#[test]
fn fd_exhaustion_at_start_up_is_a_clear_error() {
    let out = Command::new("prlimit")
        .args(["--nofile=3", "--"])
        .arg(drinit())
        .args(["--", "true"])
        .env("DRINIT_SOCKET", format!("nofile-{}", std::process::id()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("EMFILE"), "{stderr}");
}

/// Runs drinit as an unprivileged uid with at most `nproc` processes for that uid.
fn limited_processes(nproc: u32, args: &[&str]) -> std::process::Child {
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "prlimit", &format!("--nproc={nproc}"), "--"])
        .arg(drinit())
        .args(args)
        .env("DRINIT_SOCKET", format!("nproc-{}-{nproc}", std::process::id()))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn uid_has_processes(uid: u32) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        std::fs::read_to_string(e.path().join("status"))
            .map(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some(&uid.to_string())))
            .unwrap_or(false)
    })
}

#[test]
fn fork_failure_at_start_up_and_at_run_time() {
    if !is_root() || uid_has_processes(65534) {
        eprintln!("skipped: needs root and no process of uid 65534 (RLIMIT_NPROC counts them)");
        return;
    }
    // Start-up: the program cannot be forked → the documented system-error code.
    let out = limited_processes(1, &["--", "true"]).wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("(fork) (EAGAIN)"), "{stderr}");

    // Run time: the program runs, a hook cannot be forked → logged, drinit carries on.
    let scratch = Scratch::new("nproc");
    // The unprivileged program writes its ready file here.
    std::fs::set_permissions(&scratch.dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let hook = scratch.script("hook.sh", "true");
    // The program's shell waits on one long sleep: exactly three processes of the uid.
    let program = scratch.script("program.sh", &format!("trap 'kill $!; exit 5' TERM\nsleep 1000 &\necho ready > {}\nwait", scratch.path("ready").display()));
    // drinit + the program's shell + its sleep: a fourth process cannot start.
    let child = limited_processes(3, &["-t", "USR1", "-r", &hook, "--", &program]);
    assert!(eventually(Duration::from_secs(5), || scratch.read("ready").contains("ready")));
    // setpriv and prlimit exec, so the child is drinit itself.
    let target = child.id() as i32;
    for _ in 0..3 {
        kill(target, SIGUSR1);
        std::thread::sleep(Duration::from_millis(100));
    }
    kill(target, SIGTERM);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("cannot start hook (fork) (EAGAIN)"), "{stderr}");
}

#[test]
fn hook_and_probe_programs_that_are_missing_are_logged_not_fatal() {
    let init = Init::start(&["--health-cmd", "/no/such/probe", "--health-interval", "1", "--health-retries", "1", "--on-unhealthy", "none", "-t", "USR1", "-r", "/no/such/hook", "--", "sleep", "100"]);
    assert!(eventually(Duration::from_secs(5), || init.program_pid() > 0));
    init.signal(SIGUSR1);
    assert!(eventually(Duration::from_secs(5), || json_string(&init.status_json(), "health").as_deref() == Some("unhealthy")));
    let stderr = init.stderr();
    assert!(stderr.contains("cannot run hook /no/such/hook (ENOENT)"), "{stderr}");
    assert!(stderr.contains("health probe command cannot run (ENOENT)"), "{stderr}");
    assert_eq!(init.program_pid(), 2);
}

#[test]
fn hostile_arguments_are_usage_errors_never_crashes() {
    // 128 KiB of arguments in all (one argument may not exceed 128 KiB with its NUL).
    let huge = "x".repeat(32 * 1024);
    let many_traps: Vec<&str> = std::iter::repeat(["-t", "USR1"]).take(3000).flatten().collect();
    let many_rewrites: Vec<&str> = std::iter::repeat(["--rewrite", "TERM:QUIT"]).take(3000).flatten().collect();
    let run = |args: &[&str]| Command::new(drinit()).args(args).env("DRINIT_SOCKET", format!("hostile-{}", std::process::id())).output().unwrap();
    // Accepted, and the program runs with its huge argument intact.
    let out = run(&["--", "sh", "-c", "[ ${#1}${#2}${#3}${#4} = 32768327683276832768 ] && exit 11", "sh", &huge, &huge, &huge, &huge]);
    assert_eq!(out.status.code(), Some(11));
    let mut args = many_traps.clone();
    args.extend(["--", "true"]);
    assert_eq!(run(&args).status.code(), Some(0));
    let mut args = many_rewrites.clone();
    args.extend(["--", "true"]);
    assert_eq!(run(&args).status.code(), Some(0));
    // Rejected with exit 2 and one line.
    for args in [
        vec!["--grace", "99999999999", "true"],
        vec!["-t", "65", "true"],
        vec!["-t", "", "true"],
        vec!["--restart", "", "true"],
        vec!["-r", "", "true"],
        vec!["-t", huge.as_str(), "--", "true"],
        vec!["--max-restarts", "5/0", "true"],
        vec!["--health-tcp", "70000", "true"],
        vec!["--health-http", "http://999.1.1.1/", "true"],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{:?}", args[0]);
        assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
    }
    // Non-UTF-8 bytes are just bytes.
    use std::os::unix::ffi::OsStrExt;
    let bad = std::ffi::OsStr::from_bytes(b"\xff\xfe");
    let out = Command::new(drinit()).arg("-t").arg(bad).arg("true").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    for (var, value) in [("DRINIT_GRACE", ""), ("DRINIT_TRAP", "TERM,,INT"), ("DRINIT_VERBOSITY", "-1"), ("DRINIT_KILL_GROUP", "maybe"), ("DRINIT_SOCKET", "")] {
        let out = Command::new(drinit()).args(["--", "true"]).env(var, value).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{var}={value:?}");
    }
}
