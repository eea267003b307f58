//! The init personality: start-up, then one event loop blocked in one call that dequeues
//! signals (`rt_sigtimedwait`, every 8th time a `read` of a signalfd). Everything arrives
//! there as a signal: the program's and the operator's, the kernel's "a socket is ready"
//! (O_ASYNC: SIGIO) and "a deadline is due" (a POSIX timer). Signals and control requests
//! become the same `Action`s.

use crate::args::{self, Config, OnUnhealthy, Parsed};
use crate::child;
use crate::ctl::{self, Server, SocketName};
use crate::death::Death;
use crate::exit;
use crate::health::{BecameUnhealthy, Health};
use crate::hooks::Hooks;
use crate::log;
use crate::notify::Notify;
use crate::proto::{self, Outcome, Reply, Request, State, Verb};
use crate::reap;
use crate::sig::Signal;
use crate::starting::ExecReport;
use crate::supervise::{Supervisor, ThenStart, DEFAULT_STOP_TIMEOUT_SECS};
use crate::sys::{self, Args, ExitStatus, Millis, SigMask, SignalInfo, Timer, UnixAddr};
use crate::tree::Tree;
use crate::waiters::{Awaiting, Waiters};

/// What a signal or a control request asks for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Action {
    Reap,
    Ignore,
    /// A trapped signal: run the `-r` hook, if any, instead of forwarding.
    RunHook(Signal),
    /// Deliver a signal to the program (its group with `-g`).
    Deliver(Signal),
    /// A stop signal reached drinit: deliver `deliver` (after rewrite) and end with the program.
    Shutdown { received: Signal, deliver: Option<Signal> },
    Start,
    Stop,
    Restart,
}

/// What a dequeued signal stands for.
enum Event {
    Signal(Action),
    /// One of drinit's sockets is ready (O_ASYNC sends SIGIO).
    Readable,
    /// The deadline timer fired.
    TimerFired,
}

/// Where a start comes from: decides what a failed start means.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A `drinitctl` request: a failure leaves the program stopped and drinit up.
    Request,
    /// The restart policy: a failure counts as an exit, with backoff and limit.
    Policy,
    /// drinit's own start: a failure ends drinit with 126/127 whatever the policy.
    Startup,
}

pub(crate) struct Init {
    pub(crate) config: Config,
    pub(crate) args: Args,
    pub(crate) original_mask: SigMask,
    own_pid: i32,
    /// PID 1 of its own PID namespace: `kill(-1)` reaches exactly the container.
    pub(crate) namespace_init: bool,
    signals: sys::Fd,
    timer: Timer,
    armed: Option<Millis>,
    control: Server,
    pub(crate) program: Supervisor,
    pub(crate) tree: Tree,
    pub(crate) hooks: Hooks,
    pub(crate) health: Health,
    pub(crate) waiters: Waiters,
    /// sd_notify: the program's NOTIFY_SOCKET (--notify) and the engine's.
    pub(crate) notify: Notify,
    /// Why the program died: the cgroup's OOM-kill counter.
    pub(crate) death: Death,
    /// Socket activation: fds 3… that the program gets (LISTEN_PID named drinit).
    pub(crate) listen_fds: u32,
    /// Whether the exec of a program started without waiting failed: read at its exit.
    pub(crate) exec_report: Option<ExecReport>,
}

pub fn main(args: Args) -> i32 {
    // Signals are blocked before anything else: one that arrives during start-up then
    // waits to be dequeued instead of killing PID 1 with its default action.
    let original_mask = match sys::block_all_signals() {
        Ok(mask) => mask,
        Err(e) => {
            log::error().text(b"cannot block signals").errno(e).emit();
            return exit::SYSTEM_ERROR;
        }
    };
    // Whatever the parent left behind (an ignored SIGCHLD would make the kernel reap the
    // program behind drinit's back: drinit would never see it exit) is undone.
    sys::reset_signal_dispositions();
    let config = match args::parse(args, &sys::getenv) {
        Ok(Parsed::Run(config)) => config,
        Ok(Parsed::Help) => {
            sys::write_stdio(1, HELP);
            return 0;
        }
        Ok(Parsed::Version) => {
            print_version();
            return 0;
        }
        Err(e) => {
            log::error().text(e.what.as_bytes()).text(b": '").text(e.offending).text(b"' (see drinit --help)").emit();
            return exit::USAGE;
        }
    };
    log::set_verbosity(config.verbosity);
    sys::log_without_blocking();
    match Init::start(config, args, original_mask) {
        Ok(init) => init.run(),
        Err(code) => code,
    }
}

