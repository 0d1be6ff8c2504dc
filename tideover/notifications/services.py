"""Subscribing, confirming, unsubscribing, SMS replies and receipts, member messages, retries.

Every public function owns its transaction. Incident fan-out lives in ``fanout.py``, sending in
``outbox.py``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import socket
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from tideover.core.errors import Conflict, DomainError, NotFound
from tideover.core.http import allowlisted, public_ip
from tideover.core.models import Component
from tideover.core.phones import country_of, require_mobile, to_e164
from tideover.notifications.models import (
    Category,
    Channel,
    MessageState,
    OutboxMessage,
    SmsOptOut,
    Subscriber,
    SubscriberState,
    Subscription,
)
from tideover.notifications.ratelimit import check_code_attempt, check_signup

MAX_CODE_ATTEMPTS = 5


# --- sign-up ----------------------------------------------------------------------------------
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
    if channel == Channel.EMAIL:
        address = _clean_email(address)
        check_signup(ip=ip, email=address, authorised=authorised)
    elif channel == Channel.SMS:
        address = to_e164(address, field="phone")
        country = country_of(address)
        if country not in settings.SMS_ALLOWED_COUNTRIES:
            raise DomainError(
                f"We can only send SMS to numbers in {', '.join(settings.SMS_ALLOWED_COUNTRIES)}; "
                "please subscribe by e-mail instead",
                field="phone",
            )
        require_mobile(address, field="phone")
        check_signup(ip=ip, phone=address, country=country, authorised=authorised)
    elif channel == Channel.WEBHOOK:
        address = clean_webhook_url(address)
        check_signup(ip=ip, authorised=authorised)
    else:
        raise DomainError("Choose e-mail, SMS or webhook", field="channel")
    with transaction.atomic():
        subscriber = (
            Subscriber.objects.select_for_update().filter(channel=channel, address=address).first()
        )
        if subscriber is not None and subscriber.state == SubscriberState.ACTIVE:
            # Nothing changes, and the caller must not show its secret or token: whoever typed
            # the same address is not necessarily its owner.
            subscriber.is_new = False
            return subscriber
        if _confirmation_recently_sent(subscriber):
            # One confirmation e-mail is on its way: its link still works, send no other.
            subscriber.is_new = False
            return subscriber
        if subscriber is None:
            subscriber = Subscriber(channel=channel, address=address, source=source)
        subscriber.state = SubscriberState.PENDING
        subscriber.token = secrets.token_urlsafe(24)
        subscriber.country = country_of(address) if channel == Channel.SMS else ""
        subscriber.all_components = not components
        subscriber.confirm_attempts = 0
        if channel == Channel.WEBHOOK:
            # Pending until the endpoint answers a signed challenge (verification.py).
            subscriber.secret = secrets.token_hex(24)
        subscriber.save()
        Subscription.objects.filter(subscriber=subscriber).delete()
        Subscription.objects.bulk_create(
            [Subscription(subscriber=subscriber, component=c) for c in components or []]
        )
        if channel == Channel.EMAIL:
            _send_confirmation_email(subscriber)
        elif channel == Channel.SMS:
            _send_confirmation_code(subscriber)
    # A fresh token (and webhook secret) was made just now: only this caller may see them.
    subscriber.is_new = True
    return subscriber


def _confirmation_recently_sent(subscriber: Subscriber | None) -> bool:
    if subscriber is None or subscriber.state != SubscriberState.PENDING or not subscriber.token:
        return False
    since = timezone.now() - timedelta(minutes=settings.SIGNUP_CONFIRMATION_RESEND_MINUTES)
    if subscriber.channel == Channel.WEBHOOK:
        # Its owner may be setting up the secret just shown to them: a second sign-up of the
        # same URL must not replace it (nor see it).
        return subscriber.created_at >= since
    if subscriber.channel != Channel.EMAIL:
        return False
    return OutboxMessage.objects.filter(
        dedupe_key=f"confirm:{subscriber.pk}:{subscriber.token}"[:200], created_at__gte=since
    ).exists()


def _clean_email(address: str) -> str:
    text = (address or "").strip()
    try:
        validate_email(text)
    except ValidationError:
        raise DomainError(f"{text!r} is not an e-mail address", field="email")
    local, _, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"


def clean_webhook_url(url: str) -> str:
    """An http(s) URL; private and loopback addresses only when WEBHOOK_ALLOW_PRIVATE is on."""
    text = (url or "").strip()
    parts = urlsplit(text)
    try:
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        host = None
    if parts.scheme not in ("http", "https") or not host:
        raise DomainError("Enter the full URL of your endpoint, e.g. https://...", field="url")
    if len(text) > 500:
        raise DomainError("Keep the URL under 500 characters", field="url")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    # Private only with WEBHOOK_ALLOW_PRIVATE, or at the exact address:port the operator
    # allowed (the demo's own receiver).
    allowed = settings.WEBHOOK_ALLOW_PRIVATE or allowlisted(_numeric_address(host) or "", port)
    if _private_host(host) and not allowed:
        raise DomainError("Webhooks must point at a public address", field="url")
    return text


# Wildcard DNS services that answer any name with the address written in it
# (127.0.0.1.nip.io -> 127.0.0.1), and names that always mean this machine.
_ECHO_DOMAINS = ("nip.io", "sslip.io", "xip.io", "localtest.me", "lvh.me", "traefik.me")
_LOCAL_SUFFIXES = ("localhost", "local", "internal", "localdomain", "home.arpa", "lan")


def _private_host(host: str) -> bool:
    """True when ``host`` is, or plainly names, a non-public address. The worker checks the
    resolved address again before every send (tideover.core.http), which is the real guard;
    this refuses the obvious cases at sign-up with a message the person can act on."""
    host = host.lower().rstrip(".")  # "localhost." is localhost
    address = _numeric_address(host)
    if address is not None:
        return not public_ip(address)
    if "." not in host:  # a bare name resolves through the worker's search domains
        return True
    names = _LOCAL_SUFFIXES + _ECHO_DOMAINS
    return host in names or host.endswith(tuple("." + name for name in names))


def _numeric_address(host: str) -> str | None:
    """The address a numeric host means, in every spelling the C library accepts
    (2130706433, 0x7f.1, 127.1, [::1]); None for a name."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        return socket.inet_ntoa(socket.inet_aton(host))
    except OSError:
        pass
    try:  # AI_NUMERICHOST never asks DNS
        found = socket.getaddrinfo(host, None, flags=socket.AI_NUMERICHOST)
    except (OSError, UnicodeError):
        return None
    return found[0][4][0] if found else None


