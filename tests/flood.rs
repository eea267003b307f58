//! Everything at once (issue 17): drinit waits for signals in one call, and the control
//! socket, the notify socket and the deadline timer all arrive there as signals.
//! A flood of requests, of queued realtime signals and of probe deadlines together must
//! lose nothing: every request answered, every signal forwarded, every probe on time.
mod common;

use common::*;
use std::os::unix::net::UnixDatagram;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A program that counts the signals it gets (blocked, taken with sigwaitinfo, so queued
/// realtime signals count one by one) and keeps `SIGNO:COUNT ...` in `file`. It ignores
/// SIGUSR1, the flood of one test: sigwaitinfo would take that one first every time.
fn counter(scratch: &Scratch, file: &str, signals: &[i32]) -> String {
    let out = scratch.path(file);
    let list = signals.iter().map(i32::to_string).collect::<Vec<_>>().join(",");
    scratch.script(
        &format!("count-{file}.sh"),
        &format!(
            r#"exec python3 -c '
import os, signal
wanted = {{{list}}}
signal.signal(signal.SIGUSR1, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_BLOCK, wanted)
out = os.open("{out}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
counts = {{}}
os.write(out, b"ready\n")
while True:
    info = signal.sigwaitinfo(wanted)
    counts[info.si_signo] = counts.get(info.si_signo, 0) + 1
    line = " ".join("%d:%d" % kv for kv in sorted(counts.items())).encode() + b"\n"
    os.ftruncate(out, 0)
    os.pwrite(out, line, 0)
'
"#,
            out = out.display()
        ),
    )
}

/// The floods take both CPUs: one at a time, or each would measure the other.
static ONE_FLOOD_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Not a test of its own: `DRINIT_TEST_CLIENTS` sockets each send status requests for
/// `DRINIT_TEST_MS`, 8 in flight at a time (the kernel queues 10 datagrams per socket),
/// and expect every reply; prints `sent N answered M`.
/// For the helpers below, run in drinit's namespace: `DRINIT_TEST_CLIENTS` threads, each
/// with a socket of its own, calling `client(socket, drinit's address, until)` for
/// `DRINIT_TEST_MS`; what they return.
fn from_client_threads<T: Send + 'static>(client: fn(UnixDatagram, std::os::unix::net::SocketAddr, Instant) -> T) -> Vec<T> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::SocketAddr;
    let clients: u32 = std::env::var("DRINIT_TEST_CLIENTS").expect("run by the flood test").parse().unwrap();
    let ms: u64 = std::env::var("DRINIT_TEST_MS").unwrap().parse().unwrap();
    let to = SocketAddr::from_abstract_name(std::env::var("DRINIT_SOCKET").unwrap().as_bytes()).unwrap();
    let until = Instant::now() + Duration::from_millis(ms);
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let to = to.clone();
            std::thread::spawn(move || client(UnixDatagram::unbound().unwrap(), to, until))
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

/// Not a test of its own: each client sends status requests, 8 in flight at a time (the
/// kernel queues 10 datagrams per socket), and expects every reply; prints `sent N
/// answered M`.
#[test]
#[ignore = "helper process for a_flood_of_requests_signals_and_deadlines_loses_nothing"]
fn request_flood_helper() {
    let counts = from_client_threads(|socket, to, until| {
        pass_credentials(&socket);
        socket.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let (mut sent, mut answered) = (0u32, 0u32);
        let mut reply = [0u8; 256];
        while Instant::now() < until {
            for _ in 0..8 {
                socket.send_to_addr(&status_frame(sent), &to).unwrap();
                sent += 1;
            }
            for _ in 0..8 {
                // A lost reply shows as a timeout: counted as unanswered.
                match socket.recv(&mut reply) {
                    Ok(n) if n >= 12 => answered += 1,
                    _ => break,
                }
            }
        }
        (sent, answered)
    });
    let (sent, answered) = counts.into_iter().fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    println!("sent {sent} answered {answered}");
}

/// What a flood test runs: drinit with a probe that leaves a line in `probes` each
/// second, a program counting signal 35, and a flood of drinit's own (a helper of
/// this binary on its socket, from inside its namespace, or a thread signalling it).
struct Flood {
    scratch: Scratch,
    init: Init,
    helper: Option<std::process::Child>,
    probes_before: usize,
    /// Signals 35 sent to drinit while the flood ran.
    signals: usize,
    /// Of those, how many the program had counted when the last was sent.
    forwarded_during: usize,
    /// Probes run by then.
    probed_during: usize,
    /// Signals 10 sent by the `Signal10` flood.
    signals_10: usize,
}

const FLOOD_MS: u64 = 3500;

/// Where a flood comes from.
enum Source<'a> {
    /// This binary's `helper` run with `clients` threads on drinit's socket.
    Helper(&'a str, u32),
    /// A thread sending drinit signal 10 without a pause.
    Signal10,
}

impl Flood {
    /// Starts it all and sends drinit `per_10ms` signals 35 every 10 ms for FLOOD_MS
    /// (paced, so the program's own queue of realtime signals never fills).
    fn run(name: &str, source: Source, per_10ms: usize) -> Flood {
        use std::sync::atomic::{AtomicBool, Ordering};
        let scratch = Scratch::new(name);
        let probe = format!("echo p >> {}", scratch.path("probes").display());
        let program = counter(&scratch, "got", &[35]);
        let init = Init::start(&["--health-cmd", "sh", "--health-arg", "-c", "--health-arg", &probe, "--health-interval", "1", "--", &program]);
        assert!(eventually(Duration::from_secs(10), || scratch.read("got").contains("ready")), "the counter did not start");
        let probes_before = probes(&scratch);
        let drinit = init.pid();
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let (helper, flooder) = match source {
                Source::Helper(helper, clients) => {
                    let child = init
                        .in_namespace()
                        .arg(std::env::current_exe().unwrap())
                        .args(["--ignored", "--exact", helper, "--quiet", "--nocapture"])
                        .env("DRINIT_TEST_CLIENTS", clients.to_string())
                        .env("DRINIT_TEST_MS", FLOOD_MS.to_string())
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped())
                        .spawn();
                    (child.ok(), None)
                }
                Source::Signal10 => {
                    let thread = scope.spawn(|| {
                        let mut sent = 0;
                        while !stop.load(Ordering::Relaxed) {
                            sent += kill(drinit, 10) as usize;
                        }
                        sent
                    });
                    (None, Some(thread))
                }
            };
            let started = Instant::now();
            let mut signals = 0;
            while started.elapsed() < Duration::from_millis(FLOOD_MS) {
                for _ in 0..per_10ms {
                    assert!(kill(drinit, 35), "kill drinit");
                    signals += 1;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let mut flood = Flood { scratch, init, helper, probes_before, signals, forwarded_during: 0, probed_during: 0, signals_10: 0 };
            // While the flood still runs.
            flood.forwarded_during = flood.count_of(35);
            flood.probed_during = flood.probed();
            stop.store(true, Ordering::Relaxed);
            flood.signals_10 = flooder.map_or(0, |t| t.join().unwrap());
            flood
        })
    }

    /// How many of `signal` the program has counted.
    fn count_of(&self, signal: i32) -> usize {
        let prefix = format!("{signal}:");
        let got = self.scratch.read("got");
        got.split_whitespace().find_map(|w| w.strip_prefix(prefix.as_str())?.parse().ok()).unwrap_or(0)
    }

    fn probed(&self) -> usize {
        probes(&self.scratch) - self.probes_before
    }

    /// The helper's line that starts with `prefix`, once it has ended well.
    fn helper_said(&mut self, prefix: &str) -> String {
        let out = self.helper.take().expect("the flood helper started").wait_with_output().unwrap();
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "flood helper failed: {}", stderr(&out));
        said.lines().find(|l| l.starts_with(prefix)).unwrap_or_default().to_owned()
    }

    /// Every signal 35 sent reached the program, one by one.
    fn assert_all_forwarded(&self) {
        let signals = self.signals;
        assert!(eventually(Duration::from_secs(10), || self.count_of(35) == signals), "signals lost: {} of {signals}", self.count_of(35));
    }

    /// Most signals 35 were forwarded as they came, and the probe deadline fired once a
    /// second, while the flood ran (most: the program that counts them gets its share of
    /// the CPUs too; a drinit kept busy by the flood forwards next to none).
    fn assert_nothing_starved(&self) {
        let (forwarded, signals, probed) = (self.forwarded_during, self.signals, self.probed_during);
        assert!(forwarded * 2 >= signals, "signals starved by the flood: {forwarded} of {signals} forwarded while it ran");
        assert!(probed >= 3, "{probed} probes in {FLOOD_MS} ms: the timer starved by the flood");
    }
}

