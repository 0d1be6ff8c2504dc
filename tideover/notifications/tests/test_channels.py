"""Each transport against a real server on loopback."""

from datetime import datetime

import pytest

from tideover.core.http import DELIVERY_HEADER
from tideover.incidents import services as incidents
from tideover.notifications.models import ChannelEndpoint, DeliveryAttempt, OutboxMessage
from tideover.notifications.outbox import drain
from tideover.notifications.rendering import delivery_id


@pytest.fixture
def incident(severities, components):
    return incidents.declare_incident(
        title="Card payments failing",
        severity=severities["SEV2"],
        components={components["card-payments"]: "partial_outage"},
    )


def _update(incident, text="Some card payments fail; cash works."):
    return incidents.post_public_update(incident, text)


def test_email_goes_through_smtp_as_text_and_html_with_one_click_unsubscribe(
    incident, smtp, make_subscriber
):
    subscriber = make_subscriber(address="pat@example.com")
    OutboxMessage.objects.all().delete()
    _update(incident)
    assert drain() == {"sent": 1}
    [mail] = smtp.messages
    assert mail["To"] == "pat@example.com"
    assert "Card payments failing" in mail["Subject"]
    assert "Some card payments fail; cash works." in mail.get_body(("plain",)).get_content()
    assert "<h1" in mail.get_body(("html",)).get_content()
    assert subscriber.token in mail["List-Unsubscribe"]
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_email_envelope_names_the_sender_and_the_recipient_as_smtp_needs_them(
    incident, smtp, make_subscriber, settings
):
    settings.DEFAULT_FROM_EMAIL = "Tideover Status <status@example.com>"
    make_subscriber(address="pat@example.com")
    make_subscriber(address="kim@bücher.example")  # an internationalised domain
    OutboxMessage.objects.all().delete()
    _update(incident)
    assert drain() == {"sent": 2}
    assert sorted(smtp.envelopes) == [
        ("status@example.com", ["kim@xn--bcher-kva.example"]),
        ("status@example.com", ["pat@example.com"]),
    ]
    assert {mail["From"] for mail in smtp.messages} == {"Tideover Status <status@example.com>"}


def test_a_subclass_of_djangos_smtp_backend_sends_as_it_would(
    incident, smtp, make_subscriber, settings
):
    """A backend that changes what it sends (signing it, say) is not gone around."""
    settings.EMAIL_BACKEND = "tideover.notifications.tests.stand_ins.StampingSmtpBackend"
    make_subscriber(address="pat@example.com")
    OutboxMessage.objects.all().delete()
    _update(incident)
    assert drain() == {"sent": 1}
    [mail] = smtp.messages
    assert mail["X-Stamped"] == "yes"


def test_with_another_email_backend_the_email_is_handed_to_it(
    incident, make_subscriber, mailoutbox
):
    make_subscriber(address="pat@example.com")
    OutboxMessage.objects.all().delete()
    _update(incident)
    assert drain() == {"sent": 1}
    [mail] = mailoutbox
    assert mail.to == ["pat@example.com"]
    assert "Some card payments fail; cash works." in mail.body
    assert mail.message()["Message-ID"].endswith("@tideover>")


def test_each_email_has_its_own_multipart_boundary_that_its_text_does_not_hold(
    incident, smtp, make_subscriber
):
    make_subscriber(address="pat@example.com")
    make_subscriber(address="sam@example.com")
    OutboxMessage.objects.all().delete()
    _update(incident, "--tideover- lines in an update stay text, not a boundary.")
    assert drain() == {"sent": 2}
    boundaries = set()
    for mail in smtp.messages:
        boundary = mail.get_boundary()
        assert boundary.startswith("tideover-")
        body = mail.get_body(("plain",)).get_content()
        assert "--tideover- lines in an update stay text" in body
        assert boundary not in body
        assert "<h1" in mail.get_body(("html",)).get_content()
        boundaries.add(boundary)
    assert len(boundaries) == 2


def test_a_boundary_found_in_the_text_is_not_used(monkeypatch):
    from tideover.notifications.channels import email

    drawn = iter(["0" * 32, "1" * 32])
    monkeypatch.setattr(email.secrets, "token_hex", lambda _: next(drawn))
    taken = f"tideover-{'0' * 32}"
    assert email._boundary(["text", f"html quoting {taken}"]) == f"tideover-{'1' * 32}"


