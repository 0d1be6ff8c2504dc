"""Jobs the worker runs on a schedule (cadence reminders, maintenance windows, points expiry).

Apps register in their AppConfig.ready: ``register("name", every_seconds, function)``. The worker
calls each due job in turn; a job must be safe to run twice (two workers may both run it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("tideover.periodic")


@dataclass
class PeriodicJob:
    name: str
    every_seconds: float
    function: Callable[[], object]
    last_run: float = field(default=0.0)


_jobs: dict[str, PeriodicJob] = {}


def register(name: str, every_seconds: float, function: Callable[[], object]) -> None:
    _jobs[name] = PeriodicJob(name, every_seconds, function)


def jobs() -> list[PeriodicJob]:
    return list(_jobs.values())


def run_due(now: float | None = None) -> list[str]:
    """Run every job whose interval has passed; return the names run. Errors are logged, not raised."""
    now = time.monotonic() if now is None else now
    ran = []
    for job in _jobs.values():
        if now - job.last_run >= job.every_seconds:
            job.last_run = now
            try:
                job.function()
            except Exception:
                log.exception("periodic job %s failed", job.name)
            ran.append(job.name)
    return ran
