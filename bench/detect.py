"""A minute of 10,000 signals through the detectors: how long, and how much memory per signal.

    .venv/bin/python bench/detect.py                  # 10,000 signals, 5 rounds
    .venv/bin/python bench/detect.py --signals 2000 --rounds 3 --no-db

Three figures, medians over ``--rounds`` minutes:

- **detectors**: one point per signal through ``Detector.loads`` -> ``step`` -> ``dumps``, the
  exact work scoring does per signal (the state is unpacked from and packed back to bytes).
- **reference**: the same points through a bare exponentially weighted z-score per signal
  (a plain Python object with three floats): the least a streaming detector can do per point.
- **service** (SQLite, fresh database): ``tideover.detect.scoring.score_signals`` for the minute
  after one point per signal was recorded: reads the signals and points, steps every detector,
  writes scores and states back.

Memory per signal: the packed state (bytes stored in the database) and the Python memory of a
live detector (tracemalloc over all of them, divided by the count).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

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


def warm_blobs(n: int, rng: random.Random) -> list[bytes]:
    blobs = []
    template = Detector(direction=Direction.DOWN)
    for minute in range(WARM):
        template.step(START + timedelta(minutes=minute), 100 + rng.gauss(0, 3))
    blob = template.dumps()
    # Each signal starts from the same learned state (warming 10,000 separately takes minutes
    # and measures nothing the minute below does not).
    blobs = [blob] * n
    return blobs


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


def bench_service(n: int, rounds: int, blob: bytes, rng: random.Random) -> float:
    tmp = tempfile.mkdtemp(prefix="tideover-bench-detect-")
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
    os.environ["TIDEOVER_DATA_DIR"] = tmp
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tideover.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from tideover.detect.models import Signal, SignalPoint
    from tideover.detect.scoring import score_signals

    scored = START + timedelta(minutes=WARM - 1)
    Signal.objects.bulk_create(
        [
            Signal(
                slug=f"bench-{i:05d}",
                name=f"Bench {i}",
                direction=Direction.DOWN,
                detector_state=blob,
                scored_until=scored,
            )
            for i in range(n)
        ],
        batch_size=1000,
    )
    ids = list(Signal.objects.values_list("pk", flat=True))
    timings = []
    for r in range(rounds):
        minute = START + timedelta(minutes=WARM + r)
        points = values(n, WARM + r, rng)
        SignalPoint.objects.bulk_create(
            [
                SignalPoint(signal_id=pk, minute=minute, value=v)
                for pk, v in zip(ids, points, strict=True)
            ],
            batch_size=1000,
        )
        t0 = time.perf_counter()
        score_signals(minute)
        timings.append(time.perf_counter() - t0)
    return statistics.median(timings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--signals", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-db", action="store_true", help="Skip the SQLite service figure")
    args = parser.parse_args()
    rng = random.Random(42)
    n = args.signals
    blobs = warm_blobs(n, rng)
    blob = blobs[0]
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
    if not args.no_db:
        service = bench_service(n, args.rounds, blob, rng)
        print(
            f"service on SQLite (read, score, write back): {service:.3f} s a minute "
            f"({n / service:,.0f} points/s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
