"""The outbox's per-message marks on PostgreSQL commit without waiting for the WAL flush, and only
while a worker delivers (a killed worker loses none of them: test_exactly_once.py kills one)."""

from __future__ import annotations

import pytest
from django.db import connection

from tideover.notifications import channels
from tideover.notifications.channels import Channel, Rendered, Transport
from tideover.notifications.models import OutboxMessage
from tideover.notifications.outbox import drain
from tideover.notifications.staff_actions import add_endpoint, send_test

SEEN: list[str] = []


def _synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


class ProbeTransport(Transport):
    """Reads, while sending, how the worker's connection commits its marks."""

    def send(self, message: Rendered) -> str:
        SEEN.append(_synchronous_commit() if connection.vendor == "postgresql" else "")
        return "probe"


class ProbeChannel(Channel):
    name = "probe"
    label = "Probe"
    transport = ProbeTransport


@pytest.fixture
def probe():
    channels.register(ProbeChannel)
    SEEN.clear()
    yield add_endpoint(name="probe", channel="probe", target="anywhere")
    channels.unregister("probe")


def _send_two(endpoint) -> None:
    first, second = send_test(endpoint), send_test(endpoint)
    drain()
    rows = OutboxMessage.objects.filter(pk__in=[first.pk, second.pk])
    # Sent, and no longer held: the claim and the lease go with the 'sent' mark.
    assert set(rows.values_list("state", "claim_token", "lease_until")) == {("sent", "", None)}


@pytest.mark.postgres_only
def test_delivery_marks_do_not_wait_for_the_wal_flush_and_the_session_gets_its_setting_back(
    db, probe
):
    assert _synchronous_commit() == "on"
    _send_two(probe)
    assert SEEN == ["off", "off"]
    assert _synchronous_commit() == "on"  # the web or task code that runs next is not affected


@pytest.mark.postgres_only
def test_marks_wait_for_the_flush_when_the_operator_asks(db, probe, settings):
    settings.NOTIFY_MARKS_WAIT_FOR_FLUSH = True
    _send_two(probe)
    assert SEEN == ["on", "on"]


def test_sent_messages_keep_no_claim_or_lease(db, probe):
    """Each message's 'sent' is written with the next one's 'sending'; it lets go of the claim."""
    sent = [send_test(probe) for _ in range(3)]
    drain()
    rows = OutboxMessage.objects.filter(pk__in=[m.pk for m in sent])
    assert set(rows.values_list("state", "claim_token", "lease_until")) == {("sent", "", None)}
