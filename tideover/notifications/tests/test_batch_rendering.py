"""A worker renders each notification once per batch and fills in each recipient's own link,
delivery id and secret: every message must come out exactly as rendering it alone would."""

from __future__ import annotations

import pytest
from django import forms

from tideover.incidents import services as incidents
from tideover.notifications import rendering
from tideover.notifications.channels import Channel, Rendered
from tideover.notifications.models import OutboxMessage
from tideover.notifications.tests.stand_ins import AcceptingTransport, registered


def _post(severities, components) -> list[OutboxMessage]:
    incident = incidents.declare_incident(
        title="Checkout <down> & 'tills' \"offline\"",
        severity=severities["SEV1"],
        components={components["in-store-checkout"]: "major_outage"},
    )
    OutboxMessage.objects.all().delete()
    incidents.post_public_update(incident, "Cash works <b>only</b> & cards don't.")
    return list(
        OutboxMessage.objects.select_related("notification", "subscriber", "endpoint").order_by(
            "pk"
        )
    )


def test_each_recipient_in_a_batch_gets_what_rendering_it_alone_gives(
    severities, components, make_subscriber, settings
):
    # A site URL that HTML escapes differently from plain text (the link is in both).
    settings.SITE_URL = "http://status.example/?a=1&b=2"
    for i in range(4):
        make_subscriber(address=f"shopper{i}@example.com")
        make_subscriber(channel="webhook", address=f"https://hooks.example/{i}", secret=f"s{i}")
    messages = _post(severities, components)
    alone = [rendering.render(m) for m in messages]
    with rendering.batch():
        batched = [rendering.render(m) for m in messages]
    assert batched == alone
    emails = [r for r in batched if r.channel == "email"]
    assert len({r.text for r in emails}) == 4  # each with its own unsubscribe link
    assert all("&amp;b=2" in r.html and "&b=2" in r.text for r in emails)
    hooks = [r for r in batched if r.channel == "webhook"]
    assert len({r.payload["id"] for r in hooks}) == 4
    assert {r.secret for r in hooks} == {"s0", "s1", "s2", "s3"}


class ShoutChannel(Channel):
    """Says the recipient's address, in capitals, in its text: no stand-in can fill that in."""

    name = "shout"
    label = "Shout"
    public = True
    signup_label = "Shout"
    transport = AcceptingTransport

    def signup_field(self):
        return "shout", forms.CharField(required=False, label="Where to shout")

    def render_notification(self, rendered: Rendered, notification, context: dict) -> Rendered:
        rendered.text = f"HELLO {rendered.recipient.upper()}\n{rendered.text}"
        return rendered


@pytest.fixture
def shout():
    yield from registered(ShoutChannel)


def test_a_channel_whose_text_depends_on_the_recipient_is_rendered_in_full_for_each(
    shout, severities, components, make_subscriber
):
    for name in ("ann", "bob", "cy"):
        make_subscriber(channel="shout", address=name)
    messages = _post(severities, components)
    with rendering.batch():
        batched = [rendering.render(m) for m in messages]
    assert [r.text.splitlines()[0] for r in batched] == ["HELLO ANN", "HELLO BOB", "HELLO CY"]
    assert batched == [rendering.render(m) for m in messages]
