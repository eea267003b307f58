//! The `drinitctl` personality: parse, send one frame, wait for the answer, print it,
//! map it to an exit code (0 done, 1 failed or unreachable, 2 usage).

use crate::ctl::{self, SocketName};
use crate::log;
use crate::proto::{self, ExitReason, Health, Outcome, Reply, Request, State, Verb};
use crate::sig::{parse_small_number, Signal};
use crate::sys::{self, Args, Fd, Millis, PollFlags, UnixAddr};
use core::ffi::{c_char, CStr};

const OK: i32 = 0;
const FAILED: i32 = 1;
const USAGE: i32 = 2;
/// The wait without `--timeout`, and what a stop's wait adds to its own timeout.
const DEFAULT_WAIT_SECS: u32 = 10;

struct Options {
    verb: Option<Verb>,
    signal: i32,
    json: bool,
    /// `--timeout`: a bound on the whole wait, whatever the action.
    timeout_secs: Option<u32>,
    then_run: Option<&'static CStr>,
}

enum Parsed {
    Send(Options),
    Help,
    Version,
}

const HELP: &[u8] = b"Usage: drinitctl [--timeout SECS] [-r SCRIPT] COMMAND
 status [--json]  state, pid, uptime, restarts, last exit, health
 health | ready   exit 0 if healthy | ready, else 1
 start | stop | restart   (seed forms: -c 1 | -c 2 | -c 3)
 signal SIG       send SIG to the program, bypassing traps (-s SIG)
 -r SCRIPT        exec SCRIPT after the command succeeded
 --timeout SECS   wait at most SECS in all (default 10; a stop: its grace)
Exit: 0 done, 1 failed or refused, 2 usage (1 for health, ready).
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
            return usage_exit(args);
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

/// Docker reserves exit 2 of a HEALTHCHECK command, so a usage error of `health`, `ready`
/// or plain `drinitctl` (the seed's health check) exits 1: unhealthy. The first command
/// word decides; other commands (and unknown words) keep 2.
fn usage_exit(args: Args) -> i32 {
    let mut index = 0;
    while let Some(arg) = args.get(index).map(CStr::to_bytes) {
        if arg == b"--timeout" || arg == b"-r" {
            index += 2;
            continue;
        }
        if arg.starts_with(b"-c") || arg.starts_with(b"-s") {
            return USAGE;
        }
        if !arg.starts_with(b"-") {
            return if matches!(Verb::from_name(arg), Some(Verb::Health | Verb::Ready)) { FAILED } else { USAGE };
        }
        index += 1;
    }
    FAILED
}

type ParseResult = Result<Parsed, (&'static [u8], &'static [u8])>;

