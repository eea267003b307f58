//! argv and `DRINIT_*` environment → `Config`, once at start-up, without allocation.
//! Precedence, lowest first: tini's variables (`TINI_*`), `DRINIT_*` variables, options.
//! An option replaces what a variable set for the same thing, it never adds to it.

use crate::sig::{eq_ignore_case, parse_small_number, Signal, SignalSet};
use crate::sys::Args;
use core::ffi::CStr;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RestartPolicy {
    Never,
    OnFailure,
    Always,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum OnUnhealthy {
    Restart,
    Exit,
    Nothing,
}

pub const MAX_PROBE_ARGS: usize = 16;

/// The HTTP probe's request is built (health.rs) in a buffer of this size, out of these
/// parts around the URL's path and host; a URL whose request would not fit is refused.
pub const HTTP_REQUEST_MAX: usize = 512;
pub const HTTP_REQUEST_PARTS: [&[u8]; 3] = [b"GET ", b" HTTP/1.0\r\nHost: ", b"\r\nUser-Agent: drinit\r\nConnection: close\r\n\r\n"];

fn http_request_len(host: &[u8], path: &[u8]) -> usize {
    HTTP_REQUEST_PARTS.iter().map(|part| part.len()).sum::<usize>() + host.len() + path.len()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Probe {
    None,
    /// A program and its arguments (`argv[0]` first), run without a shell.
    Exec { argv: [Option<&'static CStr>; MAX_PROBE_ARGS] },
    Tcp { ip: [u8; 4], port: u16 },
    Http { ip: [u8; 4], port: u16, host: &'static [u8], path: &'static [u8] },
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct HealthConfig {
    pub probe: Probe,
    pub interval_secs: u32,
    pub timeout_secs: u32,
    pub retries: u32,
    pub start_period_secs: u32,
    pub on_unhealthy: OnUnhealthy,
}

/// Which program exit codes are reported as 0 (`-e CODE`).
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
pub struct ExitCodeSet([u64; 4]);

impl ExitCodeSet {
    pub fn insert(&mut self, code: u8) {
        if let Some(word) = self.0.get_mut((code / 64) as usize) {
            *word |= 1 << (code % 64);
        }
    }

    pub fn contains(&self, code: u8) -> bool {
        self.0.get((code / 64) as usize).is_some_and(|word| word & (1 << (code % 64)) != 0)
    }
}

/// `--rewrite FROM:TO`: the signal delivered for each signal received (0 = drop it).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Rewrites([u8; 65]);

impl Rewrites {
    fn identity() -> Rewrites {
        let mut table = [0u8; 65];
        for (n, slot) in table.iter_mut().enumerate() {
            *slot = n as u8;
        }
        Rewrites(table)
    }

    /// The signal to deliver when `received` arrives, `None` to drop it.
    pub fn apply(&self, received: Signal) -> Option<Signal> {
        self.0.get(received.number() as usize).and_then(|&to| Signal::from_number(to as i32))
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Config {
    /// Index of PROGRAM in the argument list given to `parse`.
    pub program: usize,
    pub traps: SignalSet,
    pub hook: Option<&'static CStr>,
    pub kill_group: bool,
    pub subreaper: bool,
    pub parent_death_signal: Option<Signal>,
    pub success_codes: ExitCodeSet,
    pub warn_foreign_zombies: bool,
    pub verbosity: u8,
    /// 0 = wait forever after a stop signal.
    pub grace_secs: u32,
    pub stop_signal: Signal,
    pub rewrites: Rewrites,
    pub restart: RestartPolicy,
    pub max_restarts: u32,
    pub restart_window_secs: u32,
    pub health: HealthConfig,
    pub socket_name: Option<&'static [u8]>,
    /// How long a trap hook may run before its process group is killed.
    pub hook_timeout_secs: u32,
    /// `--stop-delay`: how long a requested stop drains (unhealthy, not ready, still
    /// serving) before the stop signal.
    pub stop_delay_secs: u32,
    /// `--pre-stop`: a hook run when a drain starts; the stop signal waits for it.
    pub pre_stop: Option<&'static CStr>,
    /// `--notify`: give the program `NOTIFY_SOCKET` and take sd_notify datagrams from it.
    pub notify: bool,
}

const DEFAULT_RESTART_WINDOW_SECS: u32 = 60;

impl Config {
    fn defaults() -> Config {
        Config {
            program: 0,
            traps: SignalSet::EMPTY,
            hook: None,
            kill_group: false,
            subreaper: false,
            parent_death_signal: None,
            success_codes: ExitCodeSet::default(),
            warn_foreign_zombies: false,
            verbosity: 0,
            grace_secs: 0,
            stop_signal: Signal::TERM,
            rewrites: Rewrites::identity(),
            restart: RestartPolicy::Never,
            max_restarts: 5,
            restart_window_secs: DEFAULT_RESTART_WINDOW_SECS,
            health: HealthConfig {
                probe: Probe::None,
                interval_secs: 10,
                timeout_secs: 1,
                retries: 3,
                start_period_secs: 0,
                on_unhealthy: OnUnhealthy::Restart,
            },
            socket_name: None,
            hook_timeout_secs: 30,
            stop_delay_secs: 0,
            pre_stop: None,
            notify: false,
        }
    }

    /// TERM, INT, QUIT and the configured stop signal end the program for good.
    pub fn is_stop_signal(&self, signal: Signal) -> bool {
        signal == Signal::TERM || signal == Signal::INT || signal == Signal::QUIT || signal == self.stop_signal
    }
}

#[derive(Debug)]
pub enum Parsed {
    Run(Config),
    Help,
    Version,
}

/// A usage error: one line, `what` then the offending text in quotes.
#[derive(Debug, PartialEq, Eq)]
pub struct UsageError {
    pub what: &'static str,
    pub offending: &'static [u8],
}

type Result<T> = core::result::Result<T, UsageError>;

fn usage(what: &'static str, offending: &'static [u8]) -> UsageError {
    UsageError { what, offending }
}

/// Settings that several options build up (`-t A -t B`, `-vv`, a probe and its
/// `--health-arg`s): the first such option on the command line drops what the environment
/// set, so `-t USR1` with `DRINIT_TRAP=HUP` traps USR1 alone.
#[derive(Default)]
struct OnCommandLine {
    traps: bool,
    probe: bool,
    verbosity: bool,
}

impl OnCommandLine {
    fn replace_environment(&mut self, config: &mut Config, option: Opt) {
        match option {
            Opt::Trap if !self.traps => {
                self.traps = true;
                config.traps = SignalSet::EMPTY;
            }
            Opt::HealthCmd | Opt::HealthTcp | Opt::HealthHttp if !self.probe => {
                self.probe = true;
                config.health.probe = Probe::None;
            }
            // Arguments for the environment's DRINIT_HEALTH_CMD; a probe option after them
            // is a second probe.
            Opt::HealthArg => self.probe = true,
            Opt::Verbosity if !self.verbosity => {
                self.verbosity = true;
                config.verbosity = 0;
            }
            _ => {}
        }
    }

    /// An option from the command line.
    fn apply(&mut self, config: &mut Config, option: Opt, value: &'static CStr) -> Result<()> {
        self.replace_environment(config, option);
        apply(config, option, value)
    }
}

/// Parses the arguments after `argv[0]`; `env` looks up `DRINIT_*` and `TINI_*` variables.
#[inline(never)] // once, at start-up (size budget)
pub fn parse(args: Args, env: &dyn Fn(&CStr) -> Option<&'static CStr>) -> Result<Parsed> {
    let mut config = Config::defaults();
    apply_environment(&mut config, env)?;
    let mut on_command_line = OnCommandLine::default();
    let mut index = 0;
    while let Some(arg) = args.get(index) {
        let bytes = arg.to_bytes();
        if bytes == b"--" {
            index += 1;
            break;
        }
        if let Some(long) = bytes.strip_prefix(b"--") {
            let (name, inline) = match long.iter().position(|&c| c == b'=') {
                Some(eq) => (long.get(..eq).unwrap_or(&[]), Some(crate::sys::cstr_tail(arg, 2 + eq + 1))),
                None => (long, None),
            };
            match name {
                b"help" => return Ok(Parsed::Help),
                b"version" => return Ok(Parsed::Version),
                _ => {}
            }
            let option = long_option(name).ok_or(usage("unknown option", bytes))?;
            if matches!(option, Opt::Notify) && inline.is_none() {
                config.notify = true;
                index += 1;
                continue;
            }
            let value = match inline {
                Some(v) => v,
                None => {
                    index += 1;
                    args.get(index).ok_or(usage("option needs a value", bytes))?
                }
            };
            on_command_line.apply(&mut config, option, value)?;
            index += 1;
            continue;
        }
        if bytes.len() > 1 && bytes.first() == Some(&b'-') {
            // A cluster of short options: flags (`-gv`), then at most one option with a
            // value, attached (`-tTERM`) or as the next argument (`-t TERM`).
            let mut at = 1;
            while let Some(&c) = bytes.get(at) {
                at += 1;
                let option = match c {
                    b'h' => return Ok(Parsed::Help),
                    b'g' => { config.kill_group = true; continue; }
                    b's' => { config.subreaper = true; continue; }
                    b'w' => { config.warn_foreign_zombies = true; continue; }
                    b'v' => {
                        on_command_line.replace_environment(&mut config, Opt::Verbosity);
                        config.verbosity = config.verbosity.saturating_add(1);
                        continue;
                    }
                    b't' => Opt::Trap,
                    b'r' => Opt::Run,
                    b'p' => Opt::ParentDeathSignal,
                    b'e' => Opt::SuccessCode,
                    _ => return Err(usage("unknown option", bytes)),
                };
                let value = if at < bytes.len() {
                    crate::sys::cstr_tail(arg, at)
                } else {
                    index += 1;
                    args.get(index).ok_or(usage("option needs a value", bytes))?
                };
                on_command_line.apply(&mut config, option, value)?;
                break;
            }
            index += 1;
            continue;
        }
        break;
    }
    if args.get(index).is_none() {
        return Err(usage("missing PROGRAM to run", b"drinit [OPTIONS] -- PROGRAM [ARGS...]"));
    }
    config.program = index;
    Ok(Parsed::Run(config))
}


#[derive(Clone, Copy)]
enum Opt {
    Trap,
    Run,
    KillGroup,
    Subreaper,
    ParentDeathSignal,
    SuccessCode,
    WarnZombie,
    Verbosity,
    Grace,
    StopSignal,
    Rewrite,
    Restart,
    MaxRestarts,
    HealthCmd,
    HealthArg,
    HealthTcp,
    HealthHttp,
    HealthInterval,
    HealthTimeout,
    HealthRetries,
    HealthStartPeriod,
    OnUnhealthy,
    HookTimeout,
    Socket,
    StopDelay,
    PreStop,
    Notify,
    TiniSubreaper,
    TiniKillGroup,
    TiniVerbosity,
}

fn long_option(name: &[u8]) -> Option<Opt> {
    Some(match name {
        b"trap" => Opt::Trap,
        b"run" => Opt::Run,
        b"grace" => Opt::Grace,
        b"stop-signal" => Opt::StopSignal,
        b"rewrite" => Opt::Rewrite,
        b"restart" => Opt::Restart,
        b"max-restarts" => Opt::MaxRestarts,
        b"health-cmd" => Opt::HealthCmd,
        b"health-arg" => Opt::HealthArg,
        b"health-tcp" => Opt::HealthTcp,
        b"health-http" => Opt::HealthHttp,
        b"health-interval" => Opt::HealthInterval,
        b"health-timeout" => Opt::HealthTimeout,
        b"health-retries" => Opt::HealthRetries,
        b"health-start-period" => Opt::HealthStartPeriod,
        b"on-unhealthy" => Opt::OnUnhealthy,
        b"hook-timeout" => Opt::HookTimeout,
        b"stop-delay" => Opt::StopDelay,
        b"pre-stop" => Opt::PreStop,
        b"notify" => Opt::Notify,
        _ => return None,
    })
}

/// Every environment variable and the option it stands for, applied in this order.
const ENVIRONMENT: &[(&CStr, Opt)] = &[
    // tini's variables first, so that an image moving from tini keeps its settings and
    // drinit's own variables win over them.
    (c"TINI_SUBREAPER", Opt::TiniSubreaper),
    (c"TINI_KILL_PROCESS_GROUP", Opt::TiniKillGroup),
    (c"TINI_VERBOSITY", Opt::TiniVerbosity),
    (c"DRINIT_TRAP", Opt::Trap),
    (c"DRINIT_RUN", Opt::Run),
    (c"DRINIT_KILL_GROUP", Opt::KillGroup),
    (c"DRINIT_SUBREAPER", Opt::Subreaper),
    (c"DRINIT_PDEATHSIG", Opt::ParentDeathSignal),
    (c"DRINIT_WARN_ZOMBIE", Opt::WarnZombie),
    (c"DRINIT_VERBOSITY", Opt::Verbosity),
    (c"DRINIT_GRACE", Opt::Grace),
    (c"DRINIT_STOP_SIGNAL", Opt::StopSignal),
    (c"DRINIT_RESTART", Opt::Restart),
    (c"DRINIT_MAX_RESTARTS", Opt::MaxRestarts),
    (c"DRINIT_HEALTH_CMD", Opt::HealthCmd),
    (c"DRINIT_HEALTH_TCP", Opt::HealthTcp),
    (c"DRINIT_HEALTH_HTTP", Opt::HealthHttp),
    (c"DRINIT_HEALTH_INTERVAL", Opt::HealthInterval),
    (c"DRINIT_HEALTH_TIMEOUT", Opt::HealthTimeout),
    (c"DRINIT_HEALTH_RETRIES", Opt::HealthRetries),
    (c"DRINIT_HEALTH_START_PERIOD", Opt::HealthStartPeriod),
    (c"DRINIT_ON_UNHEALTHY", Opt::OnUnhealthy),
    (c"DRINIT_HOOK_TIMEOUT", Opt::HookTimeout),
    (c"DRINIT_SOCKET", Opt::Socket),
    (c"DRINIT_STOP_DELAY", Opt::StopDelay),
    (c"DRINIT_PRE_STOP", Opt::PreStop),
    (c"DRINIT_NOTIFY", Opt::Notify),
];

fn apply_environment(config: &mut Config, env: &dyn Fn(&CStr) -> Option<&'static CStr>) -> Result<()> {
    for &(name, option) in ENVIRONMENT {
        if let Some(value) = env(name) {
            apply(config, option, value).map_err(|e| in_variable(e, name, value))?;
        }
    }
    Ok(())
}

/// A bad variable's error names it with its value: `NAME=value` as the environment holds
/// it (the name alone for a value that does not come from this process's environment).
fn in_variable(e: UsageError, name: &'static CStr, value: &'static CStr) -> UsageError {
    let mut offending = name.to_bytes();
    // getenv's value is the tail of one `NAME=value` entry: find it by address, no copy.
    let at = value.as_ptr().wrapping_sub(offending.len() + 1);
    crate::sys::for_each_environment_entry(|entry| {
        if entry.as_ptr() == at {
            offending = entry.to_bytes();
        }
    });
    usage(e.what, offending)
}

fn apply(config: &mut Config, option: Opt, value: &'static CStr) -> Result<()> {
    let text = value.to_bytes();
    match option {
        Opt::Trap => {
            for name in text.split(|&c| c == b',') {
                let signal = Signal::parse(name).ok_or(usage("unknown signal", text))?;
                if !signal.is_catchable() || signal == Signal::CHLD {
                    return Err(usage("signal cannot be trapped", text));
                }
                config.traps.insert(signal);
            }
        }
        Opt::Run => config.hook = Some(non_empty(value, "empty script path")?),
        Opt::KillGroup => config.kill_group = boolean(text)?,
        Opt::Subreaper => config.subreaper = boolean(text)?,
        Opt::WarnZombie => config.warn_foreign_zombies = boolean(text)?,
        Opt::ParentDeathSignal => config.parent_death_signal = Some(signal(text)?),
        Opt::SuccessCode => {
            let code = parse_small_number(text).filter(|&c| c <= 255).ok_or(usage("exit code must be 0..255", text))?;
            config.success_codes.insert(code as u8);
        }
        Opt::Verbosity => config.verbosity = verbosity(text)?,
        // tini counts these as set whatever their value, even empty.
        Opt::TiniSubreaper => config.subreaper = true,
        Opt::TiniKillGroup => config.kill_group = true,
        // tini's scale starts one higher: 1 = warnings (its default), 2 = drinit's -v.
        Opt::TiniVerbosity => config.verbosity = verbosity(text)?.saturating_sub(1),
        Opt::Grace => config.grace_secs = seconds(text)?,
        Opt::StopSignal => {
            let s = signal(text)?;
            if !s.is_catchable() || s == Signal::CHLD || s.is_job_control() {
                return Err(usage("not usable as a stop signal", text));
            }
            config.stop_signal = s;
        }
        Opt::Rewrite => {
            let colon = text.iter().position(|&c| c == b':').ok_or(usage("rewrite needs FROM:TO", text))?;
            let from = signal(text.get(..colon).unwrap_or(&[]))?;
            if !from.is_catchable() || from == Signal::CHLD {
                return Err(usage("signal cannot be rewritten", text));
            }
            let to_text = text.get(colon + 1..).unwrap_or(&[]);
            let to = if to_text == b"0" { 0 } else { signal(to_text)?.number() as u8 };
            if let Some(slot) = config.rewrites.0.get_mut(from.number() as usize) {
                *slot = to;
            }
        }
        Opt::Restart => {
            config.restart = match text {
                b"never" | b"no" => RestartPolicy::Never,
                b"on-failure" => RestartPolicy::OnFailure,
                b"always" => RestartPolicy::Always,
                _ => return Err(usage("restart policy must be never, on-failure or always", text)),
            }
        }
        Opt::MaxRestarts => {
            let (count, window) = match text.iter().position(|&c| c == b'/') {
                Some(slash) => (text.get(..slash).unwrap_or(&[]), Some(text.get(slash + 1..).unwrap_or(&[]))),
                None => (text, None),
            };
            config.max_restarts = parse_small_number(count).ok_or(usage("max-restarts must be N[/SECONDS]", text))? as u32;
            // Without a window, the default one: not one a variable set before.
            config.restart_window_secs = match window {
                Some(window) => parse_small_number(window).filter(|&w| w > 0).ok_or(usage("max-restarts must be N[/SECONDS]", text))? as u32,
                None => DEFAULT_RESTART_WINDOW_SECS,
            };
        }
        Opt::HealthCmd => {
            set_probe(config, Probe::Exec { argv: [None; MAX_PROBE_ARGS] }, text)?;
            if let Probe::Exec { argv } = &mut config.health.probe {
                argv[0] = Some(non_empty(value, "empty health command")?);
            }
        }
        Opt::HealthArg => {
            let Probe::Exec { argv } = &mut config.health.probe else {
                return Err(usage("--health-arg needs --health-cmd before it", text));
            };
            // The last slot stays empty: it is the NULL that ends the exec argv.
            let slot = argv.iter_mut().take(MAX_PROBE_ARGS - 1).find(|a| a.is_none());
            *slot.ok_or(usage("too many --health-arg (at most 14)", text))? = Some(value);
        }
        Opt::HealthTcp => {
            let (ip, port) = host_port(text).ok_or(usage("health-tcp must be [IPV4:]PORT", text))?;
            set_probe(config, Probe::Tcp { ip, port }, text)?;
        }
        Opt::HealthHttp => {
            let probe = parse_http_url(text).ok_or(usage("health-http must be http://IPV4[:PORT][/PATH]", text))?;
            if let Probe::Http { host, path, .. } = probe {
                if http_request_len(host, path) > HTTP_REQUEST_MAX {
                    return Err(usage("health-http URL too long (at most 448 bytes of host and path)", text));
                }
            }
            set_probe(config, probe, text)?;
        }
        Opt::HealthInterval => config.health.interval_secs = positive_seconds(text)?,
        Opt::HealthTimeout => config.health.timeout_secs = positive_seconds(text)?,
        Opt::HealthRetries => config.health.retries = parse_small_number(text).filter(|&n| n > 0).ok_or(usage("retries must be 1 or more", text))? as u32,
        Opt::HealthStartPeriod => config.health.start_period_secs = seconds(text)?,
        Opt::OnUnhealthy => {
            config.health.on_unhealthy = match text {
                b"restart" => OnUnhealthy::Restart,
                b"exit" => OnUnhealthy::Exit,
                b"none" => OnUnhealthy::Nothing,
                _ => return Err(usage("on-unhealthy must be restart, exit or none", text)),
            }
        }
        Opt::HookTimeout => config.hook_timeout_secs = positive_seconds(text)?,
        Opt::StopDelay => config.stop_delay_secs = seconds(text)?,
        Opt::PreStop => config.pre_stop = Some(non_empty(value, "empty script path")?),
        Opt::Notify => config.notify = boolean(text)?,
        Opt::Socket => {
            if text.is_empty() || text.len() > crate::sys::UnixAddr::MAX_NAME {
                return Err(usage("socket name must be 1..107 bytes", text));
            }
            config.socket_name = Some(text);
        }
    }
    Ok(())
}

fn set_probe(config: &mut Config, probe: Probe, text: &'static [u8]) -> Result<()> {
    if config.health.probe != Probe::None {
        return Err(usage("only one health probe can be set", text));
    }
    config.health.probe = probe;
    Ok(())
}

fn non_empty(value: &'static CStr, what: &'static str) -> Result<&'static CStr> {
    if value.is_empty() { Err(usage(what, b"")) } else { Ok(value) }
}

fn verbosity(text: &'static [u8]) -> Result<u8> {
    parse_small_number(text).filter(|&v| v <= 9).map(|v| v as u8).ok_or(usage("verbosity must be 0..9", text))
}

fn signal(text: &'static [u8]) -> Result<Signal> {
    Signal::parse(text).ok_or(usage("unknown signal", text))
}

fn boolean(text: &'static [u8]) -> Result<bool> {
    // The four false spellings first, then the four true ones.
    let words: [&[u8]; 8] = [b"0", b"false", b"no", b"off", b"1", b"true", b"yes", b"on"];
    match words.iter().position(|word| eq_ignore_case(text, word)) {
        Some(at) => Ok(at >= 4),
        None => Err(usage("expected 1/0, true/false, yes/no or on/off", text)),
    }
}

/// Whole seconds, at most 999,999,999 (nine digits; more is an error, not a wrap).
fn seconds(text: &'static [u8]) -> Result<u32> {
    parse_small_number(text).map(|n| n as u32).ok_or(usage("expected whole seconds (0..999999999)", text))
}

fn positive_seconds(text: &'static [u8]) -> Result<u32> {
    match seconds(text)? {
        0 => Err(usage("expected 1 second or more", text)),
        n => Ok(n),
    }
}

/// `[IPV4:]PORT` (`localhost` allowed for 127.0.0.1); the host defaults to 127.0.0.1.
fn host_port(text: &[u8]) -> Option<([u8; 4], u16)> {
    match text.iter().rposition(|&c| c == b':') {
        Some(colon) => Some((parse_ipv4(text.get(..colon)?)?, parse_port(text.get(colon + 1..)?)?)),
        None => Some(([127, 0, 0, 1], parse_port(text)?)),
    }
}

fn parse_port(text: &[u8]) -> Option<u16> {
    parse_small_number(text).filter(|&p| (1..=65535).contains(&p)).map(|p| p as u16)
}

/// A dotted IPv4 address, or `localhost`. No DNS: drinit runs in `FROM scratch`.
fn parse_ipv4(text: &[u8]) -> Option<[u8; 4]> {
    if text == b"localhost" {
        return Some([127, 0, 0, 1]);
    }
    let mut ip = [0u8; 4];
    let mut parts = text.split(|&c| c == b'.');
    for octet in ip.iter_mut() {
        let part = parts.next()?;
        if part.len() > 3 {
            return None;
        }
        *octet = u8::try_from(parse_small_number(part)?).ok()?;
    }
    if parts.next().is_some() { None } else { Some(ip) }
}

/// `http://HOST[:PORT][/PATH]` → the probe (port 80 and path `/` by default).
fn parse_http_url(text: &'static [u8]) -> Option<Probe> {
    let rest = text.strip_prefix(b"http://")?;
    let slash = rest.iter().position(|&c| c == b'/').unwrap_or(rest.len());
    let authority = rest.get(..slash)?;
    let path = rest.get(slash..).filter(|p| !p.is_empty()).unwrap_or(b"/");
    if path.iter().any(|&c| c <= b' ' || c == 0x7f) {
        return None;
    }
    let (ip, port) = match authority.iter().rposition(|&c| c == b':') {
        Some(colon) => (parse_ipv4(authority.get(..colon)?)?, parse_port(authority.get(colon + 1..)?)?),
        None => (parse_ipv4(authority)?, 80),
    };
    Some(Probe::Http { ip, port, host: authority, path })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;

    fn args(list: &[&str]) -> Args {
        let owned: Vec<&'static CStr> = list.iter().map(|s| &*Box::leak(CString::new(*s).unwrap().into_boxed_c_str())).collect();
        let mut ptrs: Vec<*const core::ffi::c_char> = owned.iter().map(|c| c.as_ptr()).collect();
        ptrs.push(core::ptr::null());
        let ptrs = Box::leak(ptrs.into_boxed_slice());
        // SAFETY: leaked strings and a NULL-terminated leaked pointer array live forever.
        unsafe { Args::from_raw(list.len() as i32, ptrs.as_ptr()) }
    }

    fn no_env(_: &CStr) -> Option<&'static CStr> {
        None
    }

    fn run(list: &[&str]) -> Config {
        match parse(args(list), &no_env) {
            Ok(Parsed::Run(c)) => c,
            other => panic!("{list:?} gave {other:?}"),
        }
    }

    fn fails(list: &[&str]) -> UsageError {
        match parse(args(list), &no_env) {
            Err(e) => e,
            other => panic!("{list:?} should fail, gave {other:?}"),
        }
    }

    #[test]
    fn program_after_double_dash_or_first_non_option() {
        assert_eq!(run(&["--", "sleep", "1"]).program, 1);
        assert_eq!(run(&["sleep", "-t", "1"]).program, 0);
        assert_eq!(run(&["-v", "--", "-weird-name"]).program, 2);
        assert_eq!(run(&["-g", "prog"]).program, 1);
    }

    #[test]
    fn seed_trap_example() {
        let c = run(&["-t", "SIGTERM", "-r", "./sigterm.sh", "--", "prog"]);
        assert!(c.traps.contains(Signal::TERM));
        assert_eq!(c.hook.unwrap().to_bytes(), b"./sigterm.sh");
        assert_eq!(c.program, 5);
    }

    #[test]
    fn short_values_attached_or_separate_and_clusters() {
        let c = run(&["-tTERM,usr1", "-t", "15", "-gvv", "-e3", "-e", "7", "-rhook", "x"]);
        assert!(c.traps.contains(Signal::TERM) && c.traps.contains(Signal::USR1));
        assert!(c.kill_group);
        assert_eq!(c.verbosity, 2);
        assert!(c.success_codes.contains(3) && c.success_codes.contains(7) && !c.success_codes.contains(0));
        assert_eq!(c.hook.unwrap().to_bytes(), b"hook");
        let c = run(&["-vt", "HUP", "x"]);
        assert_eq!(c.verbosity, 1);
        assert!(c.traps.contains(Signal::HUP));
    }

    #[test]
    fn long_options_with_space_or_equals() {
        let c = run(&["--grace=8", "--stop-signal", "QUIT", "--rewrite", "TERM:QUIT", "--rewrite=USR1:0", "--restart", "on-failure", "--max-restarts=3/10", "x"]);
        assert_eq!(c.grace_secs, 8);
        assert_eq!(c.stop_signal, Signal::QUIT);
        assert_eq!(c.rewrites.apply(Signal::TERM), Some(Signal::QUIT));
        assert_eq!(c.rewrites.apply(Signal::USR1), None);
        assert_eq!(c.rewrites.apply(Signal::HUP), Some(Signal::HUP));
        assert_eq!(c.restart, RestartPolicy::OnFailure);
        assert_eq!((c.max_restarts, c.restart_window_secs), (3, 10));
    }

    #[test]
    fn health_options() {
        let c = run(&["--health-cmd", "/bin/check", "--health-arg", "-q", "--health-arg=x y", "--health-interval", "2", "--health-retries=1", "--on-unhealthy", "exit", "p"]);
        let Probe::Exec { argv } = c.health.probe else { panic!() };
        assert_eq!(argv[0].unwrap().to_bytes(), b"/bin/check");
        assert_eq!(argv[1].unwrap().to_bytes(), b"-q");
        assert_eq!(argv[2].unwrap().to_bytes(), b"x y");
        assert!(argv[3].is_none());
        assert_eq!(c.health.interval_secs, 2);
        assert_eq!(c.health.on_unhealthy, OnUnhealthy::Exit);
        assert_eq!(run(&["--health-tcp", "8080", "p"]).health.probe, Probe::Tcp { ip: [127, 0, 0, 1], port: 8080 });
        assert_eq!(run(&["--health-tcp", "10.0.0.2:53", "p"]).health.probe, Probe::Tcp { ip: [10, 0, 0, 2], port: 53 });
        assert_eq!(
            run(&["--health-http", "http://127.0.0.1:8080/healthz", "p"]).health.probe,
            Probe::Http { ip: [127, 0, 0, 1], port: 8080, host: b"127.0.0.1:8080", path: b"/healthz" }
        );
        assert_eq!(
            run(&["--health-http", "http://localhost", "p"]).health.probe,
            Probe::Http { ip: [127, 0, 0, 1], port: 80, host: b"localhost", path: b"/" }
        );
    }

    #[test]
    fn usage_errors() {
        assert_eq!(fails(&[]).what, "missing PROGRAM to run");
        assert_eq!(fails(&["-v"]).what, "missing PROGRAM to run");
        assert_eq!(fails(&["--"]).what, "missing PROGRAM to run");
        assert_eq!(fails(&["-x", "p"]).what, "unknown option");
        assert_eq!(fails(&["--nope", "p"]).what, "unknown option");
        assert_eq!(fails(&["-t"]).what, "option needs a value");
        assert_eq!(fails(&["--grace"]).what, "option needs a value");
        assert_eq!(fails(&["-t", "SIGNOPE", "p"]).what, "unknown signal");
        assert_eq!(fails(&["-t", "65", "p"]).what, "unknown signal");
        assert_eq!(fails(&["-t", "KILL", "p"]).what, "signal cannot be trapped");
        assert_eq!(fails(&["-t", "TERM,", "p"]).what, "unknown signal");
        assert_eq!(fails(&["-e", "256", "p"]).what, "exit code must be 0..255");
        assert_eq!(fails(&["--grace", "99999999999", "p"]).what, "expected whole seconds (0..999999999)");
        assert_eq!(fails(&["--grace", "-1", "p"]).what, "expected whole seconds (0..999999999)");
        assert_eq!(fails(&["--grace=", "p"]).what, "expected whole seconds (0..999999999)");
        assert_eq!(fails(&["--rewrite", "TERM", "p"]).what, "rewrite needs FROM:TO");
        assert_eq!(fails(&["--restart", "sometimes", "p"]).what, "restart policy must be never, on-failure or always");
        assert_eq!(fails(&["--health-tcp", "1", "--health-http", "http://1.2.3.4/", "p"]).what, "only one health probe can be set");
        assert_eq!(fails(&["--health-arg", "x", "p"]).what, "--health-arg needs --health-cmd before it");
        assert_eq!(fails(&["--health-http", "https://1.2.3.4/", "p"]).what, "health-http must be http://IPV4[:PORT][/PATH]");
        assert_eq!(fails(&["--health-interval", "0", "p"]).what, "expected 1 second or more");
        assert_eq!(fails(&["-r", "", "p"]).what, "empty script path");
    }

    #[test]
    fn help_and_version() {
        assert!(matches!(parse(args(&["-h"]), &no_env), Ok(Parsed::Help)));
        assert!(matches!(parse(args(&["--help"]), &no_env), Ok(Parsed::Help)));
        assert!(matches!(parse(args(&["--version"]), &no_env), Ok(Parsed::Version)));
    }

    #[test]
    fn environment_gives_defaults_and_options_win() {
        fn env(name: &CStr) -> Option<&'static CStr> {
            match name.to_bytes() {
                b"DRINIT_GRACE" => Some(c"5"),
                b"DRINIT_TRAP" => Some(c"USR2"),
                b"DRINIT_KILL_GROUP" => Some(c"true"),
                b"DRINIT_VERBOSITY" => Some(c"2"),
                b"DRINIT_SOCKET" => Some(c"test-sock"),
                _ => None,
            }
        }
        let Ok(Parsed::Run(c)) = parse(args(&["--grace", "7", "p"]), &env) else { panic!() };
        assert_eq!(c.grace_secs, 7);
        assert!(c.traps.contains(Signal::from_number(12).unwrap()));
        assert!(c.kill_group);
        assert_eq!(c.verbosity, 2);
        assert_eq!(c.socket_name, Some(&b"test-sock"[..]));
    }

    /// A fake environment for one test: `pairs` are NAME, value.
    fn parse_with(list: &[&str], pairs: &'static [(&'static str, &'static CStr)]) -> Result<Parsed> {
        thread_local!(static PAIRS: std::cell::Cell<&'static [(&'static str, &'static CStr)]> = const { std::cell::Cell::new(&[]) });
        PAIRS.with(|p| p.set(pairs));
        fn env(name: &CStr) -> Option<&'static CStr> {
            PAIRS.with(|p| p.get().iter().find(|(n, _)| n.as_bytes() == name.to_bytes()).map(|&(_, v)| v))
        }
        parse(args(list), &env)
    }

    fn run_with(list: &[&str], pairs: &'static [(&'static str, &'static CStr)]) -> Config {
        match parse_with(list, pairs) {
            Ok(Parsed::Run(c)) => c,
            other => panic!("{list:?} with {pairs:?} gave {other:?}"),
        }
    }

    #[test]
    fn tini_variables_carry_over_and_drinit_settings_win() {
        let c = run_with(&["p"], &[("TINI_SUBREAPER", c""), ("TINI_KILL_PROCESS_GROUP", c""), ("TINI_VERBOSITY", c"2")]);
        assert!(c.subreaper && c.kill_group);
        // tini's 2 (info) is drinit's -v; tini's 1 is its default, drinit's 0.
        assert_eq!(c.verbosity, 1);
        assert_eq!(run_with(&["p"], &[("TINI_VERBOSITY", c"1")]).verbosity, 0);
        assert_eq!(run_with(&["p"], &[("TINI_VERBOSITY", c"0")]).verbosity, 0);
        assert_eq!(run_with(&["p"], &[("TINI_VERBOSITY", c"4")]).verbosity, 3);
        let c = run_with(&["p"], &[]);
        assert!(!c.subreaper && !c.kill_group);
        // A DRINIT_* variable wins over tini's, an option over both.
        let c = run_with(&["p"], &[("TINI_SUBREAPER", c"1"), ("DRINIT_SUBREAPER", c"0"), ("TINI_KILL_PROCESS_GROUP", c"1"), ("DRINIT_KILL_GROUP", c"no"), ("TINI_VERBOSITY", c"3"), ("DRINIT_VERBOSITY", c"0")]);
        assert!(!c.subreaper && !c.kill_group);
        assert_eq!(c.verbosity, 0);
        assert_eq!(run_with(&["-v", "p"], &[("TINI_VERBOSITY", c"4")]).verbosity, 1);
        let e = parse_with(&["p"], &[("TINI_VERBOSITY", c"loud")]).unwrap_err();
        assert_eq!((e.what, e.offending), ("verbosity must be 0..9", &b"TINI_VERBOSITY"[..]));
    }

    #[test]
    fn an_option_replaces_what_a_variable_set() {
        // The command line's probe replaces the environment's (it was "only one probe").
        let c = run_with(&["--health-http", "http://127.0.0.1:8080/ok", "p"], &[("DRINIT_HEALTH_TCP", c"8080")]);
        assert!(matches!(c.health.probe, Probe::Http { port: 8080, path: b"/ok", .. }), "{:?}", c.health.probe);
        let c = run_with(&["--health-cmd", "/bin/check", "p"], &[("DRINIT_HEALTH_HTTP", c"http://127.0.0.1/")]);
        assert!(matches!(c.health.probe, Probe::Exec { .. }));
        // Two probes on the command line stay an error, as do two in the environment.
        let e = parse_with(&["--health-http", "http://127.0.0.1/", "--health-tcp", "1", "p"], &[("DRINIT_HEALTH_TCP", c"8080")]).unwrap_err();
        assert_eq!(e.what, "only one health probe can be set");
        assert!(parse_with(&["p"], &[("DRINIT_HEALTH_TCP", c"1"), ("DRINIT_HEALTH_HTTP", c"http://127.0.0.1/")]).is_err());
        // --health-arg gives DRINIT_HEALTH_CMD its arguments; a probe after them is a second one.
        let c = run_with(&["--health-arg", "-f", "p"], &[("DRINIT_HEALTH_CMD", c"/bin/test")]);
        let Probe::Exec { argv } = c.health.probe else { panic!() };
        assert_eq!((argv[0].unwrap().to_bytes(), argv[1].unwrap().to_bytes()), (&b"/bin/test"[..], &b"-f"[..]));
        assert!(parse_with(&["--health-arg", "-f", "--health-cmd", "/b", "p"], &[("DRINIT_HEALTH_CMD", c"/a")]).is_err());
        // Repeatable options replace the variable's set as a whole, then add up.
        let c = run_with(&["-t", "HUP", "--trap=USR1", "p"], &[("DRINIT_TRAP", c"USR2,WINCH")]);
        assert!(c.traps.contains(Signal::HUP) && c.traps.contains(Signal::USR1));
        assert!(!c.traps.contains(Signal::from_number(12).unwrap()) && !c.traps.contains(Signal::from_number(28).unwrap()));
        assert_eq!(run_with(&["-v", "p"], &[("DRINIT_VERBOSITY", c"3")]).verbosity, 1);
        assert_eq!(run_with(&["-vv", "-v", "p"], &[("DRINIT_VERBOSITY", c"3")]).verbosity, 3);
        // N without a window is N within the default window, not the variable's window.
        let c = run_with(&["--max-restarts", "2", "p"], &[("DRINIT_MAX_RESTARTS", c"9/10")]);
        assert_eq!((c.max_restarts, c.restart_window_secs), (2, 60));
        let c = run_with(&["--grace", "3", "-g", "p"], &[("DRINIT_GRACE", c"9"), ("DRINIT_KILL_GROUP", c"0")]);
        assert!(c.grace_secs == 3 && c.kill_group);
    }

    #[test]
    fn an_http_url_whose_request_would_not_fit_is_refused() {
        // The request is the URL's host and path plus 64 bytes of its own.
        assert_eq!(HTTP_REQUEST_MAX - http_request_len(b"", b""), 448, "the error message says 448");
        let host = "127.0.0.1:8080";
        let fits = format!("http://{host}/{}", "a".repeat(448 - host.len() - 1));
        let Probe::Http { host: h, path, .. } = run(&["--health-http", &fits, "p"]).health.probe else { panic!() };
        assert_eq!(http_request_len(h, path), HTTP_REQUEST_MAX);
        let too_long = format!("{fits}a");
        assert_eq!(fails(&["--health-http", &too_long, "p"]).what, "health-http URL too long (at most 448 bytes of host and path)");
        let value: &'static CStr = Box::leak(CString::new(too_long).unwrap().into_boxed_c_str());
        let pairs = Box::leak(vec![("DRINIT_HEALTH_HTTP", value)].into_boxed_slice());
        assert!(parse_with(&["p"], pairs).is_err());
    }

    #[test]
    fn a_bad_variable_is_echoed_with_its_value() {
        // Only this test sets this variable in the test process's real environment.
        std::env::set_var("DRINIT_HOOK_TIMEOUT", "never");
        let e = parse(args(&["p"]), &crate::sys::getenv).unwrap_err();
        assert_eq!(e.offending, b"DRINIT_HOOK_TIMEOUT=never");
        assert_eq!(e.what, "expected whole seconds (0..999999999)");
    }

    #[test]
    fn malformed_environment_is_a_usage_error_naming_the_variable() {
        fn env(name: &CStr) -> Option<&'static CStr> {
            if name.to_bytes() == b"DRINIT_GRACE" { Some(c"soon") } else { None }
        }
        let e = parse(args(&["p"]), &env).unwrap_err();
        assert_eq!(e.offending, b"DRINIT_GRACE");
        fn empty(name: &CStr) -> Option<&'static CStr> {
            if name.to_bytes() == b"DRINIT_KILL_GROUP" { Some(c"") } else { None }
        }
        assert!(parse(args(&["p"]), &empty).is_err());
    }

    #[test]
    fn never_panics_on_random_arguments() {
        let words = ["-t", "-r", "-e", "-p", "--", "-", "--grace", "--grace=", "TERM", "99", "-tx", "--rewrite", "A:B", "TERM:0", "--health-arg", "--health-cmd", "", "\u{7f}", "-gvswh", "--max-restarts", "1/", "/1", "--health-http", "http://"];
        let mut seed = 0x9e3779b97f4a7c15u64;
        for _ in 0..20_000 {
            let mut list = Vec::new();
            for _ in 0..(seed % 6) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                list.push(words[(seed % words.len() as u64) as usize]);
            }
            let _ = parse(args(&list), &no_env);
        }
    }
}
