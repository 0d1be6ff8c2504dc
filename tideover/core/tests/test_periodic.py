"""One scheduler for periodic jobs: each interval runs once however many workers run, and each
run is a task on the configured backend."""

from __future__ import annotations

import signal
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections

from tideover.core import periodic
from tideover.core.models import PeriodicRun, PeriodicSchedule
from tideover.core.tests.probe import PROBE_JOB, PROBE_SECONDS
from tideover.core.tests.workers import start_worker, stop, wait_until, worker_env

ON_DATABASE_BACKEND = "django_tasks_db.DatabaseBackend"


@pytest.fixture
def counter_job():
    calls = []
    periodic.register("test-counter", 60, lambda: calls.append(1))
    yield calls
    periodic._jobs.pop("test-counter", None)


def _run_enqueued_tasks():
    """Run what the schedulers enqueued, as a worker would (database backend)."""
    from django_tasks_db.models import DBTaskResult

    for result in DBTaskResult.objects.ready():
        result.task.call(*result.task_result.args, **result.task_result.kwargs)
        result.delete()


def test_intervals_are_aligned_to_the_clock():
    job = periodic.PeriodicJob("x", 30, lambda: None)
    at = datetime(2026, 11, 28, 14, 0, 47, 123, tzinfo=UTC)
    assert periodic.slot_start(job, at) == datetime(2026, 11, 28, 14, 0, 30, tzinfo=UTC)


@pytest.mark.django_db
def test_a_due_job_is_enqueued_as_a_task_once_per_interval(counter_job, settings):
    if settings.TASKS["default"]["BACKEND"] != ON_DATABASE_BACKEND:
        pytest.skip("reads the database backend's queue")
    now = datetime(2026, 11, 28, 14, 0, 5, tzinfo=UTC)
    assert "test-counter" in periodic.schedule_due(now)
    assert "test-counter" not in periodic.schedule_due(now + timedelta(seconds=30))
    assert counter_job == [], "scheduling does not run the job; a worker does"
    _run_enqueued_tasks()
    assert counter_job == [1]
    assert PeriodicRun.objects.get(name="test-counter").succeeded is True
    assert PeriodicSchedule.objects.get(name="test-counter").next_run_at == datetime(
        2026, 11, 28, 14, 1, tzinfo=UTC
    )
    assert "test-counter" in periodic.schedule_due(now + timedelta(seconds=60))


@pytest.mark.django_db
def test_a_run_delivered_twice_runs_once(counter_job):
    slot = "2026-11-28T14:00:00+00:00"
    assert periodic.run("test-counter", slot) == "ran"
    assert periodic.run("test-counter", slot) == "already ran"
    assert counter_job == [1]


@pytest.mark.django_db
def test_a_failing_job_is_recorded_and_does_not_stop_the_worker():
    def broken():
        raise RuntimeError("boom")

    periodic.register("test-broken", 60, broken)
    try:
        assert periodic.run("test-broken", "2026-11-28T14:00:00+00:00") == "failed"
        assert PeriodicRun.objects.get(name="test-broken").succeeded is False
    finally:
        periodic._jobs.pop("test-broken", None)


@pytest.mark.django_db
def test_a_job_still_waiting_in_the_queue_is_not_enqueued_again(counter_job, settings):
    if settings.TASKS["default"]["BACKEND"] != ON_DATABASE_BACKEND:
        pytest.skip("reads the database backend's queue")
    now = datetime(2026, 11, 28, 14, 0, 5, tzinfo=UTC)
    periodic.schedule_due(now)
    assert "test-counter" not in periodic.schedule_due(now + timedelta(seconds=60))
    assert PeriodicSchedule.objects.get(name="test-counter").skipped == 1


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_schedulers_racing_on_postgresql_enqueue_an_interval_once(counter_job):
    now = datetime(2026, 11, 28, 14, 0, 5, tzinfo=UTC)
    periodic.schedule_due(now - timedelta(minutes=5))  # the row exists; the race is the UPDATE
    PeriodicSchedule.objects.update(last_result_id="")  # as if that run had happened
    barrier = threading.Barrier(4)
    won = []

    def scheduler():
        try:
            barrier.wait()
            won.extend(periodic.schedule_due(now))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=scheduler) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert won.count("test-counter") == 1


@pytest.mark.django_db(transaction=True)
def test_three_workers_run_each_periodic_job_once_per_interval(settings, tmp_path):
    probe = tmp_path / "probe.log"
    env = worker_env(
        settings,
        DJANGO_SETTINGS_MODULE="tideover.core.tests.probe_settings",
        TIDEOVER_PROBE_FILE=str(probe),
    )
    log = tmp_path / "workers.log"
    workers = [start_worker(env, "--interval", "0.1", log_path=log) for _ in range(3)]
    try:
        wait_until(lambda: probe.exists(), timeout=60, processes=workers)
        started = time.time()
        time.sleep(6)
        watched = time.time() - started
    finally:
        codes = [stop(w, signal.SIGTERM) for w in workers]
    assert codes == [0, 0, 0], log.read_text()

    executions = sorted(float(line.split()[0]) for line in probe.read_text().splitlines())
    slots = [run.slot for run in PeriodicRun.objects.filter(name=PROBE_JOB)]
    # Every execution had an interval of its own...
    assert len(executions) == len(slots) == len(set(slots))
    # ...and the intervals ran: never more than one each, and most of them. On a busy machine
    # an interval can pass with no scheduler awake in it, or be skipped (counted) because its
    # previous run still waits in the queue; it is never made up twice.
    in_window = [at for at in executions if started <= at <= started + watched]
    assert len(in_window) <= watched / PROBE_SECONDS + 1
    assert len(in_window) >= int(watched / PROBE_SECONDS) // 3  # a loaded machine skips some
    if settings.TASKS["default"]["BACKEND"] == ON_DATABASE_BACKEND:
        # The schedulers' lock, not the run's uniqueness, kept it to one task per interval.
        from django_tasks_db.models import DBTaskResult

        outcomes = [
            r.return_value
            for r in DBTaskResult.objects.filter(task_path__endswith="run_periodic")
            if r.args_kwargs["args"][0] == PROBE_JOB and r.status == "SUCCESSFUL"
        ]
        assert outcomes.count("ran") == len(slots) and "already ran" not in outcomes


def test_a_loop_failing_every_tick_logs_its_traceback_once_and_then_its_recovery(caplog):
    import logging

    from tideover.core.periodic import OutageLog

    failing = OutageLog(logging.getLogger("tideover.test"), "tick failed")
    with caplog.at_level(logging.WARNING, logger="tideover.test"):
        for _ in range(30):
            try:
                raise ConnectionError("Redis is away")
            except ConnectionError:
                failing.failed()
        failing.worked()
        failing.worked()
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2
    assert messages[0].startswith("tick failed; retrying quietly") and caplog.records[0].exc_info
    assert "it works again" in messages[1]
