"""Signing up: subscribe on any public channel, confirm (e-mail link, SMS code), unsubscribe.

Every public function owns its transaction. What differs by channel (address rules, abuse
limits, the confirmation sent) is asked of the channel's package (channels/); a webhook's
signed challenge is in verification.py.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tideover.core.errors import Conflict, DomainError, NotFound
from tideover.core.models import Component
from tideover.notifications import channels
from tideover.notifications.channels.sms import code_hash
from tideover.notifications.models import (
    MessageState,
    OutboxMessage,
    SmsOptOut,
    Subscriber,
    SubscriberState,
    Subscription,
    out_of_queue,
)
from tideover.notifications.ratelimit import check_code_attempt

MAX_CODE_ATTEMPTS = 5


def subscribe(
    *,
    channel: str,
    address: str,
    components: list[Component] | None = None,
    ip: str = "",
    source: str = "web",
    authorised: bool = False,
) -> Subscriber:
    """Start a subscription: e-mail gets a confirmation link, SMS a code, a webhook its secret
    (it turns on once its endpoint answers a signed challenge: ``verification.py``).

    The subscriber's ``is_new`` is False when the address was already subscribed: its secret
    and token belong to whoever subscribed it first and must not be shown to this caller.
    ``authorised`` callers (API tokens) do not spend the anonymous public limits.
    """
    kind = channels.get(channel)
    if kind is None or not kind.public:
        names = ", ".join(channels.public_names())
        raise DomainError(f"Choose one of: {names}", field="channel")
    field, _ = kind.signup_field()
    address = kind.clean_address(address, field=field)
    kind.check_signup(address, ip=ip, authorised=authorised)
    with transaction.atomic():
        subscriber = (
            Subscriber.objects.select_for_update().filter(channel=channel, address=address).first()
        )
        if subscriber is not None and subscriber.state == SubscriberState.ACTIVE:
            # Nothing changes, and the caller must not show its secret or token: whoever typed
            # the same address is not necessarily its owner.
            subscriber.is_new = False
            return subscriber
        if _confirmation_pending(kind, subscriber):
            # A confirmation is on its way (or a webhook's owner is setting up its secret):
            # it still works, send no other.
            subscriber.is_new = False
            return subscriber
        if subscriber is None:
            subscriber = Subscriber(channel=channel, address=address, source=source)
        subscriber.state = SubscriberState.PENDING
        subscriber.token = secrets.token_urlsafe(24)
        subscriber.country = ""
        subscriber.all_components = not components
        subscriber.confirm_attempts = 0
        kind.prepare(subscriber)
        subscriber.save()
        Subscription.objects.filter(subscriber=subscriber).delete()
        Subscription.objects.bulk_create(
            [Subscription(subscriber=subscriber, component=c) for c in components or []]
        )
        kind.send_confirmation(subscriber)
    # A fresh token (and webhook secret) was made just now: only this caller may see them.
    subscriber.is_new = True
    return subscriber


def _confirmation_pending(kind, subscriber: Subscriber | None) -> bool:
    if subscriber is None or subscriber.state != SubscriberState.PENDING or not subscriber.token:
        return False
    since = timezone.now() - timedelta(minutes=settings.SIGNUP_CONFIRMATION_RESEND_MINUTES)
    return kind.confirmation_pending(subscriber, since)


@transaction.atomic
def confirm_email(token: str) -> Subscriber:
    """Turn on an e-mail subscription from the link in its confirmation e-mail. Only an
    e-mail's: an SMS number is turned on by its texted code and a webhook by its signed
    challenge, and their tokens are shown to whoever signed them up."""
    subscriber = _by_token(token)
    if subscriber.channel != "email":
        raise NotFound(LINK_GONE)
    if subscriber.state == SubscriberState.UNSUBSCRIBED:
        raise Conflict("This subscription was cancelled; subscribe again to restart it")
    if subscriber.state == SubscriberState.PENDING:
        subscriber.state = SubscriberState.ACTIVE
        subscriber.confirmed_at = timezone.now()
        subscriber.save(update_fields=["state", "confirmed_at"])
    return subscriber


# Every refusal on the code page reads the same, with the same status: a wrong code, a dead
# one, a sign-up that is gone and a token that never existed. Otherwise the page would tell a
# prober which tokens are real, and (through the decoy token an already-subscribed number is
# sent to) which numbers are subscribed.
CODE_REFUSED = (
    f"That code does not work. Check the text we sent; after {MAX_CODE_ATTEMPTS} wrong tries "
    "the code stops working, and subscribing again sends a new one"
)


def confirm_sms(token: str, code: str, *, ip: str = "") -> Subscriber:
    """Turn on an SMS subscription with the code texted to the number.

    A wrong code is counted and the count committed before the refusal is raised (a refusal
    raised inside the transaction would roll its own count back, leaving guesses unlimited).
    After ``MAX_CODE_ATTEMPTS`` wrong codes the code dies: only a new sign-up sends another.
    Every try counts against the address's limit, whatever the token; every refusal is the
    same ``CODE_REFUSED``.
    """
    check_code_attempt(ip=ip)
    right = False
    with transaction.atomic():
        found = Subscriber.objects.select_for_update().filter(token=token).first()
        if found is not None and found.state == SubscriberState.ACTIVE:
            return found
        waiting = (
            found is not None
            and found.state == SubscriberState.PENDING
            and found.channel == "sms"
            and found.confirm_attempts < MAX_CODE_ATTEMPTS
            and found.confirm_code_hash
        )
        if waiting:
            found.confirm_attempts += 1
            code = "".join(ch for ch in (code or "") if ch.isdigit())
            right = hmac.compare_digest(code_hash(found, code), found.confirm_code_hash)
            if right:
                found.state = SubscriberState.ACTIVE
                found.confirmed_at = timezone.now()
                # The token so far was in the code page's URL, seen by whoever signed the
                # number up, who need not be its owner; from now on it is the number's
                # unsubscribe link, so it must be one only the owner's messages carry. (No
                # message with a link went to the number before: only its code.)
                found.token = secrets.token_urlsafe(24)
                SmsOptOut.objects.filter(phone=found.address).delete()
            if right or found.confirm_attempts >= MAX_CODE_ATTEMPTS:
                found.confirm_code_hash = ""  # used, or dead after the last wrong try
            found.save(
                update_fields=[
                    "state",
                    "confirmed_at",
                    "confirm_code_hash",
                    "confirm_attempts",
                    "token",
                ]
            )
    if right:
        return found
    raise DomainError(CODE_REFUSED, field="code")


@transaction.atomic
def unsubscribe(token: str) -> Subscriber | None:
    """Stop every message to this subscriber (one click, no login). A token that opens
    nothing does nothing, and says so no differently: otherwise the answer would tell a
    prober which tokens are real (see ``views_public._already_subscribed``)."""
    subscriber = Subscriber.objects.filter(token=token).first() if token else None
    if subscriber is not None and subscriber.merged_into_id:
        subscriber = subscriber.merged_into  # a spelling merged into this mailbox's subscriber
    if subscriber is not None and subscriber.state != SubscriberState.UNSUBSCRIBED:
        unsubscribe_subscriber(subscriber)
    return subscriber


def unsubscribe_subscriber(subscriber: Subscriber, *, by_reply: bool = False) -> None:
    """Unsubscribe and cancel what is still queued (the caller holds the transaction).

    ``by_reply``: an SMS STOP. An active subscriber stopped that way is turned on again by a
    START; a pending one never is (it was never confirmed)."""
    subscriber.stopped_by_reply = by_reply and subscriber.state == SubscriberState.ACTIVE
    subscriber.state = SubscriberState.UNSUBSCRIBED
    subscriber.unsubscribed_at = timezone.now()
    subscriber.save(update_fields=["state", "unsubscribed_at", "stopped_by_reply"])
    OutboxMessage.objects.filter(subscriber=subscriber, state=MessageState.QUEUED).update(
        **out_of_queue(MessageState.CANCELLED), last_error="recipient unsubscribed"
    )


LINK_GONE = "This link is not valid any more; subscribe again from the status page"


def _by_token(token: str, lock: bool = False) -> Subscriber:
    query = Subscriber.objects.select_for_update() if lock else Subscriber.objects
    found = query.filter(token=token).first() if token else None
    if found is None:
        raise NotFound(LINK_GONE)
    if found.merged_into_id:  # a spelling merged into this mailbox's subscriber (0009)
        return query.get(pk=found.merged_into_id)
    return found
