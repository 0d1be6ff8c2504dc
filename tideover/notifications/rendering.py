"""What each message says, rendered at send time (so an outbox row stays small and a fan-out
to 100,000 subscribers is one INSERT ... SELECT): the parts every channel shares (subject, plain
text, links, delivery id) here, what differs in each channel's package; and the preview."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse

from tideover.core.models import ComponentStatus
from tideover.core.text import clean_line, clean_text
from tideover.notifications import channels, hooks
from tideover.notifications.channels import DeliveryError, Rendered
from tideover.notifications.models import Category, Notification, OutboxMessage


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


def prefix(notification: Notification) -> str:
    return "[DRILL] " if notification.is_drill else ""


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
    kind = _channel(channel)
    subject = clean_line(
        f"{prefix(notification)}[{settings.SITE_NAME}] {notification.headline}: {notification.title}"
    )
    ctx = _context(notification, internal, unsubscribe)
    text = (
        clean_text(render_to_string("notifications/messages/update.txt", ctx))
        if kind.needs_text()
        else ""
    )
    rendered = Rendered(channel, recipient, subject, text, delivery_id=ident, secret=secret)
    return kind.render_notification(rendered, notification, ctx)


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
    # A direct message (confirmation, reminder, loyalty): subject and body are on the row, or
    # written now by the app that queued it (a goodwill campaign: hooks.add_text_writer).
    if not message.body and hooks.written_later(message):
        hooks.write_texts([message])
        if not message.body:
            raise DeliveryError("Nothing to send: what this message offered no longer exists",
                                permanent=True)  # fmt: skip
    rendered = Rendered(
        message.channel,
        message.recipient,
        clean_line(message.subject),
        clean_text(message.body),
        delivery_id=ident,
        secret=secret,
    )
    return _channel(message.channel).render_message(rendered, message)


def _channel(name: str):
    kind = channels.get(name)
    if kind is None:
        raise DeliveryError(f"No channel {name!r}", permanent=True)
    return kind


def preview(notification: Notification) -> dict:
    """How an update will look on every channel that previews, before it is posted."""
    shown = {}
    for kind in channels.every():
        look = kind.preview(notification)
        if look is not None:
            shown[kind.name] = look
    return shown
