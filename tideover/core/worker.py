"""``tideover worker``: the configured task backend's worker plus the periodic scheduler.

- Database backend (the default): django-tasks-db's worker polls the task table.
- RQ backend (``TASKS_BACKEND=rq``, ``REDIS_URL``): an RQ worker on the same queues. It runs each
  task in its own process (RQ's ``SimpleWorker``) rather than spawning a fresh interpreter per
  task, which would cost a Django start-up each time.

  Deferred tasks (``run_after``: the coalesced status-page publish, retries) wait in RQ's
  scheduled-job registry until RQ's scheduler moves them to their queue. RQ would run that
  scheduler in a forked child (``work(with_scheduler=True)``); we run the same scheduler
  (``RQScheduler``, under its own Redis lock, so one worker moves them) in a thread instead. The
  fork outlived a worker that was killed or timed out before its teardown, scheduling on its own
  with no parent, and it inherited the parent's open database socket, so that connection stayed
  open too. A thread ends with its process, whatever ends it.

Either way the worker runs the scheduler loop of core/periodic.py in a thread (one run per
interval across all workers) unless started with ``--no-periodic``.

Stopping (SIGTERM from systemd, a container runtime or a process manager; SIGINT from Ctrl+C):

1. The first signal sets ``core.stopping``: no new task starts, the scheduler stops, and the
   running task returns at its next safe point. The outbox drain finishes the message it is
   handing to a provider, records it, and gives back every other message it claimed (queued
   again, no attempt counted). The worker then exits with status 0.
2. A second signal stops at once (exit 1). What it held then follows the rule for a dead worker
   (notifications/outbox.py): claimed messages come back when their lease ends; the one message
   that may have been in a provider's hands is settled by its channel's rule.
"""

from __future__ import annotations

import contextlib
import logging
import math
import signal
import threading
import time

from django.db import close_old_connections
from django.utils.crypto import get_random_string

from tideover.core import periodic, stopping

log = logging.getLogger("tideover.worker")


def backend_kind() -> str:
    """'rq' or 'database', from the configured default task backend."""
    from django_tasks import task_backends

    backend = task_backends["default"]
    return "rq" if type(backend).__module__.startswith("django_tasks_rq") else "database"


def start_scheduler() -> threading.Thread:
    thread = threading.Thread(
        target=periodic.run_scheduler, args=(stopping.event(),), name="periodic", daemon=True
    )
    thread.start()
    return thread


def run_database_worker(*, interval: float, batch: bool, with_periodic: bool) -> None:
    from django_tasks_db.management.commands.db_worker import Worker

    class DatabaseWorker(Worker):
        def shutdown(self, signum, frame):
            if not self.running:  # the second signal: stop now
                super().shutdown(signum, frame)
                return
            log.warning(
                "%s: finishing the current task, then stopping (again to stop at once)",
                signal.strsignal(signum),
            )
            stopping.request()
            # No sys.exit here: the loop ends after at most one poll interval, and a task that
            # is running returns at its next safe point.
            self.running = False

    worker = DatabaseWorker(
        queue_names=["*"],
        interval=interval,
        batch=batch,
        backend_name="default",
        startup_delay=not batch,
        max_tasks=None,
        worker_id=get_random_string(32),
        excluded_queue_names=[],
    )
    worker.configure_signals()
    if with_periodic:
        if batch:
            periodic.schedule_due()
        else:
            start_scheduler()
    _run_through_database_outages(worker)


# Longest wait for a job in one call to Redis: an idle worker sees a stop request this soon.
STOP_CHECK_SECONDS = 2

# Seconds between tries while the database cannot be reached: doubling up to this.
OUTAGE_RETRY_MAX_SECONDS = 30.0


def _run_through_database_outages(worker) -> None:
    """Run the worker's loop; when the database cannot be reached (a restart, a moved file, a
    lost connection), say so once and try again with growing pauses instead of exiting, which
    left no worker running once the database came back, and made ``tideover up`` stop the
    web server with it. A stop request ends the wait.

    An error while the database answers is not an outage (a table missing after an upgrade
    without ``migrate``, a read-only file): after one more try at once (a dropped
    connection), it is raised with its traceback, as before, for whoever runs the worker."""
    from django.db import InterfaceError, OperationalError, connections

    delay, down_since, answered_failures = 1.0, None, 0
    while True:
        began = time.monotonic()
        try:
            worker.run()
            return
        except (OperationalError, InterfaceError) as exc:
            if stopping.requested():
                return
            connections.close_all()
            if _database_answers():
                quick = time.monotonic() - began < 10
                answered_failures = answered_failures + 1 if quick else 1
                if answered_failures >= 2:
                    raise
                worker.running = True
                continue
            answered_failures = 0
            if down_since is None:
                down_since = time.monotonic()
                log.error("the database cannot be reached (%s); trying again", exc)
            while not _database_answers():
                if stopping.event().wait(delay):
                    return
                delay = min(delay * 2, OUTAGE_RETRY_MAX_SECONDS)
            log.warning("the database answers again after %.0f s", time.monotonic() - down_since)
            delay, down_since = 1.0, None
            worker.running = True


def _database_answers() -> bool:
    from django.db import DatabaseError, connection

    try:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except DatabaseError:
        with contextlib.suppress(DatabaseError):
            connection.close()  # a half-open connection is not tried again as it is
        return False


