from django.core.management.base import BaseCommand

from tideover.core import periodic, stopping, worker


class Command(BaseCommand):
    help = (
        "Run background jobs on the configured task backend (database, or RQ on Redis): message "
        "delivery and the periodic jobs (cadence reminders, maintenance windows, points expiry, "
        "status refresh, pruning), each run once per interval however many workers run. "
        "SIGTERM/SIGINT: finish the current message, give back the rest, exit."
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
        stopping.clear()
        kind = worker.backend_kind()
        names = "none" if no_periodic else (", ".join(j.name for j in periodic.jobs()) or "none")
        self.stdout.write(f"Tideover worker started on the {kind} backend (periodic jobs: {names})")
        self.stdout.flush()
        if kind == "rq":
            worker.run_rq_worker(batch=batch, with_periodic=not no_periodic)
        else:
            worker.run_database_worker(
                interval=interval, batch=batch, with_periodic=not no_periodic
            )
        stopping.request()  # the scheduler thread ends with the worker
        self.stdout.write("Tideover worker stopped")
