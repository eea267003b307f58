#!/usr/bin/env python3
"""Measures drinit against tini, dumb-init and catatonit, each as PID 1 of its own PID
namespace (`unshare --pid --fork --mount-proc`), and writes BENCHMARKS.md.

Every metric is measured for all inits in the same run and interleaved (round-robin over
the inits within each repetition), so a slow moment of the machine hits every init alike
instead of the one that happened to run then. Python 3 standard library only.

Usage: python3 bench/bench.py --drinit /abs/path/to/drinit [--quick] [--no-write]
"""

import argparse
import atexit
import contextlib
import datetime
import errno
import json
import os
import platform
import random
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCHMARKS = os.path.join(REPO, "BENCHMARKS.md")
SOAK_HEADING = "## Soak"
PY = sys.executable  # the real interpreter: a pyenv shim would add ~50 ms of bash per start

# Namespaced runs. --kill-child makes the kernel SIGKILL the init if this script (and so
# unshare) dies, whatever way it dies: no init outlives the bench.
UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child=SIGKILL"]

ORPHANS = 10_000
IDLE_SECONDS = 3.0
# The signal loops start fresh instances, one set after another: where the scheduler puts
# an init, its program and the sender (same CPU or not) decides an unpinned latency by a
# factor of four, it sticks to an instance, and it follows the order of starting: of five
# drinits and DIRECT started in turn, the first answered fast in 17 of 20 sets, the last
# in 0 of 20. So every init is started at every place of that order, SIGNAL_ROTATIONS
# times (with 10 sets for 6 instances, dumb-init had been started among the first four
# twice as often as drinit, and had the fastest unpinned latency in every run).
SIGNAL_ROTATIONS = 4


T0 = time.monotonic()


def log(*parts):
    print(f"bench: [{time.monotonic() - T0:5.1f} s]", *parts, flush=True)


# ---- The inits ---------------------------------------------------------------------------


class Init:
    def __init__(self, name, path, argv):
        self.name = name
        self.path = path
        self.argv = argv  # the init's own argv, to which the program's argv is appended

    def command(self, program):
        return self.argv + list(program)


def ensure_packages():
    """Installs the Debian packages of the other inits when one is missing (and only then)."""
    wanted = {"tini": "tini", "dumb-init": "dumb-init", "catatonit": "catatonit", "strace": "strace"}
    missing = [pkg for exe, pkg in wanted.items() if shutil.which(exe) is None]
    if not missing:
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        log("missing", " ".join(missing), "and cannot apt-get them: those inits are skipped")
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    log("installing", " ".join(missing), "with: apt-get update && apt-get install -y", " ".join(missing))
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
    result = subprocess.run(["apt-get", "install", "-y", "-qq"] + missing, env=env, check=False)
    if result.returncode != 0:
        log("apt-get install failed (exit", result.returncode, "): the missing inits are skipped")


def find_inits(drinit):
    inits = [Init("drinit", drinit, [drinit, "--"])]
    # Docker's `--init` runs tini-static (as docker-init), so the static build is the
    # baseline of every ratio when Debian installed it; the dynamic one is shown too.
    for name, argv_tail in (("tini-static", ["--"]), ("tini", ["--"]), ("dumb-init", []), ("catatonit", ["--"])):
        path = shutil.which(name)
        if path:
            inits.append(Init(name, path, [path] + argv_tail))
        else:
            log(name, "not found: skipped")
    return inits


def baseline_name(inits):
    names = [i.name for i in inits]
    for candidate in ("tini-static", "tini"):
        if candidate in names:
            return candidate
    return None


# ---- Processes ---------------------------------------------------------------------------

# Every unshare this script started and not yet reaped, with its init's host pid once known.
RUNNING = {}  # unshare pid -> init host pid or None