def _wait_for_redis(redis) -> bool:
    """Wait until Redis answers (a worker started before Redis, or while it restarts), saying
    so once, with growing pauses, instead of exiting: under a process manager one process that
    exits stops the others. False: asked to stop meanwhile."""
    from redis.exceptions import AuthenticationError, ConnectionError, TimeoutError

    delay, down_since = 1.0, None
    while True:
        try:
            redis.ping()
        except AuthenticationError:
            raise  # a wrong password is not an outage: say so and stop, as before
        except (ConnectionError, TimeoutError) as exc:
            if down_since is None:
                down_since = time.monotonic()
                log.error("Redis cannot be reached (%s); trying again", exc)
            if stopping.event().wait(delay):
                return False
            delay = min(delay * 2, OUTAGE_RETRY_MAX_SECONDS)
            continue
        if down_since is not None:
            log.warning("Redis answers again after %.0f s", time.monotonic() - down_since)
        return True


class RQSchedulerThread:
    """RQ's scheduler for deferred tasks, ticking in a thread of this worker (see above)."""

    def __init__(self, queues, connection, every_seconds: int = 1):
        from rq.scheduler import RQScheduler

        # Whole seconds: RQ sets its lock's lifetime (interval + 60) with a Redis EXPIRE.
        self.scheduler = RQScheduler(
            queues, connection=connection, interval=every_seconds, logging_level="WARNING"
        )
        self.every_seconds = every_seconds

    def tick(self) -> None:
        """Take (or keep) RQ's scheduler lock; while held, move the due deferred tasks in."""
        if self.scheduler.acquire_locks():
            self.scheduler.enqueue_scheduled_jobs()

    def run(self, stop: threading.Event) -> None:
        failing = periodic.OutageLog(log, "RQ scheduler tick failed")
        try:
            while not stop.is_set():
                try:
                    self.tick()
                except Exception:  # Redis away for a moment: try again on the next tick
                    failing.failed()
                else:
                    failing.worked()
                stop.wait(self.every_seconds)
        finally:
            try:
                self.scheduler.release_locks()  # another worker takes over at once
            except Exception:
                log.warning("could not release RQ's scheduler lock; it expires on its own")

    def start(self, stop: threading.Event) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(stop,), name="rq-scheduler", daemon=True)
        thread.start()
        return thread


def rq_worker_class():
    """The RQ worker ``tideover worker`` runs (RQ is imported only when it is configured)."""
    from rq import SimpleWorker
    from rq.exceptions import StopRequested
    from rq.utils import now as rq_now

    class TideoverRQWorker(SimpleWorker):
        """RQ's worker, with a stop request that cannot be lost (see ``request_stop``)."""

        @property
        def dequeue_timeout(self) -> int:
            return min(super().dequeue_timeout, STOP_CHECK_SECONDS)

        def request_stop(self, signum, frame):
            log.warning(
                "%s: finishing the current task, then stopping (again to stop at once)",
                signal.strsignal(signum),
            )
            stopping.request()
            # Only the flag, never an exception. RQ's handler raises StopRequested wherever the
            # idle worker's main thread happens to be: inside a library's ``except Exception``
            # (RQ's registry clean-up calls failure callbacks under one) it was swallowed and
            # the worker went back to waiting for a job for minutes; just after a job left
            # Redis it lost that job; between RQ installing its handlers and its loop it ended
            # the worker with a traceback. The wait for a job looks at the flag between turns
            # of STOP_CHECK_SECONDS instead (``dequeue_job_and_maintain_ttl``).
            self._stop_requested = True
            with contextlib.suppress(StopRequested):
                super().request_stop(signum, frame)  # a second signal now stops at once

        def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
            if timeout is None:  # a batch run: one look at the queues, no wait
                return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
            deadline = None if max_idle_time is None else time.monotonic() + max_idle_time
            while not self._stop_requested:
                turn = STOP_CHECK_SECONDS
                if deadline is not None:
                    turn = min(turn, math.ceil(deadline - time.monotonic()))
                    if turn <= 0:
                        return None
                # RQ waits again after each timed-out turn until a job comes; its idle limit
                # is what hands control back here.
                found = super().dequeue_job_and_maintain_ttl(min(timeout, turn), turn)
                if found is not None:
                    return found
            return None  # the loop ends its work on None

        def _install_signal_handlers(self):
            # RQ installs its handlers after registering with Redis; a stop asked for before
            # (under ours, below) is carried over instead of being lost, and a second signal
            # then stops at once, as after a first one under RQ's handlers.
            super()._install_signal_handlers()
            if stopping.requested():
                self._stop_requested = True
                self._shutdown_requested_date = rq_now()
                for signum in (signal.SIGTERM, signal.SIGINT):
                    signal.signal(signum, self.request_force_stop)

        def perform_job(self, job, queue, *args, **kwargs):
            # One process runs many tasks: drop database connections that went stale between
            # them, as Django does around each request.
            close_old_connections()
            try:
                return super().perform_job(job, queue, *args, **kwargs)
            finally:
                close_old_connections()

    return TideoverRQWorker


def run_rq_worker(*, batch: bool, with_periodic: bool) -> None:
    import django_rq
    from django.conf import settings
    from django_tasks_rq.backend import Job

    worker_class = rq_worker_class()
    queues = [django_rq.get_queue(name, job_class=Job) for name in settings.RQ_QUEUES]
    if not batch:
        # Until RQ's worker installs its own handlers: a stop is a request, not a kill.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stopping.request())
        if not _wait_for_redis(queues[0].connection):
            return  # asked to stop while Redis was away
    worker = worker_class(queues, connection=queues[0].connection, job_class=Job)
    deferred = RQSchedulerThread(queues, queues[0].connection)
    if batch:
        deferred.tick()
        deferred.scheduler.release_locks()
    else:
        deferred.start(stopping.event())
    if with_periodic:
        if batch:
            periodic.schedule_due()
        else:
            start_scheduler()
    # No with_scheduler: it would fork RQ's scheduler into a child process (see above).
    worker.work(burst=batch, logging_level="WARNING")
