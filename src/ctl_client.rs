//! The `drinitctl` personality: parse, send one frame, wait for the answer, print it,
//! map it to an exit code (0 done, 1 failed or unreachable, 2 usage).

use crate::ctl::{self, SocketName};
use crate::log::{self, Line};
use crate::proto::{self, Outcome, Reply, Request, Verb};
use crate::sig::{parse_small_number, Signal};
use crate::sys::{self, Args, Fd, Millis, PollFlags, UnixAddr};
use core::ffi::{c_char, CStr};

const OK: i32 = 0;
const FAILED: i32 = 1;
const USAGE: i32 = 2;

struct Options {
    verb: Option<Verb>,
    signal: i32,
    json: bool,
    timeout_secs: u32,
    then_run: Option<&'static CStr>,
}

enum Parsed {
    Send(Options),
    Help,
    Version,
}

const HELP: &[u8] = b"Usage: drinitctl [--timeout SECS] [-r SCRIPT] COMMAND
 status [--json]  state, pid, uptime, restarts, last exit, health
 health           exit 0 if running and the probe passes, else 1
 start | stop | restart   (seed forms: -c 1 | -c 2 | -c 3)
 signal SIG       send SIG to the program, bypassing traps (-s SIG)
 -r SCRIPT        exec SCRIPT after the command succeeded
 --timeout SECS   wait at most SECS (10) plus a stop's grace
Exit: 0 done, 1 failed or unreachable, 2 usage (never for health).
";

pub fn main(args: Args) -> i32 {
    let options = match parse(args) {
        Ok(Parsed::Send(options)) => options,
        Ok(Parsed::Help) => {
            sys::write_stdio(1, HELP);
            return OK;
        }
        Ok(Parsed::Version) => {
            crate::init::print_version();
            return OK;
        }
        Err((what, offending)) => {
            log::client_error().text(what).text(b": '").text(offending).text(b"' (see drinitctl -h)").emit();
            // Docker reserves exit 2 of a HEALTHCHECK command: a broken health call is unhealthy.
            return if mentions_health(args) { FAILED } else { USAGE };
        }
    };
    let verb = options.verb.unwrap_or(Verb::Health);
    let name = SocketName::resolve(ctl::configured_name());
    let reply = match exchange(name.as_bytes(), verb, options.signal, options.timeout_secs) {
        Ok(reply) => reply,
        Err(()) => return FAILED,
    };
    let code = report(&reply, options.json, name.as_bytes());
    match (code, options.then_run) {
        (OK, Some(script)) => run_script(script),
        _ => code,
    }
}

fn mentions_health(args: Args) -> bool {
    (0..args.len()).any(|i| args.get(i).is_some_and(|a| a.to_bytes() == b"health"))
}

type ParseResult = Result<Parsed, (&'static [u8], &'static [u8])>;

fn parse(args: Args) -> ParseResult {
    let mut options = Options { verb: None, signal: 0, json: false, timeout_secs: 10, then_run: None };
    let mut index = 0;
    // The value of an option: attached (`-c3`) or the next argument (`-c 3`).
    let value = |index: &mut usize, arg: &'static CStr, attached_from: Option<usize>| -> Result<&'static CStr, (&'static [u8], &'static [u8])> {
        let bytes = arg.to_bytes_with_nul();
        if let Some(from) = attached_from.filter(|&from| from + 1 < bytes.len()) {
            return Ok(sys::cstr_tail(arg, from));
        }
        *index += 1;
        args.get(*index).ok_or((b"option needs a value", arg.to_bytes()))
    };
    while let Some(arg) = args.get(index) {
        let bytes = arg.to_bytes();
        let verb = match bytes {
            b"-h" | b"--help" => return Ok(Parsed::Help),
            b"--version" => return Ok(Parsed::Version),
            b"--json" => {
                options.json = true;
                None
            }
            b"status" => Some(Verb::Status),
            b"health" => Some(Verb::Health),
            b"start" => Some(Verb::Start),
            b"stop" => Some(Verb::Stop),
            b"restart" => Some(Verb::Restart),
            b"signal" => {
                let sig = value(&mut index, arg, None)?;
                options.signal = signal_number(sig)?;
                Some(Verb::Signal)
            }
            _ if bytes.starts_with(b"--timeout") => {
                let text: &'static [u8] = if let Some(v) = bytes.strip_prefix(b"--timeout=") {
                    v
                } else if bytes == b"--timeout" {
                    value(&mut index, arg, None)?.to_bytes()
                } else {
                    return Err((b"unknown option", bytes));
                };
                options.timeout_secs = parse_small_number(text).filter(|&t| t > 0).ok_or((&b"timeout must be whole seconds, 1 or more"[..], text))? as u32;
                None
            }
            _ if bytes.starts_with(b"-c") => {
                let n = value(&mut index, arg, Some(2))?.to_bytes();
                Some(match n {
                    b"1" => Verb::Start,
                    b"2" => Verb::Stop,
                    b"3" => Verb::Restart,
                    _ => return Err((b"-c takes 1 (start), 2 (stop) or 3 (restart)", n)),
                })
            }
            _ if bytes.starts_with(b"-s") => {
                options.signal = signal_number(value(&mut index, arg, Some(2))?)?;
                Some(Verb::Signal)
            }
            _ if bytes.starts_with(b"-r") => {
                let script = value(&mut index, arg, Some(2))?;
                if script.is_empty() {
                    return Err((b"empty script path", b""));
                }
                options.then_run = Some(script);
                None
            }
            _ if bytes.starts_with(b"-") => return Err((b"unknown option", bytes)),
            _ => return Err((b"unknown command", bytes)),
        };
        if let Some(verb) = verb {
            if options.verb.is_some() {
                return Err((b"only one command at a time", bytes));
            }
            options.verb = Some(verb);
        }
        index += 1;
    }
    if options.json && options.verb != Some(Verb::Status) {
        return Err((b"--json goes with status", b"--json"));
    }
    Ok(Parsed::Send(options))
}

