"""tideover manage expire_points [--today YYYY-MM-DD]: reminders and expiry now (the worker runs
the same job hourly)."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from tideover.loyalty.expiry import run_expiry


class Command(BaseCommand):
    help = "Send points-expiry reminders and expire points past their last day"

    def add_arguments(self, parser):
        parser.add_argument("--today", help="Run as if it were this day (YYYY-MM-DD)")

    def handle(self, *args, today=None, **options):
        try:
            day = date.fromisoformat(today) if today else None
        except ValueError:
            raise CommandError(f"--today {today!r} is not a date like 2026-11-30")
        result = run_expiry(day)
        self.stdout.write(
            f"{result['reminders']} reminder(s) sent, {result['expired_points']} point(s) expired"
        )
