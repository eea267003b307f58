//! The control protocol: small fixed binary frames shared by drinit and drinitctl.
//! Pure functions over byte slices: no I/O, no allocation, never a panic on any input.

/// Identifies a drinit frame, and the protocol version inside it.
pub const MAGIC: [u8; 4] = *b"DRNT";
pub const VERSION: u8 = 2;
pub const REQUEST_LEN: usize = 16;
pub const REPLY_LEN: usize = 152;
/// The longest `STATUS=` text (sd_notify) a reply carries.
pub const NOTIFY_STATUS_LEN: usize = 80;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Verb {
    Status = 1,
    Health = 2,
    Start = 3,
    Stop = 4,
    Restart = 5,
    Signal = 6,
    Ready = 7,
}

/// Every verb, in wire order (byte 1 is `VERBS[0]`).
const VERBS: [Verb; 7] = [Verb::Status, Verb::Health, Verb::Start, Verb::Stop, Verb::Restart, Verb::Signal, Verb::Ready];

impl Verb {
    fn from_byte(b: u8) -> Option<Verb> {
        VERBS.get((b as usize).wrapping_sub(1)).copied()
    }

    /// The command word, as drinitctl takes it and prints it.
    pub fn name(self) -> &'static [u8] {
        match self {
            Verb::Status => b"status",
            Verb::Health => b"health",
            Verb::Start => b"start",
            Verb::Stop => b"stop",
            Verb::Restart => b"restart",
            Verb::Signal => b"signal",
            Verb::Ready => b"ready",
        }
    }

    pub fn from_name(word: &[u8]) -> Option<Verb> {
        VERBS.into_iter().find(|v| v.name() == word)
    }

    /// Any uid inside the container may ask these; the others need uid 0 or drinit's.
    pub fn is_read_only(self) -> bool {
        matches!(self, Verb::Status | Verb::Health | Verb::Ready)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Request {
    pub verb: Verb,
    /// The signal number for `Verb::Signal`, 0 otherwise.
    pub arg: i32,
    /// Echoed in the reply so a client can tell its answer from a stale one.
    pub seq: u32,
}

/// Why a datagram was dropped (each reason counts as one rejected request).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Malformed {
    Length,
    Magic,
    Version,
    Verb,
    Argument,
}

pub fn encode_request(r: &Request) -> [u8; REQUEST_LEN] {
    let mut f = [0u8; REQUEST_LEN];
    put(&mut f, 0, &MAGIC);
    put(&mut f, 4, &[VERSION, r.verb as u8, 0, 0]);
    put(&mut f, 8, &r.arg.to_le_bytes());
    put(&mut f, 12, &r.seq.to_le_bytes());
    f
}

