"""The status page's p99 with a commander posting an update every second (bench/statuspage.py
--writes): the page under wrk without writes and with them, rounds alternating, through the
same server; the updates go through the REST API with a bearer token, and a ``tideover
worker`` runs the publish tasks, as in production."""

from __future__ import annotations

import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from tideover.core.serving import DEFAULT_THREADS

ROOT = Path(__file__).resolve().parent.parent


class Commander(threading.Thread):
    """Posts a public update every ``every`` seconds through the REST API while ``active``."""

    def __init__(self, port: int, incident: int, secret: str, every: float = 1.0):
        super().__init__(daemon=True)
        self.url = f"http://127.0.0.1:{port}/api/v1/incidents/{incident}/updates"
        self.secret, self.every = secret, every
        self.active, self.done = threading.Event(), threading.Event()
        self.latencies_ms: list[float] = []
        self.failures: list[str] = []

    def post(self, n: int) -> None:
        body = f'{{"body": "Update {n}: stores still selling offline; next update in 1 minute."}}'
        request = urllib.request.Request(
            self.url,
            data=body.encode(),
            headers={"Authorization": f"Bearer {self.secret}", "Content-Type": "application/json"},
        )
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                response.read()
                if response.status != 201:
                    self.failures.append(str(response.status))
        except OSError as error:
            self.failures.append(repr(error))
        self.latencies_ms.append((time.perf_counter() - started) * 1000)

    def run(self) -> None:
        n, next_at = 0, time.monotonic()
        while not self.done.is_set():
            if self.active.wait(0.1):
                n += 1
                self.post(n)
                next_at += self.every
                time.sleep(max(0.0, next_at - time.monotonic()))
            else:
                next_at = time.monotonic()


def bench_writes(args, env: dict, write_port: int, incident: int, secret: str, load) -> int:
    """The page's p99 without and with an update every second; rounds alternate."""
    worker = subprocess.Popen(
        [sys.executable, "-m", "tideover", "worker"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # Its first minute runs every periodic job once (an export among them): let it settle, and
    # warm the page's caches with a run that is not counted.
    time.sleep(args.settle)
    load()
    commander = Commander(write_port, incident, secret)
    commander.start()
    runs: dict[str, list[dict]] = {"without writes": [], "with writes": []}
    try:
        for _ in range(args.rounds):
            for mode in runs:
                if mode == "with writes":
                    commander.active.set()
                runs[mode].append(load())
                commander.active.clear()
                time.sleep(1.5)  # the last publish task settles before the next round
    finally:
        commander.done.set()
        commander.join(35)
        worker.terminate()
        worker.wait(30)
    print(
        f"\nStatus page with writes: wrk -t{args.threads} -c{args.connections} "
        f"-d{args.duration}s on /, {args.rounds} rounds each (medians), alternating; granian "
        f"{args.workers} workers x {DEFAULT_THREADS} threads, cache: "
        f"{'redis' if args.redis else 'file'}; one tideover worker; writes: one public update "
        f"per second through POST /api/v1/incidents/{incident}/updates"
        f"{' on a separate API server' if args.api_server else ' on the same server'}"
    )
    print(f"{'mode':<16}{'req/s':>10}{'p99 ms':>9}{'errors':>9}   p99 of each round")
    medians = {}
    for mode, results in runs.items():
        rps = statistics.median(r["rps"] for r in results)
        p99 = statistics.median(r["p99_ms"] for r in results)
        errors = sum(r["non_2xx"] for r in results)
        medians[mode] = p99
        rounds = ", ".join(f"{r['p99_ms']:.1f}" for r in results)
        print(f"{mode:<16}{rps:>10.0f}{p99:>9.1f}{errors:>9}   {rounds}")
    writes = sorted(commander.latencies_ms)
    if writes:
        print(
            f"updates posted: {len(writes)}, failed: {len(commander.failures)}; answer time "
            f"median {statistics.median(writes):.0f} ms, max {writes[-1]:.0f} ms"
        )
    if commander.failures:
        print(f"  failures: {commander.failures[:5]}")
    change = medians["with writes"] / medians["without writes"] - 1
    meets = change <= 0.20 and not commander.failures
    print(
        f"p99 with writes vs without: {change:+.1%}; target at most +20%: "
        f"{'met' if meets else 'NOT met'}"
    )
    return 0 if meets else 1
