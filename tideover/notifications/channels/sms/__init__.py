"""SMS: numbers in the allowed countries, a texted code at sign-up, text that fits three
segments, STOP replies honoured; sent through the Twilio SDK, with delivery receipts from
Twilio's status callback (views_public.py) and STOP replies read by inbound.py."""

from __future__ import annotations

import hashlib
import hmac
import secrets

import httpx
from django import forms
from django.conf import settings
from django.urls import reverse

from tideover.core.errors import DomainError
from tideover.core.http import twilio_http_client
from tideover.core.phones import country_of, require_mobile, to_e164
from tideover.core.text import clean_text
from tideover.notifications.channels import Channel, DeliveryError, Rendered, Transport, register
from tideover.notifications.channels.sms import text as segments

# Twilio error codes that no retry will fix: invalid 'To', unsubscribed recipient, not a mobile,
# blocked destination, region not enabled.
PERMANENT_CODES = {21211, 21408, 21610, 21612, 21614, 21617, 30003, 30005, 30006}


class SmsTransport(Transport):
    def __init__(self):
        self.client = None

    def rate_limit(self):
        # Carriers throttle per sending number, so the bucket is keyed by it.
        return (f"sms:{settings.TWILIO_FROM_NUMBER}", settings.SMS_RATE_PER_SECOND)

    def open(self) -> None:
        from twilio.rest import Client

        needed = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER")
        missing = [name for name in needed if not getattr(settings, name, "")]
        if missing:
            # Permanent: retrying cannot help until someone sets these and retries the message.
            raise DeliveryError(
                f"SMS is not configured: set {', '.join(missing)} (see docs/configuration.md), "
                "then retry the message",
                permanent=True,
            )
        self.client = Client(
            settings.TWILIO_ACCOUNT_SID,
            settings.TWILIO_AUTH_TOKEN,
            http_client=twilio_http_client(),
        )

    def send(self, message: Rendered) -> str:
        from twilio.base.exceptions import TwilioException, TwilioRestException

        if self.client is None:
            self.open()
        callback = settings.SITE_URL + reverse("notifications:twilio-status")
        try:
            sent = self.client.messages.create(
                to=message.recipient,
                from_=settings.TWILIO_FROM_NUMBER,
                body=message.text,
                status_callback=callback,
            )
        except TwilioRestException as exc:
            permanent = exc.code in PERMANENT_CODES or (
                400 <= exc.status < 500 and exc.status != 429
            )
            raise DeliveryError(f"Twilio {exc.status} code {exc.code}", permanent=permanent)
        except TwilioException as exc:
            raise DeliveryError(f"Twilio unavailable: {type(exc).__name__}", permanent=False)
        except (OSError, httpx.HTTPError) as exc:
            raise DeliveryError(f"Twilio unreachable: {type(exc).__name__}", permanent=False)
        return sent.sid


def sms_text(notification, body: str, *, footer: str) -> str:
    """An update (or a direct message when ``notification`` is None) in at most three segments."""
    from tideover.notifications.rendering import status_url

    if notification is not None:
        text = f"{settings.SITE_NAME}: {notification.title} ({notification.headline}). {body}"
    else:
        text = body
    return segments.fit(clean_text(text), footer=footer, more_url=status_url())


def code_hash(subscriber, code: str) -> str:
    """The confirmation code as stored: keyed by the secret key and the sign-up's token."""
    key = f"{settings.SECRET_KEY}:{subscriber.token}".encode()
    return hmac.new(key, code.encode(), hashlib.sha256).hexdigest()


@register
class SmsChannel(Channel):
    name = "sms"
    label = "SMS"
    public = True
    signup_label = "Text message (SMS)"
    order = 2
    transport = SmsTransport

    def signup_field(self):
        widget = forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"})
        return "phone", forms.CharField(
            required=False, max_length=32, label="Mobile number", widget=widget
        )

    def clean_address(self, text: str, *, field: str) -> str:
        address = to_e164(text, field=field)
        if country_of(address) not in settings.SMS_ALLOWED_COUNTRIES:
            raise DomainError(
                f"We can only send SMS to numbers in {', '.join(settings.SMS_ALLOWED_COUNTRIES)}; "
                "please subscribe by e-mail instead",
                field=field,
            )
        require_mobile(address, field=field)
        return address

    def clean_target(self, text: str) -> str:
        # A staff phone may be anywhere, and a landline with an SMS gateway.
        return to_e164(text, field="target")

    def check_signup(self, address: str, *, ip: str, authorised: bool) -> None:
        from tideover.notifications.ratelimit import check_signup

        country = country_of(address)
        check_signup(ip=ip, phone=address, country=country, authorised=authorised)

    def prepare(self, subscriber) -> None:
        subscriber.country = country_of(subscriber.address)

    def send_confirmation(self, subscriber) -> None:
        from tideover.notifications.models import Category
        from tideover.notifications.outbox import queue_direct

        code = f"{secrets.randbelow(1_000_000):06d}"
        subscriber.confirm_code_hash = code_hash(subscriber, code)
        subscriber.save(update_fields=["confirm_code_hash"])
        queue_direct(
            self.name,
            subscriber.address,
            "",
            f"{settings.SITE_NAME} status alerts: your code is {code}",
            f"code:{subscriber.pk}:{subscriber.token}",
            category=Category.TRANSACTIONAL,
        )

    def render_notification(self, rendered: Rendered, notification, context: dict) -> Rendered:
        from tideover.notifications.rendering import prefix

        internal = context["internal"]
        body = notification.body or notification.headline
        if internal:
            body = f"{prefix(notification)}{notification.internal_note or body}"
        footer = "" if internal else "Reply STOP to unsubscribe."
        rendered.text = sms_text(notification, body, footer=footer)
        return rendered

    def render_message(self, rendered: Rendered, message) -> Rendered:
        from tideover.notifications.models import Category

        footer = "Reply STOP to opt out." if message.category == Category.MARKETING else ""
        rendered.text = clean_text(sms_text(None, message.body, footer=footer))
        return rendered

    def preview(self, notification) -> dict:
        from tideover.notifications.rendering import render_notification

        sms = render_notification(notification, self.name, "", internal=False)
        return {"text": sms.text, **segments.sms_segments(sms.text)}

    def suppressed(self, message) -> str:
        from tideover.notifications.models import Category, SmsOptOut

        if (
            message.category != Category.INTERNAL
            and SmsOptOut.objects.filter(phone=message.recipient).exists()
        ):
            return "recipient replied STOP"
        return ""