pub fn print_version() {
    log::Line::stdout()
        .text(b"drinit version ")
        .text(env!("CARGO_PKG_VERSION").as_bytes())
        .text(b" - git.")
        .text(env!("DRINIT_GIT_HASH").as_bytes())
        .emit();
}

const HELP: &[u8] = b"Usage: drinit [OPTIONS] [--] PROGRAM [ARGS...]  (drinitctl -h: the control client)
Runs PROGRAM, forwards signals, reaps zombies, exits with PROGRAM's status.
 -t SIG[,SIG] trap  -r SCRIPT hook  -g group  -s subreaper  -p SIG pdeathsig
 -e CODE as 0  -w warn on zombies  -v[v] log  --grace S  --stop-signal SIG
 --stop-delay S  --pre-stop SCRIPT  --rewrite FROM:TO  --notify
 --restart never|on-failure|always  --max-restarts N[/S]  --hook-timeout S
 --health-cmd PROG [--health-arg A]... | --health-tcp [IP:]PORT | --health-http URL
 --health-interval S --health-timeout S --health-retries N --health-start-period S
 --on-unhealthy restart|exit|none  --version  -h
Each option also comes from a DRINIT_* variable; see the README.
";

impl Init {
    /// Start-up: any failure here ends drinit with a documented code, before the program
    /// exists or right after it failed to start.
    #[inline(never)] // once, at start-up: out of the loop's way (size budget)
    fn start(config: Config, args: Args, original_mask: SigMask) -> Result<Init, i32> {
        let own_pid = sys::getpid();
        let namespace_init = own_pid == 1;
        if !namespace_init || config.subreaper {
            match sys::set_child_subreaper() {
                Ok(()) => log::info().text(b"registered as child subreaper (pid ").num(own_pid as i64).text(b")").emit(),
                Err(e) => log::error().text(b"cannot become child subreaper; orphans will not be reaped").errno(e).emit(),
            }
        }
        if let Some(signal) = config.parent_death_signal {
            if let Err(e) = sys::set_parent_death_signal(signal.number()) {
                log::error().text(b"cannot set the parent-death signal").errno(e).emit();
                return Err(exit::SYSTEM_ERROR);
            }
        }
        let signals = sys::signalfd(&sys::SigMask::full()).map_err(|e| startup_failure(b"cannot open a signalfd", e))?;
        let timer = Timer::create(sys::TIMER_SIGNAL).map_err(|e| startup_failure(b"cannot create a timer", e))?;
        let mut name = SocketName::resolve(config.socket_name.or_else(ctl::configured_name));
        if ctl::runs_drinit(args.get(config.program)) {
            // Nested: the name is the inner drinit's, which runs the user's program.
            name.push(b".outer");
        }
        let control = match Server::bind(name.as_bytes()) {
            Ok(server) => server,
            Err(sys::Errno::ADDRINUSE) => {
                log::error()
                    .text(b"control socket @")
                    .text(name.as_bytes())
                    .text(b" is taken by a running drinit: reach it with `drinitctl COMMAND` or `drinit ctl COMMAND`; a second drinit needs its own DRINIT_SOCKET")
                    .emit();
                return Err(exit::SYSTEM_ERROR);
            }
            Err(e) => return Err(startup_failure(b"cannot open the control socket", e)),
        };
        if !name.derived_from_namespaces && config.socket_name.is_none() && ctl::configured_name().is_none() {
            log::info().text(b"/proc not mounted: control socket uses the fixed name @").text(name.as_bytes()).emit();
        } else {
            log::info().text(b"control socket @").text(name.as_bytes()).emit();
        }
        let notify = Notify::open(config.notify, name.as_bytes()).map_err(|e| startup_failure(b"cannot open the notify socket", e))?;
        let mut init = Init {
            health: Health::new(config.health),
            config,
            args,
            original_mask,
            own_pid,
            namespace_init,
            signals,
            timer,
            armed: None,
            control,
            program: Supervisor::new(),
            tree: Tree::new(own_pid),
            hooks: Hooks::new(),
            waiters: Waiters::new(),
            notify,
            death: Death::none(),
            listen_fds: child::listen_fds(own_pid),
            exec_report: None,
        };
        init.spawn_program(Origin::Startup).map_err(|_| exit::SYSTEM_ERROR)?;
        // Found while the program starts, not before: what it reads (the mount table,
        // where the cgroup is not at its usual place) would delay every container's start.
        init.death = Death::find();
        init.death.program_started();
        Ok(init)
    }

