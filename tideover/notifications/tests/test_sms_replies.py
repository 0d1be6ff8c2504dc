"""SMS replies: the opt-out keywords however they are written, START, and who may unsubscribe
a number."""

import pytest
from django.test import Client
from twilio.request_validator import RequestValidator

from tideover.notifications.inbound import handle_inbound_sms
from tideover.notifications.models import SmsOptOut
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
        "END\tof messages",
        "quit;",
    ],
)
def test_opt_out_keywords_are_recognised_however_they_are_written(http_sink, make_subscriber, body):
    subscriber = make_subscriber(channel="sms", address="+15125550170")
    _twilio_post("/hooks/twilio/inbound", {"From": "+15125550170", "Body": body})
    subscriber.refresh_from_db()
    assert subscriber.state == "unsubscribed"
    assert SmsOptOut.objects.filter(phone="+15125550170").exists()


@pytest.mark.parametrize("body", ["Stopping by the store later", "please stop", "", "  "])
def test_a_reply_whose_first_word_is_no_keyword_unsubscribes_nothing(make_subscriber, body):
    subscriber = make_subscriber(channel="sms", address="+15125550171")
    handle_inbound_sms(sender="+15125550171", body=body)
    subscriber.refresh_from_db()
    assert subscriber.state == "active"
