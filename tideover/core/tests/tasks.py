"""Run what is waiting in the task queue, in this process, as ``tideover worker --batch`` would
(database or RQ backend), for tests that check a task's effect."""

from __future__ import annotations

from django.conf import settings


def run_queued_tasks() -> None:
    if getattr(settings, "RQ_QUEUES", None) and "django_rq" in settings.INSTALLED_APPS:
        import django_rq
        from django_tasks_rq.backend import Job
        from rq import SimpleWorker

        queues = [django_rq.get_queue(name, job_class=Job) for name in settings.RQ_QUEUES]
        # Deferred tasks (run_after) wait in RQ's scheduled registry: move them in now.
        for queue in queues:
            for job_id in queue.scheduled_job_registry.get_job_ids():
                queue.enqueue_job(Job.fetch(job_id, connection=queue.connection))
                queue.scheduled_job_registry.remove(job_id)
        SimpleWorker(queues, connection=queues[0].connection, job_class=Job).work(burst=True)
        return
    from django.utils import timezone
    from django_tasks_db.management.commands.db_worker import Worker
    from django_tasks_db.models import DBTaskResult

    # Deferred tasks count as due: a test does not wait out their delay.
    DBTaskResult.objects.filter(status="READY", run_after__gt=timezone.now()).update(
        run_after=timezone.now()
    )
    worker = Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test",
        excluded_queue_names=[],
    )
    # The worker's own loop closes database connections between tasks, which would end a
    # test's transaction; claim and run each task as it does, without that.
    while (result := DBTaskResult.objects.ready().first()) is not None:
        result.claim(worker.worker_id)
        worker.run_task(result)
