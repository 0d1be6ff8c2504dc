"""What each message says on each channel, rendered at send time (so an outbox row stays small
and a fan-out to 100,000 subscribers is one INSERT ... SELECT), and the per-channel preview."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse

from tideover.core.models import ComponentStatus
from tideover.core.text import clean_line, clean_text
from tideover.core.timestamps import iso_millis
from tideover.notifications import smstext
from tideover.notifications.channels import Rendered
from tideover.notifications.models import Category, Channel, Notification, OutboxMessage


def delivery_id(message: OutboxMessage) -> str:
    """Stable per message: every retry repeats it so receivers can drop duplicates."""
    return "tdo_" + hashlib.sha256(message.dedupe_key.encode()).hexdigest()[:32]


def unsubscribe_url(token: str) -> str:
    return settings.SITE_URL + reverse("notifications:unsubscribe", args=[token])


def status_url() -> str:
    return settings.SITE_URL + "/"


def incident_url(incident) -> str:
    """The incident's own public page (a drill has none: it links the status page)."""
    if incident is None or incident.is_drill:
        return status_url()
    return settings.SITE_URL + reverse("statuspage:incident", args=[incident.pk])


def _prefix(notification: Notification) -> str:
    return "[DRILL] " if notification.is_drill else ""


def _sms_text(notification: Notification | None, body: str, *, footer: str) -> str:
    if notification is not None:
        text = f"{settings.SITE_NAME}: {notification.title} ({notification.headline}). {body}"
    else:
        text = body
    return smstext.fit(clean_text(text), footer=footer, more_url=status_url())


def _status_label(value: str) -> str:
    """'major_outage' as people read it: 'Major outage'."""
    try:
        return ComponentStatus(value).label
    except ValueError:
        return value.replace("_", " ").capitalize()


def _context(notification: Notification, internal: bool, unsubscribe: str) -> dict:
    return {
        "n": notification,
        "components": [
            {"name": c.get("name", ""), "label": _status_label(c.get("status", ""))}
            for c in notification.components or []
        ],
        "site_name": settings.SITE_NAME,
        "status_url": status_url(),
        "internal": internal,
        "unsubscribe_url": unsubscribe,
    }


def render_notification(
    notification: Notification,
    channel: str,
    recipient: str,
    *,
    internal: bool,
    unsubscribe: str = "",
    secret: str = "",
    ident: str = "",
) -> Rendered:
    """A notification as ``channel`` shows it, to the public or to staff (``internal``)."""
    subject = clean_line(
        f"{_prefix(notification)}[{settings.SITE_NAME}] {notification.headline}: {notification.title}"
    )
    ctx = _context(notification, internal, unsubscribe)
    # Webhooks carry JSON only: no need to render the text.
    text = (
        ""
        if channel == Channel.WEBHOOK
        else clean_text(render_to_string("notifications/messages/update.txt", ctx))
    )
    rendered = Rendered(channel, recipient, subject, text, delivery_id=ident, secret=secret)
    if channel == Channel.EMAIL:
        rendered.html = clean_text(render_to_string("notifications/messages/update.html", ctx))
        if unsubscribe:
            rendered.headers = {
                "List-Unsubscribe": f"<{unsubscribe}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            }
    elif channel == Channel.SMS:
        body = notification.body or notification.headline
        if internal:
            body = f"{_prefix(notification)}{notification.internal_note or body}"
        footer = "" if internal else "Reply STOP to unsubscribe."
        rendered.text = _sms_text(notification, body, footer=footer)
    elif channel == Channel.WEBHOOK:
        rendered.payload = webhook_payload(notification, ident, unsubscribe, internal)
    elif channel == Channel.CHAT:
        rendered.subject = subject
    return rendered


def webhook_payload(notification: Notification, ident: str, unsubscribe: str, internal: bool):
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


def render(message: OutboxMessage) -> Rendered:
    """The message as its transport sends it."""
    ident = delivery_id(message)
    subscriber = message.subscriber
    unsubscribe = unsubscribe_url(subscriber.token) if subscriber is not None else ""
    secret = ""
    if subscriber is not None:
        secret = subscriber.secret
    elif message.endpoint is not None:
        secret = message.endpoint.secret
    if message.notification_id is not None:
        return render_notification(
            message.notification,
            message.channel,
            message.recipient,
            internal=message.category == Category.INTERNAL,
            unsubscribe=unsubscribe,
            secret=secret,
            ident=ident,
        )
    # A direct message (confirmation, reminder, loyalty): subject and body are on the row.
    text = message.body
    if message.channel == Channel.SMS:
        footer = "Reply STOP to opt out." if message.category == Category.MARKETING else ""
        text = _sms_text(None, message.body, footer=footer)
    rendered = Rendered(
        message.channel,
        message.recipient,
        clean_line(message.subject),
        clean_text(text),
        delivery_id=ident,
        secret=secret,
    )
    if message.channel == Channel.WEBHOOK:
        rendered.payload = {"id": ident, "event": "message", "subject": message.subject}
        rendered.payload["text"] = message.body
    return rendered


def preview(notification: Notification) -> dict:
    """How an update will look on every public channel, before it is posted."""
    sms = render_notification(notification, Channel.SMS, "", internal=False)
    email = render_notification(
        notification, Channel.EMAIL, "", internal=False, unsubscribe=unsubscribe_url("TOKEN")
    )
    chat = render_notification(notification, Channel.CHAT, "", internal=True)
    return {
        "sms": {"text": sms.text, **smstext.sms_segments(sms.text)},
        "email": {"subject": email.subject, "text": email.text, "html": email.html},
        "chat": {"title": chat.subject, "text": chat.text},
    }
