"""Marketing messages in bulk (goodwill campaigns): queued in the outbox at once, each due at
the end of its recipient's quiet hours in their store's time zone, held and released as a
campaign pauses and resumes, counted for progress. Sending is the outbox's usual work: the
provider's rate, retries, STOP, nothing twice per dedupe key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import Count
from django.utils import timezone

from tideover.notifications import hooks
from tideover.notifications.member_messages import next_allowed_time
from tideover.notifications.models import (
    Category,
    MessageState,
    OutboxMessage,
    out_of_queue,
    queued_again,
)

# Held messages wait "forever" (until released): the claim only takes rows that are due.
HELD_UNTIL = datetime(9000, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class MarketingMessage:
    channel: str  # email or sms
    recipient: str
    subject: str
    body: str
    dedupe_key: str
    time_zone: str = ""


def queue_marketing(
    messages: list[MarketingMessage], *, incident_id: int | None = None, now=None
) -> int:
    """Queue marketing messages (consent is the caller's to check); a dedupe key already queued
    is skipped. Returns how many rows were offered to the outbox."""
    now = now or timezone.now()
    adapt = connection.ops.adapt_datetimefield_value
    due: dict[str, object] = {}
    created = adapt(now)
    rows = []
    marketing, queued = Category.MARKETING.value, MessageState.QUEUED.value  # once, not per row
    for message in messages:
        if message.channel not in ("email", "sms"):
            raise ValueError(f"marketing goes by e-mail or SMS, not {message.channel}")
        if message.time_zone not in due:
            due[message.time_zone] = adapt(next_allowed_time(now, message.time_zone))
        rows.append(
            (message.channel, message.recipient, marketing, incident_id,
             message.subject[:300], message.body, message.dedupe_key[:200],
             queued, 0, due[message.time_zone], created, "", "", "")
        )  # fmt: skip
    if rows:
        # A million messages: plain parameterised INSERTs of many rows each (on SQLite about
        # half the CPU of executemany's row-at-a-time) instead of a model instance per row.
        table = connection.ops.quote_name(OutboxMessage._meta.db_table)
        columns = ", ".join(connection.ops.quote_name(c) for c in _COLUMNS)
        marks = "(" + ", ".join(["%s"] * len(_COLUMNS)) + ")"
        if connection.vendor == "postgresql" and _copy(table, columns, rows):
            return len(rows)
        per = 30_000 // len(_COLUMNS)  # SQLite takes up to 32,766 parameters a statement
        with transaction.atomic(), connection.cursor() as cursor:
            for start in range(0, len(rows), per):
                part = rows[start : start + per]
                cursor.execute(
                    f"INSERT INTO {table} ({columns}) VALUES {', '.join([marks] * len(part))} "  # noqa: S608
                    "ON CONFLICT (dedupe_key) DO NOTHING",
                    [value for row in part for value in row],
                )
    return len(rows)


def _copy(table: str, columns: str, rows: list[tuple]) -> bool:
    """PostgreSQL's bulk path (COPY). COPY cannot skip duplicates, so when any dedupe key was
    queued before, the savepoint rolls back and the caller inserts row by row, skipping it."""
    try:
        with (
            transaction.atomic(),
            connection.cursor() as cursor,
            connection.wrap_database_errors,
            cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
    except IntegrityError:
        return False
    return True


# Every NOT NULL column without a database default (Django keeps defaults in Python).
_COLUMNS = [
    "channel", "recipient", "category", "incident_id", "subject", "body", "dedupe_key", "state",
    "attempts", "next_attempt_at", "created_at", "claim_token", "provider_message_id",
    "last_error",
]  # fmt: skip


def _campaign_rows(incident_id: int, key_prefix: str):
    return OutboxMessage.objects.filter(
        incident_id=incident_id,
        category=Category.MARKETING,
        dedupe_key__startswith=key_prefix,
    )


@transaction.atomic
def hold(incident_id: int, key_prefix: str) -> int:
    """Keep a campaign's messages from being sent: queued ones, and ones a worker claimed but
    has not started sending (taken back: the worker's step to ``sending`` needs its claim, so
    it skips them). A message already in a provider's hands still goes."""
    rows = _campaign_rows(incident_id, key_prefix)
    taken_back = rows.filter(state=MessageState.CLAIMED).update(**queued_again(HELD_UNTIL))
    return taken_back + rows.filter(state=MessageState.QUEUED).update(next_attempt_at=HELD_UNTIL)


@transaction.atomic
def release(incident_id: int, key_prefix: str, time_zone: str = "", now=None) -> int:
    """Let held messages under ``key_prefix`` go, at the end of quiet hours in ``time_zone``."""
    send_at = next_allowed_time(now or timezone.now(), time_zone)
    return (
        _campaign_rows(incident_id, key_prefix)
        .filter(state=MessageState.QUEUED, next_attempt_at=HELD_UNTIL)
        .update(next_attempt_at=send_at)
    )


def progress(incident_id: int, key_prefix: str) -> dict:
    """Messages of a campaign by state (queued, sent, delivered, failed, cancelled...)."""
    rows = _campaign_rows(incident_id, key_prefix).values("state").annotate(n=Count("pk"))
    return {row["state"]: row["n"] for row in rows.order_by()}


def messages_to(recipients: list[str]) -> list[OutboxMessage]:
    """Every message sent to these addresses or numbers, newest first (customer service)."""
    found = list(
        OutboxMessage.objects.filter(recipient__in=[r for r in recipients if r]).order_by(
            "-created_at", "-pk"
        )[:200]
    )
    hooks.write_texts(found)  # a campaign's texts, as they were (or will be) sent
    return found


def cancel_marketing(recipient: str) -> int:
    """The recipient opted out: their queued marketing messages are not sent."""
    return OutboxMessage.objects.filter(
        recipient=recipient, category=Category.MARKETING, state=MessageState.QUEUED
    ).update(**out_of_queue(MessageState.CANCELLED), last_error="recipient opted out")
