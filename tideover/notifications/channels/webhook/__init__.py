"""Webhooks: a public http(s) URL (addresses.py), a signing secret shown once at sign-up and
a signed challenge before it is turned on (verification.py); JSON payloads as signed POSTs (see
tideover.core.http for the signature scheme), each carrying a delivery id receivers dedupe on."""

from __future__ import annotations

import secrets
from datetime import datetime
from urllib.parse import urlsplit

import httpx
from django import forms

from tideover.core import http
from tideover.core.errors import DomainError
from tideover.core.timestamps import iso_millis
from tideover.notifications.channels import Channel, DeliveryError, Rendered, Transport, register
from tideover.notifications.channels.webhook.addresses import clean_webhook_url


class WebhookTransport(Transport):
    # Every attempt carries the same Tideover-Delivery id and receivers drop repeats, so a
    # message left 'sending' by a dead worker is sent again rather than given up.
    idempotent = True

    def send(self, message: Rendered) -> str:
        try:
            response = http.post_signed_json(
                message.recipient,
                message.payload,
                secret=message.secret,
                delivery_id=message.delivery_id,
            )
        except http.UnsafeAddress as exc:
            raise DeliveryError(f"webhook refused: {exc}", permanent=True)
        except http.ResponseTooLarge:
            raise DeliveryError("webhook answered with too long a body", permanent=False)
        except httpx.TimeoutException:
            raise DeliveryError("webhook timed out", permanent=False)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"webhook unreachable: {type(exc).__name__}", permanent=False)
        status = response.status_code
        if 200 <= status < 300:
            return message.delivery_id
        # 408 and 429 ask us to come back later; other 4xx will not get better by retrying.
        permanent = 400 <= status < 500 and status not in (408, 409, 425, 429)
        raise DeliveryError(f"webhook answered HTTP {status}", permanent=permanent)


def notification_payload(notification, ident: str, unsubscribe: str, internal: bool) -> dict:
    from tideover.notifications.rendering import incident_url

    incident = notification.incident
    payload = {
        "id": ident,
        "event": notification.event,
        "at": iso_millis(notification.at),
        "incident": {
            "id": incident.pk if incident else None,
            "title": notification.title,
            "status": notification.headline,
            "url": incident_url(incident),
        },
        "update": notification.body,
        "components": notification.components,
        "unsubscribe_url": unsubscribe,
    }
    if internal:
        payload["drill"] = notification.is_drill
        payload["internal_note"] = notification.internal_note
        payload["talking_points"] = notification.talking_points
    return payload


@register
class WebhookChannel(Channel):
    name = "webhook"
    label = "Webhook"
    public = True
    signup_label = "Webhook (for developers)"
    order = 3
    transport = WebhookTransport

    def signup_field(self):
        return "url", forms.CharField(
            required=False, max_length=500, label="Webhook URL", widget=forms.URLInput
        )

    def clean_address(self, text: str, *, field: str) -> str:
        return clean_webhook_url(text, field=field)

    def clean_target(self, text: str) -> str:
        # Staff webhooks may point inside the network; the worker's guard still applies.
        target = (text or "").strip()
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DomainError("Enter the webhook's full URL", field="target")
        return target

    def prepare(self, subscriber) -> None:
        # Pending until the endpoint answers a signed challenge (verification.py).
        subscriber.secret = secrets.token_hex(24)

    def confirmation_pending(self, subscriber, since: datetime) -> bool:
        # Its owner may be setting up the secret just shown to them: a second sign-up of the
        # same URL must not replace it (nor see it).
        return subscriber.created_at >= since

    def needs_text(self) -> bool:
        return False  # JSON only

    def render_notification(self, rendered: Rendered, notification, context: dict) -> Rendered:
        rendered.payload = notification_payload(
            notification, rendered.delivery_id, context["unsubscribe_url"], context["internal"]
        )
        return rendered

    def render_message(self, rendered: Rendered, message) -> Rendered:
        rendered.payload = {"id": rendered.delivery_id, "event": "message"}
        rendered.payload["subject"] = message.subject
        rendered.payload["text"] = message.body
        return rendered