fn parse(args: Args) -> ParseResult {
    let mut options = Options { verb: None, signal: 0, json: false, timeout_secs: None, then_run: None };
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
                options.timeout_secs = Some(parse_small_number(text).filter(|&t| t > 0).ok_or((&b"timeout must be whole seconds, 1 or more"[..], text))? as u32);
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
            _ => Some(Verb::from_name(bytes).ok_or((&b"unknown command"[..], bytes))?),
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

/// Sends the request and waits for its final answer: at most `--timeout` in all, or
/// without one 10 s, and for a stop or restart under way its whole timeout plus 10 s.
#[inline(never)] // size budget
fn exchange(name: &[u8], verb: Verb, signal: i32, timeout_secs: Option<u32>) -> Result<Reply, ()> {
    let server = UnixAddr::abstract_name(name).ok_or(())?;
    let fd = client_socket().map_err(|e| {
        log::client_error().text(b"cannot open a socket").errno(e).emit();
    })?;
    let seq = (sys::getpid() as u32) ^ (sys::now() as u32).rotate_left(16);
    let frame = proto::encode_request(&Request { verb, arg: signal, seq });
    let started = sys::now();
    let mut deadline = started + timeout_secs.unwrap_or(DEFAULT_WAIT_SECS) as Millis * 1000;
    // Not connect()ed: replies come from drinit's reply socket, and a connected datagram
    // socket takes datagrams from its peer only. A blocking send waits for room in
    // drinit's queue (a flood of requests), bounded by the deadline.
    loop {
        let sent = sys::set_send_timeout(&fd, deadline.saturating_sub(sys::now())).and_then(|()| sys::send_to(&fd, &frame, &server));
        match sent {
            Ok(_) => break,
            Err(sys::Errno::INTR) => continue,
            Err(sys::Errno::AGAIN) => {
                log::client_error().text(b"drinit on @").text(name).text(b" is not taking requests").emit();
                return Err(());
            }
            Err(e) => {
                log::client_error().text(b"no drinit is listening on @").text(name).errno(e).emit();
                return Err(());
            }
        }
    }
    let mut in_progress = false;
    loop {
        let now = sys::now();
        if now >= deadline || !sys::poll_one(&fd, PollFlags::IN, deadline - now) {
            let mut line = log::client_error();
            if in_progress {
                line.text(verb.name()).text(b" still in progress after ").num(((sys::now() - started + 500) / 1000) as i64).text(b" s").emit();
            } else {
                line.text(b"no answer from drinit on @").text(name).text(b" within the timeout").emit();
            }
            return Err(());
        }
        let mut buf = [0u8; proto::REPLY_LEN + 1];
        let Ok(received) = sys::receive_datagram(&fd, &mut buf) else { continue };
        // Only drinit in our own PID namespace can have sent a real answer.
        if !received.is_plain() || received.credentials.is_none_or(|c| c.pid == 0) {
            continue;
        }
        let Ok(reply) = proto::decode_reply(buf.get(..received.len).unwrap_or(&[])) else { continue };
        if reply.seq != seq {
            continue;
        }
        match reply.outcome {
            // A stop may take its whole timeout: wait for it, unless --timeout bounds the wait.
            Outcome::InProgress => {
                in_progress = true;
                if timeout_secs.is_none() {
                    deadline = sys::now() + (reply.status.stop_timeout_secs + DEFAULT_WAIT_SECS) as Millis * 1000;
                }
            }
            Outcome::Busy => {
                log::client_error().text(b"drinit is busy with other requests; try again").emit();
                return Err(());
            }
            Outcome::Done | Outcome::Failed | Outcome::Refused | Outcome::Superseded => return Ok(reply),
        }
    }
}

fn client_socket() -> Result<Fd, sys::Errno> {
    let fd = sys::unix_dgram_socket(false)?;
    sys::enable_passcred(&fd)?;
    sys::bind_autobind(&fd)?;
    Ok(fd)
}

/// Prints the answer and returns the exit code.
fn report(reply: &Reply, json: bool, socket: &[u8]) -> i32 {
    let (fd, template) = template_for(reply, json);
    let mut out = Out { buf: [0; 2048], len: 0 };
    out.render(template, &values(reply, socket));
    sys::write_stdio(fd, out.buf.get(..out.len).unwrap_or(&[]));
    if reply.outcome == Outcome::Done { OK } else { FAILED }
}

/// Where the answer goes (1 or 2) and what it says.
fn template_for(reply: &Reply, json: bool) -> (i32, &'static [u8]) {
    match (reply.outcome, reply.verb) {
        (Outcome::Refused, _) => (2, b"drinitctl: %v refused: only uid 0%w may start, stop, restart or signal\n"),
        (Outcome::Superseded, _) => (2, b"drinitctl: %v superseded by a later %y\n"),
        (_, Verb::Status) if json => (1, JSON),
        (_, Verb::Status) => (1, HUMAN),
        (_, Verb::Health) => (1, b"%u\n"),
        (Outcome::Done, Verb::Ready) => (1, b"ready\n"),
        (_, Verb::Ready) => (1, b"not ready\n"),
        (Outcome::Done, Verb::Start | Verb::Restart) => (1, b"running, pid %b\n"),
        (Outcome::Done, Verb::Stop) => (1, b"stopped\n"),
        (Outcome::Done, _) => (1, b""),
        _ => (2, b"drinitctl: %v failed: program is %a, last exit %t\n"),
    }
}

/// `status`: one `label: value` line each; `%x` picks a value (see `values`).
const HUMAN: &[u8] = b"state:       %a
pid:         %b
uptime:      %c s
restarts:    %d
last exit:   %t
oom kills:   %h
health:      %u
ready:       %l
notify:      %r
next start:  in %n ms
rejected:    %m requests
log dropped: %q lines
";

/// `status --json`: one object; the keys are stable (README).
const JSON: &[u8] = b"{\"state\":\"%a\",\"pid\":%b,\"uptime\":%c,\"restarts\":%d,\"last_exit_code\":%e,\
\"last_signal\":%f,\"last_exit_reason\":%g,\"oom_kills\":%h,\"health\":\"%i\",\"consecutive_failures\":%j,\
\"health_retries\":%k,\"ready\":%l,\"rejected_requests\":%m,\"next_restart_ms\":%n,\"last_probe_age\":%o,\
\"last_probe_ok\":%p,\"dropped_log_lines\":%q,\"notify_status\":%r,\"socket\":%s}\n";

/// One value for the templates: `%a` is the first, `%z` the 26th.
#[derive(Clone, Copy)]
enum Value<'a> {
    Num(i64),
    Text(&'a [u8]),
    /// A JSON string, quoted and escaped.
    Quoted(&'a [u8]),
    /// A template over the same values (a sentence that depends on the state).
    Nested(&'static [u8]),
}

/// Everything a reply can print, for every template: one table instead of one call per
/// field and form (size budget).
fn values<'a>(reply: &'a Reply, socket: &'a [u8]) -> [Value<'a>; 25] {
    use Value::{Nested, Num, Quoted, Text};
    let s = &reply.status;
    let or_null = |n: i64| if n < 0 { Text(b"null") } else { Num(n) };
    let flag = |b: bool| Text(if b { b"true" } else { b"false" });
    let (code, signal, last) = match s.last_status {
        c @ 0..=255 => (c as i64, -1, &b"code %e"[..]),
        n @ 256.. if s.exit_reason == ExitReason::Oom => (-1, (n - 256) as i64, &b"signal %f (OOM kill)"[..]),
        n @ 256.. => (-1, (n - 256) as i64, &b"signal %f"[..]),
        _ => (-1, -1, &b"none"[..]),
    };
    // The one health verdict: unhealthy while the program is not running or is draining,
    // or once `--health-retries` probes failed in a row; with the failures so far.
    let unhealthy = s.health == Health::Unhealthy;
    let (word, sentence): (&[u8], &'static [u8]) = match s.state {
        State::Draining => (b"unhealthy", b"unhealthy (draining)"),
        State::Running if unhealthy => (b"unhealthy", b"unhealthy, last probe failed (%j of %k)"),
        State::Running if s.consecutive_failures > 0 => (b"healthy", b"healthy, last probe failed (%j of %k)"),
        State::Running if s.health == Health::None => (b"none", b"healthy (no probe)"),
        State::Running => (b"healthy", b"healthy"),
        _ => (b"unhealthy", b"unhealthy (program not running)"),
    };
    let age = if s.last_probe_age_secs == u32::MAX { -1 } else { s.last_probe_age_secs as i64 };
    [
        Text(s.state.name()),
        Num(s.pid as i64),
        Num(s.uptime_secs as i64),
        Num(s.restarts as i64),
        or_null(code),
        or_null(signal),
        s.exit_reason.name().map_or(Text(b"null"), Quoted),
        Num(s.oom_kills as i64),
        Text(word),
        Num(s.consecutive_failures as i64),
        Num(s.health_retries as i64),
        flag(s.ready),
        Num(s.rejected_requests as i64),
        Num(s.next_restart_ms as i64),
        or_null(age),
        if age < 0 { Text(b"null") } else { flag(s.last_probe_ok) },
        Num(s.dropped_log_lines as i64),
        Quoted(s.notify_status.as_bytes()),
        Quoted(socket),
        Nested(last),
        Nested(sentence),
        Text(reply.verb.name()),
        if s.own_uid == 0 { Text(b"") } else { Nested(b" and uid %x (drinit's)") },
        Num(s.own_uid as i64),
        Text(reply.superseded_by.map_or(&b"request"[..], Verb::name)),
    ]
}

/// Output built whole, then written at once.
struct Out {
    buf: [u8; 2048],
    len: usize,
}

impl Out {
    fn push(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if let Some(slot) = self.buf.get_mut(self.len) {
                *slot = b;
                self.len += 1;
            }
        }
    }

    /// Copies `template`, replacing each `%` and a letter by that value.
    fn render(&mut self, template: &[u8], values: &[Value]) {
        let mut bytes = template.iter();
        while let Some(&b) = bytes.next() {
            if b != b'%' {
                self.push(&[b]);
                continue;
            }
            let index = bytes.next().map_or(usize::MAX, |&letter| letter.wrapping_sub(b'a') as usize);
            match values.get(index) {
                Some(Value::Num(n)) => self.push(log::format_i64(*n, &mut [0; 20])),
                Some(Value::Text(text)) => self.push(text),
                Some(Value::Quoted(text)) => self.quote(text),
                Some(Value::Nested(template)) => self.render(template, values),
                None => {}
            }
        }
    }

    /// A JSON string: printable ASCII as is, any other byte (and `"`, `\`) as `\u00XX`,
    /// so the output is valid JSON whatever the bytes.
    fn quote(&mut self, text: &[u8]) {
        self.push(b"\"");
        for &b in text {
            if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' {
                self.push(&[b]);
            } else {
                self.push(b"\\u00");
                self.push(&[hex(b >> 4), hex(b & 15)]);
            }
        }
        self.push(b"\"");
    }
}