pub fn decode_request(frame: &[u8]) -> Result<Request, Malformed> {
    let frame: &[u8; REQUEST_LEN] = frame.try_into().map_err(|_| Malformed::Length)?;
    let [m0, m1, m2, m3, version, verb, r0, r1, a0, a1, a2, a3, s0, s1, s2, s3] = *frame;
    if [m0, m1, m2, m3] != MAGIC {
        return Err(Malformed::Magic);
    }
    if version != VERSION {
        return Err(Malformed::Version);
    }
    let verb = Verb::from_byte(verb).ok_or(Malformed::Verb)?;
    let arg = i32::from_le_bytes([a0, a1, a2, a3]);
    let arg_ok = match verb {
        Verb::Signal => (1..=64).contains(&arg),
        _ => arg == 0,
    };
    if !arg_ok || r0 != 0 || r1 != 0 {
        return Err(Malformed::Argument);
    }
    Ok(Request { verb, arg, seq: u32::from_le_bytes([s0, s1, s2, s3]) })
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Outcome {
    Done = 0,
    Failed = 1,
    /// Accepted and under way (a stop waiting for the program); the final answer follows.
    InProgress = 2,
    /// Too many requests are already waiting.
    Busy = 3,
    /// The sender's uid may not do this (only uid 0 and drinit's own uid may).
    Refused = 4,
    /// A later request (`Reply::superseded_by`) changed what this one waited for.
    Superseded = 5,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum State {
    Running = 0,
    Stopping = 1,
    Stopped = 2,
    Restarting = 3,
    Exited = 4,
    /// A stop was asked for: health and readiness fail while the program still serves
    /// for `--stop-delay` (and the pre-stop hook runs) before the stop signal.
    Draining = 5,
}

impl State {
    fn from_byte(b: u8) -> Option<State> {
        Some(match b {
            0 => State::Running,
            1 => State::Stopping,
            2 => State::Stopped,
            3 => State::Restarting,
            4 => State::Exited,
            5 => State::Draining,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static [u8] {
        match self {
            State::Running => b"running",
            State::Stopping => b"stopping",
            State::Stopped => b"stopped",
            State::Restarting => b"restarting",
            State::Exited => b"exited",
            State::Draining => b"draining",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Health {
    /// No probe configured: healthy means running.
    None = 0,
    /// Inside the start period, or no probe has finished yet.
    Starting = 1,
    Healthy = 2,
    Unhealthy = 3,
}

/// How the program last ended, as `status --json`'s `last_exit_reason` says it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ExitReason {
    /// It has not ended yet.
    None = 0,
    Exit = 1,
    Signal = 2,
    /// SIGKILL from the kernel's OOM killer (the cgroup's `oom_kill` count rose).
    Oom = 3,
}

impl ExitReason {
    fn from_byte(b: u8) -> Option<ExitReason> {
        Some(match b {
            0 => ExitReason::None,
            1 => ExitReason::Exit,
            2 => ExitReason::Signal,
            3 => ExitReason::Oom,
            _ => return None,
        })
    }

    pub fn name(self) -> Option<&'static [u8]> {
        match self {
            ExitReason::None => None,
            ExitReason::Exit => Some(b"exit"),
            ExitReason::Signal => Some(b"signal"),
            ExitReason::Oom => Some(b"oom"),
        }
    }
}

/// The program's last `STATUS=` text (sd_notify), cut to `NOTIFY_STATUS_LEN` bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct NotifyStatus {
    pub text: [u8; NOTIFY_STATUS_LEN],
    pub len: u8,
}

impl NotifyStatus {
    pub const EMPTY: NotifyStatus = NotifyStatus { text: [0; NOTIFY_STATUS_LEN], len: 0 };

    #[cfg(test)]
    pub fn from_bytes(bytes: &[u8]) -> NotifyStatus {
        let mut status = NotifyStatus::EMPTY;
        for (dst, &src) in status.text.iter_mut().zip(bytes) {
            *dst = src;
            status.len += 1;
        }
        status
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.text.get(..self.len as usize).unwrap_or(&[])
    }
}

/// Everything `drinitctl status` shows, as drinit knows it at the moment of the reply.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Status {
    pub state: State,
    /// 0 when no program is running.
    pub pid: i32,
    pub uptime_secs: u32,
    pub restarts: u32,
    /// -1 none yet; 0..=255 the exit code; 256 + N killed by signal N.
    pub last_status: i32,
    pub health: Health,
    pub consecutive_failures: u32,
    pub rejected_requests: u32,
    /// How long a stop may take before the SIGKILL (the client waits that long).
    pub stop_timeout_secs: u32,
    /// Milliseconds until the next restart attempt, 0 when none is scheduled.
    pub next_restart_ms: u32,
    /// Seconds since the last probe finished, u32::MAX when none has.
    pub last_probe_age_secs: u32,
    pub last_probe_ok: bool,
    /// `--health-retries`: the failures in a row that make the verdict unhealthy.
    pub health_retries: u32,
    /// Ready to serve (SPEC §8): what `drinitctl ready` answers.
    pub ready: bool,
    pub exit_reason: ExitReason,
    /// Times the kernel's OOM killer ended the program.
    pub oom_kills: u32,
    /// drinit's own uid: with 0, the uids that may start, stop, restart and signal.
    pub own_uid: u32,
    /// Log lines dropped because stderr could not take them at once.
    pub dropped_log_lines: u32,
    pub notify_status: NotifyStatus,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Reply {
    pub verb: Verb,
    pub outcome: Outcome,
    pub seq: u32,
    /// With `Outcome::Superseded`: the request that took this one's place.
    pub superseded_by: Option<Verb>,
    pub status: Status,
}

pub fn encode_reply(r: &Reply) -> [u8; REPLY_LEN] {
    let s = &r.status;
    let mut f = [0u8; REPLY_LEN];
    put(&mut f, 0, &MAGIC);
    put(&mut f, 4, &[VERSION, r.verb as u8, r.outcome as u8, s.state as u8]);
    put(&mut f, 8, &r.seq.to_le_bytes());
    put(&mut f, 12, &s.pid.to_le_bytes());
    put(&mut f, 16, &s.uptime_secs.to_le_bytes());
    put(&mut f, 20, &s.restarts.to_le_bytes());
    put(&mut f, 24, &s.last_status.to_le_bytes());
    put(&mut f, 28, &[s.health as u8, s.last_probe_ok as u8, s.ready as u8, s.exit_reason as u8]);
    put(&mut f, 32, &s.consecutive_failures.to_le_bytes());
    put(&mut f, 36, &s.rejected_requests.to_le_bytes());
    put(&mut f, 40, &s.stop_timeout_secs.to_le_bytes());
    put(&mut f, 44, &s.next_restart_ms.to_le_bytes());
    put(&mut f, 48, &s.last_probe_age_secs.to_le_bytes());
    put(&mut f, 52, &s.health_retries.to_le_bytes());
    put(&mut f, 56, &s.oom_kills.to_le_bytes());
    put(&mut f, 60, &s.own_uid.to_le_bytes());
    put(&mut f, 64, &s.dropped_log_lines.to_le_bytes());
    put(&mut f, 68, &[r.superseded_by.map_or(0, |v| v as u8), s.notify_status.len, 0, 0]);
    put(&mut f, 72, &s.notify_status.text);
    f
}

pub fn decode_reply(frame: &[u8]) -> Result<Reply, Malformed> {
    let f: &[u8; REPLY_LEN] = frame.try_into().map_err(|_| Malformed::Length)?;
    if f[..4] != MAGIC {
        return Err(Malformed::Magic);
    }
    if f[4] != VERSION {
        return Err(Malformed::Version);
    }
    let verb = Verb::from_byte(f[5]).ok_or(Malformed::Verb)?;
    let outcome = match f[6] {
        0 => Outcome::Done,
        1 => Outcome::Failed,
        2 => Outcome::InProgress,
        3 => Outcome::Busy,
        4 => Outcome::Refused,
        5 => Outcome::Superseded,
        _ => return Err(Malformed::Argument),
    };
    let state = State::from_byte(f[7]).ok_or(Malformed::Argument)?;
    let exit_reason = ExitReason::from_byte(f[31]).ok_or(Malformed::Argument)?;
    let superseded_by = match f[68] {
        0 => None,
        b => Some(Verb::from_byte(b).ok_or(Malformed::Argument)?),
    };
    if f[69] as usize > NOTIFY_STATUS_LEN {
        return Err(Malformed::Argument);
    }
    let mut notify_status = NotifyStatus { text: [0; NOTIFY_STATUS_LEN], len: f[69] };
    notify_status.text.copy_from_slice(&f[72..72 + NOTIFY_STATUS_LEN]);
    let health = match f[28] {
        0 => Health::None,
        1 => Health::Starting,
        2 => Health::Healthy,
        3 => Health::Unhealthy,
        _ => return Err(Malformed::Argument),
    };
    // One load per field; byte by byte, the compiler spelled out every shift (size budget).
    let u32_at = |at: usize| f.get(at..at + 4).and_then(|b| b.try_into().ok()).map_or(0, u32::from_le_bytes);
    Ok(Reply {
        verb,
        outcome,
        seq: u32_at(8),
        superseded_by,
        status: Status {
            state,
            pid: u32_at(12) as i32,
            uptime_secs: u32_at(16),
            restarts: u32_at(20),
            last_status: u32_at(24) as i32,
            health,
            last_probe_ok: f[29] != 0,
            consecutive_failures: u32_at(32),
            rejected_requests: u32_at(36),
            stop_timeout_secs: u32_at(40),
            next_restart_ms: u32_at(44),
            last_probe_age_secs: u32_at(48),
            health_retries: u32_at(52),
            ready: f[30] != 0,
            exit_reason,
            oom_kills: u32_at(56),
            own_uid: u32_at(60),
            dropped_log_lines: u32_at(64),
            notify_status,
        },
    })
}

fn put(frame: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(dst) = frame.get_mut(at..at + bytes.len()) {
        dst.copy_from_slice(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> Status {
        Status {
            state: State::Restarting,
            pid: 4242,
            uptime_secs: 7,
            restarts: 3,
            last_status: 256 + 9,
            health: Health::Unhealthy,
            consecutive_failures: 2,
            rejected_requests: 10_000,
            stop_timeout_secs: 10,
            next_restart_ms: 1500,
            last_probe_age_secs: u32::MAX,
            last_probe_ok: true,
            health_retries: 3,
            ready: true,
            exit_reason: ExitReason::Oom,
            oom_kills: 2,
            own_uid: 65534,
            dropped_log_lines: 17,
            notify_status: NotifyStatus::from_bytes(b"serving 3 clients"),
        }
    }

    #[test]
    fn request_round_trips() {
        for verb in [Verb::Status, Verb::Health, Verb::Start, Verb::Stop, Verb::Restart, Verb::Ready] {
            let r = Request { verb, arg: 0, seq: 77 };
            assert_eq!(decode_request(&encode_request(&r)), Ok(r));
        }
        let r = Request { verb: Verb::Signal, arg: 15, seq: u32::MAX };
        assert_eq!(decode_request(&encode_request(&r)), Ok(r));
    }

    #[test]
    fn reply_round_trips() {
        let r = Reply { verb: Verb::Status, outcome: Outcome::InProgress, seq: 9, superseded_by: None, status: status() };
        assert_eq!(decode_reply(&encode_reply(&r)), Ok(r));
        let r = Reply { verb: Verb::Restart, outcome: Outcome::Superseded, seq: 1, superseded_by: Some(Verb::Stop), status: status() };
        assert_eq!(decode_reply(&encode_reply(&r)), Ok(r));
    }

    #[test]
    fn verbs_by_name_and_byte() {
        for (i, verb) in VERBS.into_iter().enumerate() {
            assert_eq!(Verb::from_name(verb.name()), Some(verb));
            assert_eq!(Verb::from_byte(i as u8 + 1), Some(verb));
            assert_eq!(verb as u8, i as u8 + 1, "VERBS is in wire order");
        }
        assert_eq!(Verb::from_byte(0), None);
        assert_eq!(Verb::from_byte(8), None);
        assert_eq!(Verb::from_name(b"stat"), None);
        let read_only: Vec<Verb> = VERBS.into_iter().filter(|v| v.is_read_only()).collect();
        assert_eq!(read_only, [Verb::Status, Verb::Health, Verb::Ready]);
    }

    #[test]
    fn malformed_requests_are_named() {
        let good = encode_request(&Request { verb: Verb::Stop, arg: 0, seq: 1 });
        assert_eq!(decode_request(&[]), Err(Malformed::Length));
        assert_eq!(decode_request(&good[..15]), Err(Malformed::Length));
        assert_eq!(decode_request(&[0u8; 17]), Err(Malformed::Length));
        assert_eq!(decode_request(&[0u8; 65536]), Err(Malformed::Length));
        let mut bad = good;
        bad[0] = b'X';
        assert_eq!(decode_request(&bad), Err(Malformed::Magic));
        let mut bad = good;
        bad[4] = 9;
        assert_eq!(decode_request(&bad), Err(Malformed::Version));
        let mut bad = good;
        bad[5] = 99;
        assert_eq!(decode_request(&bad), Err(Malformed::Verb));
        let mut bad = good;
        bad[8] = 1;
        assert_eq!(decode_request(&bad), Err(Malformed::Argument));
        let sig = encode_request(&Request { verb: Verb::Signal, arg: 65, seq: 1 });
        assert_eq!(decode_request(&sig), Err(Malformed::Argument));
        let sig = encode_request(&Request { verb: Verb::Signal, arg: 0, seq: 1 });
        assert_eq!(decode_request(&sig), Err(Malformed::Argument));
    }

    /// Property test: a million random frames (random lengths, and valid frames with random
    /// bytes flipped) never panic, and whatever decodes re-encodes to the same bytes.
    #[test]
    fn fuzz_decoders_with_random_bytes() {
        let mut seed = 0x2545F4914F6CDD1Du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut buf = [0u8; 200];
        for round in 0..1_000_000u32 {
            let len = if round % 2 == 0 { REQUEST_LEN } else { (next() % 201) as usize };
            if round % 3 == 0 {
                buf[..REQUEST_LEN].copy_from_slice(&encode_request(&Request { verb: Verb::Signal, arg: 15, seq: round }));
                let i = (next() % REQUEST_LEN as u64) as usize;
                buf[i] = next() as u8;
            } else {
                for b in buf.iter_mut().take(len) {
                    *b = next() as u8;
                }
            }
            if let Ok(r) = decode_request(&buf[..len]) {
                assert_eq!(&encode_request(&r)[..], &buf[..len]);
            }
            if let Ok(r) = decode_reply(&buf[..len.min(REPLY_LEN)]) {
                assert_eq!(decode_reply(&encode_reply(&r)), Ok(r));
            }
            // A reply with every field random round-trips exactly.
            if round % 8 != 0 {
                continue;
            }
            let mut text = [0u8; NOTIFY_STATUS_LEN];
            text.iter_mut().for_each(|b| *b = next() as u8);
            let notify_len = (next() % (NOTIFY_STATUS_LEN as u64 + 1)) as usize;
            let r = Reply {
                verb: VERBS[(next() % 7) as usize],
                outcome: [Outcome::Done, Outcome::Failed, Outcome::InProgress, Outcome::Busy, Outcome::Refused, Outcome::Superseded][(next() % 6) as usize],
                seq: next() as u32,
                superseded_by: [None, Some(Verb::Stop), Some(Verb::Restart)][(next() % 3) as usize],
                status: Status {
                    state: State::from_byte((next() % 6) as u8).unwrap(),
                    pid: next() as i32,
                    uptime_secs: next() as u32,
                    restarts: next() as u32,
                    last_status: next() as i32,
                    health: [Health::None, Health::Starting, Health::Healthy, Health::Unhealthy][(next() % 4) as usize],
                    consecutive_failures: next() as u32,
                    rejected_requests: next() as u32,
                    stop_timeout_secs: next() as u32,
                    next_restart_ms: next() as u32,
                    last_probe_age_secs: next() as u32,
                    last_probe_ok: next() % 2 == 0,
                    health_retries: next() as u32,
                    ready: next() % 2 == 0,
                    exit_reason: ExitReason::from_byte((next() % 4) as u8).unwrap(),
                    oom_kills: next() as u32,
                    own_uid: next() as u32,
                    dropped_log_lines: next() as u32,
                    notify_status: NotifyStatus::from_bytes(&text[..notify_len]),
                },
            };
            assert_eq!(decode_reply(&encode_reply(&r)), Ok(r), "round {round}");
        }
    }
}
