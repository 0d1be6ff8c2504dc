"""Draining the outbox: claim, send, record. Safe with any number of workers.

How a message moves, and why it is never sent twice:

1. *Claim*: a worker takes a batch of due ``queued`` rows in one transaction (``SELECT ... FOR
   UPDATE SKIP LOCKED`` on PostgreSQL; on SQLite the write lock taken at BEGIN IMMEDIATE
   serialises claims), stamping its claim token and a lease, and records the batch as an
   ``OutboxClaim`` (its token and ids), deleted when the batch is done. Other workers skip them.
2. *Sending*: right before handing a message to its provider the worker commits ``sending``
   (only if its claim still holds). After the provider accepts, it commits ``sent`` with the
   provider's id. A failure commits ``queued`` again with a backed-off next attempt, or
   ``failed`` when the error is permanent or attempts run out.
3. *A worker dies*: the claim it leaves behind names its rows. Its ``claimed`` rows were
   never handed to a provider, so when the lease expires they go back to ``queued``. A row
   left in ``sending`` is the one narrow window where we cannot know whether the provider
   accepted it:
   - webhooks carry the same ``Tideover-Delivery`` id on every attempt and receivers drop
     repeats, so the row is queued again (at-least-once on the wire, once for the receiver);
   - SMTP and SMS have no idempotency key, so the row is marked ``failed`` with an error that
     says so, and never resent on its own (at-most-once). Staff can retry it from the console.
   At most one message per dead worker is in that window, because ``sending`` is set per message.
   Marks commit without waiting for PostgreSQL's WAL flush (``writes.marks_without_flush_wait``):
   a killed worker loses none of them; only a crash of the database server can (see
   docs/notifications.md, "Speed, and what a database crash can cost").
4. *A worker is asked to stop* (SIGTERM/SIGINT to ``tideover worker``, see core/worker.py): it
   finishes the message it is handing to a provider, records it, and gives back everything else
   it claimed (``queued`` again, the attempt not counted), so a stopped worker leaves nothing
   ``claimed`` or ``sending`` behind.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from tideover.core import stopping
from tideover.notifications import hooks, rendering
from tideover.notifications.channels import DeliveryError, reads_when_sending, transport_for
from tideover.notifications.delivery import (
    SentMarks,
    deliver_batch,
    deliver_one,
    exhausted,
    record_failure,
)
from tideover.notifications.fanout import wake_workers
from tideover.notifications.models import (
    Category,
    DeliveryAttempt,
    MessageState,
    Notification,
    OutboxClaim,
    OutboxMessage,
    out_of_queue,
    queued_again,
)
from tideover.notifications.writes import marks_without_flush_wait, writing

log = logging.getLogger("tideover.notifications.outbox")

HELD = (MessageState.CLAIMED, MessageState.SENDING)  # rows a worker holds

UNCERTAIN_ERROR = (
    "worker stopped while sending; the provider may have accepted it, so it is not resent "
    "automatically (no duplicate). Retry it if the recipient did not get it."
)


# What sending reads of a message, its subscriber and its staff endpoint: the batch's read
# builds nothing else (a datetime made for every row's unread timestamps was about a fifth of
# the ORM's work per message), besides what a channel names in ``reads_when_sending``. A rare
# path that reads another field loads it on first use, as Django does; test_batch_reads.py
# checks that sending more messages reads no more rows.
READ_WHEN_SENDING = (
    "id",
    "channel",
    "recipient",
    "category",
    "notification_id",
    "incident_id",
    "subject",
    "body",
    "dedupe_key",
    "attempts",
    "subscriber__token",
    "subscriber__secret",
    "subscriber__state",
    "endpoint__name",  # a failing staff channel's note on the incident's timeline
    "endpoint__secret",
    "endpoint__is_active",
)


def recover_expired_leases(now=None) -> dict:
    """Put rows of dead workers back (claimed) or settle them (sending). Returns counts.

    The rows looked at are those of the claims still on record (OutboxClaim): a worker deletes
    its claim when its batch is done, so what is left is batches in progress and those of
    workers that died; each row's own lease says which."""
    now = now or timezone.now()
    counts = {"requeued": 0, "uncertain": 0, "resent": 0}
    for tokens, ids in _claims_in_groups():
        counts["requeued"] += OutboxMessage.objects.filter(
            pk__in=ids, state=MessageState.CLAIMED, lease_until__lt=now
        ).update(**queued_again(now))
        stuck = OutboxMessage.objects.filter(
            pk__in=ids, state=MessageState.SENDING, lease_until__lt=now
        )
        for message in stuck.only("pk", "channel", "claim_token"):
            _settle_stuck(message, now, counts)
        _forget_settled(tokens, ids)
    return counts


