"""A webhook subscription starts pending and turns on only when its endpoint answers a signed
challenge: proof that whoever runs the URL asked for our POSTs and holds the secret.

Without it, anyone could point Tideover's fan-out at a URL that never asked for it (somebody
else's API, a cloud metadata address) and have every update POSTed there. The flow:

1. Sign-up (form or API) makes the subscriber ``pending`` and shows its signing secret once.
2. The owner puts the secret into their endpoint and asks for verification (the button on the
   sign-up page, or ``POST /api/v1/notifications/subscribers/{id}/verify``).
3. We POST ``{"type": "verification", "challenge": "<random>"}``, signed like every webhook.
   The endpoint checks the signature and answers 2xx with the *proof* in its body: the hex
   HMAC-SHA256 of the challenge under its secret (for example ``{"proof": "<64 hex>"}``).
   Then the subscription is active. The challenge itself is not enough: it travels in the
   request, so any URL that echoes what it receives would return it without holding the
   secret; the proof appears nowhere in the request (the signature header is an HMAC of
   something else).

A staff webhook channel (``ChannelEndpoint``) is verified the same way, signed with the
channel's own secret, from the console's channels page; it is sent nothing until then.

Attempts are counted (committed before a refusal) and limited per subscription and per network.
The request runs outside any transaction, under the outbound deadline and address rules of
``tideover.core.http``.
"""

from __future__ import annotations

import secrets

import httpx
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tideover.core import http
from tideover.core.errors import Conflict, DomainError, NotFound
from tideover.core.signing import challenge_proof
from tideover.notifications.models import ChannelEndpoint, Subscriber, SubscriberState
from tideover.notifications.ratelimit import check_verification_attempt

MAX_VERIFY_ATTEMPTS = 5


def verify_webhook(token: str, *, ip: str = "", authorised: bool = False) -> Subscriber:
    """Send a pending webhook subscription its signed challenge; activate it on a right answer.

    ``authorised`` callers (API tokens) do not spend the anonymous per-network limit."""
    if not authorised:
        check_verification_attempt(ip=ip)
    with transaction.atomic():
        subscriber = _pending_webhook(token)
        if subscriber.state == SubscriberState.ACTIVE:
            return subscriber
        subscriber.confirm_attempts += 1
        subscriber.save(update_fields=["confirm_attempts"])
    problem = _ask(subscriber.address, subscriber.secret)
    if problem:
        left = MAX_VERIFY_ATTEMPTS - subscriber.confirm_attempts
        tries = f"{left} tries left" if left > 0 else "subscribe again to start over"
        raise DomainError(
            f"Your endpoint did not pass verification: {problem}; {tries}", field="url"
        )
    with transaction.atomic():
        subscriber = _pending_webhook(token)
        if subscriber.state == SubscriberState.PENDING:
            subscriber.state = SubscriberState.ACTIVE
            subscriber.confirmed_at = timezone.now()
            subscriber.save(update_fields=["state", "confirmed_at"])
    return subscriber


def _pending_webhook(token: str) -> Subscriber:
    found = (
        Subscriber.objects.select_for_update().filter(token=token, channel="webhook").first()
        if token
        else None
    )
    if found is None:
        raise NotFound("This link is not valid any more; subscribe again from the status page")
    if found.state == SubscriberState.UNSUBSCRIBED:
        raise Conflict("This subscription was cancelled; subscribe again to restart it")
    if found.state == SubscriberState.PENDING and found.confirm_attempts >= MAX_VERIFY_ATTEMPTS:
        raise Conflict("Too many failed verifications; subscribe again to start over")
    return found


def verify_endpoint(endpoint: ChannelEndpoint) -> ChannelEndpoint:
    """A staff webhook channel: send its signed challenge (signed with the channel's secret) and
    mark it verified on a right answer; until then it is sent nothing."""
    if endpoint.channel != "webhook":
        raise DomainError("Only webhook channels are verified")
    problem = _ask(endpoint.target, endpoint.secret)
    if problem:
        raise DomainError(f"The endpoint did not pass verification: {problem}", field="target")
    ChannelEndpoint.objects.filter(pk=endpoint.pk, verified_at__isnull=True).update(
        verified_at=timezone.now()
    )
    endpoint.refresh_from_db()
    return endpoint


def _ask(url: str, secret: str) -> str:
    """'' when the endpoint proved it holds ``secret`` for a new challenge, else what went
    wrong, for its owner."""
    challenge = secrets.token_urlsafe(24)
    payload = {"type": "verification", "challenge": challenge, "site": settings.SITE_URL}
    try:
        response = http.post_signed_json(
            url,
            payload,
            secret=secret,
            delivery_id="tdo_verify_" + secrets.token_hex(12),
        )
    except http.UnsafeAddress:
        return "the URL points at an address that is not public"
    except httpx.TimeoutException:
        return f"it did not answer within {settings.HTTP_DEADLINE_SECONDS:g} seconds"
    except http.ResponseTooLarge:
        return "its answer was too long"
    except httpx.HTTPError:
        return "it could not be reached"
    if not response.is_success:
        return f"it answered HTTP {response.status_code}"
    if challenge_proof(secret, challenge) not in response.text:
        return (
            "its answer did not contain the proof (the hex HMAC-SHA256 of the challenge under "
            "your secret)"
        )
    return ""
