"""SMS replies: the opt-out keywords however they are written, START, and who may unsubscribe
a number."""

import pytest
from django.test import Client
from twilio.request_validator import RequestValidator

from tideover.notifications.inbound import handle_inbound_sms
from tideover.notifications.models import SmsOptOut, Subscriber
from tideover.notifications.tests.conftest import TWILIO_TOKEN

pytestmark = pytest.mark.django_db


def _twilio_post(path, params):
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(f"http://testserver{path}", params)
    return Client().post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)


@pytest.mark.parametrize(
    "body",
    [
        "STOP\nthanks",
        "STOP,",
        "stop",
        " Stop!!",
        "\uff33\uff34\uff2f\uff30",  # full-width
        "stopall",
        "Unsubscribe me please",
        "cancel.",
        "END",
        "quit;",
        "Stop sending these please",
    ],
)
def test_opt_out_keywords_are_recognised_however_they_are_written(http_sink, make_subscriber, body):
    subscriber = make_subscriber(channel="sms", address="+15125550170")
    _twilio_post("/hooks/twilio/inbound", {"From": "+15125550170", "Body": body})
    subscriber.refresh_from_db()
    assert subscriber.state == "unsubscribed"
    assert SmsOptOut.objects.filter(phone="+15125550170").exists()


@pytest.mark.parametrize(
    "body",
    [
        "Stopping by the store later",
        "please stop",
        "",
        "  ",
        "Cancel my order pls",
        "End of aisle 5 is wet",
        "Quit calling it an outage, it's been 2 hours",
    ],
)
def test_a_reply_that_is_no_opt_out_unsubscribes_nothing(make_subscriber, body):
    subscriber = make_subscriber(channel="sms", address="+15125550171")
    handle_inbound_sms(sender="+15125550171", body=body)
    subscriber.refresh_from_db()
    assert subscriber.state == "active"


def test_start_turns_on_again_a_subscriber_the_stop_turned_off(make_subscriber):
    active = make_subscriber(channel="sms", address="+15125550172")
    handle_inbound_sms(sender="+15125550172", body="STOP")
    active.refresh_from_db()
    assert active.state == "unsubscribed" and active.stopped_by_reply
    handle_inbound_sms(sender="+15125550172", body="START")
    active.refresh_from_db()
    assert active.state == "active" and not active.stopped_by_reply


def test_a_yes_in_a_longer_reply_does_not_turn_a_stopped_number_on_again(make_subscriber):
    stopped = make_subscriber(channel="sms", address="+15125550174")
    handle_inbound_sms(sender="+15125550174", body="STOP")
    handle_inbound_sms(sender="+15125550174", body="Yes, that worked, thanks")
    stopped.refresh_from_db()
    assert stopped.state == "unsubscribed"
    handle_inbound_sms(sender="+15125550174", body=" yes! ")
    stopped.refresh_from_db()
    assert stopped.state == "active"


def test_start_does_not_turn_on_a_sign_up_that_was_pending_when_stop_came(http_sink):
    number = "+14155552671"
    Client().post("/subscribe/", {"channel": "sms", "phone": number})
    handle_inbound_sms(sender=number, body="STOP")  # "I never asked for this"
    handle_inbound_sms(sender=number, body="START")
    assert Subscriber.objects.get(address=number).state == "unsubscribed"


def test_start_does_not_turn_on_a_number_unsubscribed_by_its_link(make_subscriber):
    subscriber = make_subscriber(channel="sms", address="+15125550173")
    Client().post(f"/unsubscribe/{subscriber.token}/")
    handle_inbound_sms(sender="+15125550173", body="STOP")
    handle_inbound_sms(sender="+15125550173", body="START")
    subscriber.refresh_from_db()
    assert subscriber.state == "unsubscribed"


def test_whoever_signed_a_number_up_cannot_unsubscribe_it_once_its_owner_confirmed(http_sink):
    import re

    from tideover.notifications.outbox import drain

    # Someone signs up a number that is not theirs: the code page's URL holds the token.
    page = Client().post("/subscribe/", {"channel": "sms", "phone": "+14155552671"})["Location"]
    token_seen = page.rstrip("/").rsplit("/", 1)[1]
    drain()
    code = re.search(r"code is (\d{6})", http_sink.sms[0]["Body"])[1]
    # The owner, who got the code, confirms it.
    assert b"You are subscribed" in Client().post(page, {"code": code}).content
    subscriber = Subscriber.objects.get()
    assert subscriber.state == "active" and subscriber.token != token_seen
    # The token the other person saw opens nothing now.
    Client().post(f"/unsubscribe/{token_seen}/")
    subscriber.refresh_from_db()
    assert subscriber.state == "active"
    # The link in the owner's own messages (rendered from the new token) still works.
    Client().post(f"/unsubscribe/{subscriber.token}/")
    subscriber.refresh_from_db()
    assert subscriber.state == "unsubscribed"
