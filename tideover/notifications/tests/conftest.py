"""Real transports on loopback: an aiosmtpd server and an HTTP server that verifies signed
webhooks and plays Twilio's Messages API."""

from __future__ import annotations

import pytest

from tideover.notifications.sinks import HttpSink, SmtpSink

TWILIO_TOKEN = "test-twilio-auth-token"


@pytest.fixture(autouse=True)
def _notify_settings(settings):
    settings.NOTIFY_ENQUEUE_TASKS = False
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.SITE_URL = "http://testserver"


@pytest.fixture
def smtp(settings):
    sink = SmtpSink().start()
    # pytest-django swaps in the locmem backend; these tests want the real SMTP one.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = sink.port
    yield sink
    sink.stop()


@pytest.fixture
def http_sink(settings):
    """Webhook receiver + Twilio API; ``http_sink.secrets[path] = secret`` to verify."""
    secrets: dict[str, str] = {}
    sink = HttpSink(secret_for=lambda path: secrets.get(path, "")).start()
    sink.secrets = secrets
    settings.TWILIO_ACCOUNT_SID = "AC" + "0" * 32
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.TWILIO_FROM_NUMBER = "+15125550100"
    settings.TWILIO_API_BASE = sink.url
    settings.SMS_RATE_PER_SECOND = 1000.0
    yield sink
    sink.stop()


@pytest.fixture
def make_subscriber(db):
    from tideover.notifications.models import Subscriber, Subscription

    def make(channel="email", address=None, components=(), state="active", secret=""):
        subscriber = Subscriber.objects.create(
            channel=channel,
            address=address or f"shopper{Subscriber.objects.count()}@example.com",
            state=state,
            all_components=not components,
            secret=secret,
        )
        for component in components:
            Subscription.objects.create(subscriber=subscriber, component=component)
        return subscriber

    return make
