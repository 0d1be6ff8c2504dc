"""Finished task results and periodic-run records are pruned after their retention."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tideover.core.models import PeriodicRun
from tideover.core.pruning import prune_task_results

pytestmark = pytest.mark.django_db


def test_old_finished_task_results_and_runs_are_pruned_recent_and_waiting_ones_kept(settings):
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.PRUNE_TASK_RESULTS_DAYS = 7
    from tideover.core.tasks import run_periodic

    old = timezone.now() - timedelta(days=10)
    done = run_periodic.enqueue("none", "2026-01-01T00:00:00+00:00")
    DBTaskResult.objects.filter(id=done.id).update(
        status="SUCCESSFUL", finished_at=old, return_value="ran"
    )
    waiting = run_periodic.enqueue("none", "2026-01-01T00:01:00+00:00")
    PeriodicRun.objects.create(name="x", slot=old, started_at=old, finished_at=old)
    PeriodicRun.objects.create(name="x", slot=timezone.now(), finished_at=timezone.now())

    assert prune_task_results() == {"task_results": 1, "periodic_runs": 1}
    assert [str(pk) for pk in DBTaskResult.objects.values_list("id", flat=True)] == [waiting.id]
    assert PeriodicRun.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_on_rq_failed_tasks_are_kept_no_longer_than_the_retention(settings):
    """RQ keeps a failed task (arguments, traceback) for a year unless told: pruning deletes
    those that ended before the retention, and keeps the recent ones."""
    if not getattr(settings, "RQ_QUEUES", None):
        pytest.skip("tasks on RQ (make test-rq)")
    import django_rq
    from django_tasks_rq.backend import Job
    from rq.registry import FailedJobRegistry

    from tideover.core.tasks import run_periodic
    from tideover.core.tests.tasks import run_queued_tasks

    settings.PRUNE_TASK_RESULTS_DAYS = 7
    failed = run_periodic.enqueue("notifications-deliver", "not a moment")
    run_queued_tasks()
    queue = django_rq.get_queue("default", job_class=Job)
    registry = FailedJobRegistry(queue=queue)
    assert failed.id in registry.get_job_ids()

    assert prune_task_results().get("failed_rq_tasks") == 0  # ended minutes ago: kept
    assert failed.id in registry.get_job_ids()
    later = timezone.now() + timedelta(days=8)
    assert prune_task_results(now=later)["failed_rq_tasks"] == 1
    assert failed.id not in registry.get_job_ids()
    assert not queue.connection.exists(f"rq:job:{failed.id}")
