"""A new channel is one package: a folder the registry finds is offered, rendered and delivered
with no edit anywhere else (tests/extra_channels/pigeon is such a folder)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from django.test import Client

from tideover.incidents import services as incidents
from tideover.notifications import channels
from tideover.notifications.models import ChannelEndpoint, OutboxMessage, Subscriber
from tideover.notifications.outbox import drain
from tideover.notifications.rendering import preview
from tideover.notifications.staff_actions import add_endpoint, send_test

EXTRA = str(Path(__file__).parent / "extra_channels")


@pytest.fixture
def pigeon():
    channels.__path__.append(EXTRA)
    channels.load(again=True)
    module = sys.modules["tideover.notifications.channels.pigeon"]
    module.LOFT.clear()
    yield module
    channels.__path__.remove(EXTRA)
    channels.unregister("pigeon")
    sys.modules.pop("tideover.notifications.channels.pigeon", None)


def test_a_channel_folder_is_offered_rendered_and_delivered_without_other_edits(
    db, pigeon, severities, components
):
    assert ("pigeon", "Pigeon post") in Subscriber._meta.get_field("channel").choices
    assert ("pigeon", "Pigeon post") in ChannelEndpoint._meta.get_field("channel").choices

    page = Client().get("/subscribe/").content.decode()
    assert 'value="pigeon"' in page and "Carrier pigeon" in page
    assert 'name="loft"' in page and "Your loft" in page

    client = Client()
    refused = client.post("/subscribe/", {"channel": "pigeon", "loft": "the barn"})
    assert refused.status_code == 400 and "A loft looks like loft-7" in refused.content.decode()
    assert not Subscriber.objects.exists()
    client.post("/subscribe/", {"channel": "pigeon", "loft": "Loft-7"}, REMOTE_ADDR="203.0.113.9")
    subscriber = Subscriber.objects.get(channel="pigeon")
    assert subscriber.address == "loft-7" and subscriber.state == "active"

    incident = incidents.declare_incident(
        title="Tills frozen",
        severity=severities["SEV2"],
        components={components["in-store-checkout"]: "major_outage"},
        message="Some tills are frozen.",
    )
    assert OutboxMessage.objects.get(incident_id=incident.pk, subscriber=subscriber)
    drain()
    [delivered] = pigeon.LOFT
    assert delivered.recipient == "loft-7" and delivered.text == "COO: Tills frozen"
    message = OutboxMessage.objects.get(subscriber=subscriber)
    assert message.state == "sent" and message.provider_message_id == "ring-1"

    notification = message.notification
    assert preview(notification)["pigeon"] == {"text": "COO: Tills frozen"}


def test_a_new_channel_serves_staff_and_its_transport_errors_count_as_failures(db, pigeon):
    endpoint = add_endpoint(name="Head office loft", channel="pigeon", target="LOFT-13")
    assert endpoint.target == "loft-13"
    message = send_test(endpoint)
    drain()
    message.refresh_from_db()
    assert message.state == "failed" and message.last_error == "that loft burned down"
    assert pigeon.LOFT == []


def test_a_channel_name_must_fit_the_column():
    class TooLong(channels.Channel):
        name = "carrier-pigeon"

    with pytest.raises(ValueError, match="1 to 10 characters"):
        channels.register(TooLong)


def test_a_public_channel_must_say_what_the_public_types_when_it_is_loaded():
    class NoField(channels.Channel):
        name = "nofield"
        public = True
        signup_label = "No field"

    with pytest.raises(ValueError, match="needs a signup_field"):
        channels.register(NoField)
    assert channels.get("nofield") is None
