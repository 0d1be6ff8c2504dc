import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections


class Command(BaseCommand):
    help = (
        "Send queued messages from the outbox (the worker does this too). Safe to run several "
        "at once: each message is claimed by one of them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--until-empty", action="store_true", help="Exit when nothing is due")
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds between polls")

    def handle(self, *args, until_empty, interval, **options):
        from tideover.notifications.outbox import drain

        while True:
            close_old_connections()
            counts = drain()
            if counts:
                self.stdout.write(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
            if until_empty and not counts:
                return
            if not counts:
                time.sleep(interval)