fn signal_number(text: &'static CStr) -> Result<i32, (&'static [u8], &'static [u8])> {
    Signal::parse(text.to_bytes()).map(Signal::number).ok_or((b"unknown signal", text.to_bytes()))
}

/// Sends the request and waits for its final answer.
fn exchange(name: &[u8], verb: Verb, signal: i32, timeout_secs: u32) -> Result<Reply, ()> {
    let server = UnixAddr::abstract_name(name).ok_or(())?;
    let fd = client_socket().map_err(|e| {
        log::client_error().text(b"cannot open a socket").errno(e).emit();
    })?;
    let seq = (sys::getpid() as u32) ^ (sys::now() as u32).rotate_left(16);
    let frame = proto::encode_request(&Request { verb, arg: signal, seq });
    let mut deadline = sys::now() + timeout_secs as Millis * 1000;
    if let Err(e) = sys::connect(&fd, &server) {
        log::client_error().text(b"no drinit is listening on @").text(name).errno(e).emit();
        return Err(());
    }
    // drinit's queue may be full (a flood of requests): wait for room, within the timeout.
    loop {
        match sys::send(&fd, &frame) {
            Ok(_) => break,
            Err(sys::Errno::AGAIN) | Err(sys::Errno::INTR) => {
                let now = sys::now();
                if now >= deadline || !sys::poll_one(&fd, PollFlags::OUT, deadline - now) {
                    log::client_error().text(b"drinit on @").text(name).text(b" is not taking requests").emit();
                    return Err(());
                }
            }
            Err(e) => {
                log::client_error().text(b"cannot reach drinit on @").text(name).errno(e).emit();
                return Err(());
            }
        }
    }
    loop {
        let now = sys::now();
        if now >= deadline || !sys::poll_one(&fd, PollFlags::IN, deadline - now) {
            log::client_error().text(b"no answer from drinit on @").text(name).text(b" within the timeout").emit();
            return Err(());
        }
        let mut buf = [0u8; proto::REPLY_LEN + 1];
        let Ok(received) = sys::recv_with_credentials(&fd, &mut buf) else { continue };
        // Only drinit in our own PID namespace can have sent a real answer.
        if !received.credentials.is_some_and(|c| c.pid != 0) {
            continue;
        }
        let Ok(reply) = proto::decode_reply(buf.get(..received.len).unwrap_or(&[])) else { continue };
        if reply.seq != seq {
            continue;
        }
        match reply.outcome {
            // A stop may take the whole grace period: wait for it, plus our own timeout.
            Outcome::InProgress => deadline = sys::now() + (reply.status.stop_timeout_secs + timeout_secs) as Millis * 1000,
            Outcome::Busy => {
                log::client_error().text(b"drinit is busy with other requests; try again").emit();
                return Err(());
            }
            Outcome::Done | Outcome::Failed | Outcome::Refused | Outcome::Superseded => return Ok(reply),
        }
    }
}

fn client_socket() -> Result<Fd, sys::Errno> {
    let fd = sys::unix_dgram_socket()?;
    sys::enable_passcred(&fd)?;
    sys::bind_autobind(&fd)?;
    Ok(fd)
}

