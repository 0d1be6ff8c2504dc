"""What staff do from the delivery console and API: retry a message, add a staff channel, send
it a test."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from tideover.core.errors import Conflict, DomainError, NotFound
from tideover.notifications import channels
from tideover.notifications.models import (
    Category,
    ChannelEndpoint,
    MessageState,
    OutboxMessage,
    queued_again,
)


@transaction.atomic
def retry_message(message_id: int) -> OutboxMessage:
    """Queue a failed, cancelled or stuck message again, now."""
    message = OutboxMessage.objects.select_for_update().filter(pk=message_id).first()
    if message is None:
        raise NotFound(f"No message #{message_id}")
    if message.state in (MessageState.SENT, MessageState.DELIVERED):
        raise Conflict("This message was already sent; it is not sent twice")
    busy = message.lease_until is not None and message.lease_until > timezone.now()
    if message.state == MessageState.CLAIMED or (message.state == MessageState.SENDING and busy):
        raise Conflict("A worker is sending this message right now; try again in a minute")
    fields = queued_again(timezone.now())
    for name, value in fields.items():
        setattr(message, name, value)
    message.save(update_fields=list(fields))
    return message


def add_endpoint(*, name: str, channel: str, target: str) -> ChannelEndpoint:
    """Add a staff channel (chat room, e-mail list, webhook or phone)."""
    name, target = (name or "").strip(), (target or "").strip()
    if not name:
        raise DomainError("Name the channel, e.g. '#store-ops'", field="name")
    kind = channels.get(channel)
    if kind is None:
        names = ", ".join(c.name for c in channels.every())
        raise DomainError(f"Choose one of {names}", field="channel")
    target = kind.clean_target(target)
    return ChannelEndpoint.objects.create(name=name, channel=channel, target=target)


def send_test(endpoint: ChannelEndpoint) -> OutboxMessage:
    """Queue a test message to a staff channel (the delivery log shows how it went)."""
    if endpoint.awaits_verification:
        raise DomainError("Verify this webhook first: it is sent nothing until it answers")
    key = f"test:{endpoint.pk}:{secrets.token_hex(6)}"
    try:
        with transaction.atomic():
            return OutboxMessage.objects.create(
                channel=endpoint.channel,
                recipient=endpoint.target,
                category=Category.INTERNAL,
                endpoint=endpoint,
                subject=f"Test from {settings.SITE_NAME}",
                body=f"This is a test of the staff channel '{endpoint.name}'.",
                dedupe_key=key,
            )
    except IntegrityError:  # pragma: no cover - a 48-bit random collision
        raise Conflict("Try again")
