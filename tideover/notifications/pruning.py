"""Nothing grows forever: finished outbox messages and their delivery attempts are deleted
after ``PRUNE_MESSAGES_DAYS``, and what they add up to is kept in ``DeliveryTally`` (per
notification, incident, category, channel and state), so the delivery log's and the
postmortem's totals stay true (notifications/figures.py adds them in). A periodic job (``prune-outbox``) runs it.

The rows go in batches of ``BATCH`` in short transactions, each tallying exactly the rows it
deletes, so a stop in the middle loses nothing and a long backlog never holds a long lock.
A pruned message's dedupe key goes with it: the retention must be longer than any time in
which the same event could be fanned out again (days, not months, in practice).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
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
            # Locked until the batch commits: a message staff retry meanwhile (failed ->
            # queued) waits, and is then gone rather than deleted after it was queued again;
            # one locked by a retry already is left for the next run, as is one another
            # pruning run holds (on SQLite the write transaction serialises all of this).
            ids = list(
                OutboxMessage.objects.filter(state__in=FINISHED, created_at__lt=cutoff)
                .select_for_update(skip_locked=True)
                .order_by("pk")
                .values_list("pk", flat=True)[:BATCH]
            )
            if not ids:
                break
            _tally(ids)
            hooks.before_prune(ids)
            attempts, messages = _delete(ids)
            totals["attempts"] += attempts
            totals["messages"] += messages
    return dict(totals) or {"messages": 0, "attempts": 0}


def _delete(ids: list[int]) -> tuple[int, int]:
    """Delete the messages ``ids`` and every row that points at one (their attempts, staff
    fallback records: each such foreign key cascades, tests/test_pruning.py checks it);
    returns (attempts, messages).

    One DELETE per table, the ids as one parameter. ``QuerySet.delete()`` first read every
    message and related row into model instances to cascade by hand, and an ``__in`` filter has
    Django prepare one parameter per id: together about ten times a plain DELETE of the same
    rows (bench/prune.py). No signal listens to these models."""
    attempts = 0
    with connection.cursor() as cursor:
        for relation in pointing_at_messages():
            where, params = _one_of(relation.field.column, ids)
            table = relation.related_model._meta.db_table
            cursor.execute(f"DELETE FROM {table} WHERE {where}", params)  # noqa: S608
            if relation.related_model is DeliveryAttempt:
                attempts += cursor.rowcount
        where, params = _one_of("id", ids)
        table = OutboxMessage._meta.db_table
        cursor.execute(f"DELETE FROM {table} WHERE {where}", params)  # noqa: S608
        return attempts, cursor.rowcount


def pointing_at_messages() -> list:
    """The relations of every foreign key to a message (those named "+" too)."""
    fields = OutboxMessage._meta.get_fields(include_hidden=True)
    return [
        f for f in fields if f.auto_created and not f.concrete and (f.one_to_many or f.one_to_one)
    ]


def _one_of(column: str, ids: list[int]) -> tuple[str, list]:
    """SQL for "``column`` is one of ``ids``" and its one parameter: an array on PostgreSQL, a
    JSON list read by ``json_each`` on SQLite."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [ids]
    return f"{column} IN (SELECT value FROM json_each(%s))", [json.dumps(ids)]  # noqa: S608


def _tally(ids: list[int]) -> None:
    where, params = _one_of("id", ids)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT notification_id, incident_id, category, channel, state, COUNT(*) "  # noqa: S608
            f"FROM {OutboxMessage._meta.db_table} WHERE {where} "
            "GROUP BY notification_id, incident_id, category, channel, state",
            params,
        )
        groups = cursor.fetchall()
    for notification_id, incident_id, category, channel, state, n in groups:
        key = {
            "notification_id": notification_id,
            "incident_id": incident_id,
            "category": category,
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