/// Prints the answer and returns the exit code.
fn report(reply: &Reply, json: bool, socket: &[u8]) -> i32 {
    let s = &reply.status;
    let failed = matches!(reply.outcome, Outcome::Failed | Outcome::Refused | Outcome::Superseded);
    match reply.verb {
        Verb::Status if json => print_json(s, socket),
        Verb::Status => print_status(s),
        Verb::Health => {
            let word: &[u8] = if failed { b"unhealthy (" } else { b"healthy (" };
            Line::stdout().text(word).text(s.state.name()).text(b", probe ").text(s.health.name()).text(b")").emit();
        }
        Verb::Start | Verb::Restart if !failed => Line::stdout().text(b"running, pid ").num(s.pid as i64).emit(),
        Verb::Stop if !failed => Line::stdout().text(b"stopped").emit(),
        Verb::Signal if !failed => {}
        _ => {
            let mut line = log::client_error();
            line.text(b"failed: program is ").text(s.state.name());
            match s.last_status {
                code @ 0..=255 => line.text(b", last exit code ").num(code as i64).emit(),
                signal @ 256.. => line.text(b", last killed by signal ").num((signal - 256) as i64).emit(),
                _ => line.emit(),
            }
        }
    }
    if failed { FAILED } else { OK }
}

fn print_status(s: &proto::Status) {
    Line::stdout().text(b"state:       ").text(s.state.name()).emit();
    Line::stdout().text(b"pid:         ").num(s.pid as i64).emit();
    Line::stdout().text(b"uptime:      ").num(s.uptime_secs as i64).text(b" s").emit();
    Line::stdout().text(b"restarts:    ").num(s.restarts as i64).emit();
    let mut last = Line::stdout();
    last.text(b"last exit:   ");
    match s.last_status {
        code @ 0..=255 => last.text(b"code ").num(code as i64).emit(),
        signal @ 256.. => last.text(b"signal ").num((signal - 256) as i64).emit(),
        _ => last.text(b"none").emit(),
    }
    Line::stdout().text(b"health:      ").text(s.health.name()).text(b" (").num(s.consecutive_failures as i64).text(b" failures in a row)").emit();
    if s.next_restart_ms > 0 {
        Line::stdout().text(b"next start:  in ").num(s.next_restart_ms as i64).text(b" ms").emit();
    }
    Line::stdout().text(b"rejected:    ").num(s.rejected_requests as i64).text(b" requests").emit();
}

/// One JSON object; keys are stable (documented in the README).
fn print_json(s: &proto::Status, socket: &[u8]) {
    let (code, signal) = match s.last_status {
        c @ 0..=255 => (c as i64, -1),
        n @ 256.. => (-1, (n - 256) as i64),
        _ => (-1, -1),
    };
    let mut line = Line::stdout();
    line.text(b"{\"state\":\"").text(s.state.name());
    line.text(b"\",\"pid\":").num(s.pid as i64);
    line.text(b",\"uptime\":").num(s.uptime_secs as i64);
    line.text(b",\"restarts\":").num(s.restarts as i64);
    optional(line.text(b",\"last_exit_code\":"), code);
    optional(line.text(b",\"last_signal\":"), signal);
    line.text(b",\"health\":\"").text(s.health.name());
    line.text(b"\",\"consecutive_failures\":").num(s.consecutive_failures as i64);
    line.text(b",\"rejected_requests\":").num(s.rejected_requests as i64);
    line.text(b",\"next_restart_ms\":").num(s.next_restart_ms as i64);
    let age = if s.last_probe_age_secs == u32::MAX { -1 } else { s.last_probe_age_secs as i64 };
    optional(line.text(b",\"last_probe_age\":"), age);
    line.text(b",\"last_probe_ok\":").text(if age < 0 { b"null" } else if s.last_probe_ok { b"true" } else { b"false" });
    line.text(b",\"socket\":\"");
    for &b in socket {
        match b {
            b'"' => line.text(b"\\\""),
            b'\\' => line.text(b"\\\\"),
            0x20..=0x7e => line.text(&[b]),
            _ => line.text(b"\\u00").text(&[hex(b >> 4), hex(b & 15)]),
        };
    }
    line.text(b"\"}").emit();
}

fn optional(line: &mut Line, value: i64) {
    if value < 0 {
        line.text(b"null");
    } else {
        line.num(value);
    }
}

fn hex(nibble: u8) -> u8 {
    if nibble < 10 { b'0' + nibble } else { b'a' + nibble - 10 }
}

/// `-r SCRIPT`: replace drinitctl with SCRIPT (the seed's `drinitctl -c3 -r dosomething.sh`).
fn run_script(script: &'static CStr) -> i32 {
    let argv: [*const c_char; 2] = [script.as_ptr(), core::ptr::null()];
    let errno = sys::exec(script.as_ptr(), argv.as_ptr(), sys::environment());
    log::client_error().text(b"cannot run ").text(script.to_bytes()).errno(errno).emit();
    crate::exit::for_exec_failure(errno)
}
