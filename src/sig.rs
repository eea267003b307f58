//! Signals: the `Signal` newtype, names, sets, and which ones drinit treats specially.
//! Raw signal numbers exist only here and in `sys`.

/// A signal number in 1..=64 (the Linux range on x86_64 and aarch64).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Signal(u8);

impl Signal {
    #[cfg(test)]
    pub const HUP: Signal = Signal(libc::SIGHUP as u8);
    pub const INT: Signal = Signal(libc::SIGINT as u8);
    pub const QUIT: Signal = Signal(libc::SIGQUIT as u8);
    pub const KILL: Signal = Signal(libc::SIGKILL as u8);
    #[cfg(test)]
    pub const USR1: Signal = Signal(libc::SIGUSR1 as u8);
    pub const TERM: Signal = Signal(libc::SIGTERM as u8);
    pub const CHLD: Signal = Signal(libc::SIGCHLD as u8);
    pub const CONT: Signal = Signal(libc::SIGCONT as u8);
    pub const STOP: Signal = Signal(libc::SIGSTOP as u8);
    pub const TSTP: Signal = Signal(libc::SIGTSTP as u8);
    pub const TTIN: Signal = Signal(libc::SIGTTIN as u8);
    pub const TTOU: Signal = Signal(libc::SIGTTOU as u8);

    pub const MAX: i32 = 64;

    pub fn from_number(n: i32) -> Option<Signal> {
        if (1..=Self::MAX).contains(&n) { Some(Signal(n as u8)) } else { None }
    }

    pub fn number(self) -> i32 {
        self.0 as i32
    }

    /// SIGKILL and SIGSTOP cannot be caught, so they cannot be trapped or rewritten.
    pub fn is_catchable(self) -> bool {
        self != Signal::KILL && self != Signal::STOP
    }

    /// Job-control stops: PID 1 must never stop, and the program has its own terminal.
    pub fn is_job_control(self) -> bool {
        self == Signal::TSTP || self == Signal::TTIN || self == Signal::TTOU
    }

    /// Parses `SIGTERM`, `TERM`, `term`, `15`, `RTMIN+3`, `SIGRTMAX-1`.
    pub fn parse(text: &[u8]) -> Option<Signal> {
        let name = strip_prefix_ignore_case(text, b"SIG").unwrap_or(text);
        if let Some(n) = parse_small_number(name) {
            return Signal::from_number(n);
        }
        for &(known, number) in NAMES {
            if eq_ignore_case(name, known) {
                return Signal::from_number(number);
            }
        }
        if let Some(rest) = strip_prefix_ignore_case(name, b"RTMIN") {
            return realtime(RTMIN, rest, 1);
        }
        if let Some(rest) = strip_prefix_ignore_case(name, b"RTMAX") {
            return realtime(Self::MAX, rest, -1);
        }
        None
    }

    /// The short name (`TERM`), or `None` for realtime signals (logged by number).
    pub fn name(self) -> Option<&'static [u8]> {
        NAMES.iter().find(|&&(_, n)| n == self.number()).map(|&(name, _)| name)
    }
}

/// The first realtime signal as glibc programs see it (glibc reserves 32 and 33).
const RTMIN: i32 = 34;

fn realtime(base: i32, offset: &[u8], direction: i32) -> Option<Signal> {
    let n = match offset {
        [] => 0,
        [sign, digits @ ..] if (*sign == b'+' && direction > 0) || (*sign == b'-' && direction < 0) => {
            parse_small_number(digits)?
        }
        _ => return None,
    };
    let number = base + direction * n;
    if (RTMIN..=Signal::MAX).contains(&number) { Signal::from_number(number) } else { None }
}

