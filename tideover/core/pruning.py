"""Nothing grows forever, core's part: finished task results and the record of periodic runs
are deleted after ``PRUNE_TASK_RESULTS_DAYS`` by the periodic job ``prune-task-results``. On
the database backend that is the results table; on RQ, successful results expire on their own
after minutes (RQ's ``result_ttl``), but a failed task (its arguments and traceback) is kept a
year by RQ's default, so failed tasks that ended before the retention are deleted here. Each
app prunes its own tables the same way, e.g. notifications/pruning.py for the outbox."""

from __future__ import annotations

from datetime import UTC, timedelta

from django.conf import settings
from django.db import transaction
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
    counts["task_results"] = delete_in_batches(finished)
    counts["periodic_runs"] = delete_in_batches(
        PeriodicRun.objects.filter(started_at__lt=cutoff, finished_at__isnull=False)
    )
    from tideover.core.worker import backend_kind

    if backend_kind() == "rq":
        counts["failed_rq_tasks"] = _prune_failed_rq_tasks(cutoff)
    return counts


def _prune_failed_rq_tasks(cutoff) -> int:
    """Delete the failed tasks in RQ's registries that ended before ``cutoff``."""
    import django_rq
    from django_tasks_rq.backend import Job
    from rq.registry import FailedJobRegistry

    deleted = 0
    for name in settings.RQ_QUEUES:
        queue = django_rq.get_queue(name, job_class=Job)
        registry = FailedJobRegistry(queue=queue)
        ids = registry.get_job_ids()
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            jobs = Job.fetch_many(chunk, connection=queue.connection)
            for job_id, job in zip(chunk, jobs, strict=True):
                if job is None:  # its data expired already: only the registry's entry is left
                    registry.remove(job_id)
                elif job.ended_at is not None and _aware(job.ended_at) < cutoff:
                    registry.remove(job, delete_job=True)
                    deleted += 1
    return deleted


def _aware(moment):
    """RQ's times are UTC, without a zone in older releases."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def delete_in_batches(query, order: str = "pk") -> int:
    """Delete what ``query`` selects, ``BATCH`` rows a transaction, oldest (by ``order``, which
    should be indexed) first; returns how many. Short transactions keep a prune from holding
    locks or a long write that the web and workers would wait on."""
    total = 0
    while True:
        with transaction.atomic():
            ids = list(query.order_by(order).values_list("pk", flat=True)[:BATCH])
            if not ids:
                return total
            total += query.model.objects.filter(pk__in=ids).delete()[0]
