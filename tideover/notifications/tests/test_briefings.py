"""Staff briefings carry the plan in force and its talking points; when a team's chat room
fails, the briefing goes out on its next channel (SMS, then e-mail), and the commander sees
which failed and which backup reached whom."""

from __future__ import annotations

import pytest

from tideover.core.models import ComponentStatus
from tideover.incidents import services as incidents
from tideover.incidents.models import TimelineEvent
from tideover.notifications.models import (
    BriefingFallback,
    ChannelEndpoint,
    OutboxMessage,
    StaffTeam,
    TeamChannel,
)
from tideover.notifications.outbox import drain
from tideover.notifications.sinks import _free_port


def _declare(severities, components, chain):
    return incidents.declare_incident(
        title="Registers cannot reach HQ",
        severity=severities["SEV1"],
        components={components["in-store-checkout"]: ComponentStatus.MAJOR_OUTAGE},
        all_stores=True,
        message="Stores are open and selling.",
    )


@pytest.fixture
def store_ops(db):
    """Store ops: a chat room nobody answers, then an SMS phone, then an e-mail list."""
    chat = ChannelEndpoint.objects.create(
        name="#store-ops", channel="chat", target=f"json://127.0.0.1:{_free_port()}/chat"
    )
    sms = ChannelEndpoint.objects.create(
        name="Ops on-call phone", channel="sms", target="+15125550123"
    )
    email = ChannelEndpoint.objects.create(
        name="ops list", channel="email", target="ops@tideover-test.example"
    )
    team = StaffTeam.objects.create(name="Store ops")
    for position, endpoint in enumerate((chat, sms, email), start=1):
        TeamChannel.objects.create(team=team, endpoint=endpoint, position=position)
    return {"team": team, "chat": chat, "sms": sms, "email": email}


def test_every_briefing_carries_the_plan_in_force_and_what_to_say(severities, components, chain):
    ChannelEndpoint.objects.create(
        name="cs list", channel="email", target="cs@tideover-test.example"
    )
    incident = _declare(severities, components, chain)
    [staff] = OutboxMessage.objects.filter(incident_id=incident.pk, category="internal")
    points = staff.notification.talking_points
    assert "Plan in force: Plan B: Keep selling on offline registers." in points
    assert 'Say: "Our registers are working offline' in points
    assert 'Don\'t say: "The system is down."' in points
    from tideover.notifications.rendering import render

    assert "Plan in force: Plan B" in render(staff).text
    from tideover.runbooks import services as runbooks

    runbooks.move_to_plan(incident, 1, reason="cash only now")
    latest = OutboxMessage.objects.filter(incident_id=incident.pk, category="internal").order_by(
        "-pk"
    )[0]
    assert latest.notification.event == "incident.internal_note"
    assert (
        "Plan in force: Plan C: Cash only, with a queue marshal."
        in latest.notification.talking_points
    )


def test_only_the_teams_first_channel_gets_the_briefing_while_it_works(
    severities, components, chain, store_ops
):
    incident = _declare(severities, components, chain)
    sent_to = set(
        OutboxMessage.objects.filter(incident_id=incident.pk, category="internal").values_list(
            "endpoint__name", flat=True
        )
    )
    assert sent_to == {"#store-ops"}


def test_a_failed_chat_room_hands_the_briefing_to_sms_and_the_commander_sees_it(
    severities, components, chain, store_ops, http_sink, client_as
):
    incident = _declare(severities, components, chain)
    OutboxMessage.objects.exclude(category="internal").delete()
    # The chat room does not answer; the SMS queued in its place goes out in the same drain.
    assert drain() == {"retry": 1, "sent": 1}
    fallback = BriefingFallback.objects.get()
    assert fallback.team == store_ops["team"] and fallback.fallback.endpoint == store_ops["sms"]
    [sms] = http_sink.sms
    assert sms["To"] == "+15125550123"
    assert not OutboxMessage.objects.filter(endpoint=store_ops["email"]).exists()
    assert TimelineEvent.objects.filter(
        incident=incident, body__contains="Store ops falls back to Ops on-call phone"
    ).exists()
    page = client_as("incident_commander").get(
        f"/console/notifications/incidents/{incident.pk}/briefings/"
    )
    text = page.content.decode()
    assert page.status_code == 200
    assert "Failed:" in text and "Store ops fell back to Ops on-call phone: sent" in text


def test_when_sms_fails_too_the_briefing_reaches_the_email_list(
    severities, components, chain, store_ops, smtp, settings
):
    settings.TWILIO_ACCOUNT_SID = ""  # SMS not configured: a permanent failure
    _declare(severities, components, chain)
    OutboxMessage.objects.exclude(category="internal").delete()
    drain()  # chat fails → SMS queued
    drain()  # SMS fails → e-mail queued
    drain()  # e-mail sent
    email = OutboxMessage.objects.get(endpoint=store_ops["email"])
    assert email.state == "sent"
    assert [m["To"] for m in smtp.messages] == ["ops@tideover-test.example"]
    assert BriefingFallback.objects.count() == 2
    drain()
    assert OutboxMessage.objects.filter(endpoint=store_ops["email"]).count() == 1
