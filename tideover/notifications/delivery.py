"""Delivering what a worker claimed (outbox.py claims and tells the whole story): per message
for channels whose provider cannot drop a repeat ('sending' committed before the provider sees
it), a batch at a time for idempotent ones (webhooks); cancelling what must not go any more;
backoff, rate-limit slots and failures."""

from __future__ import annotations

import logging
import random
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from tideover.core import stopping
from tideover.notifications import channels, teams
from tideover.notifications.channels import DeliveryError
from tideover.notifications.models import (
    DeliveryAttempt,
    MessageState,
    OutboxMessage,
    SendSlot,
    SubscriberState,
    out_of_queue,
    queued_again,
)
from tideover.notifications.rendering import render
from tideover.notifications.writes import (
    execute_prepared,
    start_prepared,
    stored_time,
    writing,
)

log = logging.getLogger("tideover.notifications.outbox")


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff with 'equal jitter': half fixed, half random, capped at an hour."""
    base = settings.NOTIFY_BACKOFF_SECONDS * (2 ** max(attempts - 1, 0))
    delay = min(base, 3600.0)
    return delay / 2 + random.uniform(0, delay / 2)


def wait_for_slot(key: str, per_second: float) -> None:
    """Block until this worker may send one more message on ``key`` (shared by all workers)."""
    if per_second <= 0:
        return
    interval = 1.0 / per_second
    with transaction.atomic():
        slot, _ = SendSlot.objects.select_for_update().get_or_create(key=key)
        now = time.time()
        start = max(slot.next_free_at, now)
        slot.next_free_at = start + interval
        slot.save(update_fields=["next_free_at"])
    if start > now:
        time.sleep(start - now)


def deliver_batch(batch: list[OutboxMessage], token: str, transport) -> dict:
    """Receivers drop repeats of a delivery id, so a whole batch can be marked 'sending' in one
    write and 'sent' in another: a worker dying in between only causes resends they ignore."""
    counts = defaultdict(int)
    live = []
    for message in batch:
        reason = cancel_reason(message)
        if reason:
            OutboxMessage.objects.filter(pk=message.pk, claim_token=token).update(
                **out_of_queue(MessageState.CANCELLED), last_error=reason
            )
            counts["cancelled"] += 1
        else:
            live.append(message)
    lease = timezone.now() + timedelta(seconds=settings.NOTIFY_LEASE_SECONDS)
    ids = [m.pk for m in live]
    with writing():
        taken = OutboxMessage.objects.filter(
            pk__in=ids, claim_token=token, state=MessageState.CLAIMED
        ).update(state=MessageState.SENDING, attempts=F("attempts") + 1, lease_until=lease)
    if taken != len(ids):
        still = set(
            OutboxMessage.objects.filter(
                pk__in=ids, claim_token=token, state=MessageState.SENDING
            ).values_list("pk", flat=True)
        )
        counts["lost"] += len(ids) - len(still)
        live = [m for m in live if m.pk in still]
    done = []
    for index, message in enumerate(live):
        if stopping.requested():
            # Asked to stop: these were never handed over, so they go back as they were.
            rest = [m.pk for m in live[index:]]
            OutboxMessage.objects.filter(
                pk__in=rest, claim_token=token, state=MessageState.SENDING
            ).update(**queued_again(timezone.now()), attempts=F("attempts") - 1)
            counts["released"] += len(rest)
            break
        message.attempts += 1
        rendered, error = _attempted(message, render, message)
        if error is None:
            provider_id, error = _attempted(message, transport.send, rendered)
        if error is not None:
            record_failure(message, token, error, state=MessageState.SENDING)
            counts[_failure_outcome(message, error)] += 1
            continue
        message.state = MessageState.SENT
        message.sent_at = timezone.now()
        message.provider_message_id = provider_reference(provider_id, rendered)
        message.last_error = ""
        message.claim_token = ""
        message.lease_until = None
        done.append(message)
    if done:
        record_sent(done)
        counts["sent"] += len(done)
    return counts


# A batch's 'sent', each message with its own time and provider id. On PostgreSQL one
# statement over arrays: a statement per row, even in one pipeline, cost the server about
# two and a half times the CPU (docs/benchmarks.md, thirteenth session). Only the table name and a fixed state
# are interpolated.
_TABLE = OutboxMessage._meta.db_table
SENT_EACH = (
    f"UPDATE {_TABLE} SET state = '{MessageState.SENT}', sent_at = %s, "  # noqa: S608
    "provider_message_id = %s, last_error = '', claim_token = '', lease_until = NULL "
    "WHERE id = %s"
)
SENT_ALL_POSTGRESQL = (
    f"UPDATE {_TABLE} AS m SET state = '{MessageState.SENT}', sent_at = v.sent_at, "  # noqa: S608
    "provider_message_id = v.provider_id, last_error = '', claim_token = '', lease_until = NULL "
    "FROM unnest(%s::bigint[], %s::timestamptz[], %s::text[]) AS v(id, sent_at, provider_id) "
    "WHERE m.id = v.id"
)


def record_sent(done: list[OutboxMessage]) -> None:
    """Commit 'sent' for the messages ``done`` (their ``sent_at`` and ``provider_message_id``
    set), all at once."""
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor == "postgresql":
        with db.cursor() as cursor:
            cursor.execute(
                SENT_ALL_POSTGRESQL,
                [
                    [m.pk for m in done],
                    [m.sent_at for m in done],
                    [m.provider_message_id for m in done],
                ],
            )
        return
    adapt = stored_time(db)
    rows = [(adapt(m.sent_at), m.provider_message_id, m.pk) for m in done]
    with writing(db), transaction.atomic(using=db.alias):
        execute_prepared(SENT_EACH, rows, many=True, db=db)


def cancel_reason(message: OutboxMessage) -> str:
    """Why a claimed message must not go out any more ('' to send it)."""
    subscriber = message.subscriber
    if subscriber is not None and subscriber.state == SubscriberState.UNSUBSCRIBED:
        return "recipient unsubscribed before it was sent"
    if message.endpoint is not None and not message.endpoint.is_active:
        return "staff channel switched off"
    kind = channels.get(message.channel)
    return kind.suppressed(message) if kind is not None else ""


# SentMarks's one write per message. Raw SQL: the ORM's Case/When compiled cost more than the
# write itself. Only the table name and fixed states are interpolated, and each value is one
# named parameter however often it is used (the driver converts fewer values per message).
# The state in the WHERE is written in, not a parameter: SQLite weighs a parameter compared
# with a column that a partial index is conditioned on (state, outbox_due) against that index,
# and then prepares the statement again every time it is bound: over a third of the write.
SENT_AND_NEXT_SENDING = (
    f"UPDATE {OutboxMessage._meta.db_table} SET "  # noqa: S608
    f"state = CASE WHEN id = %(done)s THEN '{MessageState.SENT}' "
    f"ELSE '{MessageState.SENDING}' END, "
    "sent_at = CASE WHEN id = %(done)s THEN %(sent_at)s ELSE sent_at END, "
    "provider_message_id = CASE WHEN id = %(done)s THEN %(provider_id)s "
    "ELSE provider_message_id END, "
    "last_error = CASE WHEN id = %(done)s THEN '' ELSE last_error END, "
    "attempts = CASE WHEN id = %(next)s THEN attempts + 1 ELSE attempts END, "
    "lease_until = CASE WHEN id = %(next)s THEN %(lease)s ELSE NULL END, "
    "claim_token = CASE WHEN id = %(next)s THEN claim_token ELSE '' END "
    "WHERE claim_token = %(token)s "
    f"AND (id = %(done)s OR (id = %(next)s AND state = '{MessageState.CLAIMED}'))"
)


class SentMarks:
    """Commits 'sent' for one message together with 'sending' for the next, in one UPDATE.

    The order of events on the provider side is unchanged (a message is 'sending' before it is
    handed over and 'sent' only after it was accepted), but each message costs one write instead
    of two. A message whose 'sent' is still pending when the worker dies is left 'sending', the
    same single uncertain message as before.
    """

    def __init__(self, token: str):
        self.token = token
        self.pending: tuple[OutboxMessage, str] | None = None
        # Held for the batch: looking the connection up (a context variable) and Django's
        # general datetime adapter cost more per mark than these, looked up once.
        self.db = connections[DEFAULT_DB_ALIAS]
        self.stored_time = stored_time(self.db)

    def flush(self) -> None:
        """Record the pending 'sent' on its own."""
        if self.pending is not None:
            message, provider_id = self.pending
            self.pending = None
            with writing(self.db):
                OutboxMessage.objects.filter(pk=message.pk, claim_token=self.token).update(
                    state=MessageState.SENT,
                    sent_at=timezone.now(),
                    provider_message_id=provider_id,
                    last_error="",
                    claim_token="",
                    lease_until=None,
                )

    def sending(self, message: OutboxMessage) -> bool:
        """Commit 'sending' for ``message`` (and the pending 'sent'); False if the claim was lost."""
        return self.start_sending(message)()

    def start_sending(self, message: OutboxMessage) -> Callable[[], bool]:
        """``sending`` in two steps: this sends the mark to the database, and calling what it
        returns waits until it is committed (True) or says the claim was lost (False). In
        between, use no database (``writes.start_prepared``)."""
        now = timezone.now()
        lease = now + timedelta(seconds=settings.NOTIFY_LEASE_SECONDS)
        if self.pending is None:
            mine = Q(pk=message.pk, state=MessageState.CLAIMED)
            with writing(self.db):
                taken = OutboxMessage.objects.filter(mine, claim_token=self.token).update(
                    state=MessageState.SENDING, attempts=F("attempts") + 1, lease_until=lease
                )
            return lambda: bool(taken)
        done, provider_id = self.pending
        self.pending = None
        params = {
            "done": done.pk,
            "sent_at": self.stored_time(now),
            "provider_id": provider_id,
            "next": message.pk,
            "lease": self.stored_time(lease),
            "token": self.token,
        }
        with writing(self.db):
            updated = start_prepared(SENT_AND_NEXT_SENDING, params, db=self.db)

        def committed() -> bool:
            if updated() == 2:
                return True
            # Rare: one of the two had lost its claim. Read which.
            return OutboxMessage.objects.filter(
                pk=message.pk, state=MessageState.SENDING, claim_token=self.token
            ).exists()

        return committed


def deliver_one(message: OutboxMessage, marks: SentMarks, transport) -> str:
    """Send one message of a channel whose provider cannot drop a repeat.

    Rendering needs the database, so it comes first. Then the message's 'sending' mark goes to
    the database, and while it commits the transport builds what goes on the wire (an e-mail's
    MIME text, a fifth of a millisecond of CPU on the worker that would otherwise wait for
    PostgreSQL's answer). The provider sees the message only once the mark is committed."""
    token = marks.token
    reason = cancel_reason(message)
    if reason:
        OutboxMessage.objects.filter(pk=message.pk, claim_token=token).update(
            **out_of_queue(MessageState.CANCELLED), last_error=reason
        )
        return "cancelled"
    limit = transport.rate_limit()
    if limit is not None:
        wait_for_slot(*limit)
    message.attempts += 1  # this attempt, whatever comes of it
    rendered, error = _attempted(message, render, message)
    if error is not None:  # never marked 'sending', so the attempt is counted here
        record_failure(message, token, error, count_attempt=True)
        return _failure_outcome(message, error)
    # Committed before the provider sees the message: this is what a restarted worker reads to
    # decide between 'never sent' (claimed) and 'maybe sent' (sending).
    committed = marks.start_sending(message)
    prepared, error = _attempted(message, transport.prepare, rendered)
    if not committed():
        return "lost"  # our lease expired and someone else has it now
    if error is None:
        provider_id, error = _attempted(message, transport.send_prepared, prepared)
    if error is not None:
        record_failure(message, token, error, state=MessageState.SENDING)
        return _failure_outcome(message, error)
    marks.pending = (message, provider_reference(provider_id, rendered))
    return "sent"


def _attempted(message: OutboxMessage, step, *args):
    """(what ``step(*args)`` returned, None) or (None, the DeliveryError it raised or stands
    for): a bug in rendering or a transport must not end the worker; the message is retried."""
    try:
        return step(*args), None
    except DeliveryError as exc:
        return None, exc
    except Exception as exc:
        log.exception("sending message %s failed unexpectedly", message.pk)
        return None, DeliveryError(f"internal error: {type(exc).__name__}")


def _failure_outcome(message: OutboxMessage, error: DeliveryError) -> str:
    return "failed" if error.permanent or exhausted(message) else "retry"


def provider_reference(provider_id: str, rendered) -> str:
    """What a message keeps of the id its provider answered with: nothing when that is the
    delivery id we gave it (an e-mail's Message-ID, a webhook's delivery header), which its
    dedupe key gives again. So the 'sent' of e-mails and webhooks changes no indexed column
    (models.OutboxMessage.Meta); an SMS keeps its provider's id, which its receipts name."""
    return "" if provider_id == rendered.delivery_id else provider_id[:100]


def exhausted(message: OutboxMessage) -> bool:
    return message.attempts >= settings.NOTIFY_MAX_ATTEMPTS


def record_failure(
    message, token, exc: DeliveryError, state=MessageState.CLAIMED, count_attempt=False
) -> None:
    """``count_attempt``: the attempt was not counted when 'sending' was marked (the channel
    failed before any message reached it), so count it here."""
    give_up = exc.permanent or exhausted(message)
    next_at = timezone.now() + timedelta(seconds=backoff_seconds(max(message.attempts, 1)))
    extra = {"attempts": F("attempts") + 1} if count_attempt else {}
    with transaction.atomic():
        OutboxMessage.objects.filter(pk=message.pk, claim_token=token).update(
            **extra,
            **(out_of_queue(MessageState.FAILED) if give_up else queued_again(next_at)),
            last_error=exc.message,
        )
        DeliveryAttempt.objects.create(message_id=message.pk, error=exc.message, permanent=give_up)
        if message.endpoint_id:
            # A staff channel that fails hands the briefing to its team's next channel now.
            teams.fall_back(message, exc.message)
    log.info("message %s attempt %s: %s", message.pk, message.attempts, exc.message)
