"""Delivering what a worker claimed (outbox.py claims and tells the whole story): per message
for channels whose provider cannot drop a repeat ('sending' committed before the provider sees
it), a batch at a time for idempotent ones (webhooks); cancelling what must not go any more;
backoff, rate-limit slots and failures."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import os
import random
import re
import threading
import time
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from tideover.core import lockfiles, stopping
from tideover.notifications import channels, teams
from tideover.notifications.channels import DeliveryError
from tideover.notifications.models import (
    DeliveryAttempt,
    MessageState,
    OutboxMessage,
    SendSlot,
    SubscriberState,
)
from tideover.notifications.rendering import render

log = logging.getLogger("tideover.notifications.outbox")


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff with 'equal jitter': half fixed, half random, capped at an hour."""
    base = settings.NOTIFY_BACKOFF_SECONDS * (2 ** max(attempts - 1, 0))
    delay = min(base, 3600.0)
    return delay / 2 + random.uniform(0, delay / 2)


@contextlib.contextmanager
def marks_without_flush_wait():
    """On PostgreSQL, commit this worker's marks without waiting for the WAL flush.

    Each message costs one commit (its 'sending' with the previous message's 'sent'); with
    ``synchronous_commit`` on, each waits for a disk flush, which halves the delivery rate. A
    commit made with it off is visible at once and kept in PostgreSQL's memory, so a worker that
    is killed loses none of its marks (the crash promise holds); only a crash of the PostgreSQL
    server itself can lose the last ~0.6 s of them (3 x wal_writer_delay), which
    NOTIFY_MARKS_WAIT_FOR_FLUSH trades back for speed. SQLite already commits this way (WAL with
    synchronous=NORMAL, settings.py).
    """
    if connection.vendor != "postgresql" or settings.NOTIFY_MARKS_WAIT_FOR_FLUSH:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO off")
    try:
        yield
    finally:
        # A broken connection is thrown away by Django, setting and all.
        with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


class _WriteTurns(threading.local):
    """The lock file this process's delivering connection takes turns at (see ``writing``)."""

    path: str | None = None
    fd: int | None = None

    def file(self) -> int | None:
        path = lockfiles.beside_database(lockfiles.OUTBOX_WRITES)
        if path is None:
            return None  # one process's own database: nobody to take turns with
        if self.path != path:
            if self.fd is not None:
                os.close(self.fd)
            self.fd = lockfiles.open_lock(path)
            self.path = path
        return self.fd


_turns = _WriteTurns()


@contextlib.contextmanager
def writing():
    """On SQLite, wait for this write's turn on a file lock the delivering workers share.

    SQLite lets one writer in at a time, and a connection that finds the write lock taken
    sleeps in its busy handler (1, 2, 5, 10 ms and longer) before it looks again, though the
    lock is held for a tenth of a millisecond. With a mark per message and several workers,
    that sleeping was a good part of delivery's time. Workers queue on ``flock`` instead: the
    kernel wakes the next one the moment the lock is released. Other writers (web requests,
    other tasks) do not take the file lock and still wait on busy_timeout as before.

    Inside an open transaction this does nothing: it could hold SQLite's lock while waiting
    for the file lock that a worker waiting for SQLite's lock holds.
    """
    fd = None
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor == "sqlite" and not db.in_atomic_block:
        fd = _turns.file()
    if fd is None:
        yield
        return
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


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
                state=MessageState.CANCELLED, last_error=reason, claim_token="", lease_until=None
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
            ).update(
                state=MessageState.QUEUED,
                attempts=F("attempts") - 1,
                claim_token="",
                lease_until=None,
            )
            counts["released"] += len(rest)
            break
        message.attempts += 1
        try:
            provider_id = transport.send(render(message))
        except DeliveryError as exc:
            record_failure(message, token, exc, state=MessageState.SENDING)
            counts["failed" if exc.permanent or exhausted(message) else "retry"] += 1
            continue
        except Exception as exc:  # keep the worker alive; the message is retried
            log.exception("sending message %s failed unexpectedly", message.pk)
            error = DeliveryError(f"internal error: {type(exc).__name__}")
            record_failure(message, token, error, MessageState.SENDING)
            counts["retry"] += 1
            continue
        message.state = MessageState.SENT
        message.sent_at = timezone.now()
        message.provider_message_id = provider_id[:100]
        message.last_error = ""
        message.claim_token = ""
        message.lease_until = None
        done.append(message)
    if done:
        table = OutboxMessage._meta.db_table
        adapt = connection.ops.adapt_datetimefield_value
        sql = (
            f"UPDATE {table} SET state = '{MessageState.SENT}', sent_at = %s, "  # noqa: S608
            "provider_message_id = %s, last_error = '', claim_token = '', lease_until = NULL "
            "WHERE id = %s"
        )
        rows = [(adapt(m.sent_at), m.provider_message_id, m.pk) for m in done]
        with writing(), transaction.atomic():
            _execute_prepared(sql, rows, many=True)
        counts["sent"] += len(done)
    return counts


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

    def flush(self) -> None:
        """Record the pending 'sent' on its own."""
        if self.pending is not None:
            message, provider_id = self.pending
            self.pending = None
            with writing():
                OutboxMessage.objects.filter(pk=message.pk, claim_token=self.token).update(
                    state=MessageState.SENT,
                    sent_at=timezone.now(),
                    provider_message_id=provider_id[:100],
                    last_error="",
                    claim_token="",
                    lease_until=None,
                )

    def sending(self, message: OutboxMessage) -> bool:
        """Commit 'sending' for ``message`` (and the pending 'sent'); False if the claim was lost."""
        now = timezone.now()
        lease = now + timedelta(seconds=settings.NOTIFY_LEASE_SECONDS)
        if self.pending is None:
            mine = Q(pk=message.pk, state=MessageState.CLAIMED)
            with writing():
                return bool(
                    OutboxMessage.objects.filter(mine, claim_token=self.token).update(
                        state=MessageState.SENDING, attempts=F("attempts") + 1, lease_until=lease
                    )
                )
        done, provider_id = self.pending
        self.pending = None
        adapt = connections[DEFAULT_DB_ALIAS].ops.adapt_datetimefield_value
        params = {
            "done": done.pk,
            "sent_at": adapt(now),
            "provider_id": provider_id[:100],
            "next": message.pk,
            "lease": adapt(lease),
            "token": self.token,
        }
        with writing():
            updated = _execute_prepared(SENT_AND_NEXT_SENDING, params)
        if updated == 2:
            return True
        # Rare: one of the two had lost its claim. Read which.
        return OutboxMessage.objects.filter(
            pk=message.pk, state=MessageState.SENDING, claim_token=self.token
        ).exists()