fn probes(scratch: &Scratch) -> usize {
    scratch.read("probes").lines().count()
}

#[test]
fn a_flood_of_requests_signals_and_deadlines_loses_nothing() {
    let _alone = ONE_FLOOD_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // Realtime signals queue one by one: each must reach the program, none coalesce.
    let mut flood = Flood::run("flood", Source::Helper("request_flood_helper", 4), 50);
    let line = flood.helper_said("sent ");
    let numbers: Vec<u64> = line.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    assert!(numbers.len() == 2 && numbers[0] > 1000 && numbers[0] == numbers[1], "requests went unanswered: {line}");
    flood.assert_all_forwarded();
    // The probe deadline fires once a second throughout.
    let probed = flood.probed();
    assert!(probed >= 3, "{probed} probes in {FLOOD_MS} ms: deadlines were lost in the flood");
    let status = flood.init.status_json();
    assert_eq!(json_string(&status, "health").as_deref(), Some("healthy"), "{status}");
    assert_eq!(json_number(&status, "rejected_requests"), Some(0), "{status}");
    eprintln!("{line} requests, {} signals, {probed} probes in {FLOOD_MS} ms", flood.signals);
}

/// Not a test of its own: each client sends 3-byte garbage datagrams (dropped, never
/// answered) as fast as drinit takes them; prints `blasted N`.
#[test]
#[ignore = "helper process for a_flood_that_never_lets_up_starves_neither_signals_nor_deadlines"]
fn blaster_helper() {
    let counts = from_client_threads(|socket, to, until| {
        let mut sent = 0u64;
        while Instant::now() < until {
            // Blocking: waits for room in drinit's queue, so it is never empty.
            socket.send_to_addr(b"bad", &to).unwrap();
            sent += 1;
        }
        sent
    });
    println!("blasted {}", counts.into_iter().sum::<u64>());
}