fn hex(nibble: u8) -> u8 {
    if nibble < 10 { b'0' + nibble } else { b'a' + nibble - 10 }
}

/// `-r SCRIPT`: replace drinitctl with SCRIPT (the seed's `drinitctl -c3 -r dosomething.sh`).
fn run_script(script: &'static CStr) -> i32 {
    let argv: [*const c_char; 2] = [script.as_ptr(), core::ptr::null()];
    let errno = sys::exec(script, argv.as_ptr(), sys::environment());
    log::client_error().text(b"cannot run ").text(script.to_bytes()).errno(errno).emit();
    crate::exit::for_exec_failure(errno)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::{NotifyStatus, Status};

    fn reply(verb: Verb, outcome: Outcome) -> Reply {
        Reply {
            verb,
            outcome,
            seq: 1,
            superseded_by: None,
            status: Status {
                state: State::Running,
                pid: 7,
                uptime_secs: 3,
                restarts: 0,
                last_status: -1,
                health: Health::Healthy,
                consecutive_failures: 0,
                rejected_requests: 0,
                stop_timeout_secs: 10,
                next_restart_ms: 0,
                last_probe_age_secs: u32::MAX,
                last_probe_ok: false,
                health_retries: 3,
                ready: true,
                exit_reason: ExitReason::None,
                oom_kills: 0,
                own_uid: 0,
                dropped_log_lines: 0,
                notify_status: NotifyStatus::EMPTY,
            },
        }
    }

    fn printed(reply: &Reply, json: bool) -> String {
        let mut out = Out { buf: [0; 2048], len: 0 };
        out.render(template_for(reply, json).1, &values(reply, b"drinit.1.2"));
        String::from_utf8(out.buf[..out.len].to_vec()).unwrap()
    }

    #[test]
    fn refusals_name_the_uids_that_may() {
        let mut r = reply(Verb::Stop, Outcome::Refused);
        assert_eq!(printed(&r, false), "drinitctl: stop refused: only uid 0 may start, stop, restart or signal\n");
        r.status.own_uid = 1000;
        assert_eq!(printed(&r, false), "drinitctl: stop refused: only uid 0 and uid 1000 (drinit's) may start, stop, restart or signal\n");
        assert_eq!(template_for(&r, false).0, 2);
    }

    #[test]
    fn superseded_requests_say_by_what() {
        let mut r = reply(Verb::Restart, Outcome::Superseded);
        r.superseded_by = Some(Verb::Stop);
        assert_eq!(printed(&r, false), "drinitctl: restart superseded by a later stop\n");
    }

    #[test]
    fn one_verdict_in_words_and_in_json() {
        let mut r = reply(Verb::Health, Outcome::Done);
        assert_eq!(printed(&r, false), "healthy\n");
        r.status.consecutive_failures = 1;
        assert_eq!(printed(&r, false), "healthy, last probe failed (1 of 3)\n");
        r.status.consecutive_failures = 3;
        r.status.health = Health::Unhealthy;
        assert_eq!(printed(&r, false), "unhealthy, last probe failed (3 of 3)\n");
        r.status.state = State::Draining;
        assert_eq!(printed(&r, false), "unhealthy (draining)\n");
        r.status.state = State::Stopped;
        assert_eq!(printed(&r, false), "unhealthy (program not running)\n");
        r.status.health = Health::None;
        r.status.consecutive_failures = 0;
        r.verb = Verb::Status;
        assert!(printed(&r, true).contains("\"health\":\"unhealthy\""));
        r.status.state = State::Running;
        assert!(printed(&r, true).contains("\"health\":\"none\""));
        r.status.health = Health::Starting;
        assert!(printed(&r, true).contains("\"health\":\"healthy\""), "the start period is healthy");
    }

    #[test]
    fn json_has_every_key_and_escapes_what_it_must() {
        let mut r = reply(Verb::Status, Outcome::Done);
        r.status.last_status = 256 + 9;
        r.status.exit_reason = ExitReason::Oom;
        r.status.oom_kills = 2;
        r.status.notify_status = NotifyStatus::from_bytes(b"a \"q\" \\ \n\xff");
        let json = printed(&r, true);
        assert_eq!(
            json,
            "{\"state\":\"running\",\"pid\":7,\"uptime\":3,\"restarts\":0,\"last_exit_code\":null,\"last_signal\":9,\
             \"last_exit_reason\":\"oom\",\"oom_kills\":2,\"health\":\"healthy\",\"consecutive_failures\":0,\
             \"health_retries\":3,\"ready\":true,\"rejected_requests\":0,\"next_restart_ms\":0,\"last_probe_age\":null,\
             \"last_probe_ok\":null,\"dropped_log_lines\":0,\"notify_status\":\"a \\u0022q\\u0022 \\u005c \\u000a\\u00ff\",\
             \"socket\":\"drinit.1.2\"}\n"
        );
        assert!(printed(&r, false).contains("last exit:   signal 9 (OOM kill)\n"));
    }

    #[test]
    fn usage_errors_of_the_health_forms_exit_1() {
        fn code(args: &[&str]) -> i32 {
            let owned: Vec<std::ffi::CString> = args.iter().map(|a| std::ffi::CString::new(*a).unwrap()).collect();
            let mut argv: Vec<*const c_char> = owned.iter().map(|a| a.as_ptr()).collect();
            argv.push(core::ptr::null());
            // SAFETY: argv holds args.len() C strings and a NULL, alive for this call.
            usage_exit(unsafe { Args::from_raw(args.len() as i32, argv.as_ptr()) })
        }
        for args in [&["--bogus"][..], &["health", "--bogus"], &["ready", "-x"], &["--timeout", "0"], &["-r"], &["--bogus", "health"]] {
            assert_eq!(code(args), FAILED, "{args:?}");
        }
        for args in [&["stop", "--bogus"][..], &["bogus"], &["-c", "4"], &["-sNOPE"], &["signal", "NOPE"], &["--timeout", "0", "status"]] {
            assert_eq!(code(args), USAGE, "{args:?}");
        }
    }
}