def _forget_settled(tokens: list[str], ids: list[int]) -> None:
    """Delete the claims ``tokens`` (over the rows ``ids``) under which no row is held any
    more, in one statement; one a row is still held under stays, for recover_expired_leases."""
    still_held = OutboxMessage.objects.filter(
        pk__in=ids, claim_token=OuterRef("token"), state__in=HELD
    )
    with writing():
        OutboxClaim.objects.filter(token__in=tokens).exclude(Exists(still_held)).delete()


def _settle_stuck(message: OutboxMessage, now, counts: dict) -> None:
    """A row left 'sending' by a stopped worker: sent again where receivers drop repeats,
    otherwise failed (the provider may have it)."""
    idempotent = _idempotent(message.channel)
    with transaction.atomic():
        changed = OutboxMessage.objects.filter(
            pk=message.pk, state=MessageState.SENDING, claim_token=message.claim_token
        ).update(
            **(queued_again(now) if idempotent else out_of_queue(MessageState.FAILED)),
            last_error="" if idempotent else UNCERTAIN_ERROR,
        )
        if not changed:
            return
        if not idempotent:
            log.warning(
                "message %s was left sending by a stopped worker: marked failed, not "
                "resent (the provider may have it); staff can retry it",
                message.pk,
            )
        DeliveryAttempt.objects.create(
            message_id=message.pk,
            error="worker stopped mid-send; resent with the same delivery id"
            if idempotent
            else UNCERTAIN_ERROR,
        )
        counts["resent" if idempotent else "uncertain"] += 1


def _claims_in_groups(most: int = 5000):
    """The claims on record as (tokens, their rows' ids), in groups of at most ``most`` ids
    (one statement's parameters)."""
    tokens, ids = [], []
    for token, claimed in OutboxClaim.objects.order_by("created_at").values_list(
        "token", "message_ids"
    ):
        if ids and len(ids) + len(claimed) > most:
            yield tokens, ids
            tokens, ids = [], []
        tokens.append(token)
        ids.extend(claimed)
    if ids:
        yield tokens, ids


def record_unrecorded_claims(now=None) -> int:
    """Give a claim record to rows held under a claim that has none, so that
    ``recover_expired_leases`` settles them; returns how many rows. Hourly.

    Only a worker of a release before OutboxClaim claims that way (it keeps the rows'
    next_attempt_at): one killed while holding rows after the upgrade's migration would leave
    them held for ever. The read goes through ``outbox_due`` (rows with a next_attempt_at), over
    overdue queued rows and such held ones, not through the whole outbox."""
    now = now or timezone.now()
    rows = OutboxMessage.objects.filter(
        next_attempt_at__lt=now, state__in=HELD, lease_until__lt=now
    ).values_list("pk", "claim_token")
    unrecorded: dict[str, list[int]] = {}
    for pk, token in rows.iterator():
        unrecorded.setdefault(token, []).append(pk)
    for token in OutboxClaim.objects.filter(token__in=unrecorded).values_list("token", flat=True):
        del unrecorded[token]
    OutboxClaim.objects.bulk_create(
        [OutboxClaim(token=t, message_ids=ids) for t, ids in unrecorded.items()],
        ignore_conflicts=True,  # another worker's run recording the same claim meanwhile
    )
    return sum(len(ids) for ids in unrecorded.values())


