"""The demo's local sinks receive what the outbox sends: .eml files and a webhook log."""

import json

import pytest

from tideover.incidents import services as incidents
from tideover.notifications import demo
from tideover.notifications.models import Subscriber, Subscription
from tideover.notifications.outbox import drain


@pytest.fixture
def sinks(tmp_path, settings):
    started = demo.start_local_sinks(tmp_path)
    env = started.env
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_PORT = int(env["EMAIL_PORT"])
    settings.TWILIO_ACCOUNT_SID = env["TWILIO_ACCOUNT_SID"]
    settings.TWILIO_AUTH_TOKEN = env["TWILIO_AUTH_TOKEN"]
    settings.TWILIO_FROM_NUMBER = env["TWILIO_FROM_NUMBER"]
    settings.TWILIO_API_BASE = env["TWILIO_API_BASE"]
    settings.SMS_RATE_PER_SECOND = 1000.0
    yield started
    started.stop()


def test_demo_subscribers_on_every_channel_receive_an_update_through_the_sinks(
    sinks, tmp_path, severities, components, monkeypatch
):
    monkeypatch.setenv("DEMO_CHAT_URL", sinks.env["DEMO_CHAT_URL"])
    counts = demo.seed_subscribers(
        {"email": 6, "sms": 3, "webhook": 3},
        webhook_url=sinks.env["DEMO_WEBHOOK_URL"],
        webhook_secret=sinks.env["DEMO_WEBHOOK_SECRET"],
    )
    assert counts == {"email": 6, "sms": 3, "webhook": 3}
    assert Subscriber.objects.filter(state="active").count() == 12
    assert (
        Subscription.objects.exists()
        or Subscriber.objects.filter(all_components=False).count() == 0
    )
    assert demo.seed_staff_channels() == 2
    incidents.declare_incident(
        title="Checkout down",
        severity=severities["SEV1"],
        components={c: "major_outage" for c in components.values()},
        message="Registers are down.",
    )
    outcome = drain()
    assert outcome == {"sent": 14}
    assert len(list((tmp_path / "outbox-mail").glob("*.eml"))) == 7  # 6 shoppers + ops list
    lines = (tmp_path / "webhooks.log").read_text().splitlines()
    assert len(lines) == 3
    assert json.loads(json.loads(lines[0])["body"])["update"] == "Registers are down."
