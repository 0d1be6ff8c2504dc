"""A worker reads what a batch needs once: sending more messages reads no more rows. (A field
the batch's read leaves out would be loaded again for every message that uses it.) The marks
themselves go through the database driver directly and are not among the queries counted."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tideover.incidents import services as incidents
from tideover.notifications.channels import Channel
from tideover.notifications.models import OutboxMessage
from tideover.notifications.outbox import drain
from tideover.notifications.staff_actions import add_endpoint, send_test
from tideover.notifications.tests.stand_ins import AcceptingTransport, registered


def _subscribe(count, start, make_subscriber, http_sink) -> None:
    for i in range(start, start + count):
        make_subscriber(address=f"shopper{i}@example.com")
        make_subscriber(channel="webhook", address=f"{http_sink.url}/hook/{i}", secret=f"s{i}")
        http_sink.secrets[f"/hook/{i}"] = f"s{i}"


def _queries_to_send_an_update(incident, text: str) -> tuple[int, int]:
    incidents.post_public_update(incident, text)
    with CaptureQueriesContext(connection) as seen:
        counts = drain()
    return counts.get("sent", 0), len(seen)


def test_sending_four_times_the_messages_reads_no_more_rows(
    severities, components, make_subscriber, smtp, http_sink
):
    incident = incidents.declare_incident(
        title="Registers offline",
        severity=severities["SEV1"],
        components={components["in-store-checkout"]: "major_outage"},
    )
    OutboxMessage.objects.all().delete()
    _subscribe(3, 0, make_subscriber, http_sink)
    few_sent, few_queries = _queries_to_send_an_update(incident, "Cash works.")
    _subscribe(9, 3, make_subscriber, http_sink)
    many_sent, many_queries = _queries_to_send_an_update(incident, "Cards work again.")
    assert (few_sent, many_sent) == (6, 24)
    assert many_queries == few_queries
    assert len(smtp.messages) == 15 and len(http_sink.webhooks) == 15


class ProbeChannel(Channel):
    """A staff channel whose suppression reads a field no other channel's sending reads."""

    name = "probe"
    label = "Probe"
    transport = AcceptingTransport
    reads_when_sending = ("endpoint__target",)

    def suppressed(self, message) -> str:
        return "switched off here" if message.endpoint.target == "off" else ""


@pytest.fixture
def probe():
    yield from registered(ProbeChannel)


def _queries_to_send_tests(count: int) -> int:
    for i in range(count):
        send_test(add_endpoint(name=f"probe {count}-{i}", channel="probe", target=f"t{i}"))
    with CaptureQueriesContext(connection) as seen:
        assert drain() == {"sent": count}
    return len(seen)


def test_a_field_a_channel_names_for_sending_is_read_with_the_batch(db, probe, monkeypatch):
    assert _queries_to_send_tests(3) == _queries_to_send_tests(12)
    # Not named: each message loads it on its own.
    monkeypatch.setattr(probe, "reads_when_sending", ())
    assert _queries_to_send_tests(12) == _queries_to_send_tests(3) + 9
