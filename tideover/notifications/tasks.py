"""Background jobs: draining the outbox, cadence reminders. Both are also periodic jobs, so a
missed enqueue (or a task backend that is down) only delays delivery by a few seconds."""

from __future__ import annotations

from django_tasks import task


@task()
def deliver_outbox() -> dict:
    """Send what is due, for up to 30 seconds (further work is picked up by the next run)."""
    from tideover.notifications.outbox import drain

    return drain(max_seconds=30)


def deliver_periodically() -> dict:
    from tideover.notifications.outbox import drain

    return drain(max_seconds=10)


def remind_periodically() -> int:
    from tideover.notifications.reminders import send_cadence_reminders

    return send_cadence_reminders()


def record_claims_periodically() -> int:
    from tideover.notifications.outbox import record_unrecorded_claims

    return record_unrecorded_claims()