def held_count() -> int:
    """Messages workers hold now (claimed or sending), for the delivery console."""
    return sum(
        OutboxMessage.objects.filter(pk__in=ids, state__in=HELD).count()
        for _, ids in _claims_in_groups()
    )


def _idempotent(channel: str) -> bool:
    try:
        return transport_for(channel).idempotent
    except DeliveryError:
        return False


def claim_batch(limit: int | None = None, now=None, channels=None) -> tuple[str, list[int]]:
    """Take up to ``limit`` due messages for this worker; returns (claim token, ids)."""
    now = now or timezone.now()
    limit = limit or settings.NOTIFY_BATCH_SIZE
    token = uuid.uuid4().hex
    lease = now + timedelta(seconds=settings.NOTIFY_LEASE_SECONDS)
    with writing(), transaction.atomic():
        walk_due_in_order()
        ids = list(due_in_order(now, channels)[:limit])
        if ids:
            # Leaving the queue empties next_attempt_at: the one change of an indexed column
            # in a message's delivery (models.OutboxMessage.Meta).
            OutboxMessage.objects.filter(pk__in=ids, state=MessageState.QUEUED).update(
                state=MessageState.CLAIMED,
                claim_token=token,
                lease_until=lease,
                next_attempt_at=None,
            )
            OutboxClaim.objects.create(token=token, message_ids=ids)
    return token, ids


def due_in_order(now, channels=None):
    """The ids of due queued messages, in the order they are sent, locked for the claim
    (rows another worker is claiming are skipped)."""
    due = OutboxMessage.objects.filter(state=MessageState.QUEUED, next_attempt_at__lte=now)
    if channels:
        due = due.filter(channel__in=channels)
    return (
        due.order_by("next_attempt_at", "pk")
        .select_for_update(skip_locked=True)
        .values_list("pk", flat=True)
    )


def walk_due_in_order() -> None:
    """On PostgreSQL, have this transaction's claim walk ``outbox_due`` in its order and stop
    after the batch, whatever the planner believes of how many rows are due.

    The planner estimates the due rows from the table's statistics; when they say fewer rows
    are queued than a batch takes (a new table not analysed yet, or statistics taken in a quiet
    hour before an update to many subscribers), it judged stopping early worthless and read
    and sorted every due row for each claim instead, a cost that grows with the queue
    (bench/outbox_batch_writes.py; test_claim_plan.py checks the plan). With sorting off for
    the claim's transaction the ordered walk is its only plan."""
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_sort = off")


def deliver_claimed(token: str, ids: list[int]) -> dict:
    """Send the messages ``ids`` this worker claimed with ``token`` (those it still holds)."""
    with marks_without_flush_wait(), rendering.batch():
        counts = _deliver_claimed(token, ids)
    _forget_settled([token], ids)  # if sending raised, recover_expired_leases does it
    return counts