def stat_field(pid, index, proc="/proc"):
    """Field INDEX of /proc/PID/stat counted from the state (0: state, 1: ppid, 2: pgrp),
    or None once the process is gone; PROC: where that /proc is mounted."""
    try:
        with open(f"{proc}/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name may contain spaces and parentheses: fields start after the last ')'.
    field = stat[stat.rindex(b")") + 2 :].split()[index]
    return field.decode() if index == 0 else int(field)


def parent_of(pid):
    return stat_field(pid, 1)


def proc_field(pid, field):
    """An integer field of /proc/PID/status (`VmRSS`, `voluntary_ctxt_switches`...)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def cpu_ms(pid):
    """CPU time the process has used, in ms with µs precision (/proc/PID/sched), or None
    where the kernel does not have that file. utime/stime in /proc/PID/stat count 10 ms
    ticks: far too coarse for one init's work on a signal."""
    try:
        with open(f"/proc/{pid}/sched") as f:
            for line in f:
                if line.startswith("se.sum_exec_runtime"):
                    return float(line.split(":")[1])
    except OSError:
        pass
    return None


def cpu_delta(before, after):
    return None if before is None or after is None else after - before


def children_of(pid):
    """The children of single-threaded PID, zombies included, from the kernel's own list.
    Never by reading every /proc/N/stat: that leaves a /proc dentry behind for each of
    10,000 orphans, and the init that reaps them pays to invalidate it (half its reaping
    CPU, measured with perf: the bench's cost, not the init's)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(child) for child in f.read().split()]
    except FileNotFoundError:  # a kernel without CONFIG_PROC_CHILDREN
        return [int(e) for e in os.listdir("/proc") if e.isdigit() and parent_of(e) == pid]


def kill_instance(unshare_pid):
    """SIGKILLs an init by its host pid (which ends its whole namespace), then unshare."""
    init_pid = RUNNING.get(unshare_pid)
    # The init's pid is only ours while unshare has not reaped it: check before signalling.
    if init_pid and parent_of(init_pid) == unshare_pid:
        try:
            os.kill(init_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    # unshare, seeing its child killed by a signal, tries to end itself with the same one,
    # and signal(SIGKILL, SIG_DFL) fails: "unshare: sigprocmask unblock failed: Invalid
    # argument" on stderr whenever it runs before our SIGKILL reaches it, for every init.
    try:
        os.kill(unshare_pid, signal.SIGKILL)  # our own unreaped child: the pid is still ours
    except ProcessLookupError:
        pass
    os.waitpid(unshare_pid, 0)
    del RUNNING[unshare_pid]


def kill_everything():
    for unshare_pid in list(RUNNING):
        try:
            kill_instance(unshare_pid)
        except ChildProcessError:
            RUNNING.pop(unshare_pid, None)


def on_fatal_signal(signum, _frame):
    kill_everything()
    sys.exit(128 + signum)


class Instance:
    """One init as PID 1 of a fresh PID namespace, running PROGRAM, which announces itself
    on the fifo $BENCH_READY (and may answer further on it)."""

    def __init__(self, init, program, workdir, tag, pinned=False, env=None):
        self.init = init
        self.fifo = os.path.join(workdir, f"{init.name}.{tag}.fifo")
        os.mkfifo(self.fifo)
        # Read-write: opening never blocks, and the fifo never reads EOF between writers.
        self.fd = os.open(self.fifo, os.O_RDWR)
        argv = UNSHARE + init.command(program)
        if pinned:
            argv = ["taskset", "-c", "0"] + argv
        environment = dict(os.environ, BENCH_READY=self.fifo, **(env or {}))
        with in_cpu_cgroup():
            self.unshare_pid = os.posix_spawnp(argv[0], argv, environment)
        RUNNING[self.unshare_pid] = None
        self.expect(b"r", 30)
        (self.pid,) = children_of(self.unshare_pid)  # the init, as the host sees it
        RUNNING[self.unshare_pid] = self.pid

    def expect(self, byte, timeout):
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            raise RuntimeError(f"{self.init.name}: no answer from the program within {timeout} s")
        got = os.read(self.fd, 1)
        if got != byte:
            raise RuntimeError(f"{self.init.name}: unexpected {got!r} from the program")

    def namespace_pids(self):
        """The pids alive or unreaped in the namespace, from its own /proc mount."""
        return [e for e in os.listdir(f"/proc/{self.pid}/root/proc") if e.isdigit()]

    def zombies(self):
        """How many of the namespace's processes have exited and wait to be reaped."""
        proc = f"/proc/{self.pid}/root/proc"
        return sum(stat_field(pid, 0, proc) == "Z" for pid in self.namespace_pids())

    def stop(self):
        kill_instance(self.unshare_pid)
        os.close(self.fd)
        os.unlink(self.fifo)


def wait_for(condition, timeout, failure):
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise RuntimeError(failure + f" after {timeout} s")
        time.sleep(0.01)


def rotated(items, k):
    """`items` starting at its k-th (mod len): each repetition puts another init first, as
    the first of a round was measured ~15% slower whichever init it was (a cold cache after
    the previous round's last)."""
    k %= len(items)
    return items[k:] + items[:k]


def median(values):
    return statistics.median(values) if values else None


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[round(fraction * (len(ordered) - 1))]


# The inits run in a cpu cgroup of their own, as every container does (Docker, podman and
# Kubernetes put each in one), and the bench, which sends the signals as an engine does,
# outside it. Outside one, on a kernel with scheduler autogroups (CONFIG_SCHED_AUTOGROUP, on
# in Debian), a process that calls setsid() gets a scheduling group of its own and the
# kernel pays for a second group at every wake-up of the program: inits that give the
# program its own session (drinit, dumb-init) paid ~5% more CPU per forwarded signal than
# the same drinit with setpgid() instead, a cost no container sees (the kernel uses
# autogroups only for tasks in the root cpu cgroup).
CGROUP_NAME = "drinit-bench"
# cgroup.procs of the inits' cgroup and of the bench's own, once made.
CGROUP = {}


def make_cpu_cgroup():
    """Makes a fresh cpu cgroup (v1 or v2) for what `in_cpu_cgroup` starts; returns where,
    or why not, for the report. Removed at exit."""
    v1 = "/sys/fs/cgroup/cpu"
    if os.path.exists(os.path.join(v1, "cpu.shares")):
        root, enable = v1, None
    elif "cpu" in read_text("/sys/fs/cgroup/cgroup.controllers").split():
        root, enable = "/sys/fs/cgroup", "/sys/fs/cgroup/cgroup.subtree_control"
    else:
        return "not in a cpu cgroup: the kernel offers no cpu controller"
    path = os.path.join(root, CGROUP_NAME)
    try:
        if enable and "cpu" not in read_text(enable).split():
            with open(enable, "w") as f:
                f.write("+cpu")
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        return f"not in a cpu cgroup: {path}: {e.strerror}"
    home = os.path.join(root, current_cgroup(root, v1=enable is None).lstrip("/"), "cgroup.procs")
    CGROUP.update(inits=os.path.join(path, "cgroup.procs"), home=home)

    def remove():
        kill_everything()  # an exit handler registered after this one would run too late
        # The killed tasks leave the cgroup a moment after they have been reaped.
        for attempt in range(100):
            try:
                os.rmdir(path)
                return
            except OSError as e:
                if e.errno != errno.EBUSY or attempt == 99:
                    log(f"could not remove {path}: {e.strerror}")
                    return
                time.sleep(0.01)

    atexit.register(remove)
    return f"in the cpu cgroup /{CGROUP_NAME} ({'v1' if enable is None else 'v2'}), as in a container; the bench outside it"


@contextlib.contextmanager
def in_cpu_cgroup():
    """What the bench starts inside this block starts in the inits' cpu cgroup (a child
    begins in its parent's): the bench moves in for the block and back out after it."""
    if not CGROUP:
        yield
        return
    with open(CGROUP["inits"], "w") as f:
        f.write(str(os.getpid()))
    try:
        yield
    finally:
        with open(CGROUP["home"], "w") as f:
            f.write(str(os.getpid()))


def read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def current_cgroup(root, v1):
    """This process's cgroup in the hierarchy mounted at ROOT (/proc/self/cgroup)."""
    for line in read_text("/proc/self/cgroup").splitlines():
        _, controllers, where = line.split(":", 2)
        if (v1 and "cpu" in controllers.split(",")) or (not v1 and controllers == ""):
            return where
    return "/"


# ---- Metrics -----------------------------------------------------------------------------


def bench_startup(inits, reps):
    """`INIT -- /bin/true` minus `/bin/true` alone, both under unshare (spawn to exit)."""
    true = shutil.which("true")
    runs = [("baseline", [true])] + [(i.name, i.command([true])) for i in inits]
    times = {name: [] for name, _ in runs}
    env = dict(os.environ)
    for rep in range(reps):
        for name, program in rotated(runs, rep):
            argv = UNSHARE + program
            start = time.perf_counter_ns()
            pid = os.posix_spawnp(argv[0], argv, env)
            _, status = os.waitpid(pid, 0)
            elapsed = time.perf_counter_ns() - start
            if os.waitstatus_to_exitcode(status) != 0:
                raise RuntimeError(f"{name}: `{' '.join(argv)}` exited with {status}")
            times[name].append(elapsed / 1e6)
    base = times.pop("baseline")
    return times, base


RESPONDER = r"""
import os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
fd = os.open(os.environ["BENCH_READY"], os.O_WRONLY)
os.write(fd, b"r")
while True:
    signal.sigwaitinfo({signal.SIGUSR1})
    os.write(fd, b"a")
"""


# The same program as PID 1 itself, signalled directly: what the machine and Python cost
# without any init in between.
DIRECT = Init("direct", None, [])


def signal_groups(inits):
    """Sets of fresh instances per signal loop: each init (and DIRECT) first, second, …
    of a set's start SIGNAL_ROTATIONS times."""
    return SIGNAL_ROTATIONS * (len(inits) + 1)


def bench_signals(inits, workdir, count, pinned):
    """Latency from kill(SIGUSR1) to the init's host pid until the program answers, per
    init and for DIRECT, over signal_groups() sets of fresh instances; and the init's CPU
    per forwarded signal."""
    tag = "sig-pinned" if pinned else "sig"
    everyone = inits + [DIRECT]
    times = {i.name: [] for i in everyone}
    used = {i.name: 0.0 for i in inits}
    groups = signal_groups(inits)
    rounds = max(1, count // groups)
    previous_affinity = os.sched_getaffinity(0)
    for group in range(groups):
        instances = []
        try:
            for init in rotated(everyone, group):
                instances.append(Instance(init, [PY, "-c", RESPONDER], workdir, f"{tag}{group}", pinned=pinned))
            if pinned:
                # The sender shares the CPU too: no cross-CPU wake-ups, no migrations.
                os.sched_setaffinity(0, {0})
            cpu_before = {i.init.name: cpu_ms(i.pid) for i in instances}
            # Each round in a new order: what ran just before an init moves its CPU per
            # signal (pinned, dumb-init measured 4.14 µs behind tini, 4.39 behind drinit
            # with -g), and a rotation keeps every init behind the same one all run long.
            order = random.Random(group)
            for k in range(rounds):
                for inst in order.sample(instances, len(instances)):
                    start = time.perf_counter_ns()
                    os.kill(inst.pid, signal.SIGUSR1)
                    inst.expect(b"a", 5)
                    times[inst.init.name].append((time.perf_counter_ns() - start) / 1e3)
            # The init's own CPU: free of the scheduling noise in the wall-clock latency.
            # DIRECT's is the program's, not an init's: left out.
            for inst in instances:
                if inst.init.name in used:
                    delta = cpu_delta(cpu_before[inst.init.name], cpu_ms(inst.pid))
                    used[inst.init.name] = None if delta is None or used[inst.init.name] is None else used[inst.init.name] + delta
        finally:
            os.sched_setaffinity(0, previous_affinity)
            for inst in instances:
                inst.stop()
    cpu = {n: None if u is None else u * 1e3 / (rounds * groups) for n, u in used.items()}
    return times, cpu


# The orphans are dash subshells blocked opening a fifo that nobody ever writes; they get a
# session of their own (setsid) so one kill(-pgid, SIGKILL) ends all of them at once, and
# the shells that forked them have exited (setsid -w waited for them), so they are the
# init's. Ten shells fork a tenth each: dash grows its job table four entries at a time, so
# one shell with 10,000 live jobs takes seconds (quadratic) where ten take a fraction.
FORK_LOOP = 'i=0; while [ $i -lt $1 ]; do read x < "$2" & i=$((i+1)); done'
REAPER_PROGRAM = r"""
setsid -w sh -c 'for batch in 1 2 3 4 5 6 7 8 9 10; do sh -c "$FORK_LOOP" fork "$1" "$2" & done; wait' \
  orphans "$PER_SHELL" "$BLOCK"
echo r > "$BENCH_READY"
exec sleep 3600
"""


def bench_reaping(inits, workdir, reps):
    """Time from the moment all ORPHANS orphans have exited (the init held stopped while they
    die) until the init has reaped them all; the init's CPU and wake-ups over that time, and
    its peak RSS."""
    block = os.path.join(workdir, "never-written.fifo")
    os.mkfifo(block)
    times = {i.name: [] for i in inits}
    cpu = {i.name: [] for i in inits}
    wakeups = {i.name: [] for i in inits}
    peak = {i.name: [] for i in inits}
    env = {"FORK_LOOP": FORK_LOOP, "PER_SHELL": str(ORPHANS // 10), "BLOCK": block}
    for rep in range(reps):
        for init in rotated(inits, rep):
            inst = Instance(init, ["sh", "-c", REAPER_PROGRAM], workdir, f"reap{rep}", env=env)
            try:
                pgid = orphan_group(inst)
                # Killing 10,000 processes is the kernel's work, and on this machine it took
                # 60-590 ms for the kill(-pgid) alone and 0.2-1.1 s until the first reap, for
                # any init: that noise was 95% of the old kill-to-reaped time. Stopped, the
                # init finds them all exited at once and the time is its own reaping.
                try:
                    kill_with_init_stopped(inst, pgid)
                    if not wait_until_nothing_runs(10):
                        log(f"{init.name}: the machine stayed busy; timing the reaping anyway")
                finally:
                    if stat_field(inst.pid, 0) in (None, "Z"):
                        raise RuntimeError(f"{init.name}: the init (pid {inst.pid}) ended while its orphans were killed")
                    cpu_before = cpu_ms(inst.pid)
                    switches_before = proc_field(inst.pid, "voluntary_ctxt_switches")
                    start = time.perf_counter()
                    os.kill(inst.pid, signal.SIGCONT)
                times[init.name].append(wait_until_reaped(inst, switches_before, start))
                cpu[init.name].append(cpu_delta(cpu_before, cpu_ms(inst.pid)))
                wakeups[init.name].append(proc_field(inst.pid, "voluntary_ctxt_switches") - switches_before)
                peak[init.name].append(proc_field(inst.pid, "VmHWM"))
            finally:
                inst.stop()
    os.unlink(block)
    medians = {n: median(t) for n, t in times.items()}
    cpu_medians = {n: None if None in c else median(c) for n, c in cpu.items()}
    woken = {n: median(w) for n, w in wakeups.items()}
    return medians, cpu_medians, woken, {n: max(p) for n, p in peak.items()}, cpu


def wait_until_reaped(inst, switches_before, start):
    """ms from START until the init has reaped every orphan. It reaps them all at one
    wake-up and then blocks again, so its next voluntary context switch ends the reaping:
    looked for every 0.2 ms in its /proc/PID/status. Listing its children instead, every
    5 ms, had made the time a multiple of the 5 ms (on ~30 ms), and a listing takes, for
    each entry, the lock that the init takes to release each zombie."""
    deadline = start + 60

    def check_deadline():
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{inst.init.name}: orphans still unreaped after 60 s")

    while proc_field(inst.pid, "voluntary_ctxt_switches") <= switches_before:
        check_deadline()
        time.sleep(0.0002)
    done = time.perf_counter()
    # The init's list of children, not the namespace's /proc: listing that leaves a dentry
    # per pid for the init to invalidate (see children_of).
    while len(children_of(inst.pid)) > 1:
        # Not all at one wake-up after all (the wake-ups row shows it): until the last.
        check_deadline()
        time.sleep(0.0005)
        done = time.perf_counter()
    return (done - start) * 1e3


def kill_with_init_stopped(inst, pgid):
    """Stops the init (SIGSTOP, until it is stopped) and ends the orphans of group PGID with
    one kill(-pgid, SIGKILL): resumed (SIGCONT, the caller's) once they have all exited, the
    init finds them all at one wake-up."""
    os.kill(inst.pid, signal.SIGSTOP)
    # "t" under strace: a traced process stops in a tracing stop.
    wait_for(lambda: stat_field(inst.pid, 0) in ("T", "t"), 5, f"{inst.init.name}: not stopped by SIGSTOP")
    os.killpg(pgid, signal.SIGKILL)


def wait_until_nothing_runs(timeout):
    """Waits until no process but this one is runnable (/proc/loadavg), three looks in a row
    1 ms apart: the killed orphans are runnable until they are zombies. Reading their own
    /proc entries instead would leave a dentry each for the reaping init to invalidate."""
    deadline = time.monotonic() + timeout
    quiet = 0
    while quiet < 3:
        if time.monotonic() > deadline:
            return False
        with open("/proc/loadavg") as f:
            runnable = int(f.read().split()[3].split("/")[0])
        quiet = quiet + 1 if runnable <= 1 else 0
        time.sleep(0.001)
    return True


def orphan_group(inst, orphans=ORPHANS):
    """The host-side process group of the orphans: the first one shared by two children of
    the init (the program is alone in its group, the orphans all share theirs)."""
    children = children_of(inst.pid)
    if len(children) != orphans + 1:
        raise RuntimeError(f"{inst.init.name}: {len(children)} children of the init, not {orphans} orphans + the program")
    seen = set()
    for child in children:
        pgid = stat_field(child, 2)
        if pgid is None:
            continue
        if pgid in seen:
            # Never our own group, nor a broadcast: this pgid goes to kill(-pgid).
            if pgid <= 1 or pgid == os.getpgrp():
                raise RuntimeError(f"{inst.init.name}: orphans in unexpected group {pgid}")
            return pgid
        seen.add(pgid)
    raise RuntimeError(f"{inst.init.name}: no orphan found")


IDLE_PROGRAM = 'echo r > "$BENCH_READY"; exec sleep 3600'


def bench_idle(inits, workdir, reps):
    """Context switches of the init over IDLE_SECONDS while the program sleeps, and VmRSS.
    All inits idle at the same time: each rep costs IDLE_SECONDS once, not once per init."""
    switches = {i.name: [] for i in inits}
    rss = {i.name: [] for i in inits}
    for rep in range(reps):
        instances = []
        try:
            for init in inits:
                instances.append(Instance(init, ["sh", "-c", IDLE_PROGRAM], workdir, f"idle{rep}"))
            time.sleep(0.3)  # let the program's exec of sleep and any start-up work settle

            def counts():
                return {
                    i.init.name: proc_field(i.pid, "voluntary_ctxt_switches")
                    + proc_field(i.pid, "nonvoluntary_ctxt_switches")
                    for i in instances
                }

            before = counts()
            time.sleep(IDLE_SECONDS)
            after = counts()
            for inst in instances:
                name = inst.init.name
                switches[name].append(after[name] - before[name])
                rss[name].append(proc_field(inst.pid, "VmRSS"))
        finally:
            for inst in instances:
                inst.stop()
    return {n: median(v) for n, v in switches.items()}, {n: median(v) for n, v in rss.items()}


class Strace:
    """`strace -c -p PID` around a piece of work: how many system calls the init made."""

    def __init__(self, pid, workdir):
        self.out = os.path.join(workdir, f"strace.{pid}")
        self.proc = subprocess.Popen(["strace", "-c", "-p", str(pid), "-o", self.out], stderr=subprocess.PIPE, text=True)
        # strace says "Process N attached" once it is: nothing before that is counted.
        ready, _, _ = select.select([self.proc.stderr], [], [], 10)
        if not ready or "attached" not in self.proc.stderr.readline():
            self.proc.kill()
            raise RuntimeError(f"strace could not attach to {pid}")

    def stop(self):
        """{syscall: calls} of what was counted."""
        self.proc.send_signal(signal.SIGINT)
        self.proc.communicate(timeout=30)
        calls = {}
        with open(self.out) as f:
            for line in f:
                fields = line.split()
                # "% time  seconds  usecs/call  calls  [errors]  syscall"
                if len(fields) >= 5 and fields[0][0].isdigit() and fields[-1] != "total":
                    calls[fields[-1]] = int(fields[3])
        os.unlink(self.out)
        return calls


def per_event(calls, events):
    """Calls per event, and the calls made for at least one event in twenty, by name (with
    their count per event where that is not one)."""
    total = sum(calls.values()) / events
    common = [(n, c / events) for n, c in sorted(calls.items(), key=lambda kv: -kv[1]) if c >= events * 0.05]
    names = ", ".join(n if abs(per - 1) < 0.05 else f"{n} ×{per:.2f}" for n, per in common)
    return total, names


SYSCALL_SIGNALS = 200
SYSCALL_ORPHANS = 1000


def bench_syscalls(inits, workdir):
    """System calls per forwarded signal (the program answers each before the next), and per
    reaped orphan (SYSCALL_ORPHANS killed at once), counted by strace on the init."""
    per_signal, per_orphan, names = {}, {}, {}
    for init in inits:
        inst = Instance(init, [PY, "-c", RESPONDER], workdir, "strace-sig")
        try:
            trace = Strace(inst.pid, workdir)
            for _ in range(SYSCALL_SIGNALS):
                os.kill(inst.pid, signal.SIGUSR1)
                inst.expect(b"a", 5)
            time.sleep(0.05)  # the init's last call (back into its wait) is counted too
            per_signal[init.name], names[init.name] = per_event(trace.stop(), SYSCALL_SIGNALS)
        finally:
            inst.stop()
        env = {"FORK_LOOP": FORK_LOOP, "PER_SHELL": str(SYSCALL_ORPHANS // 10), "BLOCK": os.path.join(workdir, "never-written.fifo")}
        os.mkfifo(env["BLOCK"])
        inst = Instance(init, ["sh", "-c", REAPER_PROGRAM], workdir, "strace-reap", env=env)
        try:
            pgid = orphan_group(inst, SYSCALL_ORPHANS)
            trace = Strace(inst.pid, workdir)
            # Stopped while they die, the init finds them all exited at one wake-up: the
            # count is then its calls per orphan, not how strace's slowness spread the exits
            # over wake-ups (unstopped, the same init counted anywhere from 1.0 to 2.5).
            try:
                kill_with_init_stopped(inst, pgid)
                # None alive but the init and the program (one may be reaped already: an
                # init interrupted by strace's attach can make its reaping pass first).
                wait_for(lambda: len(inst.namespace_pids()) - inst.zombies() <= 2, 60, f"{init.name}: orphans not all exited")
            finally:
                os.kill(inst.pid, signal.SIGCONT)
            wait_for(lambda: len(children_of(inst.pid)) <= 1, 60, f"{init.name}: orphans still unreaped")
            time.sleep(0.05)
            calls = trace.stop()
            per_orphan[init.name] = sum(calls.values()) / SYSCALL_ORPHANS
        finally:
            inst.stop()
            os.unlink(env["BLOCK"])
    return per_signal, per_orphan, names


# Runs inside drinit's PID namespace (nsenter -p): times the client from spawn to exit.
CTL_DRIVER = r"""
import json, os, sys, time
ctl, count = json.loads(sys.argv[1]), int(sys.argv[2])
argv_of = {"health": ctl + ["health"], "status": ctl + ["status"], "true": ["/bin/true"]}
times = {k: [] for k in argv_of}
# The client's own output (status prints a few lines) must not mix with the JSON below.
quiet = [(os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0)]
for _ in range(count):
    for name, argv in argv_of.items():
        start = time.perf_counter_ns()
        pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=quiet)
        _, status = os.waitpid(pid, 0)
        times[name].append((time.perf_counter_ns() - start) / 1e6)
        if status != 0:
            sys.exit(f"{' '.join(argv)} exited with status {status}")
times = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
print(json.dumps(times))
"""


def drinitctl_command(drinit):
    """The client's argv prefix: the `drinitctl` link beside the binary, else `drinit ctl`."""
    ctl = os.path.join(os.path.dirname(drinit), "drinitctl")
    return [ctl] if os.path.exists(ctl) else [drinit, "ctl"]


def bench_ctl(drinit_init, workdir, count):
    """Round trip of `drinitctl health` and `drinitctl status`, run inside the namespace."""
    ctl = drinitctl_command(drinit_init.path)
    socket = f"drinit-bench-{os.getpid()}"
    inst = Instance(drinit_init, ["sh", "-c", IDLE_PROGRAM], workdir, "ctl", env={"DRINIT_SOCKET": socket})
    try:
        env = dict(os.environ, DRINIT_SOCKET=socket)
        out = subprocess.run(
            ["nsenter", "-t", str(inst.pid), "-p", "--", PY, "-c", CTL_DRIVER, json.dumps(ctl), str(count)],
            env=env, capture_output=True, text=True, timeout=120,
        )
        if out.returncode != 0:
            raise RuntimeError(f"drinitctl round trip failed: {out.stderr.strip()}")
        return json.loads(out.stdout)
    finally:
        inst.stop()


def output(argv):
    """A helper command's stdout, or "" where it is not installed: only the report's
    details depend on these (`file`, `dpkg-query`)."""
    try:
        return subprocess.run(argv, capture_output=True, text=True).stdout
    except OSError:
        return ""


def binary_info(init):
    path = init.path
    # The size comparison uses tini-static when it is installed; tini's row shows the
    # dynamic build's own size, which does not count its libc.
    kind = output(["file", "-L", "-b", path])
    linkage = "static" if "statically linked" in kind else ("dynamic" if "dynamically linked" in kind else "?")
    return os.stat(path).st_size, linkage


# ---- Report ------------------------------------------------------------------------------


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores, Linux {platform.release()}, {model}"


def versions(inits):
    out = {}
    for init in inits:
        if init.name == "drinit":
            v = output([init.path, "--version"]).strip()
        else:
            package = "tini" if init.name.startswith("tini") else init.name
            v = output(["dpkg-query", "-W", "-f", "${Version}", package]).strip()
            v = f"{init.name} {v} (Debian)" if v else f"{init.name} (version unknown)"
        out[init.name] = v
    return out


def fmt(value, unit_digits):
    if value is None:
        return "—"
    return f"{value:,.{unit_digits}f}"


def ratio(value, base):
    if value is None or base is None:
        return ""
    if base == 0:
        return " (=)" if value == 0 else " (∞)"
    return f" ({value / base:.2f}×)"


# The rows where drinit is to be at or below the best of the other inits (issue 17).
RUNTIME = {
    "startup": "startup+exit",
    "signal": "signal latency",
    "signal_pinned": "signal latency (pinned)",
    "signal_cpu": "CPU per forwarded signal",
    "signal_cpu_pinned": "CPU per forwarded signal (pinned)",
    "reap": "reaping",
    "reap_cpu": "CPU to reap",
    "syscalls_signal": "system calls per forwarded signal",
    "syscalls_orphan": "system calls per reaped orphan",
}


def best_peer(values):
    """(name, value) of the lowest value among the other inits, or None."""
    peers = [(v, n) for n, v in values.items() if n != "drinit" and isinstance(v, (int, float))]
    return (min(peers)[1], min(peers)[0]) if peers else None


def versus_best(values):
    best, d = best_peer(values), values.get("drinit")
    if best is None or d is None:
        return None
    if best[1] == 0:
        return 1.0 if d == 0 else float("inf")
    return d / best[1]


def table(inits, base, rows):
    names = [i.name for i in inits]
    head = "| metric | " + " | ".join(f"{n} (baseline)" if n == base else n for n in names) + " | drinit ÷ best peer |"
    lines = [head, "|---|" + "---:|" * (len(names) + 1)]
    for key, label, values, digits in rows:
        cells = []
        for n in names:
            v = values.get(n)
            if isinstance(v, str):
                cells.append(v)
            else:
                cells.append(fmt(v, digits) + (ratio(v, values.get(base)) if n != base else ""))
        versus = ""
        if key in RUNTIME and (vs := versus_best(values)) is not None:
            versus = f"**{vs:.2f}×** ({best_peer(values)[0]})"
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {versus} |")
    return "\n".join(lines)


def per_run_table(results):
    runs = results["runs"]
    lines = ["| drinit ÷ best peer | " + " | ".join(f"run {i + 1}" for i in range(len(runs))) + " | from the medians |",
             "|---|" + "---:|" * (len(runs) + 1)]
    for key, label in RUNTIME.items():
        if key not in runs[0]:
            continue
        cells = [f"{v:.2f}×" if (v := versus_best(r[key])) is not None else "—" for r in runs]
        vs = versus_best(results[key])
        last = f"{vs:.2f}×" if vs is not None else "—"
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {last} |")
    return "\n".join(lines)


def goals(base, results):
    lines = []
    for key, label in RUNTIME.items():
        values = results.get(key) or {}
        vs, best = versus_best(values), best_peer(values)
        if vs is None:
            lines.append(f"- ≤ best peer on {label}: not measured")
            continue
        # Judged on the ratio as the table shows it (two decimals), as a reader would.
        ok = round(vs, 2) <= 1.0
        lines.append(f"- ≤ best peer on {label}: {'met' if ok else 'not met'} ({vs:.2f}× {best[0]}){consistency(results, key)}")
    if base is not None:
        for key in ("startup", "signal", "signal_pinned", "signal_cpu", "signal_cpu_pinned", "reap", "reap_cpu"):
            d, t = results[key].get("drinit"), results[key].get(base)
            if d is not None and t:
                lines.append(f"- ≤ 1.0× {base} on {RUNTIME[key]}: {'met' if round(d / t, 2) <= 1.0 else 'not met'} ({d / t:.2f}×)")
    idle = results["idle_switches"].get("drinit")
    lines.append(f"- 0 idle wake-ups: {'met' if idle == 0 else 'not met'} ({idle:g} context switches in {IDLE_SECONDS:g} s)")
    if base is not None:
        for key, label in (("idle_rss", "idle RSS"), ("peak_rss", "peak RSS while reaping")):
            d, t = results[key].get("drinit"), results[key].get(base)
            lines.append(f"- {label} ≤ {base}'s: {'met' if d <= t else 'not met'} ({d:,.0f} KiB vs {t:,.0f} KiB)")
    return lines


def consistency(results, key):
    """Whether the runs agree on which side of 1.0 drinit is: a median ratio whose runs fall
    on both sides is the noise's verdict, not the code's."""
    per_run = [round(v, 2) for r in results["runs"] if (v := versus_best(r.get(key) or {})) is not None]
    if len(per_run) < 2:
        return ""
    if all(v <= 1.0 for v in per_run):
        return "; at or below in every run"
    if all(v > 1.0 for v in per_run):
        return "; above in every run"
    return "; level: runs on both sides of 1.0 (" + ", ".join(f"{v:.2f}×" for v in per_run) + ")"


def spread_table(inits, spread):
    names = [i.name for i in inits]
    lines = ["| p10 – p90 | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for label, values, digits in spread:
        cells = [f"{fmt(values[n][0], digits)} – {fmt(values[n][1], digits)}" for n in names]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(inits, base, results, params, elapsed):
    sizes = results["sizes"]
    runs = params["runs"]
    of_runs = f", median of {runs} runs" if runs > 1 else ""
    cpu_of_runs = f" (median of {runs} runs)" if runs > 1 else ""
    names = results.get("syscall_names", {})
    groups = signal_groups(inits)
    rows = [
        ("startup", f"startup+exit overhead, ms (median of {params['startup']}{of_runs})", results["startup"], 3),
        ("signal", f"signal forwarding latency, µs (median of {params['signals']}{of_runs})", results["signal"], 1),
        ("signal_pinned", f"signal forwarding latency pinned to CPU 0, µs (median of {params['signals']}{of_runs})", results["signal_pinned"], 1),
        ("signal_cpu", f"init's CPU time per forwarded signal, µs{cpu_of_runs}", results["signal_cpu"], 2),
        ("signal_cpu_pinned", f"init's CPU time per forwarded signal pinned to CPU 0, µs{cpu_of_runs}", results["signal_cpu_pinned"], 2),
        ("syscalls_signal", f"system calls per forwarded signal ({SYSCALL_SIGNALS}, strace)", results["syscalls_signal"], 2),
        ("", "which, per signal", {n: f"`{v}`" for n, v in names.items()}, 0),
        ("reap", f"reap {ORPHANS:,} exited orphans, ms (median of {params['reaps']}{of_runs})", results["reap"], 1),
        ("reap_cpu", f"init's CPU time to reap {ORPHANS:,} orphans, ms{cpu_of_runs}", results["reap_cpu"], 1),
        ("", f"init's wake-ups while reaping them (median{of_runs})", results["reap_wakeups"], 0),
        ("syscalls_orphan", f"system calls per reaped orphan ({SYSCALL_ORPHANS:,} exited at once, strace)", results["syscalls_orphan"], 2),
        ("", "peak RSS while reaping (VmHWM), KiB", results["peak_rss"], 0),
        ("", f"idle context switches in {IDLE_SECONDS:g} s", results["idle_switches"], 0),
        ("", "idle RSS (VmRSS), KiB", results["idle_rss"], 0),
        ("", f"`drinitctl health` round trip, ms (median of {params['ctl']})", results["ctl_health"], 2),
        ("", f"`drinitctl status` round trip, ms (median of {params['ctl']})", results["ctl_status"], 2),
        ("", "binary size, bytes", {n: s for n, (s, _) in sizes.items()}, 0),
        ("", "linkage", {n: k for n, (_, k) in sizes.items()}, 0),
    ]
    md = table(inits, base, rows)
    vers = versions(inits)
    lines = [
        "# Benchmarks",
        "",
        f"Measured {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} "
        f"by `make bench` (`bench/bench.py`) in {elapsed:.0f} s.",
        "",
        f"Machine: {machine()}; load average {results['load']} when the bench started; "
        f"the inits ran {results['placement']}.",
        "",
        "Inits: " + "; ".join(vers[i.name] for i in inits) + ".",
        "",
        md,
        "",
        f"Ratios in the cells are to {base}" + (" (Docker's `--init` runs the static tini)" if base == "tini-static" else "")
        + "; the last column is drinit's ratio to the best of the other four on that row. Lower is better everywhere.",
        "",
        "drinit against the best of the other inits, run by run (each run interleaves all inits):",
        "",
        per_run_table(results),
        "",
        "Spread of the same runs (10th and 90th percentiles):",
        "",
        spread_table(inits, results["spread"]),
        "",
        "## Goals (read from the table, not asserted)",
        "",
        *goals(base, results),
        "",
        "## How each number is measured",
        "",
        "Each init runs as PID 1 under `unshare --pid --fork --mount-proc`; every metric is measured for all",
        f"inits in the same run, interleaved round-robin within each repetition, each repetition starting with",
        "the next init (whichever init came first in a round measured slower); the whole run is repeated",
        f"{runs} times and each cell is the median of the runs' values (the machine is noisy: compare within a run).",
        "The instances run in one cpu cgroup, as a container's processes do, and the bench (the sender of the",
        "signals, like an engine) outside it: in the root cpu cgroup a kernel with scheduler autogroups gives each",
        "new session its own scheduling group, and the inits that start the program in a session of its own",
        "(drinit, dumb-init) would pay for that group at every wake-up of it (~5% of drinit's CPU per forwarded",
        "signal, unpinned), a cost no container pays.",
        "",
        f"- **startup+exit**: wall time of `unshare … INIT -- /bin/true` (dumb-init: `dumb-init /bin/true`) minus",
        f"  that of `unshare … /bin/true` alone (median {results['startup_base']:.3f} ms), spawn to exit.",
        "- **signal latency**: the program blocks SIGUSR1 and waits in `sigwaitinfo`; the bench sends SIGUSR1 to",
        "  the init's host pid and times until the program's answer arrives on a fifo. All inits run at once and",
        "  get one signal each per round, in a new order every round (with one fixed cycle, whichever init ran just",
        "  before moved another's pinned CPU per signal by up to 6%: dumb-init 4.14 µs behind tini, 4.39 behind a",
        f"  drinit), and are started afresh {groups} times per run ({params['signals'] // groups} signals each): the",
        "  unpinned latency depends on where the scheduler puts the three processes (one CPU or two: a",
        "  factor of four), a placement sticks to an instance, and it follows the order the instances were",
        "  started in (the first of a set is most often fast): each init is started at each place of that",
        f"  order {SIGNAL_ROTATIONS} times. The pinned rows run the inits, the",
        "  programs and the sender on CPU 0 only (`taskset -c 0`).",
        "  The same program run as PID 1 itself and signalled directly, in the same loop, answers in",
        f"  {results['signal_direct']:.1f} µs ({results['signal_pinned_direct']:.1f} µs pinned): the rest is what the init adds.",
        f"- **reaping**: the program forks {ORPHANS:,} shell subshells into a session of their own and lets the forking",
        "  shell exit, so they are orphans of the init. The init is stopped (SIGSTOP), one `kill(-pgid, SIGKILL)` ends",
        "  the orphans, and once nothing runnable is left (`/proc/loadavg`: they are all zombies) the init gets SIGCONT;",
        "  the time runs from there until the init's next voluntary context switch (it blocks again once none is",
        "  left), looked for every 0.2 ms in `/proc/PID/status`; its list of children (`/proc/PID/task/PID/children`,",
        "  zombies included) must then hold only the program. Listing the children every 5 ms instead made the time a",
        "  multiple of 5 ms, and a listing takes, per entry, the lock the init takes to release each zombie. Timed from",
        "  the kill instead, as the bench once did, the",
        "  kernel's exit of 10,000 processes was 95% of it and decided it by chance: the `kill(-pgid)` alone took",
        "  60-590 ms and the first reap came 0.2-1.1 s after it, for any init. The bench never reads the orphans'",
        "  own `/proc` entries: each one read leaves a dentry the reaping init must invalidate, which was half of",
        "  its CPU here (perf). What is left is mostly the kernel's `wait4` and release of each zombie; the",
        "  wake-ups row (voluntary context switches) checks that the init found them all at one wake-up.",
        "  The peak RSS is the init's `VmHWM` afterwards.",
        "- **init's CPU time**: `se.sum_exec_runtime` of the init (`/proc/PID/sched`) before and after each",
        "  signal loop (divided by the number of signals) and around each reaping: the init's own work, without the",
        "  wake-up delays of the wall-clock rows; unpinned it includes the cost of waking across CPUs, so it",
        "  follows the placement too; pinned it is the init's own path.",
        f"- **system calls**: `strace -c -p` on the init while it forwards {SYSCALL_SIGNALS} SIGUSR1 (one at a time, each",
        "  answered by the program before the next), divided by the count; and while it reaps",
        f"  {SYSCALL_ORPHANS:,} orphans killed at once (as for the reaping row) while the init is stopped (SIGSTOP, then",
        "  SIGCONT once all are zombies): its calls per orphan found at one wake-up, which strace's slowness would",
        "  otherwise spread over a varying number of wake-ups. Once, after the runs: strace slows what it traces.",
        f"- **idle**: `voluntary_ctxt_switches + nonvoluntary_ctxt_switches` of the init over {IDLE_SECONDS:g} s while the",
        "  program sleeps, and its `VmRSS`.",
        "- **drinitctl**: spawn-to-exit time of the client, run inside the namespace with `nsenter -t PID -p` and",
        f"  `DRINIT_SOCKET` set for both sides; spawning `/bin/true` the same way takes {results['ctl_true']:.2f} ms.",
        "- **size**: the file as installed; `linkage` is what `file` says. The dynamic tini and dumb-init also need",
        "  the C library of the image.",
        "",
    ]
    return "\n".join(lines)


def write_benchmarks(report=None, soak=None):
    """BENCHMARKS.md is this bench's report followed by the soak's section (bench/soak.py):
    each script rewrites its own part and keeps the other's."""
    try:
        with open(BENCHMARKS) as f:
            old = f.read()
    except FileNotFoundError:
        old = ""
    at = old.find("\n" + SOAK_HEADING + "\n")
    old_report, old_soak = (old, "") if at < 0 else (old[: at + 1], old[at + 1 :])
    parts = [(report or old_report).rstrip("\n"), (soak or old_soak).rstrip("\n")]
    with open(BENCHMARKS, "w") as f:
        f.write("\n\n".join(p for p in parts if p) + "\n")


def measure(inits, workdir, params):
    """One run of every timing metric, for all inits interleaved: {metric: {init: value}}
    (medians within the run), plus the raw samples the spread is computed from."""
    r = {}
    log(f"startup+exit: {params['startup']} runs of each init")
    with in_cpu_cgroup():
        startup, startup_base = bench_startup(inits, params["startup"])
    log(f"signal latency: {params['signals']} signals to each init, unpinned")
    signal_times, r["signal_cpu"] = bench_signals(inits, workdir, params["signals"], pinned=False)
    log(f"signal latency: {params['signals']} signals to each init, pinned to CPU 0")
    pinned_times, r["signal_cpu_pinned"] = bench_signals(inits, workdir, params["signals"], pinned=True)
    log(f"reaping: {params['reaps']} x {ORPHANS} orphans per init")
    r["reap"], r["reap_cpu"], r["reap_wakeups"], r["peak_rss"], reap_cpu = bench_reaping(inits, workdir, params["reaps"])
    log(f"idle: {params['idle']} x {IDLE_SECONDS:g} s, all inits at once")
    r["idle_switches"], r["idle_rss"] = bench_idle(inits, workdir, params["idle"])
    log(f"drinitctl: {params['ctl']} health + status round trips")
    ctl = bench_ctl(inits[0], workdir, params["ctl"])
    base_ms = median(startup_base)
    r["startup_base"] = base_ms
    r["startup"] = {n: median(t) - base_ms for n, t in startup.items()}
    r["signal_direct"] = median(signal_times.pop("direct"))
    r["signal_pinned_direct"] = median(pinned_times.pop("direct"))
    r["signal"] = {n: median(t) for n, t in signal_times.items()}
    r["signal_pinned"] = {n: median(t) for n, t in pinned_times.items()}
    r["samples"] = {"startup": {n: [x - base_ms for x in t] for n, t in startup.items()}, "signal": signal_times, "signal_pinned": pinned_times,
                    "reap_cpu": {n: [x for x in c if x is not None] for n, c in reap_cpu.items()}}
    r["ctl_health"] = {"drinit": ctl["health"]}
    r["ctl_status"] = {"drinit": ctl["status"]}
    r["ctl_true"] = ctl["true"]
    return r


def combine(runs):
    """The median over the runs of each run's value (the issue's "median of 3 runs"); the
    spread (p10 – p90) over the samples of all runs together."""
    out = {}
    for key, value in runs[0].items():
        if key == "samples":
            continue
        if isinstance(value, dict):
            out[key] = {n: None if None in (vs := [r[key].get(n) for r in runs]) else median(vs) for n in value}
        else:
            out[key] = median([r[key] for r in runs])
    pooled = {k: {n: sum((r["samples"][k][n] for r in runs), []) for n in runs[0]["samples"][k]} for k in runs[0]["samples"]}
    out["spread"] = [
        ("startup+exit overhead, ms", {n: (percentile(t, 0.1), percentile(t, 0.9)) for n, t in pooled["startup"].items()}, 3),
        ("signal latency, µs", {n: (percentile(t, 0.1), percentile(t, 0.9)) for n, t in pooled["signal"].items()}, 1),
        ("signal latency pinned, µs", {n: (percentile(t, 0.1), percentile(t, 0.9)) for n, t in pooled["signal_pinned"].items()}, 1),
        ("init's CPU to reap, ms", {n: (percentile(t, 0.1), percentile(t, 0.9)) if t else (None, None) for n, t in pooled["reap_cpu"].items()}, 1),
    ]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drinit", required=True, help="absolute path of the drinit binary")
    parser.add_argument("--quick", action="store_true", help="few repetitions (to test the bench itself)")
    parser.add_argument("--no-write", action="store_true", help="print the table, do not write BENCHMARKS.md")
    parser.add_argument("--runs", type=int, default=3, help="whole runs; the report shows the median of each metric over them (default 3)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench: needs root (unshare --pid, nsenter)")
    drinit = os.path.abspath(args.drinit)
    if not os.access(drinit, os.X_OK):
        sys.exit(f"bench: {drinit} is not executable (run `make build`)")

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_fatal_signal)
    atexit.register(kill_everything)

    started = time.monotonic()
    with open("/proc/loadavg") as f:
        # Before the bench adds its own load (10,000 orphans push it up for minutes).
        # The 1-minute average lags (a bench just before leaves it high for minutes): the
        # processes runnable right now (the bench itself among them) say whether it is idle.
        fields = f.read().split()
        load = f"{fields[0]} ({fields[3].split('/')[0]} runnable)"
    ensure_packages()
    placement = make_cpu_cgroup()
    log("inits run", placement)
    inits = find_inits(drinit)
    base = baseline_name(inits)
    # Reaping: each init first, second, … of a repetition equally often (it was 9 for five).
    params = (
        {"startup": 20, "signals": 20, "reaps": 1, "idle": 1, "ctl": 20, "runs": 1}
        if args.quick
        else {"startup": 300, "signals": 2000, "reaps": 2 * len(inits), "idle": 2, "ctl": 200, "runs": max(1, args.runs)}
    )
    runs = []
    with tempfile.TemporaryDirectory(prefix="drinit-bench.") as workdir:
        for run in range(1, params["runs"] + 1):
            log(f"---- run {run} of {params['runs']}")
            runs.append(measure(inits, workdir, params))
        if shutil.which("strace"):
            log(f"system calls: {SYSCALL_SIGNALS} signals and {SYSCALL_ORPHANS:,} orphans per init, under strace")
            syscalls = bench_syscalls(inits, workdir)
        else:
            log("strace not found: no system call counts")
            syscalls = ({}, {}, {})
    results = combine(runs)
    results["runs"] = runs
    results["syscalls_signal"], results["syscalls_orphan"], results["syscall_names"] = syscalls
    results["sizes"] = {i.name: binary_info(i) for i in inits}
    elapsed = time.monotonic() - started

    results["load"] = load
    results["placement"] = placement
    text = report(inits, base, results, params, elapsed)
    print()
    print(text)
    if not args.no_write:
        write_benchmarks(report=text)
        log("wrote", BENCHMARKS)
    if RUNNING:
        log("internal error: instances left running:", sorted(RUNNING))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
