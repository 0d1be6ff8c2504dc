"""A minute of 10,000 signals through the detectors: how long, and how much memory per signal.

    .venv/bin/python bench/detect.py                  # 10,000 signals, 5 rounds, both databases
    .venv/bin/python bench/detect.py --signals 2000 --rounds 3 --db sqlite
    .venv/bin/python bench/detect.py --db none        # the detectors alone

Figures, medians over ``--rounds`` minutes:

- **detectors**: one point per signal through ``Detector.loads`` -> ``step`` -> ``dumps``, the
  exact work scoring does per signal (the state is unpacked from and packed back to bytes).
- **reference**: the same points through a bare exponentially weighted z-score per signal
  (a plain Python object with three floats): the least a streaming detector can do per point.
- **service** (SQLite and PostgreSQL, each a fresh database, in a child process): the minute
  the way the product runs it. *In*: ``record_points`` with one point per signal, in batches
  of 5,000 (the API's largest batch), as ``POST /api/v1/signals/points:batch`` calls it.
  *Score*: ``score_signals`` for that minute: reads the signals and the waiting points, steps
  every detector, writes scores and states back. The goal counts both.

Memory per signal: the packed state (bytes stored in the database) and the Python memory of a
live detector (tracemalloc over all of them, divided by the count).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fresh_db import database_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tideover.detect.detector import STATE_BYTES, Detector, Direction  # noqa: E402

START = datetime(2026, 3, 2, tzinfo=UTC)
WARM = 120  # minutes each detector has seen before the measured ones


class Bare:
    """The reference: an exponentially weighted mean and variance, and a z-score."""

    __slots__ = ("mean", "var")

    def __init__(self):
        self.mean, self.var = 0.0, 1.0

    def step(self, value: float) -> bool:
        z = (value - self.mean) / (self.var**0.5 + 1e-9)
        d = value - self.mean
        self.mean += 0.05 * d
        self.var = 0.95 * (self.var + 0.05 * d * d)
        return abs(z) > 4


def values(n: int, minute: int, rng: random.Random) -> list[float]:
    return [100 + 10 * ((i % 7) - 3) + rng.gauss(0, 3) + 0.01 * minute for i in range(n)]


def warm_blobs(n: int, rng: random.Random, start: datetime = START) -> list[bytes]:
    template = Detector(direction=Direction.DOWN)
    for minute in range(WARM):
        template.step(start + timedelta(minutes=minute), 100 + rng.gauss(0, 3))
    blob = template.dumps()
    # Each signal starts from the same learned state (warming 10,000 separately takes minutes
    # and measures nothing the minute below does not).
    return [blob] * n


def bench_memory(n: int, blobs: list[bytes]) -> float:
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    live = [Detector.loads(b, direction=Direction.DOWN) for b in blobs[:n]]
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert len(live) == n
    return (after - before) / n


def bench_core(n: int, rounds: int, blobs: list[bytes], rng: random.Random):
    detectors_s, reference_s = [], []
    bare = [Bare() for _ in range(n)]
    for r in range(rounds):
        at = START + timedelta(minutes=WARM + r)
        points = values(n, WARM + r, rng)
        t0 = time.perf_counter()
        for i in range(n):
            detector = Detector.loads(blobs[i], direction=Direction.DOWN)
            detector.step(at, points[i])
            blobs[i] = detector.dumps()
        detectors_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for i in range(n):
            bare[i].step(points[i])
        reference_s.append(time.perf_counter() - t0)
    return statistics.median(detectors_s), statistics.median(reference_s)


def bench_service(n: int, rounds: int, rng: random.Random) -> dict:
    """In a child process whose DATABASE_URL is a fresh database."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tideover.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from tideover.detect.models import Signal
    from tideover.detect.scoring import score_signals
    from tideover.detect.signals import record_points

    # The bench's minutes are "now" for the service (it refuses points from the future).
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=rounds + 1)
    blob = warm_blobs(1, rng, start - timedelta(minutes=WARM))[0]
    Signal.objects.bulk_create(
        [
            Signal(
                slug=f"bench-{i:05d}",
                name=f"Bench {i}",
                direction=Direction.DOWN,
                detector_state=blob,
                scored_until=start - timedelta(minutes=1),
            )
            for i in range(n)
        ],
        batch_size=1000,
    )
    slugs = list(Signal.objects.order_by("pk").values_list("slug", flat=True))
    ins, scores = [], []
    for r in range(rounds):
        minute = start + timedelta(minutes=r)
        items = list(zip(slugs, [minute] * n, values(n, WARM + r, rng), strict=True))
        t0 = time.perf_counter()
        for first in range(0, n, 5000):
            results = record_points(items[first : first + 5000])
            assert results[-1].result == "recorded", results[-1]
        t1 = time.perf_counter()
        score_signals(minute)
        t2 = time.perf_counter()
        ins.append(t1 - t0)
        scores.append(t2 - t1)
    totals = [a + b for a, b in zip(ins, scores, strict=True)]
    return {
        "in": statistics.median(ins),
        "score": statistics.median(scores),
        "total": statistics.median(totals),
        "rounds": [round(t, 3) for t in totals],
    }


def run_service(db: str, args) -> dict | None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": database_url(db, tmp, "tideover_bench_detect"),
            "TIDEOVER_DATA_DIR": tmp,
        }
        out = subprocess.run(
            [sys.executable, __file__, "--child", db, *sys.argv[1:]],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
    if out.returncode != 0:
        print(out.stderr, file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--signals", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both", "none"], default="both")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    rng = random.Random(42)
    n = args.signals
    if args.child:
        print(json.dumps(bench_service(n, args.rounds, rng)))
        return 0
    blobs = warm_blobs(n, rng)
    per_signal = bench_memory(n, blobs)
    detectors, reference = bench_core(n, args.rounds, list(blobs), rng)
    print(f"signals: {n:,}; median of {args.rounds} minutes")
    print(
        f"detectors (load, step, dump): {detectors:.3f} s a minute "
        f"({n / detectors:,.0f} points/s)  target < 1 s: "
        f"{'met' if detectors < 1 else 'NOT met'}"
    )
    print(
        f"reference (bare EW z-score):  {reference:.3f} s a minute ({n / reference:,.0f} points/s)"
    )
    print(
        f"memory per signal: {STATE_BYTES:,} bytes packed (stored), "
        f"{per_signal:,.0f} bytes as a live detector"
    )
    chosen = {"both": ("sqlite", "postgres"), "none": ()}.get(args.db, (args.db,))
    for db in chosen:
        service = run_service(db, args)
        if service is None:
            return 1
        print(
            f"service on {db}: {service['total']:.3f} s a minute "
            f"({n / service['total']:,.0f} points/s): in {service['in']:.3f} s "
            f"(record_points), score {service['score']:.3f} s (score_signals)  target < 1 s: "
            f"{'met' if service['total'] < 1 else 'NOT met'}  rounds {service['rounds']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