PREPARE_THRESHOLD = 5  # psycopg's own default: runs before a statement is prepared on its own


def _execute_prepared(sql: str, params: list | dict, many: bool = False) -> int:
    """Run a statement that delivery repeats for every message; returns the rows it changed
    (``many``: once for each parameter list in ``params``, rows changed not counted).

    On PostgreSQL it runs as a prepared statement: parsed and planned once per connection
    instead of once per message (Django binds parameters in the client, so the server parses
    every statement it gets; for the per-message mark that was about a quarter of PostgreSQL's
    CPU per e-mail). A pooler in front of PostgreSQL must keep prepared statements per client
    (PgBouncer 1.21 or newer with ``max_prepared_statements``; docs/deploy.md)."""
    # The connection itself, not django.db.connection: each attribute read through that proxy
    # looks the connection up again, and a mark made eight of them.
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor == "sqlite":
        # The driver's own cursor, which keeps its prepared statements by text: Django's
        # cursor wrapper rewrote the placeholders and passed through four layers for each mark.
        db.ensure_connection()
        with db.wrap_database_errors:
            cursor = db.connection.cursor()
            try:
                if many:
                    cursor.executemany(_qmark(sql), params)
                    return 0
                cursor.execute(_qmark(sql), params)
                return cursor.rowcount
            finally:
                cursor.close()
    if db.vendor != "postgresql":
        with db.cursor() as cursor:
            if many:
                cursor.executemany(sql, params)
                return 0
            cursor.execute(sql, params)
            return cursor.rowcount
    import psycopg

    db.ensure_connection()
    raw = db.connection
    if raw.prepare_threshold is None:
        # Django turns psycopg's prepared statements off for its own (client-binding) cursors,
        # which never prepare anyway; a server-binding cursor needs them on to prepare at all.
        raw.prepare_threshold = PREPARE_THRESHOLD
    with db.wrap_database_errors, psycopg.Cursor(raw) as cursor:
        if many:  # psycopg prepares a statement it sends many times on its own
            cursor.executemany(sql, params)
            return 0
        cursor.execute(sql, params, prepare=True)
        return cursor.rowcount


@functools.cache
def _qmark(sql: str) -> str:
    """``sql``'s placeholders as SQLite's driver writes them: %s as ?, %(name)s as :name
    (delivery's statements hold no other %)."""
    return re.sub(r"%\((\w+)\)s", r":\1", sql).replace("%s", "?")


def deliver_one(message: OutboxMessage, marks: SentMarks, transport) -> str:
    token = marks.token
    reason = cancel_reason(message)
    if reason:
        OutboxMessage.objects.filter(pk=message.pk, claim_token=token).update(
            state=MessageState.CANCELLED, last_error=reason, claim_token="", lease_until=None
        )
        return "cancelled"
    limit = transport.rate_limit()
    if limit is not None:
        wait_for_slot(*limit)
    # Committed before the provider sees the message: this is what a restarted worker reads to
    # decide between 'never sent' (claimed) and 'maybe sent' (sending).
    if not marks.sending(message):
        return "lost"  # our lease expired and someone else has it now
    message.attempts += 1
    try:
        provider_id = transport.send(render(message))
    except DeliveryError as exc:
        record_failure(message, token, exc, state=MessageState.SENDING)
        return "failed" if exc.permanent or exhausted(message) else "retry"
    except Exception as exc:  # a bug in rendering or a transport: keep the worker alive
        log.exception("sending message %s failed unexpectedly", message.pk)
        error = DeliveryError(f"internal error: {type(exc).__name__}")
        record_failure(message, token, error, MessageState.SENDING)
        return "retry"
    marks.pending = (message, provider_id)
    return "sent"


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
            state=MessageState.FAILED if give_up else MessageState.QUEUED,
            next_attempt_at=next_at,
            last_error=exc.message,
            claim_token="",
            lease_until=None,
        )
        DeliveryAttempt.objects.create(message_id=message.pk, error=exc.message, permanent=give_up)
        if message.endpoint_id:
            # A staff channel that fails hands the briefing to its team's next channel now.
            teams.fall_back(message, exc.message)
    log.info("message %s attempt %s: %s", message.pk, message.attempts, exc.message)
