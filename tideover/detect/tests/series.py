"""Constructed series for the detector tests: a store-traffic-like day (quiet at night, busy in
the afternoon, Saturdays busier) with noise, at one point a minute."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

MONDAY = datetime(2026, 3, 2, tzinfo=UTC)


def traffic(at: datetime) -> float:
    hour = at.hour + at.minute / 60
    daily = 0.05 + 0.9 * math.exp(-(((hour - 15) / 4) ** 2))
    return 100 * (0.2 + daily) * (1.3 if at.weekday() == 5 else 1.0)


def series(
    days: float,
    *,
    seed: int = 1,
    shape: Callable[[datetime], float] = traffic,
    change: Callable[[datetime, float], float] | None = None,
    start: datetime = MONDAY,
) -> Iterator[tuple[datetime, float]]:
    """(minute, value) for ``days`` days; ``change(minute, value)`` bends it (the outage)."""
    rng = random.Random(seed)
    for i in range(int(days * 1440)):
        at = start + timedelta(minutes=i)
        normal = shape(at)
        value = rng.gauss(normal, 3 + 0.05 * normal)
        if change is not None:
            value = change(at, value)
        yield at, value
