"""A worker reads what a batch needs once: sending more messages reads no more rows. (A field
the batch's read leaves out would be loaded again for every message that uses it.)"""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tideover.incidents import services as incidents
from tideover.notifications.models import OutboxMessage
from tideover.notifications.outbox import drain


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
