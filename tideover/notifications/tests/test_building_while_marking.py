"""A message that cannot be sent twice is built while its 'sending' mark commits
(delivery.deliver_one): rendered first (that reads the database), then the mark goes to the
database, the transport builds what goes on the wire meanwhile, and the provider sees the message
only once the mark is committed. A failure at any step leaves the message to be retried, counted
once, and the worker goes on with the next."""

from __future__ import annotations

import copy

import pytest
from django.db import DEFAULT_DB_ALIAS, DataError, connection, connections

from tideover.notifications.channels import Channel, DeliveryError, Rendered, Transport
from tideover.notifications.channels.email import OutboxEmail
from tideover.notifications.models import DeliveryAttempt, OutboxMessage
from tideover.notifications.outbox import drain
from tideover.notifications.staff_actions import add_endpoint, send_test
from tideover.notifications.tests.stand_ins import registered
from tideover.notifications.writes import start_prepared

SEEN: list[tuple[str, str]] = []  # (step, what it saw), in the order the steps ran


def _state_seen_by_another_connection(pk: int) -> str:
    other = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT state FROM notifications_outboxmessage WHERE id = %s", [pk])
            return cursor.fetchone()[0]
    finally:
        other.close()


def _mark_in_flight() -> bool:
    """Whether the worker's connection is waiting for a statement's answer (PostgreSQL)."""
    if connection.vendor != "postgresql":
        return False
    from psycopg import pq

    return connection.connection.pgconn.transaction_status == pq.TransactionStatus.ACTIVE


class BuildingTransport(Transport):
    """Builds ahead like the e-mail transport, and notes what each step saw."""

    def prepare(self, message: Rendered) -> Rendered:
        if message.recipient == "unbuildable":
            raise DeliveryError("cannot be built", permanent=True)
        if message.recipient == "buggy":
            raise KeyError("a bug in building")
        SEEN.append(("prepare", "in flight" if _mark_in_flight() else "answered"))
        return message

    def send_prepared(self, prepared: Rendered) -> str:
        pk = int(prepared.delivery_id.rsplit("-", 1)[-1])
        SEEN.append(("send", _state_seen_by_another_connection(pk)))
        return "accepted"

    def send(self, message: Rendered) -> str:
        return self.send_prepared(self.prepare(message))


class BuildingChannel(Channel):
    name = "building"
    label = "Building"
    transport = BuildingTransport

    def render_message(self, rendered: Rendered, message) -> Rendered:
        if message.recipient == "unrenderable":
            raise ValueError("a bug in rendering")
        rendered.delivery_id = f"probe-{message.pk}"
        return rendered


@pytest.fixture
def building():
    SEEN.clear()
    yield from registered(BuildingChannel)


def _queue(*targets: str) -> list[OutboxMessage]:
    messages = []
    for target in targets:
        endpoint = add_endpoint(name=f"to {target}", channel="building", target=target)
        messages.append(send_test(endpoint))
    return messages


def test_the_provider_sees_a_message_only_once_its_sending_mark_is_committed(
    transactional_db, building
):
    _queue("a", "b", "c")
    assert drain()["sent"] == 3
    assert [seen for step, seen in SEEN if step == "send"] == ["sending"] * 3
    assert set(OutboxMessage.objects.values_list("state", "attempts")) == {("sent", 1)}


@pytest.mark.postgres_only
def test_on_postgresql_a_message_is_built_while_its_mark_is_on_the_way(transactional_db, building):
    _queue("a", "b", "c")
    drain()
    # The first message's mark carries no earlier 'sent' and is answered at once; each later
    # one goes with the 'sent' of the message before it, and building waits for no answer.
    assert [seen for step, seen in SEEN if step == "prepare"] == [
        "answered",
        "in flight",
        "in flight",
    ]


def test_a_message_that_cannot_be_rendered_is_retried_never_marked_sending(
    transactional_db, building
):
    broken, fine = _queue("unrenderable", "fine")
    counts = drain()
    assert (counts["retry"], counts["sent"]) == (1, 1)
    broken.refresh_from_db()
    assert (broken.state, broken.attempts) == ("queued", 1)
    assert broken.last_error == "internal error: ValueError"
    assert DeliveryAttempt.objects.get(message=broken).permanent is False
    assert [step for step, _ in SEEN] == ["prepare", "send"]  # only the fine one


def test_a_message_that_cannot_be_built_fails_and_the_next_goes_out(transactional_db, building):
    sent, unbuildable, buggy, after = _queue("first", "unbuildable", "buggy", "after")
    counts = drain()
    assert (counts["sent"], counts["failed"], counts["retry"]) == (2, 1, 1)
    rows = {m.pk: m for m in OutboxMessage.objects.all()}
    assert (rows[unbuildable.pk].state, rows[unbuildable.pk].attempts) == ("failed", 1)
    assert rows[unbuildable.pk].last_error == "cannot be built"
    assert (rows[buggy.pk].state, rows[buggy.pk].attempts) == ("queued", 1)
    assert rows[buggy.pk].last_error == "internal error: KeyError"
    assert {rows[sent.pk].state, rows[after.pk].state} == {"sent"}
    assert [seen for step, seen in SEEN if step == "send"] == ["sending", "sending"]


@pytest.mark.postgres_only
def test_on_postgresql_a_statement_sent_ahead_raises_its_error_when_answered(transactional_db):
    message = OutboxMessage.objects.create(channel="email", recipient="x@example.com")
    answer = start_prepared(
        "UPDATE notifications_outboxmessage SET attempts = %(n)s WHERE id = %(id)s",
        {"n": 10**9, "id": message.pk},  # attempts is a smallint
    )
    with pytest.raises(DataError):
        answer()
    assert connection.is_usable()
    answer = start_prepared(
        "UPDATE notifications_outboxmessage SET attempts = %(n)s WHERE id = %(id)s",
        {"n": 3, "id": message.pk},
    )
    assert answer() == 1
    message.refresh_from_db()
    assert message.attempts == 3


def test_an_email_built_ahead_is_sent_as_built():
    mail = OutboxEmail(
        subject="Registers offline",
        body="Cash works.\n",
        from_email="status@example.com",
        to=["shopper@example.com"],
        headers={"Message-ID": "<d-1@tideover>"},
    )
    mail.attach_alternative("<p>Cash works.</p>", "text/html")
    mail.build()
    smtp_text = mail.smtp_text
    assert b"\r\nMessage-ID: <d-1@tideover>\r\n" in smtp_text
    assert b"\n" not in smtp_text.replace(b"\r\n", b"")
    assert mail.envelope == ("status@example.com", ["shopper@example.com"])
    # Asked for anything else, it is Django's e-mail as it is.
    assert mail.message()["Subject"] == "Registers offline"
    assert "Message-ID" in mail.message() and mail.message().is_multipart()
    # Django's test backend keeps a deep copy of each e-mail it is given.
    assert copy.deepcopy(mail).smtp_text == smtp_text
