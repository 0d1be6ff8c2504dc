"""SMS through the Twilio SDK, with delivery receipts from Twilio's status callback."""

from __future__ import annotations

import httpx
from django.conf import settings
from django.urls import reverse

from tideover.core.http import twilio_http_client
from tideover.notifications.channels import DeliveryError, Rendered, Transport, register

# Twilio error codes that no retry will fix: invalid 'To', unsubscribed recipient, not a mobile,
# blocked destination, region not enabled.
PERMANENT_CODES = {21211, 21408, 21610, 21612, 21614, 21617, 30003, 30005, 30006}


@register
class SmsTransport(Transport):
    channel = "sms"

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
