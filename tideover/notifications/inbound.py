"""SMS replies (STOP, START, HELP) and delivery receipts from the provider's webhooks."""

from __future__ import annotations

import re
import unicodedata

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tideover.core import events
from tideover.notifications.models import (
    InboundMessage,
    MessageState,
    OutboxMessage,
    SmsOptOut,
    Subscriber,
    SubscriberState,
)
from tideover.notifications.signup import unsubscribe_subscriber

# Opt-out words nobody writes at the start of anything else: honoured as a reply's first word,
# followed by anything ("STOP", "stop, thanks", "Unsubscribe me please").
STOP_FIRST_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "OPTOUT"}
# Everyday words ("Cancel my order", "End of aisle 5 is wet", "Yes, that worked"): a keyword
# only when they are the whole reply, as carriers read them.
STOP_WORDS = STOP_FIRST_WORDS | {"CANCEL", "END", "QUIT", "REVOKE"}
START_WORDS = {"START", "YES", "UNSTOP", "OPTIN"}
HELP_WORDS = {"HELP", "INFO"}


_WORD = re.compile(r"[^\W_]+")


def keyword_of(body: str) -> str:
    """The keyword a reply is, or ``""``: read after NFKC (full-width ``ＳＴＯＰ``) and case
    folding, in words split on any whitespace or punctuation (``STOP\nthanks``, ``stop,``).
    A reply made of one word is that word; a longer one counts only when its first word is an
    unmistakable opt-out (``STOP_FIRST_WORDS``)."""
    words = _WORD.findall(unicodedata.normalize("NFKC", body or "").casefold())
    if not words:
        return ""
    first = words[0].upper()
    if len(words) == 1 or first in STOP_FIRST_WORDS:
        return first
    return ""


@transaction.atomic
def handle_inbound_sms(*, sender: str, body: str, provider_message_id: str = "") -> str:
    """Honour STOP / START / HELP; returns the reply text ('' for none)."""
    keyword = keyword_of(body)
    action, reply = "", ""
    if keyword in STOP_WORDS:
        SmsOptOut.objects.get_or_create(phone=sender)
        for subscriber in Subscriber.objects.filter(channel="sms", address=sender).exclude(
            state=SubscriberState.UNSUBSCRIBED
        ):
            unsubscribe_subscriber(subscriber, by_reply=True)
        action = "unsubscribed"
        events.publish("notifications.sms_opt_out", phone_e164=sender)
    elif keyword in START_WORDS:
        SmsOptOut.objects.filter(phone=sender).delete()
        # Only what the STOP turned off: not a sign-up still waiting for its code when STOP
        # came (the number never confirmed it), nor one unsubscribed by its link.
        restarted = Subscriber.objects.filter(
            channel="sms", address=sender, state=SubscriberState.UNSUBSCRIBED, stopped_by_reply=True
        ).update(state=SubscriberState.ACTIVE, unsubscribed_at=None, stopped_by_reply=False)
        action = f"resubscribed {restarted}"
        reply = f"{settings.SITE_NAME}: you will get status alerts again. Reply STOP to stop."
    elif keyword in HELP_WORDS:
        action = "help"
        reply = (
            f"{settings.SITE_NAME} status alerts. Status page: {settings.SITE_URL}/ "
            "Reply STOP to unsubscribe. Msg & data rates may apply."
        )
    InboundMessage.objects.create(
        provider_message_id=provider_message_id[:100],
        sender=sender,
        body=(body or "")[:1600],
        keyword=keyword[:20],
        action=action,
    )
    return reply


@transaction.atomic
def record_delivery_receipt(*, provider_message_id: str, status: str, error_code: str = "") -> bool:
    """Apply a provider's delivery receipt; True when a message matched."""
    message = (
        OutboxMessage.objects.select_for_update()
        .filter(provider_message_id=provider_message_id)
        .exclude(provider_message_id="")  # no id matches nothing; and it picks the partial index
        .first()
    )
    if message is None:
        return False
    status = (status or "").lower()
    if status == "delivered":
        message.state = MessageState.DELIVERED
        message.delivered_at = timezone.now()
    elif status in ("failed", "undelivered"):
        message.state = MessageState.FAILED
        message.last_error = f"carrier reported {status}" + (
            f" (Twilio error {error_code})" if error_code else ""
        )
    else:
        return True  # queued / sent / sending: nothing new to record
    message.save(update_fields=["state", "delivered_at", "last_error"])
    return True
