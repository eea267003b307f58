#!/usr/bin/env python3
"""Soak: drinit supervising a program that crashes every second for a long time (10 minutes
by default), with a liveness probe and a `drinitctl status` loop, and drinit's RSS, open
fds and CPU time per restart sampled once a minute. They must stay flat from the first
minute to the last; the result goes into the "Soak" section of BENCHMARKS.md.

Under `--restart always` the backoff would space a program that crashes every second 30 s
apart after a few rounds (1, 2, 4 … 30 s), so ten minutes would hold about 25 restarts.
The status loop therefore also answers `restarting` with `drinitctl start`, which cuts the
wait short: every crash still goes through the policy (counted, backoff armed), and the
restart path runs about once a second. Python 3 standard library only; needs root.

Usage: python3 bench/soak.py --drinit /abs/path/to/drinit [--seconds 600] [--no-write]
"""

import argparse
import atexit
import datetime
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import bench

# Crashes after one second; tells the bench on the fifo once, the first time it runs.
PROGRAM = '[ -e "$SOAK_DIR/started" ] || { : > "$SOAK_DIR/started"; printf r > "$BENCH_READY"; }; sleep 1; exit 3'

# Runs inside drinit's PID namespace (nsenter -p), where drinitctl is authenticated: polls
# status five times a second, starts the program when drinit waits out a backoff, and
# reports how many requests it made and how many failed.
DRIVER = r"""
import json, subprocess, sys, time
ctl, seconds = json.loads(sys.argv[1]), float(sys.argv[2])
counts = {"status": 0, "start": 0, "failed": 0}
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    out = subprocess.run(ctl + ["status", "--json"], capture_output=True, text=True)
    counts["status"] += 1
    if out.returncode != 0:
        counts["failed"] += 1
    elif json.loads(out.stdout)["state"] == "restarting":
        counts["start"] += 1
        if subprocess.run(ctl + ["start"], capture_output=True).returncode != 0:
            counts["failed"] += 1
    time.sleep(0.2)
print(json.dumps(counts))
"""


def sample(inst, started, socket, ctl):
    """drinit's resources now, as the host sees them, and its restart count."""
    pid = inst.pid
    status = subprocess.run(
        ["nsenter", "-t", str(pid), "-p", "--", *ctl, "status", "--json"],
        env=dict(os.environ, DRINIT_SOCKET=socket), capture_output=True, text=True, timeout=30,
    )
    if status.returncode != 0:
        raise RuntimeError(f"drinitctl status failed: {status.stderr.strip()}")
    return {
        "t": time.monotonic() - started,
        "restarts": json.loads(status.stdout)["restarts"],
        "rss": bench.proc_field(pid, "VmRSS"),
        "hwm": bench.proc_field(pid, "VmHWM"),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "cpu_ms": bench.cpu_ms(pid),
        "pids": len(inst.namespace_pids()),
    }


def per_minute(samples):
    rows = []
    for before, after in zip(samples, samples[1:]):
        restarts = after["restarts"] - before["restarts"]
        cpu = bench.cpu_delta(before["cpu_ms"], after["cpu_ms"])
        rows.append(
            {
                "minute": round(after["t"] / 60),
                "restarts": restarts,
                "rss": after["rss"],
                "hwm": after["hwm"],
                "fds": after["fds"],
                "pids": after["pids"],
                "cpu_per_restart_us": None if cpu is None or restarts == 0 else cpu * 1000 / restarts,
            }
        )
    return rows


def verdict(rows):
    """Flat: RSS, peak RSS and fds the same in the last minute as in the first, and CPU per
    restart in the last minute within 1.5× the first's (it is a few µs of scheduling noise)."""
    first, last = rows[0], rows[-1]
    problems = []
    for key, unit in (("rss", "KiB"), ("hwm", "KiB"), ("fds", "fds")):
        if last[key] > first[key]:
            problems.append(f"{key} grew from {first[key]} to {last[key]} {unit}")
    a, b = first["cpu_per_restart_us"], last["cpu_per_restart_us"]
    if a and b and b > 1.5 * a:
        problems.append(f"CPU per restart grew from {a:.0f} to {b:.0f} µs")
    if any(r["restarts"] == 0 for r in rows):
        problems.append("a minute without a single restart")
    return problems