    // ---- From here on drinit is the container's PID 1: it logs errors and carries on.
    // ---- It exits only through `finish`, when the program has ended for good.

    fn run(mut self) -> ! {
        let mut batch = [SignalInfo { signal: 0, sender_pid: 0, code: 0 }; 16];
        let every_signal = SigMask::full();
        let mut waits: u8 = 0;
        // Nothing but forwarding happened since the timer was armed and readiness looked
        // at: a forwarded signal moves no deadline and changes no verdict, so its batch
        // skips both (1-5% of drinit's CPU per forwarded signal, pinned to one CPU).
        let mut settled = false;
        loop {
            if !settled {
                self.arm_timer();
                self.tell_engine_when_ready();
            }
            settled = true;
            // The one blocking call: rt_sigtimedwait, which takes one signal, lowest first
            // (~0.2 µs a signal cheaper than a read of the signalfd); every 8th wait a read
            // of the signalfd, which takes up to 16 at once, every pending standard signal
            // among them, so one pending again as soon as it is taken (a flood's SIGIO, a
            // fork storm's SIGCHLD) cannot starve the higher ones for longer than that.
            waits = waits.wrapping_add(1);
            let count = if waits % 8 != 0 {
                sys::take_signal(&every_signal, &mut batch)
            } else {
                sys::read_signals(&self.signals, &mut batch)
            };
            // Sockets and deadlines are looked at once per batch, after its signals.
            let (mut readable, mut due) = (false, false);
            for info in batch.iter().take(count) {
                // One SIGIO is pending at a time: a user's may stand for the kernel's too.
                readable |= info.signal == libc::SIGIO;
                match self.event_for(*info) {
                    Event::Signal(action) => {
                        settled &= matches!(action, Action::Deliver(_));
                        self.perform(action);
                    }
                    Event::Readable => readable = true,
                    Event::TimerFired => due = true,
                }
            }
            settled &= !(readable | due);
            if readable {
                self.on_readable();
            }
            if due {
                self.on_deadlines();
            }
        }
    }

    /// A readiness signal: one of drinit's sockets has something. Each is read in a
    /// bounded batch, so a flood on one cannot starve the signals; what is left is read
    /// after the signals queued meanwhile, or at once should queueing fail (the signal
    /// queue is full): no datagram is ever left without a signal to come.
    #[inline(never)] // one copy outside the loop (size budget)
    fn on_readable(&mut self) {
        loop {
            let mut more = self.on_requests();
            // The probe's socket is the one that says more than "readable": ask it.
            if self.health.socket().is_some_and(|(fd, events)| sys::poll_one(fd, events, 0)) {
                let result = self.health.on_socket_ready(sys::now());
                self.on_probe_result(result);
            }
            let helpers = self.helpers();
            let tree = &self.tree;
            more |= self.notify.on_readable(|pid| tree.contains(pid, &helpers));
            if !more || sys::queue_readable_to_self().is_ok() {
                return;
            }
        }
    }

