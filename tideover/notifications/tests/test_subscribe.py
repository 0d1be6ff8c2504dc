"""The public sign-up: double opt-in, SMS codes, refusals, unsubscribe, STOP and HELP."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from twilio.request_validator import RequestValidator

from tideover.notifications.models import OutboxMessage, SmsOptOut, Subscriber
from tideover.notifications.outbox import drain
from tideover.notifications.tests.conftest import TWILIO_TOKEN


def _signup(client, **data):
    return client.post("/subscribe/", {"channel": "email", **data}, REMOTE_ADDR="203.0.113.7")


def test_email_double_opt_in_confirms_from_the_link_in_the_email(db, smtp, components):
    client = Client()
    response = _signup(client, email="Pat@Example.COM", components=[components["loyalty"].pk])
    assert response.status_code == 200 and b"Check your inbox" in response.content
    subscriber = Subscriber.objects.get()
    assert subscriber.state == "pending" and subscriber.address == "pat@example.com"
    assert not subscriber.all_components
    drain()
    [mail] = smtp.messages
    link = re.search(r"http://testserver(/confirm/\S+/)", mail.get_body(("plain",)).get_content())[
        1
    ]
    assert client.get(link).status_code == 200  # a GET (a mail scanner) does not confirm
    assert Subscriber.objects.get().state == "pending"
    assert b"You are subscribed" in client.post(link).content
    assert Subscriber.objects.get().state == "active"


def test_signing_up_again_while_active_changes_nothing_and_reveals_nothing(db, make_subscriber):
    existing = make_subscriber(address="pat@example.com")
    response = _signup(Client(), email="pat@example.com")
    assert b"Check your inbox" in response.content
    existing.refresh_from_db()
    assert existing.state == "active" and OutboxMessage.objects.count() == 0


def test_sms_sign_up_texts_a_code_that_turns_it_on(db, http_sink):
    client = Client()
    response = client.post(
        "/subscribe/", {"channel": "sms", "phone": "(512) 555-0142"}, REMOTE_ADDR="203.0.113.8"
    )
    assert response.status_code == 302
    subscriber = Subscriber.objects.get()
    assert subscriber.address == "+15125550142" and subscriber.country == "US"
    drain()
    code = re.search(r"code is (\d{6})", http_sink.sms[0]["Body"])[1]
    wrong = client.post(response["Location"], {"code": "000000" if code != "000000" else "111111"})
    assert wrong.status_code == 400 and b"That code does not work" in wrong.content
    assert b"You are subscribed" in client.post(response["Location"], {"code": code}).content
    assert Subscriber.objects.get().state == "active"


@pytest.mark.parametrize(
    ("phone", "message"),
    [
        ("12", b"not a valid phone number"),
        ("+44 20 7946 0958", b"We can only send SMS to numbers in US, CA"),
    ],
)
def test_sms_sign_up_refuses_bad_numbers_and_countries_off_the_allow_list(db, phone, message):
    response = Client().post("/subscribe/", {"channel": "sms", "phone": phone})
    assert response.status_code == 400 and message in response.content
    assert not Subscriber.objects.exists()


def test_too_many_sign_ups_from_one_ip_are_refused_with_429(db, settings):
    settings.SIGNUP_PER_IP_PER_HOUR = 2
    client = Client()
    for i in range(2):
        assert _signup(client, email=f"a{i}@example.com").status_code == 200
    refused = _signup(client, email="a9@example.com")
    assert refused.status_code == 429 and b"Too many sign-ups from your network" in refused.content
    assert Subscriber.objects.count() == 2


def test_one_number_gets_only_so_many_codes_a_day(db, settings):
    settings.SIGNUP_PER_NUMBER_PER_DAY = 1
    client = Client()
    assert client.post("/subscribe/", {"channel": "sms", "phone": "5125550150"}).status_code == 302
    again = client.post("/subscribe/", {"channel": "sms", "phone": "+1 512 555 0150"})
    assert again.status_code == 429 and b"too many confirmation codes" in again.content


def test_sms_sign_ups_per_country_are_capped(db, settings):
    settings.SIGNUP_PER_COUNTRY_PER_HOUR = 1
    client = Client()
    assert client.post("/subscribe/", {"channel": "sms", "phone": "5125550151"}).status_code == 302
    other = client.post("/subscribe/", {"channel": "sms", "phone": "5125550152"})
    assert other.status_code == 429 and b"unusually many SMS sign-ups" in other.content


def test_webhook_sign_up_shows_the_secret_once_and_refuses_private_addresses(db, settings):
    response = Client().post(
        "/subscribe/", {"channel": "webhook", "url": "https://hooks.example.com/x"}
    )
    subscriber = Subscriber.objects.get()
    assert subscriber.state == "pending" and subscriber.secret.encode() in response.content
    settings.WEBHOOK_ALLOW_PRIVATE = False
    refused = Client().post("/subscribe/", {"channel": "webhook", "url": "http://10.0.0.5/hook"})
    assert refused.status_code == 400 and b"public address" in refused.content


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433:6379/",
        "http://0x7f000001/",
        "http://localhost.:8123/healthz",
        "http://127.0.0.1.nip.io/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://169.254.169.254/latest/meta-data/",
    ],
)
def test_webhook_sign_up_refuses_loopback_in_any_spelling(db, settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    refused = Client().post("/subscribe/", {"channel": "webhook", "url": url})
    assert refused.status_code == 400 and b"public address" in refused.content
    assert not Subscriber.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1\u3002nip.io/x",  # ideographic full stop
        "http://169.254.169.254\uff0e/latest/meta-data/",  # full-width full stop
        "http://10\uff0e0\uff0e0\uff0e5/hook",
        "http://localhost\uff61/",  # half-width ideographic full stop
        "http://LOCALHOST\u3002:8123/healthz",
        "http://169.254.169.254./latest/meta-data/",  # a trailing dot
    ],
)
def test_webhook_sign_up_refuses_private_hosts_written_with_unicode_full_stops(db, settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    refused = Client().post("/subscribe/", {"channel": "webhook", "url": url})
    assert refused.status_code == 400 and b"public address" in refused.content
    assert not Subscriber.objects.exists()


def test_webhook_sign_up_refuses_a_host_the_http_client_cannot_encode(db):
    refused = Client().post(
        "/subscribe/", {"channel": "webhook", "url": "http://exa\u00admple.com/"}
    )
    assert refused.status_code == 400 and b"full URL" in refused.content


def test_one_click_unsubscribe_stops_queued_messages(db, make_subscriber):
    subscriber = make_subscriber()
    OutboxMessage.objects.create(
        channel="email", recipient=subscriber.address, subscriber=subscriber, dedupe_key="k1"
    )
    client = Client(enforce_csrf_checks=True)
    assert client.get(f"/unsubscribe/{subscriber.token}/").status_code == 200
    assert client.post(f"/unsubscribe/{subscriber.token}/").status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.state == "unsubscribed"
    assert OutboxMessage.objects.get().state == "cancelled"


def test_unsubscribe_pages_read_the_same_for_a_token_that_opens_nothing(db, make_subscriber):
    """A number already subscribed is sent to a decoy token at sign-up: these pages must not
    tell it from a real one."""
    real = make_subscriber(channel="sms", address="+15125550161", state="pending")
    client = Client()
    for token in (real.token, "not-a-token"):
        page = client.get(f"/unsubscribe/{token}/")
        assert page.status_code == 200 and b"Unsubscribe" in page.content
    assert client.post("/unsubscribe/not-a-token/").status_code == 200


@pytest.mark.parametrize("channel", ["sms", "webhook"])
def test_the_email_confirm_link_cannot_turn_on_an_sms_or_webhook_sign_up(db, channel):
    """Those need the texted code or the signed challenge; their tokens are in the pages
    whoever signed up sees, so /confirm/ must not take them."""
    address = "+1 415 555 2671" if channel == "sms" else "https://hooks.example.com/status"
    field = "phone" if channel == "sms" else "url"
    client = Client()
    client.post("/subscribe/", {"channel": channel, field: address})
    subscriber = Subscriber.objects.get(channel=channel)
    assert client.get(f"/confirm/{subscriber.token}/").status_code == 404
    assert client.post(f"/confirm/{subscriber.token}/").status_code == 404
    subscriber.refresh_from_db()
    assert subscriber.state == "pending"


def _twilio_post(path, params, token=TWILIO_TOKEN):
    signature = RequestValidator(token).compute_signature(f"http://testserver{path}", params)
    return Client().post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)


def test_stop_reply_with_a_valid_signature_unsubscribes_the_number(db, http_sink, make_subscriber):
    subscriber = make_subscriber(channel="sms", address="+15125550160")
    response = _twilio_post(
        "/hooks/twilio/inbound", {"From": "+15125550160", "Body": "Stop", "MessageSid": "SM1"}
    )
    assert response.status_code == 200 and b"<Response>" in response.content
    subscriber.refresh_from_db()
    assert subscriber.state == "unsubscribed"
    assert SmsOptOut.objects.filter(phone="+15125550160").exists()


def test_stop_reply_with_a_bad_signature_is_refused_and_changes_nothing(
    db, http_sink, make_subscriber
):
    subscriber = make_subscriber(channel="sms", address="+15125550161")
    forged = _twilio_post(
        "/hooks/twilio/inbound", {"From": "+15125550161", "Body": "STOP"}, token="not-the-token"
    )
    unsigned = Client().post("/hooks/twilio/inbound", {"From": "+15125550161", "Body": "STOP"})
    assert forged.status_code == 403 and unsigned.status_code == 403
    subscriber.refresh_from_db()
    assert subscriber.state == "active"


def test_help_reply_says_what_this_is_and_how_to_stop(db, http_sink):
    response = _twilio_post("/hooks/twilio/inbound", {"From": "+15125550162", "Body": "help"})
    assert b"Reply STOP to unsubscribe" in response.content


def test_no_sms_goes_to_a_number_that_replied_stop(db, http_sink, make_subscriber):
    make_subscriber(channel="sms", address="+15125550163")
    _twilio_post("/hooks/twilio/inbound", {"From": "+15125550163", "Body": "STOP"})
    OutboxMessage.objects.create(channel="sms", recipient="+15125550163", body="Hi", dedupe_key="x")
    assert drain() == {"cancelled": 1}
    assert http_sink.sms == []


def test_delivery_receipt_marks_the_message_delivered_only_when_signed(db, http_sink):
    message = OutboxMessage.objects.create(
        channel="sms",
        recipient="+15125550164",
        body="Hi",
        dedupe_key="r",
        provider_message_id="SM9",
    )
    params = {"MessageSid": "SM9", "MessageStatus": "delivered"}
    assert _twilio_post("/hooks/twilio/status", params, token="forged").status_code == 403
    message.refresh_from_db()
    assert message.state == "queued"
    assert _twilio_post("/hooks/twilio/status", params).status_code == 204
    message.refresh_from_db()
    assert message.state == "delivered" and message.delivered_at is not None
    _twilio_post(
        "/hooks/twilio/status",
        {"MessageSid": "SM9", "MessageStatus": "undelivered", "ErrorCode": "30003"},
    )
    message.refresh_from_db()
    assert message.state == "failed" and "30003" in message.last_error


def test_subscribing_an_existing_webhook_again_never_reveals_its_secret(db, api_token):
    form = {"channel": "webhook", "url": "https://hooks.example.com/victim"}
    first = Client().post("/subscribe/", form)
    subscriber = Subscriber.objects.get()
    secret, token = subscriber.secret, subscriber.token
    assert secret.encode() in first.content
    again = Client().post("/subscribe/", form)
    assert again.status_code == 200 and b"already subscribed" in again.content
    assert secret.encode() not in again.content and token.encode() not in again.content
    headers = api_token("subscribers:write")
    answer = Client().post(
        "/api/v1/notifications/subscribers",
        {"channel": "webhook", "address": "https://hooks.example.com/victim"},
        content_type="application/json",
        **headers,
    )
    assert answer.status_code == 200 and answer.json()["secret"] is None
    assert secret not in answer.content.decode() and token not in answer.content.decode()
    subscriber.refresh_from_db()
    assert (subscriber.secret, subscriber.token) == (secret, token)


def test_subscribing_an_active_number_again_looks_like_a_new_sign_up(db, make_subscriber):
    existing = make_subscriber(channel="sms", address="+15125550142")
    existing.token = "the-real-unsubscribe-token"
    existing.save()
    response = Client().post("/subscribe/", {"channel": "sms", "phone": "(512) 555-0142"})
    assert response.status_code == 302 and "/subscribe/sms/" in response["Location"]
    assert existing.token not in response["Location"]
    assert OutboxMessage.objects.count() == 0


def test_signing_up_a_pending_address_again_sends_no_second_confirmation(db, settings):
    settings.SIGNUP_CONFIRMATION_RESEND_MINUTES = 15
    client = Client()
    assert b"Check your inbox" in _signup(client, email="pat@example.com").content
    token = Subscriber.objects.get().token
    again = _signup(client, email="pat@example.com")
    assert again.status_code == 200 and b"Check your inbox" in again.content
    assert Subscriber.objects.get().token == token  # the first link still works
    assert OutboxMessage.objects.count() == 1
    # Once the window has passed, asking again sends a fresh link.
    OutboxMessage.objects.update(created_at=timezone.now() - timedelta(minutes=16))
    _signup(client, email="pat@example.com")
    assert OutboxMessage.objects.count() == 2 and Subscriber.objects.get().token != token


def test_one_email_address_can_be_signed_up_only_so_often_a_day(db, settings):
    settings.SIGNUP_PER_EMAIL_PER_DAY = 2
    settings.SIGNUP_CONFIRMATION_RESEND_MINUTES = 0
    for ip in ("203.0.113.1", "203.0.113.2"):
        assert (
            Client()
            .post("/subscribe/", {"channel": "email", "email": "Pat@example.com"}, REMOTE_ADDR=ip)
            .status_code
            == 200
        )
    refused = Client().post(
        "/subscribe/", {"channel": "email", "email": "pat@EXAMPLE.com"}, REMOTE_ADDR="203.0.113.3"
    )
    assert refused.status_code == 429 and b"signed up too often today" in refused.content
    assert OutboxMessage.objects.count() == 2


def test_one_mailbox_in_two_spellings_is_one_subscriber_sent_each_update_once(db):
    client = Client()
    for spelling in ("Alice@Example.com", "alice@example.com", " ALICE@example.COM "):
        assert (
            client.post("/subscribe/", {"channel": "email", "email": spelling}).status_code == 200
        )
    subscriber = Subscriber.objects.get()
    assert subscriber.address == "alice@example.com"
    # One confirmation e-mail, not one per spelling.
    assert OutboxMessage.objects.filter(recipient="alice@example.com").count() == 1


def test_a_quoted_or_escaped_spelling_of_a_mailbox_is_refused_so_the_limit_holds(db, settings):
    settings.SIGNUP_PER_EMAIL_PER_DAY = 1
    client = Client()
    assert (
        client.post("/subscribe/", {"channel": "email", "email": "bob@example.com"}).status_code
        == 200
    )
    for spelling in ('"bob"@example.com', '"b\\\\ob"@example.com', "b\\\\ob@example.com"):
        page = client.post("/subscribe/", {"channel": "email", "email": spelling})
        assert page.status_code in (400, 429), spelling
    assert Subscriber.objects.count() == 1
    assert OutboxMessage.objects.count() == 1


def test_the_migration_keeps_one_subscriber_per_mailbox_and_old_links_still_work(db):
    import importlib

    from django.apps import apps as django_apps
    from django.db import connection

    lowering = importlib.import_module(
        "tideover.notifications.migrations.0009_email_addresses_lower_case"
    )
    rows = [
        ("Carol@example.com", "unsubscribed"),
        ("carol@example.com", "active"),
        ("CAROL@example.com", "pending"),
        ("Dave@Example.com", "pending"),
        ("erin@example.com", "active"),
    ]
    made = [
        Subscriber.objects.create(channel="email", address=address, state=state)
        for address, state in rows
    ]
    queued = OutboxMessage.objects.create(
        channel="email", recipient="CAROL@example.com", subscriber=made[2], dedupe_key="q1"
    )
    Subscriber.objects.create(
        channel="webhook", address="https://h.example.com/Path", state="active"
    )
    lowering.lower_email_addresses(django_apps, connection.schema_editor())
    kept = dict(Subscriber.objects.filter(merged_into=None).values_list("address", "state"))
    assert kept == {
        "carol@example.com": "active",
        "dave@example.com": "pending",
        "erin@example.com": "active",
        "https://h.example.com/Path": "active",
    }
    merged = Subscriber.objects.exclude(merged_into=None)
    assert {m.pk for m in merged} == {made[0].pk, made[2].pk}
    assert all(m.state == "unsubscribed" and m.merged_into_id == made[1].pk for m in merged)
    queued.refresh_from_db()
    assert queued.state == "cancelled"
    # The unsubscribe link in mail sent to another spelling stops the mailbox's messages.
    assert Client().post(f"/unsubscribe/{made[2].token}/").status_code == 200
    made[1].refresh_from_db()
    assert made[1].state == "unsubscribed"