def report(rows, driver, seconds, problems):
    lines = [
        bench.SOAK_HEADING,
        "",
        f"Measured {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} by `make soak`"
        f" (`bench/soak.py`) over {seconds / 60:g} minutes on {bench.machine()}.",
        "",
        "drinit as PID 1 under `unshare --pid --fork --mount-proc` runs `--restart always --max-restarts 1000000/60"
        " --health-cmd /bin/true --health-interval 1` around a program that exits 3 after one second; inside the",
        "namespace a loop runs `drinitctl status --json` five times a second and `drinitctl start` whenever drinit",
        "waits out a backoff (otherwise the backoff would space the restarts 30 s apart). Sampled from the host at",
        "the end of each minute:",
        "",
        "| minute | restarts in the minute | VmRSS, KiB | VmHWM, KiB | open fds | processes in the namespace | drinit's CPU per restart, µs |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        cpu = "—" if r["cpu_per_restart_us"] is None else f"{r['cpu_per_restart_us']:.0f}"
        lines.append(f"| {r['minute']} | {r['restarts']} | {r['rss']} | {r['hwm']} | {r['fds']} | {r['pids']} | {cpu} |")
    lines += [
        "",
        f"The status loop made {driver['status']:,} status and {driver['start']:,} start requests; {driver['failed']} failed.",
        "The CPU time includes the probe (a fork and exec of `/bin/true` every second) and answering the loop.",
        "",
        "Verdict: " + ("flat — nothing grew from the first minute to the last." if not problems else "; ".join(problems) + "."),
        "",
    ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drinit", required=True, help="absolute path of the drinit binary")
    parser.add_argument("--seconds", type=int, default=600, help="how long to soak (default 600)")
    parser.add_argument("--no-write", action="store_true", help="print the table, do not write BENCHMARKS.md")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("soak: needs root (unshare --pid, nsenter)")
    if args.seconds < 120:
        sys.exit("soak: --seconds must be at least 120 (the first minute is compared with the last)")
    drinit = os.path.abspath(args.drinit)
    if not os.access(drinit, os.X_OK):
        sys.exit(f"soak: {drinit} is not executable (run `make build`)")
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, bench.on_fatal_signal)
    atexit.register(bench.kill_everything)

    ctl = bench.drinitctl_command(drinit)
    socket = f"drinit-soak-{os.getpid()}"
    options = ["--restart", "always", "--max-restarts", "1000000/60",
               "--health-cmd", "/bin/true", "--health-interval", "1", "--"]
    init = bench.Init("drinit", drinit, [drinit, *options])
    with tempfile.TemporaryDirectory(prefix="drinit-soak.") as workdir:
        env = {"DRINIT_SOCKET": socket, "SOAK_DIR": workdir}
        inst = bench.Instance(init, ["sh", "-c", PROGRAM], workdir, "soak", env=env)
        try:
            driver = subprocess.Popen(
                ["nsenter", "-t", str(inst.pid), "-p", "--", bench.PY, "-c", DRIVER, json.dumps(ctl), str(args.seconds)],
                env=dict(os.environ, DRINIT_SOCKET=socket), stdout=subprocess.PIPE, text=True,
            )
            started = time.monotonic()
            samples = [sample(inst, started, socket, ctl)]
            for minute in range(1, args.seconds // 60 + 1):
                time.sleep(max(0.0, started + 60 * minute - time.monotonic()))
                samples.append(sample(inst, started, socket, ctl))
                s = samples[-1]
                bench.log(f"minute {minute}: {s['restarts']} restarts, VmRSS {s['rss']} KiB, {s['fds']} fds, {s['pids']} processes")
            out, _ = driver.communicate(timeout=60)
            if driver.returncode != 0:
                raise RuntimeError("the status loop failed")
        finally:
            inst.stop()
    rows = per_minute(samples)
    problems = verdict(rows)
    text = report(rows, json.loads(out), args.seconds, problems)
    print()
    print(text)
    if not args.no_write:
        bench.write_benchmarks(soak=text)
        bench.log("wrote the Soak section of", bench.BENCHMARKS)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
