"""SMS text stays in the encoding it needs: cutting a long update never switches it to UCS-2."""

import pytest

from tideover.incidents import services as incidents
from tideover.notifications.channels.sms.text import fit, sms_segments
from tideover.notifications.models import Notification
from tideover.notifications.rendering import preview, render_notification

URL = "http://testserver/"


def test_a_long_gsm7_update_is_cut_within_three_gsm7_segments():
    text = fit("Registers are back in most stores. " * 30, footer="Reply STOP.", more_url=URL)
    assert sms_segments(text) == {**sms_segments(text), "encoding": "GSM-7"}
    assert sms_segments(text)["segments"] == 3
    assert text.endswith(f"... {URL} Reply STOP.")


def test_typographic_punctuation_is_sent_as_its_gsm7_look_alike():
    text = fit("We’re “nearly” there – thanks…\u00a0", footer="", more_url=URL)
    assert text == 'We\'re "nearly" there - thanks...'
    assert sms_segments(text)["encoding"] == "GSM-7"


def test_a_message_that_needs_ucs2_is_cut_within_three_ucs2_segments():
    text = fit("Касса не работает. " * 20, footer="Reply STOP.", more_url=URL)
    info = sms_segments(text)
    assert info["encoding"] == "UCS-2" and info["segments"] == 3
    assert text.endswith(f"... {URL} Reply STOP.")


def test_gsm7_extended_characters_count_twice_when_cutting():
    text = fit("{braces} [and] €uro " * 40, footer="", more_url=URL)
    info = sms_segments(text)
    assert info["encoding"] == "GSM-7" and info["length"] <= 3 * 153


@pytest.mark.django_db
def test_sms_and_preview_show_the_true_encoding_and_count(severities, components):
    incident = incidents.declare_incident(
        title="Card payments failing",
        severity=severities["SEV2"],
        components={components["card-payments"]: "major_outage"},
        message="Some card payments fail – use cash… " * 20,
    )
    notification = Notification.objects.filter(incident=incident).first()
    sms = render_notification(notification, "sms", "", internal=False)
    assert sms_segments(sms.text) == {"encoding": "GSM-7", "length": len(sms.text), "segments": 3}
    shown = preview(notification)["sms"]
    assert shown["encoding"] == "GSM-7" and shown["segments"] == 3
    assert shown["length"] == len(shown["text"])


@pytest.mark.django_db
def test_plain_text_mail_preview_and_chat_name_component_statuses_in_words(severities, components):
    incident = incidents.declare_incident(
        title="Card payments failing",
        severity=severities["SEV2"],
        components={components["card-payments"]: "major_outage"},
        message="Cash only for now.",
    )
    notification = Notification.objects.filter(incident=incident).first()
    shown = preview(notification)
    for text in (shown["email"]["text"], shown["chat"]["text"]):
        assert "Card payments (Major outage)" in text
        assert "majoroutage" not in text and "major_outage" not in text