    fn arm_timer(&mut self) {
        let next = [
            self.program.kill_at,
            self.program.drain.map(|d| d.until),
            self.program.restart_at,
            self.hooks.next_deadline(),
            self.health.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min();
        if next != self.armed {
            match self.timer.arm(next) {
                Ok(()) => self.armed = next,
                Err(e) => log::error().text(b"cannot arm the timer").errno(e).emit(),
            }
        }
    }

    // ---- Events -------------------------------------------------------------------------

    /// What one dequeued signal stands for. Only the kernel sends a positive code
    /// to another process: a user's SIGIO or 33 is forwarded like any other signal.
    fn event_for(&self, info: SignalInfo) -> Event {
        match (info.signal, info.code) {
            (libc::SIGIO, code) if code > 0 => Event::Readable,
            // Spoofable (sigqueue may claim SI_TIMER), and harmless: deadlines read the clock.
            (sys::TIMER_SIGNAL, sys::SI_TIMER) => Event::TimerFired,
            _ => Event::Signal(self.action_for_signal(info)),
        }
    }

    fn action_for_signal(&self, info: SignalInfo) -> Action {
        let Some(signal) = Signal::from_number(info.signal) else { return Action::Ignore };
        if signal == Signal::CHLD {
            return Action::Reap;
        }
        // PID 1 must never stop; the program gets job-control signals from its terminal.
        // A signal drinit caused itself (SIGPIPE from logging to a closed stderr) is not
        // the program's business either, nor logged: the line would raise it again.
        if signal.is_job_control() || info.sender_pid == self.own_pid {
            return Action::Ignore;
        }
        if log::debugging() {
            log::debug().text(b"signal ").num(info.signal as i64).text(b" from pid ").num(info.sender_pid as i64).emit();
        }
        if self.config.traps.contains(signal) {
            return Action::RunHook(signal);
        }
        let deliver = self.config.rewrites.apply(signal);
        if self.config.is_stop_signal(signal) {
            return Action::Shutdown { received: signal, deliver };
        }
        deliver.map_or(Action::Ignore, Action::Deliver)
    }

    /// Takes up to 64 queued datagrams (requests served, garbage dropped); whether more
    /// are left.
    fn on_requests(&mut self) -> bool {
        for _ in 0..64 {
            let incoming = match self.control.receive() {
                ctl::Received::Request(incoming) => incoming,
                ctl::Received::Dropped => continue,
                ctl::Received::Empty => return false,
            };
            if incoming.refused {
                self.reply(&incoming.from, incoming.request.verb, incoming.request.seq, Outcome::Refused, None);
            } else {
                self.on_request(incoming.request, incoming.from);
            }
        }
        true
    }

    fn on_request(&mut self, request: Request, from: UnixAddr) {
        let (outcome, awaiting) = match request.verb {
            Verb::Status => (Outcome::Done, None),
            Verb::Health => (if self.is_healthy() { Outcome::Done } else { Outcome::Failed }, None),
            Verb::Ready => (if self.is_ready() { Outcome::Done } else { Outcome::Failed }, None),
            Verb::Signal => {
                // Bypasses traps and rewrites: the operator named the signal.
                let signal = Signal::from_number(request.arg).unwrap_or(Signal::TERM);
                (self.perform(Action::Deliver(signal)), None)
            }
            Verb::Start => (self.perform(Action::Start), Some(Awaiting::Running)),
            Verb::Stop => (self.perform(Action::Stop), Some(Awaiting::Stopped)),
            Verb::Restart => (self.perform(Action::Restart), Some(Awaiting::Running)),
        };
        let outcome = match (outcome, awaiting) {
            (Outcome::InProgress, Some(awaiting)) => self.waiters.add(from, &request, awaiting),
            (outcome, _) => outcome,
        };
        self.reply(&from, request.verb, request.seq, outcome, None);
    }

    #[inline(never)] // one copy outside the loop (size budget)
    fn on_deadlines(&mut self) {
        let now = sys::now();
        if self.program.kill_at.is_some_and(|at| at <= now) {
            self.program.kill_at = None;
            self.on_kill_deadline();
        }
        self.end_drain_if_over(now);
        if self.program.leftovers.is_none() && self.program.restart_at.is_some_and(|at| at <= now) {
            self.program.restart_at = None;
            self.start_program(Origin::Policy);
        }
        self.hooks.kill_overdue(now);
        let result = self.health.on_deadline(now, &self.original_mask, self.program.pid);
        self.on_probe_result(result);
    }

    fn on_child_exit(&mut self, pid: i32, status: ExitStatus) {
        if pid == self.program.pid {
            if !self.program_never_ran() {
                self.on_program_exit(status);
            }
        } else if self.hooks.finished(pid, status) {
            self.on_hook_exit(pid);
        } else if let Some(result) = self.health.on_exit(pid, status) {
            self.on_probe_result(result);
        } else {
            if self.config.warn_foreign_zombies || log::debugging() {
                let mut line = if self.config.warn_foreign_zombies { log::error() } else { log::debug() };
                line.text(b"reaped zombie pid ").num(pid as i64).emit();
            }
        }
    }

    fn on_program_exit(&mut self, status: ExitStatus) {
        let mut line = log::info();
        line.text(b"program pid ").num(self.program.pid as i64);
        match status {
            ExitStatus::Exited(code) => line.text(b" exited with code ").num(code as i64).emit(),
            ExitStatus::Signaled(signal) => line.text(b" killed by signal ").num(signal as i64).emit(),
        }
        self.health.program_stopped();
        self.death.program_exited(self.program.pid, status);
        let after = self.program.exited(status, sys::now(), &self.config);
        // What follows waits for the rest of the tree (`on_reaped`, after this reap batch).
        self.program.leftovers = Some(after);
        self.program.swept = false;
    }

    fn on_probe_result(&mut self, result: Option<BecameUnhealthy>) {
        if result.is_none() || self.program.state != State::Running {
            return;
        }
        log::event().text(b"program is unhealthy: ").num(self.health.consecutive_failures as i64).text(b" probes failed in a row").emit();
        // A liveness stop does not drain: the program is not serving anyway.
        let timeout = Some(self.stop_timeout_secs());
        match self.config.health.on_unhealthy {
            OnUnhealthy::Nothing => {}
            OnUnhealthy::Restart => {
                self.stop_program(ThenStart::Yes { counted: true }, Some(self.config.stop_signal), timeout);
            }
            OnUnhealthy::Exit => {
                self.program.exit_override = Some(exit::UNHEALTHY);
                self.program.shutting_down = true;
                self.stop_program(ThenStart::No, Some(self.config.stop_signal), timeout);
            }
        }
    }

    // ---- Actions ------------------------------------------------------------------------

    /// Carries out one action; control requests get its outcome as their answer.
    fn perform(&mut self, action: Action) -> Outcome {
        match action {
            Action::Reap => {
                let children_remain = reap::reap_all(|pid, status| self.on_child_exit(pid, status));
                self.on_reaped(children_remain);
                Outcome::Done
            }
            Action::Ignore => Outcome::Done,
            Action::RunHook(signal) => {
                log::info().text(b"trapped ").signal(signal).emit();
                if let Some(script) = self.config.hook {
                    let deadline = sys::now() + self.config.hook_timeout_secs as Millis * 1000;
                    self.hooks.start(script, signal, self.program.pid, &self.original_mask, deadline);
                }
                Outcome::Done
            }
            Action::Deliver(signal) => self.deliver(signal),
            Action::Shutdown { received, deliver } => {
                self.shutdown(received, deliver);
                Outcome::Done
            }
            Action::Start => self.want_running(true, Verb::Start),
            Action::Stop => self.want_running(false, Verb::Stop),
            Action::Restart => match self.program.state {
                State::Running => {
                    let timeout = Some(self.stop_timeout_secs());
                    self.request_stop(ThenStart::Yes { counted: false }, Some(self.config.stop_signal), timeout)
                }
                _ => self.want_running(true, Verb::Restart),
            },
        }
    }

    pub(crate) fn stop_timeout_secs(&self) -> u32 {
        if self.config.grace_secs > 0 { self.config.grace_secs } else { DEFAULT_STOP_TIMEOUT_SECS }
    }

    pub(crate) fn deliver(&mut self, signal: Signal) -> Outcome {
        if !self.program.is_alive() {
            log::debug().text(b"no program to deliver signal ").num(signal.number() as i64).text(b" to").emit();
            return Outcome::Failed;
        }
        let result = if self.config.kill_group {
            sys::kill_process_group(self.program.pid, signal.number())
        } else {
            sys::kill_process(self.program.pid, signal.number())
        };
        match result {
            Ok(()) => {
                if log::debugging() {
                    log::debug().text(b"delivered ").signal(signal).text(b" to pid ").num(self.program.pid as i64).emit();
                }
                Outcome::Done
            }
            Err(e) => {
                log::debug().text(b"cannot deliver signal ").num(signal.number() as i64).errno(e).emit();
                Outcome::Failed
            }
        }
    }

    /// drinit ends: the program has ended for good (or never ran again), and nothing of
    /// its tree is left (or what was left got SIGKILL at the deadline).
    pub(crate) fn finish(&mut self, code: i32) -> ! {
        self.answer_waiters(Awaiting::Running, Outcome::Failed, None);
        self.answer_waiters(Awaiting::Stopped, Outcome::Done, None);
        log::info().text(b"exiting with code ").num(code as i64).emit();
        sys::exit_now(code)
    }

    // ---- Control replies ----------------------------------------------------------------

    /// The one health verdict (SPEC §3) that `health`'s exit code and `status` both show:
    /// unhealthy while the program is not running (or drains), or once the probe failed
    /// `--health-retries` times in a row.
    fn verdict(&self) -> proto::Health {
        if self.program.state != State::Running {
            proto::Health::Unhealthy
        } else {
            self.health.verdict
        }
    }

    fn is_healthy(&self) -> bool {
        self.verdict() != proto::Health::Unhealthy
    }

    /// Answers every client waiting for `settled`.
    pub(crate) fn answer_waiters(&mut self, settled: Awaiting, outcome: Outcome, superseded_by: Option<Verb>) {
        let status = self.status();
        let control = &self.control;
        self.waiters.settle(settled, |w| control.reply(&w.to, &Reply { verb: w.verb, outcome, seq: w.seq, superseded_by, status }));
    }

    /// Ready to serve (SPEC §8): `status.ready` and `drinitctl ready` both answer this.
    fn is_ready(&self) -> bool {
        self.is_healthy() && self.health.ready(self.notify.program_ready())
    }

    /// Up: the engine (podman, systemd) hears READY=1 when the program first is ready.
    fn tell_engine_when_ready(&mut self) {
        if self.notify.engine_waits() && self.is_ready() {
            self.notify.tell_engine_ready();
        }
    }

    fn reply(&self, to: &UnixAddr, verb: Verb, seq: u32, outcome: Outcome, superseded_by: Option<Verb>) {
        self.control.reply(to, &Reply { verb, outcome, seq, superseded_by, status: self.status() });
    }

    fn status(&self) -> proto::Status {
        let now = sys::now();
        let alive = self.program.is_alive();
        proto::Status {
            state: self.program.state,
            pid: self.program.pid,
            uptime_secs: if alive { (now.saturating_sub(self.program.started_at) / 1000) as u32 } else { 0 },
            restarts: self.program.restarts,
            last_status: exit::wire_status(self.program.last_status),
            health: self.verdict(),
            consecutive_failures: self.health.consecutive_failures,
            rejected_requests: self.control.rejected.saturating_add(self.notify.rejected),
            stop_timeout_secs: self.whole_stop_secs(),
            next_restart_ms: self.program.restart_at.map_or(0, |at| at.saturating_sub(now).min(u32::MAX as u64) as u32),
            last_probe_age_secs: self.health.last_result.map_or(u32::MAX, |(at, _)| (now.saturating_sub(at) / 1000) as u32),
            last_probe_ok: self.health.last_result.is_some_and(|(_, ok)| ok),
            health_retries: self.config.health.retries,
            ready: self.is_ready(),
            exit_reason: self.death.reason(self.program.last_status),
            oom_kills: self.death.oom_kills,
            own_uid: self.control.own_uid,
            dropped_log_lines: log::dropped_lines(),
            notify_status: self.notify.status(),
        }
    }
}

fn startup_failure(what: &[u8], e: sys::Errno) -> i32 {
    log::error().text(what).errno(e).emit();
    exit::SYSTEM_ERROR
}