def _code_hash(subscriber: Subscriber, code: str) -> str:
    key = f"{settings.SECRET_KEY}:{subscriber.token}".encode()
    return hmac.new(key, code.encode(), hashlib.sha256).hexdigest()


def _queue_direct(channel, recipient, subject, body, dedupe_key, **extra) -> None:
    OutboxMessage.objects.bulk_create(
        [
            OutboxMessage(
                channel=channel,
                recipient=recipient,
                subject=subject,
                body=body,
                dedupe_key=dedupe_key[:200],
                **extra,
            )
        ],
        ignore_conflicts=True,
    )


def _send_confirmation_email(subscriber: Subscriber) -> None:
    link = settings.SITE_URL + reverse("notifications:confirm", args=[subscriber.token])
    body = (
        f"Please confirm that you want status updates from {settings.SITE_NAME}:\n\n{link}\n\n"
        "If you did not ask for this, ignore this e-mail and nothing will be sent."
    )
    _queue_direct(
        Channel.EMAIL,
        subscriber.address,
        f"Confirm your {settings.SITE_NAME} status updates",
        body,
        f"confirm:{subscriber.pk}:{subscriber.token}",
        category=Category.TRANSACTIONAL,
    )


def _send_confirmation_code(subscriber: Subscriber) -> None:
    code = f"{secrets.randbelow(1_000_000):06d}"
    subscriber.confirm_code_hash = _code_hash(subscriber, code)
    subscriber.save(update_fields=["confirm_code_hash"])
    _queue_direct(
        Channel.SMS,
        subscriber.address,
        "",
        f"{settings.SITE_NAME} status alerts: your code is {code}",
        f"code:{subscriber.pk}:{subscriber.token}",
        category=Category.TRANSACTIONAL,
    )