def test_an_attachment_holding_the_boundary_is_looked_at_too(monkeypatch):
    from tideover.notifications.channels import email

    drawn = iter(["0" * 32, "1" * 32])
    monkeypatch.setattr(email.secrets, "token_hex", lambda _: next(drawn))
    mail = email.OutboxEmail(subject="s", body="text", to=["pat@example.com"])
    mail.attach("notes.txt", f"--tideover-{'0' * 32}", "text/plain")
    assert mail.message().get_boundary() == f"tideover-{'1' * 32}"


def test_sms_goes_through_the_twilio_sdk_and_records_the_provider_id(
    incident, http_sink, make_subscriber
):
    make_subscriber(channel="sms", address="+15125550123")
    OutboxMessage.objects.all().delete()
    _update(incident)
    assert drain() == {"sent": 1}
    [sms] = http_sink.sms
    assert sms["To"] == "+15125550123"
    assert sms["From"] == "+15125550100"
    assert "Reply STOP to unsubscribe." in sms["Body"]
    assert sms["StatusCallback"].endswith("/hooks/twilio/status")
    assert OutboxMessage.objects.get().provider_message_id == sms["sid"]


def test_webhook_is_signed_and_the_receiver_verifies_it(incident, http_sink, make_subscriber):
    make_subscriber(channel="webhook", address=f"{http_sink.url}/hook/a", secret="s3cret")
    http_sink.secrets["/hook/a"] = "s3cret"
    OutboxMessage.objects.all().delete()
    _update(incident)
    assert drain() == {"sent": 1}
    [hook] = http_sink.webhooks
    assert hook["json"]["update"] == "Some card payments fail; cash works."
    assert hook["json"]["incident"]["title"] == "Card payments failing"
    assert hook["json"]["unsubscribe_url"].startswith("http://testserver/unsubscribe/")
    assert hook["delivery"].startswith("tdo_")
    assert http_sink.refused == []


def test_webhook_links_the_incidents_own_page_with_a_strict_timestamp(
    incident, http_sink, make_subscriber
):
    make_subscriber(channel="webhook", address=f"{http_sink.url}/hook/a", secret="s3cret")
    http_sink.secrets["/hook/a"] = "s3cret"
    OutboxMessage.objects.all().delete()
    _update(incident)
    assert drain() == {"sent": 1}
    [hook] = http_sink.webhooks
    assert hook["json"]["incident"]["url"] == f"http://testserver/incidents/{incident.pk}"
    datetime.strptime(hook["json"]["at"], "%Y-%m-%dT%H:%M:%S.%f%z")


def test_webhook_with_a_wrong_secret_is_refused_and_not_retried(
    incident, http_sink, make_subscriber
):
    make_subscriber(channel="webhook", address=f"{http_sink.url}/hook/b", secret="wrong")
    http_sink.secrets["/hook/b"] = "right"
    OutboxMessage.objects.all().delete()
    _update(incident)
    assert drain() == {"failed": 1}
    message = OutboxMessage.objects.get()
    assert message.state == "failed" and "HTTP 401" in message.last_error
    assert len(http_sink.refused) == 1


def test_webhook_5xx_is_retried_with_backoff_then_delivered_with_the_same_delivery_id(
    incident, http_sink, make_subscriber, settings
):
    settings.NOTIFY_BACKOFF_SECONDS = 0.0
    make_subscriber(channel="webhook", address=f"{http_sink.url}/hook/c", secret="k")
    http_sink.secrets["/hook/c"] = "k"
    http_sink.fail_next = [503, 500]
    OutboxMessage.objects.all().delete()
    _update(incident)
    assert drain() == {"retry": 2, "sent": 1}
    message = OutboxMessage.objects.get()
    assert message.state == "sent" and message.attempts == 3
    assert DeliveryAttempt.objects.filter(message=message).count() == 2
    assert http_sink.webhooks[0]["delivery"] == delivery_id(message)
    assert message.provider_message_id == ""  # the delivery id is not kept twice


def test_backoff_grows_exponentially_with_jitter(settings):
    from tideover.notifications.delivery import backoff_seconds

    settings.NOTIFY_BACKOFF_SECONDS = 10
    for attempt, ceiling in ((1, 10), (2, 20), (3, 40)):
        delays = [backoff_seconds(attempt) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1
    assert backoff_seconds(30) <= 3600


def test_chat_channel_posts_through_apprise(incident, http_sink):
    ChannelEndpoint.objects.create(
        name="#store-ops", channel="chat", target=f"json://127.0.0.1:{http_sink.port}/chat"
    )
    OutboxMessage.objects.all().delete()
    _update(incident)
    assert drain() == {"sent": 1}
    [posted] = http_sink.chat
    assert "Card payments failing" in posted["title"]
    assert "cash works" in posted["message"]


def test_smtp_down_is_a_temporary_error(incident, make_subscriber, settings):
    from tideover.notifications.sinks import _free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_PORT = _free_port()  # nobody listens
    make_subscriber()
    OutboxMessage.objects.all().delete()
    _update(incident)
    assert drain() == {"retry": 1}
    message = OutboxMessage.objects.get()
    assert message.state == "queued" and "SMTP unavailable" in message.last_error


def test_delivery_header_name_is_documented():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[3] / "docs" / "notifications.md").read_text()
    assert DELIVERY_HEADER in doc and "Tideover-Signature" in doc and "replay" in doc.lower()


