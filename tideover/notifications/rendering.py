"""What each message says, rendered at send time (so an outbox row stays small and a fan-out
to 100,000 subscribers is one INSERT ... SELECT): the parts every channel shares (subject, plain
text, links, delivery id) here, what differs in each channel's package; and the preview."""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import escape

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


# Stand-ins for what differs between the recipients of one notification (see batch()).
_URL_MARK = "tdoUNSUBSCRIBEmark7f3a"
_ID_MARK = "tdoDELIVERYmark7f3a"
_RECIPIENT_MARK = "tdoRECIPIENTmark7f3a"
_TOKEN_MARK = "tdoTOKENmark7f3a"
_URL_SAFE = re.compile(r"[A-Za-z0-9_-]+")
_batch = threading.local()


@contextlib.contextmanager
def batch():
    """Within a worker's batch, render each notification once per channel and audience.

    The templates are rendered with stand-ins for the unsubscribe link, the delivery id and the
    recipient, and each message gets a copy with its own values put in (the link escaped for
    HTML, as the template would). Before the copy is trusted, the first message of each
    (notification, channel, audience) is also rendered in full and must come out identical;
    if not (a channel whose text depends on the recipient in some other way), that key is
    rendered in full for every message. Per batch, so an edit between batches is always seen.
    """
    previous = getattr(_batch, "cache", None)
    _batch.cache = {}
    try:
        yield
    finally:
        _batch.cache = previous


def render(message: OutboxMessage) -> Rendered:
    """The message as its transport sends it."""
    ident = delivery_id(message)
    subscriber = message.subscriber
    cache = getattr(_batch, "cache", None)
    unsubscribe = _unsubscribe_url(subscriber.token, cache) if subscriber is not None else ""
    secret = ""
    if subscriber is not None:
        secret = subscriber.secret
    elif message.endpoint is not None:
        secret = message.endpoint.secret
    if message.notification_id is not None:
        internal = message.category == Category.INTERNAL
        args = (message.notification, message.channel)
        personal = {"unsubscribe": unsubscribe, "secret": secret, "ident": ident}
        if cache is None:
            return render_notification(*args, message.recipient, internal=internal, **personal)
        key = (message.notification_id, message.channel, internal, bool(unsubscribe))
        shared = cache.get(key)
        if shared is None:
            full = render_notification(*args, message.recipient, internal=internal, **personal)
            shared = render_notification(
                *args,
                _RECIPIENT_MARK,
                internal=internal,
                unsubscribe=_URL_MARK if unsubscribe else "",
                ident=_ID_MARK,
            )
            fill = _filler(shared)
            cache[key] = fill if fill(message.recipient, **personal) == full else False
            return full
        if shared is False:
            return render_notification(*args, message.recipient, internal=internal, **personal)
        return _personal(shared, message.recipient, **personal)
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


def _unsubscribe_url(token: str, cache: dict | None) -> str:
    """``unsubscribe_url(token)``; in a batch, URL resolution runs once rather than per message
    (tokens are URL-safe, so the resolved URL holds them as they are)."""
    if cache is None or not _URL_SAFE.fullmatch(token):
        return unsubscribe_url(token)
    around = cache.get("unsubscribe")
    if around is None:
        around = cache["unsubscribe"] = unsubscribe_url(_TOKEN_MARK).split(_TOKEN_MARK)
    return token.join(around)


def _personal(shared, recipient: str, *, unsubscribe, secret, ident) -> Rendered:
    """``shared`` (rendered with the stand-ins) with one recipient's own values put in.

    ``shared`` is a ``Rendered`` or what :func:`_filler` made of one (the batch's cache keeps
    the latter: where the stand-ins are is worked out once, not searched for in every part of
    every message)."""
    if isinstance(shared, Rendered):
        shared = _filler(shared)
    return shared(recipient, unsubscribe, secret, ident)


def _filler(shared: Rendered):
    """A function (recipient, unsubscribe, secret, ident) -> ``Rendered``: ``shared`` with
    those values put in place of the stand-ins. Parts without a stand-in are the shared ones as
    they are (transports only read them)."""
    subject, text, payload, headers = (
        _part(shared.subject),
        _part(shared.text),
        _part(shared.payload),
        _part(shared.headers),
    )
    html = _part(shared.html)

    def fill(recipient, unsubscribe, secret, ident):
        escaped = str(escape(unsubscribe)) if html is not None else ""
        return Rendered(
            shared.channel,
            recipient,
            shared.subject if subject is None else subject(unsubscribe, ident),
            shared.text if text is None else text(unsubscribe, ident),
            html=shared.html if html is None else html(escaped, ident),
            payload=_copy(shared.payload) if payload is None else payload(unsubscribe, ident),
            delivery_id=ident,
            secret=secret,
            headers=dict(shared.headers) if headers is None else headers(unsubscribe, ident),
        )

    return fill


def _copy(value):
    """A fresh top level for a part that has no stand-in (each message owns its dict)."""
    return dict(value) if isinstance(value, dict) else value


def _part(value):
    """None if ``value`` holds no stand-in, else a function (url, ident) -> ``value`` with
    them put in; dicts and lists are rebuilt down to where a stand-in is."""
    if isinstance(value, str):
        if _URL_MARK not in value and _ID_MARK not in value:
            return None
        pieces = [p.split(_ID_MARK) for p in value.split(_URL_MARK)]
        return lambda url, ident: url.join(ident.join(p) for p in pieces)
    if isinstance(value, dict):
        parts = [(k, _part(v)) for k, v in value.items()]
        if all(f is None for _, f in parts):
            return None
        return lambda url, ident: {k: value[k] if f is None else f(url, ident) for k, f in parts}
    if isinstance(value, list):
        parts = [_part(v) for v in value]
        if all(f is None for f in parts):
            return None
        return lambda url, ident: [
            v if f is None else f(url, ident) for v, f in zip(value, parts, strict=True)
        ]
    return None


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
