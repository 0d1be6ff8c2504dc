import threading
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django.utils.crypto import get_random_string

from tideover.core import periodic


class Command(BaseCommand):
    help = (
        "Run background jobs: queued tasks (message delivery and the like) and the periodic jobs "
        "(cadence reminders, maintenance windows, points expiry). Run as many as you like."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--interval", type=float, default=0.5, help="Seconds between polls when idle"
        )
        parser.add_argument("--batch", action="store_true", help="Run what is due once, then exit")
        parser.add_argument(
            "--no-periodic", action="store_true", help="Only queued tasks, no periodic jobs"
        )

    def handle(self, *args, interval, batch, no_periodic, **options):
        from django_tasks_db.management.commands.db_worker import Worker

        worker = Worker(
            queue_names=["*"],
            interval=interval,
            batch=batch,
            backend_name="default",
            startup_delay=not batch,
            max_tasks=None,
            worker_id=get_random_string(32),
            excluded_queue_names=[],
        )
        if not no_periodic:
            if batch:
                periodic.run_due()
            else:
                threading.Thread(target=self._periodic_loop, args=(worker,), daemon=True).start()
        names = ", ".join(job.name for job in periodic.jobs()) or "none"
        self.stdout.write(f"Tideover worker started (periodic jobs: {names})")
        worker.run()

    @staticmethod
    def _periodic_loop(worker):
        while worker.running:
            close_old_connections()
            periodic.run_due()
            time.sleep(1)
