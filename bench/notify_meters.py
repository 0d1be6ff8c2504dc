"""What bench/notify.py measures with: its receivers (and what they counted), CPU meters for
the senders and the PostgreSQL server, the profiled worker, and the check it prints after
each run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from notify_bare import SECRET

ROOT = Path(__file__).resolve().parent.parent


# A worker under cProfile counting CPU time, not wall time (on a shared machine, wall time
# mostly measures waiting for a core): argv is the output file, then the manage command.
PROFILED = """
import cProfile, runpy, sys, time
out = sys.argv[1]
sys.argv = ["tideover", "manage", *sys.argv[2:]]
profile = cProfile.Profile(time.process_time)
try:
    profile.runcall(runpy.run_module, "tideover", run_name="__main__")
finally:
    profile.dump_stats(out)
"""


class children_cpu:  # noqa: N801 (used as a context manager)
    """CPU seconds (user + system) of the child processes waited for inside the block."""

    @staticmethod
    def _now() -> float:
        import resource

        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    def __enter__(self):
        self.started = self._now()
        return self

    def __exit__(self, *exc):
        self.seconds = self._now() - self.started


def postgres_cpu() -> float | None:
    """CPU seconds the local PostgreSQL server has used so far: its processes' own, and what
    the postmaster collected from backends that ended. None when it is not on this machine (or
    its processes cannot be read)."""
    import glob

    processes = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as handle:
                text = handle.read()
        except OSError:
            continue
        if text[text.index("(") + 1 : text.rindex(")")] == "postgres":
            fields = text[text.rindex(")") + 2 :].split()
            processes[int(text.split(" ", 1)[0])] = [int(fields[i]) for i in (1, 11, 12, 13, 14)]
    ticks = 0
    for ppid, utime, stime, cutime, cstime in processes.values():
        ticks += utime + stime
        if ppid not in processes:  # the postmaster: what its ended backends used
            ticks += cutime + cstime
    return ticks / os.sysconf("SC_CLK_TCK") if processes else None


def _sink(args):
    process = subprocess.Popen(
        [sys.executable, "-m", "tideover.notifications.sinks", *args, "--no-keep"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    line = process.stdout.readline()
    return process, int(line.rsplit(":", 1)[1])


def start_receivers(kind: str) -> tuple[list, int, int]:
    """Start the SMTP and webhook receivers: (processes, SMTP port, HTTP port)."""
    if kind == "stock":
        smtp, smtp_port = _sink(["smtp"])
        http, http_port = _sink(["http", "--secret", SECRET])
        return [smtp, http], smtp_port, http_port
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "receivers.py"), "--secret", SECRET],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    _, smtp_port, _, http_port = process.stdout.readline().split()
    return [process], int(smtp_port), int(http_port)


def receivers_counted(reset: bool = True) -> dict | None:
    """What the lean receivers counted since the last reset (None with the stock ones)."""
    if os.environ.get("BENCH_RECEIVERS") != "lean":
        return None
    import httpx

    url = f"http://127.0.0.1:{os.environ['BENCH_HTTP_PORT']}/_bench/stats"
    return httpx.get(url, params={"reset": "1"} if reset else {}).json()


def print_checks(r: dict) -> None:
    """Say what the lean receivers counted: every message once, every signature good."""
    print(
        f"{'':<11}CPU per message (ms, the senders' own processes): outbox {r['cpu_ms']:.3f}, "
        f"bare loop {r['bare_cpu_ms']:.3f}"
        + (
            f"; the PostgreSQL server {r['server_cpu_ms']:.3f} while the workers ran"
            if r.get("server_cpu_ms") is not None
            else ""
        ),
        flush=True,
    )
    got = r.get("received")
    if got is None:
        return
    print(
        f"{'':<11}received from the outbox: {got['mails']:,} e-mails, {got['webhooks']:,} "
        f"webhooks, {got['mail_duplicates'] + got['webhook_duplicates']} repeated, "
        f"{got['refused']} bad signatures; from the bare loop: "
        f"{r['bare_received']['mails'] + r['bare_received']['webhooks']:,}",
        flush=True,
    )
    if got["mails"] + got["webhooks"] != r["sent"] or got["refused"]:
        print(f"{'':<11}WARNING: the receivers' count differs from the outbox's {r['sent']:,} sent")