def test_sms_rate_limit_holds_per_sending_number(incident, http_sink, make_subscriber, settings):
    import time

    settings.SMS_RATE_PER_SECOND = 5.0
    for i in range(4):
        make_subscriber(channel="sms", address=f"+1512555019{i}")
    OutboxMessage.objects.all().delete()
    _update(incident)
    started = time.monotonic()
    assert drain() == {"sent": 4}
    assert time.monotonic() - started >= 0.55  # 4 messages at 5/s: 3 gaps of 0.2 s


def test_a_message_being_sent_cannot_be_retried_until_its_lease_ends(db):
    from datetime import timedelta

    from django.utils import timezone

    from tideover.core.errors import Conflict
    from tideover.notifications.staff_actions import retry_message

    message = OutboxMessage.objects.create(
        channel="email",
        recipient="a@example.com",
        state="sending",
        lease_until=timezone.now() + timedelta(seconds=30),
        dedupe_key="busy",
    )
    with pytest.raises(Conflict):
        retry_message(message.pk)
    OutboxMessage.objects.filter(pk=message.pk).update(
        lease_until=timezone.now() - timedelta(seconds=1)
    )
    assert retry_message(message.pk).state == "queued"


@pytest.mark.parametrize("host", ["2130706433", "localhost.", "0x7f.0.0.1"])
def test_webhook_to_a_disguised_loopback_address_is_refused_at_send_time(
    incident, http_sink, make_subscriber, settings, host
):
    # Registered while private addresses were allowed (or through a name that changed since):
    # the worker still refuses to POST into its own network.
    port = http_sink.url.rsplit(":", 1)[1]
    make_subscriber(channel="webhook", address=f"http://{host}:{port}/hook/d", secret="k")
    settings.WEBHOOK_ALLOW_PRIVATE = False
    OutboxMessage.objects.all().delete()
    _update(incident)
    assert drain() == {"failed": 1}
    message = OutboxMessage.objects.get()
    assert message.state == "failed" and "public address" in message.last_error
    assert http_sink.webhooks == [] and http_sink.refused == []


def test_attempts_and_next_attempt_grow_while_the_smtp_server_is_down(
    incident, make_subscriber, settings
):
    from django.utils import timezone

    from tideover.notifications.sinks import _free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_PORT = _free_port()  # nobody listens
    settings.NOTIFY_BACKOFF_SECONDS = 30.0
    settings.NOTIFY_MAX_ATTEMPTS = 3
    make_subscriber()
    OutboxMessage.objects.all().delete()
    _update(incident)
    delays = []
    for attempt in (1, 2):
        before = timezone.now()
        assert drain() == {"retry": 1}
        message = OutboxMessage.objects.get()
        assert message.state == "queued" and message.attempts == attempt
        delays.append((message.next_attempt_at - before).total_seconds())
        OutboxMessage.objects.update(next_attempt_at=timezone.now())  # skip the wait
    assert 15 <= delays[0] <= 30.5 and 30 <= delays[1] <= 60.5
    assert drain() == {"failed": 1}
    message = OutboxMessage.objects.get()
    assert message.state == "failed" and message.attempts == 3
    assert DeliveryAttempt.objects.filter(message=message).count() == 3
    assert drain() == {}  # given up: no more attempts, no more rows


def test_sms_without_twilio_settings_fails_permanently_with_the_setting_named(
    incident, make_subscriber, settings
):
    settings.TWILIO_ACCOUNT_SID = ""
    settings.TWILIO_AUTH_TOKEN = ""
    make_subscriber(channel="sms", address="+15125550123")
    OutboxMessage.objects.all().delete()
    _update(incident)
    assert drain() == {"failed": 1}
    message = OutboxMessage.objects.get()
    assert message.state == "failed" and message.attempts == 1
    assert "TWILIO_ACCOUNT_SID" in message.last_error and "TWILIO_AUTH_TOKEN" in message.last_error
    assert DeliveryAttempt.objects.get(message=message).permanent
