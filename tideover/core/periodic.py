"""Periodic jobs (cadence reminders, maintenance windows, points expiry, status refresh,
pruning): one run per interval, however many workers run.

Apps register in their AppConfig.ready: ``register("name", every_seconds, function)``.

How one interval runs once:

1. Every worker runs the scheduler loop (``schedule_due`` about once a second), so losing any
   worker loses no schedule.
2. Intervals are aligned to the clock: a 30-second job is due at :00 and :30, and its
   ``PeriodicSchedule.next_run_at`` is the start of the next interval.
3. A scheduler that finds a job due moves ``next_run_at`` to the following interval with a
   conditional ``UPDATE ... WHERE next_run_at = <what it read>``. The database runs the
   UPDATEs one after another, so exactly one scheduler changes the row; the others match nothing.
   That scheduler enqueues the run as a task (``core.tasks.run_periodic``) that any worker
   picks up; on the database backend the enqueue commits together with the UPDATE.
4. The run records a ``PeriodicRun`` unique per (job, interval) before it starts, so a task that
   a queue delivers twice runs once.
5. A job whose previous run is still waiting in the queue is not enqueued again (the interval is
   counted in ``skipped``): a backlog never piles up copies of the same job.

Why not a library: django-crontask and django-periodic-tasks need Python 3.12 and 3.13 (we run
3.11 for Django 5.2 LTS), and RQ's scheduler serves only the RQ backend; the database backend
must keep working with no Redis. The lock above is one row per job in the database every worker
already uses, so it holds on both backends.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

log = logging.getLogger("tideover.periodic")


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every_seconds: float
    function: Callable[[], object]


_jobs: dict[str, PeriodicJob] = {}


def register(name: str, every_seconds: float, function: Callable[[], object]) -> None:
    if every_seconds <= 0:
        raise ValueError(f"periodic job {name}: every_seconds must be positive")
    _jobs[name] = PeriodicJob(name, every_seconds, function)


def jobs() -> list[PeriodicJob]:
    return list(_jobs.values())


def slot_start(job: PeriodicJob, at: datetime) -> datetime:
    """The start of the interval that contains ``at`` (aligned to the Unix epoch)."""
    seconds = at.timestamp()
    return datetime.fromtimestamp(seconds - seconds % job.every_seconds, tz=at.tzinfo)


def schedule_due(now: datetime | None = None) -> list[str]:
    """Enqueue every job whose interval has begun and that no other scheduler took; returns
    the names this call enqueued."""
    from tideover.core.models import PeriodicSchedule

    now = now or timezone.now()
    known = dict(PeriodicSchedule.objects.values_list("name", "next_run_at"))
    missing = [job for job in _jobs.values() if job.name not in known]
    if missing:
        # Due at once: a new job (or a new database) runs its first interval right away.
        PeriodicSchedule.objects.bulk_create(
            [PeriodicSchedule(name=job.name, next_run_at=slot_start(job, now)) for job in missing],
            ignore_conflicts=True,
        )
        known.update(
            PeriodicSchedule.objects.filter(name__in=[j.name for j in missing]).values_list(
                "name", "next_run_at"
            )
        )
    enqueued = []
    for job in _jobs.values():
        due_at = known.get(job.name)
        if due_at is None or due_at > now:
            continue
        slot = slot_start(job, now)
        if _take_interval(job, due_at, slot):
            enqueued.append(job.name)
    return enqueued


def _take_interval(job: PeriodicJob, due_at: datetime, slot: datetime) -> bool:
    from tideover.core.models import PeriodicSchedule
    from tideover.core.tasks import run_periodic

    following = slot + timedelta(seconds=job.every_seconds)
    with transaction.atomic():
        won = PeriodicSchedule.objects.filter(name=job.name, next_run_at=due_at).update(
            next_run_at=following, last_enqueued_at=timezone.now()
        )
        if not won:
            return False
        row = PeriodicSchedule.objects.get(name=job.name)
        if row.last_result_id and _still_waiting(row.last_result_id):
            PeriodicSchedule.objects.filter(name=job.name).update(skipped=row.skipped + 1)
            return False
        result = run_periodic.enqueue(job.name, slot.isoformat())
        PeriodicSchedule.objects.filter(name=job.name).update(last_result_id=str(result.id)[:64])
    return True


def _still_waiting(result_id: str) -> bool:
    from django_tasks import TaskResultStatus, default_task_backend
    from django_tasks.exceptions import TaskResultDoesNotExist

    try:
        return default_task_backend.get_result(result_id).status == TaskResultStatus.READY
    except TaskResultDoesNotExist:
        return False
    except Exception:  # a queue we cannot read must not stop the schedule
        log.warning("could not read the previous run %s; enqueueing anyway", result_id)
        return False


def run(name: str, slot: str, worker: str = "") -> str:
    """Run job ``name`` for the interval starting at ``slot`` unless it already ran; the
    outcome in a word. Errors are logged and recorded, not raised."""
    from tideover.core.models import PeriodicRun

    job = _jobs.get(name)
    if job is None:
        log.warning("periodic job %s is not registered here; skipped", name)
        return "unknown"
    try:
        with transaction.atomic():
            record = PeriodicRun.objects.create(
                name=name, slot=datetime.fromisoformat(slot), worker=worker[:100]
            )
    except IntegrityError:
        return "already ran"
    succeeded = True
    try:
        job.function()
    except Exception:
        succeeded = False
        log.exception("periodic job %s failed", name)
    PeriodicRun.objects.filter(pk=record.pk).update(finished_at=timezone.now(), succeeded=succeeded)
    return "ran" if succeeded else "failed"


def run_scheduler(stop: threading.Event, every_seconds: float = 1.0) -> None:
    """The scheduler loop a worker runs in a thread until ``stop`` is set."""
    from django.db import close_old_connections, connection

    failing = OutageLog(log, "periodic scheduler tick failed")
    try:
        while not stop.is_set():
            close_old_connections()
            try:
                schedule_due()
            except Exception:  # a database hiccup: try again on the next tick
                failing.failed()
            else:
                failing.worked()
            stop.wait(every_seconds)
    finally:
        connection.close()


class OutageLog:
    """Log a loop's failure once, with its traceback, and then only that it works again: a
    loop that ticks every second while Redis or the database is away would otherwise write
    a traceback a second (about 1,500 lines in 15 s from a worker's two loops)."""

    def __init__(self, logger: logging.Logger, what: str):
        self.logger, self.what, self.since = logger, what, None

    def failed(self) -> None:
        if self.since is None:
            self.since = time.monotonic()
            self.logger.exception("%s; retrying quietly until it works", self.what)

    def worked(self) -> None:
        if self.since is not None:
            self.logger.warning(
                "%s for %.0f s; it works again", self.what, time.monotonic() - self.since
            )
            self.since = None
