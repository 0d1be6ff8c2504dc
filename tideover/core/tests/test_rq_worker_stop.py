"""A stop asked of an RQ worker is never lost. RQ's own handler raised StopRequested wherever
the worker's main thread was when it was not running a task: caught by a library's
``except Exception`` it vanished and the worker went back to waiting for a job (in CI a
SIGTERM went unanswered for 30 s); raised between installing the handlers and entering the
loop it ended the worker with a traceback; and RQ's wait for a job, which it turns again after
each timeout until a job comes, never read a flag set meanwhile. Now the handler only sets the
flag, and the wait looks at it between short turns. Here the worker runs in this process against a
redis-server of the test's own, and its handler is called the way a signal would call it."""

from __future__ import annotations

import contextlib
import shutil
import signal

import pytest
import redis

from tideover.core import stopping
from tideover.core.tests.workers import free_port, start_redis_server, wait_until

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="needs redis-server to start one of its own"
)


@pytest.fixture
def rq_worker(tmp_path):
    from django_tasks_rq.backend import Job
    from rq import Queue

    from tideover.core.worker import rq_worker_class

    port = free_port()
    server = start_redis_server(port, tmp_path)
    connection = redis.Redis(port=port)
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        wait_until(lambda: _answers(connection), timeout=30)
        queue = Queue("default", connection=connection, job_class=Job)
        yield rq_worker_class()([queue], connection=connection, job_class=Job)
    finally:
        for signum, handler in handlers.items():  # the worker's handlers are not this test run's
            signal.signal(signum, handler)
        stopping.clear()
        server.terminate()
        server.wait(10)


def _answers(connection) -> bool:
    try:
        return connection.ping()
    except redis.exceptions.ConnectionError:
        return False


def test_a_stop_asked_while_the_worker_is_not_waiting_for_a_job_raises_nothing(rq_worker):
    rq_worker.request_stop(signal.SIGTERM, None)  # a signal between two steps of its loop

    assert rq_worker._stop_requested


def test_a_stop_whose_exception_a_library_swallowed_still_ends_the_worker(rq_worker):
    # What a library's broad except did with RQ's StopRequested:
    with contextlib.suppress(Exception):
        rq_worker.request_stop(signal.SIGTERM, None)
    assert rq_worker._stop_requested, "the stop request was lost with its exception"

    rq_worker.work(logging_level="WARNING")  # returns at its loop's first turn

    assert rq_worker.connection.scard("rq:workers") == 0  # it said goodbye to Redis


def test_a_stop_during_the_wait_for_a_job_ends_the_wait_without_one(rq_worker):
    """RQ waits again after each timed-out turn until a job comes, so a flag set while it
    waits (its exception swallowed in the maintenance RQ runs between turns) was never read:
    the worker went on waiting, and ran the next job after the stop."""
    import threading

    from django_tasks_rq.backend import Job
    from rq import Queue

    queue = Queue("default", connection=rq_worker.connection, job_class=Job)
    asked = threading.Timer(0.5, lambda: setattr(rq_worker, "_stop_requested", True))
    # Without the fix only a job ends the wait: one comes after 20 s so the test cannot hang.
    late_job = threading.Timer(20, lambda: queue.enqueue("builtins.print"))
    asked.start()
    late_job.start()
    try:
        found = rq_worker.dequeue_job_and_maintain_ttl(timeout=rq_worker.dequeue_timeout)
    finally:
        asked.cancel()
        late_job.cancel()

    assert found is None, "the worker waited on and took a job after it was asked to stop"
    assert queue.count == 0  # no job was taken off the queue and dropped


def test_the_wait_for_a_job_is_short_enough_to_see_a_stop_flag(rq_worker):
    from tideover.core.worker import STOP_CHECK_SECONDS

    assert rq_worker.dequeue_timeout == STOP_CHECK_SECONDS < rq_worker.worker_ttl - 15


def test_a_second_signal_after_an_early_stop_stops_at_once(rq_worker):
    """A stop asked for before RQ's handlers were in place (while waiting for Redis) is
    carried over, and the next signal is the immediate stop, not another polite request."""
    stopping.request()
    rq_worker._install_signal_handlers()

    assert rq_worker._stop_requested
    assert signal.getsignal(signal.SIGTERM) == rq_worker.request_force_stop
