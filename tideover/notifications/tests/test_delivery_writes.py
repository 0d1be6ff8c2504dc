"""How delivery's per-message writes reach the database (notifications/writes.py): on
PostgreSQL through libpq as a statement prepared once per connection, on SQLite through the
driver's own cursor, with datetimes written as Django writes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection

from tideover.incidents import services as incidents
from tideover.notifications.delivery import SENT_AND_NEXT_SENDING, SentMarks
from tideover.notifications.models import MessageState, OutboxMessage
from tideover.notifications.outbox import drain
from tideover.notifications.writes import _numbered, _prepared_on, execute_prepared, stored_time


def _claimed(count: int, token: str = "t" * 32) -> list[OutboxMessage]:
    return [
        OutboxMessage.objects.create(
            channel="email",
            recipient=f"writes{i}@example.com",
            dedupe_key=f"writes-{token}-{i}",
            state=MessageState.CLAIMED,
            claim_token=token,
        )
        for i in range(count)
    ]


def test_placeholders_are_numbered_once_per_name():
    text, names = _numbered("UPDATE t SET a = %(x)s, b = %(y)s WHERE c = %(x)s OR d = %(z)s")
    assert text == b"UPDATE t SET a = $1, b = $2 WHERE c = $1 OR d = $3"
    assert names == ("x", "y", "z")
    assert _numbered("SELECT %s, %s") == (b"SELECT $1, $2", (0, 1))


@pytest.mark.parametrize(
    "when",
    [
        datetime(2026, 12, 1, 6, 30, 15, 123456, tzinfo=UTC),
        datetime(2026, 12, 1, 6, 30, 15, tzinfo=UTC),  # no microseconds: none written
        datetime(2026, 12, 1, 8, 30, 15, 5, tzinfo=timezone(timedelta(hours=2))),
    ],
)
def test_a_datetime_is_written_as_django_writes_it(db, when):
    assert stored_time(connection)(when) == connection.ops.adapt_datetimefield_value(when)


def test_the_mark_commits_sent_for_one_message_and_sending_for_the_next(transactional_db):
    first, second = _claimed(2)
    marks = SentMarks(first.claim_token)
    assert marks.sending(first)
    marks.pending = (first, "provider-1")
    assert marks.sending(second)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, first.provider_message_id, first.claim_token) == ("sent", "provider-1", "")
    assert first.sent_at is not None and first.lease_until is None
    assert (second.state, second.attempts) == ("sending", 1)
    assert second.lease_until is not None


def test_a_mark_for_a_message_another_worker_holds_changes_nothing(transactional_db):
    first, second = _claimed(2)
    OutboxMessage.objects.filter(pk=second.pk).update(claim_token="someone-else")
    marks = SentMarks(first.claim_token)
    assert marks.sending(first)
    marks.pending = (first, "provider-1")
    assert not marks.sending(second)  # lost: not ours any more
    second.refresh_from_db()
    assert (second.state, second.claim_token, second.attempts) == ("claimed", "someone-else", 0)


@pytest.mark.postgres_only
def test_on_postgresql_the_mark_is_prepared_once_on_the_connection(transactional_db):
    messages = _claimed(4)
    marks = SentMarks(messages[0].claim_token)
    for previous, message in zip([None, *messages], messages, strict=False):
        if previous is not None:
            marks.pending = (previous, f"p{previous.pk}")
        assert marks.sending(message)
    names = _prepared_on[connection.connection]
    assert list(names) == [SENT_AND_NEXT_SENDING]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE name = %s",
                       [names[SENT_AND_NEXT_SENDING].decode()])  # fmt: skip
        assert cursor.fetchone() == (1,)


@pytest.mark.postgres_only
def test_on_postgresql_a_mark_survives_its_statement_being_dropped(transactional_db):
    """A pooler resetting the session (DISCARD ALL) drops prepared statements: prepared again."""
    first, second, third = _claimed(3)
    marks = SentMarks(first.claim_token)
    assert marks.sending(first)
    marks.pending = (first, "p1")
    assert marks.sending(second)
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    marks.pending = (second, "p2")
    assert marks.sending(third)
    states = dict(OutboxMessage.objects.values_list("pk", "state"))
    assert states == {first.pk: "sent", second.pk: "sent", third.pk: "sending"}


@pytest.mark.postgres_only
def test_on_postgresql_a_failing_statement_raises_the_database_error_django_knows(
    transactional_db,
):
    from django.db import DataError

    with pytest.raises(DataError):
        execute_prepared(
            "UPDATE notifications_outboxmessage SET attempts = %(n)s WHERE id = %(id)s",
            {"n": 10**9, "id": 1},  # attempts is a smallint
        )
    assert connection.is_usable()


def test_in_a_transaction_the_mark_is_part_of_it(transactional_db):
    from django.db import transaction

    first, second = _claimed(2)
    marks = SentMarks(first.claim_token)
    with transaction.atomic():
        assert marks.sending(first)
        transaction.set_rollback(True)
    first.refresh_from_db()
    assert first.state == "claimed"


@pytest.mark.postgres_only
def test_on_postgresql_a_rollback_leaves_the_prepared_statements_in_place(transactional_db):
    """psycopg deallocates every prepared statement on a rollback if it holds any of its own;
    delivery's writes never let it prepare, so their statements stay for the next batch."""
    from django.db import transaction

    messages = _claimed(3)
    sql = "UPDATE notifications_outboxmessage SET attempts = attempts + 1 WHERE id = %s"
    assert execute_prepared(sql, [messages[0].pk]) == 1  # prepared (a mark)
    assert execute_prepared(sql, [[m.pk] for m in messages], many=True) == 3
    with transaction.atomic():
        assert execute_prepared(sql, [[m.pk] for m in messages], many=True) == 3
        transaction.set_rollback(True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone() == (1,)
    assert execute_prepared(sql, [messages[0].pk]) == 1
    assert sorted(OutboxMessage.objects.values_list("attempts", flat=True)) == [1, 1, 3]


@pytest.mark.postgres_only
def test_on_postgresql_every_write_after_the_claim_is_heap_only(
    severities, components, make_subscriber, smtp, http_sink
):
    """The marks change no indexed column, so PostgreSQL writes no index entry for them (HOT);
    only the claim, taking the rows out of the queue's index, is an ordinary update."""
    for i in range(2):
        make_subscriber(address=f"hot{i}@example.com")
        http_sink.secrets[f"/hot/{i}"] = "s"
        make_subscriber(channel="webhook", address=f"{http_sink.url}/hot/{i}", secret="s")
    incident = incidents.declare_incident(
        title="Card payments fail",
        severity=severities["SEV1"],
        components={components["in-store-checkout"]: "major_outage"},
    )
    OutboxMessage.objects.all().delete()  # the declaration's own messages: one update counted
    incidents.post_public_update(incident, "Card payments work again.")
    before = _updates()
    assert drain() == {"sent": 4}
    updated, heap_only = (after - was for after, was in zip(_updates(), before, strict=True))
    assert updated - heap_only == 4  # the claim of four rows
    assert heap_only == 8  # e-mails: sending, sent; webhooks: sending, sent


def _updates() -> tuple[int, int]:
    """Rows of the outbox updated in this transaction, and how many of those were heap-only."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_stat_get_xact_tuples_updated(oid), pg_stat_get_xact_tuples_hot_updated(oid) "
            "FROM pg_class WHERE relname = %s",
            [OutboxMessage._meta.db_table],
        )
        return cursor.fetchone()


def test_a_webhook_batch_records_each_message_sent_at_its_own_time(
    severities, components, make_subscriber, http_sink
):
    """The batch's 'sent' is written once for all its messages (one statement on PostgreSQL),
    each with the time it was accepted; a message the worker does not hold is left alone."""
    for i in range(5):
        http_sink.secrets[f"/each/{i}"] = "s"
        make_subscriber(channel="webhook", address=f"{http_sink.url}/each/{i}", secret="s")
    incident = incidents.declare_incident(
        title="Card payments fail",
        severity=severities["SEV1"],
        components={components["in-store-checkout"]: "major_outage"},
    )
    other = _claimed(1, token="o" * 32)[0]  # held by another worker
    assert drain() == {"sent": 5}

    rows = list(
        OutboxMessage.objects.filter(notification__incident=incident)
        .order_by("sent_at")
        .values_list("state", "sent_at", "provider_message_id", "claim_token", "lease_until")
    )

    assert [state for state, *_ in rows] == ["sent"] * 5
    times = [sent_at for _, sent_at, *_ in rows]
    assert len(set(times)) == 5  # its own time each, not the batch's
    assert {(pid, token, lease) for *_, pid, token, lease in rows} == {("", "", None)}
    other.refresh_from_db()
    assert (other.state, other.claim_token) == ("claimed", "o" * 32)
