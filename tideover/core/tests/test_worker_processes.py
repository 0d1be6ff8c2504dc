"""A ``tideover worker`` is one process, whatever stops it: after SIGTERM, SIGINT or SIGKILL no
process it started remains and no database connection stays open. On RQ the scheduler that
moves deferred tasks (``run_after``) into their queue runs in a thread of the worker; RQ's own
``with_scheduler`` forked it into a child that outlived a killed worker, holding the database
socket it inherited (core/worker.py)."""

from __future__ import annotations

import signal
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_tasks import TaskResultStatus

from tideover.core.tests.workers import (
    free_port,
    processes_in_group,
    start_redis_server,
    start_worker,
    stop,
    wait_until,
    worker_env,
)
from tideover.statuspage.tasks import publish_status

pytestmark = pytest.mark.django_db(transaction=True)


def _other_database_connections() -> int:
    """Sessions on the test database besides this connection (PostgreSQL only)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def _deferred_task_ran(result) -> bool:
    try:
        result.refresh()
    except Exception as exc:  # RQ: read while the scheduler moves it from scheduled to queued
        if type(exc).__name__ != "NoSuchJobError":
            raise
        return False
    assert result.status != TaskResultStatus.FAILED, result.errors
    return result.status == TaskResultStatus.SUCCESSFUL


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=str)
def test_a_stopped_worker_leaves_no_process_and_no_database_connection(how, settings, tmp_path):
    log = tmp_path / "worker.log"
    # A deferred task: on RQ it reaches the queue only through the scheduler, so once it has
    # run the scheduler is running in this worker (the only one).
    deferred = publish_status.using(run_after=timezone.now() + timedelta(seconds=1)).enqueue()
    # Sessions this test process already holds (threads of earlier tests in it keep theirs):
    # the worker's must go, those are not its.
    before = _other_database_connections() if connection.vendor == "postgresql" else 0
    worker = start_worker(worker_env(settings), log_path=log, own_group=True)
    try:
        wait_until(lambda: _deferred_task_ran(deferred), timeout=90, processes=[worker])
        # A forked child that stays (as RQ's scheduler process did) fails this; a short-lived
        # helper process a library runs (CI once caught one beside the worker) is let end.
        settle_by = time.monotonic() + 10
        while processes_in_group(worker.pid) != [worker.pid] and time.monotonic() < settle_by:
            time.sleep(0.1)
        assert processes_in_group(worker.pid) == [worker.pid], "the worker forked a child"
    finally:
        if how == signal.SIGKILL:
            worker.kill()
            code = worker.wait(30)
        else:
            code = stop(worker, how)
    assert code == (-signal.SIGKILL if how == signal.SIGKILL else 0), log.read_text()

    wait_until(lambda: not processes_in_group(worker.pid), timeout=30)
    if connection.vendor == "postgresql":
        # The server notices a closed socket at once; a leftover process would keep it open.
        wait_until(lambda: _other_database_connections() <= before, timeout=30)


def test_a_worker_waits_out_a_database_it_cannot_reach_and_carries_on(settings, tmp_path):
    """The database file gone for a few seconds (a restore, a move): the worker says so, keeps
    trying, and runs tasks again once it is back, instead of exiting for good."""
    import os
    import shutil

    if connection.vendor != "sqlite" or getattr(settings, "RQ_QUEUES", None):
        pytest.skip("a SQLite file to take away, under the database backend")
    log = tmp_path / "worker.log"
    path = connection.settings_dict["NAME"]
    first = publish_status.enqueue()
    worker = start_worker(worker_env(settings), log_path=log)
    try:
        wait_until(lambda: _deferred_task_ran(first), timeout=90, processes=[worker])
        os.rename(path, f"{path}.away")
        os.mkdir(path)  # "unable to open database file" for every new connection
        try:
            wait_until(lambda: "cannot be reached" in log.read_text(), timeout=30)
            time.sleep(3)
            assert worker.poll() is None, log.read_text()
        finally:
            shutil.rmtree(path)
            os.rename(f"{path}.away", path)
        second = publish_status.enqueue()
        wait_until(lambda: _deferred_task_ran(second), timeout=90, processes=[worker])
    finally:
        stop(worker)


def test_an_error_while_the_database_answers_is_raised_not_retried_for_ever(db, caplog):
    """A missing table (code upgraded without migrate) is no outage: after one more try it
    ends the worker with its traceback instead of two log lines a second for ever."""
    from django.db import OperationalError

    from tideover.core import worker as workers

    class Broken:
        running, runs = True, 0

        def run(self):
            self.runs += 1
            raise OperationalError("no such table: django_tasks_database_dbtaskresult")

    broken = Broken()
    with pytest.raises(OperationalError, match="no such table"):
        workers._run_through_database_outages(broken)
    assert broken.runs == 2


def test_an_rq_worker_started_before_redis_waits_for_it_and_then_works(settings, tmp_path):
    """Under a process manager, a worker that exited because Redis was not up yet would stop
    the others: it waits, says so once, and registers with Redis once it answers."""
    import shutil

    import redis

    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server to start one of its own")
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    log = tmp_path / "worker.log"
    worker = start_worker(worker_env(settings, TASKS_BACKEND="rq", REDIS_URL=url), log_path=log)
    redis_server = None
    try:
        wait_until(lambda: "Redis cannot be reached" in log.read_text(), 60, processes=[worker])
        time.sleep(2)
        assert worker.poll() is None, log.read_text()
        redis_server = start_redis_server(port, tmp_path)
        client = redis.Redis.from_url(url)
        wait_until(lambda: "Redis answers again" in log.read_text(), timeout=60, processes=[worker])
        wait_until(lambda: client.scard("rq:workers") == 1, timeout=30, processes=[worker])
    finally:
        code = stop(worker, log_path=log)
        if redis_server is not None:
            redis_server.terminate()
            redis_server.wait(10)
    assert code == 0, log.read_text()


def test_an_rq_worker_waiting_for_redis_stops_cleanly_when_asked(settings, tmp_path):
    port = free_port()
    env = worker_env(settings, TASKS_BACKEND="rq", REDIS_URL=f"redis://127.0.0.1:{port}/0")
    log = tmp_path / "worker.log"
    worker = start_worker(env, log_path=log)
    try:
        wait_until(lambda: "Redis cannot be reached" in log.read_text(), 60, processes=[worker])
    finally:
        code = stop(worker, log_path=log)
    assert code == 0, log.read_text()