def _deliver_claimed(token: str, ids: list[int]) -> dict:
    counts = defaultdict(int)
    messages = list(
        OutboxMessage.objects.filter(pk__in=ids, claim_token=token, state=MessageState.CLAIMED)
        .select_related("subscriber", "endpoint")
        .only(*READ_WHEN_SENDING, *reads_when_sending())
        .order_by("channel", "pk")
    )
    hooks.write_texts(messages)  # texts written when sent (a campaign's), for the whole batch
    # A batch is mostly one update's messages: read each notification (and its incident) once,
    # not once per row as a join would build them.
    notifications = Notification.objects.select_related("incident").in_bulk(
        {m.notification_id for m in messages if m.notification_id is not None}
    )
    by_channel = defaultdict(list)
    for message in messages:
        if message.notification_id in notifications:
            message.notification = notifications[message.notification_id]
        by_channel[message.channel].append(message)
    # Rate-limited channels (SMS) go last, so they do not hold up the rest of the batch.
    order = sorted(by_channel, key=lambda ch: _rate_limited(ch))
    for channel in order:
        batch = by_channel[channel]
        if stopping.requested():
            _release([m.pk for m in batch], token)
            counts["released"] += len(batch)
            continue
        transport = None
        try:
            transport = transport_for(channel)
            transport.open()
        except DeliveryError as exc:
            # The channel could not even open (SMTP down, SMS not configured): that is an
            # attempt for every message in it, so backoff grows and NOTIFY_MAX_ATTEMPTS ends it.
            for message in batch:
                message.attempts += 1
                record_failure(message, token, exc, count_attempt=True)
                counts["failed" if exc.permanent or exhausted(message) else "retry"] += 1
            continue
        limit = transport.rate_limit()
        if limit is not None:
            # A rate-limited channel cannot send its whole batch within the lease: hand the
            # rest back now rather than let the lease run out under it.
            fits = max(1, int(limit[1] * settings.NOTIFY_LEASE_SECONDS / 2))
            _release([m.pk for m in batch[fits:]], token)
            batch = batch[:fits]
        if transport.idempotent and limit is None:
            try:
                for outcome, count in deliver_batch(batch, token, transport).items():
                    counts[outcome] += count
            finally:
                transport.close()
            continue
        marks = SentMarks(token)
        try:
            for index, message in enumerate(batch):
                if stopping.requested():
                    _release([m.pk for m in batch[index:]], token)
                    counts["released"] += len(batch) - index
                    break
                counts[deliver_one(message, marks, transport)] += 1
        finally:
            marks.flush()
            transport.close()
    return dict(counts)


def _rate_limited(channel: str) -> bool:
    try:
        return transport_for(channel).rate_limit() is not None
    except DeliveryError:
        return False


def _release(ids: list[int], token: str) -> None:
    if ids:
        OutboxMessage.objects.filter(
            pk__in=ids, claim_token=token, state=MessageState.CLAIMED
        ).update(**queued_again(timezone.now()))


def queue_direct(channel, recipient, subject, body, dedupe_key, **extra) -> None:
    """Queue one message whose subject and body are written now (a confirmation, a reminder);
    a second call with the same ``dedupe_key`` queues nothing."""
    OutboxMessage.objects.bulk_create(
        [
            OutboxMessage(
                channel=channel,
                recipient=recipient,
                subject=subject,
                body=body,
                dedupe_key=dedupe_key[:200],
                **extra,
            )
        ],
        ignore_conflicts=True,
    )


def queue_staff_messages(messages: list[dict]) -> int:
    """Queue messages to staff written now (a page from Detect): each a dict of ``channel``,
    ``recipient``, ``subject``, ``body``, ``dedupe_key`` and, for a staff channel, ``endpoint``.
    A ``dedupe_key`` already queued queues nothing again. Workers are woken after commit.
    Returns how many were asked for."""
    rows = [
        OutboxMessage(
            channel=item["channel"],
            recipient=item["recipient"],
            category=Category.INTERNAL,
            endpoint=item.get("endpoint"),
            subject=item["subject"],
            body=item["body"],
            dedupe_key=item["dedupe_key"][:200],
        )
        for item in messages
    ]
    OutboxMessage.objects.bulk_create(rows, ignore_conflicts=True)
    if rows:
        wake_workers(len(rows))
    return len(rows)


def drain(max_seconds: float | None = None, batch_size: int | None = None, channels=None) -> dict:
    """Claim and send until nothing is due (or time is up). Returns counts by outcome."""
    started = time.monotonic()
    totals = defaultdict(int)
    recover_expired_leases()
    while not stopping.requested():
        token, ids = claim_batch(batch_size, channels=channels)
        if not ids:
            break
        for outcome, count in deliver_claimed(token, ids).items():
            totals[outcome] += count
        if max_seconds is not None and time.monotonic() - started > max_seconds:
            break
    return dict(totals)
