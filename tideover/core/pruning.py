"""Nothing grows forever, core's part: finished task results (database backend) and the record
of periodic runs are deleted after ``PRUNE_TASK_RESULTS_DAYS`` by the periodic job
``prune-task-results``. (RQ keeps its results in Redis with their own expiry.) Each app prunes
its own tables the same way, e.g. notifications/pruning.py for the outbox."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

BATCH = 5000


def prune_task_results(now=None, days: int | None = None) -> dict:
    """Delete finished task results and periodic-run records older than the retention."""
    from django_tasks_db.models import DBTaskResult

    from tideover.core.models import PeriodicRun

    days = settings.PRUNE_TASK_RESULTS_DAYS if days is None else days
    counts = {"task_results": 0, "periodic_runs": 0}
    if days <= 0:
        return counts
    cutoff = (now or timezone.now()) - timedelta(days=days)
    finished = DBTaskResult.objects.finished().filter(finished_at__lt=cutoff)
    counts["task_results"] = _delete_in_batches(finished)
    counts["periodic_runs"] = _delete_in_batches(
        PeriodicRun.objects.filter(started_at__lt=cutoff, finished_at__isnull=False)
    )
    return counts


def _delete_in_batches(query) -> int:
    total = 0
    while True:
        ids = list(query.order_by("pk").values_list("pk", flat=True)[:BATCH])
        if not ids:
            return total
        total += query.model.objects.filter(pk__in=ids).delete()[0]