const NAMES: &[(&[u8], i32)] = &[
    (b"HUP", libc::SIGHUP),
    (b"INT", libc::SIGINT),
    (b"QUIT", libc::SIGQUIT),
    (b"ILL", libc::SIGILL),
    (b"TRAP", libc::SIGTRAP),
    (b"ABRT", libc::SIGABRT),
    (b"IOT", libc::SIGIOT),
    (b"BUS", libc::SIGBUS),
    (b"FPE", libc::SIGFPE),
    (b"KILL", libc::SIGKILL),
    (b"USR1", libc::SIGUSR1),
    (b"SEGV", libc::SIGSEGV),
    (b"USR2", libc::SIGUSR2),
    (b"PIPE", libc::SIGPIPE),
    (b"ALRM", libc::SIGALRM),
    (b"TERM", libc::SIGTERM),
    (b"STKFLT", libc::SIGSTKFLT),
    (b"CHLD", libc::SIGCHLD),
    (b"CONT", libc::SIGCONT),
    (b"STOP", libc::SIGSTOP),
    (b"TSTP", libc::SIGTSTP),
    (b"TTIN", libc::SIGTTIN),
    (b"TTOU", libc::SIGTTOU),
    (b"URG", libc::SIGURG),
    (b"XCPU", libc::SIGXCPU),
    (b"XFSZ", libc::SIGXFSZ),
    (b"VTALRM", libc::SIGVTALRM),
    (b"PROF", libc::SIGPROF),
    (b"WINCH", libc::SIGWINCH),
    (b"IO", libc::SIGIO),
    (b"POLL", libc::SIGPOLL),
    (b"PWR", libc::SIGPWR),
    (b"SYS", libc::SIGSYS),
];

/// A set of signals, one bit per signal number.
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
pub struct SignalSet(u64);

impl SignalSet {
    pub const EMPTY: SignalSet = SignalSet(0);

    pub fn insert(&mut self, signal: Signal) {
        self.0 |= 1u64 << (signal.number() - 1);
    }

    pub fn contains(self, signal: Signal) -> bool {
        self.0 & (1u64 << (signal.number() - 1)) != 0
    }
}

/// Parses a decimal number of at most 9 digits (no sign): enough for every count and
/// number of seconds drinit takes, and it cannot overflow.
pub fn parse_small_number(text: &[u8]) -> Option<i32> {
    if text.is_empty() || text.len() > 9 {
        return None;
    }
    let mut n: i32 = 0;
    for &c in text {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + (c - b'0') as i32;
    }
    Some(n)
}

pub fn eq_ignore_case(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.eq_ignore_ascii_case(y))
}

fn strip_prefix_ignore_case<'a>(text: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = text.get(..prefix.len())?;
    if eq_ignore_case(head, prefix) { text.get(prefix.len()..) } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_spelling() {
        for text in ["SIGTERM", "TERM", "term", "SigTerm", "15"] {
            assert_eq!(Signal::parse(text.as_bytes()), Some(Signal::TERM), "{text}");
        }
        assert_eq!(Signal::parse(b"SIGUSR1"), Some(Signal::USR1));
        assert_eq!(Signal::parse(b"9"), Some(Signal::KILL));
        assert_eq!(Signal::parse(b"64").map(Signal::number), Some(64));
        assert_eq!(Signal::parse(b"RTMIN").map(Signal::number), Some(34));
        assert_eq!(Signal::parse(b"SIGRTMIN+2").map(Signal::number), Some(36));
        assert_eq!(Signal::parse(b"rtmax-1").map(Signal::number), Some(63));
        assert_eq!(Signal::parse(b"RTMAX").map(Signal::number), Some(64));
    }

    #[test]
    fn rejects_what_is_not_a_signal() {
        for text in ["", "0", "65", "-1", "SIG", "TERMS", "SIGFOO", "RTMIN-1", "RTMAX+1", "RTMIN+40", "1.5", "99999999999"] {
            assert_eq!(Signal::parse(text.as_bytes()), None, "{text}");
        }
    }

    #[test]
    fn every_name_round_trips() {
        for &(name, number) in NAMES {
            let signal = Signal::parse(name).unwrap();
            assert_eq!(signal.number(), number);
        }
        assert_eq!(Signal::TERM.name(), Some(&b"TERM"[..]));
    }

    #[test]
    fn set_holds_the_whole_range() {
        let mut set = SignalSet::EMPTY;
        set.insert(Signal::from_number(1).unwrap());
        set.insert(Signal::from_number(64).unwrap());
        assert!(set.contains(Signal::HUP));
        assert!(set.contains(Signal::from_number(64).unwrap()));
        assert!(!set.contains(Signal::TERM));
    }
}
