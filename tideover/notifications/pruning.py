"""Nothing grows forever: finished outbox messages and their delivery attempts are deleted
after ``PRUNE_MESSAGES_DAYS``, and what they add up to is kept in ``DeliveryTally`` (per
notification, incident, channel and state), so the delivery log's and the postmortem's totals
stay true. A periodic job (``prune-outbox``) runs it.

The rows go in batches of ``BATCH`` in short transactions, each tallying exactly the rows it
deletes, so a stop in the middle loses nothing and a long backlog never holds a long lock.
A pruned message's dedupe key goes with it: the retention must be longer than any time in
which the same event could be fanned out again (days, not months, in practice).
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F
from django.utils import timezone

from tideover.notifications import hooks
from tideover.notifications.models import (
    DeliveryAttempt,
    DeliveryTally,
    MessageState,
    OutboxMessage,
)

FINISHED = (
    MessageState.SENT,
    MessageState.DELIVERED,
    MessageState.FAILED,
    MessageState.CANCELLED,
)
BATCH = 5000


def prune_messages(now=None, days: int | None = None) -> dict:
    """Delete finished messages older than the retention, tallying them; returns counts."""
    days = settings.PRUNE_MESSAGES_DAYS if days is None else days
    if days <= 0:
        return {"messages": 0, "attempts": 0}
    cutoff = (now or timezone.now()) - timedelta(days=days)
    totals = Counter()
    while True:
        with transaction.atomic():
            ids = list(
                OutboxMessage.objects.filter(state__in=FINISHED, created_at__lt=cutoff)
                .order_by("pk")
                .values_list("pk", flat=True)[:BATCH]
            )
            if not ids:
                break
            _tally(ids)
            hooks.before_prune(ids)
            totals["attempts"] += DeliveryAttempt.objects.filter(message_id__in=ids).delete()[0]
            totals["messages"] += OutboxMessage.objects.filter(pk__in=ids).delete()[0]
    return dict(totals) or {"messages": 0, "attempts": 0}


def _tally(ids: list[int]) -> None:
    groups = (
        OutboxMessage.objects.filter(pk__in=ids)
        .values_list("notification_id", "incident_id", "channel", "state")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for notification_id, incident_id, channel, state, n in groups:
        key = {
            "notification_id": notification_id,
            "incident_id": incident_id,
            "channel": channel,
            "state": state,
        }
        if not DeliveryTally.objects.filter(**key).update(count=F("count") + n):
            DeliveryTally.objects.create(**key, count=n)


def delivery_counts(incident_id: int | None = None, state: str = "") -> dict[str, int]:
    """Messages per state, counting those already pruned (the delivery log's totals)."""
    live = OutboxMessage.objects.all()
    kept = DeliveryTally.objects.all()
    if incident_id is not None:
        live, kept = live.filter(incident_id=incident_id), kept.filter(incident_id=incident_id)
    if state:
        live, kept = live.filter(state=state), kept.filter(state=state)
    counts = Counter(dict(live.values_list("state").annotate(n=Count("pk")).order_by()))
    for tally_state, n in kept.values_list("state", "count"):
        counts[tally_state] += n
    return dict(counts)


def counts_by_channel(incident_id: int) -> dict[str, dict[str, int]]:
    """{channel: {state: n}} for one incident, counting pruned messages (for postmortems)."""
    by: dict[str, Counter] = {}
    live = (
        OutboxMessage.objects.filter(incident_id=incident_id)
        .values_list("channel", "state")
        .annotate(n=Count("pk"))
        .order_by()
    )
    kept = DeliveryTally.objects.filter(incident_id=incident_id).values_list(
        "channel", "state", "count"
    )
    for channel, state, n in [*live, *kept]:
        by.setdefault(channel, Counter())[state] += n
    return {channel: dict(states) for channel, states in by.items()}