@transaction.atomic
def confirm_email(token: str) -> Subscriber:
    """Turn on an e-mail subscription from the link in its confirmation e-mail."""
    subscriber = _by_token(token)
    if subscriber.state == SubscriberState.UNSUBSCRIBED:
        raise Conflict("This subscription was cancelled; subscribe again to restart it")
    if subscriber.state == SubscriberState.PENDING:
        subscriber.state = SubscriberState.ACTIVE
        subscriber.confirmed_at = timezone.now()
        subscriber.save(update_fields=["state", "confirmed_at"])
    return subscriber


def confirm_sms(token: str, code: str, *, ip: str = "") -> Subscriber:
    """Turn on an SMS subscription with the code texted to the number.

    A wrong code is counted and the count committed before the refusal is raised (a refusal
    raised inside the transaction would roll its own count back, leaving guesses unlimited).
    After ``MAX_CODE_ATTEMPTS`` wrong codes the code dies: only a new sign-up sends another.
    """
    check_code_attempt(ip=ip)
    with transaction.atomic():
        subscriber = _by_token(token, lock=True)
        if subscriber.state == SubscriberState.ACTIVE:
            return subscriber
        if subscriber.state != SubscriberState.PENDING or subscriber.channel != Channel.SMS:
            raise Conflict("This sign-up is no longer waiting for a code; subscribe again")
        if subscriber.confirm_attempts >= MAX_CODE_ATTEMPTS or not subscriber.confirm_code_hash:
            raise Conflict("Too many wrong codes; subscribe again to get a new one")
        subscriber.confirm_attempts += 1
        code = "".join(ch for ch in (code or "") if ch.isdigit())
        right = hmac.compare_digest(_code_hash(subscriber, code), subscriber.confirm_code_hash)
        if right:
            subscriber.state = SubscriberState.ACTIVE
            subscriber.confirmed_at = timezone.now()
            SmsOptOut.objects.filter(phone=subscriber.address).delete()
        if right or subscriber.confirm_attempts >= MAX_CODE_ATTEMPTS:
            subscriber.confirm_code_hash = ""  # used, or dead after the last wrong try
        subscriber.save(
            update_fields=["state", "confirmed_at", "confirm_code_hash", "confirm_attempts"]
        )
    if right:
        return subscriber
    left = MAX_CODE_ATTEMPTS - subscriber.confirm_attempts
    if left <= 0:
        raise Conflict("Too many wrong codes; subscribe again to get a new one", field="code")
    raise DomainError(f"That code is not right; {left} tries left", field="code")


@transaction.atomic
def unsubscribe(token: str) -> Subscriber:
    """Stop every message to this subscriber (one click, no login)."""
    subscriber = _by_token(token)
    if subscriber.state != SubscriberState.UNSUBSCRIBED:
        _unsubscribe(subscriber)
    return subscriber


def _unsubscribe(subscriber: Subscriber) -> None:
    subscriber.state = SubscriberState.UNSUBSCRIBED
    subscriber.unsubscribed_at = timezone.now()
    subscriber.save(update_fields=["state", "unsubscribed_at"])
    OutboxMessage.objects.filter(subscriber=subscriber, state=MessageState.QUEUED).update(
        state=MessageState.CANCELLED, last_error="recipient unsubscribed"
    )


def _by_token(token: str, lock: bool = False) -> Subscriber:
    query = Subscriber.objects.select_for_update() if lock else Subscriber.objects
    found = query.filter(token=token).first() if token else None
    if found is None:
        raise NotFound("This link is not valid any more; subscribe again from the status page")
    return found