/// A sender that never lets up keeps drinit's control socket full: every batch of 64
/// leaves more behind. The signals and the timer that arrive meanwhile still go first.
#[test]
fn a_flood_that_never_lets_up_starves_neither_signals_nor_deadlines() {
    let _alone = ONE_FLOOD_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut flood = Flood::run("blast", Source::Helper("blaster_helper", 3), 10);
    let line = flood.helper_said("blasted ");
    let blasted: u64 = line.trim_start_matches("blasted ").parse().unwrap_or(0);
    assert!(blasted > 10_000, "the flood was too thin to test anything: {line}");
    flood.assert_nothing_starved();
    flood.assert_all_forwarded();
    let (signals, forwarded, probed) = (flood.signals, flood.forwarded_during, flood.probed_during);
    eprintln!("{blasted} datagrams, {signals} signals ({forwarded} forwarded during the flood), {probed} probes in {FLOOD_MS} ms");
}

/// A signal sent without a pause is pending again as soon as drinit takes it, and the
/// kernel hands out the lowest pending signal first: a wait that only ever took one at a
/// time would forward nothing else, and miss its own timer, while it lasted.
#[test]
fn a_signal_sent_without_a_pause_starves_neither_other_signals_nor_deadlines() {
    let _alone = ONE_FLOOD_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let flood = Flood::run("nopause", Source::Signal10, 10);
    assert!(flood.signals_10 > 100_000, "the flood was too thin to test anything: {} signals", flood.signals_10);
    flood.assert_nothing_starved();
    flood.assert_all_forwarded();
    let (signals, forwarded, probed) = (flood.signals, flood.forwarded_during, flood.probed_during);
    eprintln!("{} signals 10; {signals} signals 35 ({forwarded} forwarded during the flood), {probed} probes in {FLOOD_MS} ms", flood.signals_10);
}

/// Signals 32-34 are left out of libc's sigfillset (it reserves them for its threads):
/// drinit's mask had them unblocked, so SIGRTMIN (34) never reached the program (and
/// killed drinit where it was not PID 1).
#[test]
fn sigrtmin_and_the_libc_reserved_signals_are_forwarded() {
    let scratch = Scratch::new("rtmin");
    let program = counter(&scratch, "got", &[34]);
    let init = Init::start(&["--", &program]);
    assert!(eventually(Duration::from_secs(10), || scratch.read("got").contains("ready")), "the counter did not start");
    init.signal(34);
    init.signal(34);
    assert!(eventually(Duration::from_secs(5), || scratch.read("got").trim() == "34:2"), "SIGRTMIN was not forwarded: {:?}", scratch.read("got"));
}

#[test]
fn sigrtmin_does_not_kill_drinit_as_a_subreaper() {
    // Not PID 1: there the kernel spares PID 1 from default actions, here it would not.
    let mut child = std::process::Command::new(drinit())
        .args(["-p", "SIGKILL", "--", "sleep", "100"])
        .env("DRINIT_SOCKET", format!("rtmin-subreaper-{}", std::process::id()))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(kill(child.id() as i32, 34));
    let mut status = None;
    eventually(Duration::from_secs(5), || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    if status.is_none() {
        let _ = child.kill();
    }
    let status = status.unwrap_or_else(|| child.wait().unwrap());
    // sleep died of the forwarded SIGRTMIN; drinit ends with its status, 128 + 34.
    assert_eq!(status.code(), Some(162), "drinit itself was killed, or did not forward: {status:?}");
}