# --- member messages (loyalty, goodwill) --------------------------------------------------------
def parse_quiet_hours(value: str) -> tuple[int, int] | None:
    """'21:00-08:00' -> (1260, 480) minutes; '' -> None (no quiet hours)."""
    if not value:
        return None
    try:
        start, end = (part.strip() for part in value.split("-"))
        to_minutes = [int(h) * 60 + int(m) for h, m in (t.split(":") for t in (start, end))]
    except ValueError:
        raise DomainError(f"Quiet hours {value!r} should look like 21:00-08:00")
    return to_minutes[0], to_minutes[1]


def next_allowed_time(now: datetime, time_zone: str = "") -> datetime:
    """``now`` if it is outside the recipient's quiet hours, else the moment they end."""
    window = parse_quiet_hours(settings.NOTIFY_QUIET_HOURS)
    if window is None:
        return now
    start, end = window
    local = now.astimezone(ZoneInfo(time_zone or settings.TIME_ZONE))
    minute = local.hour * 60 + local.minute
    quiet = (start <= minute or minute < end) if start > end else (start <= minute < end)
    if not quiet:
        return now
    ends = local.replace(hour=end // 60, minute=end % 60, second=0, microsecond=0)
    if ends <= local:
        ends += timedelta(days=1)
    return ends.astimezone(UTC)


def queue_member_message(
    *,
    member_id: str,
    email: str,
    phone_e164: str,
    consent_email: bool,
    consent_sms: bool,
    subject: str,
    body: str,
    dedupe_key: str,
    category: str = "transactional",
    time_zone: str = "",
) -> list[str]:
    """Queue a message to a member on each channel they consented to; returns those channels.

    Marketing waits for the end of the recipient's quiet hours; transactional goes at once. The
    same ``dedupe_key`` never queues twice.
    """
    if category not in (Category.TRANSACTIONAL, Category.MARKETING):
        raise DomainError("category must be 'transactional' or 'marketing'", field="category")
    if not (body or "").strip():
        raise DomainError("The message is empty", field="body")
    now = timezone.now()
    send_at = next_allowed_time(now, time_zone) if category == Category.MARKETING else now
    targets = []
    if email and consent_email:
        targets.append((Channel.EMAIL, email))
    if phone_e164 and consent_sms:
        targets.append((Channel.SMS, phone_e164))
    rows = [
        OutboxMessage(
            channel=channel,
            recipient=recipient,
            category=category,
            subject=subject or settings.SITE_NAME,
            body=body,
            dedupe_key=f"member:{dedupe_key}:{channel}"[:200],
            next_attempt_at=send_at,
        )
        for channel, recipient in targets
    ]
    with transaction.atomic():
        OutboxMessage.objects.bulk_create(rows, ignore_conflicts=True)
    del member_id  # identifies the member to callers' logs; the outbox keys on dedupe_key
    return [channel for channel, _ in targets]


def on_member_event(name: str, member=None, text: str = "", **payload) -> None:
    """loyalty.* events: tell the member on their consented channels (duck-typed member)."""
    if member is None or not text:
        return
    ident = getattr(member, "loyalty_id", None) or getattr(member, "pk", "")
    key = payload.get("dedupe_key") or _member_event_key(name, ident, payload)
    queue_member_message(
        member_id=str(ident),
        email=getattr(member, "email", "") or "",
        phone_e164=getattr(member, "phone_e164", "") or getattr(member, "phone", "") or "",
        consent_email=bool(getattr(member, "consent_transactional", True)),
        consent_sms=bool(getattr(member, "consent_transactional", True)),
        subject=payload.get("subject") or f"{settings.SITE_NAME} rewards",
        body=text,
        dedupe_key=key,
        category=payload.get("category", Category.TRANSACTIONAL),
    )


def _member_event_key(name: str, ident, payload: dict) -> str:
    reward = payload.get("reward")
    if reward is not None:
        return f"{name}:{getattr(reward, 'pk', reward)}"
    return f"{name}:{ident}:{payload.get('expires_on', '')}:{payload.get('points', '')}"
